"""Dataset selection for training and evaluation (--dataset), wrapping raw samples with the crop
and augmentation pipeline and a per-(seed, epoch, index) random generator."""
from typing import Optional

import numpy as np
import torch

from awing_ext.schemes import get_scheme

from .data.synthetic import SyntheticFaces
from .data.transforms import AugmentConfig, CropAndAugment

DATASETS = ("synthetic",)


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
        out = self.transform(self.base[index], rng)
        out["index"] = index
        return out


def build_dataset(name: str, split: str, *, input_size: int, num_samples: Optional[int] = None,
                  augment: Optional[AugmentConfig] = None, seed: int = 0, data_root: Optional[str] = None):
    """The named dataset's split, cropped (and augmented when `augment` is given) to input_size.

    Returns (dataset, scheme name)."""
    if name == "synthetic":
        base = SyntheticFaces(num_samples or 1000, image_size=int(input_size * 1.25), seed=seed, split=split)
        scheme = "68"
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    transform = CropAndAugment(input_size, get_scheme(scheme).flip, augment)
    return AugmentedDataset(base, transform, seed), scheme
