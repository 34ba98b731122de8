"""The ONNX Runtime path (Predictor.from_onnx, detect --onnx) gives the checkpoint's landmarks on
photos, folders and video; batching faces and frames changes nothing beyond float tolerance;
Predictor.detect returns every face of an image in one call; without onnxruntime, one error line."""
import importlib.util
import json
import sys

import cv2
import numpy as np
import pytest

from training import detect, export
from training.data.synthetic import render_synthetic_face
from training.infer import face_detector
from training.infer.face_detector import Face
from training.infer.predictor import Detections, Predictor, box_to_crop

from helpers.checkpoints import untrained_tiny_checkpoint
from helpers.cli_runs import assert_one_line_error, run_cli

HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
needs_ort = pytest.mark.skipif(not HAVE_ORT, reason="onnx and onnxruntime are not installed "
                                                    "(optional: pip install onnx onnxruntime)")
SAME_PX = 0.05     # the bound between --onnx and --checkpoint
BATCH_PX = 1e-3    # batch sizes differ only by float rounding (test_predict: 1.26e-4 px seen)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return untrained_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", model="tiny")


@pytest.fixture(scope="module")
def exports(checkpoint, tmp_path_factory):
    """{"dark": a --with-decoding export, "heatmaps": a plain one} of the checkpoint."""
    if not HAVE_ORT:
        pytest.skip("onnx and onnxruntime are not installed")
    folder = tmp_path_factory.mktemp("onnx")
    out = {"dark": folder / "dark.onnx", "heatmaps": folder / "heatmaps.onnx"}
    assert export.main(["--checkpoint", str(checkpoint), "--format", "onnx", "--with-decoding",
                        "--out", str(out["dark"])]) == 0
    assert export.main(["--checkpoint", str(checkpoint), "--format", "onnx", "--out", str(out["heatmaps"])]) == 0
    return out


@pytest.fixture(scope="module")
def scene():
    """Two synthetic faces side by side on a 200 x 360 canvas, and their landmark boxes."""
    canvas = np.zeros((200, 360, 3), np.uint8)
    boxes = []
    for i, (ox, oy) in enumerate([(10, 20), (190, 30)]):
        face, landmarks = render_synthetic_face(np.random.default_rng(10 + i), 160)
        canvas[oy:oy + 160, ox:ox + 160] = face
        lo, hi = landmarks.min(0) + (ox, oy), landmarks.max(0) + (ox, oy)
        boxes.append((float(lo[0]), float(lo[1]), float(hi[0] - lo[0] + 1), float(hi[1] - lo[1] + 1)))
    return canvas, boxes


class TwoFaces:
    """A stand-in detector: the scene's two faces, the second rolled by 15 degrees."""

    def __init__(self, boxes):
        self.boxes = boxes

    def __call__(self, image):
        faces = [Face(b, box_to_crop(b) + (15.0 * i,), 0.9 - 0.1 * i) for i, b in enumerate(self.boxes)]
        return faces


@needs_ort
def test_from_onnx_gives_the_checkpoints_landmarks(checkpoint, exports, scene):
    canvas, boxes = scene
    crops = [box_to_crop(b) for b in boxes] + [box_to_crop(boxes[0]) + (-25.0,)]
    ref = Predictor.from_checkpoint(checkpoint, device="cpu").predict_crops([canvas] * 3, crops)
    for kind, path in exports.items():
        got = Predictor.from_onnx(path).predict_crops([canvas] * 3, crops)
        assert np.abs(got.landmarks - ref.landmarks).max() <= SAME_PX, kind
        np.testing.assert_allclose(got.scores, ref.scores, atol=1e-5)
        np.testing.assert_array_equal(got.crops, ref.crops)
    # a heatmap export is decoded by awing_ext like a checkpoint, so it runs the flip test and any method
    flip_ref = Predictor.from_checkpoint(checkpoint, device="cpu", flip_test=True, decode_method="integral")
    flip = Predictor.from_onnx(exports["heatmaps"], flip_test=True, decode_method="integral")
    assert np.abs(flip.predict_crops([canvas] * 3, crops).landmarks
                  - flip_ref.predict_crops([canvas] * 3, crops).landmarks).max() <= SAME_PX


@needs_ort
def test_from_onnx_refuses_what_a_decoding_graph_cannot_do(exports):
    with pytest.raises(ValueError, match="flip test"):
        Predictor.from_onnx(exports["dark"], flip_test=True)
    with pytest.raises(ValueError, match="'dark' in its graph"):
        Predictor.from_onnx(exports["dark"], decode_method="quarter")
    assert Predictor.from_onnx(exports["dark"], decode_method="dark").codec.decode_method == "dark"


def _faces_by_image(out):
    return [np.array([f["landmarks"] for f in line["faces"]]) for line in out]


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@needs_ort
def test_detect_onnx_equals_detect_checkpoint(tmp_path, capsys, checkpoint, exports, scene, monkeypatch):
    """detect --onnx and detect --checkpoint: the same faces (the same detector and crops) and the
    same landmarks within 0.05 px, on a photo, a folder and a video."""
    canvas, boxes = scene
    monkeypatch.setattr(detect, "build_detector", lambda *a, **k: TwoFaces(boxes))
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        shifted = np.roll(canvas, 2 * i, axis=1)
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(shifted, cv2.COLOR_RGB2BGR))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (360, 200))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG .avi video")
    for i in range(4):
        writer.write(cv2.cvtColor(np.roll(canvas, i, axis=0), cv2.COLOR_RGB2BGR))
    writer.release()
    for source in (photo, folder, video):
        results = {}
        for model in (["--checkpoint", checkpoint], ["--onnx", exports["dark"]], ["--onnx", exports["heatmaps"]]):
            code, out, err = run_cli(detect.main, [source, *model, "--batch-size", "2"], capsys)
            assert code == 0, err
            results[str(model[1])] = _json_lines(out)
        ref = results.pop(str(checkpoint))
        for model, lines in results.items():
            assert len(lines) == len(ref) and all(len(a["faces"]) == len(b["faces"]) == 2 for a, b in zip(lines, ref))
            for a, b in zip(lines, ref):
                assert [f["crop"] for f in a["faces"]] == [f["crop"] for f in b["faces"]]
                assert np.abs(np.array([f["landmarks"] for f in a["faces"]])
                              - np.array([f["landmarks"] for f in b["faces"]])).max() <= SAME_PX, (source, model)
        if source == photo:
            assert "onnx" in _json_lines(run_cli(detect.main, [photo, "--onnx", exports["dark"]], capsys)[1])[0]


