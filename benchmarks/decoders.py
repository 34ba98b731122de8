"""Decoder accuracy: how far each heatmap decoder (awing_ext.decode_heatmaps: quarter, taylor,
dark, integral; soft-argmax at beta 30 beside them) lands from the truth.

1. Rendered training targets (sigma 1 Gaussians on 64 px planes at random sub-pixel centres >= 6 px
   from the border): clean at peaks 1, 0.5 and 0.3, and with N(0, s^2) noise added. Error in
   heatmap pixels, mean over --points points, then mean and standard deviation over --seeds.
2. With --checkpoint: the model's test split decoded by each method (the same forward pass),
   NME / FR / AUC at 10 % beside the mean shape, the mean point error in crop pixels, and each
   method's NME minus dark's, paired by face, with its 95 % Student-t interval over the faces
   (one model: the spread is the faces', not the seeds').

    python -m benchmarks.decoders [--points 2000] [--seeds 0 1 2] [--checkpoint runs/<run>/best.pt]

Writes benchmarks/results/decoders.json (with the environment) and prints Markdown tables.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

import awing_ext

from .common import environment, markdown_table, write_json

METHODS = awing_ext.DECODE_METHODS + ("soft-argmax 30",)
CONDITIONS = [("peak 1", 1.0, 0.0), ("peak 0.5", 0.5, 0.0), ("peak 0.3", 0.3, 0.0),
              ("peak 1 + N(0, 0.03)", 1.0, 0.03), ("peak 1 + N(0, 0.1)", 1.0, 0.1)]


def decode(heat: torch.Tensor, method: str) -> torch.Tensor:
    if method == "soft-argmax 30":
        return awing_ext.soft_argmax(heat, 30.0)
    return awing_ext.decode_heatmaps(heat, method, sigma=1.0)[0]


def rendered_errors(points: int, seed: int, size: int = 64, margin: int = 6) -> dict:
    """{condition: {method: mean error in heatmap px}} for one seed."""
    g = torch.Generator().manual_seed(seed)
    truth = margin + torch.rand(points, 1, 2, generator=g, dtype=torch.float64) * (size - 1 - 2 * margin)
    clean = awing_ext.render_heatmaps(truth, size, 1.0, dtype=torch.float64)
    out = {}
    for name, peak, noise in CONDITIONS:
        heat = (peak * clean + noise * torch.randn(clean.shape, generator=g, dtype=torch.float64)).float()
        out[name] = {m: float((decode(heat, m).double() - truth).norm(dim=-1).mean()) for m in METHODS}
    return out


def rendered_table(points: int, seeds) -> tuple:
    runs = [rendered_errors(points, s) for s in seeds]
    rows, summary = [], {}
    for name, _, _ in CONDITIONS:
        summary[name] = {}
        cells = [name]
        for m in METHODS:
            values = np.array([r[name][m] for r in runs])
            summary[name][m] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
            cells.append(f"{values.mean():.4f} ± {summary[name][m]['std']:.4f}")
        rows.append(cells)
    return markdown_table(["targets (sigma 1, 64 px)"] + list(METHODS), rows), summary


def checkpoint_table(path: str, samples: int) -> tuple:
    """Each decoder on the model's test split (one forward pass, decoded four ways)."""
    from training.core.codec import HeatmapCodec
    from training.data.registry import build_dataset
    from training.core.codec import checkpoint_decoding
    from training.core.checkpoint import load_checkpoint
    from training.models.loading import load_model
    from training.eval import metrics
    from training.eval.protocol import evaluation_report, train_crop_landmarks
    from training.models.inputs import model_input
    from training.ablation.stats import paired_difference

    ckpt = load_checkpoint(path, map_location="cpu")
    cfg = ckpt["config"]
    model = load_model(ckpt, torch.device("cpu"), path).eval()
    s = model.config.input_size
    data, scheme = build_dataset(cfg["dataset"], "test", input_size=s, num_samples=samples or cfg.get("test_samples"),
                                 seed=cfg["seed"], data_root=cfg.get("data_root"))
    loader = torch.utils.data.DataLoader(data, batch_size=32)
    heat, gt, vis = [], [], []
    with torch.no_grad():
        for batch in loader:
            heat.append(model(model_input(batch["image"], model.config))[-1][:, :model.config.num_landmarks].float())
            gt.append(batch["landmarks"].numpy())
            vis.append(batch["visible"].numpy())
    heat, gt = torch.cat(heat), np.concatenate(gt)
    if checkpoint_decoding(ckpt, path)[0]:
        heat = torch.sigmoid(heat)
    baseline = metrics.MeanShapeBaseline().fit(train_crop_landmarks(cfg["dataset"], s, seed=cfg["seed"],
                                                                     data_root=cfg.get("data_root"),
                                                                     samples=cfg.get("train_samples"), limit=None,
                                                                     skip_bad=False, crop=cfg.get("crop", "landmarks")))
    codec = HeatmapCodec.for_model(model.config, scheme, cfg.get("sigma", 1.0))
    rows, summary, per_face = [], {}, {}
    for m in METHODS:
        pred = codec.heatmap_to_crop(decode(heat, m)).double().numpy()
        report, curves = evaluation_report({"pred": pred, "gt": gt, "visible": np.concatenate(vis)}, {},
                                           baseline.mean_shape_)
        per_face[m] = dict(enumerate(np.asarray(curves["model"], dtype=float).tolist()))
        r = report["results"]["model"]
        px = float(np.linalg.norm(pred - gt, axis=-1).mean())
        diff = paired_difference(per_face[m], per_face["dark"], lower_is_better=True) if m != "dark" else None
        summary[m] = {**r, "px_error": px, "nme_minus_dark": diff}
        vs_dark = "" if diff is None else f"{diff['mean'] * 100:+.3f} [{diff['ci_low'] * 100:+.3f}, {diff['ci_high'] * 100:+.3f}]"
        rows.append([m, f"{r['nme'] * 100:.3f}", vs_dark, f"{r['fr'] * 100:.2f}", f"{r['auc']:.4f}", f"{px:.3f}"])
    base = report["results"]["mean shape"]
    rows.append(["mean shape", f"{base['nme'] * 100:.3f}", "", f"{base['fr'] * 100:.2f}", f"{base['auc']:.4f}", ""])
    headers = ["decoder", "NME %", "NME − dark's (95 % CI over faces)", "FR@10 %", "AUC@10", "px error (crop)"]
    return markdown_table(headers, rows), summary, len(gt)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.decoders", description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=2000, help="rendered points per seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--checkpoint", default=None, help="also decode this model's test split every way")
    p.add_argument("--samples", type=int, default=None, help="test faces (default: the run's)")
    p.add_argument("--json", default="benchmarks/results/decoders.json")
    args = p.parse_args(argv)
    table, rendered = rendered_table(args.points, args.seeds)
    print(f"mean error in heatmap pixels (mean ± std over seeds {args.seeds}, {args.points} points each)\n")
    print(table)
    payload = {"environment": environment(), "points": args.points, "seeds": args.seeds, "rendered": rendered}
    if args.checkpoint:
        table, model, n = checkpoint_table(args.checkpoint, args.samples)
        print(f"\n{args.checkpoint}: test split, {n} faces\n")
        print(table)
        payload.update(checkpoint=args.checkpoint, test_faces=n, model=model)
    write_json(Path(args.json), payload)


if __name__ == "__main__":
    main()
