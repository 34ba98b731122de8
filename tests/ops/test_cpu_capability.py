"""The vectorised CPU kernels are chosen at import from torch's own CPU capability, not by the
build machine's flags: `ATEN_CPU_CAPABILITY=default` loads the portable module, which gives the
same results as the AVX2 one (to 1e-6; the exp/log instructions differ, see docs/design.md)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import awing_ext
from awing_ext import _library

from helpers import REPO as ROOT


# Runs in a subprocess: the loss (value, loss map, gradient) and the weight map in float32, float64
# and bfloat16, saved with the capability that ran them. The inputs are made by the parent and
# loaded: ATEN_CPU_CAPABILITY changes torch's own kernels too (rand ** 4 differs in the last bit).
PROBE = r"""
import sys, torch, awing_ext
pred, target = torch.load(sys.argv[2])
pred.requires_grad_(True)
out = {"capability": awing_ext.build_info()["cpu_capability"]}
for dtype in (torch.float32, torch.float64, torch.bfloat16):
    p = pred.detach().to(dtype).requires_grad_(True)
    t = target.to(dtype)
    loss = awing_ext.adaptive_wing_loss(p, t)
    loss.backward()
    name = str(dtype).split(".")[-1]
    out[name + "_loss"] = loss.detach().double()
    out[name + "_grad"] = p.grad.double()
    out[name + "_map"] = awing_ext.adaptive_wing_loss(p.detach(), t, reduction="none").double()
    out[name + "_mask"] = awing_ext.loss_map_mask(t).double()
torch.save(out, sys.argv[1])
"""


def run_probe(tmp_path: Path, name: str, **env) -> dict:
    inputs = tmp_path / "inputs.pt"
    if not inputs.exists():
        g = torch.Generator().manual_seed(0)
        target = torch.rand(2, 5, 23, 37, generator=g) ** 4
        torch.save((target + 0.2 * torch.randn(target.shape, generator=g), target), inputs)
    path = tmp_path / f"{name}.pt"
    result = subprocess.run([sys.executable, "-c", PROBE, str(path), str(inputs)], capture_output=True, text=True,
                            timeout=300,
                            env={**os.environ, **env}, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return torch.load(path)


def test_aten_cpu_capability_default_loads_the_portable_kernels_with_the_same_results(tmp_path):
    native = run_probe(tmp_path, "native")
    portable = run_probe(tmp_path, "portable", ATEN_CPU_CAPABILITY="default")
    assert portable["capability"] == "default"
    expected = "avx2" if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") else "default"
    if os.environ.get("ATEN_CPU_CAPABILITY") is None:
        assert native["capability"] == expected
    for key, value in native.items():
        if key == "capability":
            continue
        # Same formulas, other exp/log instructions: a few float32 ulp apart (float64: exact
        # enough for 1e-12). bfloat16 results are rounded from float32 to 8 bits, where one of
        # those ulps can tip a rounding: one bfloat16 step (2**-8 relative) is the honest bound.
        if key.startswith("bfloat16") and not key.endswith("_loss"):
            rtol, atol = 2 ** -8, 1e-6
        else:
            rtol, atol = (1e-12, 1e-12) if key.startswith("float64") else (1e-6, 1e-6)
        torch.testing.assert_close(portable[key], value, rtol=rtol, atol=atol,
                                   msg=lambda m, key=key: f"{key}: {m}")


def test_build_info_reports_the_capability_in_use():
    info = awing_ext.build_info()
    assert info["cpu_capability"] == _library.CPU_CAPABILITY
    assert info["cpu_capability"] in info["cpu_capabilities_built"]
    assert "default" in info["cpu_capabilities_built"]


@pytest.mark.parametrize("torch_capability,built,expected", [
    ("AVX2", ["default", "avx2"], "avx2"),
    ("AVX512", ["default", "avx2"], "avx2"),
    ("DEFAULT", ["default", "avx2"], "default"),   # ATEN_CPU_CAPABILITY=default, or a CPU without AVX2
    ("NO AVX", ["default", "avx2"], "default"),
    ("AVX2", ["default"], "default"),              # built with AWING_CPU_SIMD=default, or not on x86-64
    ("SVE256", ["default"], "default"),
])
def test_choose_cpu_capability(torch_capability, built, expected):
    assert _library.choose_cpu_capability(torch_capability, built) == expected


def test_a_build_for_another_torch_release_is_refused_naming_both():
    with pytest.raises(ImportError) as info:
        _library.check_build_torch("2.13.0+cpu", "2.14.1+cu130")
    message = str(info.value)
    assert "2.13.0+cpu" in message and "2.14.1+cu130" in message and "pip install ." in message
    assert "\n" not in message
    _library.check_build_torch("2.14.0", "2.14.1+cu130")  # same release: a patch build is ABI-compatible
    _library.check_build_torch("", "2.14.1")               # no record (an older build): the .so's own check


def test_build_record(tmp_path):
    assert _library.read_build_record(tmp_path) == {}
    (tmp_path / "_build.json").write_text("{not json")
    assert _library.read_build_record(tmp_path) == {}
    (tmp_path / "_build.json").write_text(json.dumps({"torch_version": "2.14.1", "cpu_capabilities": ["default"]}))
    assert _library.read_build_record(tmp_path)["cpu_capabilities"] == ["default"]
