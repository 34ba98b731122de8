"""Dataset selection for training and evaluation (--dataset), wrapping raw samples with the crop
and augmentation pipeline and a per-(seed, epoch, index) random generator.

=========  ===========================  ======  ===================================================
name       loader                       scheme  splits
=========  ===========================  ======  ===================================================
synthetic  synthetic/                    "68"   train, val, test (procedural, ``num_samples`` each)
300w       ibug300w.py                   "68"   train (3148), test = full (689: common 554 +
                                                challenging 135), common, challenging, private
                                                (600), val, train-val
wflw       wflw.py                       "98"   train (7500), test (2500), val, train-val
cofw       cofw.py                       "29"   train, test (507), val, train-val
folder     folder.py                    68/98/29  all, train (90 %), test (10 %), val, train-val
                                        or --scheme
coco       coco.py                      the file's  all, train, test, val, train-val: the
                                        or --scheme  --annotations / --val-annotations /
                                                    --test-annotations files (coco.py)
=========  ===========================  ======  ===================================================

``scheme`` (--scheme: a scheme file or a built-in's name) reads any dataset in that scheme: its
own points when the counts agree (custom names for a 68-point folder; COCO files and folders of
any count), or through the scheme's ``[from.<the data's scheme>]`` (scheme_view.py: the synthetic
faces as any subset of their 68 points, WFLW as 68). A scheme that declares no flip pairs turns
the flip augmentation off.

"val" is the fixed crc32 ~5 % of "train" and is *included* in "train" (which stays the standard
training set); "train-val" is "train" without it (base.py). Real datasets need ``data_root``;
their ``num_samples`` is ignored (it sizes the synthetic set), ``limit`` keeps the first N items.

:func:`subsets_of` gives the evaluation subsets (name -> boolean mask over the dataset's items,
total row last) for per-subset tables: ``metrics.per_subset(nmes, subsets_of(ds), total=None)``.
"""
from dataclasses import replace
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from awing_ext.schemes import LandmarkScheme, get_scheme

from .coco import CocoKeypoints
from .cofw import COFW
from .folder import FolderDataset
from .ibug300w import IBUG300W
from .io import DataError
from .scheme_view import SchemeView
from .synthetic import SyntheticFaces
from ..core.geometry import CROP_SCALE
from .transforms import AugmentConfig, CropAndAugment
from .wflw import WFLW

DATASETS = ("synthetic", "300w", "wflw", "cofw", "folder", "coco")
REAL_DATASETS = {"300w": IBUG300W, "wflw": WFLW, "cofw": COFW, "folder": FolderDataset, "coco": CocoKeypoints}
ANNOTATION_OPTIONS = ("annotations", "val_annotations", "test_annotations")   # coco's files
_ROOT_HINT = {
    "300w": "the folder holding lfpw/, helen/, afw/, ibug/ (and 300W/01_Indoor, 300W/02_Outdoor)",
    "wflw": "the folder holding WFLW_annotations/ and WFLW_images/",
    "cofw": "the folder holding COFW_train_color.mat and COFW_test_color.mat",
    "folder": "a folder of images with .pts files beside them",
    "coco": "the folder the annotation file's image file_names are relative to",
}
# sample keys passed through the crop/augmentation to the batch when the raw sample has them
PASS_THROUGH = ("path", "subset", "occluded")


class AugmentedDataset(torch.utils.data.Dataset):
    """base[i] passed through `transform` with a generator seeded by (seed, epoch, i).

    Call set_epoch(e) before each epoch (the DataLoader re-pickles the dataset into its workers
    at the start of every epoch unless persistent_workers=True, which we do not use)."""

    def __init__(self, base, transform: CropAndAugment, seed: int = 0):
        self.base, self.transform, self.seed, self.epoch = base, transform, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        sample = self.base[index]
        out = self.transform(sample, rng)
        for key in PASS_THROUGH:
            if key in sample:
                out[key] = sample[key]
        if sample.get("det_box") is not None:   # the "bbox" normaliser's length, in crop pixels
            x0, y0, x1, y1 = sample["det_box"]
            scale = np.sqrt(abs(np.linalg.det(out["matrix"][:, :2].astype(np.float64))))
            out["box_size"] = np.float32(np.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0)) * scale)
        out["index"] = index
        return out


