"""How the methods are named and coloured in figures and the report (colours follow the paper: RIM red,
MLE blue, ResNet green; ours, beyond the paper, purple)."""

#: the paper's three methods, in the order of every table
PAPER_METHODS = ("mle", "rim", "resnet")
#: ours, beyond the paper (config ``ours``): one model per task for every protocol
OUR_METHODS = ("arim",)
#: methods whose estimator is one for every protocol
ANY_PROTOCOL = ("mle", *OUR_METHODS)
#: the paper's networks, trained per protocol
NETWORKS = ("rim", "resnet")
#: what names a paper network retrained with another seed (``training.seeds``): ``rim@seed2``
SEED_MARK = "@seed"


def replicate_of(name: str) -> tuple[str, int]:
    """Return what a name (a method, or a model label such as ``rim t1-23@seed2``) replicates and its seed number
    (1: the run's own training)."""
    base, _, k = name.partition(SEED_MARK)
    return base, int(k) if k else 1


def is_method(name: str) -> bool:
    """Whether ``name`` is a method of the experiments (the paper's, ours, or a paper network's replicate)."""
    return replicate_of(name)[0] in PAPER_METHODS + OUR_METHODS


METHOD_NAMES = {"mle": "MLE", "resnet": "ResNet", "rim": "RIM", "arim": "aRIM (ours)",
                "mle-voxelwise": "MLE per voxel (the paper's kind)"}
METHOD_COLOURS = {"rim": "#d62728", "mle": "#1f77b4", "resnet": "#2ca02c", "arim": "#9467bd"}


def method_name(method: str) -> str:
    """Return how tables name a method or model (``METHOD_NAMES``; "rim t1-23" as "RIM t1-23"), and a network
    retrained with seed k as "RIM (seed k)"."""
    base, seed = replicate_of(method)
    return METHOD_NAMES.get(base, base.replace("rim ", "RIM ")) + (f" (seed {seed})" if seed > 1 else "")
