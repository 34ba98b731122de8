"""One validation per op: every bad argument of every op fails with the same message on CPU
tensors, meta tensors, fake tensors (static and symbolic shapes, i.e. torch.compile tracing)
and CUDA tensors, because the kernels and the fake kernels run the same C++ check
(check_<op>_args, bound as awing_ext._C.check_<op>_args)."""
import re

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.symbolic_shapes import ShapeEnv

import awing_ext
from helpers.device_support import CUDA_SKIP_REASON

ops = torch.ops.awing_ext


def _loss_args(**change):
    pred = torch.rand(2, 3, 6, 7)
    args = dict(pred=pred, target=torch.rand(2, 3, 6, 7), target_weight=None, weights=None, omega=14.0,
                theta=0.5, epsilon=1.0, alpha=2.1, W=10.0, threshold=0.2, kernel_size=3, reduction="mean",
                compute_grad=False)
    args.update(change)
    return "adaptive_wing_loss", list(args.values())


# the family's own parameters, in schema order, between weights and W
FAMILY_PARAMS = {"mse_loss": {}, "l1_loss": {}, "smooth_l1_loss": {"beta": 0.1},
                 "wing_loss": {"omega": 14.0, "epsilon": 1.0},
                 "focal_heatmap_loss": {"alpha": 2.0, "beta": 4.0, "positive_threshold": 0.75}}


def _family_args(op, **change):
    args = dict(pred=torch.rand(2, 3, 6, 7), target=torch.rand(2, 3, 6, 7), target_weight=None, weights=None,
                **FAMILY_PARAMS[op], W=10.0, threshold=0.2, kernel_size=3, reduction="mean", compute_grad=False)
    args.update(change)
    return op, list(args.values())


def _mask_args(**change):
    args = dict(target=torch.rand(2, 3, 6, 7), threshold=0.2, kernel_size=3)
    args.update(change)
    return "loss_map_mask", list(args.values())


def _heatmaps_args(**change):
    args = dict(landmarks=torch.rand(2, 5, 2) * 8, visible=None, height=9, width=10, sigma=1.0, truncate=3.0,
                dtype=None)
    args.update(change)
    return "render_heatmaps", list(args.values())


def _boundaries_args(**change):
    args = dict(landmarks=torch.rand(2, 5, 2) * 8, curve_points=[0, 1, 2, 3, 4], curve_lengths=[3, 2], height=9,
                width=10, sigma=1.0, truncate=3.0, samples=4, per_curve=False, dtype=None)
    args.update(change)
    return "render_boundaries", list(args.values())


def _decode_args(**change):
    args = dict(heatmaps=torch.rand(2, 5, 6, 7), method="taylor")
    args.update(change)
    return "decode_heatmaps", list(args.values())


def _soft_argmax_args(**change):
    args = dict(heatmaps=torch.rand(2, 5, 6, 7), beta=1.0)
    args.update(change)
    return "soft_argmax", list(args.values())


def _integral_args(**change):
    args = dict(heatmaps=torch.rand(2, 5, 6, 7), radius=3)
    args.update(change)
    return "integral_coords", list(args.values())


def _integral_backward_args(**change):
    args = dict(grad=torch.rand(2, 5, 2), heatmaps=torch.rand(2, 5, 6, 7), coords=torch.rand(2, 5, 2), radius=3)
    args.update(change)
    return "integral_coords_backward", list(args.values())


def _soft_argmax_backward_args(**change):
    args = dict(grad=torch.rand(2, 5, 2), heatmaps=torch.rand(2, 5, 6, 7), coords=torch.rand(2, 5, 2), beta=1.0)
    args.update(change)
    return "soft_argmax_backward", list(args.values())


