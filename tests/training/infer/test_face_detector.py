"""training.infer.face_detector: the Haar passes (rotated ones map back to the image), YuNet through
cv2.FaceDetectorYN (a stand-in here: no model file ships), the recall script on real photos."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.infer import face_detector
from training.infer.face_detector import HaarFaceDetector, HaarPass, YuNetDetector, build_detector

from helpers import REPO as ROOT

FACES68 = Path(os.environ["AWING_FACES68"]) if os.environ.get("AWING_FACES68") else None


def _haar_or_skip(**kw):
    try:
        return HaarFaceDetector(**kw)
    except face_detector.DetectorUnavailable as exc:
        pytest.skip(f"no Haar face detector in this OpenCV: {exc}")


class FixedCascade:
    """Stands in for a cv2.CascadeClassifier: the same boxes for every image, and a record of the images."""
    def __init__(self, boxes):
        self.boxes, self.seen = np.array(boxes, dtype=np.int32).reshape(-1, 4), []

    def detectMultiScale(self, image, **kw):
        self.seen.append(image)
        return self.boxes


def test_passes_stop_at_the_first_that_finds_a_face():
    det = _haar_or_skip(passes=(HaarPass("frontalface_default", 5), HaarPass("frontalface_alt2", 3)))
    first, second = FixedCascade([]), FixedCascade([[10, 20, 40, 40], [0, 0, 80, 80]])
    det._cascades = {"frontalface_default": first, "frontalface_alt2": second}
    faces = det(np.zeros((100, 120, 3), np.uint8))
    assert len(first.seen) == 1 and len(second.seen) == 1
    assert [f.box for f in faces] == [(0, 0, 80, 80)]      # largest first; the box inside it dropped
    assert faces[0].crop == pytest.approx(face_detector.haar_box_to_crop((0, 0, 80, 80)) + (0.0,))


def test_boxes_inside_a_larger_face_are_dropped():
    det = _haar_or_skip(passes=(HaarPass("frontalface_default", 5),))
    # a face, second hits on its mouth and below its chin (centres inside its crop: 106 px around
    # (69.5, 84.5)), and another face beside it
    boxes = [[40, 70, 30, 30], [20, 20, 100, 100], [50, 115, 40, 40], [150, 100, 60, 60]]
    det._cascades = {"frontalface_default": FixedCascade(boxes)}
    assert [f.box for f in det(np.zeros((300, 300, 3), np.uint8))] == [(20, 20, 100, 100), (150, 100, 60, 60)]


def test_a_rotated_pass_maps_the_face_back_to_the_image():
    h, w = 120, 160
    det = _haar_or_skip(passes=(HaarPass("frontalface_alt2", 3, rotation=20.0),))
    cascade = FixedCascade([[60, 30, 40, 40]])
    det._cascades = {"frontalface_alt2": cascade}
    face = det(np.zeros((h, w, 3), np.uint8))[0]
    # independently: the rotated image's points -> the original image
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 20.0, 1.0)
    back = cv2.invertAffineTransform(m)
    cx, cy, side = face_detector.haar_box_to_crop((60, 30, 40, 40))
    expect_centre = back[:, :2] @ [cx, cy] + back[:, 2]
    assert face.crop[:2] == pytest.approx(tuple(expect_centre)) and face.crop[2:] == pytest.approx((side, 20.0))
    box_centre = back[:, :2] @ [79.5, 49.5] + back[:, 2]
    assert (face.box[0] + 19.5, face.box[1] + 19.5) == pytest.approx(tuple(box_centre))
    assert face.box[2:] == (40.0, 40.0)
    assert cascade.seen[0].shape == (h, w)


class FakeYuNet:
    """cv2.FaceDetectorYN's interface with fixed detections (x, y, w, h, 5 points, score)."""
    rows = None
    created = []

    @classmethod
    def create(cls, model, config, size, score_threshold):
        cls.created.append((model, size, score_threshold))
        return cls()

    def setInputSize(self, size):
        self.size = size

    def detect(self, image):
        return 1, self.rows


def test_yunet_boxes_and_roll(tmp_path, monkeypatch):
    model = tmp_path / "yunet.onnx"
    model.write_bytes(b"stand-in")
    monkeypatch.setattr(cv2, "FaceDetectorYN", FakeYuNet, raising=False)
    # a face whose eyes (the person's right at image left) rise by 20 px over 40 px to the right
    FakeYuNet.rows = np.array([[50, 60, 100, 120, 80, 110, 120, 90, 100, 120, 85, 150, 115, 140, 0.9],
                               [5, 5, 20, 20, 10, 12, 20, 12, 15, 15, 11, 20, 19, 20, 0.8]], np.float32)
    faces = build_detector(yunet=str(model))(np.zeros((240, 320, 3), np.uint8))
    assert FakeYuNet.created[-1][0] == str(model)
    assert [f.score for f in faces] == pytest.approx([0.9, 0.8])
    big = faces[0]
    assert big.box == (50, 60, 100, 120)
    assert big.crop[:3] == pytest.approx((99.5, 119.5, 1.25 * 119))
    # the crop rotation that levels the eyes: crop_matrix(angle) maps both eyes to the same row
    from training.data.transforms import apply_affine, crop_matrix
    eyes = apply_affine(np.array([[80.0, 110.0], [120.0, 90.0]]), crop_matrix(*big.crop[:3], 64, big.crop[3]))
    assert eyes[0, 1] == pytest.approx(eyes[1, 1], abs=1e-6) and eyes[0, 0] < eyes[1, 0]
    FakeYuNet.rows = None
    assert build_detector(yunet=str(model))(np.zeros((50, 50, 3), np.uint8)) == []


def test_detector_option_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="YuNet model not found"):
        YuNetDetector(str(tmp_path / "none.onnx"))
    with pytest.raises(ValueError, match="two detectors"):
        build_detector(cascade="a.xml", yunet="b.onnx")
    with pytest.raises(face_detector.DetectorUnavailable, match="missing"):
        HaarFaceDetector(cascade=str(tmp_path / "none.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_text("<not a cascade/>")
    if hasattr(cv2, "CascadeClassifier"):
        with pytest.raises(face_detector.DetectorUnavailable, match="cannot load the Haar cascade"):
            HaarFaceDetector(cascade=str(bad))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00" * 64)
    if hasattr(cv2, "FaceDetectorYN"):
        with pytest.raises(face_detector.DetectorUnavailable, match="cannot load the YuNet model"):
            YuNetDetector(str(corrupt))
    monkeypatch.delattr(cv2, "FaceDetectorYN", raising=False)
    corrupt.write_bytes(b"x")
    with pytest.raises(face_detector.DetectorUnavailable, match="FaceDetectorYN"):
        YuNetDetector(str(corrupt))


def test_no_face_in_a_blank_image():
    assert _haar_or_skip()(np.full((120, 160, 3), 90, np.uint8)) == []


@pytest.mark.skipif(FACES68 is None, reason="set AWING_FACES68 to a folder of real photos with .pts files")
def test_recall_on_real_photos():
    """All passes find every face of faces68 (15 photos) with at most one false detection; the
    classic single pass finds fewer (12)."""
    _haar_or_skip()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.detector_recall", str(FACES68)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "/" in line]
    found = [int(r.split("|")[2].split("/")[0]) for r in rows]
    total = int(rows[0].split("|")[2].split("/")[1])
    false = [int(r.split("|")[4]) for r in rows]
    assert found[-1] == total and found[0] < total and false[-1] <= 1
