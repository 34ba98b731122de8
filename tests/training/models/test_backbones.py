"""The --model networks (training/models/registry.py) at the tiny preset: configs, output shapes,
backward, parameter counts worked out by hand, and the one-line errors of bad model options."""
import importlib.util
import sys

import pytest
import torch

from training.models import BackboneConfig, PRESETS, config_from_dict, create_model, model_config
from training.models.registry import MODEL_NAMES, model_kind
from training.models.timm_features import BackboneUnavailable

needs_timm = pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="timm is not installed")

# every kind (timm:convnext_tiny, a backbone without a stride-2 feature, is checked on its own: 28M parameters)
MODELS = ["fan", "hrnet-w18", "unet", "dla34", "timm:resnet18"]
TIMM_MODELS = ["hrnet-w18", "dla34", "timm:resnet18", "timm:convnext_tiny"]


def _params(cases):
    """pytest params of (model, ...) tuples, skipped without timm for the models that need it."""
    return [pytest.param(*case, marks=needs_timm) if case[0] in TIMM_MODELS else case for case in cases]


def images(n=2, size=64, seed=1):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def double_conv(cin, cout):
    """(conv3x3 without bias - BN) x 2: weights and BN's weight + bias."""
    return 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout


# ----------------------------------------------------------------------------- configs
def test_model_names_and_kinds():
    assert MODEL_NAMES == ("fan", "hrnet-w18", "unet", "dla34", "timm:NAME")
    assert [model_kind(m) for m in ("fan", "unet", "timm:resnet18")] == ["fan", "unet", "timm"]
    for bad in ("resnet18", "timm:", "hrnet", "FAN"):
        with pytest.raises(ValueError, match=r"unknown model .*choose from fan, hrnet-w18, unet, dla34, timm:NAME"):
            model_kind(bad)


def test_tiny_configs():
    assert model_config("fan", "tiny") == PRESETS["tiny"]
    got = {m: model_config(m, "tiny") for m in MODELS[1:] + ["timm:convnext_tiny"]}
    assert {m: (c.backbone, c.width, c.input_size, c.heatmap_size) for m, c in got.items()} == {
        "hrnet-w18": ("hrnet_w18_small", 240, 64, 16), "unet": ("", 8, 64, 16), "dla34": ("dla46_c", 32, 64, 16),
        "timm:resnet18": ("resnet18", 32, 64, 16), "timm:convnext_tiny": ("convnext_tiny", 32, 64, 16)}
    assert all(c.num_outputs == 69 and c.num_stacks == 1 and c.boundary for c in got.values())
    small = model_config("hrnet-w18", "small", width=96, boundary=False, num_landmarks=98)
    assert (small.backbone, small.width, small.input_size, small.num_outputs) == ("hrnet_w18", 96, 128, 98)


def test_fan_ablation_switches():
    cfg = model_config("fan", "tiny", boundary=False, coordconv=False, stacks=3)
    assert (cfg.boundary, cfg.coordconv, cfg.num_stacks, cfg.num_outputs) == (False, False, 3, 68)
    outs = create_model(cfg).eval()(images())
    assert len(outs) == 3 and all(o.shape == (2, 68, 16, 16) for o in outs)


def test_config_from_dict_keeps_old_fan_checkpoints():
    old = dict(vars(PRESETS["tiny"]))            # what every checkpoint before --model holds: no "model" entry
    assert "model" not in old and config_from_dict(old) == PRESETS["tiny"]
    assert config_from_dict({**old, "model": "fan"}) == PRESETS["tiny"]
    unet = model_config("unet", "tiny")
    assert config_from_dict(dict(vars(unet))) == unet and isinstance(config_from_dict(dict(vars(unet))), BackboneConfig)


