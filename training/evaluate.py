"""Evaluate a checkpoint: NME (inter-ocular and inter-pupil), FR@X, AUC@X, CED plot.

    python -m training.evaluate --checkpoint runs/<run>/best.pt [--split test] [--out DIR]
    python -m training.evaluate --checkpoint best.pt --dataset folder --data-root my_photos   # any data
    python -m training.evaluate --checkpoint best.pt --flip-test      # + mirrored crops, averaged heatmaps
    python -m training.evaluate --checkpoint best.pt --decode integral   # integral regression's decoding
    python -m training.evaluate --checkpoint wflw.pt --dataset 300w --data-root 300W   # a 98-point model on 68
    python -m training.evaluate --checkpoint m68.pt --dataset coco --data-root imgs --annotations five.json \
        --scheme five.toml                                                 # ... and on a 5-point COCO set

The dataset, model and crop settings come from the checkpoint's recorded config; options given
here override them. Prints a results table (the model beside the mean shape of the training
split) and writes results_<split>.json, ced_<split>.png and predictions_<split>.png to --out
(default: the checkpoint's folder). The work is training.eval.protocol.evaluate_split, which the end
of a training run calls too.

``--decode`` picks how heatmaps become points (awing_ext.decode_heatmaps, docs/evaluation.md):
dark (default: DARK's modulation, then its Taylor step), taylor (the Taylor step alone), quarter
(the paper's code) or integral (the integral term's windowed expectation); results_<split>.json
records it ("decode"), and the share of points whose heatmap peak is below 0.2
("low_confidence": flat planes, training/core/codec.py).

Landmark schemes (docs/datasets.md): the model's is the checkpoint's; the data is read in
``--scheme FILE`` (default: the run's scheme on the run's dataset, else the dataset's own). When
the two differ, the model's points are mapped onto the data's through the data scheme's
``[from.<model scheme>]`` indices (68's ``[from.98]`` is built in); without one it is an error.

``--skip-bad`` evaluates what can be read of a dataset (your own photos with one odd .pts file):
bad files are left out, listed on stderr and counted in the results ("skipped",
"skipped_files"); without it (and unless the run trained with it) the first one is an error.
"""
import argparse
import sys
from pathlib import Path

from awing_ext.schemes import LandmarkScheme