# (case id, (op, args), the message the op must raise)
BAD_ARGUMENTS = [
    ("loss-pred-3d", _loss_args(pred=torch.rand(3, 6, 7)), r"adaptive_wing_loss: pred must be 4-D \(N, C, H, W\)"),
    ("loss-pred-int", _loss_args(pred=torch.ones(2, 3, 6, 7, dtype=torch.int64),
                                 target=torch.ones(2, 3, 6, 7, dtype=torch.int64)),
     "adaptive_wing_loss: pred must be float32, float64, float16 or bfloat16"),
    ("loss-target-shape", _loss_args(target=torch.rand(2, 3, 6, 8)), "adaptive_wing_loss: target must have the shape of pred"),
    ("loss-target-dtype", _loss_args(target=torch.rand(2, 3, 6, 7, dtype=torch.float64)),
     "adaptive_wing_loss: target must have the dtype of pred"),
    ("loss-omega", _loss_args(omega=0.0), "adaptive_wing_loss: omega must be > 0, got 0"),
    ("loss-theta", _loss_args(theta=-1.0), "adaptive_wing_loss: theta must be > 0, got -1"),
    ("loss-alpha-nan", _loss_args(alpha=float("nan")), "adaptive_wing_loss: alpha must be a finite number > 0, got nan"),
    ("loss-alpha-inf", _loss_args(alpha=float("inf")), "adaptive_wing_loss: alpha must be a finite number > 0, got inf"),
    ("loss-alpha-zero", _loss_args(alpha=0.0), "adaptive_wing_loss: alpha must be a finite number > 0, got 0"),
    ("loss-epsilon-nan", _loss_args(epsilon=float("nan")), "adaptive_wing_loss: epsilon must be > 0, got nan"),
    ("loss-kernel-even", _loss_args(kernel_size=2), "adaptive_wing_loss: kernel_size must be a positive odd integer <= 31, got 2"),
    ("loss-kernel-large", _loss_args(kernel_size=33), "adaptive_wing_loss: kernel_size must be a positive odd integer <= 31, got 33"),
    ("loss-reduction", _loss_args(reduction="avg"), "adaptive_wing_loss: reduction must be 'none', 'mean' or 'sum', got 'avg'"),
    ("loss-target-weight-shape", _loss_args(target_weight=torch.ones(2, 4)),
     r"adaptive_wing_loss: target_weight must have shape \(N, C\) = \(2, 3\)"),
    ("loss-target-weight-int", _loss_args(target_weight=torch.ones(2, 3, dtype=torch.int32)),
     "adaptive_wing_loss: target_weight must be a floating-point tensor"),
    ("loss-weights-shape", _loss_args(weights=torch.ones(2, 3, 6)), "adaptive_wing_loss: weights must have the shape of pred"),
    ("loss-weights-int", _loss_args(weights=torch.ones(2, 3, 6, 7, dtype=torch.int32)),
     "adaptive_wing_loss: weights must be a floating-point tensor"),
    ("loss-W-negative", _loss_args(W=-1.0), r"adaptive_wing_loss: W \(the loss-map weight\) must be >= 0, got -1"),
    ("mse-pred-3d", _family_args("mse_loss", pred=torch.rand(3, 6, 7)), r"mse_loss: pred must be 4-D \(N, C, H, W\)"),
    ("mse-target-dtype", _family_args("mse_loss", target=torch.rand(2, 3, 6, 7, dtype=torch.float64)),
     "mse_loss: target must have the dtype of pred"),
    ("mse-reduction", _family_args("mse_loss", reduction="avg"), "mse_loss: reduction must be 'none', 'mean' or 'sum'"),
    ("l1-kernel", _family_args("l1_loss", kernel_size=0), "l1_loss: kernel_size must be a positive odd integer"),
    ("l1-W-nan", _family_args("l1_loss", W=float("nan")), r"l1_loss: W \(the loss-map weight\) must be >= 0, got nan"),
    ("smooth-l1-beta", _family_args("smooth_l1_loss", beta=-0.5), "smooth_l1_loss: beta must be >= 0, got -0.5"),
    ("smooth-l1-target-weight", _family_args("smooth_l1_loss", target_weight=torch.ones(3, 3)),
     r"smooth_l1_loss: target_weight must have shape \(N, C\) = \(2, 3\)"),
    ("wing-omega", _family_args("wing_loss", omega=0.0), "wing_loss: omega must be > 0, got 0"),
    ("wing-epsilon", _family_args("wing_loss", epsilon=-1.0), "wing_loss: epsilon must be > 0, got -1"),
    ("wing-weights", _family_args("wing_loss", weights=torch.ones(2, 3, 6)), "wing_loss: weights must have the shape of pred"),
    ("focal-logits-int", _family_args("focal_heatmap_loss", pred=torch.ones(2, 3, 6, 7, dtype=torch.int64),
                                      target=torch.ones(2, 3, 6, 7, dtype=torch.int64)),
     "focal_heatmap_loss: logits must be float32, float64, float16 or bfloat16"),
    ("focal-target-shape", _family_args("focal_heatmap_loss", target=torch.rand(2, 3, 7, 7)),
     "focal_heatmap_loss: target must have the shape of logits"),
    ("focal-alpha", _family_args("focal_heatmap_loss", alpha=-1.0), "focal_heatmap_loss: alpha must be >= 0, got -1"),
    ("focal-beta", _family_args("focal_heatmap_loss", beta=float("nan")), "focal_heatmap_loss: beta must be >= 0, got nan"),
    ("focal-positive-threshold", _family_args("focal_heatmap_loss", positive_threshold=1.5),
     r"focal_heatmap_loss: positive_threshold must be in \(0, 1\]"),
    ("focal-positive-threshold-zero", _family_args("focal_heatmap_loss", positive_threshold=0.0),
     r"focal_heatmap_loss: positive_threshold must be in \(0, 1\]"),
    ("mask-3d", _mask_args(target=torch.rand(3, 6, 7)), r"loss_map_mask: target must be 4-D \(N, C, H, W\)"),
    ("mask-int", _mask_args(target=torch.ones(1, 1, 4, 4, dtype=torch.int64)),
     "loss_map_mask: target must be float32, float64, float16 or bfloat16"),
    ("mask-kernel", _mask_args(kernel_size=4), "loss_map_mask: kernel_size must be a positive odd integer <= 31, got 4"),
    ("mask-threshold-nan", _mask_args(threshold=float("nan")), "loss_map_mask: threshold must be a number, got NaN"),
    ("heatmaps-2d", _heatmaps_args(landmarks=torch.rand(5, 2)), r"render_heatmaps: landmarks must be 3-D \(N, K, 2\)"),
    ("heatmaps-int", _heatmaps_args(landmarks=torch.ones(2, 5, 2, dtype=torch.int64)),
     "render_heatmaps: landmarks must be float32, float64, float16 or bfloat16"),
    ("heatmaps-size", _heatmaps_args(height=0), r"render_heatmaps: size must be positive \(H, W\), got \(0, 10\)"),
    ("heatmaps-sigma", _heatmaps_args(sigma=0.0), "render_heatmaps: sigma must be a finite number > 0"),
    ("heatmaps-sigma-inf", _heatmaps_args(sigma=float("inf")), "render_heatmaps: sigma must be a finite number > 0"),
    ("heatmaps-truncate", _heatmaps_args(truncate=-1.0), "render_heatmaps: truncate must be a finite number > 0"),
    ("heatmaps-visible", _heatmaps_args(visible=torch.ones(2, 4)), r"render_heatmaps: visible must have shape \(N, K\) = \(2, 5\)"),
    ("heatmaps-dtype", _heatmaps_args(dtype=torch.int64), "render_heatmaps: dtype must be float32, float64, float16 or bfloat16"),
    ("boundaries-2d", _boundaries_args(landmarks=torch.rand(5, 2)), r"render_boundaries: landmarks must be 3-D \(N, K, 2\)"),
    ("boundaries-no-curve", _boundaries_args(curve_points=[], curve_lengths=[]),
     "render_boundaries: curves must hold at least one curve"),
    ("boundaries-short-curve", _boundaries_args(curve_points=[0, 1, 2], curve_lengths=[2, 1]),
     "render_boundaries: curve 1 must have at least 2 points, got 1"),
    ("boundaries-lengths", _boundaries_args(curve_lengths=[3, 3]),
     "render_boundaries: curve_lengths sum to 6 but curve_points has 5 entries"),
    ("boundaries-index", _boundaries_args(curve_points=[0, 1, 2, 3, 5]),
     "render_boundaries: curve index 5 is out of range for 5 landmarks"),
    ("boundaries-samples", _boundaries_args(samples=0), r"render_boundaries: samples \(line segments per spline span\)"),
    ("boundaries-sigma-nan", _boundaries_args(sigma=float("nan")), "render_boundaries: sigma must be a finite number > 0"),
    ("decode-3d", _decode_args(heatmaps=torch.rand(5, 6, 7)), r"decode_heatmaps: heatmaps must be 4-D \(N, C, H, W\)"),
    ("decode-empty-plane", _decode_args(heatmaps=torch.rand(2, 5, 0, 7)), "decode_heatmaps: heatmaps must have H, W > 0"),
    ("decode-method", _decode_args(method="argmax"), r"decode_heatmaps: the op's method must be 'quarter' or 'taylor' \(awing_ext.decode_heatmaps adds 'dark' "
     r"and 'integral'\), got 'argmax'"),
    ("soft-argmax-3d", _soft_argmax_args(heatmaps=torch.rand(5, 6, 7)), r"soft_argmax: heatmaps must be 4-D \(N, C, H, W\)"),
    ("soft-argmax-int", _soft_argmax_args(heatmaps=torch.ones(1, 1, 2, 2, dtype=torch.int64)),
     "soft_argmax: heatmaps must be float32, float64, float16 or bfloat16"),
    ("soft-argmax-empty-plane", _soft_argmax_args(heatmaps=torch.rand(2, 5, 6, 0)), "soft_argmax: heatmaps must have H, W > 0"),
    ("soft-argmax-beta", _soft_argmax_args(beta=0.0), "soft_argmax: beta must be a finite number > 0, got 0"),
    ("soft-argmax-beta-inf", _soft_argmax_args(beta=float("inf")), "soft_argmax: beta must be a finite number > 0, got inf"),
    ("soft-argmax-backward-grad", _soft_argmax_backward_args(grad=torch.rand(2, 4, 2)),
     r"soft_argmax_backward: grad must have shape \(N, K, 2\) = \(2, 5, 2\)"),
    ("soft-argmax-backward-coords", _soft_argmax_backward_args(coords=torch.ones(2, 5, 2, dtype=torch.int32)),
     "soft_argmax_backward: coords must be a floating-point tensor"),
    ("integral-3d", _integral_args(heatmaps=torch.rand(5, 6, 7)), r"integral_coords: heatmaps must be 4-D \(N, C, H, W\)"),
    ("integral-int", _integral_args(heatmaps=torch.ones(1, 1, 2, 2, dtype=torch.int64)),
     "integral_coords: heatmaps must be float32, float64, float16 or bfloat16"),
    ("integral-empty-plane", _integral_args(heatmaps=torch.rand(2, 5, 0, 7)), "integral_coords: heatmaps must have H, W > 0"),
    ("integral-radius", _integral_args(radius=-1), r"integral_coords: radius must be an integer in \[0, 1048576\]"),
    ("integral-radius-huge", _integral_args(radius=2 ** 40), r"integral_coords: radius must be an integer in \[0, 1048576\]"),
    ("integral-backward-grad", _integral_backward_args(grad=torch.rand(2, 4, 2)),
     r"integral_coords_backward: grad must have shape \(N, K, 2\) = \(2, 5, 2\)"),
    ("integral-backward-coords", _integral_backward_args(coords=torch.ones(2, 5, 2, dtype=torch.int32)),
     "integral_coords_backward: coords must be a floating-point tensor"),
]
IDS = [case[0] for case in BAD_ARGUMENTS]


