"""Arithmetic bounds of the networks: the CPU's measured matrix-multiply rate and a step's counted FLOPs."""

from __future__ import annotations

import torch

from qmri.paper.timing import median_seconds


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Return this CPU's measured matrix-multiply rate in FLOP/s for ``dtype`` (n x n by n x n, median of ``repeats``):
    the practical peak that the networks' convolutions and matrix products are held against."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.rand(n, n, generator=generator).to(dtype) for _ in range(2))
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats)


def counted_flops(call) -> int:
    """Return the floating-point operations of the matrix products and convolutions ``call()`` runs (forward and
    backward), as torch's FLOP counter counts them: the arithmetic a step cannot do without."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        call()
    return counter.get_total_flops()
