"""The procedural synthetic faces (training/data/synthetic/): determinism, shapes, iBUG order,
the flip permutation, and that the landmarks sit on drawn features."""
import cv2
import numpy as np
import pytest
import torch

from awing_ext.schemes import get_scheme
from training.data.synthetic import SPLITS, SyntheticFaces, render_synthetic_face

UPRIGHT = dict(max_rotation=0, max_yaw=0, max_pitch=0)
SYMMETRIC = dict(UPRIGHT, asymmetry=False)
GROUPS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "nose bottom": range(31, 36),
          "eyes": range(36, 48), "outer lips": range(48, 60), "inner lips": range(60, 68)}


def _render(seed, size=128, **kw):
    return render_synthetic_face(np.random.default_rng(seed), size, **kw)


# --------------------------------------------------------------------------------------------
# API, determinism
# --------------------------------------------------------------------------------------------
def test_item_shapes_and_dtypes():
    ds = SyntheticFaces(5, image_size=96, seed=1, split="val")
    assert len(ds) == 5
    item = ds[3]
    assert set(item) == {"image", "landmarks", "index"}
    assert item["image"].dtype == np.uint8 and item["image"].shape == (96, 96, 3)
    assert item["image"].flags["C_CONTIGUOUS"]
    assert item["landmarks"].dtype == np.float32 and item["landmarks"].shape == (68, 2)
    assert item["index"] == 3 and isinstance(item["index"], int)
    assert ds[-1]["index"] == 4
    with pytest.raises(IndexError):
        ds[5]
    with pytest.raises(ValueError, match="split"):
        SyntheticFaces(5, split="training")
    image, landmarks = _render(0, 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32


def test_deterministic_per_seed_split_index():
    a = SyntheticFaces(6, image_size=96, seed=7, split="train")
    b = SyntheticFaces(6, image_size=96, seed=7, split="train")
    for i in (5, 0, 2):                                     # any order, fresh instances
        x, y = a[i], b[i]
        np.testing.assert_array_equal(x["image"], y["image"])
        np.testing.assert_array_equal(x["landmarks"], y["landmarks"])
    # the same (seed, split, index) whatever the dataset length
    np.testing.assert_array_equal(SyntheticFaces(100, 96, seed=7)[2]["landmarks"], a[2]["landmarks"])
    # the generator is the documented one
    img, pts = render_synthetic_face(np.random.default_rng([7, SPLITS["train"], 4]), 96)
    np.testing.assert_array_equal(img, a[4]["image"])
    np.testing.assert_array_equal(pts, a[4]["landmarks"])
    # other splits, seeds and indices differ
    others = [SyntheticFaces(6, 96, seed=7, split="val")[2], SyntheticFaces(6, 96, seed=7, split="test")[2],
              SyntheticFaces(6, 96, seed=8, split="train")[2], a[3]]
    for o in others:
        assert not np.array_equal(o["landmarks"], a[2]["landmarks"])
        assert not np.array_equal(o["image"], a[2]["image"])


def test_dataloader_collates():
    loader = torch.utils.data.DataLoader(SyntheticFaces(4, image_size=64), batch_size=4)
    batch = next(iter(loader))
    assert batch["image"].shape == (4, 64, 64, 3) and batch["image"].dtype == torch.uint8
    assert batch["landmarks"].shape == (4, 68, 2) and batch["landmarks"].dtype == torch.float32
    assert batch["index"].tolist() == [0, 1, 2, 3]


# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 160, 256])
def test_points_inside_and_face_size(size):
    ds = SyntheticFaces(40, image_size=size, seed=3)
    fracs = []
    for i in range(len(ds)):
        pts = ds[i]["landmarks"]
        assert np.isfinite(pts).all()
        assert pts.min() >= 0.0 and pts.max() <= size - 1
        fracs.append((pts.max(axis=0) - pts.min(axis=0)).max() / size)
        assert not np.allclose(pts, np.round(pts))        # sub-pixel, not quantised
    fracs = np.array(fracs)
    assert fracs.min() >= 0.44 and fracs.max() <= 0.76


@pytest.mark.parametrize("seed", range(12))
def test_ibug_order_upright_frontal(seed):
    image, p = _render(seed, 192, **UPRIGHT)
    mouth_top, mouth_bottom = p[48:68, 1].min(), p[48:68, 1].max()
    left_eye, right_eye = p[36:42].mean(axis=0), p[42:48].mean(axis=0)
    # jaw: 0 on the image left, 16 on the image right, x increasing along it (its top ends are
    # nearly vertical), 8 the lowest, below the mouth
    assert np.all(np.diff(p[2:9, 0]) > 0) and np.all(np.diff(p[8:15, 0]) > 0)
    assert p[0:2, 0].max() < p[3, 0] and p[15:17, 0].min() > p[13, 0]
    assert np.all(np.diff(p[0:7, 1]) > 0) and np.all(np.diff(p[10:17, 1]) < 0)
    assert p[8, 1] > mouth_bottom and p[8, 1] == pytest.approx(p[0:17, 1].max(), abs=3.0)
    # eyes: "left" eye 36-41 (the subject's right) is on the image left of 42-47; corners in order
    assert p[36:42, 0].max() < p[42:48, 0].min()
    assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0]
    assert p[37:39, 1].max() < p[[40, 41], 1].min() and p[43:45, 1].max() < p[[46, 47], 1].min()
    # brows above their eyes, left brow on the left
    assert p[17:22, 1].mean() < p[36:42, 1].min() and p[22:27, 1].mean() < p[42:48, 1].min()
    assert p[17:22, 0].max() < p[22:27, 0].min()
    # nose: bridge goes down to the tip 30, between the eyes, above the mouth and the nose bottom
    assert left_eye[0] < p[30, 0] < right_eye[0]
    assert np.all(np.diff(p[27:31, 1]) > 0)
    assert left_eye[1] < p[30, 1] < p[31:36, 1].max() < mouth_top
    assert np.all(np.diff(p[31:36, 0]) > 0)
    # both eyes above the mouth; mouth corners outside the inner corners; lips in order
    assert left_eye[1] < mouth_top and right_eye[1] < mouth_top
    assert p[48, 0] < p[60, 0] < p[64, 0] < p[54, 0]
    assert p[51, 1] < p[62, 1] <= p[66, 1] < p[57, 1]
    assert p[50:53, 1].max() < p[56:59, 1].min()