from .core.cli import UsageError, float_above, int_at_least, run, strict_json, worker_count
from .core.checkpoint import checkpoint_scheme, load_checkpoint
from .models.loading import load_model
from .core.codec import add_decode_option, codec_for
from .data.registry import ANNOTATION_OPTIONS, DATASETS, build_base, build_dataset
from .eval.metrics import format_table
from .eval.protocol import evaluate_split, format_report, train_crop_landmarks
from .eval.released_protocol import evaluate_released
from .infer.predictor import flip_permutation_of
from .core.runtime import keep_freed_memory, resolve_device


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a .pt file written by training.train")
    p.add_argument("--dataset", default=None, choices=DATASETS,
                   help="the data to evaluate on (default: the run's); another dataset with the same landmark "
                        "scheme is the cross-dataset protocol, e.g. a folder of your own photos")
    p.add_argument("--split", default="test", help="dataset split to evaluate")
    p.add_argument("--samples", type=int_at_least(1), default=None,
                   help="synthetic: number of faces; real datasets: the first N images (default: the run's)")
    p.add_argument("--data-root", default=None, help="dataset folder (default: the run's)")
    p.add_argument("--scheme", default=None, metavar="FILE|NAME",
                   help="read the data in this landmark scheme (a scheme file or 68/98/29; default: the run's on "
                        "the run's dataset, else the dataset's own); a model of another scheme is mapped onto it "
                        "through its [from.<model scheme>]")
    p.add_argument("--annotations", default=None, metavar="FILE", help="coco: the COCO keypoints file (default: the "
                                                                       "run's; its split as the run's)")
    p.add_argument("--val-annotations", default=None, metavar="FILE", help="coco: the val split's file")
    p.add_argument("--test-annotations", default=None, metavar="FILE", help="coco: the test split's file")
    p.add_argument("--threshold", type=float_above(0), default=0.1, help="NME threshold of FR and AUC")
    p.add_argument("--batch-size", type=int_at_least(1), default=32)
    p.add_argument("--workers", type=worker_count, default=1, help="data-loader worker processes")
    p.add_argument("--skip-bad", action=argparse.BooleanOptionalAction, default=None,
                   help="leave out (list and count) corrupt or missing images and malformed annotations instead "
                        "of stopping (default: as the run trained)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="where to write results (default: the checkpoint's folder)")
    p.add_argument("--flip-test", action="store_true",
                   help="average the heatmaps of each crop and its mirror (left/right points swapped back): "
                        "the flip test of mmpose/HRNet evaluations, 2x the compute")
    add_decode_option(p)
    p.add_argument("--protocol", default="awing", choices=("awing", "released"),
                   help="awing: this package's crop, --decode's decoding and normaliser; released: the authors' "
                        "released WFLW test protocol (training/eval/released_protocol.py) for comparing with their numbers")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.protocol == "released" and args.decode != "dark":
        raise UsageError("--decode is this package's protocol's: --protocol released decodes as the released "
                         "code does (with DARK beside it)")
    keep_freed_memory()
    device = resolve_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, map_location=device)
    cfg = ckpt["config"]
    model = load_model(ckpt, device, str(args.checkpoint))
    model_scheme = checkpoint_scheme(ckpt, str(args.checkpoint))
    input_size = model.config.input_size
    name = args.dataset or cfg["dataset"]
    same = name == cfg["dataset"]
    skip_bad = args.skip_bad if args.skip_bad is not None else bool(cfg.get("skip_bad", False))
    files = {k: getattr(args, k) or (cfg.get(k) if same else None) for k in ANNOTATION_OPTIONS}
    common = dict(input_size=input_size, seed=cfg["seed"],
                  data_root=args.data_root or (cfg.get("data_root") if same else None),
                  skip_bad=skip_bad, crop=cfg.get("crop", "landmarks") if same else "landmarks",
                  scheme=args.scheme or (model_scheme if same and "scheme" in ckpt else None), **files)
    if args.protocol == "released":
        return _released(args, name, cfg, model, device)
    samples = args.samples or (cfg.get(f"{args.split}_samples") or cfg.get("test_samples") if same else None)
    dataset, scheme = build_dataset(name, args.split, num_samples=samples,
                                    limit=args.samples or (cfg.get("limit") if same else None), **common)
    mapping = cross_scheme_mapping(model_scheme, scheme, name)
    for note in getattr(getattr(dataset, "base", dataset), "notes", []):
        print(f"awing: {note}", file=sys.stderr)
    baseline = train_crop_landmarks(name, input_size, seed=cfg["seed"], data_root=common["data_root"],
                                    samples=cfg.get("train_samples") if same else None, limit=None,
                                    skip_bad=skip_bad, crop=common["crop"], workers=args.workers, scheme=scheme,
                                    **files)
    out = Path(args.out or Path(args.checkpoint).parent)
    codec = codec_for(ckpt, model.config, model_scheme, args.decode, str(args.checkpoint))
    try:
        flip = flip_permutation_of(model_scheme) if args.flip_test else None
    except ValueError as exc:
        raise UsageError(f"--flip-test: {exc}") from None
    report = evaluate_split(model, codec, dataset,
                            baseline, device=device, out=out, suffix=f"_{args.split}",
                            title=f"CED, {name} {args.split}", batch_size=args.batch_size,
                            workers=args.workers, threshold=args.threshold,
                            extra={"checkpoint": str(args.checkpoint), "dataset": name, "split": args.split,
                                   "flip_test": args.flip_test, "scheme": scheme.name,
                                   **({"model_scheme": model_scheme.name} if mapping is not None else {})},
                            flip_permutation=flip, scheme=scheme, mapping=mapping)
    print(f"{name} {args.split}: {report['samples']} images, NME normalised by the {report['normaliser']}"
          + (f"; the model's {model_scheme.name!r} points mapped onto {scheme.name!r}" if mapping is not None else "")
          + (f"; {report['skipped']} bad file(s) skipped" if report["skipped"] else ""), file=sys.stderr)
    for bad in report["skipped_files"]:
        print(f"  skipped {bad['file']}: {bad['reason']}", file=sys.stderr)
    print(format_report(report))
    print(f"written: {out}/results_{args.split}.json, ced_{args.split}.png, predictions_{args.split}.png")
    return report


def cross_scheme_mapping(model_scheme: LandmarkScheme, data_scheme: LandmarkScheme, dataset: str):
    """None when the model predicts the data's scheme, else the data scheme's [from.<model's>]
    indices; a UsageError when it declares none (or the point counts disagree)."""
    if model_scheme.name == data_scheme.name and model_scheme.num_points == data_scheme.num_points:
        return None
    mapping = data_scheme.mapping_from(model_scheme)
    if mapping is None:
        differ = (f"the model predicts {model_scheme.num_points} landmarks but {dataset} has {data_scheme.num_points} "
                  f"per face" if model_scheme.num_points != data_scheme.num_points else
                  f"the model predicts the scheme {model_scheme.name!r} but the {dataset} data is read in "
                  f"{data_scheme.name!r}")
        raise UsageError(f"{differ}, and the data's scheme {data_scheme.name!r} declares no [from.{model_scheme.name}] "
                         f"indices to map the model's points onto its own: evaluate on data of the model's scheme, "
                         f"or add them to a scheme file (--scheme FILE; docs/datasets.md)")
    top = max(max(e) if isinstance(e, tuple) else e for e in mapping)
    if top >= model_scheme.num_points:
        raise UsageError(f"{data_scheme.source or data_scheme.name}: from.{model_scheme.name}.indices: index {top} is "
                         f"out of range for the model's {model_scheme.num_points} points")
    return mapping


def _released(args, name: str, cfg: dict, model, device) -> dict:
    """--protocol released: the released code's crops, decoding and normaliser (WFLW)."""
    if args.flip_test:
        raise ValueError("--flip-test is not part of the released protocol: drop one of them")
    if name != "wflw":
        raise UsageError(f"--protocol released is defined for WFLW only (the released code's test crops "
                         f"need its annotation boxes); the data here is {name!r}")
    base = build_base("wflw", args.split, args.data_root or cfg.get("data_root"))
    if args.samples:
        base.records = base.records[:args.samples]
    report = evaluate_released(model, base, device, args.batch_size, args.threshold)
    report = {"checkpoint": str(args.checkpoint), "split": args.split, **report}
    out = Path(args.out or Path(args.checkpoint).parent)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results_{args.split}_released.json").write_text(strict_json(report, indent=2))
    print(f"wflw {args.split}, released protocol: {report['samples']} images, NME normalised by "
          f"{report['normaliser']}", file=sys.stderr)
    print(format_table(report["results"], args.threshold, name_header="decoding"))
    print(f"written: {out}/results_{args.split}_released.json")
    return report


if __name__ == "__main__":
    sys.exit(run(main))
