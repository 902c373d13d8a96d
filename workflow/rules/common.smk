# Helpers that turn the config into file lists and rule parameters.


def brain_specs():
    """Map brain model name -> the keyword arguments of qmri.brains.build_brain_model."""
    source = config["brains"]["source"]
    if source == "mni152":
        return {"mni152": {"source": "mni152", **config["brains"]["mni152"]}}
    bw = config["brains"]["brainweb"]
    specs = {}
    for role in ("train", "test"):
        for subject in bw[f"{role}_subjects"]:
            specs[f"brainweb{subject:02d}"] = {
                "source": "brainweb",
                "subject": subject,
                "role": role,
                "cache_dir": bw.get("cache_dir"),
            }
    return specs


BRAINS = brain_specs()
TRAIN_BRAINS = [n for n, s in BRAINS.items() if s["source"] == "mni152" or s["role"] == "train"]
TEST_BRAINS = [n for n, s in BRAINS.items() if s["source"] == "mni152" or s["role"] == "test"]
PROTOCOLS = config["protocols"]

METHODS = ["rim", "resnet"]

ALL_FIGURES = ["results/figures/trainset_examples.png"] + expand(
    "results/figures/training/{method}_{protocol}.png", method=METHODS, protocol=PROTOCOLS
)


wildcard_constraints:
    model="|".join(BRAINS),
    protocol="|".join(PROTOCOLS),
    method="|".join(METHODS),
