"""The last sharp edges of the messages: one line, exit 2, checked before anything is created."""
import json

import pytest
import torch

from helpers.cli_runs import TINY, assert_one_line_error, run_cli
from training import detect, evaluate, train
from training.core.cli import one_line


def test_seed_is_checked_up_front(tmp_path, capsys):
    code, _, err = run_cli(train.main, TINY + ["--seed", "-1", "--out", tmp_path / "run"], capsys)
    assert code == 2 and "argument --seed: must be an integer in [0, 4294967295], got -1" in err
    assert not (tmp_path / "run").exists()


def test_device_is_checked_up_front(tmp_path, capsys):
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = f"cuda:{count + 6}"
    code, _, err = run_cli(train.main, TINY + ["--device", missing, "--out", tmp_path / "run"], capsys)
    expected = f"there are {count} CUDA devices" if count > 1 else ("is 1 CUDA device" if count else "--device cpu")
    assert_one_line_error(code, err, f"--device {missing}:", expected)
    assert not (tmp_path / "run").exists()
    code, _, err = run_cli(train.main, TINY + ["--device", "tpu", "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "expected auto, cpu, cuda or cuda:N")
    code, _, err = run_cli(evaluate.main, ["--checkpoint", tmp_path / "none.pt", "--device", missing], capsys)
    assert_one_line_error(code, err, f"--device {missing}:")


def test_init_errors_exit_2(tmp_path, capsys):
    code, _, err = run_cli(train.main, TINY + ["--out", tmp_path / "run", "--init", tmp_path / "none.pt"], capsys)
    assert_one_line_error(code, err, "--init: checkpoint not found")
    assert not (tmp_path / "run").exists()   # nothing left behind


def test_a_weights_only_refusal_is_one_line(tmp_path, capsys):
    torch.save({"model": {}, "config": {}, "obj": torch.nn.Linear(1, 1)}, tmp_path / "evil.pt")
    code, _, err = run_cli(evaluate.main, ["--checkpoint", tmp_path / "evil.pt"], capsys)
    assert_one_line_error(code, err, "evil.pt is corrupt or not an awing checkpoint",
                          "refused the pickled object torch.nn.modules.linear.Linear")


def test_detect_out_folder_is_not_error_error(model_checkpoint, tmp_path, capsys):
    import cv2
    import numpy as np
    cv2.imwrite(str(tmp_path / "face.png"), np.zeros((32, 32, 3), np.uint8))
    code, _, err = run_cli(detect.main, [tmp_path / "face.png", "--checkpoint", model_checkpoint,
                                         "--box", "1,1,20,20", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "is a folder")


def test_one_line_of_worker_and_opencv_errors():
    worker = ValueError("Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
                        '  File "x.py", line 1, in f\n    raise DataError(msg)\n'
                        "training.data.io.DataError: cannot decode image file a.jpg (corrupt)\n")
    assert one_line(worker) == "cannot decode image file a.jpg (corrupt) (in a data-loader worker)"
    import cv2
    import numpy as np
    try:
        cv2.imwrite("x.unknown-extension", np.zeros((2, 2, 3), np.uint8))
    except cv2.error as exc:
        assert one_line(exc).startswith("OpenCV: could not find a writer")
    assert one_line(KeyError("k")) == "KeyError: 'k'"
    assert one_line(MemoryError()) == "MemoryError"   # not "MemoryError: "


@pytest.mark.parametrize("box, needle", [
    ("0,0,1e30,1e30", "is more than 10 times the size of the 32x32 image"),   # the battery's case 9
    ("0,0,10,321", "is more than 10 times"),
    ("32,0,10,10", "does not overlap the 32x32 image"),
    ("-10,5,10,10", "does not overlap"),
    ("5,-1e9,10,10", "does not overlap"),
])
def test_detect_refuses_a_box_off_its_image(model_checkpoint, tmp_path, capsys, box, needle):
    import cv2
    import numpy as np
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    code, out, err = run_cli(detect.main, [image, "--checkpoint", model_checkpoint, f"--box={box}"], capsys)
    assert_one_line_error(code, err, f"--box {box.replace('1e30', '1e+30').replace('-1e9', '-1e+09')}", needle)
    assert out == ""
    # a folder reports the image and goes on; a box reaching into the image is fine
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((32, 32, 3), np.uint8))
    code, out, err = run_cli(detect.main, [folder, "--checkpoint", model_checkpoint, f"--box={box}"], capsys)
    assert code == 0 and needle in json.loads(out)["error"] and "1 unreadable" in err
    code, out, _ = run_cli(detect.main, [image, "--checkpoint", model_checkpoint, "--box=-9,-9,10,10"], capsys)
    assert code == 0 and len(json.loads(out)["faces"]) == 1
