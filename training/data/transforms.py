"""Crop and augmentation done in the data workers: one cv2.warpAffine per sample.

A sample is a dict with an RGB uint8 image (H, W, 3) and landmarks (K, 2) as (x, y) image
pixels (pixel centres at integer coordinates). `CropAndAugment` maps it to the network's input:

* the crop is the landmarks' bounding box (or a given box), centred, made square with side
  `scale * max(w, h)` (`scale` = CROP_SCALE = 1.25 by default, the usual FAN margin), resized to `input_size`;
* training adds, as in the paper: rotation (±`rotate` degrees), scaling (±`scale_jitter`),
  translation (±`translate` of the crop side) and a horizontal flip with probability `flip` (the
  landmarks are mirrored and re-ordered with the scheme's left/right permutation); then colour
  jitter (brightness, contrast, per-channel gain); with probability `occlusion`, a random
  grey/noise rectangle over part of the face; with probability `blur`, a Gaussian blur (sigma
  uniform in [0, `blur_sigma`] crop pixels); with probability `noise`, additive Gaussian pixel
  noise (std uniform in [0, `noise_std`] x 255). The paper names blur, noise and occlusion
  without their ranges: the defaults here are this package's (docs/design.md).

All of it is one affine matrix applied to the image by one `cv2.warpAffine` and to the points by
the same matrix, so image and landmarks cannot drift apart. Randomness comes from an explicit
numpy Generator, so a (seed, epoch, index) triple always gives the same augmentation, whichever
worker draws it: that is what makes `--resume` reproduce an uninterrupted run.

Heatmap targets are *not* made here: the training loop renders them on its device from the
landmark batch (awing_ext.render_heatmaps / render_boundaries).
"""
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from ..core.geometry import CROP_SCALE, apply_affine, crop_box, crop_matrix  # noqa: F401  (the crop's names, here too)


@dataclass
class AugmentConfig:
    rotate: float = 30.0          # degrees, uniform in ±rotate (paper: 50)
    scale_jitter: float = 0.15    # relative, uniform in ±scale_jitter (paper: 0.15)
    translate: float = 0.08       # fraction of the crop side, uniform in ±translate
    flip: float = 0.5             # probability of a horizontal flip
    brightness: float = 0.25      # additive, fraction of 255
    contrast: float = 0.25        # multiplicative, 1 ± contrast
    occlusion: float = 0.3        # probability of a random occluding rectangle
    blur: float = 0.0             # probability of a Gaussian blur
    blur_sigma: float = 2.0       # its largest sigma, crop pixels (drawn uniformly in [0, blur_sigma])
    noise: float = 0.0            # probability of additive Gaussian pixel noise
    noise_std: float = 0.05       # its largest std, fraction of 255 (drawn uniformly in [0, noise_std])


NO_AUGMENT = AugmentConfig(rotate=0, scale_jitter=0, translate=0, flip=0, brightness=0, contrast=0, occlusion=0,
                           blur=0, noise=0)


class CropAndAugment:
    """Callable turning a raw sample into {"image": uint8 (3, S, S), "landmarks": float32 (K, 2), ...}.

    Args:
        input_size: the network's input side S.
        flip_permutation: the scheme's left/right permutation (required when augment.flip > 0).
        augment: an AugmentConfig, or None for evaluation (a deterministic centred crop).
        box_scale: crop side over the landmarks' bounding box side.
    The returned dict also holds "matrix" (2x3, image -> crop) so predictions can be mapped back.
    """

    def __init__(self, input_size: int, flip_permutation: Optional[Sequence[int]] = None,
                 augment: Optional[AugmentConfig] = None, box_scale: float = CROP_SCALE):
        self.input_size = input_size
        self.augment = augment or NO_AUGMENT
        self.box_scale = box_scale
        self.flip_permutation = None if flip_permutation is None else np.asarray(flip_permutation)
        if self.augment.flip > 0 and self.flip_permutation is None:
            raise ValueError("CropAndAugment: flip augmentation needs the scheme's flip permutation")

    def __call__(self, sample: dict, rng: Optional[np.random.Generator] = None) -> dict:
        image, landmarks = sample["image"], np.asarray(sample["landmarks"], dtype=np.float64)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"CropAndAugment: image must be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}")
        aug = self.augment
        rng = rng if rng is not None else np.random.default_rng(0)
        cx, cy, side = sample["box"] if sample.get("box") is not None else crop_box(landmarks, self.box_scale)
        rotation = rng.uniform(-aug.rotate, aug.rotate) if aug.rotate else 0.0
        side *= 1 + (rng.uniform(-aug.scale_jitter, aug.scale_jitter) if aug.scale_jitter else 0.0)
        if aug.translate:
            cx += rng.uniform(-aug.translate, aug.translate) * side
            cy += rng.uniform(-aug.translate, aug.translate) * side
        flip = bool(aug.flip and rng.random() < aug.flip)
        matrix = crop_matrix(cx, cy, side, self.input_size, rotation, flip)

        crop = cv2.warpAffine(image, matrix, (self.input_size, self.input_size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        points = apply_affine(landmarks, matrix)
        visible = np.asarray(sample.get("visible", np.ones(len(points))), dtype=np.float32)
        if flip:
            points, visible = points[self.flip_permutation], visible[self.flip_permutation]
        if aug.brightness or aug.contrast:
            crop = self._jitter_colour(crop, rng)
        if aug.occlusion and rng.random() < aug.occlusion:
            crop = self._occlude(crop, rng)
        # blur and noise draw from rng only when enabled, so runs without them replay as before
        if aug.blur and rng.random() < aug.blur:
            sigma = rng.uniform(0.0, aug.blur_sigma)
            if sigma > 0.05:
                crop = cv2.GaussianBlur(crop, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT_101)
        if aug.noise and rng.random() < aug.noise:
            std = rng.uniform(0.0, aug.noise_std) * 255
            crop = np.clip(crop + rng.normal(0.0, std, size=crop.shape), 0, 255).astype(np.uint8)
        return {
            "image": np.ascontiguousarray(crop.transpose(2, 0, 1)),
            "landmarks": points.astype(np.float32),
            "visible": visible,
            "matrix": matrix.astype(np.float32),
        }

    def _jitter_colour(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        aug = self.augment
        gain = (1 + rng.uniform(-aug.contrast, aug.contrast)) * rng.uniform(0.9, 1.1, size=3)
        offset = rng.uniform(-aug.brightness, aug.brightness) * 255
        mean = crop.reshape(-1, 3).mean(axis=0)
        out = (crop.astype(np.float32) - mean) * gain + mean + offset
        return np.clip(out, 0, 255).astype(np.uint8)

    def _occlude(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = self.input_size
        w, h = (rng.uniform(0.15, 0.4, size=2) * s).astype(int)
        x0, y0 = int(rng.uniform(0, s - w)), int(rng.uniform(0, s - h))
        out = crop.copy()
        if rng.random() < 0.5:
            out[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, size=3, dtype=np.uint8)
        else:
            out[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        return out
