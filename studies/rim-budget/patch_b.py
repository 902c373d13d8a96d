"""Per-patch B of the MLE and a RIM checkpoint against the truth: 60 patches, SNR 100, 31 TIs (studies/rim-budget).

Usage, from the repository root: ``python studies/rim-budget/patch_b.py CHECKPOINT``.
"""

import sys

import numpy as np
import torch
import yaml

from qmri.estimators.methods import estimators_for
from qmri.physics.signal import InversionRecovery
from qmri.simulation.brains import load_brain_model
from qmri.simulation.simulate import settings_from_config, sigma_for_snr, simulate_trainset, synthesise, task_kappa

PATCHES, PATCH_SEED, SNR = 60, 7, 100  # the training set's seed is config.yaml's, not 7


def main(weights: str) -> None:
    """Print, per method, the correlation, slope and error SD of the per-patch mean B against the truth."""
    cfg = yaml.safe_load(open("config.yaml"))
    brain = load_brain_model("results/brains/mni152.nii.gz", "results/brains/mni152.json")
    patches = simulate_trainset(brain, settings_from_config({**cfg["trainset"], "n_patches": PATCHES}), PATCH_SEED)
    model, tau = InversionRecovery(), cfg["protocols"]["t1-31"]["tau_ms"]
    kappa = torch.from_numpy(task_kappa(patches["kappa"], model)).double()  # shape (P, 3, 40, 40)
    mask = torch.from_numpy(patches["labels"] > 0)
    sigma = float(sigma_for_snr(SNR))
    signal = synthesise(kappa, sigma, torch.tensor(tau, dtype=torch.float64), model, torch.Generator().manual_seed(0))
    b_true = ((kappa[:, 1] * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2))).numpy()
    for name, estimate in estimators_for("t1", tau, {"rim": weights}).items():
        b_map = estimate(signal, mask, sigma)[:, 1]
        b_hat = (torch.nan_to_num(b_map) * mask).sum(dim=(1, 2)).numpy() / mask.sum(dim=(1, 2)).numpy()
        print(f"{name}: corr {np.corrcoef(b_true, b_hat)[0, 1]:.2f}, slope {np.polyfit(b_true, b_hat, 1)[0]:.2f}, "
              f"error SD {np.std(b_hat - b_true):.3f}, true B SD {b_true.std():.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
