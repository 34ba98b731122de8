"""WFLW and COFW loaders on tiny fixture files in the real formats (WFLW annotation lists; COFW
MATLAB v7.3 via h5py and v5 via scipy.io.savemat), and the COFW point order of the "29" scheme."""
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from awing_ext.schemes import get_scheme
from helpers.datasets import random_landmarks, write_cofw_mat, write_wflw_tree
from training.data.io import DataError
from training.data.wflw import ATTRIBUTES
from training.data.registry import build_dataset, subsets_of
from awing_ext.schemes import normaliser_of

TEST_FLAGS = [[1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]]


def _raw(name, split, root, **kw):
    ds, scheme = build_dataset(name, split, input_size=32, data_root=str(root), **kw)
    return ds.base, scheme


# ------------------------------------------------------------------------------------- WFLW
@pytest.fixture
def wflw(tmp_path):
    root = tmp_path / "WFLW"
    return root, write_wflw_tree(root, {"train": [[0] * 6] * 5, "test": TEST_FLAGS})


def test_wflw_counts_landmarks_boxes_attributes(wflw):
    root, written = wflw
    train, scheme = _raw("wflw", "train", root)
    test, _ = _raw("wflw", "test", root)
    assert scheme == "98" and len(train) == 5 and len(test) == 4
    for i, face in enumerate(written["test"]):
        s = test[i]
        np.testing.assert_array_equal(s["landmarks"], face["landmarks"])       # used as written (0-based)
        assert s["det_box"] == tuple(float(v) for v in face["box"]) and "box" not in s
        assert s["attributes"] == {a: bool(f) for a, f in zip(ATTRIBUTES, face["flags"])}
        assert Path(s["path"]) == root / "WFLW_images" / face["image"]
        assert s["image"].shape == (44, 56, 3) and s["visible"].shape == (98,) and s["subset"] == "all"
    masks = subsets_of(test)
    assert list(masks) == ["pose", "expression", "occlusion", "blur", "all"]        # empty ones left out
    assert masks["occlusion"].tolist() == [True, False, True, False] and masks["all"].all()
    assert masks["pose"].tolist() == [True, False, False, False] and masks["blur"].tolist() == [False, False, True, False]
    np.testing.assert_array_equal(test.attribute_matrix, np.array(TEST_FLAGS, bool))


def test_wflw_detector_crop_and_batches(wflw):
    root, written = wflw
    raw, _ = _raw("wflw", "test", root, crop="detector", det_scale=1.5)
    x0, y0, x1, y1 = written["test"][0]["box"]
    assert raw[0]["box"] == pytest.approx(((x0 + x1) / 2, (y0 + y1) / 2, 1.5 * max(x1 - x0, y1 - y0)))
    ds, _ = build_dataset("wflw", "test", input_size=32, data_root=str(root))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["landmarks"].shape == (4, 98, 2) and batch["image"].shape == (4, 3, 32, 32)


def test_wflw_errors_and_skipping(wflw, caplog):
    root, _ = wflw
    ann = root / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt"
    lines = ann.read_text().splitlines()
    bad = lines[:]
    bad[1] = " ".join(lines[1].split()[:-2] + [lines[1].split()[-1]])           # one field short
    bad[2] = lines[2].replace(lines[2].split()[5], "abc", 1)                    # non-numeric coordinate
    ann.write_text("\n".join(bad) + "\n")
    with pytest.raises(DataError, match=r"list_98pt_rect_attr_test.txt, line 2: expected 207 fields"):
        _raw("wflw", "test", root)
    with caplog.at_level(logging.WARNING, logger="awing.data"):
        ds, _ = _raw("wflw", "test", root, skip_bad=True)
    assert len(ds) == 2 and len(ds.skipped) == 2 and "line 3" in caplog.text
    flags = lines[:]
    parts = lines[0].split()
    parts[200] = "2"
    flags[0] = " ".join(parts)
    ann.write_text("\n".join(flags) + "\n")
    with pytest.raises(DataError, match="line 1: attribute flags must be 0 or 1"):
        _raw("wflw", "test", root)
    ann.unlink()
    with pytest.raises(DataError, match="annotation list not found: .*list_98pt_rect_attr_test.txt"):
        _raw("wflw", "test", root)
    assert len(_raw("wflw", "train", root)[0]) == 5
    img = next((root / "WFLW_images").rglob("train_0.jpg"))
    img.write_bytes(b"garbage")
    with pytest.raises(DataError, match="train_0.jpg"):
        _raw("wflw", "train", root)
    with pytest.raises(DataError, match=r"data root not found"):
        _raw("wflw", "train", root / "missing")


