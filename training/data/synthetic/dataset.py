"""`SyntheticFaces`, the built-in procedural dataset, and its `SPLITS`.

Sample i of a split is drawn from ``np.random.default_rng([seed, split_id, i])``, so it depends on
nothing else (any data-loader worker reproduces it) and the "train", "val" and "test" splits never
share a sample.
"""
import numpy as np
import torch

from .drawing import render_synthetic_face

__all__ = ["SPLITS", "SyntheticFaces"]

SPLITS = {"train": 0, "val": 1, "test": 2}


class SyntheticFaces(torch.utils.data.Dataset):
    """`num_samples` procedural faces (see training/data/synthetic); sample i of a split is drawn
    from ``np.random.default_rng([seed, split_id, i])`` (train 0, val 1, test 2), so it depends
    only on (seed, split, i, image_size) and the splits never overlap.

    Items: {"image": uint8 (S, S, 3) RGB, "landmarks": float32 (68, 2) (x, y) image pixels,
    "index": int}. Extra keyword arguments go to `render_synthetic_face`.
    """

    num_points = 68
    scheme = "68"

    def __init__(self, num_samples: int, image_size: int = 256, seed: int = 0, split: str = "train", **render_kwargs):
        if split not in SPLITS:
            raise ValueError(f"SyntheticFaces: split must be one of {tuple(SPLITS)}, got {split!r}")
        if num_samples < 0:
            raise ValueError(f"SyntheticFaces: num_samples must be >= 0, got {num_samples}")
        self.num_samples, self.image_size, self.seed, self.split = int(num_samples), int(image_size), int(seed), split
        self.render_kwargs = render_kwargs

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index) -> dict:
        index = int(index)
        if index < 0:
            index += self.num_samples
        if not 0 <= index < self.num_samples:
            raise IndexError(f"SyntheticFaces: index {index} out of range for {self.num_samples} samples")
        rng = np.random.default_rng([self.seed, SPLITS[self.split], index])
        image, landmarks = render_synthetic_face(rng, self.image_size, **self.render_kwargs)
        return {"image": image, "landmarks": landmarks, "index": index}
