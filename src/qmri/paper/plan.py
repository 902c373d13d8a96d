"""What the workflow plans with at parse time, importable without torch: config cross-references and the
names of the fit stage's estimators (every Snakemake invocation, and every cluster job, parses these)."""

from __future__ import annotations

from qmri.errors import QmriError

#: experiments with a fit stage; the first three are simulated from the test brain
EXPERIMENTS = ("montecarlo", "blurriness", "invivo", "phantom", "invivo_real")
SIMULATED = EXPERIMENTS[:3]
#: the paper's three methods, in the order of every table
PAPER_METHODS = ("mle", "rim", "resnet")


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
    for task, protocol in config["montecarlo"]["protocols"].items():
        if config["protocols"][protocol]["task"] != task:
            raise QmriError(f"config: montecarlo.protocols.{task} is {protocol}, a {config['protocols'][protocol]['task']} "
                            f"protocol")


def estimator_name(method: str, protocol: str) -> str:
    """Return the name of a fit's estimator: ``mle``, or the network and the protocol it was trained on."""
    return "mle" if method == "mle" else f"{method}-{protocol}"


def split_estimator(name: str) -> tuple[str, str | None]:
    """Return the method ("mle", "rim" or "resnet") and training protocol (None for the MLE) of an estimator name."""
    method, _, protocol = name.partition("-")
    return method, protocol or None
