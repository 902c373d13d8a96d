"""The fit stage: each method fitted alone gives the maps it gives beside the others, stored losslessly."""

import numpy as np
import pytest
import torch

from helpers import REPO, small_truth
from qmri.errors import QmriError
from qmri.estimators.methods import mle_estimator
from qmri.paper import montecarlo
from qmri.paper.acquisitions import fit, load_fit, save_fit
from qmri.paper.naming import is_method, replicate_of
from qmri.physics.signal import T2Decay
from qmri.pipeline import fits
from qmri.pipeline.plan import (
    check_references,
    estimator_name,
    methods,
    our_weights,
    replicate_methods,
    split_estimator,
    training_plan,
    training_seed,
)
from qmri.pipeline.study import Study

TAU = [10.0, 20.0, 40.0, 80.0, 160.0, 320.0]


def test_methods_fitted_in_separate_jobs_give_the_table_of_one_joint_run(rng, tmp_path):
    truth = small_truth(T2Decay(), rng)
    mle = mle_estimator("t2", TAU, device="cpu")

    def halved(signal, mask, sigma):  # a second "method" that must see the same noise
        return mle(signal, mask, sigma) * 0.5

    joint = montecarlo.noise_robustness(truth, TAU, [10, 30], 12, {"mle": mle, "half": halved}, seed=3)
    scans = montecarlo.acquisitions(truth, TAU, [10, 30], 12, seed=3)
    for name, estimator in (("mle", mle), ("half", halved)):
        save_fit(tmp_path / f"{name}.npz", fit(scans, estimator))
    apart = montecarlo.noise_robustness_table(truth, [10, 30], fits.load_fits(
        {name: tmp_path / f"{name}.npz" for name in ("mle", "half")}))
    assert fit(scans, mle).shape == (2, 12, 2, *truth.labels.shape)  # (SNRs, C, Q, H, W)
    assert apart.equals(joint)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fits_are_stored_losslessly_in_their_own_dtype(tmp_path, rng, dtype):
    maps = rng.normal(size=(2, 3, 4, 5)).astype(dtype)
    maps[0, 0, 0] = np.nan
    save_fit(tmp_path / "m.npz", maps)
    back = load_fit(tmp_path / "m.npz")
    assert back.dtype == dtype and np.array_equal(back, maps, equal_nan=True)


def test_float64_maps_of_float32_values_are_stored_as_float32(tmp_path):
    network = torch.rand(4, 3, 16, 16).to(torch.float64).numpy()  # a network's float32 output, widened
    save_fit(tmp_path / "net.npz", network)
    save_fit(tmp_path / "mle.npz", network + 1e-12)  # values a float32 cannot hold
    assert np.load(tmp_path / "net.npz")["maps"].dtype == np.float32
    assert np.load(tmp_path / "mle.npz")["maps"].dtype == np.float64
    assert np.array_equal(load_fit(tmp_path / "net.npz"), network)


def test_estimator_names_and_dataset_protocols():
    study = Study.load(REPO / "config.yaml")
    assert estimator_name("mle", "t1-31") == "mle" and estimator_name("rim", "t1-23") == "rim-t1-23"
    assert split_estimator("resnet-t2-6") == ("resnet", "t2-6") and split_estimator("mle") == ("mle", None)
    assert estimator_name("arim", None) == "arim" and split_estimator("arim") == ("arim", None)
    assert methods(study.config) == ("mle", "rim", "resnet", "arim")
    assert methods({**study.config, "ours": {"enabled": False}}) == ("mle", "rim", "resnet")
    assert our_weights(study.config, "t2").endswith("weights/arim-t2.pt")
    assert our_weights({"ours": {"enabled": True, "weights": {"t1": "m/t1.pt"}}}, "t1") == "m/t1.pt"
    assert fits.dataset_protocol(study, "invivo", "iv-t1-noisy").name == "t1-25"
    assert fits.dataset_protocol(study, "phantom", "hp-t1").tau_ms[0] == 172.0
    with pytest.raises(QmriError, match="needs its weights"):
        fits.estimator(study, "montecarlo", "t1-31", "rim-t1-31")


