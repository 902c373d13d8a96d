"""Network steps with glibc's default malloc and with ``qmri.allocator.keep_freed_memory``, in alternating
processes (the setting cannot be undone within one): ``python studies/allocator/alternate.py THREADS [PAIRS]``.

Each process times the RIM's training step as the pipeline trains it (compiled where ``compile: auto``
compiles: float32 on a CPU; batch 24 of 40 x 40, J = 6, 31 TIs; median of 9), its 256 x 256 x 31 inference
(median of 7) and the default ResNet's training step (median of 3), after two warm-up calls each.
"""

import subprocess
import sys

import torch

from qmri.paper.timing import median_seconds


def _median_seconds(call, repeats: int) -> float:
    """``median_seconds`` after one more warm-up call (a compiled step's second call may still compile)."""
    call()
    return median_seconds(call, repeats)


def measure(threads: int, keep: bool) -> str:
    """Return one process's line: RIM step, RIM inference and ResNet step in s."""
    from qmri.allocator import keep_freed_memory

    if keep and not keep_freed_memory():
        raise SystemExit("glibc's malloc could not be set here")
    torch.set_num_threads(threads)
    from qmri.estimators.networks.checkpoint import build_network, estimates
    from qmri.physics.signal import model_for_task
    from qmri.training import compile_rim, masked_mse

    model, n = model_for_task("t1"), 31
    generator = torch.Generator().manual_seed(0)
    last = torch.channels_last
    batch = torch.rand(24, n, 40, 40, generator=generator).contiguous(memory_format=last)
    target = torch.rand(24, 3, 40, 40, generator=generator)
    mask = torch.ones(24, 40, 40, dtype=torch.bool)
    image = torch.rand(1, n, 256, 256, generator=generator).contiguous(memory_format=last)
    tau = torch.linspace(139, 937, n)

    def stepper(method: str, **kwargs):
        torch.manual_seed(0)
        net = build_network(method, model, n, **kwargs).to(memory_format=last)
        if method == "rim":
            compile_rim(net)
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step():
            optimiser.zero_grad(set_to_none=True)
            masked_mse(estimates(net, batch, tau), target, mask).backward()
            optimiser.step()
        return step

    rim = build_network("rim", model, n).to(memory_format=last).eval()

    def infer():
        with torch.inference_mode():
            estimates(rim, image, tau)

    widths = [20, 20, 20, 40, 40, 80, 160, 80, 40, 40, 20, 6]
    return (f"{_median_seconds(stepper('rim'), 9):.3f} {_median_seconds(infer, 7):.3f} "
            f"{_median_seconds(stepper('resnet', resnet_widths=widths), 3):.3f}")


def main(threads: int, pairs: int = 3) -> None:
    print(f"{threads} thread(s); s: RIM step (compiled), RIM inference 256 x 256 x 31, ResNet step")
    for _ in range(pairs):
        for mode in ("default", "keep"):
            line = subprocess.run([sys.executable, __file__, "--child", str(threads), mode], check=True,
                                  capture_output=True, text=True).stdout.split("\n")[-2]
            print(f"{mode:8s} {line}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        print(measure(int(sys.argv[2]), sys.argv[3] == "keep"))
    else:
        main(*map(int, sys.argv[1:]))
