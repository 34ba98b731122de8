"""Landmarks for applications: load a checkpoint once, then predict on images of any size.

    from training.infer.predictor import Predictor
    predictor = Predictor.from_checkpoint("runs/<run>/best.pt", device="cuda", flip_test=True)
    out = predictor.predict([image_a, image_b], boxes=[(x, y, w, h), None])
    out.landmarks   # (N, K, 2) float64, image pixels (pixel centres at integers)
    out.scores      # (N, K) heatmap peaks, higher = more confident
    out.low_confidence   # (N, K) bool: peak below 0.2, a flat plane whose point is a guess

    faces = predictor.detect("group.jpg")   # every face: detector (training.detect's) + landmarks
    faces.boxes, faces.landmarks, faces.scores, faces.low_confidence

    predictor = Predictor.from_onnx("model.onnx")   # an export run by onnxruntime (no torch model)

One face per image in ``predict``. `images`: RGB uint8 arrays (H, W, 3) of any sizes (grey (H, W)
and RGBA are converted), or image file paths. `boxes`: per image the face's *landmark box* (x, y, w, h), the
tight box around its landmarks as training crops it (scale 1.25 around it), or None to take the
image itself as the crop (a face already cropped: its centre, side = its larger side). Faces from
a detector: ``predict_crops`` with training.infer.face_detector's crops (which may carry a roll angle).

Every prediction of the package goes through ``crop_landmarks`` below: evaluation
(training/eval/protocol.py), training's validation, detect (stills, folders, video) and this class.
The flip test (``flip_test=True``, evaluate/detect ``--flip-test``) also runs the mirrored crop,
mirrors its heatmaps back, re-orders them with the scheme's left/right permutation and averages
them with the plain heatmaps before decoding (as mmpose and HRNet evaluate). With pixel centres
at integer coordinates, mirroring the S-px input is x -> S-1-x and mirroring the H-px heatmap is
exactly x -> H-1-x, so no half-pixel shift is needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch import Tensor

from awing_ext.schemes import LandmarkScheme, get_scheme

from ..core.checkpoint import check_finite_weights, checkpoint_scheme, load_checkpoint
from ..core.codec import HeatmapCodec, checkpoint_decoding, low_confidence
from ..data.io import load_image_rgb, to_rgb_uint8
from ..core.geometry import CROP_SCALE, Crop, apply_affine, box_to_crop, crop_matrix, image_as_crop
from ..models.inputs import model_input
from ..models.loading import load_model
from ..core.runtime import resolve_device

__all__ = ["CROP_SCALE", "Crop", "Predictions", "Detections", "Predictor", "box_to_crop", "image_as_crop",
           "as_rgb_image", "flip_permutation_of", "crop_landmarks"]

ImageLike = Union[np.ndarray, str, Path]


def as_rgb_image(image: ImageLike) -> np.ndarray:
    """RGB uint8 (H, W, 3) from a file path or an array: grey (H, W) or (H, W, 1) is repeated, RGBA
    loses its alpha; anything else (other dtypes, empty images) is a ValueError saying what it got."""
    if isinstance(image, (str, Path)):
        return load_image_rgb(image)
    if isinstance(image, torch.Tensor):
        raise TypeError("images are numpy arrays (H, W, 3) RGB uint8 or file paths, got a torch.Tensor "
                        "(use tensor.permute(1, 2, 0).cpu().numpy() for a (3, H, W) tensor)")
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"images must be uint8 RGB (H, W, 3), got dtype {array.dtype}")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValueError(f"images must be (H, W, 3) RGB (or grey (H, W), RGBA), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"empty image, shape {array.shape}")
    return to_rgb_uint8(array, bgr=False)


def flip_permutation_of(scheme: Union[int, str, LandmarkScheme]) -> Tuple[int, ...]:
    """The left/right permutation of the model's landmark scheme (a LandmarkScheme, or a built-in
    one's name or number of points: 68, 98, 29)."""
    try:
        found = get_scheme(scheme)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"the flip test needs a landmark scheme with a left/right permutation; a model with "
                         f"{scheme} points has none ({exc})") from None
    if found.flip is None:
        raise ValueError(f"the flip test needs a landmark scheme with a left/right permutation; the scheme "
                         f"{found.name!r} declares no flip pairs")
    return found.flip


