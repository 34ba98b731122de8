"""What the models take as input: uint8 RGB crops scaled to [0, 1] and centred, (x / 255 - 0.5) / 0.25.

Training, evaluation, detection and the exported models (whose JSON sidecar states it) all go
through normalise_images, so there is one definition of the input.
"""
from torch import Tensor
import torch

IMAGE_MEAN = 0.5
IMAGE_STD = 0.25


def normalise_images(images_uint8: Tensor, channels_last: bool = False) -> Tensor:
    """(N, 3, S, S) uint8 -> float32 normalised, on the same device."""
    x = images_uint8.float().div_(255.0).sub_(IMAGE_MEAN).div_(IMAGE_STD)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
