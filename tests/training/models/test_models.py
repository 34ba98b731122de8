"""The FAN model package: presets, shapes, CoordConv channels, boundary-coordinate wiring,
training step, channels_last, autocast, tracing/export. Tiny configs only: runs in seconds."""
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from training.models import (BOUNDARY_THRESHOLD, FAN, PRESETS, CoordConv, ConvBlock, FANConfig, Hourglass,
                             boundary_coord_channels, build_model, coord_channels)

TINY = dict(num_stacks=2, width=16, depth=2, input_size=64)


def tiny(**overrides) -> FAN:
    torch.manual_seed(0)
    return build_model(FANConfig(**{**TINY, **overrides}))


def images(n=2, size=64, seed=1):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def max_diff(a, b):
    return max((x.float() - y.float()).abs().max().item() for x, y in zip(a, b))


# ----------------------------------------------------------------------------- config and presets
def test_presets():
    assert {"paper", "small", "tiny"} <= set(PRESETS)
    p = PRESETS["paper"]
    assert (p.num_landmarks, p.num_stacks, p.width, p.depth, p.input_size, p.heatmap_size) == (68, 4, 256, 4, 256, 64)
    assert p.boundary and p.coordconv and p.num_outputs == 69
    assert PRESETS["small"].input_size == 128 and PRESETS["small"].heatmap_size == 32
    assert PRESETS["paper"] == FANConfig()  # the defaults are the paper's network


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_preset_output_shapes(name):
    cfg = PRESETS[name]
    model = build_model(name).eval()
    with torch.no_grad():
        outs = model(images(1, cfg.input_size))
    assert isinstance(outs, list) and len(outs) == cfg.num_stacks
    for o in outs:
        assert o.shape == (1, cfg.num_landmarks + 1, cfg.input_size // 4, cfg.input_size // 4)
        assert o.dtype == torch.float32 and torch.isfinite(o).all()


def test_paper_on_meta_device():
    with torch.device("meta"):
        model = build_model("paper")
        outs = model(torch.empty(2, 3, 256, 256))
    assert len(outs) == 4
    assert all(o.shape == (2, 69, 64, 64) and o.device.type == "meta" for o in outs)
    # 4 stacks of 256-wide depth-4 hourglasses: the paper's ~24M-parameter FAN.
    assert sum(p.numel() for p in model.parameters()) == 24_099_156


def test_build_model_overrides_and_config_round_trip():
    model = build_model("tiny", num_landmarks=98, num_stacks=3)
    assert model.config.num_landmarks == 98 and model.config.num_stacks == 3
    assert PRESETS["tiny"].num_landmarks == 68  # the preset itself is untouched
    # evaluate.py rebuilds from the checkpoint's dict(vars(config)).
    again = build_model(FANConfig(**dict(vars(model.config))))
    again.load_state_dict(model.state_dict())
    assert again.config == model.config
    outs = model(images(1))
    assert len(outs) == 3 and outs[0].shape == (1, 99, 16, 16)


def test_config_and_input_errors():
    with pytest.raises(ValueError, match="unknown model preset"):
        build_model("huge")
    with pytest.raises(TypeError, match="unknown config field"):
        build_model("tiny", stacks=2)
    with pytest.raises(ValueError, match="input_size must be divisible"):
        FANConfig(input_size=100)
    with pytest.raises(ValueError, match="width must be divisible by 8"):
        FANConfig(width=20)
    with pytest.raises(ValueError, match="num_stacks must be a positive int"):
        FANConfig(num_stacks=0)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, 64, 64\)"):
        tiny()(images(1, 32))


# ----------------------------------------------------------------------------- variants
def test_boundary_false_outputs_k_channels_and_no_boundary_coords():
    model = tiny(boundary=False)
    outs = model(images())
    assert [o.shape for o in outs] == [(2, 68, 16, 16)] * 2
    # entry CoordConvs: x, y, r only (no boundary-coordinate channels on stack 2)
    assert [s.entry.conv.in_channels for s in model.stacks] == [16 + 3, 16 + 3]


