"""Section 6.1: wall time to map one slice with each method, next to the paper's seconds."""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from qmri.estimators.methods import Estimator, default_device


def median_seconds(call, repeats: int) -> float:
    """Return the median wall time of ``call()`` over ``repeats`` runs after one warm-up."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


#: section 6.1 of the paper: seconds for one 256 x 256 slice with 31 inversion times (laptop CPU)
PAPER_SECONDS = {"rim": 3.8, "resnet": 27.0, "mle": 575.0}


def time_estimators(estimators: dict[str, Estimator], signal: torch.Tensor, mask: torch.Tensor, sigma: float,
                    repeats: int = 3) -> list[dict]:
    """Return one row per method: median wall seconds to map ``signal`` (1, N, H, W), after a warm-up."""
    rows = []
    for method, estimate in estimators.items():
        # .cpu() waits for a GPU to finish: the time includes getting the maps back
        seconds = median_seconds(lambda estimate=estimate: estimate(signal, mask, sigma).cpu(), repeats)
        rows.append({"method": method, "seconds": seconds, "paper_seconds": PAPER_SECONDS.get(method),
                     "n_images": signal.shape[1], "matrix": "x".join(map(str, signal.shape[2:])),
                     "threads": torch.get_num_threads(), "device": default_device(), "cpus": os.cpu_count()})
    return rows
