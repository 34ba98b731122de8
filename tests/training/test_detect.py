"""training.detect: plumbing (JSON, overlay, colour modes), geometry round trip, detector, errors.

The tiny untrained model gives arbitrary points: the tests check the plumbing, and the geometry
(crop -> heatmap -> crop -> image) with a stand-in model that puts its peak on the brightest input
pixel.
"""
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import awing_ext
from training import detect
from training.infer import face_detector
from training import detect_inputs
from training.infer import overlays, tracking
from training.infer import predictor as predict
from training.core.cli import run
from training.data.synthetic import render_synthetic_face
from training.core.codec import HeatmapCodec
from training.models import build_model

from helpers.checkpoints import untrained_tiny_checkpoint

# Real photos with 68-point .pts files (e.g. the faces of PyTorch's data-loading tutorial) are not
# shipped with the repository: point AWING_FACES68 at such a folder (holding person.jpg/.pts) to
# run the detector on one.
FACES68 = Path(os.environ["AWING_FACES68"]) if os.environ.get("AWING_FACES68") else None


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return untrained_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", model="tiny")


@pytest.fixture(scope="module")
def face():
    image, landmarks = render_synthetic_face(np.random.default_rng(3), 160)
    lo, hi = landmarks.min(0), landmarks.max(0)
    box = (float(lo[0]), float(lo[1]), float(hi[0] - lo[0] + 1), float(hi[1] - lo[1] + 1))
    return image, box


def _run(capsys, argv):
    code = run(detect.main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write(path, array):
    assert cv2.imwrite(str(path), array)
    return path


@pytest.mark.parametrize("mode", ["rgb", "gray", "rgba", "16bit", "wide"])
def test_detect_with_box_any_colour_mode(tmp_path, capsys, checkpoint, face, mode):
    image, box = face
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if mode == "gray":
        data = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    elif mode == "rgba":
        data = np.dstack([bgr, np.full(image.shape[:2], 128, np.uint8)])
    elif mode == "16bit":
        data = bgr.astype(np.uint16) * 257
    elif mode == "wide":    # another size and aspect ratio, face off-centre
        data = np.zeros((200, 450, 3), np.uint8)
        data[20:180, 250:410] = bgr
        box = (box[0] + 250, box[1] + 20, box[2], box[3])
    else:
        data = bgr
    path = _write(tmp_path / f"face_{mode}.png", data)
    overlay = tmp_path / "out" / "overlay.png"
    code, out, err = _run(capsys, [path, "--checkpoint", checkpoint, "--box", ",".join(map(str, box)),
                                   "--out", overlay, "--device", "cpu"])
    assert code == 0, err
    result = json.loads(out)
    assert result["image"] == str(path)
    assert len(result["faces"]) == 1
    f = result["faces"][0]
    assert f["box"] == pytest.approx(list(box))
    pts = np.array(f["landmarks"])
    assert pts.shape == (68, 2) and len(f["scores"]) == 68
    h, w = data.shape[:2]
    # the points lie in the crop square, which may stick out of the image by the 1.25 margin
    cx, cy, side, angle = f["crop"]
    assert angle == 0.0
    assert np.all(np.abs(pts - [cx, cy]) <= side / 2 + 1)
    assert np.all((pts > -side) & (pts < [w + side, h + side]))
    drawn = cv2.imread(str(overlay))
    assert drawn is not None and drawn.shape == (h, w, 3)


def test_geometry_round_trip():
    """A stand-in model whose heatmap peaks on the centroid of its input's bright disc: the Predictor must give
    back the bright pixel's image position through warp -> heatmap -> crop -> inverse affine."""
    class Peak(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = build_model("tiny").config

        def forward(self, x):
            s, hm = self.config.input_size, self.config.heatmap_size
            w = x[:, 0] - x[:, 0].amin(dim=(1, 2), keepdim=True)       # the bright disc's centroid
            grid = torch.arange(s, dtype=torch.float32)
            pts = torch.stack([(w.sum(1) * grid).sum(1), (w.sum(2) * grid).sum(1)], -1) / w.sum((1, 2))[:, None]
            pts = pts[:, None]
            heat = awing_ext.render_heatmaps(HeatmapCodec(s, hm).crop_to_heatmap(pts), hm, 1.0)
            return [heat.expand(-1, self.config.num_landmarks + 1, -1, -1)]

    image = np.zeros((300, 400, 3), np.uint8)
    cv2.circle(image, (250, 120), 3, (255, 255, 255), -1)
    crop = (240.0, 130.0, 80.0)        # 80 px -> 64: 1.25 image px per crop px
    out = predict.Predictor(Peak().eval()).predict_crops([image], [crop])
    assert out.landmarks.shape == (1, 68, 2) and out.scores.shape == (1, 68)
    np.testing.assert_allclose(out.landmarks[0, 0], [250, 120], atol=1.5)
    # a rotated crop (the detector's rotated passes, YuNet's roll) maps back as well
    rotated = predict.Predictor(Peak().eval()).predict_crops([image], [crop + (30.0,)])
    np.testing.assert_allclose(rotated.landmarks[0, 0], [250, 120], atol=1.5)


def test_box_to_crop_matches_training_crop():
    from training.data.transforms import crop_box
    pts = np.array([[10.0, 20.0], [50.0, 90.0], [30.0, 40.0]])
    box = (10, 20, 41, 71)   # pixels 10..50, 20..90
    assert predict.box_to_crop(box) == pytest.approx(crop_box(pts))   # exactly the training crop
    hx, hy, hside = face_detector.haar_box_to_crop((100, 100, 200, 200))
    assert hx == pytest.approx(199.5) and hy == pytest.approx(199.5 + 30)
    assert hside == pytest.approx(200 * face_detector.HAAR_SIDE * predict.CROP_SCALE)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "1,2,0,5", "1,2,5,-1", "1,2,nan,4", ""])
