"""Train one network (RIM or ResNet) for one protocol: a run's model (with the seed of its replicate) or an arm of
the implementation study."""

from qmri.pipeline.rulejob import rule_job
from qmri.simulation.anyprotocol import AnyProtocolSettings
from qmri.training import TrainSettings, load_trainsets, train

with rule_job(snakemake) as log:
    p = snakemake.params
    checkpoint = train(p.network, p.protocol, p.task, p.tau_ms,
                       load_trainsets(snakemake.input.trainsets), TrainSettings(**p.settings), p.seed,
                       snakemake.output.model, snakemake.output.csv, config=p.config,
                       start=snakemake.input.get("start") or p.get("start"),
                       data=AnyProtocolSettings(**p.data) if p.get("data") else None)
    log.info("trained %s on %s in %.0f s (autocast %s)", checkpoint["device"], p.protocol,
             checkpoint["train_seconds"], checkpoint["autocast"])
