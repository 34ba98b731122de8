"""The heatmap codec: landmarks <-> training targets and predicted heatmaps -> landmarks, in one
object (as mmpose's codecs/msra_heatmap.py keeps encoding and decoding together).

Coordinates (docs/design.md, "Conventions"): the data pipeline gives landmarks in *crop* pixels
of the S x S network input; heatmaps are H = S/4 pixels wide. With pixel centres at integer
coordinates the two relate by
    x_hm = (x_crop + 0.5) * H / S - 0.5,   x_crop = (x_hm + 0.5) * S / H - 0.5.

* encode: (N, K, 2) crop landmarks + (N, K) visibility -> (N, K [+1], H, H) targets (Gaussian
  heatmaps, the boundary heatmap last when the model has one) and (N, K [+1]) channel weights,
  rendered on the landmarks' device by awing_ext's kernels.
* decode: (N, >= K, H, H) heatmaps -> (N, K, 2) crop landmarks and (N, K) scores by
  awing_ext.decode_heatmaps with one of its methods: "dark" (the default: DARK's modulation, then
  its Taylor step), "taylor", "quarter" or "integral", the codec's sigma setting DARK's smoothing
  and integral's window. Every method's score is the plane's maximum.
* low_confidence: the points whose score (heatmap peak) is below LOW_CONFIDENCE_THRESHOLD: a
  plane the model left flat, whose decoded point is the argmax of noise (an all-zero plane
  decodes to the top-left pixel). 0.2 is the loss map's threshold (--loss-map-threshold): the
  value below which AWing itself treats a pixel as background. A visible landmark's target peaks
  at >= 0.78 (sigma 1, any sub-pixel centre).
"""
import math
import numbers
from dataclasses import dataclass, replace
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

import awing_ext
from awing_ext.schemes import LandmarkScheme, get_scheme

DECODE_METHODS = awing_ext.DECODE_METHODS
LOW_CONFIDENCE_THRESHOLD = 0.2   # module docstring
# --decode's help, shared by evaluate and detect
DECODE_HELP = ("heatmaps -> points (docs/evaluation.md): dark (DARK: Gaussian modulation, then the Taylor step of "
               "the log-heatmap), taylor (the Taylor step alone), quarter (argmax + 1/4 px, the paper's code), "
               "integral (the integral term's relu(h) expectation in a ceil(3 sigma) window)")


def add_decode_option(parser, default: Optional[str] = "dark", note: str = "") -> None:
    """--decode, as evaluate and detect take it: one of DECODE_METHODS, with DECODE_HELP (+ `note`)."""
    parser.add_argument("--decode", default=default, choices=DECODE_METHODS, help=DECODE_HELP + note)


# How a consumer decodes a model's heatmaps: "identity" (the heatmaps are the scores) or
# "sigmoid" (they are logits: a --loss focal model).
HEATMAP_ACTIVATIONS = ("identity", "sigmoid")


def decoding_record(loss: str, sigma: float) -> dict:
    """The "decoding" entry a training run writes into its checkpoints: {"activation", "sigma"}."""
    return {"activation": "sigmoid" if loss == "focal" else "identity", "sigma": float(sigma)}


def checkpoint_decoding(checkpoint: dict, source: str = "checkpoint") -> Tuple[bool, float]:
    """(logits, sigma): what decoding a checkpoint's heatmaps needs, read in this one place (the
    trainer, evaluate, the Predictor, export and the benchmarks use it). A checkpoint written since
    0.4 records it ("decoding"); an older one has it worked out from its training options as
    before (--loss focal -> logits; --sigma, default 1). ValueError naming `source` for a record
    that is not valid."""
    stored = checkpoint.get("decoding")
    if stored is None:
        config = checkpoint.get("config") or {}
        stored = decoding_record(config.get("loss", "awing"), config.get("sigma", 1.0))
    activation, sigma = stored.get("activation"), stored.get("sigma")
    if activation not in HEATMAP_ACTIVATIONS or isinstance(sigma, bool) or not isinstance(sigma, (int, float)) \
            or not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"{source}: its decoding record {stored!r} is not valid (activation one of "
                         f"{', '.join(HEATMAP_ACTIVATIONS)}, sigma a finite number > 0)")
    return activation == "sigmoid", float(sigma)


def low_confidence(scores: Tensor, threshold: float = LOW_CONFIDENCE_THRESHOLD) -> Tensor:
    """(N, K) bool: the points whose heatmap peak is below `threshold` (NaN peaks included)."""
    return ~(scores >= threshold)


@dataclass(frozen=True)
class HeatmapCodec:
    input_size: int                         # S: the crop side in pixels
    heatmap_size: int                       # H: the heatmap side in pixels (S / 4 for the FAN)
    sigma: float = 1.0                      # Gaussian sigma of landmark heatmaps, heatmap pixels
    boundary_scheme: Optional[Union[str, LandmarkScheme]] = "68"   # its curves: the boundary channel (None: none)
    boundary_sigma: float = 1.0
    decode_method: str = "dark"             # one of DECODE_METHODS
    logits: bool = False                    # heatmaps are logits (a --loss focal model): decode sigmoid(heatmaps)

    def __post_init__(self):
        if self.decode_method not in DECODE_METHODS:
            raise ValueError(f"decode_method must be one of {', '.join(DECODE_METHODS)}, got {self.decode_method!r}")
        sigma = self.sigma
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"sigma must be a finite number > 0, got {self.sigma!r}")

    @classmethod
    def for_model(cls, config, scheme: Union[str, LandmarkScheme], sigma: float = 1.0) -> "HeatmapCodec":
        """The codec of a model config (its input size, S/4 heatmaps, a boundary channel or not)
        for a landmark scheme (a name or a LandmarkScheme: its curves draw the boundary channel)."""
        if config.boundary and not get_scheme(scheme).curves:
            raise ValueError(f"the model has a boundary heatmap channel but the scheme {get_scheme(scheme).name!r} "
                             f"has no [curves] to draw it")
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
        coords, scores = awing_ext.decode_heatmaps(heat, self.decode_method, sigma=self.sigma)
        return self.heatmap_to_crop(coords), scores


def codec_for(checkpoint: dict, model_config, scheme, decode_method: str = "dark",
              source: str = "checkpoint") -> HeatmapCodec:
    """The HeatmapCodec of a checkpoint's model: its sizes and boundary channel (model_config), the
    landmark scheme, and checkpoint_decoding's activation and sigma."""
    logits, sigma = checkpoint_decoding(checkpoint, source)
    return replace(HeatmapCodec.for_model(model_config, scheme, sigma), decode_method=decode_method, logits=logits)
