"""Train our RIM for one task as the packaged models were trained (run from the repository root, after
``snakemake --cores 2 results/trainset/mni152.npz`` for the brain share):

    python studies/arim/train.py t1 5000      # and: python studies/arim/train.py t2 3000

Writes ``results/models/arim/<task>.pt`` and ``.csv``; an interrupted run resumes from ``<task>.pt.resume``
(bit-identical on a CPU). One torch thread, so the two tasks can train side by side on two cores.
"""

import logging
import sys

import torch

from qmri.training import TrainSettings, load_trainsets, train

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
task, iterations = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(1)
checkpoint = train("arim", "any", task, None, load_trainsets(["results/trainset/mni152.npz"]),
                   TrainSettings(iterations=iterations, batch_size=8, checkpoint_every=50), 20210826,
                   f"results/models/arim/{task}.pt", f"results/models/arim/{task}.csv")
print(f"trained {task} in {checkpoint['train_seconds']:.0f} s")
