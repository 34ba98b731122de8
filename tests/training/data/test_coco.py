"""COCO keypoints datasets (training/data/coco.py) and data read in another scheme: v = 0 masked,
several faces per image, bad rows named by annotation id or skipped, deterministic splits, the
scheme from the category's names or a file; the synthetic faces as a subset scheme, folders with
a scheme file (training/data/scheme_view.py, registry.read_as)."""
import json

import numpy as np
import pytest
import torch

from awing_ext import read_scheme
from awing_ext.schemes import map_points
from helpers.datasets import FACE5, write_coco, write_folder
from training.core.codec import HeatmapCodec
from training.data.coco import category_scheme, mirror_name
from training.data.io import DataError
from training.data.registry import build_base, build_dataset

FIVE = '''name = "face5"
points = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"]
flip = [["left_eye", "right_eye"], ["left_mouth", "right_mouth"]]

[from.68]
indices = [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], 30, 48, 54]
'''


def _coco(root, split="all", **kw):
    return build_base("coco", split, root, annotations=root / "train.json", **kw)


def test_faces_visibility_crop_and_the_category_scheme(tmp_path):
    written = write_coco(tmp_path, [2, 1, 1], invisible={2: [1]})
    ds = _coco(tmp_path)
    assert len(ds) == 4 and [r.annotation.rsplit(" ", 1)[-1] for r in ds.records] == ["1", "2", "3", "4"]
    assert ds.records[0].image == ds.records[1].image                      # two faces in one image
    scheme = ds.scheme
    assert (scheme.name, scheme.point_names, scheme.flip) == ("face", FACE5, (1, 0, 2, 4, 3))
    assert scheme.normaliser == "bbox" and scheme.curves == ()
    assert ds.notes == ["scheme 'face' from the category's 5 keypoint names: 2 left/right pair(s) matched by name, "
                        "the bbox normaliser, no curves (--scheme FILE to change it; docs/datasets.md)"]
    sample = ds[1]
    pts, (x, y, w, h) = written["truth"][2]
    np.testing.assert_array_equal(sample["visible"], [1, 0, 1, 1, 1])
    np.testing.assert_allclose(sample["landmarks"][[0, 2, 3, 4]], pts[[0, 2, 3, 4]])
    np.testing.assert_allclose(sample["landmarks"][1], [x + w / 2, y + h / 2])   # a harmless place, masked
    assert sample["det_box"] == (x, y, x + w, y + h)
    assert sample["box"] == pytest.approx((x + w / 2, y + h / 2, 1.25 * max(w, h)))   # the bbox is the crop
    item = build_dataset("coco", "all", input_size=64, data_root=str(tmp_path),
                         annotations=str(tmp_path / "train.json"))[0][1]
    assert item["box_size"] == pytest.approx(np.sqrt(w * h) * 64 / (1.25 * max(w, h)), rel=1e-5)
    np.testing.assert_array_equal(item["visible"], [1, 0, 1, 1, 1])
    target, weight = HeatmapCodec(64, 16, boundary_scheme=None).encode(torch.from_numpy(item["landmarks"])[None],
                                                                       torch.from_numpy(item["visible"])[None])
    assert weight[0].tolist() == [1, 0, 1, 1, 1] and target[0, 1].abs().sum() == 0   # masked from the loss