# ---------------------------------------------------------------------------------------- the model
@torch.no_grad()
def crop_landmarks(model: torch.nn.Module, crops_uint8: Tensor, codec: HeatmapCodec,
                   flip_permutation: Optional[Sequence[int]] = None,
                   channels_last: bool = False, dtype: Optional[torch.dtype] = None) -> Tuple[Tensor, Tensor]:
    """The one prediction: (N, 3, S, S) uint8 crops on the model's device -> landmarks (N, K, 2) in
    crop pixels and scores (N, K), from the last stack's heatmaps (flip-averaged when a permutation
    is given). `dtype`: the model's dtype (its input is cast to it); the decoding is float32."""
    k = model.config.num_landmarks

    def heatmaps(crops: Tensor) -> Tensor:
        x = model_input(crops, model.config, channels_last)
        return model(x if dtype is None else x.to(dtype))[-1][:, :k].float()

    heat = heatmaps(crops_uint8)
    if flip_permutation is not None:
        mirrored = heatmaps(crops_uint8.flip(-1))
        perm = torch.as_tensor(list(flip_permutation), device=heat.device)
        heat = (heat + mirrored.flip(-1)[:, perm]) * 0.5
    return codec.decode(heat, k)


@dataclass
class Predictions:
    landmarks: np.ndarray   # (N, K, 2) float64, image pixels
    scores: np.ndarray      # (N, K) float32, heatmap peak values
    crops: np.ndarray       # (N, 4) float64: cx, cy, side, angle of the crop each face was seen in

    @property
    def low_confidence(self) -> np.ndarray:
        """(N, K) bool: the points whose heatmap peak is below codec.LOW_CONFIDENCE_THRESHOLD (0.2):
        planes the model left flat, whose landmark is a guess."""
        return low_confidence(torch.from_numpy(np.asarray(self.scores, dtype=np.float32))).numpy()

    def __len__(self) -> int:
        return len(self.landmarks)


@dataclass
class Detections(Predictions):
    """The faces the detector found in one image (Predictor.detect), largest first."""
    boxes: np.ndarray             # (N, 4) float64: the detector's box (x, y, w, h), image pixels
    detector_scores: np.ndarray   # (N,) float64: the detector's confidence (Haar: 1)


def _is_one_image(images) -> bool:
    return isinstance(images, (str, Path)) or (isinstance(images, np.ndarray) and images.ndim in (2, 3))


class _OnnxHeatmaps:
    """An ONNX heatmap export as crop_landmarks' model: model(x) -> [heatmaps]."""

    def __init__(self, onnx_model):
        self.onnx_model, self.config = onnx_model, onnx_model.config

    def __call__(self, x: Tensor) -> list:
        return [torch.from_numpy(self.onnx_model(x)["heatmaps"])]