def test_bad_box(capsys, checkpoint, tmp_path, text):
    with pytest.raises(SystemExit) as exc:
        run(detect.main, [str(tmp_path / "x.png"), "--checkpoint", str(checkpoint), "--box", text])
    assert exc.value.code == 2
    assert "--box" in capsys.readouterr().err


def test_parse_box():
    assert detect.parse_box(" 1, 2.5,3 ,4 ") == (1.0, 2.5, 3.0, 4.0)


def test_missing_image_and_checkpoint(tmp_path, capsys, checkpoint, monkeypatch):
    code, _, err = _run(capsys, [tmp_path / "none.png", "--checkpoint", checkpoint, "--box", "0,0,10,10"])
    assert code == 2 and "image file not found" in err
    img = _write(tmp_path / "a.png", np.zeros((40, 40, 3), np.uint8))
    code, _, err = _run(capsys, [img, "--checkpoint", tmp_path / "nope.pt", "--box", "0,0,10,10"])
    assert code == 2 and "checkpoint not found" in err
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, [img, "--box", "0,0,10,10"])
    assert code == 2 and "no checkpoint given" in err and "--checkpoint" in err
    # the default: the newest runs/*/best.pt
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "best.pt").write_bytes(Path(checkpoint).read_bytes())
    assert detect_inputs.find_checkpoint(None) == Path("runs/r1/best.pt")


def _detector_or_skip():
    try:
        return face_detector.HaarFaceDetector()
    except face_detector.DetectorUnavailable as exc:
        pytest.skip(f"no Haar face detector in this OpenCV: {exc}")


def test_no_face_found(tmp_path, capsys, checkpoint):
    _detector_or_skip()
    path = _write(tmp_path / "blank.png", np.full((120, 160, 3), 90, np.uint8))
    code, out, err = _run(capsys, [path, "--checkpoint", checkpoint])
    assert code == 1 and out == ""
    assert f"no face found in {path} (try --box x,y,w,h)" in err


def test_detector_unavailable_message(tmp_path, capsys, checkpoint, monkeypatch):
    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)
    path = _write(tmp_path / "blank.png", np.zeros((50, 50, 3), np.uint8))
    code, _, err = _run(capsys, [path, "--checkpoint", checkpoint])
    assert code == 2 and "--box" in err and "Haar" in err


