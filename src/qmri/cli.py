"""The ``qmri`` command line: map your own scans (``qmri fit``), measure speed and quality (``qmri bench``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qmri import __version__
from qmri.allocator import keep_freed_memory
from qmri.errors import QmriError
from qmri.estimators.mle import LAMBDA_B


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other qmri error."""

    def error(self, message: str) -> None:  # noqa: D401
        self.exit(2, f"qmri: error: {message} (see {self.prog} --help)\n")


#: ``--arim`` given without a path: the packaged weights
PACKAGED = Path("packaged")


def _tau_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--tau wants numbers in ms, e.g. 139,166,193; got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qmri", description=__doc__)
    parser.add_argument("--version", action="version", version=f"qmri-rim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    fit = sub.add_parser("fit", help="map T1 or T2 from a 4D NIfTI or a DICOM folder")
    fit.add_argument("input", type=Path, help="4D NIfTI (x, y, z, N) with optional BIDS sidecar, or a DICOM folder")
    fit.add_argument("--task", choices=["t1", "t2"], required=True)
    fit.add_argument("--method", choices=["mle", "rim", "resnet", "arim"], default="mle",
                     help="mle: regularised MLE; rim, resnet: the paper's networks (need --weights from the "
                          "pipeline); arim: our any-protocol RIM, packaged weights unless --weights")
    fit.add_argument("--weights", type=Path, help="network checkpoint (rim, resnet; arim: default the packaged one)")
    fit.add_argument("--mask", type=Path, help="NIfTI mask (x, y, z); default: voxels above 5%% of the bright signal and the "
                                                  "noise floor of air")
    fit.add_argument("--tau", type=_tau_list, help="inversion / preparation times in ms, e.g. 139,166,193")
    fit.add_argument("--tr", type=_tau_list,
                     help="repetition time(s) in ms, one for all images or one per image (default: from the "
                          "sidecar or DICOM headers); a TR that varies selects the TR-aware T1 model")
    fit.add_argument("--signal", choices=["auto", "magnitude", "signed"], default="auto",
                     help="auto: signed (real, phase-sensitive) images fitted without the modulus when "
                          "ImageType or mostly negative images say so; magnitude: fit |images|")
    fit.add_argument("--noise", choices=["gaussian", "rician"], default="gaussian",
                     help="MLE likelihood; rician models the noise floor of magnitude images at low SNR")
    fit.add_argument("--sigma", type=float,
                     help="noise SD in image units (default: estimated; rician: from the background)")
    fit.add_argument("--lambda-b", type=float, default=LAMBDA_B,
                     help=f"weight of the Laplacian prior on B (default {LAMBDA_B:g}, the paper's)")
    fit.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    fit.add_argument("--uncertainty", action="store_true", help="also write Cramer-Rao SD maps (desc-crlb)")
    fit.add_argument("-o", "--output", required=True, help="output prefix, e.g. out/sub-01_ses-1")

    bench = sub.add_parser("bench", help="benchmarks that print ratios against a reference run alongside")
    bench.add_argument("what", choices=["mle", "nets", "quality", "protocols"])
    bench.add_argument("--snr", type=float, help="mle: default 30; quality: default 10")
    bench.add_argument("--reference-voxels", type=int, default=300,
                       help="voxels fitted by the per-voxel scipy reference (its time is extrapolated)")
    bench.add_argument("--repeats", type=int,
                       help="mle: noise realisations per SNR (5); nets: timed runs per measurement (5); "
                            "quality: noise realisations per subject (10); protocols: realisations of the "
                            "sigma comparison (4)")
    bench.add_argument("--seed", type=int,
                       help="default 0; quality: the config's seed (subject 0 = the pipeline's test slice)")
    bench.add_argument("--config", type=Path, default=Path("config.yaml"),
                       help="the study's config (protocols, seed, lambda_B, held-out slab; default ./config.yaml)")
    bench.add_argument("--rim", type=Path, help="quality: RIM checkpoint (e.g. results/models/rim/t1-31.pt)")
    bench.add_argument("--resnet", type=Path, help="quality: ResNet checkpoint of the T1 Monte Carlo protocol")
    bench.add_argument("--arim", type=Path, nargs="?", const=PACKAGED,
                       help="quality: our any-protocol RIM's checkpoint (the option alone: the packaged one)")
    bench.add_argument("--subjects", type=int, default=8, help="quality: unseen subject draws")
    bench.add_argument("--protocol", help="quality: a T1 protocol of the config (default its T1 Monte Carlo one)")
    bench.add_argument("--csv", type=Path, help="quality: also write the per-subject table to this CSV")
    bench.add_argument("--mle-from", type=Path,
                       help="quality: take the MLE's rows from an earlier --csv table of the same settings instead "
                            "of fitting it again")
    return parser


def _fit(args: argparse.Namespace) -> None:
    from qmri.data.io import load_nifti
    from qmri.data.scans import load_series
    from qmri.estimators.mapping import describe
    from qmri.relaxometry import InversionRecoveryModel, T2DecayModel

    if args.weights is not None and args.method == "mle":
        raise QmriError("--weights is for --method rim, resnet or arim")
    series = load_series(args.input, args.task, args.tau, args.tr)
    mask = None
    if args.mask is not None:
        mask = load_nifti(args.mask)[0]
        mask = mask[:, :, None] if mask.ndim == 2 else mask
    model = InversionRecoveryModel(series.tau_ms, series.tr_ms) if args.task == "t1" else T2DecayModel(series.tau_ms)
    result = model.fit_series(series, mask, args.method, args.sigma, args.noise, weights=args.weights,
                              signal=args.signal, lambda_b=args.lambda_b, device=args.device,
                              progress=sys.stderr.isatty())
    written = result.save(args.output, source=str(args.input), uncertainty=args.uncertainty)
    for warning in result.warnings:
        print(f"qmri: warning: {warning}", file=sys.stderr)
    print(describe(result.maps))
    print("wrote " + ", ".join(str(p) for p in written))


def _bench(args: argparse.Namespace) -> None:
    try:
        from qmri.bench import mle, nets, protocols, quality
        from qmri.pipeline.study import Study, write_table
    except ModuleNotFoundError as err:
        raise QmriError(f"qmri bench needs the pipeline's packages ({err.name} is missing): "
                        "pip install 'qmri-rim[workflow]'") from None

    study = Study.load(args.config)
    if args.what == "mle":
        mle.mle_benchmark(study, snr=args.snr or 30.0, reference_voxels=args.reference_voxels,
                                repeats=args.repeats or 5, seed=args.seed or 0)
    elif args.what == "nets":
        nets.nets_benchmark(study, repeats=args.repeats or 5, seed=args.seed or 0)
    elif args.what == "protocols":
        protocols.protocols_benchmark(study, repeats=args.repeats or 4, seed=args.seed or 0)
    else:
        weights = {m: None if p == PACKAGED else str(p)
                   for m, p in (("rim", args.rim), ("resnet", args.resnet), ("arim", args.arim)) if p is not None}
        if not weights:
            raise QmriError("bench quality needs --rim, --resnet and/or --arim checkpoints")
        if args.subjects < 1 or (args.repeats is not None and args.repeats < 2):
            raise QmriError("bench quality needs --subjects >= 1 and --repeats >= 2 (the CV needs two)")
        table = quality.quality_benchmark(study, weights, subjects=args.subjects, snr=args.snr or 10.0,
                                          repeats=args.repeats or 10, seed=args.seed, protocol=args.protocol,
                                          mle_from=args.mle_from)
        if args.csv is not None:
            write_table(table, args.csv)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 1 input error, 2 usage error)."""
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    try:
        if args.command == "fit":
            _fit(args)
        elif args.command == "bench":
            _bench(args)
    except QmriError as err:
        print(f"qmri: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qmri: interrupted", file=sys.stderr)
        return 130
    return 0