# ------------------------------------------------------------------------------------- COFW
def _cofw_data(n, seed):
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        h, w = 30 + i, 40 + 2 * i
        images.append(rng.integers(0, 256, (h, w) if i == 1 else (h, w, 3), dtype=np.uint8))   # #1 is grey
    lms = np.stack([random_landmarks(rng, 29, im.shape[1], im.shape[0]) for im in images])
    occ = (rng.random((n, 29)) < 0.3).astype(np.float64)
    boxes = np.array([[3 + i, 4, 20, 18] for i in range(n)], np.float64)
    return images, lms, occ, boxes


@pytest.fixture(params=["7.3", "5"])
def cofw(tmp_path, request):
    root = tmp_path / "COFW"
    root.mkdir()
    data = {}
    for split, n in (("train", 6), ("test", 3)):
        data[split] = _cofw_data(n, seed=n)
        write_cofw_mat(root / f"COFW_{split}_color.mat", split, *data[split], version=request.param)
    return root, data, request.param


def test_cofw_reads_v73_and_v5(cofw):
    root, data, version = cofw
    head = (root / "COFW_test_color.mat").read_bytes()[:520]
    assert (head[512:520] == b"\x89HDF\r\n\x1a\n") == (version == "7.3")
    train, scheme = _raw("cofw", "train", root)
    test, _ = _raw("cofw", "test", root)
    assert scheme == "29" and len(train) == 6 and len(test) == 3
    images, lms, occ, boxes = data["test"]
    for i in range(3):
        s = test[i]
        expected = images[i] if images[i].ndim == 3 else np.repeat(images[i][..., None], 3, 2)
        np.testing.assert_array_equal(s["image"], expected)                  # RGB kept, grey -> RGB
        np.testing.assert_allclose(s["landmarks"], lms[i], atol=1e-4)          # 1-based in the file
        np.testing.assert_array_equal(s["occluded"], occ[i])
        assert s["visible"].tolist() == [1.0] * 29                            # all points trained on
        x, y, w, h = boxes[i]
        assert s["det_box"] == pytest.approx((x - 1, y - 1, x - 1 + w, y - 1 + h))
        assert s["path"] == f"{root / 'COFW_test_color.mat'}#{i}"
    np.testing.assert_array_equal(test.occluded, occ)
    assert list(subsets_of(test)) == ["all"]
    masked, _ = _raw("cofw", "test", root, visible_from_occlusion=True)
    np.testing.assert_array_equal(masked[0]["visible"], 1 - occ[0])
    ds, _ = build_dataset("cofw", "train", input_size=32, data_root=str(root), augment=None)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=1)      # pickled into a worker
    batch = next(iter(loader))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["occluded"].shape == (3, 29)


