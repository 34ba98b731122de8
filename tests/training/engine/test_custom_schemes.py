"""Training on landmark schemes of one's own, end to end, a few steps each: a 5-point COCO set
(the scheme from its category's keypoint names: no curves, so no boundary channel) and an
asymmetric scheme drawn from the synthetic faces' 68 points (no flip pairs, one curve). The
checkpoint alone then evaluates, resumes, predicts (detect's JSON names the points, the
Predictor) and exports."""
import json

import pytest

from awing_ext import read_scheme
from helpers.cli_runs import assert_one_line_error, run_cli
from helpers.datasets import FACE5, write_coco
from training import detect, evaluate, export, train
from training.core.checkpoint import load_checkpoint
from training.infer.predictor import Predictor

TINY = ["--preset", "tiny", "--workers", "0", "--no-progress", "--batch-size", "4", "--log-every", "1",
        "--epochs", "1", "--device", "cpu"]

ASYMMETRIC = '''name = "left-brow-and-nose"
points = ["brow_outer", "brow_middle", "brow_inner", "nose_tip"]
normaliser = ["brow_outer", "nose_tip"]

[curves]
brow = ["brow_outer", "brow_middle", "brow_inner"]

[from.68]
indices = [17, 19, 21, 30]
'''


def test_a_5_point_coco_set_end_to_end(tmp_path, capsys):
    written = write_coco(tmp_path / "data", [2, 1, 1, 2, 1, 1, 2, 1, 1, 1], invisible={1: [2], 5: [0]})
    run, best = tmp_path / "run", tmp_path / "run" / "best.pt"
    report = train.main(TINY + ["--dataset", "coco", "--data-root", str(tmp_path / "data"),
                                "--annotations", str(written["path"]), "--out", str(run)])
    err = capsys.readouterr().err
    assert "awing: scheme 'face' from the category's 5 keypoint names: 2 left/right pair(s)" in err
    assert "has no [curves]: the model has no boundary heatmap channel" in err
    state = load_checkpoint(best)
    assert state["scheme"]["points"] == list(FACE5) and state["scheme"]["normaliser"] == "bbox"
    assert (state["model_config"]["num_landmarks"], state["model_config"]["boundary"]) == (5, False)
    assert read_scheme(run / "scheme.toml").point_names == FACE5
    assert report["samples"] == 1 and report["normaliser"] == "sqrt(w·h) of the face box"   # img_9's face
    again = evaluate.main(["--checkpoint", str(best), "--out", str(tmp_path / "eval"), "--workers", "0",
                           "--device", "cpu", "--flip-test"])
    assert again["scheme"] == "face" and again["samples"] == 1
    code, out, err = run_cli(detect.main, [tmp_path / "data" / "images" / "img_0.jpg", "--checkpoint", best,
                                           "--box", "10,10,30,30", "--device", "cpu"], capsys)
    record = json.loads(out)
    assert code == 0 and record["scheme"] == "face" and record["points"] == list(FACE5)
    assert len(record["faces"][0]["landmarks"]) == 5
    predictor = Predictor.from_checkpoint(best, device="cpu", flip_test=True)
    assert predictor.point_names == FACE5 and predictor.flip_permutation == (1, 0, 2, 4, 3)
    assert export.main(["--checkpoint", str(best), "--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 0
    sidecar = json.loads((tmp_path / "m.pt.json").read_text())
    assert sidecar["scheme"]["points"] == list(FACE5) and sidecar["output"]["shape"][1] == 5


def test_an_asymmetric_scheme_from_the_synthetic_faces(tmp_path, capsys):
    scheme_file = tmp_path / "asymmetric.toml"
    scheme_file.write_text(ASYMMETRIC)
    run, best = tmp_path / "run", tmp_path / "run" / "best.pt"
    common = TINY + ["--train-samples", "8", "--val-samples", "4", "--test-samples", "4", "--out", str(run)]
    assert train.main(common + ["--scheme", str(scheme_file), "--max-steps", "1"]) == {}
    err = capsys.readouterr().err
    assert "scheme 'left-brow-and-nose' declares no flip pairs: no horizontal flip augmentation" in err
    scheme_file.unlink()                                  # from here on, the checkpoints alone
    report = train.main(common + ["--resume", "auto"])
    state = load_checkpoint(best)
    assert (state["model_config"]["num_landmarks"], state["model_config"]["boundary"]) == (4, True)
    assert state["scheme"]["curves"] == {"brow": ["brow_outer", "brow_middle", "brow_inner"]}
    assert report["normaliser"] == "distance between brow_outer and nose_tip" and report["samples"] == 4
    again = evaluate.main(["--checkpoint", str(best), "--out", str(tmp_path / "eval"), "--workers", "0",
                           "--device", "cpu"])
    assert again["results"]["model"]["nme"] == pytest.approx(report["results"]["model"]["nme"], rel=1e-6)
    code, _, err = run_cli(evaluate.main, ["--checkpoint", best, "--workers", "0", "--device", "cpu",
                                           "--out", tmp_path / "eval", "--flip-test"], capsys)
    assert_one_line_error(code, err, "--flip-test", "'left-brow-and-nose' declares no flip pairs")
    with pytest.raises(ValueError, match="declares no flip pairs"):
        Predictor.from_checkpoint(best, device="cpu", flip_test=True)
    assert Predictor.from_checkpoint(best, device="cpu").point_names == ("brow_outer", "brow_middle", "brow_inner",
                                                                          "nose_tip")
