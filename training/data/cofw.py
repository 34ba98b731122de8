"""COFW with 29 points and per-point occlusion flags (``--dataset cofw``).

Files under ``data_root`` (the common colour release; the grey originals ``COFW_train.mat`` /
``COFW_test.mat`` with the same variables are used when the colour ones are absent)::

    COFW_train_color.mat   IsTr (cell array of H x W x 3 or H x W uint8 images), phisTr (N x 87),
                           bboxesTr (N x 4)          -- 1,345 faces in the usual release
    COFW_test_color.mat    IsT, phisT, bboxesT       -- 507 faces

The colour files are MATLAB v7.3 (HDF5: h5py reads them, cells are object references, arrays are
stored transposed); MATLAB v5 files (e.g. converted with ``scipy.io.savemat``) are read with
``scipy.io.loadmat``. A v7.3 file is opened lazily, once per process, and images are read on
demand; a v5 file is loaded whole.

``phis`` rows: 29 x, 29 y, 29 occlusion flags (1 = occluded). Points are in the LFPW/RCPR order
(awing_ext/schemes.py, "29"); 16 and 17 are the pupils (the NME normaliser, docs/design.md). The
coordinates are MATLAB's 1-based pixels: the loader subtracts 1 (like .pts files). ``bboxes``
rows are [x y w h] (1-based) and become "det_box" = (x - 1, y - 1, x - 1 + w, y - 1 + h).

Occlusion: every point is kept as a landmark (occluded points are annotated at their estimated
position). "visible" is all ones, so training renders every point's heatmap, as the paper does;
"occluded" (float32 (29,), 1 = occluded) carries the flags for evaluation and analysis
(``visible_from_occlusion=True`` sets visible = 1 - occluded instead, to mask them out of the loss).
The paper's COFW protocol (NME over all 29 points normalised by the inter-pupil distance,
FR@10 %) uses all points, so the evaluation table has one row, "all".

Splits: "train", "test", "val" / "train-val" (crc32 ~5 % of train keyed "train:<index>" / the
rest, see base.py). Crop: the landmarks' box x 1.25 by default; ``crop="detector"`` uses bboxes.
"""
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from .base import LandmarkDataset, Record, check_landmarks_in_image, select_split
from .io import DataError, to_rgb_uint8

__all__ = ["COFW", "mat_file", "read_cofw_mat"]

_VARS = {"train": ("IsTr", "phisTr", "bboxesTr"), "test": ("IsT", "phisT", "bboxesT")}


def mat_file(root: Path, split: str) -> Path:
    """The COFW .mat file for "train"/"test" under root (colour preferred); raises if none."""
    root = Path(root)
    cands = [root / f"COFW_{split}_color.mat", root / f"COFW_{split}.mat"]
    for c in cands:
        if c.is_file():
            return c
    raise DataError(f"cofw: annotation file not found: {cands[0]} (nor {cands[1].name})", file=cands[0])


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(1024)
    sig = b"\x89HDF\r\n\x1a\n"      # at offset 0 or after a 512-byte MATLAB user block
    return head[:8] == sig or head[512:520] == sig


def _get(container, name: str, path: Path):
    if name not in container:
        have = sorted(k for k in container.keys() if not k.startswith("_") and not k.startswith("#"))
        raise DataError(f"cofw: variable {name!r} not found in {path} (it has {have})", file=path)
    return container[name]


def read_cofw_mat(path: Path, split: str):
    """(images, phis (N, 87) float64, bboxes (N, 4) float64, [(shape, dtype)] per image), where
    images is a list of arrays (v5) or of HDF5 dataset names (v7.3, stored transposed: read with
    ``np.asarray(h5file[name]).T``); raises DataError naming the file."""
    path = Path(path)
    is_name, phis_name, box_name = _VARS[split]
    try:
        hdf5 = _is_hdf5(path)
    except OSError as exc:
        raise DataError(f"cofw: cannot read {path}: {exc}", file=path) from None
    if hdf5:
        try:
            import h5py
        except ImportError:
            raise DataError(f"cofw: {path} is a MATLAB v7.3 (HDF5) file; reading it needs h5py "
                            "(pip install h5py)", file=path) from None
        try:
            with h5py.File(path, "r") as f:
                refs = np.asarray(_get(f, is_name, path)).reshape(-1)
                phis = np.asarray(_get(f, phis_name, path), dtype=np.float64).T
                boxes = np.asarray(_get(f, box_name, path), dtype=np.float64).T
                shapes, names = [], []
                for r in refs:
                    ds = f[r]
                    shapes.append((tuple(ds.shape[::-1]), ds.dtype))
                    names.append(ds.name or r)      # names pickle (for DataLoader workers), references not
        except DataError:
            raise
        except Exception as exc:   # h5py raises OSError/KeyError/TypeError/ValueError for broken files
            raise DataError(f"cofw: cannot read MATLAB v7.3 file {path}: {exc}", file=path) from None
        return names, phis, boxes, shapes
    import scipy.io
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:       # scipy raises ValueError/TypeError/MatReadError for broken files
        raise DataError(f"cofw: cannot read MATLAB file {path}: {exc}", file=path) from None
    cells = np.asarray(_get(mat, is_name, path), dtype=object).reshape(-1)
    phis = np.asarray(_get(mat, phis_name, path), dtype=np.float64)
    boxes = np.asarray(_get(mat, box_name, path), dtype=np.float64)
    images = [np.asarray(c) for c in cells]
    return images, phis, boxes, [(im.shape, im.dtype) for im in images]