def test_batching_changes_nothing(tmp_path, capsys, checkpoint, scene, monkeypatch):
    """A folder and a video, several faces each: --batch-size 1 and 3 give the same faces and the
    same landmarks within float tolerance."""
    canvas, boxes = scene
    monkeypatch.setattr(detect, "build_detector", lambda *a, **k: TwoFaces(boxes))
    folder = tmp_path / "photos"
    folder.mkdir()
    frames = [np.roll(canvas, 3 * i, axis=1) for i in range(5)]
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (360, 200))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    for source in (folder, video):
        runs = []
        for batch in ("1", "3"):
            code, out, err = run_cli(detect.main, [source, "--checkpoint", checkpoint, "--batch-size", batch], capsys)
            assert code == 0, err
            runs.append(_json_lines(out))
        one, three = (_faces_by_image(r) for r in runs)
        assert len(one) == len(three) == 5 and all(a.shape == (2, 68, 2) for a in one)
        assert max(np.abs(a - b).max() for a, b in zip(one, three)) <= BATCH_PX
        # the batch really held several faces: 3 frames x 2 faces went through predict_crops together
    calls = []
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu", batch_size=4)
    real = predictor._crop_landmarks
    predictor._crop_landmarks = lambda crops: calls.append(len(crops)) or real(crops)
    from training.infer.records import FaceFinder, face_records
    face_records(predictor, frames[:3], [FaceFinder(None, TwoFaces(boxes), 0)(f) for f in frames[:3]])
    assert calls == [4, 2]


def test_predictor_detect(checkpoint, scene):
    """Predictor.detect: every face's box, landmarks (those of predict_crops on the detector's
    crops), scores and flags in one call; a list of images gives one Detections per image."""
    canvas, boxes = scene
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu", detector=TwoFaces(boxes))
    found = predictor.detect(canvas)
    assert isinstance(found, Detections) and len(found) == 2
    np.testing.assert_allclose(found.boxes, np.array(boxes))
    np.testing.assert_allclose(found.detector_scores, [0.9, 0.8])
    crops = [f.crop for f in TwoFaces(boxes)(canvas)]
    ref = predictor.predict_crops([canvas, canvas], crops)
    np.testing.assert_allclose(found.landmarks, ref.landmarks, atol=BATCH_PX)
    np.testing.assert_allclose(found.scores, ref.scores, atol=1e-6)
    assert found.low_confidence.shape == (2, 68) and found.crops[1, 3] == 15.0
    assert len(predictor.detect(canvas, max_faces=1)) == 1
    several = predictor.detect([canvas, np.zeros((50, 60, 3), np.uint8)])
    assert [len(d) for d in several] == [2, 2]
    np.testing.assert_allclose(several[0].landmarks, found.landmarks, atol=BATCH_PX)
    # no face: an empty result of the right shapes
    predictor.detector = lambda image: []
    empty = predictor.detect(canvas)
    assert len(empty) == 0 and empty.landmarks.shape == (0, 68, 2) and empty.boxes.shape == (0, 4)


def test_predictor_detect_uses_detects_detector(checkpoint):
    """By default the detector is training.detect's (the Haar passes), built on first use."""
    try:
        face_detector.HaarFaceDetector()
    except face_detector.DetectorUnavailable as exc:
        pytest.skip(f"no Haar face detector in this OpenCV: {exc}")
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    assert isinstance(predictor.detector, face_detector.HaarFaceDetector)
    assert len(predictor.detect(np.full((120, 160, 3), 90, np.uint8))) == 0


def test_missing_onnxruntime(tmp_path, capsys, checkpoint, monkeypatch):
    """Without onnxruntime: Predictor.from_onnx raises an ImportError of one line naming the
    extra, and detect --onnx prints one error line (exit 2)."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)     # import onnxruntime -> ImportError
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read")
    with pytest.raises(ImportError, match=r"onnxruntime: pip install \"awing\[onnx\]\"") as exc:
        Predictor.from_onnx(model)
    assert "\n" not in str(exc.value)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.zeros((40, 40, 3), np.uint8))
    code, _, err = run_cli(detect.main, [photo, "--onnx", model, "--box", "5,5,20,20"], capsys)
    assert_one_line_error(code, err, "--onnx", "onnxruntime", "awing[onnx]")


def test_onnx_and_checkpoint_are_exclusive(tmp_path, capsys, checkpoint):
    code, _, err = run_cli(detect.main, [tmp_path / "x.png", "--checkpoint", checkpoint, "--onnx", "m.onnx"], capsys)
    assert code == 2 and "--checkpoint and --onnx" in err
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.zeros((40, 40, 3), np.uint8))
    code, _, err = run_cli(detect.main, [photo, "--onnx", tmp_path / "none.onnx", "--box", "5,5,20,20"], capsys)
    assert code == 2 and "ONNX model not found" in err
