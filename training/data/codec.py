"""The heatmap codec: landmarks <-> training targets and predicted heatmaps -> landmarks, in one
object (as mmpose's codecs/msra_heatmap.py keeps encoding and decoding together).

Coordinates (docs/design.md, "Conventions"): the data pipeline gives landmarks in *crop* pixels
of the S x S network input; heatmaps are H = S/4 pixels wide. With pixel centres at integer
coordinates the two relate by
    x_hm = (x_crop + 0.5) * H / S - 0.5,   x_crop = (x_hm + 0.5) * S / H - 0.5.

* encode: (N, K, 2) crop landmarks + (N, K) visibility -> (N, K [+1], H, H) targets (Gaussian
  heatmaps, the boundary heatmap last when the model has one) and (N, K [+1]) channel weights,
  rendered on the landmarks' device by awing_ext's kernels.
* decode: (N, >= K, H, H) heatmaps -> (N, K, 2) crop landmarks and (N, K) scores (DARK by default).
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor

import awing_ext


@dataclass(frozen=True)
class HeatmapCodec:
    input_size: int                         # S: the crop side in pixels
    heatmap_size: int                       # H: the heatmap side in pixels (S / 4 for the FAN)
    sigma: float = 1.0                      # Gaussian sigma of landmark heatmaps, heatmap pixels
    boundary_scheme: Optional[str] = "68"   # landmark scheme of the boundary channel; None: no channel
    boundary_sigma: float = 1.0
    decode_method: str = "dark"             # awing_ext.decode_heatmaps method

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
        coords, scores = awing_ext.decode_heatmaps(heatmaps[:, :num_landmarks].float(), self.decode_method)
        return self.heatmap_to_crop(coords), scores
