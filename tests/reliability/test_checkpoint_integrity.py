"""Checkpoints prove their integrity: a digest of their tensors, verified by the one load function
every command uses (flipped bytes inside the weights are refused, naming the file); old
checkpoints without a digest still load; weights with NaN/inf are refused by evaluate, detect,
export and the Predictor with one line; detect's output is strict JSON."""
import json
import shutil
import struct
import zipfile

import cv2
import numpy as np
import pytest
import torch

from helpers.cli_runs import assert_one_line_error, run_cli
from training import detect, evaluate, export
from training.infer import predictor as predict
from training.core.checkpoint import DIGEST_KEY, load_checkpoint, save_checkpoint, tensor_digest
from training.models import build_model


def flip_weight_bytes(src, dst, count=64):
    """A copy of checkpoint `src` with `count` bytes inverted inside its largest tensor."""
    shutil.copy(src, dst)
    with zipfile.ZipFile(dst) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(dst.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
    for k in range(count):
        data[start + k] ^= 0xFF
    dst.write_bytes(bytes(data))


def test_flipped_bytes_are_refused_naming_the_file(model_checkpoint, tmp_path, capsys):
    state = load_checkpoint(model_checkpoint)
    assert state[DIGEST_KEY]["tensors"] == tensor_digest(state)
    bad = tmp_path / "flipped.pt"
    flip_weight_bytes(model_checkpoint, bad)
    try:
        torch.load(bad, weights_only=True)   # torch itself notices nothing (torch 2.x: no CRC check)
        expected = f"checkpoint {bad} is corrupt: its tensors do not match the SHA-256"
    except Exception:                        # a torch that checks its zip records refuses it first
        expected = f"checkpoint {bad} is corrupt"
    with pytest.raises(RuntimeError, match=expected):
        load_checkpoint(bad)
    code, _, err = run_cli(evaluate.main, ["--checkpoint", bad, "--workers", "0", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, str(bad), "is corrupt")
    with pytest.raises(RuntimeError, match="is corrupt"):
        predict.Predictor.from_checkpoint(bad, "cpu")


def test_checkpoints_without_a_digest_still_load(tmp_path):
    model = build_model("tiny")
    old = {"model": model.state_dict(), "model_config": dict(vars(model.config)), "config": {"dataset": "synthetic"}}
    torch.save(old, tmp_path / "old.pt")                   # as written before the digest existed
    assert DIGEST_KEY not in load_checkpoint(tmp_path / "old.pt")
    predict.Predictor.from_checkpoint(tmp_path / "old.pt", "cpu")


def test_the_digest_covers_every_tensor_and_its_place():
    a = {"model": {"w": torch.arange(4.0), "b": torch.zeros(2)}, "optimizer": {"state": {0: {"m": torch.ones(3)}}}}
    b = {"model": {"w": torch.arange(4.0), "b": torch.zeros(2)}, "optimizer": {"state": {0: {"m": torch.ones(3)}}}}
    assert tensor_digest(a) == tensor_digest(b)
    b["optimizer"]["state"][0]["m"][1] = 2.0
    assert tensor_digest(a) != tensor_digest(b)
    c = {"model": {"b": torch.arange(4.0), "w": torch.zeros(2)}, "optimizer": a["optimizer"]}
    assert tensor_digest(a) != tensor_digest(c)   # swapped names, same bytes
    assert tensor_digest({**a, "x": torch.tensor(1.0, dtype=torch.bfloat16)}) != tensor_digest(a)


@pytest.fixture(scope="module")
def nan_checkpoint(tmp_path_factory):
    """A well-formed checkpoint (valid digest) whose weights hold NaN."""
    torch.manual_seed(0)
    model = build_model("tiny")
    state = model.state_dict()
    next(v for v in state.values() if v.is_floating_point()).view(-1)[:5] = float("nan")
    path = tmp_path_factory.mktemp("nan") / "nan.pt"
    save_checkpoint({"model": state, "model_config": dict(vars(model.config)),
                     "config": {"dataset": "synthetic", "seed": 0, "test_samples": 8}}, path)
    return path


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "face.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8))
    return path


def test_non_finite_weights_are_refused_everywhere(nan_checkpoint, photo, tmp_path, capsys):
    code, _, err = run_cli(evaluate.main, ["--checkpoint", nan_checkpoint, "--workers", "0", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, str(nan_checkpoint), "weights are not finite")
    code, out, err = run_cli(detect.main, [photo, "--checkpoint", nan_checkpoint, "--box", "10,10,50,50"], capsys)
    assert_one_line_error(code, err, str(nan_checkpoint), "weights are not finite")
    assert out == ""
    code, _, err = run_cli(export.main, ["--checkpoint", nan_checkpoint, "--format", "torchscript",
                                         "--out", tmp_path / "m.pt"], capsys)
    assert_one_line_error(code, err, "weights are not finite")
    assert not (tmp_path / "m.pt").exists()
    with pytest.raises(ValueError, match="weights are not finite"):
        predict.Predictor.from_checkpoint(nan_checkpoint, "cpu")
    model = build_model("tiny")
    with torch.no_grad():
        next(model.parameters()).fill_(float("inf"))
    with pytest.raises(ValueError, match="Predictor: the model's weights are not finite"):
        predict.Predictor(model)


def _strict_loads(line):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    return json.loads(line, parse_constant=refuse)


def test_detect_output_is_strict_json(model_checkpoint, photo, capsys, monkeypatch):
    def nan_landmarks(model, crops, codec, flip_permutation=None, channels_last=False):
        k = model.config.num_landmarks
        n = crops.shape[0]
        return torch.full((n, k, 2), float("nan")), torch.full((n, k), float("nan"))
    monkeypatch.setattr(predict, "crop_landmarks", nan_landmarks)
    code, out, err = run_cli(detect.main, [photo, "--checkpoint", model_checkpoint, "--box", "10,10,50,50"], capsys)
    assert code == 0, err
    record = _strict_loads(out.strip())
    face = record["faces"][0]
    assert face["scores"][0] is None and face["landmarks"][0] == [None, None]
