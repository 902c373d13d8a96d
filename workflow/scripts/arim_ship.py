"""Copy a trained aRIM into the package with its model card (``qmri.training.cards.ship``)."""

import pandas as pd

from qmri.pipeline.rulejob import rule_job
from qmri.training.cards import ship

with rule_job(snakemake) as log:
    inp = snakemake.input
    quality = pd.read_csv(inp.quality) if "quality" in inp.keys() else None
    card = ship(inp.model, snakemake.output.weights, quality, pd.read_csv(inp.phantoms),
                allow_dirty=snakemake.params.allow_dirty)
    log.info("shipped %s: %d iterations, revision %s", card["model"], card["iterations"], card["git_revision"])