class COFW(LandmarkDataset):
    """COFW split `split` under `root` (see the module docstring). kwargs: see LandmarkDataset."""

    name = "cofw"
    scheme = "29"
    num_points = 29
    splits = ("train", "test", "val", "train-val")

    def __init__(self, root, split: str = "train", visible_from_occlusion: bool = False, **kwargs):
        kwargs["check_images"] = "none"     # the images are in the .mat: their shapes are checked below
        super().__init__(split, **kwargs)
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"cofw: data root {root} is not a folder", file=root)
        base_split = "test" if split == "test" else "train"
        self.mat_path = mat_file(root, base_split)
        self.visible_from_occlusion = bool(visible_from_occlusion)
        images, phis, boxes, shapes = read_cofw_mat(self.mat_path, base_split)
        p = self.mat_path
        n = len(images)
        if phis.ndim != 2 or phis.shape[1] != 87 or len(phis) != n:
            raise DataError(f"cofw: {p}: {_VARS[base_split][1]} must be N x 87 (29 x, 29 y, 29 occlusion flags) "
                            f"with N = {n} images, got {phis.shape}", file=p)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) != n:
            raise DataError(f"cofw: {p}: {_VARS[base_split][2]} must be N x 4 with N = {n}, got {boxes.shape}", file=p)
        self._refs = images                 # v5: the image arrays; v7.3: HDF5 object references
        self._hdf5 = _is_hdf5(p)
        self._h5: Optional[Tuple[int, object]] = None
        records = []
        for i in range(n):
            name = f"{p}#{i}"
            try:
                self._check_shape(shapes[i], name)
                xy = np.stack([phis[i, :29], phis[i, 29:58]], axis=1) - 1.0
                occ = phis[i, 58:87]
                if not np.isfinite(xy).all():
                    raise DataError(f"cofw: {name}: non-finite landmark coordinates", file=name)
                if not np.isin(occ, (0, 1)).all():
                    raise DataError(f"cofw: {name}: occlusion flags must be 0 or 1, got {np.unique(occ)}", file=name)
                shape = shapes[i][0]
                check_landmarks_in_image(xy, int(shape[1]), int(shape[0]), f"cofw: {name}", name)
            except DataError as exc:
                self._bad(exc)
                continue
            x, y, w, h = boxes[i]
            records.append(Record(image=name, landmarks=xy.astype(np.float32), key=f"{base_split}:{i}",
                                  source="cofw", occluded=occ.astype(np.float32),
                                  det_box=(x - 1, y - 1, x - 1 + w, y - 1 + h), order=i, extra={"mat_index": i}))
        self.records = records if base_split == "test" else select_split(records, split)
        self._finish()

    @staticmethod
    def _check_shape(shape_dtype, name: str) -> None:
        shape, dtype = shape_dtype
        ok = (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))) and all(s > 0 for s in shape)
        if not ok or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
            raise DataError(f"cofw: {name}: not an image (shape {shape}, dtype {dtype}); expected H x W or "
                            "H x W x 3 uint8", file=name)

    def _file(self):
        """This process's open HDF5 file (DataLoader workers each open their own)."""
        pid = os.getpid()
        if self._h5 is None or self._h5[0] != pid:
            import h5py
            self._h5 = (pid, h5py.File(self.mat_path, "r"))
        return self._h5[1]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"] = None
        return state

    def _read_image(self, rec: Record) -> np.ndarray:
        i = rec.extra["mat_index"]
        try:
            img = np.asarray(self._file()[self._refs[i]]).T if self._hdf5 else self._refs[i]
            return to_rgb_uint8(img, bgr=False)        # MATLAB images are RGB
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"cofw: cannot read image {rec.image}: {exc}", file=rec.image) from None

    def sample(self, index: int) -> dict:
        out = super().sample(index)
        out.pop("mat_index", None)
        if self.visible_from_occlusion:
            out["visible"] = 1.0 - out["occluded"]
        return out

    @property
    def occluded(self) -> np.ndarray:
        """(N, 29) float32 occlusion flags."""
        return np.stack([r.occluded for r in self.records]) if self.records else np.zeros((0, 29), np.float32)
