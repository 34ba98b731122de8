"""python -m training.convert: released AWing checkpoints -> awing checkpoints, checked against an
independent re-implementation of the released forward (tests/helpers/released_fan.py)."""
import json

import numpy as np
import pytest
import torch

from helpers.released_fan import ReleasedFAN, randomise
from training import convert, export
from training.core.cli import run
from training.core.checkpoint import load_checkpoint
from training.models.loading import load_model

TOL = 1e-5


def gate_half(model: ReleasedFAN, x: torch.Tensor) -> list:
    """Shifts each non-final stack's boundary bias so that about half of its boundary map is above
    the 0.05 gate and no pixel lies within 1e-5 x the map's scale of it (far above the two
    implementations' float rounding differences, ~1e-6 x scale): the gate is put in the middle of
    a gap of at least that width between neighbouring values near the median. Returns the
    fraction above the gate, per stack."""
    fractions = []
    with torch.no_grad():
        for i in range(model.num_modules - 1):
            values = model(x)[i][:, -1].flatten().sort().values
            margin = 1e-5 * max(1.0, values.abs().max().item())
            gaps = values[1:] - values[:-1]
            middle = len(values) // 2
            candidates = [j for j in sorted(range(len(gaps)), key=lambda j: abs(j - middle))[:len(gaps) // 4]
                          if gaps[j] > 2 * margin]
            assert candidates, "no gap in the boundary values near the median"
            j = candidates[0]
            model._modules[f"l{i}"].bias[-1] += 0.05 - (values[j] + values[j + 1]) / 2
            b = model(x)[i][:, -1]
            assert ((b - 0.05).abs() > margin).all()
            fractions.append(float((b > 0.05).float().mean()))
    return fractions


def unit_heads(model: ReleasedFAN, x: torch.Tensor) -> None:
    """Scales each stack's output head so its heatmaps are at most 1 in magnitude, as trained
    heatmaps are (random weights let them reach 1e4), and the next stack's merge inversely so the
    features downstream are unchanged: the parity tolerance then reads as an absolute one."""
    with torch.no_grad():
        for i in range(model.num_modules):
            scale = model(x)[i].abs().max().item()
            head = model._modules[f"l{i}"]
            head.weight /= scale
            head.bias /= scale
            if i < model.num_modules - 1:
                model._modules[f"al{i}"].weight *= scale


def released_model(stacks, points, width=32, depth=4, seed=0, end_relu=False):
    model = randomise(ReleasedFAN(stacks, points, width=width, depth=depth, end_relu=end_relu), seed)
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(seed + 1))
    unit_heads(model, x)  # (a positive scale commutes with end_relu's ReLU)
    fractions = gate_half(model, x)
    assert all(0.2 < f < 0.8 for f in fractions), fractions
    return model, x


def save_released(model, path, wrapped: bool):
    sd = model.state_dict()
    if wrapped:  # nn.DataParallel names inside {"state_dict": ...}
        sd = {"state_dict": {f"module.{k}": v for k, v in sd.items()}}
    torch.save(sd, path)


@pytest.mark.parametrize("stacks,points,wrapped", [(2, 68, False), (2, 98, True), (4, 68, True), (4, 98, False)])
def test_converted_model_matches_the_released_forward(tmp_path, stacks, points, wrapped):
    model, x = released_model(stacks, points)
    src, dst = tmp_path / "released.pth", tmp_path / "awing.pt"
    save_released(model, src, wrapped)
    assert convert.main([str(src), str(dst)]) == 0
    ckpt = load_checkpoint(dst)
    cfg = ckpt["model_config"]
    assert (cfg["num_stacks"], cfg["num_landmarks"], cfg["input_mean"], cfg["input_std"]) == (stacks, points, 0.0, 1.0)
    assert ckpt["config"]["dataset"] == {68: "300w", 98: "wflw"}[points]
    ours = load_model(ckpt, torch.device("cpu"))
    with torch.no_grad():
        expected, got = model(x), ours(x)
    assert len(got) == stacks
    for e, g in zip(expected, got):
        assert (e - g).abs().max().item() <= TOL * max(1.0, e.abs().max().item())