def test_boundary_true_adds_boundary_coords_from_stack_two():
    model = tiny(num_stacks=3)
    assert [s.entry.with_boundary for s in model.stacks] == [False, True, True]
    assert [s.entry.conv.in_channels for s in model.stacks] == [19, 21, 21]
    assert model.stem_conv.conv.in_channels == 3 + 3 and model.stem_conv.conv.kernel_size == (7, 7)


def test_coordconv_false_has_no_coord_channels():
    model = tiny(coordconv=False)
    assert not any(isinstance(m, CoordConv) for m in model.modules())
    assert model.stem_conv.in_channels == 3
    outs = model(images())
    assert [o.shape for o in outs] == [(2, 69, 16, 16)] * 2
    outs = tiny(coordconv=False, boundary=False, num_stacks=1)(images())
    assert [o.shape for o in outs] == [(2, 68, 16, 16)]


def test_all_parameters_get_gradients_and_heads_start_at_zero_bias():
    model = tiny(num_stacks=3)
    assert all(torch.count_nonzero(s.out.bias) == 0 for s in model.stacks)
    sum(o.square().mean() for o in model(images())).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


# ----------------------------------------------------------------------------- building blocks
def test_convblock_and_hourglass_shapes():
    block = ConvBlock(8, 16)
    assert block.downsample is not None and ConvBlock(16, 16).downsample is None
    assert (block.conv1.out_channels, block.conv2.out_channels, block.conv3.out_channels) == (8, 4, 4)
    assert block(torch.randn(2, 8, 10, 10)).shape == (2, 16, 10, 10)
    x = torch.randn(2, 8, 16, 16)
    assert ConvBlock(8, 8)(x).shape == x.shape
    assert Hourglass(8, 3)(x).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvBlock(8, 10)


def test_coord_channels_values():
    x = torch.zeros(2, 5, 4, 7, dtype=torch.float64)
    c = coord_channels(x)
    assert c.shape == (2, 3, 4, 7) and c.dtype == torch.float64
    xs, ys, rs = c[0]
    torch.testing.assert_close(xs[0], torch.linspace(-1, 1, 7, dtype=torch.float64))
    torch.testing.assert_close(ys[:, 0], torch.linspace(-1, 1, 4, dtype=torch.float64))
    assert (xs == xs[:1]).all() and (ys == ys[:, :1]).all()  # x varies along columns, y along rows
    assert xs.min() == -1 and xs.max() == 1 and ys.min() == -1 and ys.max() == 1
    torch.testing.assert_close(rs, torch.sqrt(xs ** 2 + ys ** 2) / math.sqrt(2))
    torch.testing.assert_close(rs[0, 0], torch.tensor(1.0, dtype=torch.float64))  # corners: 1
    assert rs.min() >= 0 and rs.max() <= 1 + 1e-12
    odd = coord_channels(torch.zeros(1, 1, 5, 5))
    assert odd[0, 2, 2, 2] == 0  # centre pixel of an odd map: radius 0
    assert coord_channels(x, with_r=False).shape == (2, 2, 4, 7)
    assert torch.equal(c[0], c[1])


def test_coordconv_concatenates_then_convolves():
    layer = CoordConv(4, 6, kernel_size=3, padding=1)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(layer(x), layer.conv(torch.cat([x, coord_channels(x)], 1)))
    with pytest.raises(ValueError, match="boundary heatmap"):
        CoordConv(4, 6, with_boundary=True)(x)


