"""Bad data is a data error naming the file (or, with --skip-bad, skipped and counted): landmarks
far outside their image, WFLW image paths that leave the data root, a truncated JPEG read by a
worker (one line, not the worker's traceback), and evaluate --skip-bad on a user's folder."""
import json
from pathlib import Path

import numpy as np
import pytest

from helpers.cli_runs import TINY, assert_one_line_error, run_cli
from helpers.datasets import write_cofw_mat, write_folder, write_image, write_wflw_tree
from training import evaluate, train
from training.data import base
from training.data.cofw import COFW
from training.data.folder import FolderDataset
from training.data.io import DataError, read_pts, write_pts
from training.data.wflw import WFLW


# ---------------------------------------------------------------------------------------- far-away points
def test_points_far_outside_the_image_are_a_data_error(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    write_folder(root, n=12)                                   # 48 x 40 images
    far = root / "face_003.pts"
    write_pts(far, read_pts(far) + 1e6)
    near = root / "face_004.pts"                               # a face cut by the border: fine
    write_pts(near, read_pts(near) - np.array([30.0, 0.0], np.float32))
    with pytest.raises(DataError, match=r"face_003\.pts: landmark 0 at .* more than the image size outside "
                                        r"the 48x40 image"):
        FolderDataset(root, "all")
    ds = FolderDataset(root, "all", skip_bad=True)
    assert len(ds) == 11 and [Path(f).name for f, _ in ds.skipped] == ["face_003.pts"]

    # an image whose size the header does not give: checked when it is decoded
    monkeypatch.setattr(base, "image_size_from_header", lambda path: None)
    ds = FolderDataset(root, "all")
    index = next(i for i, r in enumerate(ds.records) if r.key == "face_003.pts")
    with pytest.raises(DataError, match="face_003.pts: landmark 0"):
        ds[index]


def test_cofw_points_far_outside_the_image(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(4)]
    landmarks = rng.uniform(5, 35, (4, 29, 2))
    landmarks[2, 7] = [-1e6, 10.0]
    boxes = np.tile([5.0, 5.0, 30.0, 30.0], (4, 1))
    write_cofw_mat(tmp_path / "COFW_test_color.mat", "test", images, landmarks, np.zeros((4, 29)), boxes, version="5")
    with pytest.raises(DataError, match=r"#2: landmark 7 at \(-1e\+06"):
        COFW(tmp_path, "test")
    assert len(COFW(tmp_path, "test", skip_bad=True)) == 3


# ---------------------------------------------------------------------------------------- WFLW paths
@pytest.mark.parametrize("path", ["../../outside.jpg", "0--Event/../../../outside.jpg", "/etc/outside.jpg"])
def test_wflw_image_paths_outside_the_data_root_are_refused(tmp_path, path):
    root = tmp_path / "wflw"
    write_wflw_tree(root, {"test": [[0] * 6] * 3})
    write_image(tmp_path / "outside.jpg", np.random.default_rng(1), 56, 44)
    ann = root / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt"
    lines = ann.read_text().splitlines()
    lines[1] = " ".join(lines[1].split()[:-1] + [path])
    ann.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=f"{ann.name}, line 2: image path '{path}' leads outside the data root"):
        WFLW(root, "test")
    ds = WFLW(root, "test", skip_bad=True)
    assert len(ds) == 2 and len(ds.skipped) == 1
    assert all(Path(r.image).resolve().is_relative_to(root.resolve()) for r in ds.records)


# ---------------------------------------------------------------------------------------- worker errors
def test_a_truncated_jpeg_read_by_a_worker_is_one_line(tmp_path, capsys):
    root = tmp_path / "photos"
    write_folder(root, n=20)
    victim = Path(FolderDataset(root, "train-val").records[0].image)   # the first epoch reads every one
    write_image(victim, np.random.default_rng(5), 200, 200)
    victim.write_bytes(victim.read_bytes()[:1500])                       # passes the header check
    argv = TINY + ["--dataset", "folder", "--data-root", root, "--workers", "1", "--batch-size", "1",
                   "--epochs", "1", "--out", tmp_path / "run"]
    code, _, err = run_cli(train.main, argv, capsys)
    line = assert_one_line_error(code, err, str(victim), "truncated")
    assert "Caught" not in line and "DataError:" not in line
    code, _, err = run_cli(train.main, argv + ["--skip-bad", "--overwrite"], capsys)   # skipped, as before
    assert code == 0, err[-3000:]


# ---------------------------------------------------------------------------------------- evaluate --skip-bad
def test_evaluate_skip_bad_on_a_users_folder(model_checkpoint, tmp_path, capsys):
    root = tmp_path / "photos"
    write_folder(root, n=12)
    write_pts(root / "tongue.pts", np.random.default_rng(0).uniform(5, 30, (19, 2)))
    write_image(root / "tongue.jpg", np.random.default_rng(0))
    argv = ["--checkpoint", model_checkpoint, "--dataset", "folder", "--data-root", root, "--split", "all",
            "--workers", "0", "--out", tmp_path / "eval"]
    code, _, err = run_cli(evaluate.main, argv, capsys)
    assert_one_line_error(code, err, "tongue.pts has 19 points")
    code, _, err = run_cli(evaluate.main, argv + ["--skip-bad"], capsys)
    assert code == 0, err[-3000:]
    assert "12 images" in err and "1 bad file(s) skipped" in err and "tongue.pts" in err
    report = json.loads((tmp_path / "eval" / "results_all.json").read_text())
    assert report["samples"] == 12 and report["skipped"] == 1
    assert report["skipped_files"][0]["file"] == "tongue.pts" and "19 points" in report["skipped_files"][0]["reason"]
