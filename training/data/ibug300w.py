"""300W (iBUG) with 68 points (``--dataset 300w``).

Layout under ``data_root`` (as the iBUG downloads unpack)::

    lfpw/trainset/  lfpw/testset/  helen/trainset/  helen/testset/  afw/  ibug/
    300W/01_Indoor/  300W/02_Outdoor/        (the 300W private test set; 01_Indoor/ and 02_Outdoor/
                                              directly under data_root are accepted too)

Each folder holds image files (.jpg/.png) with a .pts file beside each (1-based coordinates; the
loader subtracts 1, docs/design.md). An annotation ``name_2.pts`` whose ``name_2.jpg`` does not exist
annotates ``name.jpg`` (AFW has several faces per image). Only the folders a split needs must
exist; a missing one raises an error naming it.

Splits (the standard 300W protocol; each sample's "subset" and "source" are set):

============  ==========================================  ======  ==========================
split         folders                                     images  subset label
============  ==========================================  ======  ==========================
train         lfpw/trainset + helen/trainset + afw          3148  "train"
test, full    lfpw/testset + helen/testset (+) ibug          689  "common" (554) / "challenging" (135)
common        lfpw/testset + helen/testset                   554  "common"
challenging   ibug                                           135  "challenging"
private       300W/01_Indoor + 300W/02_Outdoor               600  "private" (source indoor/outdoor)
val           the crc32 ~5 % of train (part of train!)       ~157  "train"
train-val     train without val                            ~2991  "train"
============  ==========================================  ======  ==========================

"val" is not held out from "train" (which stays the paper's 3148 images): use "train-val" for
training when you select checkpoints on "val". See base.py.

Evaluation subsets (``subsets()``): test/full: common, challenging, full; private: indoor,
outdoor, private; any other split: one row "all".

The crop is the landmarks' bounding box made square, 1.25 x its larger side (CropAndAugment's
default ``box_scale``), the usual FAN/300W protocol; 300W has no detector boxes here.
"""
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from .base import LandmarkDataset, Record, select_split
from .folder import pts_records
from .io import DataError

__all__ = ["IBUG300W", "SPLIT_FOLDERS"]

# split -> [(folder relative to the root, subset label, source)]
_COMMON = [("lfpw/testset", "common", "lfpw"), ("helen/testset", "common", "helen")]
_CHALLENGING = [("ibug", "challenging", "ibug")]
_PRIVATE = [("01_Indoor", "private", "indoor"), ("02_Outdoor", "private", "outdoor")]
SPLIT_FOLDERS: Dict[str, List[Tuple[str, str, str]]] = {
    "train": [("lfpw/trainset", "train", "lfpw"), ("helen/trainset", "train", "helen"), ("afw", "train", "afw")],
    "test": _COMMON + _CHALLENGING,
    "full": _COMMON + _CHALLENGING,
    "common": _COMMON,
    "challenging": _CHALLENGING,
    "private": _PRIVATE,
}


class IBUG300W(LandmarkDataset):
    """300W split `split` under `root` (see the module docstring). kwargs: see LandmarkDataset."""

    name = "300w"
    scheme = "68"
    num_points = 68
    splits = ("train", "val", "train-val", "test", "full", "common", "challenging", "private")

    def __init__(self, root, split: str = "train", **kwargs):
        super().__init__(split, **kwargs)
        if kwargs.get("crop") == "detector":
            raise ValueError("300w: crop='detector' is not available (no face boxes are read); use 'landmarks'")
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"300w: data root {root} is not a folder", file=root)
        base_split = "train" if split in ("val", "train-val") else split
        records: List[Record] = []
        for rel, subset, source in SPLIT_FOLDERS[base_split]:
            folder = self._folder(root, rel)
            if not any(folder.glob("*.pts")):
                raise DataError(f"300w: no .pts files in {folder}", file=folder)
            records += pts_records(self, folder, root, 68, recursive=False, subset=subset, source=source)
        self.records = select_split(records, split) if base_split == "train" else records
        self._finish()

    @staticmethod
    def _folder(root: Path, rel: str) -> Path:
        candidates = [root / rel]
        if rel in ("01_Indoor", "02_Outdoor"):
            candidates = [root / "300W" / rel, root / rel]
        for cand in candidates:
            if cand.is_dir():
                return cand
        raise DataError(f"300w: folder not found: {' or '.join(str(c) for c in candidates)} "
                        f"(expected the iBUG layout under {root}: lfpw/{{trainset,testset}}, "
                        "helen/{trainset,testset}, afw, ibug, 300W/{01_Indoor,02_Outdoor})", file=candidates[0])

    def subsets(self) -> Dict[str, np.ndarray]:
        n = len(self)
        if self.split in ("test", "full"):
            labels = np.array(self.subset_labels)
            out = {name: labels == name for name in ("common", "challenging")}
            out = {k: v for k, v in out.items() if v.any()}
            out["full"] = np.ones(n, bool)
            return out
        if self.split == "private":
            src = np.array([r.source for r in self.records])
            out = {name: src == name for name in ("indoor", "outdoor") if (src == name).any()}
            out["private"] = np.ones(n, bool)
            return out
        return {"all": np.ones(n, bool)}
