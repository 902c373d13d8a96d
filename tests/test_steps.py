"""How many steps our RIM runs: chosen on validation slices, recorded in its checkpoint and card, applied on load."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from qmri.bench.steps import chosen_steps, step_errors, step_summary, validation_slices
from qmri.estimators.networks import packaged_weights
from qmri.estimators.networks.checkpoint import load_model, predict
from qmri.physics.signal import InversionRecovery
from qmri.pipeline.study import Study
from qmri.training.cards import ship
from qmri.training.checkpoints import stopped_checkpoint

REPO = Path(__file__).resolve().parents[1]


def test_the_chosen_step_count_has_the_least_mean_error_and_the_fewer_steps_on_a_tie():
    rows = [(1, 10.0, 3.0), (1, 30.0, 1.0), (2, 10.0, 2.0), (2, 30.0, 2.0), (3, 10.0, 1.0), (3, 30.0, 4.0)]
    table = pd.DataFrame(rows, columns=["steps", "snr", "rmse_pct"]).assign(slice=0, repeats=3, abs_rb_pct=0.0, cv_pct=0.0)
    assert chosen_steps(table) == 1  # means 2.0, 2.0, 2.5: steps 1 and 2 tie
    assert chosen_steps(table.assign(rmse_pct=table.rmse_pct.where(table.steps != 3, 0.5))) == 3
    summary = step_summary(table)
    assert summary["rmse_pct"] == {1: 2.0, 2: 2.0, 3: 2.5}
    assert "over 1 training slices" in summary["data"] and "SNR 10, 30 (" in summary["data"]


def test_a_stopped_checkpoint_runs_its_steps_on_load_and_its_card_records_them(tmp_path):
    trained = tmp_path / "t1.pt"
    meta = torch.load(packaged_weights("t1"), weights_only=True)
    meta = {k: v for k, v in meta.items() if k not in ("inference_steps", "steps_validation")}
    torch.save(meta | {"git_revision": "0" * 40}, trained)
    validation = {"rmse_pct": {1: 3.0, 2: 2.5}}
    stopped_checkpoint(trained, tmp_path / "stopped.pt", 2, validation)
    net, stopped_meta = load_model(tmp_path / "stopped.pt")
    full, full_meta = load_model(trained)
    assert net.steps == 2 and full.steps == stopped_meta["settings"]["rim_steps"] == 6

    model, tau = InversionRecovery(), [100.0, 300.0, 700.0, 1500.0, 3000.0]
    kappa = torch.tensor([1.0, 1.85, 900.0]).view(1, 3, 1, 1).expand(1, 3, 24, 24)
    signal = model.forward(kappa, torch.tensor(tau)) + 0.03 * torch.randn(1, 5, 24, 24,
                                                                          generator=torch.Generator().manual_seed(2))
    at_two, at_six = predict(net, stopped_meta, signal, tau, "t1"), predict(full, full_meta, signal, tau, "t1")
    full.steps = 2
    assert torch.equal(at_two, predict(full, full_meta, signal, tau, "t1")) and not torch.equal(at_two, at_six)

    card = ship(tmp_path / "stopped.pt", tmp_path / "weights" / "arim-t1.pt")
    assert card["architecture"]["steps"] == 6 and card["architecture"]["inference_steps"] == 2
    assert card["measured"]["validation_per_step"] == validation
    with pytest.raises(ValueError, match="within the 6 trained"):
        stopped_checkpoint(trained, tmp_path / "more.pt", 7, validation)
    assert not (tmp_path / "more.pt").exists()


def test_validation_scores_every_step_count_on_training_slices_never_the_test_slab():
    config = copy.deepcopy(Study.load(REPO / "config.yaml").config)
    config["simulation"] = {"size": 64, "pixel_mm": 3.28}  # the paper's field of view at a quarter of the pixels
    study = Study(config)
    brain = study.mni152_brain()
    picks = validation_slices(brain, 4)
    assert len(set(picks)) == 4 and set(picks) <= set(brain.train_slices) and not set(picks) & set(brain.test_slices)

    table = step_errors(packaged_weights("t1"), study, snrs=(30.0,), slices=1, repeats=2)
    assert "over 1 training slices of the MNI152 brain (never its test slab) at SNR 30 (2 realisations" in (
        step_summary(table)["data"])
    assert sorted(table.steps) == [1, 2, 3, 4, 5, 6]
    assert (table.rmse_pct >= table.abs_rb_pct).all()  # per pixel RMSE >= |bias|, so are their medians
    assert table.rmse_pct.nunique() == 6  # each step count maps differently
    assert np.isfinite(table[["rmse_pct", "abs_rb_pct", "cv_pct"]].to_numpy()).all()
