"""An exported ONNX model run by onnxruntime, for the Predictor (``Predictor.from_onnx``) and
``detect --onnx``.

The file is one ``python -m training.export --format onnx`` wrote; its metadata property "awing"
(or, for a file without it, the JSON sidecar beside it) gives the model config (input size,
normalisation, K), and the decoding: a ``--with-decoding`` graph outputs "landmarks" (crop
pixels) and "scores" itself; a heatmap graph outputs "heatmaps", which the Predictor decodes
with awing_ext as for a checkpoint (with the recorded activation and sigma).

onnxruntime is an optional dependency (the ``onnx`` extra: ``pip install "awing[onnx]"``);
without it, loading raises OnnxRuntimeMissing, whose message is one line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from awing_ext.scheme_file import parse_scheme

from ..models import config_from_dict

__all__ = ["OnnxRuntimeMissing", "OnnxModel", "import_onnxruntime"]

METADATA_KEY = "awing"   # training.export.METADATA_KEY


class OnnxRuntimeMissing(ImportError):
    """onnxruntime is not installed."""


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise OnnxRuntimeMissing("running an ONNX model needs onnxruntime: pip install \"awing[onnx]\" "
                                 "(or pip install onnxruntime)") from None
    return onnxruntime


class OnnxModel:
    """An exported model in an onnxruntime session: ``model(images)`` takes normalised float32
    (N, 3, S, S) images and returns {output name: array}.

    Args:
        path: the .onnx file.
        providers: onnxruntime execution providers (default: CPUExecutionProvider).
        threads: intra-op threads (default: onnxruntime's, one per core).
    """

    def __init__(self, path: Union[str, Path], providers: Optional[Sequence[str]] = None,
                 threads: Optional[int] = None):
        ort = import_onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=list(providers or ["CPUExecutionProvider"]))
        except Exception as exc:   # onnxruntime raises its own exception types for a bad file
            raise ValueError(f"cannot load the ONNX model {self.path}: {str(exc).strip().splitlines()[0]}") from None
        self.meta = self._metadata()
        self.config = config_from_dict(self.meta["model_config"])
        self.outputs = tuple(o.name for o in self.session.get_outputs())
        if {"landmarks", "scores"} <= set(self.outputs):
            self.decoded = True
        elif "heatmaps" in self.outputs:
            self.decoded = False
        else:
            raise ValueError(f"{self.path}: outputs {list(self.outputs)} are neither (landmarks, scores) nor heatmaps: "
                             f"not a model training.export wrote")
        decoding = self.meta.get("decoding") or {}
        self.decode_method = decoding.get("method", "dark")
        self.sigma = float(decoding.get("sigma", 1.0))
        self.logits = decoding.get("activation") == "sigmoid"
        # the landmark scheme the export recorded (its point names); None: the built-in one of the count
        self.scheme = parse_scheme(self.meta["scheme"], f"{self.path} (its scheme)") if self.meta.get("scheme") else None

    def _metadata(self) -> dict:
        stored = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if stored is None:
            sidecar = self.path.with_name(self.path.name + ".json")
            if not sidecar.is_file():
                raise ValueError(f"{self.path} has no awing metadata and no sidecar {sidecar.name} beside it: "
                                 f"export it with python -m training.export")
            stored = sidecar.read_text()
        meta = json.loads(stored)
        if "model_config" not in meta:
            raise ValueError(f"{self.path}: its awing metadata has no model_config")
        return meta

    def __call__(self, images: Union[np.ndarray, torch.Tensor]) -> dict:
        x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        values = self.session.run(list(self.outputs), {"images": np.ascontiguousarray(x, dtype=np.float32)})
        return dict(zip(self.outputs, values))

    def landmarks(self, images) -> Tuple[np.ndarray, np.ndarray]:
        """A decoding graph's crop landmarks (N, K, 2) and scores (N, K)."""
        out = self(images)
        return out["landmarks"], out["scores"]