def _message(fn) -> str:
    with pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value)


def _on(device, args):
    return [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]


def _sizes_blurred(message: str) -> str:
    """A message with its numbers blurred: symbolic shapes print their sizes as s0, s1, ..."""
    return re.sub(r"\bs\d+\b|\b\d+\b", "#", message)


def _first_line_matching(pattern: str, text: str, blurred: bool = False) -> str:
    """The line of `text` (an error message, possibly wrapped by dynamo) that carries `pattern`;
    `blurred`: both with their numbers blurred (symbolic shapes)."""
    if blurred:
        pattern, text = _sizes_blurred(pattern), _sizes_blurred(text)
    for line in text.splitlines():
        match = re.search(pattern + ".*", line)
        if match:
            return match.group(0).rstrip("')\"")
    raise AssertionError(f"{pattern!r} not in {text!r}")


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=IDS)
def test_same_message_on_cpu_meta_and_fake_tensors(case):
    _, (name, args), pattern = case
    op = getattr(ops, name)
    cpu = _first_line_matching(pattern, _message(lambda: op(*args)))
    meta = _first_line_matching(pattern, _message(lambda: op(*_on("meta", args))))
    assert meta == cpu
    mode = FakeTensorMode()
    fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
    with mode:
        assert _first_line_matching(pattern, _message(lambda: op(*fake_args))) == cpu
    mode = FakeTensorMode(shape_env=ShapeEnv())   # symbolic shapes, as torch.compile(dynamic=True) traces
    fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
    with mode:
        symbolic = _first_line_matching(pattern, _message(lambda: op(*fake_args)), blurred=True)
    assert _sizes_blurred(symbolic) == _sizes_blurred(cpu)


