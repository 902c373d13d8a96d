"""``qmri bench nets``: network inference and training steps against plain float32, beside their arithmetic bound."""

from __future__ import annotations

import os

import torch

from qmri.bench.flops import counted_flops, matmul_peak
from qmri.estimators.networks.resnet import BLOCK_WIDTHS
from qmri.paper.timing import median_seconds
from qmri.physics.signal import InversionRecovery, SignalModel
from qmri.pipeline.study import Study


class _JacobianInversionRecovery(InversionRecovery):
    """The comparison's T1 model: likelihood gradients through the full Jacobian (the generic path)."""

    pullback = SignalModel.pullback


def nets_benchmark(study: Study, repeats: int = 5, seed: int = 0) -> None:
    """Print RIM/ResNet inference on 256 x 256 x N (and our packaged T1 RIM's as shipped, its start included) and
    one training step of each (batch 24 of 40 x 40, J = 6), N the study's T1 Monte Carlo protocol (31 TIs), each
    against this CPU's arithmetic bound.

    Each is timed twice in this run, with the same weights: the comparison implementation (plain
    eager float32, contiguous tensors, likelihood gradient through the full Jacobian) and ours
    (closed-form ``J^T r``; a bfloat16 RIM cell at inference and bfloat16 autocast in training where
    the CPU has AVX512-BF16/AMX; channels-last tensors; the RIM's cell and likelihood gradient compiled in
    training where the pipeline's RIM training compiles them, ``qmri.training.compiles_rim``, its compiling in
    the untimed warm-up). The bound is the step's counted FLOPs at the matrix-multiply rate measured in the same run
    (fp32, and the fast dtype's where it differs).
    """
    from qmri.estimators.networks.checkpoint import (
        autocast,
        build_network,
        estimates,
        fast_dtype,
        inference_precision,
        load_model,
        shipped_weights,
    )
    from qmri.training import compile_rim, compiles_rim, masked_mse

    torch.manual_seed(seed)
    tau = torch.tensor(study.montecarlo_protocol("t1").tau_ms, dtype=torch.float32)
    cpu = torch.device("cpu")
    fast = fast_dtype(cpu)
    peaks = {torch.float32: matmul_peak(torch.float32)} | ({fast: matmul_peak(fast)} if fast != torch.float32 else {})
    print(f"Network benchmark on {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; ours: closed-form likelihood gradient, {fast}, channels-last")
    print("Measured matrix-multiply peak (2048^3): " + ", ".join(f"{str(d).removeprefix('torch.')} "
                                                                 f"{rate / 1e9:.0f} GFLOP/s" for d, rate in peaks.items()))
    image = torch.rand(1, len(tau), 256, 256, generator=torch.Generator().manual_seed(seed))
    batch = torch.rand(24, len(tau), 40, 40)
    target = torch.rand(24, 3, 40, 40)
    mask = torch.ones(24, 40, 40, dtype=torch.bool)
    n = len(tau)

    def plain_inference(net):
        def run():
            with torch.inference_mode():
                estimates(net.to(memory_format=torch.contiguous_format), image, tau)
        return run

    def fast_inference(net):
        def run():
            with torch.inference_mode(), inference_precision(net, fast) as infer_net:
                estimates(infer_net, image.contiguous(memory_format=torch.channels_last), tau)
        return run

    def step(method, model, dtype, layout, widths=BLOCK_WIDTHS, settings=None):
        """A training step; ``settings`` (ours): the pipeline's, whose ``compiles_rim`` decides on compiling."""
        torch.manual_seed(seed)
        net = build_network(method, model, n, resnet_widths=widths).to(memory_format=layout)
        if settings is not None and compiles_rim(net, cpu, dtype, settings):
            compile_rim(net)
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)

        def run():
            optimiser.zero_grad(set_to_none=True)
            with autocast(cpu, dtype):
                outputs = estimates(net, batch.contiguous(memory_format=layout), tau)
            masked_mse(outputs, target, mask).backward()
            optimiser.step()
        return run

    plain_rim = build_network("rim", _JacobianInversionRecovery(), n).eval()
    rim = build_network("rim", InversionRecovery(), n).eval()
    rim.load_state_dict(plain_rim.state_dict())
    resnet = build_network("resnet", InversionRecovery(), n).eval()
    arim, _ = load_model(shipped_weights("t1"))  # as shipped: its start pool and inference steps
    contiguous, last = torch.contiguous_format, torch.channels_last
    widths = study.training("resnet", study.montecarlo_protocol("t1").name)[0].resnet_widths
    rim_settings = study.training("rim", study.montecarlo_protocol("t1").name)[0]
    narrow = build_network("resnet", InversionRecovery(), n, resnet_widths=widths).eval()
    own_resnet = [] if widths == BLOCK_WIDTHS else [
        (f"ResNet {'-'.join(map(str, widths))} inference", plain_inference(narrow), fast_inference(narrow), None),
        ("  its training step", step("resnet", InversionRecovery(), torch.float32, contiguous, widths),
         step("resnet", InversionRecovery(), fast, last, widths), None)]
    cases = [
        (f"RIM inference 256x256x{n}, J=6", plain_inference(plain_rim), fast_inference(rim), 3.8),
        (f"aRIM (ours, packaged) inference, J={arim.steps}", plain_inference(arim), fast_inference(arim), None),
        (f"ResNet inference 256x256x{n}", plain_inference(resnet), fast_inference(resnet), 27.0),
        ("RIM training step, 24 x 40x40" + (", compiled" if compiles_rim(rim, cpu, fast, rim_settings) else ""),
         step("rim", _JacobianInversionRecovery(), torch.float32, contiguous),
         step("rim", InversionRecovery(), fast, last, settings=rim_settings), None),
        ("ResNet training step, 24 x 40x40", step("resnet", InversionRecovery(), torch.float32, contiguous),
         step("resnet", InversionRecovery(), fast, last), None),
        *own_resnet,
    ]
    fast_name = str(fast).removeprefix("torch.")
    print(f"{'':40s} {'comparison':>11} {'ours':>8} {'ratio':>6} {'paper':>7} {'GFLOP':>7} {'fp32 bound':>11} "
          f"{'ours/bound':>10}" + (f" {fast_name + ' bound':>14}" if fast != torch.float32 else ""))
    for name, comparison, ours, paper in cases:
        flops = counted_flops(ours)
        base, best = median_seconds(comparison, repeats), median_seconds(ours, repeats)
        bound = flops / peaks[torch.float32]
        line = (f"{name:40s} {base:>10.3f}s {best:>7.3f}s {base / best:>5.1f}x "
                f"{f'{paper:.1f}s' if paper else '':>7} {flops / 1e9:>7.1f} {bound:>10.3f}s {best / bound:>9.1f}x")
        if fast != torch.float32:
            line += f" {flops / peaks[fast]:>13.3f}s"
        print(line)
