"""The Predictor's faster CPU paths (benchmarks/bench_predict.py): channels_last gives the plain
path's landmarks; dtype=torch.bfloat16 runs the model's weights and input in bf16 and decodes in
float32, close to the float32 points on clean heatmaps."""
import json

import cv2
import numpy as np
import torch

from awing_ext import render_heatmaps
from training import detect
from training.data.registry import build_dataset
from training.infer.predictor import Predictor
from training.models import build_model

from helpers.checkpoints import untrained_tiny_checkpoint
from helpers.cli_runs import run_cli


def _faces(n=4):
    data, _ = build_dataset("synthetic", "test", input_size=64, num_samples=n, seed=2)
    return [data[i]["image"].transpose(1, 2, 0) for i in range(n)]


def test_channels_last_gives_the_same_landmarks():
    torch.manual_seed(0)
    plain = Predictor(build_model("tiny").eval(), "cpu").predict(_faces())
    torch.manual_seed(0)
    predictor = Predictor(build_model("tiny").eval(), "cpu", channels_last=True)
    assert predictor.model.stem_block1.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    fast = predictor.predict(_faces())
    assert np.abs(fast.landmarks - plain.landmarks).max() <= 1e-3
    np.testing.assert_allclose(fast.scores, plain.scores, atol=1e-5)


class GaussianBank(torch.nn.Module):
    """A stand-in model: fixed Gaussian heatmaps (a parameter) plus a zero 1x1 convolution of the
    input, so a model in bf16 fails unless its input is cast to bf16 too."""

    def __init__(self):
        super().__init__()
        self.config = build_model("tiny").config
        g = torch.Generator().manual_seed(0)
        points = 2 + 11 * torch.rand(1, 69, 2, generator=g)
        self.bank = torch.nn.Parameter(render_heatmaps(points, 16, 1.0), requires_grad=False)
        self.probe = torch.nn.Conv2d(3, 1, 1, bias=False)
        torch.nn.init.zeros_(self.probe.weight)

    def forward(self, x):
        return [self.bank + torch.nn.functional.avg_pool2d(self.probe(x), 4)]


def test_bf16_runs_the_model_in_bf16_and_decodes_in_float32():
    faces = _faces(2)
    reference = Predictor(GaussianBank(), "cpu").predict(faces)
    predictor = Predictor(GaussianBank(), "cpu", dtype=torch.bfloat16, channels_last=True)
    assert predictor.model.bank.dtype == torch.bfloat16 and predictor.model.probe.weight.dtype == torch.bfloat16
    out = predictor.predict(faces)
    assert out.scores.dtype == np.float32 and out.landmarks.dtype == np.float64
    # bf16 keeps 8 bits of the Gaussians: DARK moves the points by a few hundredths of a crop pixel
    deviation = np.abs(out.landmarks - reference.landmarks).max()
    assert 0 < deviation <= 0.1
    np.testing.assert_allclose(out.scores, reference.scores, rtol=1e-2)


def test_detect_bf16(tmp_path, capsys, monkeypatch):
    """detect --bf16 runs the checkpoint's model in bf16, channels-last; --bf16 with --onnx is refused."""
    checkpoint = untrained_tiny_checkpoint(tmp_path / "best.pt", model="tiny")
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.cvtColor(_faces(1)[0], cv2.COLOR_RGB2BGR))
    built = []
    real = Predictor.from_checkpoint

    def spy(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(Predictor, "from_checkpoint", spy)
    code, out, err = run_cli(detect.main, [photo, "--checkpoint", checkpoint, "--box", "8,8,48,48", "--bf16",
                                           "--device", "cpu"], capsys)
    assert code == 0, err
    assert built[0].dtype == torch.bfloat16 and built[0].channels_last
    assert built[0].model.stem_bn.weight.dtype == torch.bfloat16
    assert len(json.loads(out)["faces"][0]["landmarks"]) == 68
    code, _, err = run_cli(detect.main, [photo, "--onnx", tmp_path / "m.onnx", "--bf16"], capsys)
    assert code == 2 and "--bf16 applies to a checkpoint" in err
