"""What the models take as input: uint8 RGB crops scaled to [0, 1], then (x - mean) / std with the
mean and std of the model's config (FANConfig.input_mean / input_std).

Models trained here use mean 0.5, std 0.25 (inputs in [-2, 2]); models converted from the
authors' released checkpoints use mean 0, std 1 (pixel / 255). Training, evaluation, detection
and the exported models (whose JSON sidecar states the pair) all go through normalise_images.
"""
import torch
from torch import Tensor

IMAGE_MEAN = 0.5   # the default: models trained by this package
IMAGE_STD = 0.25


def normalise_images(images_uint8: Tensor, channels_last: bool = False, *, mean: float = IMAGE_MEAN,
                     std: float = IMAGE_STD) -> Tensor:
    """(N, 3, S, S) uint8 -> float32 (x / 255 - mean) / std, on the same device."""
    x = images_uint8.float().div_(255.0)
    if mean != 0.0 or std != 1.0:
        x = x.sub_(mean).div_(std)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def model_input(images_uint8: Tensor, config, channels_last: bool = False) -> Tensor:
    """normalise_images with the mean and std of a model's config."""
    return normalise_images(images_uint8, channels_last, mean=config.input_mean, std=config.input_std)
