# Helpers that turn the config into file lists and rule parameters.

import os

from snakemake.exceptions import WorkflowError

from qmri.data.scans import sidecar_path
from qmri.errors import QmriError
from qmri.estimators.networks import packaged_weights
from qmri.paper.naming import NETWORKS, OUR_METHODS, SEED_MARK, replicate_of
from qmri.pipeline.plan import (
    EXPERIMENTS,
    SIMULATED,
    check_references,
    dataset_protocol_name,
    estimator_name,
    form_arms,
    form_is_run,
    form_networks,
    form_settings,
    form_voxel_noise,
    methods,
    our_weights,
    preset_protocols,
    replicate_methods,
    run_voxel_noise,
    split_estimator,
    training_form,
    training_plan,
    training_seed,
)

try:
    check_references(config)
except QmriError as err:
    raise WorkflowError(str(err)) from None

#: the CPUs this process may run on
USABLE_CPUS = len(os.sched_getaffinity(0))
# `--cores 8` on a two-core machine would start four two-thread trainings side by side, each several
# times slower than alone: a local run uses at most the CPUs that exist (a cluster run is not capped)
if workflow.local_exec and workflow.global_resources["_nodes"] is None:
    if (workflow.global_resources["_cores"] or 0) > USABLE_CPUS:
        workflow.register_resource("_cores", USABLE_CPUS)


def all_cores():
    """Every core of a local run: a job given them all runs alone (the timing rule, whose wall times
    must not share the CPU)."""
    return workflow.global_resources["_cores"] or USABLE_CPUS


def job_threads():
    """Threads of a training or fit job: one on a local run with fewer than four cores, else two.

    Two one-thread trainings side by side take less time per step than one two-thread training after the other
    (docs: performance): a second thread on batches of 24 patches of 40 x 40 waits more than it works. Where
    cores are plenty, two threads shorten the longest chain of jobs.
    """
    return 1 if workflow.local_exec and all_cores() < 4 else 2


def brain_specs():
    """Map brain model name -> the keyword arguments of qmri.simulation.brains.build_brain_model."""
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

METHODS = list(NETWORKS)
#: the paper networks retrained with seeds 2..K (``training.seeds``): ``rim@seed2``, ...
REPLICATES = replicate_methods(config)

#: figure name -> protocol of its Monte Carlo table
MONTECARLO_FIGURES = {
    "fig2_montecarlo_t1": config["montecarlo"]["protocols"]["t1"],
    "figA1_montecarlo_t2": config["montecarlo"]["protocols"]["t2"],
}
INVIVO = config["invivo"]["datasets"]
#: real volunteer datasets (repeated NIfTI/DICOM scans), if any are configured
REAL_INVIVO = config["invivo"].get("real", {})
#: the paper's in-vivo figures: figure -> (simulated dataset, what it shows)
PAPER_INVIVO_FIGURES = {
    "fig5_invivo_t1": ("iv-t1", "maps"),
    "fig6_invivo_t1_noisy": ("iv-t1-noisy", "repeatability"),
    "fig8_invivo_t2": ("iv-t2", "maps"),
}


def protocol_words(name):
    """A protocol as a figure names it: "t1-31 (31 TIs)"."""
    protocol = PROTOCOLS[name]
    return f"{name} ({len(protocol['tau_ms'])} {'TIs' if protocol['task'] == 't1' else 'preparation times'})"


def invivo_title(dataset, spec, view):
    """A figure title that names the dataset, its protocol as config.yaml defines them, and its SNR and scans."""
    what = {"maps": "maps of volunteer 1, scan 1", "repeatability": "repeated scans and pixel-wise CV",
            "real": "real repeated scans of volunteer 1, CV over the head mask"}[view]
    noise = f", SNR {spec['snr']:g}, {config['invivo']['scans']} scans" if "snr" in spec else ""
    return f"{dataset} ({protocol_words(spec['protocol'])}{noise}): {what}"


#: figure name -> the in-vivo arrays it shows, the view and its title (simulated volunteers, then real datasets)
INVIVO_FIGURES = {
    figure: {"arrays": f"results/invivo/{d}.npz", "view": view, "title": invivo_title(d, INVIVO[d], view)}
    for figure, (d, view) in PAPER_INVIVO_FIGURES.items()
    if d in INVIVO
} | {
    f"invivo_{name}": {"arrays": f"results/invivo_real/{name}.npz", "view": "real",
                       "title": invivo_title(name, spec, "real")}
    for name, spec in REAL_INVIVO.items()
}
PHANTOMS = config["phantom"]["datasets"]
#: the paper's phantom figures show the default digital datasets; any other dataset gets phantom_<name>
PHANTOM_FIGURES = {
    d: {"hp-t1": "fig4_phantom_t1", "hp-t2": "figA2_phantom_t2"}.get(d, f"phantom_{d}") for d in PHANTOMS
}
T1_PROTOCOLS = [p for p, spec in PROTOCOLS.items() if spec["task"] == "t1"]
T1_DATASETS = [d for d, spec in INVIVO.items() if PROTOCOLS[spec["protocol"]]["task"] == "t1"]