def test_flip_permutation_mirrors_a_symmetric_face():
    flip = np.asarray(get_scheme("68").flip)
    assert sorted(flip.tolist()) == list(range(68))
    np.testing.assert_array_equal(flip[flip], np.arange(68))               # an involution
    for seed in range(6):
        S = 160
        _, p = _render(seed, S, **SYMMETRIC)                                 # random shape, placement
        mirrored = np.stack([S - 1 - p[:, 0], p[:, 1]], axis=1)[flip]
        mirrored += (p.mean(axis=0) - mirrored.mean(axis=0))                # remove the placement offset
        np.testing.assert_allclose(mirrored, p, atol=0.05)
        _, q = _render(seed, S, **SYMMETRIC, offset=False)                 # centred: mirrors in place
        mirrored = np.stack([S - 1 - q[:, 0], q[:, 1]], axis=1)[flip]
        np.testing.assert_allclose(mirrored, q, atol=0.05)
        # with the default asymmetry it still mirrors to within a few pixels
        _, r = _render(seed, S, **UPRIGHT, offset=False)
        mirrored = np.stack([S - 1 - r[:, 0], r[:, 1]], axis=1)[flip]
        assert np.abs(mirrored - r).max() < 4.0


def test_pose_rotation_and_expression_vary():
    ds = SyntheticFaces(80, image_size=128, seed=0)
    pts = np.stack([ds[i]["landmarks"] for i in range(len(ds))]).astype(np.float64)
    eye_line = pts[:, 42:48].mean(axis=1) - pts[:, 36:42].mean(axis=1)
    roll = np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0]))
    assert roll.min() < -20 and roll.max() > 20 and np.abs(roll).max() < 40
    # yaw: the nose tip's position between the outer eye corners
    t = (pts[:, 30, 0] - pts[:, 36, 0]) / (pts[:, 45, 0] - pts[:, 36, 0])
    small_roll = np.abs(roll) < 15
    assert t[small_roll].min() < 0.35 and t[small_roll].max() > 0.65
    # mouth opening relative to the inter-ocular distance
    gap = np.linalg.norm(pts[:, 66] - pts[:, 62], axis=1) / np.linalg.norm(eye_line, axis=1)
    assert (gap < 0.03).mean() > 0.3 and (gap > 0.15).mean() > 0.1


