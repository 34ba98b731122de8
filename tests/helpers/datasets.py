"""Tiny dataset trees in the real on-disk formats, written by the loader tests. Every writer
returns what it wrote (0-based landmarks etc.) so a test can compare.

* :func:`write_300w_tree`: lfpw/{trainset,testset}, helen/{trainset,testset}, afw, ibug,
  300W/{01_Indoor,02_Outdoor}, `per_folder` faces each (.jpg/.png + 1-based .pts); AFW uses the
  ``<image>_<n>.pts`` naming of the real set (two faces in one image).
* :func:`write_wflw_tree`: WFLW_annotations/list_98pt_rect_attr_train_test/*.txt + WFLW_images/.
* :func:`write_cofw_mat`: COFW_{train,test}_color.mat as MATLAB v7.3 (HDF5 with a MATLAB user
  block, a cell array of object references to transposed image datasets; needs h5py) or v5
  (scipy.io.savemat).
* :func:`write_folder`: a plain folder of images with .pts files.
* :func:`write_coco`: images and a COCO keypoints file (one face box and its keypoints per
  annotation), as CVAT, Label Studio and Roboflow export them.
"""
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from training.data.io import write_pts

__all__ = ["random_landmarks", "write_image", "write_300w_tree", "write_wflw_tree", "write_cofw_mat",
           "write_folder", "FACE5", "write_coco"]

FACE5 = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")


def random_landmarks(rng: np.random.Generator, k: int, width: int, height: int) -> np.ndarray:
    """k random 0-based points inside a (width, height) image, rounded to 1/1000 px (exact in .pts)."""
    pts = np.stack([rng.uniform(4, width - 5, k), rng.uniform(4, height - 5, k)], axis=1)
    return np.round(pts, 3).astype(np.float32)


def write_image(path: Path, rng: np.random.Generator, width: int = 48, height: int = 40) -> np.ndarray:
    """A random RGB image written with cv2 (BGR on disk); returns the RGB array."""
    rgb = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1])):
        raise OSError(f"cannot write {path}")
    return rgb


_300W_FOLDERS = ("lfpw/trainset", "lfpw/testset", "helen/trainset", "helen/testset", "afw", "ibug",
                 "300W/01_Indoor", "300W/02_Outdoor")


def write_300w_tree(root, per_folder: int = 2, seed: int = 0) -> Dict[str, np.ndarray]:
    """The 300W layout with `per_folder` faces per folder; returns {relative .pts path: landmarks}."""
    root, rng, out = Path(root), np.random.default_rng(seed), {}
    for folder in _300W_FOLDERS:
        for j in range(per_folder):
            base = folder.replace("/", "_").lower()
            if folder == "afw":                      # several faces per image: img_1.pts, img_2.pts -> img.jpg
                img = root / folder / f"{base}_{j // 2}.jpg"
                pts = root / folder / f"{base}_{j // 2}_{j % 2 + 1}.pts"
            else:
                ext = ".png" if j % 2 else ".jpg"
                img = root / folder / f"{base}_{j}{ext}"
                pts = img.with_suffix(".pts")
            if not img.exists():
                write_image(img, rng)
            lm = random_landmarks(rng, 68, 48, 40)
            write_pts(pts, lm)
            out[pts.relative_to(root).as_posix()] = lm
    return out


def write_wflw_tree(root, attributes: Dict[str, Sequence[Sequence[int]]], seed: int = 0) -> Dict[str, List[dict]]:
    """WFLW lists for each split in `attributes` (split -> one 6-flag row per face); returns
    split -> [{"landmarks", "box", "flags", "image"}] in line order."""
    root, rng, out = Path(root), np.random.default_rng(seed), {}
    lists = root / "WFLW_annotations" / "list_98pt_rect_attr_train_test"
    lists.mkdir(parents=True, exist_ok=True)
    for split, rows in attributes.items():
        lines, faces = [], []
        for i, flags in enumerate(rows):
            rel = f"{i % 2}--Event/{split}_{i}.jpg"
            write_image(root / "WFLW_images" / rel, rng, 56, 44)
            lm = random_landmarks(rng, 98, 56, 44)
            box = [int(lm[:, 0].min()), int(lm[:, 1].min()), int(np.ceil(lm[:, 0].max())), int(np.ceil(lm[:, 1].max()))]
            coords = " ".join(f"{v:.3f}" for v in lm.reshape(-1))
            lines.append(f"{coords} {' '.join(map(str, box))} {' '.join(str(int(f)) for f in flags)} {rel}")
            faces.append({"landmarks": lm, "box": box, "flags": list(flags), "image": rel})
        (lists / f"list_98pt_rect_attr_{split}.txt").write_text("\n".join(lines) + "\n")
        out[split] = faces
    return out