#: the protocol of the timing table: the paper timed IV_T1 (31 inversion times)
TIMING_PROTOCOL = config["montecarlo"]["protocols"]["t1"]
#: the implementation study's arms (``qmri.pipeline.plan.form_arms``) and the protocol its networks learn
FORM_ARMS = form_arms()
FORM_PROTOCOL = config["montecarlo"]["protocols"]["t1"]

ALL_FIGURES = (
    ["results/figures/trainset_examples.png"]
    + expand("results/figures/training/{method}_{protocol}.png", method=METHODS, protocol=PROTOCOLS)
    + expand("results/figures/{figure}.png", figure=MONTECARLO_FIGURES)
    + ["results/figures/fig3_blurriness.png"]
    + expand("results/figures/{figure}.png", figure=INVIVO_FIGURES)
    + ["results/figures/fig7_boundary_sharpness.png", "results/figures/fig9_generalisation.png"]
    + expand("results/figures/{figure}.png", figure=PHANTOM_FIGURES.values())
)


#: config sections that every simulated or fitted result depends on
SCIENCE = ("seed", "protocols", "mle", "simulation", "trainset")


def study(*sections):
    """The config a job's science reads (``qmri.pipeline.study.Study(params.study)``): the common sections and the
    experiment's own; passed as a param, so a change to any of them reruns the job and nothing else does."""
    return {key: config[key] for key in SCIENCE + sections if key in config}


def training_start(w):
    """The trained model a network fine-tunes from (``training.<method>.protocols.<protocol>.start``), if any."""
    _, start = training_plan(config, w.method, w.protocol)
    return {} if start is None else {"start": f"results/models/{w.method}/{start}.pt"}


def training_record(w):
    """What a checkpoint records of the config: its protocol, own training settings and start, the training set."""
    settings, start = training_plan(config, w.method, w.protocol)
    return {"protocol": PROTOCOLS[w.protocol], "training": settings, "start": start, "trainset": config["trainset"],
            "brains": config["brains"]}


def fit_path(experiment, dataset, method, protocol):
    """The maps of one method (its networks trained on ``protocol``) for one dataset of an experiment."""
    return f"results/fits/{experiment}/{dataset}/{estimator_name(method, protocol)}.npz"


#: the methods of every experiment: the paper's three, and ours (config ``ours``)
FIT_METHODS = methods(config)


def fits_of(experiment, dataset, protocol):
    """``{method: fit file}`` of every method (the paper's networks those of ``protocol``) on one dataset."""
    return {method: fit_path(experiment, dataset, method, protocol) for method in FIT_METHODS}


#: the T1 phantom datasets: figure 9a maps them with every T1 RIM too
T1_PHANTOMS = [d for d, spec in PHANTOMS.items() if PROTOCOLS[spec["protocol"]]["task"] == "t1"]


def generalisation_fits(experiment, dataset, protocol):
    """``{"experiment|dataset|model": fit file}`` of section 5.4 for one T1 dataset: the MLE, the dataset's own
    ResNet, every T1 protocol's RIM and ours."""
    models = [("mle", "mle", None), ("resnet", "resnet", protocol)] + [(f"rim {p}", "rim", p) for p in T1_PROTOCOLS]
    models += [(m, m, None) for m in FIT_METHODS if m in OUR_METHODS]
    for replicate in REPLICATES:
        network, seed = replicate_of(replicate)
        models += ([(replicate, replicate, protocol)] if network == "resnet" else
                   [(f"rim {p}{SEED_MARK}{seed}", replicate, p) for p in T1_PROTOCOLS])
    return {f"{experiment}|{dataset}|{model}": fit_path(experiment, dataset, method, p) for model, method, p in models}


#: section 5.4: every T1 dataset of the volunteers and the phantoms
GENERALISATION_FITS = {
    key: path
    for experiment, datasets in (("invivo", {d: INVIVO[d] for d in T1_DATASETS}),
                                 ("phantom", {d: PHANTOMS[d] for d in T1_PHANTOMS}))
    for d, spec in datasets.items()
    for key, path in generalisation_fits(experiment, d, spec["protocol"]).items()
}


def test_brain(wildcards):
    """Label volume and sidecar of the unseen brain model that the simulated experiments use."""
    return {
        "labels": f"results/brains/{TEST_BRAINS[0]}.nii.gz",
        "meta": f"results/brains/{TEST_BRAINS[0]}.json",
    }


wildcard_constraints:
    model="|".join(BRAINS),
    protocol="|".join(PROTOCOLS),
    method=f"({'|'.join(METHODS)})({SEED_MARK}[0-9]+)?",
    dataset="|".join(INVIVO),
    phantom="|".join(PHANTOMS),
    real="|".join(REAL_INVIVO) or "(?!)",  # never matches without real datasets