@pytest.mark.parametrize("kwargs, message", [
    (dict(model="unet", coordconv=False), r"--no-coordconv applies to --model fan only \(unet is a single-stage"),
    (dict(model="dla34", stacks=2, depth=3), r"--stacks/--depth apply to --model fan only"),
    (dict(model="fan", pretrained=True), r"--pretrained-backbone needs a timm backbone .*fan trains from scratch"),
    (dict(model="unet", pretrained=True), r"--pretrained-backbone needs a timm backbone .*unet trains from scratch"),
    (dict(model="unet", preset="huge"), r"unknown --preset 'huge'; choose from paper, small, tiny"),
])
def test_options_that_do_not_apply(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model_config(**kwargs)


def test_backbone_config_checks():
    with pytest.raises(ValueError, match="input_size must be a multiple of 32"):
        BackboneConfig(model="unet", input_size=80)
    with pytest.raises(ValueError, match="dla34 needs the name of its timm backbone"):
        BackboneConfig(model="dla34")


# ----------------------------------------------------------------------------- the networks
@pytest.mark.parametrize("model, boundary", _params([(m, True) for m in MODELS] + [("unet", False), ("dla34", False)]))
def test_forward_shapes_and_backward(model, boundary):
    torch.manual_seed(0)
    net = create_model(model_config(model, "tiny", boundary=boundary)).train()
    outs = net(images(2))
    channels = 69 if boundary else 68
    assert isinstance(outs, list) and len(outs) == (2 if model == "fan" else 1)
    assert all(o.shape == (2, channels, 16, 16) and o.dtype == torch.float32 for o in outs)
    sum(o.square().mean() for o in outs).backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the gradient reaches the first convolution (timm's resnets zero the last BN of each block,
    # so inside their residual branches it is 0 at the first step: count only the ends)
    assert grads[0].abs().sum() > 0 and grads[-2].abs().sum() > 0


def test_wrong_input_size_is_one_line():
    net = create_model(model_config("unet", "tiny")).eval()
    with pytest.raises(ValueError, match=r"unet: expected images of shape \(N, 3, 64, 64\), got \(1, 3, 128, 128\)"):
        net(images(1, 128))


def test_unet_parameter_count():
    """Hand count at width 8 (see models/unet.py's layout): stem, 4 down levels, 3 up-convolutions
    (with bias) and merges, the 1x1 output conv (16 -> 69, with bias)."""
    w, k = 8, 69
    stem = double_conv(3, w)
    down = double_conv(8, 16) + double_conv(16, 32) + double_conv(32, 64) + double_conv(64, 128)
    up = (128 * 64 * 4 + 64) + (64 * 32 * 4 + 32) + (32 * 16 * 4 + 16)
    merge = double_conv(128, 64) + double_conv(64, 32) + double_conv(32, 16)
    expected = stem + down + up + merge + 16 * k + k
    assert expected == 485_437
    assert count(create_model(model_config("unet", "tiny"))) == expected


@needs_timm
def test_hrnet_head_and_branches():
    """hrnet_w18_small's four branches (16, 32, 64, 128 channels at strides 4..32, before timm's
    classification modules) into HRNet's head: 1x1 conv 240 -> 240 (no bias) + BN, 1x1 conv 240 -> 69."""
    net = create_model(model_config("hrnet-w18", "tiny"))
    info = net.backbone.feature_info
    assert [info.reduction()[i] for i in net.levels] == [4, 8, 16, 32]
    assert [info.channels()[i] for i in net.levels] == [16, 32, 64, 128]
    assert count(net.head) == 240 * 240 + 2 * 240 + 240 * 69 + 69 == 74_709
    assert count(net.backbone) == 1_477_920      # timm's hrnet_w18_small without its classifier
    paper = model_config("hrnet-w18", "paper")
    assert (paper.backbone, paper.width) == ("hrnet_w18", 270)   # 18 + 36 + 72 + 144


@needs_timm
def test_upsampling_head_parameter_count():
    """dla46_c's stride 4..32 features (64, 64, 128, 256 channels): 1x1 laterals to 32 (with bias),
    a 3x3 conv 32 -> 32 (no bias) + BN, a 1x1 conv 32 -> 69."""
    net = create_model(model_config("dla34", "tiny"))
    info = net.backbone.feature_info
    assert [info.reduction()[i] for i in net.levels] == [4, 8, 16, 32]
    laterals = (64 + 64 + 128 + 256) * 32 + 4 * 32
    assert count(net.head) == laterals + 9 * 32 * 32 + 2 * 32 + 32 * 69 + 69 == 28_069


@needs_timm
def test_timm_backbone_without_stride_4_feature_is_resized():
    net = create_model(model_config("timm:convnext_tiny", "tiny", boundary=False)).eval()
    assert net.backbone.feature_info.reduction() == [4, 8, 16, 32] and net.levels == [0, 1, 2, 3]
    with torch.no_grad():
        assert [o.shape for o in net(images(1))] == [(1, 68, 16, 16)]
    net = create_model(model_config("timm:resnet18", "tiny"))   # its stride-2 feature is left out
    assert net.backbone.feature_info.reduction() == [2, 4, 8, 16, 32] and net.levels == [1, 2, 3, 4]


@needs_timm
def test_timm_vit_is_told_the_input_size():
    """A ViT's position embeddings fix its input side: it is built for the preset's 64 px, and its
    stride-16 tokens are resized to the 16 x 16 heatmaps."""
    net = create_model(model_config("timm:vit_tiny_patch16_224", "tiny")).eval()
    assert set(net.backbone.feature_info.reduction()) == {16}
    with torch.no_grad():
        assert [o.shape for o in net(images(1))] == [(1, 69, 16, 16)]


# ----------------------------------------------------------------------------- errors
@needs_timm
def test_unknown_timm_name_suggests_close_ones():
    with pytest.raises(ValueError) as err:
        create_model(model_config("timm:resnt18", "tiny"))
    message = str(err.value)
    assert message.startswith("--model timm:resnt18: timm has no model 'resnt18'; close names: ")
    assert "resnet18" in message and "\n" not in message


def test_missing_timm_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)    # `import timm` raises ImportError
    with pytest.raises(BackboneUnavailable, match=r"^--model dla34 needs timm: pip install 'awing\[models\]'$"):
        create_model(model_config("dla34", "tiny"))
    assert count(create_model(model_config("unet", "tiny"))) == 485_437   # unet needs no timm


@needs_timm
def test_pretrained_weights_offline_is_one_line(monkeypatch, tmp_path):
    """No network here: with the hub offline and an empty cache the weights cannot be fetched."""
    import huggingface_hub.constants as hub
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(BackboneUnavailable) as err:
        create_model(model_config("dla34", "tiny", pretrained=True), pretrained=True)
    message = str(err.value)
    assert message.startswith("--pretrained-backbone: the ImageNet weights of dla46_c could not be fetched (")
    assert "Hugging Face cache" in message and "train without --pretrained-backbone" in message
    assert "\n" not in message
