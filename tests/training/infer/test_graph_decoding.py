"""The exportable decoders (training/infer/graph_decoding.py) against the PyTorch decoders
(awing_ext.decode_heatmaps, the kernels): quarter, taylor, dark and integral, on rendered heatmaps
(Gaussians at random sub-pixel centres, noise, border peaks, flat, negative and NaN planes) and on
a model's real heatmaps; in PyTorch, traced by TorchScript and run by onnxruntime."""
import importlib.util
import math
import warnings

import numpy as np
import pytest
import torch

import awing_ext
from training.core.codec import HeatmapCodec
from training.data.registry import build_dataset
from training.infer.graph_decoding import GRAPH_DECODE_METHODS, GraphDecoder, LandmarkModel
from training.infer.predictor import crop_landmarks
from training.models import build_model
from training.models.inputs import model_input

from helpers.heatmaps import gaussian_heatmaps

HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
# 0.01 crop px, the export's tolerance, is 0.0025 heatmap px at S / H = 4; in PyTorch the twins
# agree to float32 rounding
EAGER_ATOL = 1e-4
EXPORTED_ATOL = 0.0025


def rendered(sigma: float = 1.0, seed: int = 0) -> torch.Tensor:
    """(4, 12, 16, 16): Gaussians of random peaks at random sub-pixel centres (some on the border),
    with noise, plus the edge planes of the kernels' documentation."""
    g = torch.Generator().manual_seed(seed)
    heat = gaussian_heatmaps(4, 12, 16, 16, sigma=sigma, seed=seed)
    heat = heat * (0.2 + 0.8 * torch.rand(4, 12, 1, 1, generator=g))
    heat[1] += 0.03 * torch.randn(12, 16, 16, generator=g)                  # noisy: negative values too
    heat[2, 0] = 0.0                                                          # flat
    heat[2, 1] = 0.3                                                          # constant
    heat[2, 2] = -torch.rand(16, 16, generator=g)                             # all negative
    heat[2, 3] = float("nan")                                                 # all NaN
    heat[2, 4, 5, 6] = float("nan")                                           # one NaN
    heat[2, 5] = 0.0
    heat[2, 5, 0, 0], heat[2, 5, 0, 1], heat[2, 5, 1, 0] = 1.0, 0.5, 0.4      # corner peak
    heat[2, 6] = 0.0
    heat[2, 6, 15, 7], heat[2, 6, 15, 8], heat[2, 6, 14, 7] = 1.0, 0.6, 0.5   # bottom-border peak
    heat[2, 7, 4, 4] = heat[2, 7, 4, 9] = 2.0                                 # a tie: the first wins
    heat[3] = heat[3] * 1e-3                                                  # low peaks
    return heat


def assert_same(got, ref, atol, what):
    got, ref = got.double(), ref.double()
    assert torch.equal(torch.isnan(got), torch.isnan(ref)), what
    finite = ~torch.isnan(ref)
    diff = (got[finite] - ref[finite]).abs().max().item() if finite.any() else 0.0
    assert diff <= atol, f"{what}: max diff {diff:.3g} > {atol:g}"


@pytest.mark.parametrize("sigma", [1.0, 1.5])
@pytest.mark.parametrize("method", GRAPH_DECODE_METHODS)
def test_rendered_heatmaps_match_the_pytorch_decoder(method, sigma):
    heat = rendered(sigma)
    ref_coords, ref_scores = awing_ext.decode_heatmaps(heat, method, sigma=sigma)
    coords, scores = GraphDecoder(method, 16, 16, sigma)(heat)
    assert_same(coords, ref_coords, EAGER_ATOL, f"{method} coordinates")
    assert_same(scores, ref_scores, 0.0, f"{method} scores")
    assert torch.isnan(scores[2, 3]) and scores[2, 7] == 2.0   # the edge planes are in the comparison


def test_the_decoders_are_not_trivially_equal():
    """The methods differ from each other on noisy planes, so the comparisons above tell them apart."""
    heat = rendered()[1:2]
    decoded = {m: GraphDecoder(m, 16, 16)(heat)[0] for m in GRAPH_DECODE_METHODS}
    for a in GRAPH_DECODE_METHODS:
        for b in GRAPH_DECODE_METHODS:
            if a < b:
                assert (decoded[a] - decoded[b]).abs().max() > 0.01, (a, b)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("tiny").eval()