def test_paper_width_wflw_model(tmp_path):
    """The published model's size: 4 stacks, width 256, 98 points (24 M parameters)."""
    model, x = released_model(4, 98, width=256, seed=3)
    x = x[:1]
    src, dst = tmp_path / "WFLW_4HG.pth", tmp_path / "awing.pt"
    save_released(model, src, wrapped=True)
    convert.convert(src, dst)
    ours = load_model(load_checkpoint(dst), torch.device("cpu"))
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        e, g = model(x)[-1], ours(x)[-1]
    assert (e - g).abs().max().item() <= TOL * max(1.0, e.abs().max().item())


def test_the_coordinate_swap_is_what_makes_them_agree(tmp_path):
    """Control: leaving the boundary-masked pair in the released order gives a visibly different
    output (the gating makes that pair matter), so the parity test would catch a wrong order."""
    model, x = released_model(2, 68, seed=5)
    cfg, state = convert.convert_state_dict(model.state_dict())
    w = state["stacks.1.entry.conv.weight"]
    k = cfg.width
    state["stacks.1.entry.conv.weight"] = w[:, list(range(k + 3)) + [k + 4, k + 3]]
    from training.models import build_model
    ours = build_model(cfg)
    ours.load_state_dict(state)
    ours.eval()
    with torch.no_grad():
        assert (model(x)[-1] - ours(x)[-1]).abs().max().item() > 1e-3


def test_end_relu_option(tmp_path):
    model, x = released_model(2, 68, seed=7, end_relu=True)
    src, dst = tmp_path / "r.pth", tmp_path / "a.pt"
    save_released(model, src, wrapped=False)
    convert.convert(src, dst, end_relu=True)
    ours = load_model(load_checkpoint(dst), torch.device("cpu"))
    with torch.no_grad():
        e, g = model(x)[-1], ours(x)[-1]
    assert g.min().item() >= 0
    assert (e - g).abs().max().item() <= TOL * max(1.0, e.abs().max().item())


def test_old_checkpoints_without_batchnorm_counters(tmp_path):
    model, x = released_model(2, 68, seed=9)
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    cfg, state = convert.convert_state_dict(sd)
    assert cfg.num_stacks == 2


def test_convert_then_export_reproduces_the_released_heatmaps(tmp_path):
    """Done-when of the issue: convert -> export (TorchScript) -> the exported model fed
    (pixel/255 - mean)/std with the sidecar's mean and std gives the released last-stack heatmaps."""
    model, _ = released_model(2, 98, seed=11)
    src, dst = tmp_path / "r.pth", tmp_path / "awing.pt"
    save_released(model, src, wrapped=True)
    convert.convert(src, dst)
    out = tmp_path / "model.pt"
    assert export.main(["--checkpoint", str(dst), "--format", "torchscript", "--out", str(out)]) == 0
    side = json.loads(out.with_suffix(".pt.json").read_text())
    norm = side["input"]["normalisation"]
    pixels = torch.randint(0, 256, (2, 3, 256, 256), generator=torch.Generator().manual_seed(12), dtype=torch.uint8)
    inputs = (pixels.float() / 255 - norm["mean"]) / norm["std"]
    exported = torch.jit.load(str(out))
    with torch.no_grad():
        expected = model(pixels.float() / 255)[-1]
        got = exported(inputs)
    assert (norm["mean"], norm["std"]) == (0.0, 1.0)
    assert (expected - got).abs().max().item() <= 1e-4 * max(1.0, expected.abs().max().item())


# ------------------------------------------------------------------------------- bad inputs
def test_missing_file(tmp_path, capsys):
    assert run(convert.main, [str(tmp_path / "none.pth"), str(tmp_path / "out.pt")]) == 2
    assert "released checkpoint not found" in capsys.readouterr().err