@pytest.mark.skipif(FACES68 is None, reason="set AWING_FACES68 to a folder of real photos with .pts files")
def test_detector_on_real_photo(tmp_path, capsys, checkpoint):
    _detector_or_skip()
    photo = FACES68 / "person.jpg"
    overlay = tmp_path / "overlay.jpg"
    code, out, err = _run(capsys, [photo, "--checkpoint", checkpoint, "--out", overlay])
    assert code == 0, err
    faces = json.loads(out)["faces"]
    assert faces, "no face found in a frontal photo"
    # dlib's landmarks for this photo: the crop must contain their box (1-based .pts)
    text = (photo.with_suffix(".pts")).read_text()
    pts = np.array(text.split("{")[1].split("}")[0].split(), float).reshape(-1, 2) - 1
    lo, hi = pts.min(0), pts.max(0)
    cx, cy, side, _ = faces[0]["crop"]
    assert np.all(np.abs(lo - [cx, cy]) < side / 2) and np.all(np.abs(hi - [cx, cy]) < side / 2)
    assert side < 1.5 * max(hi - lo)
    assert cv2.imread(str(overlay)) is not None


def _box_arg(box):
    return ",".join(f"{v:.3f}" for v in box)


def test_folder_gives_json_lines_and_overlays(tmp_path, capsys, checkpoint, face):
    image, box = face
    folder = tmp_path / "photos"
    folder.mkdir()
    _write(folder / "a.png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    _write(folder / "a.bmp", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))     # the same stem as a.png
    _write(folder / "b.ppm", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (folder / "c.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("skipped: not an image")
    code, out, err = _run(capsys, [folder, "--checkpoint", checkpoint, "--box", _box_arg(box),
                                   "--out", tmp_path / "overlays", "--batch-size", "1", "--device", "cpu"])
    # batch size 1: the untrained model's heatmaps are nearly flat, so which pixel wins a decode
    # can change with the last bit of a float, and a batch of 2 may round differently from a batch
    # of 1 (oneDNN picks kernels by batch); alone, equal pixels are computed alike
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["image"]).name for r in lines] == ["a.bmp", "a.png", "b.ppm", "c.jpg"]
    assert len(lines[0]["faces"]) == 1 and len(lines[0]["faces"][0]["landmarks"]) == 68
    assert lines[0]["faces"] == lines[1]["faces"] == lines[2]["faces"]   # the same pixels, lossless formats
    assert "error" in lines[3] and "c.jpg" in lines[3]["error"]
    assert "4 images: 3 with a face, 0 without, 1 unreadable" in err
    assert sorted(p.name for p in (tmp_path / "overlays").iterdir()) == ["a.bmp.png", "a.png.png", "b.png"]


def test_empty_folder(tmp_path, capsys, checkpoint):
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, [tmp_path / "empty", "--checkpoint", checkpoint, "--box", "0,0,10,10"])
    assert code == 2 and "no images in" in err