def test_boundary_coord_channels_mask():
    coords = coord_channels(torch.zeros(1, 1, 3, 4))
    boundary = torch.tensor([[[[0.0, 0.06, 0.05, -1.0],
                               [0.9, 0.049, 0.051, 0.2],
                               [2.0, 0.0, 0.0, 0.06]]]])
    out = boundary_coord_channels(coords, boundary)
    mask = boundary > BOUNDARY_THRESHOLD  # strict: 0.05 itself is off
    assert mask.sum() == 6
    assert out.shape == (1, 2, 3, 4)
    torch.testing.assert_close(out, torch.where(mask, coords[:, :2], torch.zeros(())))
    # no gradient through the mask into the heatmap
    b = boundary.clone().requires_grad_()
    assert not boundary_coord_channels(coords, b).requires_grad


def test_stack_two_gets_boundary_coords_of_previous_boundary_channel():
    model = tiny().eval()
    with torch.no_grad():  # centre stack 1's boundary output on the threshold: some pixels on, some off
        median = model(images())[0][:, -1].median()
        model.stacks[0].out.bias[-1] += BOUNDARY_THRESHOLD - median
    seen = {}
    model.stacks[1].entry.conv.register_forward_pre_hook(lambda m, inp: seen.update(fed=inp[0]))
    with torch.no_grad():
        outs = model(images())
    fed = seen["fed"]
    assert fed.shape[1] == 16 + 5
    coords = coord_channels(fed)
    torch.testing.assert_close(fed[:, 16:19], coords)
    expected = torch.where(outs[0][:, -1:] > BOUNDARY_THRESHOLD, coords[:, :2], torch.zeros(()))
    torch.testing.assert_close(fed[:, 19:21], expected)
    on = (outs[0][:, -1:] > BOUNDARY_THRESHOLD).float().mean()
    assert 0 < on < 1  # both cases exercised
    # the boundary channel is the last one: changing a landmark channel's bias changes nothing fed
    with torch.no_grad():
        model.stacks[0].out.bias[0] = 10.0
        seen.clear()
        model(images())
    torch.testing.assert_close(seen["fed"][:, 19:21], expected)


# ----------------------------------------------------------------------------- training and runtimes
def test_optimizer_step_lowers_mse_and_changes_weights():
    model = tiny().train()
    x = images(4)
    target = torch.rand(4, 69, 16, 16, generator=torch.Generator().manual_seed(2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def loss_fn():
        return sum(F.mse_loss(o, target) for o in model(x))

    losses = []
    for _ in range(3):
        loss = loss_fn()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(loss_fn().item())
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert len(changed) == len(before)


def test_channels_last_matches_contiguous():
    model = tiny().eval()
    x = images()
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        outs = model(x.contiguous(memory_format=torch.channels_last))
    assert max_diff(ref, outs) < 1e-4
    assert all(o.is_contiguous(memory_format=torch.channels_last) for o in outs)


def test_autocast_bfloat16():
    model = tiny().train()
    x = images()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outs = model(x)
    assert all(o.dtype == torch.bfloat16 and torch.isfinite(o).all() for o in outs)
    sum(o.float().square().mean() for o in outs).backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
    model.eval()
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert max_diff(ref, low) < 0.1


def test_model_on_device(device):
    model = tiny().to(device)
    outs = model(images().to(device))
    assert all(o.device.type == device.type for o in outs)
    sum(o.square().mean() for o in outs).backward()


def test_jit_trace():
    model = tiny().eval()
    x = images()
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)  # nothing data-dependent in the graph
        warnings.filterwarnings("ignore", category=FutureWarning)  # jit.trace's own deprecation notice
        traced = torch.jit.trace(model, x, strict=False, check_trace=False)  # checked below
    with torch.no_grad():
        assert max_diff(model(x), traced(x)) == 0
        x3 = images(3, seed=5)
        assert max_diff(model(x3), traced(x3)) == 0  # other batch size


def test_torch_export_dynamic_batch():
    model = tiny().eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    ep = torch.export.export(model, (images(),), dynamic_shapes=({0: batch},))
    x3 = images(3, seed=5)
    with torch.no_grad():
        assert max_diff(model(x3), ep.module()(x3)) < 1e-5
