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


def test_bench_predict_smoke(tmp_path, capsys):
    """bench_predict on the tiny preset: every awing path gives a row per batch size (or says why
    not), throughput and batching gain are derived from the medians."""
    import importlib.util
    from benchmarks import bench_predict
    out = tmp_path / "predict.json"
    paths = ["eager", "channels_last", "bf16"] + (["onnx"] if importlib.util.find_spec("onnxruntime") else [])
    bench_predict.main(["--presets", "tiny", "--paths", *paths, "--batch-sizes", "1", "2", "--repeat", "2",
                        "--warmup", "1", "--no-face-alignment", "--in-process", "--json", str(out)])
    results = json.loads(out.read_text())["results"]
    assert [(r["path"], r["batch"]) for r in results] == [(p, b) for p in paths for b in (1, 2)]
    for r in results:
        if "skipped" in r:
            assert r["path"] == "bf16" and "bf16" in r["skipped"]
            continue
        assert r["min_ms"] <= r["median_ms"] <= r["max_ms"]
        assert abs(r["faces_per_s"] - 1e3 * r["batch"] / r["median_ms"]) < 1e-6
        if r["batch"] == 2:
            single = next(s for s in results if s["path"] == r["path"] and s["batch"] == 1)
            assert abs(r["batching_gain"] - r["faces_per_s"] / single["faces_per_s"]) < 1e-9
    assert "| tiny " in capsys.readouterr().out


def test_bench_predict_runs_each_path_in_its_own_process(tmp_path):
    from benchmarks import bench_predict
    out = tmp_path / "predict.json"
    results = bench_predict.main(["--presets", "tiny", "--paths", "eager", "--batch-sizes", "1", "--repeat", "1",
                                  "--warmup", "0", "--no-face-alignment", "--json", str(out)])
    assert [(r["path"], r["batch"]) for r in results] == [("eager", 1)] and results[0]["median_ms"] > 0
    assert json.loads(out.read_text())["results"] == results


def test_bench_predict_without_face_alignment(tmp_path, monkeypatch, capsys):
    """face_alignment is optional: without it its row says so in one line, nothing fails."""
    import sys
    from benchmarks import bench_predict
    monkeypatch.setitem(sys.modules, "face_alignment", None)
    args = bench_predict.parse_args(["--presets", "paper", "--paths", "--batch-sizes", "1", "--in-process",
                                     "--json", str(tmp_path / "predict.json")])    # face_alignment's row only
    results = bench_predict.run_all(args)
    assert results == [{"preset": "paper", "path": "face_alignment", "batch": 1,
                        "skipped": "face_alignment is not installed (pip install face-alignment)"}]
    assert "face_alignment is not installed" in bench_predict.table(results)