def _write_video(path, frames, fps=10.0, fourcc="MJPG"):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG .avi video")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _jittered_frames(image, count=8, seed=0):
    """The face shifted by a few random pixels per frame (what hand-held video looks like)."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    frames = []
    for _ in range(count):
        dx, dy = rng.uniform(-3, 3, size=2)
        frames.append(cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                                     borderMode=cv2.BORDER_REPLICATE))
    return frames


def test_video_frames_in_order_with_overlay_video(tmp_path, capsys, checkpoint, face):
    image, box = face
    video = _write_video(tmp_path / "clip.avi", _jittered_frames(image), fps=10.0)
    overlay = tmp_path / "out" / "overlay.avi"
    code, out, err = _run(capsys, [video, "--checkpoint", checkpoint, "--box", _box_arg(box), "--out", overlay,
                                   "--batch-size", "3", "--device", "cpu"])
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["frame"] for r in lines] == list(range(8))
    assert [r["time"] for r in lines] == pytest.approx([i / 10 for i in range(8)])
    assert all(r["video"] == str(video) and len(r["faces"]) == 1 for r in lines)
    assert {r["faces"][0]["track"] for r in lines} == {0}
    assert "8 frames at 10 fps: 8 with a face, 1 track(s)" in err
    back = cv2.VideoCapture(str(overlay))
    count = 0
    while back.read()[0]:
        count += 1
    assert count == 8 and int(back.get(cv2.CAP_PROP_FRAME_WIDTH)) == image.shape[1]
    back.release()


def test_video_smoothing_reduces_frame_to_frame_jitter(tmp_path, capsys, checkpoint, face):
    image, box = face
    video = _write_video(tmp_path / "clip.avi", _jittered_frames(image, count=12, seed=1), fps=25.0)
    def landmarks(*extra):
        code, out, err = _run(capsys, [video, "--checkpoint", checkpoint, "--box", _box_arg(box), "--device", "cpu",
                                       *extra])
        assert code == 0, err
        return np.array([json.loads(line)["faces"][0]["landmarks"] for line in out.splitlines()])
    raw, smooth = landmarks(), landmarks("--smooth", "--smooth-cutoff", "0.5", "--smooth-beta", "0")
    assert np.array_equal(raw[0], smooth[0])                    # the first frame passes through
    jitter = lambda a: np.abs(np.diff(a, axis=0)).mean()        # noqa: E731
    assert jitter(raw) > 0 and jitter(smooth) < 0.5 * jitter(raw)


def test_tracks_follow_faces_and_new_faces_get_new_ids():
    tracker = tracking.Tracker(fps=10.0, smooth=False, min_cutoff=1.0, beta=0.0)
    def face(cx, cy, side=50.0):
        return {"crop": [cx, cy, side, 0.0], "landmarks": [[cx, cy]]}
    frames = [[face(100, 100), face(300, 100)], [face(305, 102), face(104, 99)], [face(106, 100)],
              [face(600, 400)]]
    ids = []
    for i, faces in enumerate(frames):
        tracker.update(i, faces)
        ids.append([f["track"] for f in faces])
    assert ids == [[0, 1], [1, 0], [0], [2]]


def test_bad_videos(tmp_path, capsys, checkpoint):
    code, _, err = _run(capsys, [tmp_path / "none.mp4", "--checkpoint", checkpoint, "--box", "0,0,10,10"])
    assert code == 2 and "video file not found" in err
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00" * 2048)
    code, _, err = _run(capsys, [tmp_path / "corrupt.mp4", "--checkpoint", checkpoint, "--box", "0,0,10,10"])
    assert code == 2 and ("cannot open the video" in err or "no frame could be read" in err)


def test_overlay_draws_a_rotated_crop_where_the_model_looked():
    """The crop square's corners are drawn where crop_matrix's inverse puts the crop's corners."""
    from training.data.transforms import apply_affine, crop_matrix
    image = np.zeros((200, 200, 3), np.uint8)
    crop = [100.0, 100.0, 81.0, 20.0]
    drawn = overlays.draw_overlay(image, [{"box": [0, 0, 2, 2], "crop": crop, "landmarks": []}])
    inverse = cv2.invertAffineTransform(crop_matrix(*crop[:3], 81, crop[3]))
    for corner in apply_affine(np.array([[0.0, 0.0], [80.0, 0.0], [80.0, 80.0], [0.0, 80.0]]), inverse):
        x, y = np.round(corner).astype(int)
        patch = drawn[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3)
        assert (patch == overlays.CROP_COLOR).all(axis=1).any() or patch[:, 2].max() > 100, f"no crop corner at {corner}"


def test_video_jitter_script(checkpoint, capsys):
    """benchmarks/video_jitter.py (the README's smoothing figures) runs and prints both rows."""
    from benchmarks import video_jitter
    assert video_jitter.main(["--checkpoint", str(checkpoint), "--frames", "5"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| plain") or line.startswith("| --smooth")]
    assert len(rows) == 2 and all(float(r.split("|")[2]) >= 0 for r in rows)