def series_files(paths, dataset):
    """Every file that a list of series reads: a DICOM folder's files, or a NIfTI file and its BIDS sidecar."""
    paths = [pathlib.Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ValueError(f"{dataset}: no series {', '.join(missing)}")
    files = [f for p in paths for f in (p.iterdir() if p.is_dir() else [p, sidecar_path(p)])]
    return sorted(str(f) for f in files if f.is_file())


def phantom_sessions(dataset):
    """The files of a real phantom dataset's sessions (none for a digital phantom)."""
    return series_files(PHANTOMS[dataset].get("sessions", []), f"phantom dataset {dataset}")


def phantom_words(dataset):
    """What a phantom figure's title says of its data: the protocol and the digital scans' SNR, or the sessions."""
    spec = PHANTOMS[dataset]
    scans = (f"digital, SNR {spec['digital']['snr']:g}, C = {spec['digital']['scans']} scans" if "digital" in spec
             else f"{len(spec['sessions'])} real sessions")
    return f"{dataset}, {protocol_words(spec['protocol'])}, {scans}"


def phantom_results(wildcards):
    """The table and arrays of the phantom dataset a figure shows."""
    dataset = {figure: d for d, figure in PHANTOM_FIGURES.items()}[wildcards.figure]
    return {"table": f"results/phantom/{dataset}.csv", "arrays": f"results/phantom/{dataset}.npz"}


def real_invivo_scans(dataset):
    """Every file of a real in-vivo dataset's scans (NIfTI files and sidecars, or DICOM folders)."""
    scans = [p for volunteer in REAL_INVIVO[dataset]["volunteers"] for p in volunteer]
    return series_files(scans, f"in-vivo dataset {dataset}")


def fit_inputs(wildcards):
    """The weights of a network estimator, and what the scans are made from: the test brain (simulated
    experiments), a real phantom's sessions, or real volunteers' scans."""
    found = {}
    method, protocol = split_estimator(wildcards.estimator)
    if method in OUR_METHODS:
        task = PROTOCOLS[dataset_protocol_name(config, wildcards.experiment, wildcards.dataset)]["task"]
        found["weights"] = our_weights(config, task)
    elif method != "mle":
        found["weights"] = f"results/models/{method}/{protocol}.pt"
    if wildcards.experiment in SIMULATED:
        found |= test_brain(wildcards)
    elif wildcards.experiment == "phantom":
        found["scans"] = phantom_sessions(wildcards.dataset)
    else:
        found["scans"] = real_invivo_scans(wildcards.dataset)
    return found


def form_weights(arm):
    """``{method: checkpoint}`` of an arm's networks: the run's own model of the protocol where the arm is the run's
    form (``form_is_run``), else the arm's."""
    return {method: (f"results/models/{method}/{FORM_PROTOCOL}.pt" if form_is_run(config, arm, method) else
                     f"results/forms/{arm}/{method}.pt") for method in form_networks(arm)}


#: the run's voxel noise of its training patches (``trainset.voxel_noise``)
RUN_VOXEL_NOISE = run_voxel_noise(config)
#: the training sets' folders: the run's, and patches with the other voxel noise for the implementation study
TRAINSET_FOLDERS = {"trainset": {}} | {f"trainset-{kind}": {"voxel_noise": kind}
                                       for kind in ("multiplicative", "additive") if kind != RUN_VOXEL_NOISE}


def trainsets(voxel_noise):
    """The training sets of the run's training brains drawn with ``voxel_noise``: the run's own, or those of the
    other voxel noise (an arm of the implementation study, our aRIM's brain share)."""
    folder = "trainset" if voxel_noise == RUN_VOXEL_NOISE else f"trainset-{voxel_noise}"
    return {"trainsets": [f"results/{folder}/{model}.npz" for model in TRAIN_BRAINS]}


def budget_settings(method, iterations):
    """The training settings of ``method`` in the budget study: the run's for the T1 Monte Carlo protocol with
    ``iterations``."""
    return training_plan(config, method, FORM_PROTOCOL)[0] | {"iterations": iterations}


def budget_weights(iterations):
    """``{method: checkpoint}`` of the budget study at ``iterations``: the run's own models at the run's budget."""
    return {method: (f"results/models/{method}/{FORM_PROTOCOL}.pt"
                     if budget_settings(method, iterations) == training_plan(config, method, FORM_PROTOCOL)[0]
                     else f"results/budget/{iterations}/{method}.pt") for method in NETWORKS}


#: where the package's weights live in the source tree (``qmri.estimators.networks.packaged_weights``)
PACKAGED_WEIGHTS = "src/qmri/estimators/networks/weights"


#: the aRIM's training settings that config ``arim`` gives per task
ARIM_RECIPE = ("iterations", "data_term", "start_pool", "start_jitter", "lr_schedule")


def arim_settings(task):
    """The training settings of our aRIM for ``task`` (config ``arim``)."""
    spec = config["arim"]
    return {"batch_size": spec["batch_size"], "checkpoint_every": spec["checkpoint_every"]} | {
        name: spec[name][task] for name in ARIM_RECIPE}


def arim_data(task):
    """What our aRIM's training maps for ``task`` are drawn from beyond ``AnyProtocolSettings``' defaults: the
    protocols of the phantom datasets of ``arim.phantoms`` in ``arim.real_share`` of the batches."""
    return preset_protocols(config["arim"]["phantoms"]) | {"real_share": config["arim"]["real_share"][task]}