class Predictor:
    """A model loaded once, predicting landmarks on images in image coordinates (module docstring).

    Args:
        model: a FAN (training.models) in eval mode, on `device`.
        device: where it runs (default: where the model's weights are).
        flip_test: also predict on the mirrored crop and average (2x the compute).
        batch_size: crops per forward pass.
        decode_method: "dark" (default), "taylor", "quarter" or "integral" (awing_ext.decode_heatmaps).
        heatmap_sigma: the training targets' sigma in heatmap pixels (dark's smoothing, integral's
            window; from_checkpoint reads it from the checkpoint's training options).
        heatmap_logits: the model outputs logits (trained with --loss focal): decode their sigmoid
            (from_checkpoint reads this from the checkpoint's training options).
        scheme: the model's landmark scheme (its point names, its flip for the flip test; default:
            the built-in scheme of the model's point count; from_checkpoint reads the stored one).
        channels_last: run the model in the channels-last memory format (weights and inputs; faster
            on CPUs with oneDNN: docs/prediction.md, "Speed").
        dtype: the dtype to run the model in (its weights are converted in place, the input cast);
            the decoding stays float32. torch.bfloat16 with channels_last, on a CPU with native
            bf16 (AVX512-BF16, AMX), is the fastest CPU path measured (docs/prediction.md, "Speed");
            it moves the points a little (measured there).
        detector: what ``detect`` finds faces with: a callable image -> list of
            training.infer.face_detector.Face (default: training.detect's, the Haar passes, built
            on first use).

    ``Predictor.from_onnx`` runs an exported ONNX file with onnxruntime instead of a torch model.
    """

    def __init__(self, model: torch.nn.Module, device: Optional[Union[str, torch.device]] = None, *,
                 flip_test: bool = False, batch_size: int = 32, decode_method: str = "dark",
                 heatmap_sigma: float = 1.0, heatmap_logits: bool = False,
                 scheme: Optional[Union[str, LandmarkScheme]] = None, channels_last: bool = False,
                 dtype: Optional[torch.dtype] = None, detector: Optional[Callable] = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        check_finite_weights(model.state_dict(), "Predictor")
        self.model = model.eval()
        self.channels_last = bool(channels_last)
        self.dtype = None if dtype in (None, torch.float32) else dtype
        if self.dtype is not None:
            self.model.to(dtype=self.dtype)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if device is None:   # where the model's weights are (CPU for a model without any)
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.device = torch.device(device)
        self.backend = "torch"
        self._setup(model.config, batch_size, flip_test, decode_method, heatmap_sigma, heatmap_logits, detector,
                    scheme)

    def _setup(self, config, batch_size: int, flip_test: bool, decode_method: str, heatmap_sigma: float,
               heatmap_logits: bool, detector: Optional[Callable], scheme=None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.config = config
        self.batch_size = batch_size
        self.codec = HeatmapCodec(config.input_size, config.heatmap_size, heatmap_sigma, boundary_scheme=None,
                                  decode_method=decode_method, logits=heatmap_logits)
        self.scheme = self._scheme(scheme)
        self.flip_permutation = flip_permutation_of(self.scheme or self.config.num_landmarks) if flip_test else None
        self._detector = detector

    def _scheme(self, scheme) -> Optional[LandmarkScheme]:
        k = self.config.num_landmarks
        if scheme is None:
            try:
                return get_scheme(k)
            except ValueError:
                return None   # a model of a custom count made in code: its points go unnamed
        scheme = get_scheme(scheme)
        if scheme.num_points != k:
            raise ValueError(f"the scheme {scheme.name!r} has {scheme.num_points} points, the model predicts {k}")
        return scheme

    @property
    def point_names(self) -> Tuple[str, ...]:
        """The names of the predicted points, in order (point_<i> when the scheme is unknown)."""
        return self.scheme.point_names if self.scheme is not None else tuple(
            f"point_{i}" for i in range(self.num_landmarks))

    @classmethod
    def from_checkpoint(cls, path, device: Union[str, torch.device] = "auto", **kwargs) -> "Predictor":
        """Loads a checkpoint written by training.train (or training.convert) once (its digest
        verified; weights with NaN or inf refused: training.core.checkpoint)."""
        device = resolve_device(device) if isinstance(device, str) else device
        checkpoint = load_checkpoint(path, map_location=device)
        model = load_model(checkpoint, device, str(path))
        logits, sigma = checkpoint_decoding(checkpoint, str(path))
        kwargs.setdefault("heatmap_logits", logits)
        kwargs.setdefault("heatmap_sigma", sigma)
        kwargs.setdefault("scheme", checkpoint_scheme(checkpoint, str(path)))
        return cls(model, device, **kwargs)

    @classmethod
    def from_onnx(cls, path, *, flip_test: bool = False, batch_size: int = 32, decode_method: Optional[str] = None,
                  providers: Optional[Sequence[str]] = None, threads: Optional[int] = None,
                  detector: Optional[Callable] = None) -> "Predictor":
        """A Predictor on a file ``python -m training.export --format onnx`` wrote, run by
        onnxruntime (CPUExecutionProvider unless `providers` says otherwise; `threads`: its
        intra-op threads). Same crops, same geometry and the same landmarks as from_checkpoint
        (within float tolerance). A --with-decoding export decodes in its graph: `decode_method`
        must be None or its method, and the flip test (which averages heatmaps) needs a heatmap
        export; a heatmap export is decoded with awing_ext like a checkpoint (its recorded
        activation and sigma; `decode_method` default "dark"). Without onnxruntime: an ImportError
        (OnnxRuntimeMissing) whose message is one line."""
        from .onnx_model import OnnxModel
        model = OnnxModel(path, providers=providers, threads=threads)
        if model.decoded:
            if decode_method not in (None, model.decode_method):
                raise ValueError(f"{path} decodes with {model.decode_method!r} in its graph; decode_method "
                                 f"{decode_method!r} needs another export (--decode {decode_method}) or a heatmap "
                                 f"export")
            if flip_test:
                raise ValueError(f"{path} decodes in its graph, and the flip test averages heatmaps: export without "
                                 f"--with-decoding to run the flip test")
            decode_method = model.decode_method
        self = cls.__new__(cls)
        self.model, self.device, self.backend = model, torch.device("cpu"), "onnxruntime"
        self.channels_last, self.dtype = False, None
        self._setup(model.config, batch_size, flip_test, decode_method or "dark", model.sigma, model.logits, detector,
                    getattr(model, "scheme", None))
        return self

    @property
    def num_landmarks(self) -> int:
        return self.config.num_landmarks

    def predict(self, images: Union[ImageLike, Sequence[ImageLike]],
                boxes: Optional[Sequence[Optional[Sequence[float]]]] = None) -> Predictions:
        """Landmarks of one face per image (module docstring). A single image (an (H, W, 3) array or a
        path) is a batch of one; a (N, H, W, 3) array a batch of N."""
        if _is_one_image(images):
            images = [images]
        images = [as_rgb_image(im) for im in images]
        if boxes is None:
            boxes = [None] * len(images)
        if len(boxes) != len(images):
            raise ValueError(f"got {len(images)} images and {len(boxes)} boxes: give one box (or None) per image")
        crops = [image_as_crop(im) if b is None else box_to_crop(b) for im, b in zip(images, boxes)]
        return self.predict_crops(images, crops)

    def predict_crops(self, images: Sequence[np.ndarray], crops: Sequence[Crop]) -> Predictions:
        """Landmarks for crops[i] of images[i] (RGB uint8 arrays; the same image may appear for each
        of its faces). A crop is (cx, cy, side) or (cx, cy, side, angle) in image pixels / degrees."""
        if len(images) != len(crops):
            raise ValueError(f"got {len(images)} images and {len(crops)} crops")
        k, s = self.num_landmarks, self.config.input_size
        if not len(images):
            return Predictions(np.zeros((0, k, 2)), np.zeros((0, k), np.float32), np.zeros((0, 4)))
        crops4 = np.array([_crop4(c) for c in crops], dtype=np.float64)
        mats = [crop_matrix(cx, cy, side, s, angle) for cx, cy, side, angle in crops4]
        points, scores = [], []
        for start in range(0, len(images), self.batch_size):
            chunk = range(start, min(start + self.batch_size, len(images)))
            batch = np.stack([cv2.warpAffine(as_rgb_image(images[i]), mats[i], (s, s), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
                              for i in chunk]).transpose(0, 3, 1, 2)
            coords, conf = self._crop_landmarks(torch.from_numpy(batch))
            points += [apply_affine(c, cv2.invertAffineTransform(mats[i]))
                       for c, i in zip(coords.astype(np.float64), chunk)]
            scores.append(conf)
        return Predictions(np.stack(points), np.concatenate(scores), crops4)

    def _crop_landmarks(self, crops_uint8: Tensor) -> Tuple[np.ndarray, np.ndarray]:
        """(N, 3, S, S) uint8 crops (CPU) -> crop landmarks (N, K, 2) and scores (N, K), float32."""
        if self.backend == "torch":
            fast = {**({"channels_last": True} if self.channels_last else {}),
                    **({"dtype": self.dtype} if self.dtype is not None else {})}
            coords, scores = crop_landmarks(self.model, crops_uint8.to(self.device), self.codec, self.flip_permutation,
                                            **fast)
        elif self.model.decoded:
            coords, scores = self.model.landmarks(model_input(crops_uint8, self.config))
        else:
            coords, scores = crop_landmarks(_OnnxHeatmaps(self.model), crops_uint8, self.codec, self.flip_permutation)
        as_numpy = lambda t: t.cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)   # noqa: E731
        return as_numpy(coords), as_numpy(scores)

    @property
    def detector(self) -> Callable:
        """What ``detect`` finds faces with (training.detect's Haar passes unless one was given)."""
        if self._detector is None:
            from .face_detector import build_detector
            self._detector = build_detector()
        return self._detector

    @detector.setter
    def detector(self, value: Optional[Callable]) -> None:
        self._detector = value

    def detect(self, images: Union[ImageLike, Sequence[ImageLike]], max_faces: int = 0
               ) -> Union[Detections, List[Detections]]:
        """Every face of an image in one call: the detector's boxes (``self.detector``,
        training.detect's by default), the crops it gives, and each face's landmarks (image
        pixels), scores and low-confidence flags, largest face first. `max_faces` > 0 keeps the
        largest N. One image (an array or a path) gives a Detections (empty when no face is
        found); a list of images gives one per image, their faces predicted in shared batches."""
        one = _is_one_image(images)
        images = [as_rgb_image(im) for im in ([images] if one else images)]
        found = []
        for image in images:
            faces = list(self.detector(image))
            found.append(faces[:max_faces] if max_faces > 0 else faces)
        flat = [(i, face) for i, faces in enumerate(found) for face in faces]
        out = self.predict_crops([images[i] for i, _ in flat], [face.crop for _, face in flat])
        results, start = [], 0
        for faces in found:
            part = slice(start, start + len(faces))
            start += len(faces)
            results.append(Detections(out.landmarks[part], out.scores[part], out.crops[part],
                                       np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4),
                                       np.array([f.score for f in faces], dtype=np.float64)))
        return results[0] if one else results


def _crop4(crop: Sequence[float]) -> Tuple[float, float, float, float]:
    values = [float(v) for v in crop]
    if len(values) not in (3, 4):
        raise ValueError(f"a crop is (cx, cy, side) or (cx, cy, side, angle), got {tuple(crop)!r}")
    if not np.all(np.isfinite(values)) or values[2] <= 0:
        raise ValueError(f"a crop needs finite values and side > 0, got {tuple(crop)!r}")
    return tuple(values + [0.0] * (4 - len(values)))