def test_bad_rows_are_named_by_annotation_id_or_skipped(tmp_path, caplog):
    written = write_coco(tmp_path, [1] * 9)
    doc = json.loads(written["path"].read_text())
    anns = doc["annotations"]
    anns[0]["keypoints"] = anns[0]["keypoints"][:-3]                        # 4 keypoints
    anns[1]["keypoints"][3] = float("nan")                                  # json writes NaN
    anns[2]["keypoints"][2] = 3                                              # v = 3
    anns[3]["bbox"] = [50.0, 40.0, 30.0, 30.0]                              # past the 64 x 56 image
    anns[4]["bbox"] = [5.0, 5.0, 0.0, 10.0]                                 # empty
    anns[5]["image_id"] = 999                                               # no such image
    doc["images"][6]["file_name"] = "images/missing.jpg"                    # no such file
    written["path"].write_text(json.dumps(doc))
    expected = {1: "4 keypoints, the scheme 'face' has 5", 2: "keypoint 1 is not finite",
                3: "visibility flags must be 0, 1 or 2", 4: "is outside the 64x56 image", 5: "bbox must be",
                6: "image_id 999 is not in the file's images", 7: "image file not found"}
    for aid, message in expected.items():
        with pytest.raises(DataError) as info:
            _coco(tmp_path)
        text = str(info.value)
        assert text.startswith(f"{written['path']}: annotation {aid}: ") and message in text and "\n" not in text
        anns_now = json.loads(written["path"].read_text())
        anns_now["annotations"] = [a for a in anns_now["annotations"] if a["id"] != aid]
        written["path"].write_text(json.dumps(anns_now))
    written["path"].write_text(json.dumps(doc))
    ds = _coco(tmp_path, skip_bad=True)
    assert len(ds) == 2 and len(ds.skipped) == 7 and "annotation 7: image file not found" in ds.skipped[-1][1]
    assert "skipping bad sample" in caplog.text


def test_unlabelled_crowd_and_other_categories_are_left_out(tmp_path):
    written = write_coco(tmp_path, [3], invisible={2: [0, 1, 2, 3, 4]})
    doc = json.loads(written["path"].read_text())
    doc["annotations"][2]["iscrowd"] = 1
    doc["categories"].append({"id": 2, "name": "person"})
    doc["annotations"].append({"id": 9, "image_id": 100, "category_id": 2, "bbox": [0, 0, 5, 5]})
    written["path"].write_text(json.dumps(doc))
    ds = _coco(tmp_path)
    assert len(ds) == 1 and ds.notes[-1].endswith("1 annotation(s) without a labelled keypoint left out")


def test_splits_are_deterministic_and_files_override_them(tmp_path):
    write_coco(tmp_path, [1] * 20)
    names = sorted(f"images/img_{i}.jpg" for i in range(20))
    test = _coco(tmp_path, "test")
    assert sorted(r.key for r in test.records) == sorted([names[9], names[19]])   # every tenth image by name
    train, val, rest = (_coco(tmp_path, s) for s in ("train", "val", "train-val"))
    assert len(train) == 18 and 0 < len(val) < 18 and len(rest) == 18 - len(val)
    assert {r.key for r in val.records} | {r.key for r in rest.records} == {r.key for r in train.records}
    assert [r.key for r in _coco(tmp_path, "test").records] == [r.key for r in test.records]   # the same every time
    write_coco(tmp_path, [2], seed=1, file="val.json")
    write_coco(tmp_path, [1, 1, 1], seed=2, file="test.json")
    files = dict(val_annotations=tmp_path / "val.json", test_annotations=tmp_path / "test.json")
    assert len(_coco(tmp_path, "test", **files)) == 3 and len(_coco(tmp_path, "val", **files)) == 2
    assert len(_coco(tmp_path, "train", **files)) == 20 == len(_coco(tmp_path, "train-val", **files))


def test_scheme_file_names_order_and_count(tmp_path):
    written = write_coco(tmp_path, [2], names=("nose", "right_eye", "left_eye", "right_mouth", "left_mouth"))
    scheme_file = tmp_path / "five.toml"
    scheme_file.write_text(FIVE)
    ds = _coco(tmp_path, scheme=read_scheme(scheme_file))
    assert ds.scheme.name == "face5" and ds.notes == []
    pts, _ = written["truth"][1]
    np.testing.assert_allclose(ds[0]["landmarks"], pts[[2, 1, 0, 4, 3]])   # read by name
    scheme_file.write_text(FIVE.replace('"nose", ', "").replace("30, ", ""))
    with pytest.raises(DataError, match=r"train.json: category 'face' has 5 keypoints, the scheme 'face5' has 4"):
        _coco(tmp_path, scheme=read_scheme(scheme_file))
    with pytest.raises(DataError, match="--annotations TRAIN.json"):
        build_base("coco", "all", tmp_path)
    with pytest.raises(ValueError, match="--annotations applies to --dataset coco, not 'folder'"):
        build_dataset("folder", "all", input_size=32, data_root=str(tmp_path), annotations="x.json")