@pytest.mark.parametrize("case", [c for c in BAD_ARGUMENTS if c[0] in (
    "loss-theta", "loss-alpha-nan", "mask-threshold-nan", "loss-kernel-even", "loss-reduction", "loss-weights-shape", "mask-kernel", "heatmaps-sigma",
    "heatmaps-visible", "boundaries-index", "decode-method", "soft-argmax-beta", "integral-radius", "wing-omega",
    "focal-positive-threshold", "smooth-l1-target-weight")], ids=lambda c: c[0])
def test_same_message_under_torch_compile(case):
    """torch.compile traces with fake tensors (here with dynamic shapes): the bad argument is
    refused while tracing, with the kernels' message, instead of passing into the graph."""
    _, (name, args), pattern = case
    op = getattr(ops, name)
    cpu = _first_line_matching(pattern, _message(lambda: op(*args)))
    tensors = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]

    def call(*ts):
        full = list(args)
        for i, t in zip(tensors, ts):
            full[i] = t
        return op(*full)

    torch._dynamo.reset()
    compiled = torch.compile(call, backend="eager", fullgraph=True, dynamic=True)
    traced = _first_line_matching(pattern, _message(lambda: compiled(*[args[i] for i in tensors])), blurred=True)
    assert _sizes_blurred(traced) == _sizes_blurred(cpu)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_SKIP_REASON)
