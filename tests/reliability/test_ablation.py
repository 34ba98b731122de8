"""The ablation under the battery's faults (issue 29, case 13), with real train runs: a SIGINT to
the ablate process alone, not its process group, stops the run that trains within seconds; the run
keeps its last.pt and releases its lock, and ablate names the unfinished runs and exits 130."""
import json
import os
import signal
import textwrap
import time

from helpers.cli_runs import start_command, wait_for
from training.core.checkpoint import load_checkpoint
from training.engine.run_folder import LOCK_NAME

# one run of many steps (4000 faces in batches of 4), a checkpoint every step
GRID = """
    [base]
    preset = "tiny"
    epochs = 5
    batch-size = 4
    train-samples = 4000
    val-samples = 8
    test-samples = 8
    checkpoint-every = 1
    no-progress = true
    [variants.a]
    [variants.b]
    sigma = 2.0
"""


def test_sigint_to_ablate_alone_stops_its_run_cleanly(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(textwrap.dedent(GRID))
    run = tmp_path / "abl" / "a" / "seed-0"
    ablate = start_command("ablate", grid, "--out", tmp_path / "abl", "--workers", "0", cwd=tmp_path)
    try:
        wait_for(lambda: (run / LOCK_NAME).exists() and (run / "last.pt").exists(), 240,
                  "the run's lock and first checkpoint", ablate)
        trainer = json.loads((run / LOCK_NAME).read_text())["pid"]
        assert trainer != ablate.pid and os.getpgid(trainer) != os.getpgid(ablate.pid)   # not in its group
        ablate.send_signal(signal.SIGINT)   # to ablate alone
        t0 = time.monotonic()
        assert ablate.wait(timeout=60) == 130
        seconds = time.monotonic() - t0
    finally:
        if ablate.poll() is None:
            ablate.kill()
            ablate.wait()
    err = (tmp_path / "ablate.err").read_text()
    assert seconds < 20, seconds
    assert err.strip().splitlines()[-1].startswith(
        "error: stopped by SIGINT: 2 of 2 run(s) unfinished: a/seed-0 (stopped while training), b/seed-0 (not "
        "started); run the same command again")
    assert not (run / LOCK_NAME).exists()                    # released
    assert load_checkpoint(run / "last.pt")["step"] >= 1     # kept, intact
    assert "interrupted" in (run / "train.log").read_text()  # train's own Ctrl-C ending
    try:
        os.kill(trainer, 0)
        raise AssertionError(f"the run's train process {trainer} is still running")
    except ProcessLookupError:
        pass
    assert not (tmp_path / "abl" / "b" / "seed-0").exists()
