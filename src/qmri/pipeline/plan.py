"""What the workflow plans with at parse time, importable without torch: config cross-references and the
names of the fit stage's estimators (every Snakemake invocation, and every cluster job, parses these)."""

from __future__ import annotations

from pathlib import Path

import yaml

from qmri.errors import QmriError
from qmri.estimators.networks import packaged_weights
from qmri.estimators.networks.form import OPTIONS, NetworkForm, settings_form
from qmri.paper.naming import ANY_PROTOCOL, METHOD_NAMES, NETWORKS, OUR_METHODS, PAPER_METHODS, SEED_MARK, replicate_of

#: experiments with a fit stage; the first three are simulated from the test brain
EXPERIMENTS = ("montecarlo", "blurriness", "invivo", "phantom", "invivo_real")
SIMULATED = EXPERIMENTS[:3]


def seed_count(config: dict) -> int:
    """Return K of ``training.seeds``: how many times every paper network is trained, each with its own seed."""
    return int(config["training"].get("seeds", 1))


def replicate_methods(config: dict) -> tuple[str, ...]:
    """Return the paper's networks retrained with seeds 2..K, as methods: ``rim@seed2``, ``resnet@seed2``, ..."""
    return tuple(f"{network}{SEED_MARK}{k}" for k in range(2, seed_count(config) + 1) for network in NETWORKS)


def training_seed(config: dict, method: str) -> int:
    """Return the seed a network trains with: the run's ``seed``, plus k - 1 for its k-th replicate."""
    return int(config["seed"]) + replicate_of(method)[1] - 1


def methods(config: dict) -> tuple[str, ...]:
    """Return the methods every experiment runs: the paper's, ours where ``ours.enabled``, then the paper
    networks' replicates where ``training.seeds`` > 1."""
    ours = OUR_METHODS if config.get("ours", {}).get("enabled", False) else ()
    return PAPER_METHODS + ours + replicate_methods(config)


def dataset_protocol_name(config: dict, experiment: str, dataset: str) -> str:
    """Return the name of the protocol a dataset of an experiment was acquired with."""
    if experiment in ("montecarlo", "blurriness"):
        return dataset
    section = {"invivo": ("invivo", "datasets"), "phantom": ("phantom", "datasets"),
               "invivo_real": ("invivo", "real")}.get(experiment)
    if section is None:
        raise QmriError(f"unknown experiment {experiment!r}: choose one of {', '.join(EXPERIMENTS)}")
    return config[section[0]][section[1]][dataset]["protocol"]


def our_weights(config: dict, task: str) -> str:
    """Return the checkpoint of our RIM for ``task`` that the experiments run (``ours.weights``; "packaged": qmri's)."""
    chosen = config.get("ours", {}).get("weights", {}).get(task, "packaged")
    return str(packaged_weights(task)) if chosen == "packaged" else chosen


def check_references(config: dict) -> None:
    """Raise a one-line ``QmriError`` when an experiment names a protocol that ``protocols:`` does not define."""
    known = set(config["protocols"])
    named = {"montecarlo.protocols": config["montecarlo"]["protocols"].values(),
             "invivo.datasets": [d["protocol"] for d in config["invivo"]["datasets"].values()],
             "invivo.real": [d["protocol"] for d in config["invivo"].get("real", {}).values()],
             "phantom.datasets": [d["protocol"] for d in config["phantom"]["datasets"].values()],
             "figures.trainset_examples": [config["figures"]["trainset_examples"]["protocol"]]}
    for where, protocols in named.items():
        unknown = sorted(set(protocols) - known)
        if unknown:
            raise QmriError(f"config: {where} names protocol {', '.join(unknown)}, not one of "
                            f"{', '.join(sorted(known))}")
    for method in NETWORKS:
        spec = config["training"][method]
        for protocol, own in (spec.get("protocols") or {}).items():
            start = (own or {}).get("start")
            if protocol not in known or (start is not None and start not in known):
                raise QmriError(f"config: training.{method}.protocols names protocol "
                                f"{protocol if protocol not in known else start}, not one of {', '.join(sorted(known))}")
            if start is not None and (start == protocol or config["protocols"][start]["task"] !=
                                      config["protocols"][protocol]["task"]
                                      or ((spec["protocols"].get(start) or {}).get("start") is not None)):
                raise QmriError(f"config: training.{method}.protocols.{protocol} starts from {start}: it must be "
                                f"another protocol of the same task, itself trained from scratch")
    for task, protocol in config["montecarlo"]["protocols"].items():
        if config["protocols"][protocol]["task"] != task:
            raise QmriError(f"config: montecarlo.protocols.{task} is {protocol}, a {config['protocols'][protocol]['task']} "
                            f"protocol")


def training_plan(config: dict, method: str, protocol: str) -> tuple[dict, str | None]:
    """Return the training settings (``qmri.training.TrainSettings`` keywords) of ``method`` (a network or its
    replicate) on ``protocol`` and the protocol whose trained model it starts from (None: Kaiming weights; a
    replicate starts from its own seed's): ``training.<method>`` with the protocol's entry under its ``protocols``
    (own ``iterations``, a ``start``) over the method's values."""
    spec = dict(config["training"][replicate_of(method)[0]])
    own = dict((spec.pop("protocols", None) or {}).get(protocol) or {})
    start = own.pop("start", None)
    return spec | own, start