@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=IDS)
def test_same_message_on_cuda(case):
    _, (name, args), pattern = case
    op = getattr(ops, name)
    cpu = _first_line_matching(pattern, _message(lambda: op(*args)))
    assert _first_line_matching(pattern, _message(lambda: op(*_on("cuda", args)))) == cpu


def _mismatched(which: str):
    """Arguments where `which` is on the CPU and the first tensor on CUDA."""
    cuda = dict(pred=torch.rand(2, 3, 6, 7, device="cuda"), target=torch.rand(2, 3, 6, 7, device="cuda"))
    if which == "target":
        return _loss_args(pred=cuda["pred"])
    if which == "target_weight":
        return _loss_args(**cuda, target_weight=torch.ones(2, 3))
    if which == "weights":
        return _loss_args(**cuda, weights=torch.ones(2, 3, 6, 7))
    return _heatmaps_args(landmarks=torch.rand(2, 5, 2, device="cuda"), visible=torch.ones(2, 5))


@pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_SKIP_REASON)
@pytest.mark.parametrize("which", ["target", "target_weight", "weights", "visible"])
def test_device_mismatch_same_message_on_fake_tensors(which):
    name, args = _mismatched(which)
    op = getattr(ops, name)
    real = _first_line_matching("must be on the device of", _message(lambda: op(*args)))
    mode = FakeTensorMode(allow_non_fake_inputs=False)
    fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
    with mode:
        assert _first_line_matching("must be on the device of", _message(lambda: op(*fake_args))) == real


@pytest.mark.parametrize("name,value", [("omega", 0.0), ("theta", -1.0), ("epsilon", 0.0), ("kernel_size", 4),
                                        ("reduction", "avg"), ("W", -1.0), ("threshold", float("nan")),
                                        ("alpha", float("nan")), ("alpha", -2.1)])
def test_module_checks_with_the_ops_message(name, value):
    """AdaptiveWingLoss refuses bad parameters when built (ValueError), with the op's own words."""
    with pytest.raises(ValueError) as built:
        awing_ext.AdaptiveWingLoss(**{name: value})
    pred = torch.rand(1, 1, 4, 4)
    with pytest.raises(RuntimeError) as called:
        awing_ext.adaptive_wing_loss(pred, pred.clone(), **{name: value})
    assert str(built.value) == f"AdaptiveWingLoss: {called.value}"