def test_a_network_retrained_with_another_seed_is_a_method_of_its_own():
    study = Study.load(REPO / "config.yaml")
    config = {**study.config, "training": {**study.config["training"], "seeds": 3}}
    assert replicate_methods(study.config) == ()  # the default: one seed
    assert replicate_methods(config) == ("rim@seed2", "resnet@seed2", "rim@seed3", "resnet@seed3")
    assert methods(config)[4:] == replicate_methods(config)
    assert estimator_name("rim@seed2", "t1-23") == "rim@seed2-t1-23"
    assert split_estimator("resnet@seed3-t2-6") == ("resnet@seed3", "t2-6")
    assert replicate_of("rim t1-23@seed2") == ("rim t1-23", 2) and replicate_of("mle") == ("mle", 1)
    assert [training_seed(config, m) for m in ("rim", "rim@seed2", "resnet@seed3")] == [study.seed + k for k in range(3)]
    assert training_plan(config, "rim@seed2", "t1-23") == training_plan(config, "rim", "t1-23")
    assert is_method("resnet@seed2") and is_method("arim") and not is_method("labels")
    with pytest.raises(QmriError, match="needs its weights"):
        fits.estimator(study, "montecarlo", "t1-31", "rim@seed2-t1-31")


def test_a_config_that_names_an_unknown_protocol_is_a_one_line_error():
    study = Study.load(REPO / "config.yaml")
    config = {**study.config, "invivo": {**study.config["invivo"],
                                         "datasets": {"x": {"protocol": "t1-99", "snr": 10}}}}
    with pytest.raises(QmriError, match=r"^config: invivo.datasets names protocol t1-99, not one of t1-23"):
        check_references(config)
    config = {**study.config, "montecarlo": {**study.config["montecarlo"], "protocols": {"t1": "t2-6", "t2": "t2-6"}}}
    with pytest.raises(QmriError, match="montecarlo.protocols.t1 is t2-6, a t2 protocol"):
        check_references(config)


def test_a_protocols_training_takes_its_own_budget_and_start_over_the_methods():
    config = {"training": {"rim": {"iterations": 1000, "batch_size": 24,
                                   "protocols": {"t2-6": {"iterations": 600}, "t1-23": {"start": "t1-31",
                                                                                        "iterations": 150}}}}}
    assert training_plan(config, "rim", "t1-31") == ({"iterations": 1000, "batch_size": 24}, None)
    assert training_plan(config, "rim", "t2-6") == ({"iterations": 600, "batch_size": 24}, None)
    assert training_plan(config, "rim", "t1-23") == ({"iterations": 150, "batch_size": 24}, "t1-31")
    study = Study.load(REPO / "config.yaml")
    settings, start = study.training("resnet", "t1-25")
    assert start == "t1-31" and settings.iterations < study.training("resnet", "t1-31")[0].iterations


@pytest.mark.parametrize("start, message", [("t2-6", "starts from t2-6: it must be another protocol of the same task"),
                                            ("t1-25", "starts from t1-25: it must be another protocol"),
                                            ("t1-99", "names protocol t1-99, not one of")])
def test_a_training_start_must_be_another_protocol_of_the_task_trained_from_scratch(start, message):
    study = Study.load(REPO / "config.yaml")
    training = {**study.config["training"], "rim": {"iterations": 10, "protocols": {
        "t1-23": {"start": start}, "t1-25": {"start": "t1-31"}}}}
    with pytest.raises(QmriError, match=message):
        check_references({**study.config, "training": training})