def write_cofw_mat(path, split: str, images: Sequence[np.ndarray], landmarks: np.ndarray, occluded: np.ndarray,
                   boxes: np.ndarray, version: str = "7.3") -> Path:
    """A COFW .mat file: `images` (H x W x 3 or H x W uint8, RGB), 0-based `landmarks` (N, 29, 2)
    (written 1-based), `occluded` (N, 29) 0/1, 1-based `boxes` (N, 4) [x y w h]."""
    path = Path(path)
    is_name, phis_name, box_name = {"train": ("IsTr", "phisTr", "bboxesTr"), "test": ("IsT", "phisT", "bboxesT")}[split]
    lm = np.asarray(landmarks, np.float64) + 1.0
    phis = np.concatenate([lm[:, :, 0], lm[:, :, 1], np.asarray(occluded, np.float64)], axis=1)   # (N, 87)
    boxes = np.asarray(boxes, np.float64)
    n = len(images)
    if version == "5":
        import scipy.io
        cell = np.empty((n, 1), dtype=object)
        for i, im in enumerate(images):
            cell[i, 0] = np.asarray(im)
        scipy.io.savemat(str(path), {is_name: cell, phis_name: phis, box_name: boxes})
        return path
    if version != "7.3":
        raise ValueError(f"write_cofw_mat: version must be '7.3' or '5', got {version!r}")
    import h5py
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        cell = np.empty((1, n), dtype=h5py.ref_dtype)            # MATLAB (N, 1) cell, stored transposed
        for i, im in enumerate(images):
            ds = refs.create_dataset(f"img{i}", data=np.asarray(im).T)   # column-major: (3, W, H) / (W, H)
            ds.attrs["MATLAB_class"] = np.bytes_("uint8")
            cell[0, i] = ds.ref
        c = f.create_dataset(is_name, data=cell)
        c.attrs["MATLAB_class"] = np.bytes_("cell")
        for name, arr in ((phis_name, phis), (box_name, boxes)):
            d = f.create_dataset(name, data=arr.T)
            d.attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:                                  # MATLAB's 128-byte text header + version
        f.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
    return path


def write_folder(root, n: int = 3, k: int = 68, seed: int = 0) -> Dict[str, np.ndarray]:
    """`n` images with k-point .pts files in `root`; returns {pts file name: landmarks}."""
    root, rng, out = Path(root), np.random.default_rng(seed), {}
    for i in range(n):
        img = root / f"face_{i:03d}.jpg"
        write_image(img, rng)
        lm = random_landmarks(rng, k, 48, 40)
        write_pts(img.with_suffix(".pts"), lm)
        out[img.with_suffix(".pts").name] = lm
    return out


def write_coco(root, faces: Sequence[int], names: Sequence[str] = FACE5, seed: int = 0, width: int = 64,
               height: int = 56, category: str = "face", file: str = "train.json",
               invisible: Optional[Dict[int, Sequence[int]]] = None) -> dict:
    """Images root/images/img_<i>.jpg, faces[i] faces each, and root/<file>, a COCO keypoints file
    (category id 1 with the keypoint `names`; annotation ids 1, 2, ... in order; each face a box
    and its keypoints inside it, v = 2, or v = 0 and x = y = 0 for the points invisible[id]).
    Returns the file's dict plus "path": the file and "truth": {id: (keypoints (K, 2), box)}."""
    root, rng = Path(root), np.random.default_rng(seed)
    images, annotations, truth = [], [], {}
    for i, n in enumerate(faces):
        write_image(root / "images" / f"img_{i}.jpg", rng, width, height)
        images.append({"id": 100 + i, "file_name": f"images/img_{i}.jpg", "width": width, "height": height})
        for _ in range(n):
            aid = len(annotations) + 1
            w, h = float(rng.integers(16, width // 2)), float(rng.integers(16, height // 2))
            x, y = float(rng.integers(0, width - w)), float(rng.integers(0, height - h))
            pts = np.round(np.stack([rng.uniform(x + 1, x + w - 1, len(names)),
                                     rng.uniform(y + 1, y + h - 1, len(names))], axis=1), 2)
            flags = np.full(len(names), 2.0)
            for j in (invisible or {}).get(aid, ()):
                pts[j], flags[j] = 0.0, 0.0
            keypoints = np.concatenate([pts, flags[:, None]], axis=1).reshape(-1).tolist()
            annotations.append({"id": aid, "image_id": 100 + i, "category_id": 1, "bbox": [x, y, w, h],
                                "keypoints": keypoints, "num_keypoints": int((flags > 0).sum()), "iscrowd": 0,
                                "area": w * h})
            truth[aid] = (pts.astype(np.float32), (x, y, w, h))
    doc = {"images": images, "annotations": annotations,
           "categories": [{"id": 1, "name": category, "keypoints": list(names), "skeleton": []}]}
    path = root / file
    path.write_text(json.dumps(doc))
    return {**doc, "path": path, "truth": truth}
