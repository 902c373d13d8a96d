"""Gradient ablation of each budget checkpoint (and any other RIM), as ``qmri bench quality`` prints it:
subject 0 (the pipeline's test slice), one realisation at SNR 10, 31 IV_T1 inversion times.

    python studies/rim-budget/ablation.py studies/rim-budget/rim_t1-31_{1k,3k,10k}.pt
"""

import sys

import torch

from qmri.bench.quality import gradient_ablation
from qmri.estimators.networks.checkpoint import load_model
from qmri.paper.acquisitions import noisy_batches
from qmri.pipeline.study import Study
from qmri.simulation.simulate import sigma_for_snr

study = Study.load("config.yaml")
protocol = study.montecarlo_protocol("t1")
truth = study.held_out_truth(study.mni152_brain(), "t1", study.seed)
scan = next(iter(noisy_batches(truth, protocol.tau_ms, float(sigma_for_snr(10.0)), 1,
                               torch.Generator().manual_seed(study.seed))))
for path in sys.argv[1:]:
    net, meta = load_model(path)
    change = gradient_ablation(net, meta, scan.images, scan.mask, truth.score_mask, protocol.tau_ms)
    print(path, ", ".join(f"{name} {100 * c:.2f} %" for name, c in zip(meta["param_names"], change)))
