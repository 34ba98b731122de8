"""The heatmap codec: landmarks <-> training targets and predicted heatmaps -> landmarks, in one
object (as mmpose's codecs/msra_heatmap.py keeps encoding and decoding together).

Coordinates (docs/design.md, "Conventions"): the data pipeline gives landmarks in *crop* pixels
of the S x S network input; heatmaps are H = S/4 pixels wide. With pixel centres at integer
coordinates the two relate by
    x_hm = (x_crop + 0.5) * H / S - 0.5,   x_crop = (x_hm + 0.5) * S / H - 0.5.

* encode: (N, K, 2) crop landmarks + (N, K) visibility -> (N, K [+1], H, H) targets (Gaussian
  heatmaps, the boundary heatmap last when the model has one) and (N, K [+1]) channel weights,
  rendered on the landmarks' device by awing_ext's kernels.
* decode: (N, >= K, H, H) heatmaps -> (N, K, 2) crop landmarks and (N, K) scores, by one of
  DECODE_METHODS: "dark" (the default) and "quarter" are awing_ext.decode_heatmaps' methods;
  "integral" is awing_ext.soft_argmax (integral regression, Sun et al. ECCV 2018), the expectation
  of the pixel coordinates under softmax(decode_beta * heatmap). Every method's score is the
  plane's maximum (decode_heatmaps' score: the value at the first argmax pixel, NaN ignored).

decode_beta, measured on rendered targets (sigma 1, peak 1, random sub-pixel centres >= 4 px from
the border, tests/training/data/test_codec_decode.py): below ~15 the flat background pulls points
towards the plane's centre (beta 10 on 64 x 64: mean error 4.6 px); above it the softmax narrows
to the argmax pixel (beta 200: mean 0.37 px, near the argmax pixel's 0.39). The default, 30,
gives 0.30 px mean / 0.47 px max on 16-64 px planes, and stays there when the peak is lower (a
network less sure of a point): a 0.5 peak on 64 x 64 is 0.22 px mean at beta 30, but 0.64 px at
25 and 4.4 px at 20.
On real predictions background noise and second modes weigh in as exp(beta * value): the larger
beta, the closer integral gets to the argmax. DARK stays the exact decoder for Gaussian peaks.
"""
import math
import numbers
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor

import awing_ext

DECODE_METHODS = ("dark", "quarter", "integral")
DEFAULT_DECODE_BETA = 30.0   # integral's softmax sharpness (module docstring)


@dataclass(frozen=True)
class HeatmapCodec:
    input_size: int                         # S: the crop side in pixels
    heatmap_size: int                       # H: the heatmap side in pixels (S / 4 for the FAN)
    sigma: float = 1.0                      # Gaussian sigma of landmark heatmaps, heatmap pixels
    boundary_scheme: Optional[str] = "68"   # landmark scheme of the boundary channel; None: no channel
    boundary_sigma: float = 1.0
    decode_method: str = "dark"             # one of DECODE_METHODS
    decode_beta: float = DEFAULT_DECODE_BETA  # integral's softmax sharpness; unused by the others
    logits: bool = False                    # heatmaps are logits (a --loss focal model): decode sigmoid(heatmaps)

    def __post_init__(self):
        if self.decode_method not in DECODE_METHODS:
            raise ValueError(f"decode_method must be one of {', '.join(DECODE_METHODS)}, got {self.decode_method!r}")
        beta = self.decode_beta
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not math.isfinite(beta) or beta <= 0:
            raise ValueError(f"decode_beta must be a finite number > 0, got {self.decode_beta!r}")

    @classmethod
    def for_model(cls, config, scheme: str, sigma: float = 1.0) -> "HeatmapCodec":
        """The codec of a FAN config (its input size, S/4 heatmaps, a boundary channel or not)."""
        return cls(config.input_size, config.heatmap_size, sigma,
                   boundary_scheme=scheme if config.boundary else None)

    def crop_to_heatmap(self, points: Tensor) -> Tensor:
        return (points + 0.5) * (self.heatmap_size / self.input_size) - 0.5

    def heatmap_to_crop(self, points: Tensor) -> Tensor:
        return (points + 0.5) * (self.input_size / self.heatmap_size) - 0.5

    def encode(self, landmarks: Tensor, visible: Tensor) -> Tuple[Tensor, Tensor]:
        """Targets (N, K [+1], H, H) and channel weights (N, K [+1]) on landmarks' device.

        Invisible landmarks get an all-zero heatmap and weight 0; the boundary channel weight 1.
        """
        pts = self.crop_to_heatmap(landmarks.float())
        heat = awing_ext.render_heatmaps(pts, self.heatmap_size, self.sigma, visible=visible)
        weights = visible.float()
        if self.boundary_scheme is None:
            return heat, weights
        # invisible points are left out of the boundary curves (NaN drops the spans that touch them)
        curve_pts = torch.where(visible[..., None] > 0, pts, torch.full_like(pts, float("nan")))
        boundary = awing_ext.render_boundaries(curve_pts, self.boundary_scheme, self.heatmap_size,
                                               sigma=self.boundary_sigma)
        ones = torch.ones_like(weights[:, :1])
        return torch.cat([heat, boundary], dim=1), torch.cat([weights, ones], dim=1)

    def decode(self, heatmaps: Tensor, num_landmarks: int) -> Tuple[Tensor, Tensor]:
        """Landmarks (N, K, 2) in crop pixels and scores (N, K) from the first K channels."""
        heat = heatmaps[:, :num_landmarks].float()
        if self.logits:   # the probabilities the focal loss trained; also DARK's log needs values > 0
            heat = torch.sigmoid(heat)
        if self.decode_method == "integral":
            coords = awing_ext.soft_argmax(heat, self.decode_beta)
            scores = awing_ext.decode_heatmaps(heat, "quarter")[1]   # the peak value, as dark's score
        else:
            coords, scores = awing_ext.decode_heatmaps(heat, self.decode_method)
        return self.heatmap_to_crop(coords), scores
