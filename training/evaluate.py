"""Evaluate a checkpoint: NME (inter-ocular and inter-pupil), FR@X, AUC@X, CED plot.

    python -m training.evaluate --checkpoint runs/<run>/best.pt [--split test] [--out DIR]

The dataset, model and crop settings come from the checkpoint's recorded config; options given
here override them. Prints a results table (the model beside the mean-shape baseline when the
training split is available) and writes results.json, ced.png and predictions.png to --out
(default: the checkpoint's folder).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import metrics, visualize
from .checkpoint import load_checkpoint
from .data.registry import build_dataset, subsets_of
from .engine import evaluation_report, format_report, run_evaluation
from .models import FANConfig, build_model
from .runtime import keep_freed_memory


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a .pt file written by training.train")
    p.add_argument("--split", default="test", help="dataset split to evaluate")
    p.add_argument("--samples", type=int, default=None,
                   help="synthetic: number of faces; real datasets: the first N images (default: the run's)")
    p.add_argument("--data-root", default=None, help="dataset folder (default: the run's)")
    p.add_argument("--threshold", type=float, default=0.1, help="NME threshold of FR and AUC")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="where to write results (default: the checkpoint's folder)")
    return p.parse_args(argv)


def load_model(checkpoint: dict, device: torch.device) -> torch.nn.Module:
    model = build_model(FANConfig(**checkpoint["model_config"]))
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()


def main(argv=None) -> dict:
    args = parse_args(argv)
    keep_freed_memory()
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    ckpt = load_checkpoint(args.checkpoint, map_location=device)
    cfg = ckpt["config"]
    model = load_model(ckpt, device)
    input_size, num_landmarks = model.config.input_size, model.config.num_landmarks
    common = dict(input_size=input_size, seed=cfg["seed"], data_root=args.data_root or cfg.get("data_root"),
                  skip_bad=cfg.get("skip_bad", False), crop=cfg.get("crop", "landmarks"))
    samples = args.samples or cfg.get(f"{args.split}_samples") or cfg.get("test_samples")
    dataset, _ = build_dataset(cfg["dataset"], args.split, num_samples=samples,
                               limit=args.samples or cfg.get("limit"), **common)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers)
    result = run_evaluation(model, loader, device, num_landmarks, input_size)

    cap = min(cfg.get("train_samples") or 1000, 1000)
    train, _ = build_dataset(cfg["dataset"], "train", num_samples=cap, limit=cap, **common)
    train_pts = np.concatenate([b["landmarks"].numpy() for b in torch.utils.data.DataLoader(
        train, batch_size=64, num_workers=args.workers)])
    baseline = metrics.MeanShapeBaseline().fit(train_pts)
    report, curves = evaluation_report(result, subsets_of(dataset), baseline.mean_shape_, args.threshold)
    report = {"checkpoint": str(args.checkpoint), "split": args.split, **report}

    out = Path(args.out or Path(args.checkpoint).parent)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results_{args.split}.json").write_text(json.dumps(report, indent=2))
    visualize.plot_ced(curves, out / f"ced_{args.split}.png", threshold=args.threshold,
                       title=f"CED, {cfg['dataset']} {args.split}")
    visualize.prediction_grid(result["images"], result["pred"][:len(result["images"])],
                              result["gt"][:len(result["images"])], out / f"predictions_{args.split}.png")
    print(f"{cfg['dataset']} {args.split}: {len(result['gt'])} images, NME normalised by the {report['normaliser']}",
          file=sys.stderr)
    print(format_report(report))
    print(f"written: {out}/results_{args.split}.json, ced_{args.split}.png, predictions_{args.split}.png")
    return report


if __name__ == "__main__":
    main()
