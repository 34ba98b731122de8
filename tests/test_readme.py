"""The README's Python example runs as written: its first python block is executed with an
untrained tiny checkpoint and a synthetic face photo in place of CHECKPOINT, PHOTO and BOX."""
import re

import cv2
import numpy as np

from helpers import REPO
from helpers.checkpoints import untrained_tiny_checkpoint
from training.data.registry import build_dataset


def test_the_readme_python_example_runs(tmp_path):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    checkpoint = untrained_tiny_checkpoint(tmp_path / "best.pt", model="tiny", train_samples=16, test_samples=6)
    data, _ = build_dataset("synthetic", "test", input_size=64, num_samples=1, seed=0)
    sample = data[0]
    photo = tmp_path / "photo.png"
    assert cv2.imwrite(str(photo), cv2.cvtColor(sample["image"].transpose(1, 2, 0), cv2.COLOR_RGB2BGR))
    points = np.asarray(sample["landmarks"])
    box = (*points.min(0), *(points.max(0) - points.min(0) + 1))
    namespace = {"CHECKPOINT": str(checkpoint), "PHOTO": str(photo), "BOX": tuple(float(v) for v in box)}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["xy"].shape == (8, 68, 2) and namespace["loss"].ndim == 0
    assert namespace["heatmaps"].grad is not None
    out = namespace["out"]
    assert out.landmarks.shape == (1, 68, 2) and out.low_confidence.shape == (1, 68)
