"""Dataset I/O and the 300W / plain-folder loaders on tiny fixture trees in the real formats;
build_dataset, subsets_of, and real photos with .pts files when AWING_FACES68 names a folder of them."""
import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from helpers.datasets import write_300w_tree, write_folder, write_image
from training.data.io import DataError, load_image_rgb, read_pts, write_pts
from training.data.transforms import AugmentConfig, CropAndAugment
from training.data.registry import DATASETS, build_base, build_dataset, subsets_of

FACES68 = Path(os.environ.get("AWING_FACES68", "")) if os.environ.get("AWING_FACES68") else Path("/nonexistent")


def _raw(name, split, root, **kw):
    ds, scheme = build_dataset(name, split, input_size=32, data_root=str(root), **kw)
    return ds.base, scheme


# ------------------------------------------------------------------------------------- io: images
def test_load_image_colour_order_and_formats(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    cv2.imwrite(str(tmp_path / "c.png"), rgb[:, :, ::-1])
    np.testing.assert_array_equal(load_image_rgb(tmp_path / "c.png"), rgb)

    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 10
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    np.testing.assert_array_equal(load_image_rgb(tmp_path / "g.png"), np.repeat(grey[..., None], 3, 2))

    bgra = np.dstack([rgb[:, :, ::-1], np.full((4, 5), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    np.testing.assert_array_equal(load_image_rgb(tmp_path / "a.png"), rgb)

    g16 = (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    out = load_image_rgb(tmp_path / "g16.png")
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out[..., 1], np.round(g16 / 65535 * 255).astype(np.uint8))

    c16 = np.dstack([np.full((4, 5), 65535, np.uint16), np.zeros((4, 5), np.uint16), np.full((4, 5), 257 * 100, np.uint16)])
    cv2.imwrite(str(tmp_path / "c16.png"), c16)          # BGR on disk
    np.testing.assert_array_equal(load_image_rgb(tmp_path / "c16.png")[0, 0], [100, 0, 255])

    ga = np.dstack([grey, np.full((4, 5), 255, np.uint8)])   # grey + alpha (PNG type 4)
    from training.data.io import to_rgb_uint8
    np.testing.assert_array_equal(to_rgb_uint8(ga), np.repeat(grey[..., None], 3, 2))


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found.*missing.jpg"):
        load_image_rgb(tmp_path / "missing.jpg")
    (tmp_path / "junk.jpg").write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(DataError, match="junk.jpg") as info:
        load_image_rgb(tmp_path / "junk.jpg")
    assert info.value.file.endswith("junk.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="empty.*empty.png"):
        load_image_rgb(tmp_path / "empty.png")
    with pytest.raises(DataError, match="not a file"):
        load_image_rgb(tmp_path)


# ------------------------------------------------------------------------------------- io: .pts
def test_pts_round_trip_is_zero_based(tmp_path):
    pts = np.array([[0.0, 0.0], [10.5, 3.25], [99.125, 7.0]], np.float32)
    write_pts(tmp_path / "a.pts", pts)
    text = (tmp_path / "a.pts").read_text().splitlines()
    assert text[:3] == ["version: 1", "n_points:  3", "{"] and text[3] == "1.000 1.000" and text[-1] == "}"
    np.testing.assert_array_equal(read_pts(tmp_path / "a.pts"), pts)
    assert read_pts(tmp_path / "a.pts").dtype == np.float32


@pytest.mark.parametrize("body, message", [
    ("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n", r"line 6: n_points = 3 but 2 point lines"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 4\n5 6\n}\n", r"line 6: more point lines"),
    ("version: 1\nn_points: 2\n1 2\n3 4\n", r"line 3: expected 'key: value'"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 4\n", r"missing closing"),
    ("version: 1\nn_points: 2\n{\n1 2\nthree 4\n}\n", r"line 5: non-numeric"),
    ("version: 1\nn_points: 2\n{\n1 2 3\n3 4\n}\n", r"line 4: expected two numbers"),
    ("version: 1\nn_points: two\n{\n}\n", r"line 2: n_points is not an integer"),
    ("version: 1\n{\n1 2\n}\n", r"missing 'n_points"),
    ("version: 1\nn_points: 1\n{\n1 2\n}\nextra\n", r"line 6: unexpected text"),
    ("version: 1\nn_points: 1\n{\nnan 2\n}\n", r"line 4: non-finite"),
    ("", r"missing '\{'"),
])
def test_malformed_pts_errors_name_file_and_line(tmp_path, body, message):
    path = tmp_path / "bad.pts"
    path.write_text(body)
    with pytest.raises(DataError, match=message) as info:
        read_pts(path)
    assert str(path) in str(info.value)


def test_pts_wrong_count_for_scheme(tmp_path):
    write_pts(tmp_path / "a.pts", np.zeros((5, 2)))
    with pytest.raises(DataError, match=r"a.pts.*expected 68 points, n_points says 5"):
        read_pts(tmp_path / "a.pts", 68)
    with pytest.raises(DataError, match="annotation file not found"):
        read_pts(tmp_path / "b.pts")


# ------------------------------------------------------------------------------------- 300W
@pytest.fixture
def tree300w(tmp_path):
    root = tmp_path / "300w"
    return root, write_300w_tree(root, per_folder=2)


def test_300w_splits_subsets_and_zero_based_landmarks(tree300w):
    root, written = tree300w
    train, scheme = _raw("300w", "train", root)
    assert scheme == "68" and len(train) == 6 and {s["subset"] for s in (train[i] for i in range(6))} == {"train"}
    assert sorted(r.source for r in train.records) == ["afw"] * 2 + ["helen"] * 2 + ["lfpw"] * 2
    test, _ = _raw("300w", "test", root)
    assert len(test) == 6 and test.subset_labels.count("common") == 4 and test.subset_labels.count("challenging") == 2
    masks = subsets_of(test)
    assert list(masks) == ["common", "challenging", "full"]
    assert masks["common"].sum() == 4 and masks["challenging"].sum() == 2 and masks["full"].all()
    np.testing.assert_array_equal(masks["challenging"], [s == "challenging" for s in test.subset_labels])
    for split, n in (("full", 6), ("common", 4), ("challenging", 2), ("private", 4)):
        assert len(_raw("300w", split, root)[0]) == n, split
    private, _ = _raw("300w", "private", root)
    assert list(subsets_of(private)) == ["indoor", "outdoor", "private"]
    assert list(subsets_of(train)) == ["all"] and subsets_of(train)["all"].all()
    # every sample: RGB uint8 image, the written 0-based points, all visible
    for ds in (train, test, private):
        for i in range(len(ds)):
            s = ds[i]
            rel = Path(s["path"]).relative_to(root)
            assert s["image"].dtype == np.uint8 and s["image"].shape == (40, 48, 3)
            key = next(k for k in written if Path(k).parent == rel.parent and
                       np.array_equal(written[k], s["landmarks"]))
            assert key is not None and s["landmarks"].dtype == np.float32
            assert s["visible"].tolist() == [1.0] * 68 and "box" not in s


def test_300w_afw_several_faces_share_one_image(tree300w):
    root, _ = tree300w
    train, _ = _raw("300w", "train", root)
    afw = [r for r in train.records if r.source == "afw"]
    assert [Path(r.image).name for r in afw] == ["afw_0.jpg", "afw_0.jpg"]
    assert [r.key for r in afw] == ["afw/afw_0_1.pts", "afw/afw_0_2.pts"]


def test_300w_val_is_a_fixed_part_of_train(tmp_path):
    root = tmp_path / "w"
    write_300w_tree(root, per_folder=20)
    train, _ = _raw("300w", "train", root)
    val, _ = _raw("300w", "val", root)
    rest, _ = _raw("300w", "train-val", root)
    keys = lambda d: {r.key for r in d.records}  # noqa: E731
    assert len(train) == 60 and len(val) + len(rest) == 60 and len(val) > 0
    assert keys(val) | keys(rest) == keys(train) and not keys(val) & keys(rest)
    assert keys(val) == keys(_raw("300w", "val", root)[0])


def test_300w_layout_errors_name_what_is_missing(tree300w, tmp_path):
    root, _ = tree300w
    with pytest.raises(ValueError, match="needs data_root"):
        build_dataset("300w", "train", input_size=32)
    with pytest.raises(DataError, match="data root not found.*nowhere"):
        build_dataset("300w", "train", input_size=32, data_root=str(tmp_path / "nowhere"))
    shutil.rmtree(root / "ibug")
    assert len(_raw("300w", "train", root)[0]) == 6          # train does not need ibug
    with pytest.raises(DataError, match=r"folder not found: .*ibug"):
        _raw("300w", "test", root)
    shutil.rmtree(root / "300W")
    with pytest.raises(DataError, match=r"01_Indoor"):
        _raw("300w", "private", root)
    with pytest.raises(ValueError, match="unknown split"):
        _raw("300w", "nope", root)
    with pytest.raises(ValueError, match="unknown dataset"):
        build_dataset("300vw", "train", input_size=32, data_root=str(root))


def test_300w_bad_files_raise_naming_them_or_are_skipped(tree300w, caplog):
    root, _ = tree300w
    lfpw, helen = root / "lfpw" / "trainset", root / "helen" / "trainset"
    good = (helen / "helen_trainset_0.pts").read_text()
    (helen / "helen_trainset_0.pts").write_text("version: 1\nn_points: 68\n{\n1 2\n}\n")   # malformed .pts
    with pytest.raises(DataError, match=r"helen_trainset_0.pts, line 5: n_points = 68 but 1 point lines"):
        _raw("300w", "train", root)
    (helen / "helen_trainset_0.pts").write_text(good)
    (lfpw / "lfpw_trainset_0.jpg").unlink()                                    # missing image
    with pytest.raises(DataError, match=r"no image for annotation .*lfpw_trainset_0.pts"):
        _raw("300w", "train", root)
    (lfpw / "lfpw_trainset_0.pts").unlink()
    (lfpw / "lfpw_trainset_1.png").write_bytes(b"\x00garbage" * 50)            # corrupt image
    with pytest.raises(DataError, match=r"corrupt .*lfpw_trainset_1.png"):
        _raw("300w", "train", root)
    (helen / "helen_trainset_1.pts").write_text("junk\n")
    with caplog.at_level(logging.WARNING, logger="awing.data"):
        ds, _ = _raw("300w", "train", root, skip_bad=True)
    assert len(ds) == 3 and len(ds.skipped) == 2                  # helen_1 (.pts) and lfpw_1 (image)
    assert {Path(f).name for f, _ in ds.skipped} == {"helen_trainset_1.pts", "lfpw_trainset_1.png"}
    assert "lfpw_trainset_1.png" in caplog.text and "skipped 2 bad sample(s)" in caplog.text


def test_truncated_image_found_at_read_time(tree300w, caplog):
    root, _ = tree300w
    path = root / "ibug" / "ibug_0.jpg"
    path.write_bytes(path.read_bytes()[:40])                       # valid JPEG signature, truncated
    test, _ = _raw("300w", "challenging", root)
    with pytest.raises(DataError, match="ibug_0.jpg"):
        test[0]
    skipping, _ = _raw("300w", "challenging", root, skip_bad=True)
    with caplog.at_level(logging.WARNING, logger="awing.data"):
        s = skipping[0]
    assert Path(s["path"]).name == "ibug_1.png" and skipping.runtime_skipped == 1 and "ibug_0.jpg" in caplog.text


def test_build_dataset_crops_batches_and_passes_metadata(tree300w):
    root, _ = tree300w
    ds, scheme = build_dataset("300w", "test", input_size=32, data_root=str(root), augment=AugmentConfig())
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=6)))
    assert batch["image"].shape == (6, 3, 32, 32) and batch["image"].dtype == torch.uint8
    assert batch["landmarks"].shape == (6, 68, 2) and batch["visible"].shape == (6, 68)
    assert batch["subset"] == ["common"] * 4 + ["challenging"] * 2 and len(batch["path"]) == 6
    assert batch["index"].tolist() == list(range(6))
    plain, _ = build_dataset("300w", "test", input_size=32, data_root=str(root))
    lm = plain[0]["landmarks"]                                     # landmarks' box x 1.25, centred
    span = (lm.max(0) - lm.min(0)).max()
    assert span == pytest.approx(32 / 1.25, rel=1e-4)
    assert len(build_dataset("300w", "train", input_size=32, data_root=str(root), limit=2)[0]) == 2
    assert len(build_dataset("300w", "train", input_size=32, data_root=str(root), num_samples=1)[0]) == 6


def test_synthetic_unchanged():
    assert DATASETS[0] == "synthetic"
    ds, scheme = build_dataset("synthetic", "val", input_size=32, num_samples=3)
    item = ds[1]
    assert scheme == "68" and len(ds) == 3 and set(item) == {"image", "landmarks", "visible", "matrix", "index"}
    assert list(subsets_of(ds)) == ["all"] and subsets_of(ds)["all"].tolist() == [True] * 3
    sub = torch.utils.data.Subset(ds, [0, 2])
    assert subsets_of(sub)["all"].tolist() == [True, True]


# ------------------------------------------------------------------------------------- folder
def test_folder_loader_splits_schemes_and_image_modes(tmp_path):
    root = tmp_path / "mine"
    written = write_folder(root, n=20)
    all_, scheme = _raw("folder", "all", root)
    assert scheme == "68" and len(all_) == 20 and list(subsets_of(all_)) == ["all"]
    np.testing.assert_array_equal(all_[3]["landmarks"], written["face_003.pts"])
    test, _ = _raw("folder", "test", root)
    train, _ = _raw("folder", "train", root)
    assert [Path(p).name for p in test.paths] == ["face_009.jpg", "face_019.jpg"] and len(train) == 18
    # grey, RGBA and 16-bit PNGs load as RGB
    rng = np.random.default_rng(1)
    sub = root / "sub"
    sub.mkdir()
    grey = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    cv2.imwrite(str(sub / "grey.png"), grey)
    cv2.imwrite(str(sub / "rgba.png"), np.dstack([grey, grey, grey, np.zeros_like(grey)]))
    cv2.imwrite(str(sub / "deep.png"), grey.astype(np.uint16) * 257)
    for name in ("grey", "rgba", "deep"):
        write_pts(sub / f"{name}.pts", np.full((68, 2), 5.0))
    all_, _ = _raw("folder", "all", root)
    got = {Path(p).stem: all_[i]["image"] for i, p in enumerate(all_.paths) if "sub" in p}
    assert sorted(got) == ["deep", "grey", "rgba"]
    for img in got.values():
        assert img.dtype == np.uint8 and img.shape == (40, 48, 3)
        np.testing.assert_array_equal(img, np.repeat(grey[..., None], 3, 2))


def test_folder_scheme_detection_and_errors(tmp_path):
    write_folder(tmp_path / "w98", n=2, k=98)
    assert _raw("folder", "all", tmp_path / "w98")[1] == "98"
    write_folder(tmp_path / "odd", n=2, k=5)
    with pytest.raises(DataError, match=r"has 68, 98 or 29 points \(the supported schemes\); the files have 5 \(2 files\)"):
        _raw("folder", "all", tmp_path / "odd")
    write_folder(tmp_path / "mix", n=2)
    write_pts(tmp_path / "mix" / "face_001.pts", np.zeros((98, 2)))
    with pytest.raises(DataError, match="face_001.pts has 98 points, the folder's scheme has 68"):
        _raw("folder", "all", tmp_path / "mix")
    # --skip-bad: one 19-point file among 68-point ones is skipped and counted, not fatal
    write_folder(tmp_path / "one_odd", n=3)
    write_pts(tmp_path / "one_odd" / "face_001.pts", np.zeros((19, 2)))
    ds = build_base("folder", "all", tmp_path / "one_odd", skip_bad=True)
    assert len(ds) == 2 and ds.scheme == "68" and len(ds.skipped) == 1 and "19 points" in ds.skipped[0][1]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .pts annotation files"):
        _raw("folder", "all", tmp_path / "empty")
    write_image(tmp_path / "noann" / "x.jpg", np.random.default_rng(0))
    with pytest.raises(DataError, match="noann"):
        _raw("folder", "all", tmp_path / "noann")


@pytest.mark.skipif(not FACES68.is_dir(), reason="set AWING_FACES68 to a folder of real photos with .pts files")
def test_faces68_through_folder_loader_and_crop():
    ds, scheme = _raw("folder", "all", FACES68)
    assert scheme == "68" and len(ds) == 15
    crop = CropAndAugment(64, None)
    for i in range(len(ds)):
        s = ds[i]
        h, w = s["image"].shape[:2]
        assert s["image"].dtype == np.uint8 and s["image"].ndim == 3 and s["image"].shape[2] == 3
        # dlib's points may leave the photo a little (jaw on a cropped face), not far
        assert (s["landmarks"] > -0.1 * max(w, h)).all() and (s["landmarks"] < 1.1 * max(w, h)).all()
        out = crop(s)
        assert out["image"].shape == (3, 64, 64)
        assert (out["landmarks"] > 0).all() and (out["landmarks"] < 63).all()
    first = sorted(FACES68.glob("*.pts"))[0]
    line = first.read_text().splitlines()[3].split()
    np.testing.assert_allclose(ds.records[0].landmarks[0], [float(line[0]) - 1, float(line[1]) - 1])


def test_subsets_feed_metrics_per_subset(tree300w):
    from training.eval.metrics import per_subset
    root, _ = tree300w
    ds, _ = build_dataset("300w", "test", input_size=32, data_root=str(root))
    nmes = np.array([0.01, 0.02, 0.03, 0.04, 0.10, 0.20])
    rows = per_subset(nmes, subsets_of(ds), total=None)
    assert list(rows) == ["common", "challenging", "full"]
    assert rows["common"]["nme"] == pytest.approx(0.025) and rows["challenging"]["nme"] == pytest.approx(0.15)
    assert rows["full"]["count"] == 6


@pytest.mark.parametrize("ext", [".ppm", ".pgm", ".tif", ".webp", ".BMP"])
def test_folder_reads_every_opencv_image_type(tmp_path, ext):
    write_folder(tmp_path, n=2)
    for jpg in tmp_path.glob("*.jpg"):  # re-save each face in another format OpenCV writes
        flag = cv2.IMREAD_GRAYSCALE if ext == ".pgm" else cv2.IMREAD_COLOR
        assert cv2.imwrite(str(jpg.with_suffix(ext)), cv2.imread(str(jpg), flag))
        jpg.unlink()
    ds = build_base("folder", "all", tmp_path)
    assert len(ds) == 2 and ds[0]["image"].shape[2] == 3 and ds[0]["path"].endswith(ext)


def test_build_dataset_passes_box_scale_on():
    from training.data.transforms import CROP_SCALE
    default, _ = build_dataset("synthetic", "test", input_size=64, num_samples=2)
    wide, _ = build_dataset("synthetic", "test", input_size=64, num_samples=2, box_scale=1.6)
    assert default.transform.box_scale == CROP_SCALE == 1.25 and wide.transform.box_scale == 1.6
    # a wider margin puts the same face's landmarks closer to the crop's centre
    spread = [np.ptp(np.asarray(ds[0]["landmarks"]), axis=0).max() for ds in (default, wide)]
    assert spread[1] < spread[0]