def build_base(name: str, split: str, data_root, **options):
    """The raw (uncropped) real dataset `name` split `split` under `data_root`; options go to the
    loader (skip_bad, check_images, crop, det_scale; cofw: visible_from_occlusion; folder:
    num_points, scheme; coco: annotations, val_annotations, test_annotations, scheme). Raises
    ValueError for an unknown name/split, DataError naming a missing root, folder or file."""
    if name not in REAL_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    if data_root is None or str(data_root) == "":
        raise ValueError(f"dataset {name!r} needs data_root (--data-root): {_ROOT_HINT[name]}")
    root = Path(data_root).expanduser()
    if not root.exists():
        raise DataError(f"dataset {name!r}: data root not found: {root} (expected {_ROOT_HINT[name]})", file=root)
    if not root.is_dir():
        raise DataError(f"dataset {name!r}: data root is not a folder: {root}", file=root)
    return REAL_DATASETS[name](root, split, **options)


def build_dataset(name: str, split: str, *, input_size: int, num_samples: Optional[int] = None,
                  augment: Optional[AugmentConfig] = None, seed: int = 0, data_root: Optional[str] = None,
                  skip_bad: bool = False, crop: str = "landmarks", limit: Optional[int] = None,
                  box_scale: float = CROP_SCALE, scheme=None, **options):
    """The named dataset's split, cropped (and augmented when `augment` is given) to input_size.

    `num_samples` sizes the synthetic set (ignored by real datasets); `limit` keeps the first N
    items of a real one (smoke runs); `skip_bad` skips (and logs, counts) bad files instead of
    raising; `crop` = "landmarks" (the landmarks' box x `box_scale`) or "detector" (wflw, cofw:
    the annotated face box x `options.get("det_scale", CROP_SCALE)`; coco always crops its bbox);
    `scheme` (a LandmarkScheme, a scheme file or a built-in's name) reads the data in that scheme
    (module docstring); coco's annotation files come in `options`. Returns (dataset, its
    LandmarkScheme), the scheme comparing equal to its name ("68")."""
    wanted = None if scheme is None else get_scheme(scheme)
    files = {k: v for k in ANNOTATION_OPTIONS if (v := options.pop(k, None)) is not None}
    if name != "coco" and files:
        raise ValueError(f"--{next(iter(files)).replace('_', '-')} applies to --dataset coco, not {name!r}")
    if name == "synthetic":
        base = SyntheticFaces(num_samples or 1000, image_size=int(input_size * CROP_SCALE), seed=seed, split=split)
        native = get_scheme("68")
    else:
        if name == "coco":
            options.update(files, scheme=wanted)
        elif name == "folder" and wanted is not None:
            options["scheme"] = wanted
        base = build_base(name, split, data_root, skip_bad=skip_bad, crop=crop, **options)
        if limit is not None:
            base.records = base.records[:max(int(limit), 0)]
        native = get_scheme(base.scheme)
    base, scheme = read_as(base, native, wanted, name, box_scale)
    if scheme.flip is None and augment is not None and augment.flip > 0:
        augment = replace(augment, flip=0.0)   # a scheme without flip pairs cannot be mirrored
    transform = CropAndAugment(input_size, scheme.flip, augment, box_scale=box_scale)
    return AugmentedDataset(base, transform, seed), scheme


def read_as(base, native: LandmarkScheme, wanted: Optional[LandmarkScheme], name: str, box_scale: float) -> tuple:
    """(raw dataset, scheme): `base`, annotated in `native`, read in `wanted` (module docstring);
    a DataError when `wanted` neither has native's point count nor maps from it."""
    if wanted is None or wanted == native:
        return base, native
    if wanted.mapping_from(native) is not None:
        return SchemeView(base, wanted, native, box_scale), wanted
    if wanted.num_points == native.num_points:
        return base, wanted
    raise DataError(f"scheme {wanted.name!r} ({wanted.source or 'built in'}) has {wanted.num_points} points, the "
                    f"{name} data has {native.num_points} (scheme {native.name!r}): declare [from.{native.name}] "
                    f"indices in the scheme file to read it from them")


def subsets_of(dataset) -> Dict[str, np.ndarray]:
    """Evaluation subsets of a dataset (as built by build_dataset, a raw loader, or a
    torch Subset of either): an ordered dict name -> boolean mask over its items, the total row
    last, empty subsets left out. 300W test/full: common, challenging, full; 300W private:
    indoor, outdoor, private; WFLW: pose, expression, illumination, make-up, occlusion, blur,
    all; anything else: all. Reads annotations only (no image is decoded).

    Use with ``metrics.per_subset(nmes, subsets_of(dataset), total=None)`` on the NMEs of the
    dataset's items in order (an unshuffled loader)."""
    if isinstance(dataset, torch.utils.data.Subset):
        idx = np.asarray(dataset.indices, dtype=np.int64)
        return {k: v[idx] for k, v in subsets_of(dataset.dataset).items() if v[idx].any()}
    base = dataset.base if isinstance(dataset, AugmentedDataset) else dataset
    if hasattr(base, "subsets"):
        return base.subsets()
    return {"all": np.ones(len(base), bool)}
