"""--loss focal as CornerNet intends: the heatmap outputs start at the prior bias
-log((1 - pi) / pi), pi = 0.1 (training/models/output_prior.py), which lowers the loss at
initialisation (every pixel starts as probably background), for every model; other losses keep a
zero bias."""
import math

import pytest
import torch

from training import train
from training.core.codec import HeatmapCodec
from training.data.registry import build_dataset
from training.engine.trainer import Trainer
from training.models import create_model, model_config
from training.models.inputs import model_input
from training.models.output_prior import heatmap_output_layers, init_output_prior, prior_bias

from helpers.cli_runs import TINY


def test_prior_bias_is_the_logit_of_pi():
    assert prior_bias(0.1) == pytest.approx(-math.log(9.0))
    assert torch.sigmoid(torch.tensor(prior_bias(0.1))).item() == pytest.approx(0.1)
    for bad in (0.0, 1.0, -0.5, math.nan):
        with pytest.raises(ValueError, match="prior must be in"):
            prior_bias(bad)


@pytest.mark.parametrize("name", ["fan", "unet"])
def test_every_heatmap_output_layer_starts_at_the_prior(name):
    model = create_model(model_config(name, "tiny"))
    layers = heatmap_output_layers(model)
    assert len(layers) == (model.config.num_stacks if name == "fan" else 1)
    init_output_prior(model)
    for layer in layers:
        assert layer.out_channels == model.config.num_outputs
        torch.testing.assert_close(layer.bias, torch.full_like(layer.bias, -math.log(9.0)))


def _first_batch_loss(trainer) -> float:
    data, _ = build_dataset("synthetic", "train", input_size=64, num_samples=8, seed=0)
    batch = [data[i] for i in range(8)]
    images = torch.stack([torch.as_tensor(b["image"]) for b in batch])
    points = torch.stack([torch.as_tensor(b["landmarks"]) for b in batch]).float()
    visible = torch.stack([torch.as_tensor(b["visible"]) for b in batch]).float()
    codec: HeatmapCodec = trainer.codec
    target, weight = codec.encode(points, visible)
    with torch.no_grad():
        outputs = trainer.model(model_input(images, trainer.model.config))
    return float(trainer.criterion(outputs, target, weight, codec.crop_to_heatmap(points), visible))


@pytest.mark.parametrize("loss_map_weight,ratio", [("0", 5.0), ("10", 1.3)])
def test_focal_run_starts_at_the_prior_and_a_smaller_loss(tmp_path, loss_map_weight, ratio):
    """Measured on the tiny FAN (2 stacks), 8 synthetic faces, seed 0: the focal loss at
    initialisation is 11.5 with the prior bias against 102.2 with a zero bias without the loss
    map (CornerNet's loss: the negatives dominate at p = 0.5), and 117.0 against 179.5 with the
    loss map (W = 10 multiplies the positives' -(1 - p)^2 log p, which the prior raises)."""
    args = train.parse_args(TINY + ["--loss", "focal", "--loss-map-weight", loss_map_weight,
                                    "--out", str(tmp_path / "run")])
    trainer = Trainer(args)
    for layer in heatmap_output_layers(trainer.model):
        torch.testing.assert_close(layer.bias, torch.full_like(layer.bias, prior_bias()))
    at_prior = _first_batch_loss(trainer)
    for layer in heatmap_output_layers(trainer.model):
        torch.nn.init.zeros_(layer.bias)
    at_zero = _first_batch_loss(trainer)
    print(f"\nfocal loss at initialisation, W = {loss_map_weight}: {at_prior:.2f} (prior bias), "
          f"{at_zero:.2f} (zero bias)")
    assert at_zero > ratio * at_prior


def test_other_losses_keep_a_zero_bias(tmp_path):
    trainer = Trainer(train.parse_args(TINY + ["--out", str(tmp_path / "run")]))
    for layer in heatmap_output_layers(trainer.model):
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
