"""How the methods are named and coloured in figures and the report (colours follow the paper: RIM red,
MLE blue, ResNet green; ours, beyond the paper, purple)."""

METHOD_NAMES = {"mle": "MLE", "resnet": "ResNet", "rim": "RIM", "arim": "aRIM (ours)",
                "mle-voxelwise": "MLE per voxel (the paper's kind)"}
METHOD_COLOURS = {"rim": "#d62728", "mle": "#1f77b4", "resnet": "#2ca02c", "arim": "#9467bd"}
