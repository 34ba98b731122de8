"""Outputs never replace inputs and never fail quietly: export and convert refuse to write over
what they read; detect checks --out against its input before it starts (a video overlay is a
video file, an image overlay an image file, a folder input a folder, in a writable place) and a
write that fails anyway is an error."""
import os

import cv2
import numpy as np
import pytest
import torch

from helpers.cli_runs import assert_one_line_error, run_cli
from helpers.released_fan import ReleasedFAN, randomise
from training import convert, detect, detect_inputs, export

BOX = ["--box", "10,10,40,40"]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / "face.png"), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    for _ in range(3):
        writer.write(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    writer.release()
    return root


def test_export_refuses_to_overwrite_its_checkpoint(model_checkpoint, tmp_path, capsys):
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(model_checkpoint.read_bytes())
    for out in (ckpt, tmp_path / "." / "best.pt"):
        code, _, err = run_cli(export.main, ["--checkpoint", ckpt, "--format", "torchscript", "--out", out], capsys)
        assert_one_line_error(code, err, "would overwrite the checkpoint")
    sidecar_victim = tmp_path / "model.pt.json"                     # --out model.pt writes model.pt.json
    sidecar_victim.write_bytes(model_checkpoint.read_bytes())
    code, _, err = run_cli(export.main, ["--checkpoint", sidecar_victim, "--format", "torchscript",
                                         "--out", tmp_path / "model.pt"], capsys)
    assert_one_line_error(code, err, "its sidecar")
    assert ckpt.read_bytes() == sidecar_victim.read_bytes() == model_checkpoint.read_bytes()


def test_convert_refuses_to_overwrite_its_input(tmp_path, capsys):
    src = tmp_path / "released.pth"
    torch.save(randomise(ReleasedFAN(1, 68, width=16, depth=1), seed=0).state_dict(), src)
    before = src.read_bytes()
    os.symlink(src, tmp_path / "link.pth")
    for dst in (src, tmp_path / "." / "released.pth", tmp_path / "link.pth"):
        code, _, err = run_cli(convert.main, [src, dst], capsys)
        assert_one_line_error(code, err, "would overwrite the released checkpoint")
    assert src.read_bytes() == before


def test_detect_checks_out_before_it_starts(model_checkpoint, media, tmp_path, capsys):
    ckpt = ["--checkpoint", model_checkpoint]
    cases = [
        (media / "clip.avi", tmp_path / "v.png", "the overlay of a video is a video: use .mp4 or .avi"),
        (media / "face.png", tmp_path, "is a folder; for a single image give an image file"),
        (media / "face.png", tmp_path / "o.avi", "not an image format OpenCV writes"),
        (media / "face.png", tmp_path / "o.xyz", "not an image format OpenCV writes"),
        (media / "face.png", media / "face.png" / "o.png", "is a file, not a folder"),
        (media, media / "face.png", "a folder input writes one overlay per image into a folder"),
    ]
    for source, out, message in cases:
        code, stdout, err = run_cli(detect.main, [source, *ckpt, *BOX, "--out", out], capsys)
        assert_one_line_error(code, err, message)
        assert stdout == ""        # refused before any prediction
    assert not (tmp_path / "v.png").exists() and not (tmp_path / "o.avi").exists()


def test_detect_write_failures_are_errors(model_checkpoint, media, tmp_path, capsys, monkeypatch):
    ckpt = ["--checkpoint", model_checkpoint]
    if os.geteuid() != 0:          # root writes into read-only folders anyway
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        code, _, err = run_cli(detect.main, [media / "face.png", *ckpt, *BOX, "--out", ro / "o.png"], capsys)
        assert_one_line_error(code, err, f"the folder {ro} is not writable")
    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)      # a full disk, say
    code, _, err = run_cli(detect.main, [media / "face.png", *ckpt, *BOX, "--out", tmp_path / "o.png"], capsys)
    line = assert_one_line_error(code, err, f"cannot write the overlay to {tmp_path / 'o.png'}")
    assert "extension" not in line

    class SilentWriter:            # a writer that accepts frames and writes nothing
        def write(self, frame):
            pass

        def release(self):
            pass
    monkeypatch.setattr(detect_inputs, "open_video_writer", lambda *a, **k: SilentWriter())
    code, _, err = run_cli(detect.main, [media / "clip.avi", *ckpt, *BOX, "--out", tmp_path / "v.mp4"], capsys)
    assert_one_line_error(code, err, "writing the overlay video", "failed")
