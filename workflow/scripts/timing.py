"""Section 6.1: median wall time of RIM, ResNet and MLE (and ours) on the 256 x 256 test slice."""

import pandas as pd
import torch

from qmri.estimators.methods import default_device
from qmri.paper.timing import time_estimators, time_voxelwise_mle
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import Study, write_table
from qmri.provenance import hardware
from qmri.simulation.brains import load_brain_model
from qmri.simulation.simulate import sigma_for_snr, synthesise

with rule_job(snakemake) as log:
    study, inp = Study(snakemake.params.study), snakemake.input
    protocol, timing = study.montecarlo_protocol("t1"), study.config["timing"]
    truth = study.held_out_truth(load_brain_model(inp.labels, inp.meta), protocol.task)
    sigma = float(sigma_for_snr(timing["snr"]))
    signal = synthesise(torch.from_numpy(truth.kappa[None]), sigma, torch.tensor(protocol.tau_ms, dtype=torch.float64),
                        truth.model, torch.Generator().manual_seed(study.seed)).float()
    estimators = study.estimators(protocol, {m: inp[m] for m in ("rim", "resnet", "arim") if m in inp.keys()})
    mask = torch.from_numpy(truth.fit_mask)[None]
    rows = time_estimators(estimators, signal, mask, sigma, timing["repeats"])
    rows.append(time_voxelwise_mle(truth.model, signal.double(), mask, protocol.tau_ms, seed=study.seed))
    table = pd.DataFrame(rows).assign(hardware=hardware(default_device()))
    log.info("\n%s", table.to_string())
    write_table(table, snakemake.output[0])