@pytest.fixture(scope="module")
def face_crops():
    data, _ = build_dataset("synthetic", "test", input_size=64, num_samples=6, seed=1)
    return torch.stack([torch.from_numpy(np.ascontiguousarray(data[i]["image"])) for i in range(len(data))])


@pytest.mark.parametrize("logits", [False, True], ids=["plain", "focal"])
@pytest.mark.parametrize("method", GRAPH_DECODE_METHODS)
def test_landmark_model_is_the_predictors_prediction(model, face_crops, method, logits):
    """LandmarkModel (activation, decoder, heatmap -> crop pixels) on a model's own heatmaps gives
    crop_landmarks' points and scores (the Predictor's: codec + awing_ext.decode_heatmaps)."""
    codec = HeatmapCodec(64, 16, 1.5, boundary_scheme=None, decode_method=method, logits=logits)
    graph = LandmarkModel(model, method, sigma=1.5, logits=logits).eval()
    with torch.no_grad():
        ref_points, ref_scores = crop_landmarks(model, face_crops, codec)
        points, scores = graph(model_input(face_crops, model.config))
    assert_same(points, ref_points, 4 * EAGER_ATOL, f"{method} landmarks")
    assert_same(scores, ref_scores, 1e-6, f"{method} scores")
    if logits:   # the scores are probabilities: the sigmoid was applied
        assert ((scores > 0) & (scores < 1)).all()


def test_sigmoid_matters_for_a_focal_model(model, face_crops):
    """Decoding a focal model's logits without the sigmoid gives other scores (and, for dark,
    other points): the activation is part of the graph for a reason."""
    x = model_input(face_crops, model.config)
    with torch.no_grad():
        with_sigmoid = LandmarkModel(model, "dark", logits=True)(x)
        without = LandmarkModel(model, "dark", logits=False)(x)
    assert torch.allclose(with_sigmoid[1], torch.sigmoid(without[1]), atol=1e-6)
    assert (with_sigmoid[0] - without[0]).abs().max() > 1e-3


class _Decoder(torch.nn.Module):
    def __init__(self, method, sigma):
        super().__init__()
        self.decoder = GraphDecoder(method, 16, 16, sigma)

    def forward(self, heat):
        return self.decoder(heat)


@pytest.mark.parametrize("method", GRAPH_DECODE_METHODS)
def test_traced_decoder_matches(method):
    heat = rendered(1.5, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(_Decoder(method, 1.5).eval(), rendered(1.5, seed=4)[:2], check_trace=False)
    ref_coords, ref_scores = awing_ext.decode_heatmaps(heat, method, sigma=1.5)
    coords, scores = traced(heat)          # another batch size than traced with
    assert_same(coords, ref_coords, EAGER_ATOL, f"traced {method}")
    assert_same(scores, ref_scores, 0.0, f"traced {method} scores")


@pytest.mark.skipif(not HAVE_ORT, reason="onnx and onnxruntime are not installed (pip install onnx onnxruntime)")
@pytest.mark.parametrize("method", GRAPH_DECODE_METHODS)
def test_onnx_decoder_matches(method, tmp_path):
    """The decoder alone, exported to ONNX (standard ops only) and run by onnxruntime."""
    import onnx
    import onnxruntime as ort
    path = tmp_path / f"{method}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Decoder(method, 1.0).eval(), (rendered(seed=4)[:2],), str(path), dynamo=False,
                          opset_version=18, input_names=["heatmaps"], output_names=["coords", "scores"],
                          dynamic_axes={"heatmaps": {0: "n"}, "coords": {0: "n"}, "scores": {0: "n"}})
    assert {node.domain for node in onnx.load(str(path)).graph.node} <= {"", "ai.onnx"}
    heat = rendered(seed=5)
    coords, scores = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"heatmaps": heat.numpy()})
    ref_coords, ref_scores = awing_ext.decode_heatmaps(heat, method, sigma=1.0)
    assert_same(torch.from_numpy(coords), ref_coords, EXPORTED_ATOL, f"onnxruntime {method}")
    assert_same(torch.from_numpy(scores), ref_scores, 0.0, f"onnxruntime {method} scores")


def test_bad_arguments():
    with pytest.raises(ValueError, match="decode method"):
        GraphDecoder("soft-argmax", 16, 16)
    for sigma in (0, -1.0, math.nan, True):
        with pytest.raises(ValueError, match="sigma"):
            GraphDecoder("dark", 16, 16, sigma)