def test_cofw_errors(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    with pytest.raises(DataError, match=r"annotation file not found: .*COFW_train_color.mat"):
        _raw("cofw", "train", root)
    (root / "COFW_train_color.mat").write_bytes(b"garbage" * 100)
    with pytest.raises(DataError, match=r"cannot read MATLAB file .*COFW_train_color.mat"):
        _raw("cofw", "train", root)
    images, lms, occ, boxes = _cofw_data(2, 0)
    write_cofw_mat(root / "COFW_train_color.mat", "test", images, lms, occ, boxes)   # wrong variable names
    with pytest.raises(DataError, match=r"variable 'IsTr' not found in .*COFW_train_color.mat"):
        _raw("cofw", "train", root)
    occ[1, 3] = 5
    write_cofw_mat(root / "COFW_train_color.mat", "train", images, lms, occ, boxes, version="5")
    with pytest.raises(DataError, match=r"COFW_train_color.mat#1: occlusion flags"):
        _raw("cofw", "train", root)
    ds, _ = _raw("cofw", "train", root, skip_bad=True)
    assert len(ds) == 1 and len(ds.skipped) == 1
    occ[1, 3] = 1
    images[0] = np.zeros((2, 3, 4, 5), np.uint8)                              # not an image
    write_cofw_mat(root / "COFW_train_color.mat", "train", images, lms, occ, boxes, version="5")
    with pytest.raises(DataError, match=r"COFW_train_color.mat#0: not an image"):
        _raw("cofw", "train", root)
    import scipy.io
    cells = np.empty((2, 1), object)
    cells[0, 0] = cells[1, 0] = np.zeros((4, 4), np.uint8)
    scipy.io.savemat(str(root / "COFW_test.mat"), {"IsT": cells, "phisT": np.zeros((2, 80)),
                                                   "bboxesT": np.zeros((2, 4))})
    with pytest.raises(DataError, match=r"COFW_test.mat: phisT must be N x 87"):
        _raw("cofw", "test", root)


def test_cofw_scheme_matches_the_lfpw_point_order():
    """A mirror-symmetric face built from the RCPR/LFPW 29-point definitions maps onto itself
    under the "29" flip permutation, and the curves join the points they name."""
    # name -> (x, y) for a frontal symmetric face; "left" = image left, mirrored about x = 0
    half = {"brow out": (-4, -3), "brow in": (-1, -3), "brow top": (-2.5, -3.5), "brow bottom": (-2.5, -2.7),
            "eye out": (-3.5, -2), "eye in": (-1.2, -2), "lid top": (-2.3, -2.4), "lid bottom": (-2.3, -1.7),
            "pupil": (-2.3, -2.05), "nose wing": (-0.8, 0.5)}
    order = ["brow out L", "brow out R", "brow in L", "brow in R", "brow top L", "brow bottom L", "brow top R",
             "brow bottom R", "eye out L", "eye out R", "eye in L", "eye in R", "lid top L", "lid bottom L",
             "lid top R", "lid bottom R", "pupil L", "pupil R", "nose wing L", "nose wing R", "nose tip",
             "under nose", "mouth L", "mouth R", "upper lip top", "upper lip bottom", "lower lip top",
             "lower lip bottom", "chin"]
    centre = {"nose tip": (0, 0.2), "under nose": (0, 0.7), "upper lip top": (0, 1.5), "upper lip bottom": (0, 1.8),
              "lower lip top": (0, 1.9), "lower lip bottom": (0, 2.4), "chin": (0, 4)}
    pts = []
    for name in order:
        if name in centre:
            pts.append(centre[name])
        elif name.startswith("mouth"):
            pts.append((-1.6 if name.endswith("L") else 1.6, 1.9))
        else:
            x, y = half[name[:-2]]
            pts.append((x if name.endswith("L") else -x, y))
    pts = np.array(pts, float)
    scheme = get_scheme("cofw")
    mirrored = pts * [-1, 1]
    np.testing.assert_allclose(mirrored[list(scheme.flip)], pts)
    assert normaliser_of(scheme).pair == (16, 17) and order[16].startswith("pupil") and order[17].startswith("pupil")
    named = dict(zip(scheme.curve_names, scheme.curves))
    assert [order[i] for i in named["upper left lid"]] == ["eye out L", "lid top L", "eye in L"]
    assert [order[i] for i in named["lower right brow"]] == ["brow in R", "brow bottom R", "brow out R"]
    assert [order[i] for i in named["upper inner lip"]] == ["mouth L", "upper lip bottom", "mouth R"]
    assert [order[i] for i in named["nose bottom"]] == ["nose wing L", "under nose", "nose wing R"]
