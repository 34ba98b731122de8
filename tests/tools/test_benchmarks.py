"""The benchmark scripts stay runnable (a one-repeat smoke run; timings are not asserted)."""
import json

from benchmarks import bench_loss


def test_bench_loss_smoke(tmp_path, capsys):
    out = tmp_path / "loss.json"
    bench_loss.main(["--quick", "--no-compile", "--repeat", "1", "--warmup", "0", "--devices", "cpu",
                     "--json", str(out)])
    report = json.loads(out.read_text())
    assert {r["pass"] for r in report["results"]} == {"fwd", "fwd+bwd"}
    assert all(r["median_ms"]["fused"] > 0 for r in report["results"])
    assert "| device |" in capsys.readouterr().out


def test_bench_loss_family_smoke(tmp_path):
    out = tmp_path / "family.json"
    bench_loss.main(["--quick", "--no-compile", "--repeat", "1", "--warmup", "0", "--devices", "cpu",
                     "--losses", "mse,focal", "--json", str(out)])
    report = json.loads(out.read_text())
    assert [(r["loss"], r["pass"]) for r in report["results"]] == [("mse", "fwd"), ("mse", "fwd+bwd"),
                                                                   ("focal", "fwd"), ("focal", "fwd+bwd")]


def test_bench_loss_refuses_an_unknown_loss():
    import pytest
    with pytest.raises(SystemExit):
        bench_loss.parse_args(["--losses", "huber"])


def test_bench_train_step_smoke(tmp_path):
    from benchmarks import bench_train_step
    out = tmp_path / "step.json"
    bench_train_step.main(["--quick", "--repeat", "1", "--warmup", "0", "--devices", "cpu", "--batch-sizes", "2",
                           "--preset", "tiny", "--amp", "fp32", "bf16", "--json", str(out)])
    results = json.loads(out.read_text())["results"]
    assert [(r["preset"], r["amp"], r["batch_size"]) for r in results] == [("tiny", "fp32", 2), ("tiny", "bf16", 2)]
    for result in results:
        assert set(result["median_ms"]) == {"data", "targets", "forward", "loss", "backward"}
        assert abs(sum(result["share"].values()) - 1) < 1e-9


def test_bench_targets_smoke(tmp_path):
    from benchmarks import bench_targets
    out = tmp_path / "targets.json"
    bench_targets.main(["--quick", "--repeat", "1", "--warmup", "0", "--devices", "cpu", "--batch-sizes", "2",
                        "--json", str(out)])
    assert json.loads(out.read_text())["results"]


def test_bench_models_smoke(tmp_path, capsys):
    from benchmarks import models
    out = tmp_path / "models.json"
    models.main(["--preset", "tiny", "--models", "fan", "unet", "--batch-size", "2", "--repeat", "1", "--warmup", "0",
                 "--json", str(out)])
    results = {r["model"]: r for r in json.loads(out.read_text())["results"]}
    assert (results["fan"]["params"], results["fan"]["outputs"]) == (34_374, 2)     # the tiny FAN (test_models)
    assert (results["unet"]["params"], results["unet"]["outputs"]) == (485_437, 1)  # hand count: test_backbones
    assert all(r["forward_flops"] > 0 and r["step"]["median_ms"] > 0 for r in results.values())
    assert "| unet " in capsys.readouterr().out
