"""The Predictor: the same numbers as evaluate on the same crops, image coordinates for any image
size, the flip test on a mirror-symmetric input, and clear errors for bad inputs."""
import json

import numpy as np
import pytest
import torch

from training import evaluate, train
from training.eval import metrics
from training.data.registry import build_dataset
from training.infer.predictor import Predictor, as_rgb_image, box_to_crop, flip_permutation_of

TINY = ["--preset", "tiny", "--workers", "0", "--no-progress", "--batch-size", "8", "--train-samples", "32",
        "--val-samples", "16", "--test-samples", "24", "--epochs", "2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train.main(TINY + ["--out", str(out)])
    return out


@pytest.fixture(scope="module")
def predictor(run_dir):
    return Predictor.from_checkpoint(run_dir / "best.pt", device="cpu", batch_size=5)


def _test_crops():
    data, _ = build_dataset("synthetic", "test", input_size=64, num_samples=24, seed=0)
    samples = [data[i] for i in range(len(data))]
    return [s["image"].transpose(1, 2, 0) for s in samples], np.stack([s["landmarks"] for s in samples])


def test_predictor_gives_evaluates_numbers_on_the_same_crops(run_dir, predictor):
    report = evaluate.main(["--checkpoint", str(run_dir / "best.pt"), "--workers", "0", "--device", "cpu",
                            "--out", str(run_dir / "eval")])
    crops, gt = _test_crops()
    out = predictor.predict(crops)        # boxes=None: each crop is the whole image
    assert out.landmarks.shape == gt.shape and out.scores.shape == gt.shape[:2]
    nme = metrics.nme(out.landmarks, gt)
    assert report["samples"] == len(crops)
    assert nme.mean() == pytest.approx(report["results"]["model"]["nme"], rel=1e-5)
    assert metrics.summarize(nme)["fr"] == pytest.approx(report["results"]["model"]["fr"])


def test_image_coordinates_for_any_image_size(predictor):
    """The same crop pasted into canvases of other sizes and aspect ratios, found through the landmark
    box whose training crop is exactly that region: the landmarks are the crop's plus the offset.
    (Scaled and rotated crops: tests/training/test_detect.py::test_geometry_round_trip.)"""
    crops, _ = _test_crops()
    face = crops[0]
    s = face.shape[0]
    plain = predictor.predict(face).landmarks[0]
    side = s / 1.25 + 1                                       # the landmark box whose crop is s x s
    for (h, w), (ox, oy) in [((200, 300), (120, 40)), ((64, 150), (80, 0)), ((90, 70), (3, 10))]:
        canvas = np.zeros((h, w, 3), np.uint8)
        canvas[oy:oy + s, ox:ox + s] = face
        cx, cy = ox + (s - 1) / 2, oy + (s - 1) / 2
        box = (cx - (side - 1) / 2, cy - (side - 1) / 2, side, side)
        out = predictor.predict([canvas], boxes=[box])
        np.testing.assert_allclose(out.crops[0], [cx, cy, s, 0.0])
        np.testing.assert_allclose(out.landmarks[0], plain + [ox, oy], atol=1e-3)


def test_batches_of_mixed_sizes_and_batch_size_do_not_change_results(predictor, run_dir):
    crops, _ = _test_crops()
    images = [crops[0], np.pad(crops[1], ((0, 30), (5, 0), (0, 0))), crops[2][:, :, 0]]   # grey too
    together = predictor.predict(images)
    one_by_one = [Predictor.from_checkpoint(run_dir / "best.pt", device="cpu", batch_size=1).predict(im)
                  for im in images]
    # A batch of 3 and batches of 1 run other convolution algorithms (float32 sums in another
    # order), and DARK's Taylor step divides by the peak's curvature, which magnifies that at flat
    # peaks: 1.26e-4 px was seen on a clean clone. A mixed-up or mis-padded image is pixels off.
    for i, single in enumerate(one_by_one):
        np.testing.assert_allclose(together.landmarks[i], single.landmarks[0], atol=1e-3)
    assert together.crops.shape == (3, 4)


class RandomConv(torch.nn.Module):
    """A stand-in model with generic (tie-free, not mirror-symmetric) heatmaps: a fixed random 7x7
    convolution of the 4x-pooled input."""
    def __init__(self):
        super().__init__()
        from training.models import build_model
        self.config = build_model("tiny").config
        self.weight = torch.randn(69, 3, 7, 7, generator=torch.Generator().manual_seed(0))
    def forward(self, x):
        return [torch.nn.functional.conv2d(torch.nn.functional.avg_pool2d(x, 4), self.weight, padding=3)]


def test_flip_test_on_a_mirror_symmetric_face():
    """A mirror-symmetric input gives mirror-symmetric landmarks with the flip test (point i mirrored
    is point flip[i]); a single pass of a model that is not mirror-equivariant does not."""
    crops, _ = _test_crops()
    img = crops[3].copy()
    s = img.shape[1]
    img[:, s // 2:] = img[:, :s // 2][:, ::-1]
    perm = np.array(flip_permutation_of(68))
    pairs = perm != np.arange(68)           # midline points (nose, chin, mouth centre) map to themselves
    def mirror_error(pts):
        mirrored = pts[perm].copy()
        mirrored[:, 0] = (s - 1) - mirrored[:, 0]
        return np.abs(mirrored - pts)
    flipped = Predictor(RandomConv(), flip_test=True).predict(img).landmarks[0]
    plain = Predictor(RandomConv()).predict(img).landmarks[0]
    assert mirror_error(flipped)[pairs].max() < 1e-3
    # (a midline point's averaged heatmap is itself symmetric, so its peak is a tie between two
    # mirrored pixels, which argmax breaks towards the left one: not checked)
    assert mirror_error(plain)[pairs].max() > 4.0


def test_flip_test_averages_heatmaps_of_the_mirror():
    """With a stand-in model whose heatmaps are known, the flip-averaged heatmap of point k is the
    mean of its plain heatmap and its flip partner's heatmap from the mirrored crop, mirrored back."""
    from training.core.codec import HeatmapCodec
    from training.models import build_model
    from training.infer.predictor import crop_landmarks

    class Fixed(torch.nn.Module):
        """Channel k: 0.5 at (row 3, column k % 16) for the plain crop, 1.0 at (row 9, column
        k % 16) for the mirrored one (told apart by which side of the input is bright)."""
        def __init__(self):
            super().__init__()
            self.config = build_model("tiny").config
        def forward(self, x):
            n, hm = x.shape[0], self.config.heatmap_size
            heat = torch.zeros(n, 69, hm, hm)
            mirrored = bool(x[0, 0, 0, 0] < x[0, 0, 0, -1])
            for k in range(68):
                heat[:, k, 9 if mirrored else 3, k % 16] = 1.0 if mirrored else 0.5
            return [heat]
    x = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    x[..., 0] = 255                     # left column bright: the mirror has it on the right
    codec = HeatmapCodec(64, 16, boundary_scheme=None, decode_method="quarter")
    perm = flip_permutation_of(68)
    _, plain_scores = crop_landmarks(Fixed().eval(), x, codec)
    coords, scores = crop_landmarks(Fixed().eval(), x, codec, perm)
    assert torch.allclose(plain_scores, torch.full_like(plain_scores, 0.5))
    # averaged: 0.25 at the plain peak, 0.5 at the partner's mirrored-back peak, which wins
    assert torch.allclose(scores, torch.full_like(scores, 0.5))
    peaks = codec.crop_to_heatmap(coords)[0]
    expected_x = torch.tensor([15.0 - perm[k] % 16 for k in range(68)])
    assert torch.allclose(peaks[:, 0], expected_x, atol=0.26)
    assert torch.allclose(peaks[:, 1], torch.full((68,), 9.0), atol=0.26)


@pytest.mark.parametrize("bad,message", [
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    (np.zeros((0, 10, 3), np.uint8), "empty image"),
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (torch.zeros(3, 10, 10, dtype=torch.uint8), "torch.Tensor"),
])
def test_bad_images(predictor, bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        predictor.predict([bad])


def test_bad_boxes_and_missing_files(predictor, tmp_path):
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(ValueError, match="one box \\(or None\\) per image"):
        predictor.predict([img, img], boxes=[(0, 0, 10, 10)])
    for box in [(0, 0, 0, 10), (0, 0, float("nan"), 10), (1, 2, 3)]:
        with pytest.raises(ValueError, match="face box"):
            predictor.predict([img], boxes=[box])
    with pytest.raises(ValueError, match="crop"):
        predictor.predict_crops([img], [(1.0, 2.0, -5.0)])
    with pytest.raises(ValueError, match="image file not found"):
        predictor.predict(tmp_path / "none.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png"):
        predictor.predict(str(tmp_path / "bad.png"))
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        Predictor.from_checkpoint(tmp_path / "none.pt")
    assert len(predictor.predict_crops([], [])) == 0


def test_helpers():
    assert box_to_crop((10, 20, 41, 71)) == pytest.approx((30.0, 55.0, 1.25 * 70))
    grey = as_rgb_image(np.full((4, 5), 7, np.uint8))
    assert grey.shape == (4, 5, 3) and (grey == 7).all()
    assert as_rgb_image(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(ValueError, match="no left/right permutation|flip test"):
        flip_permutation_of(5)


def test_evaluate_flip_test_option(run_dir):
    report = evaluate.main(["--checkpoint", str(run_dir / "best.pt"), "--workers", "0", "--device", "cpu",
                            "--flip-test", "--out", str(run_dir / "eval_flip")])
    assert report["flip_test"] is True
    assert json.loads((run_dir / "eval_flip" / "results_test.json").read_text())["flip_test"] is True
    crops, gt = _test_crops()
    flipped = Predictor.from_checkpoint(run_dir / "best.pt", device="cpu", flip_test=True).predict(crops)
    assert metrics.nme(flipped.landmarks, gt).mean() == pytest.approx(report["results"]["model"]["nme"], rel=1e-5)
