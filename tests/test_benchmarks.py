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