def test_mirror_names_and_the_derived_flip():
    assert [mirror_name(n) for n in ("left_eye", "eye_L", "LeftEye", "RIGHT-ear", "r_ear", "cleft", "nose")] == \
        ["right_eye", "eye_R", "RightEye", "LEFT-ear", "l_ear", "cleft", "nose"]
    scheme, note = category_scheme({"name": "hand", "keypoints": ["wrist", "thumb", "index"]}, "f.json")
    assert scheme.flip is None and "no flip (no left/right names)" in note
    scheme, note = category_scheme({"name": "f", "keypoints": ["left_eye", "right_eye", "left_ear"]}, "f.json")
    assert scheme.flip is None and "'left_ear' has no mirror name" in note
    with pytest.raises(DataError, match=r"f.json: category 'f': points: duplicate point name 'a'"):
        category_scheme({"name": "f", "keypoints": ["a", "a"]}, "f.json")


def test_synthetic_faces_as_a_subset_scheme(tmp_path):
    scheme_file = tmp_path / "five.toml"
    scheme_file.write_text(FIVE)
    five, scheme = build_dataset("synthetic", "test", input_size=64, num_samples=3, scheme=str(scheme_file))
    full, _ = build_dataset("synthetic", "test", input_size=64, num_samples=3)
    assert scheme.name == "face5" and len(five) == 3
    for i in range(3):
        a, b = five[i], full[i]
        np.testing.assert_array_equal(a["image"], b["image"])               # the 68 points' crop
        np.testing.assert_allclose(a["landmarks"], map_points(b["landmarks"], scheme.mapping_from("68")), atol=1e-4)
        lo, hi = b["landmarks"].min(0), b["landmarks"].max(0)
        assert a["box_size"] == pytest.approx(np.sqrt(np.prod(hi - lo)), rel=1e-4)   # the face's box
    scheme_file.write_text(FIVE.split("[from.68]")[0])
    with pytest.raises(DataError, match=r"scheme 'face5' .* has 5 points, the synthetic data has 68 \(scheme '68'\): "
                                         r"declare \[from.68\]"):
        build_dataset("synthetic", "test", input_size=64, num_samples=3, scheme=str(scheme_file))


def test_folders_read_with_a_scheme_file(tmp_path):
    scheme_file = tmp_path / "five.toml"
    scheme_file.write_text(FIVE)
    written = write_folder(tmp_path / "five_pts", n=3, k=5)
    ds, scheme = build_dataset("folder", "all", input_size=32, data_root=str(tmp_path / "five_pts"),
                               scheme=str(scheme_file))
    assert scheme.name == "face5" and ds.base.scheme is scheme
    np.testing.assert_array_equal(ds.base[0]["landmarks"], written["face_000.pts"])
    written = write_folder(tmp_path / "full", n=3)                          # 68-point files, read as 5 points
    ds, scheme = build_dataset("folder", "all", input_size=32, data_root=str(tmp_path / "full"),
                               scheme=str(scheme_file))
    np.testing.assert_allclose(ds.base[1]["landmarks"], map_points(written["face_001.pts"], scheme.mapping_from("68")),
                               atol=1e-5)
    ds, scheme = build_dataset("folder", "all", input_size=32, data_root=str(tmp_path / "full"), scheme="68")
    assert scheme.name == "68" and len(ds) == 3