def test_the_implementation_study_has_an_arm_per_difference_and_the_authors_variant():
    from qmri.estimators.networks.form import OPTIONS
    from qmri.pipeline.plan import form_arms, form_networks, form_settings, form_voxel_noise

    study = Study.load(REPO / "config.yaml")
    arms = form_arms()
    assert list(arms) == ["ours", *OPTIONS, "voxel_noise", "float32", "authors"]
    assert form_networks("batchnorm") == ("resnet",) and form_networks("gradient") == ("rim",)
    assert form_networks("units") == ("rim", "resnet")
    base, _ = training_plan(study.config, "rim", "t1-31")
    assert base["variant"] == "authors"  # the run's paper-form networks; the study's arms start from ours
    ours = base | {"variant": "ours", "form": {}}
    assert form_settings(study.config, "ours", "rim") == ours
    assert form_settings(study.config, "init", "rim") == ours | {"form": {"init": "torch"}}
    assert form_settings(study.config, "authors", "resnet") == training_plan(study.config, "resnet", "t1-31")[0] | {
        "variant": "authors", "form": {}, "precision": "float32"}
    assert "voxel_noise" not in form_settings(study.config, "voxel_noise", "rim")  # the training set's, not the net's
    assert form_voxel_noise("voxel_noise") == form_voxel_noise("authors") == "additive"
    assert form_voxel_noise("init") == "multiplicative"


def test_an_arm_in_the_runs_own_form_scores_the_runs_model_instead_of_training_it_again():
    from qmri.pipeline.plan import form_is_run

    config = Study.load(REPO / "config.yaml").config
    assert not any(form_is_run(config, arm, "rim") for arm in ("ours", "init", "authors"))  # the run: bfloat16
    as_authors = {**config, "training": {**config["training"], "rim": {**config["training"]["rim"],
                                                                        "precision": "float32"}}}
    assert form_is_run(as_authors, "authors", "rim") and not form_is_run(as_authors, "authors", "resnet")
    ours = {**config, "trainset": {**config["trainset"], "voxel_noise": "multiplicative"},
            "training": {**config["training"], "rim": {**config["training"]["rim"], "variant": "ours"}}}
    assert form_is_run(ours, "ours", "rim") and not form_is_run(ours, "voxel_noise", "rim")
    with_switch = {**ours, "training": {**ours["training"], "rim": {**ours["training"]["rim"],
                                                                    "form": {"init": "torch"}}}}
    assert form_is_run(with_switch, "init", "rim") and not form_is_run(with_switch, "ours", "rim")


def test_the_fidelity_table_says_which_side_the_runs_networks_take_on_each_difference():
    from qmri.paper.fidelity import FIDELITY, fidelity_table
    from qmri.pipeline.plan import form_choices, training_form

    config = Study.load(REPO / "config.yaml").config
    assert training_form(config, "rim", "t1-31").activation == "relu"  # the authors' variant by default
    choices = form_choices(config)
    assert set(choices) == {d.arm for d in FIDELITY}
    assert {k: v for k, v in choices.items() if k != "float32"} == dict.fromkeys(set(choices) - {"float32"},
                                                                                 "the authors'")
    assert choices["float32"] == "ours (bfloat16 where the hardware has it)"
    mixed = {**config, "trainset": {**config["trainset"], "voxel_noise": "multiplicative"},
             "training": {**config["training"], "resnet": {**config["training"]["resnet"], "variant": "ours"},
                          "rim": {**config["training"]["rim"], "precision": "float32", "form": {"init": "kaiming"}}}}
    choices = form_choices(mixed)
    assert choices["units"] == "RIM: the authors', ResNet: ours" and choices["init"] == "ours"
    assert choices["batchnorm"] == "ours" and choices["voxel_noise"] == "ours"
    assert choices["float32"] == "ours (bfloat16 where the hardware has it)"  # the ResNet still the hardware's
    table = fidelity_table(None, choices)
    assert table.loc["RIM cell activation", "this run"] == "the authors'"
