"""How the methods are named and coloured in figures and the report (colours follow the paper: RIM red,
MLE blue, ResNet green; ours, beyond the paper, purple)."""

from qmri.paper.plan import replicate_of

METHOD_NAMES = {"mle": "MLE", "resnet": "ResNet", "rim": "RIM", "arim": "aRIM (ours)",
                "mle-voxelwise": "MLE per voxel (the paper's kind)"}
METHOD_COLOURS = {"rim": "#d62728", "mle": "#1f77b4", "resnet": "#2ca02c", "arim": "#9467bd"}


def method_name(method: str) -> str:
    """Return how tables name a method or model (``METHOD_NAMES``; "rim t1-23" as "RIM t1-23"), and a network
    retrained with seed k as "RIM (seed k)"."""
    base, seed = replicate_of(method)
    return METHOD_NAMES.get(base, base.replace("rim ", "RIM ")) + (f" (seed {seed})" if seed > 1 else "")