def test_mean_shape_baseline_is_poor():
    """Normalised for the face box (as the training crop does), the mean shape is far from most
    faces: the NME of predicting it is large (inter-ocular normalisation)."""
    def normalised(ds):
        out = []
        for i in range(len(ds)):
            p = ds[i]["landmarks"].astype(np.float64)
            lo, hi = p.min(axis=0), p.max(axis=0)
            out.append((p - (lo + hi) / 2) / (hi - lo).max())
        return np.stack(out)

    train = normalised(SyntheticFaces(150, image_size=128, seed=0, split="train"))
    test = normalised(SyntheticFaces(60, image_size=128, seed=0, split="test"))
    mean = train.mean(axis=0)
    io = np.linalg.norm(test[:, 36] - test[:, 45], axis=1)
    nme = (np.linalg.norm(test - mean, axis=2).mean(axis=1) / io).mean()
    assert nme > 0.10


# --------------------------------------------------------------------------------------------
# the landmarks lie on drawn features
# --------------------------------------------------------------------------------------------
def _local_contrast(image, radius):
    """Per-pixel standard deviation of the colour over a (2r+1)^2 window, summed over channels."""
    img = image.astype(np.float32)
    k = (2 * radius + 1, 2 * radius + 1)
    mean = cv2.blur(img, k)
    var = cv2.blur(img * img, k) - mean * mean
    return np.sqrt(np.maximum(var, 0)).sum(axis=2)


def test_landmarks_lie_on_drawn_features():
    """For every landmark group, the local colour contrast at the landmarks is much higher than
    at random points of the face interior away from the landmarks, and clearly higher than at
    another face's landmarks moved into this face's box (the features move with the points, so
    a model must find them to beat the mean shape); the face outline passes through the jaw
    points (the colour changes across the jaw line, not along it)."""
    S = 256
    at = {g: [] for g in GROUPS}
    at_other = {g: [] for g in GROUPS}
    background, jaw_inside_vs_out, jaw_along = [], [], []
    rng = np.random.default_rng(0)
    for seed in range(16):
        image, p = _render(seed, S, occlusion=False, degrade=False)
        io = np.linalg.norm(p[36] - p[45])
        contrast = _local_contrast(image, max(1, int(round(0.03 * io))))
        ij = np.round(p).astype(int)
        _, q = _render(seed + 1000, S)
        lo, hi, qlo, qhi = p.min(axis=0), p.max(axis=0), q.min(axis=0), q.max(axis=0)
        q = (q - (qlo + qhi) / 2) / (qhi - qlo).max() * (hi - lo).max() + (lo + hi) / 2
        qj = np.round(np.clip(q, 0, S - 1)).astype(int)
        for g, idx in GROUPS.items():
            at[g].append(contrast[ij[idx, 1], ij[idx, 0]].mean())
            at_other[g].append(contrast[qj[idx, 1], qj[idx, 0]].mean())
        # random interior points (inside the jaw/brow hull) at least 0.12 io from every landmark
        hull = cv2.convexHull(p.astype(np.float32))
        cand = rng.uniform(p.min(axis=0), p.max(axis=0), size=(400, 2))
        inside = np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), False) > 0 for x, y in cand])
        far = np.linalg.norm(cand[:, None] - p[None], axis=2).min(axis=1) > 0.12 * io
        pick = np.round(cand[inside & far]).astype(int)
        assert len(pick) > 10
        background.append(np.median(contrast[pick[:, 1], pick[:, 0]]))
        # across the jaw line: the colour just inside the face differs from just outside it more
        # than between two points the same distance apart along the inside of the outline
        centre = p[[27, 28, 29, 30, 33]].mean(axis=0)
        img = image.astype(np.float32)
        for j in range(2, 15):
            tangent = p[j + 1] - p[j - 1]
            normal = np.array([-tangent[1], tangent[0]]) / np.linalg.norm(tangent)
            if np.dot(normal, centre - p[j]) < 0:
                normal = -normal
            d = 0.06 * io
            a, b = p[j] + d * normal, p[j] - d * normal
            c = a + tangent / np.linalg.norm(tangent) * 2 * d
            sample = lambda q: img[int(round(q[1])), int(round(q[0]))]  # noqa: E731
            jaw_inside_vs_out.append(np.abs(sample(a) - sample(b)).sum())
            jaw_along.append(np.abs(sample(a) - sample(c)).sum())
    base = float(np.mean(background))
    for g in GROUPS:
        assert np.mean(at[g]) > 2.0 * base, (g, np.mean(at[g]), base)
        assert np.mean(at[g]) > 1.4 * np.mean(at_other[g]), (g, np.mean(at[g]), np.mean(at_other[g]))
    assert np.median(jaw_inside_vs_out) > 3 * np.median(jaw_along) + 10
