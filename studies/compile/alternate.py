"""The RIM's training step eager, with its cell compiled, and with its cell and likelihood gradient compiled
(``qmri.training.compile_rim``), alternating in one process so that all see the same host load:
``python studies/compile/alternate.py THREADS [t1|t2]``.

Prints the medians of 10 alternating steps (batch 24 of 40 x 40, J = 6; 31 TIs or 6 TEs), after two warm-up
steps each (the compiling), and the first loss of each (the same model and batch).
"""

import sys
import time

import torch

from qmri.estimators.networks.checkpoint import build_network, estimates
from qmri.physics.signal import model_for_task
from qmri.training import compile_rim, inductor_cache_per_capability, masked_mse

VARIANTS = ("eager", "cell", "cell+gradient")


def stepper(model, n_images: int, batch: torch.Tensor, target: torch.Tensor, variant: str):
    """Return one Adam step of a fresh RIM (seed 0) on ``batch``, returning its loss."""
    torch.manual_seed(0)
    net = build_network("rim", model, n_images).to(memory_format=torch.channels_last)
    if variant == "cell+gradient":
        compile_rim(net)
    elif variant == "cell":
        inductor_cache_per_capability()
        net.cell.forward = torch.compile(net.cell.forward)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    tau = torch.linspace(139, 937, n_images)
    mask = torch.ones(batch.shape[0], *batch.shape[2:], dtype=torch.bool)

    def step() -> float:
        optimiser.zero_grad(set_to_none=True)
        loss = masked_mse(estimates(net, batch, tau), target, mask)
        loss.backward()
        optimiser.step()
        return loss.item()
    return step


def main(threads: int, task: str = "t1") -> None:
    torch.set_num_threads(threads)
    model = model_for_task(task)
    n_images = 31 if task == "t1" else 6
    generator = torch.Generator().manual_seed(0)
    batch = torch.rand(24, n_images, 40, 40, generator=generator).contiguous(memory_format=torch.channels_last)
    target = torch.rand(24, model.n_params, 40, 40, generator=generator)
    steps = {variant: stepper(model, n_images, batch, target, variant) for variant in VARIANTS}
    print("first loss, " + " / ".join(VARIANTS) + ":", *(step() for step in steps.values()))
    for step in steps.values():
        step()
    seconds = {variant: [] for variant in VARIANTS}
    for _ in range(10):
        for variant, step in steps.items():
            began = time.perf_counter()
            step()
            seconds[variant].append(time.perf_counter() - began)
    median = {variant: torch.tensor(s).median().item() for variant, s in seconds.items()}
    print(f"{task}, {threads} thread(s): " + ", ".join(
        f"{variant} {median[variant]:.3f} s ({median['eager'] / median[variant]:.2f}x)" for variant in VARIANTS))


if __name__ == "__main__":
    main(int(sys.argv[1]), *sys.argv[2:])