def test_not_a_checkpoint(tmp_path, capsys):
    bad = tmp_path / "junk.pth"
    bad.write_bytes(b"not a zip file at all")
    assert run(convert.main, [str(bad), str(tmp_path / "out.pt")]) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_other_models_state_dict(tmp_path, capsys):
    src = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2), "fc.bias": torch.zeros(2)}, src)
    assert run(convert.main, [str(src), str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert "not a released AWing FAN checkpoint" in err and "conv1.conv.weight" in err


def test_missing_and_misshapen_tensors(tmp_path):
    model, _ = released_model(2, 68, seed=13)
    sd = model.state_dict()
    missing = {k: v for k, v in sd.items() if not k.startswith("top_m_1.")}
    with pytest.raises(convert.ReleasedCheckpointError, match=r"missing \['top_m_1\.bn1\.weight'"):
        convert.convert_state_dict(missing)
    extra = dict(sd, **{"m0.extra.weight": torch.zeros(1)})
    with pytest.raises(convert.ReleasedCheckpointError, match=r"unexpected \['m0\.extra\.weight'\]"):
        convert.convert_state_dict(extra)
    bad = dict(sd)
    bad["conv_last1.weight"] = torch.zeros(8, 8, 1, 1)
    with pytest.raises(convert.ReleasedCheckpointError, match=r"conv_last1\.weight has shape \(8, 8, 1, 1\)"):
        convert.convert_state_dict(bad)
    with pytest.raises(convert.ReleasedCheckpointError, match="expected a state_dict"):
        convert.released_state_dict([1, 2, 3])


def test_evaluate_and_detect_take_a_converted_checkpoint(tmp_path, capsys):
    """The converted checkpoint records the dataset its points follow (68 -> 300w): evaluate runs on
    a 300W tree with the released input normalisation; detect reads it too."""
    import cv2
    from helpers.datasets import write_300w_tree
    from training import detect, evaluate
    model, _ = released_model(2, 68, width=16, depth=2, seed=17)
    src, dst = tmp_path / "r.pth", tmp_path / "awing.pt"
    save_released(model, src, wrapped=False)
    convert.convert(src, dst)
    root = tmp_path / "300W"
    write_300w_tree(root, per_folder=2)
    report = evaluate.main(["--checkpoint", str(dst), "--data-root", str(root), "--workers", "0",
                            "--out", str(tmp_path / "eval")])
    assert report["samples"] > 0 and np.isfinite(report["results"]["model"]["nme"])
    assert (tmp_path / "eval" / "results_test.json").exists()
    image = next(root.rglob("*.jpg"))
    h, w = cv2.imread(str(image)).shape[:2]
    assert detect.main([str(image), "--checkpoint", str(dst), "--box", f"0,0,{w - 1},{h - 1}"]) == 0
    faces = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["faces"]
    assert len(faces[0]["landmarks"]) == 68


def test_the_converted_checkpoint_stores_its_scheme(tmp_path, capsys):
    """The built-in scheme of the landmark count by default; --scheme names the points of a model
    trained on one's own (its count must be the model's)."""
    from awing_ext import SCHEMES
    from training.core.checkpoint import checkpoint_scheme
    src = tmp_path / "released.pth"
    torch.save(randomise(ReleasedFAN(1, 68, width=16, depth=2), seed=0).state_dict(), src)
    assert checkpoint_scheme(convert.convert(src, tmp_path / "a.pt"), "a.pt") == SCHEMES["68"]
    scheme = tmp_path / "mine.toml"
    scheme.write_text('name = "mine68"\npoints = [' + ", ".join(f'"p{i}"' for i in range(68)) + "]\n")
    assert run(convert.main, [str(src), str(tmp_path / "b.pt"), "--scheme", str(scheme)]) == 0
    assert load_checkpoint(tmp_path / "b.pt")["scheme"]["name"] == "mine68"
    assert run(convert.main, [str(src), str(tmp_path / "c.pt"), "--scheme", "98"]) == 2
    assert "the scheme '98' has 98 points, the released model predicts 68" in capsys.readouterr().err