def estimator_name(method: str, protocol: str | None) -> str:
    """Return the name of a fit's estimator: ``mle`` or ``arim``, or the paper's network and the protocol it was
    trained on."""
    return method if method in ANY_PROTOCOL else f"{method}-{protocol}"


def split_estimator(name: str) -> tuple[str, str | None]:
    """Return the method and training protocol (None for the MLE and ours) of an estimator name."""
    method, _, protocol = name.partition("-")
    return method, protocol or None


#: switches that one network has not: the ResNet has no cell and no gradient, the RIM no BatchNorm
FORM_NETWORKS = {"activation": ("rim",), "gradient": ("rim",), "batchnorm": ("resnet",)}


def form_arms() -> dict[str, dict]:
    """Return the arms of the implementation study (``qmri.bench.forms``): ``{arm: changes}`` from our form, where
    a change is ``form`` (switches of ``NetworkForm``), ``variant``, ``precision`` or ``voxel_noise`` (the
    training patches'). Arms: ours; each switch alone as the authors' code sets it; their voxel noise; float32;
    and the authors' variant with all of these."""
    arms = {"ours": {}} | {switch: {"form": {switch: options[1]}} for switch, options in OPTIONS.items()}
    return arms | {"voxel_noise": {"voxel_noise": "additive"}, "float32": {"precision": "float32"},
                   "authors": {"variant": "authors", "voxel_noise": "additive", "precision": "float32"}}


def form_networks(arm: str) -> tuple[str, ...]:
    """Return the paper networks an arm trains: both, or the one its switch belongs to (``FORM_NETWORKS``)."""
    return FORM_NETWORKS.get(arm, NETWORKS)


def form_settings(config: dict, arm: str, method: str) -> dict:
    """Return the training settings of ``method`` in ``arm``: the run's for the T1 Monte Carlo protocol in our form
    (variant ``ours``, no single switches) with the arm's ``variant``, ``form`` and ``precision`` over them (its
    ``voxel_noise`` is the training set's: ``form_voxel_noise``)."""
    settings, _ = training_plan(config, method, config["montecarlo"]["protocols"]["t1"])
    changes = form_arms()[arm]
    return settings | {"variant": "ours", "form": {}} | {k: v for k, v in changes.items()
                                                         if k in ("variant", "form", "precision")}


def run_voxel_noise(config: dict) -> str:
    """Return the voxel noise of the run's training patches (``trainset.voxel_noise``; ours where unset)."""
    return config["trainset"].get("voxel_noise", "multiplicative")


def form_voxel_noise(arm: str) -> str:
    """Return the voxel noise of an arm's training patches: the authors' ``additive`` or our ``multiplicative``."""
    return form_arms()[arm].get("voxel_noise", "multiplicative")


def form_is_run(config: dict, arm: str, method: str) -> bool:
    """Whether an arm's ``method`` is the run's own network of the T1 Monte Carlo protocol (same settings, same
    training patches), so that the study scores the run's model instead of training it again."""
    settings, start = training_plan(config, method, config["montecarlo"]["protocols"]["t1"])
    run = {"variant": "ours"} | settings
    run["form"] = dict(run.get("form") or {})
    return (start is None and run == form_settings(config, arm, method)
            and form_voxel_noise(arm) == run_voxel_noise(config))


def training_form(config: dict, method: str, protocol: str) -> NetworkForm:
    """Return the form of the network ``method`` trains for ``protocol`` (``TrainSettings.network_form`` without
    importing torch)."""
    return settings_form(training_plan(config, method, protocol)[0])


def form_choices(config: dict) -> dict[str, str]:
    """Return, per difference of the implementation study (its arm's name), which side the run's paper-form networks
    of the T1 Monte Carlo protocol take: "the authors'" or "ours" (per network where they differ)."""
    protocol = config["montecarlo"]["protocols"]["t1"]
    side = {True: "the authors'", False: "ours"}
    choices = {}
    for switch, options in OPTIONS.items():
        taken = {m: side[getattr(training_form(config, m, protocol), switch) == options[1]]
                 for m in form_networks(switch)}
        choices[switch] = (next(iter(taken.values())) if len(set(taken.values())) == 1 else
                           ", ".join(f"{METHOD_NAMES[m]}: {v}" for m, v in taken.items()))
    choices["voxel_noise"] = side[run_voxel_noise(config) == "additive"]
    precisions = {training_plan(config, m, protocol)[0].get("precision", "auto") for m in NETWORKS}
    choices["float32"] = (side[True] if precisions == {"float32"} else
                          "ours" + (" (bfloat16 where the hardware has it)" if "auto" in precisions else ""))
    return choices


def preset_protocols(presets: list[str]) -> dict[str, list[list[float]]]:
    """Return ``{"t1_real": [...], "t2_real": [...]}``: the times (ms) of the protocols the phantom datasets of
    ``presets`` (YAML files, config form) were acquired with, for our aRIM's protocol draws."""
    found = {"t1_real": [], "t2_real": []}
    for preset in presets:
        spec = yaml.safe_load(Path(preset).read_text())
        for dataset in spec.get("phantom", {}).get("datasets", {}).values():
            protocol = spec["protocols"][dataset["protocol"]]
            times = [float(t) for t in protocol["tau_ms"]]
            if times not in found[f"{protocol['task']}_real"]:
                found[f"{protocol['task']}_real"].append(times)
    return found
