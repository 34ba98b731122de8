"""Self-describing checkpoints (issue 26, item 2): a run's checkpoint records how its heatmaps
are decoded ("decoding": the activation and sigma), codec.checkpoint_decoding reads it in one
place, codec_for builds the codec from it, and older checkpoints without the record decode as
before (loss "focal" -> sigmoid, the config's sigma)."""
import pytest

from training import train
from training.core.codec import checkpoint_decoding, codec_for
from training.core.checkpoint import load_checkpoint
from training.models import build_model

from helpers.cli_runs import TINY, run_cli


@pytest.mark.parametrize("loss,sigma,activation", [("awing", 1.0, "identity"), ("focal", 1.5, "sigmoid")])
def test_a_run_records_its_decoding(tmp_path, capsys, loss, sigma, activation):
    out = tmp_path / "run"
    argv = TINY + ["--loss", loss, "--sigma", str(sigma), "--epochs", "1", "--max-steps", "1", "--out", str(out)]
    code, _, err = run_cli(train.main, argv, capsys)
    assert code == 0, err
    checkpoint = load_checkpoint(out / "last.pt")
    assert checkpoint["decoding"] == {"activation": activation, "sigma": sigma}
    assert checkpoint_decoding(checkpoint) == (activation == "sigmoid", sigma)
    codec = codec_for(checkpoint, build_model("tiny").config, "68", "integral")
    assert (codec.sigma, codec.logits, codec.decode_method) == (sigma, activation == "sigmoid", "integral")


def test_older_checkpoints_decode_as_before():
    assert checkpoint_decoding({"config": {"loss": "focal", "sigma": 2.0}}) == (True, 2.0)
    assert checkpoint_decoding({"config": {}}) == (False, 1.0)
    assert checkpoint_decoding({}) == (False, 1.0)


@pytest.mark.parametrize("record", [{"activation": "softmax", "sigma": 1.0}, {"activation": "identity", "sigma": 0},
                                    {"activation": "identity"}, {"activation": "identity", "sigma": float("nan")}])
def test_a_bad_record_is_one_error_naming_the_source(record):
    with pytest.raises(ValueError, match=r"^best.pt: its decoding record .* is not valid"):
        checkpoint_decoding({"decoding": record}, "best.pt")
