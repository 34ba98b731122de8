"""The crop/augmentation warp: image and landmarks move together; flips re-order points."""
import numpy as np
import pytest

from awing_ext.schemes import get_scheme
from training.data.transforms import AugmentConfig, CropAndAugment, apply_affine, crop_box, crop_matrix


def _dot_image(points, size=200):
    """An image with one bright 1-pixel dot per point (integer positions)."""
    img = np.zeros((size, size, 3), np.uint8)
    for x, y in points.astype(int):
        img[y, x] = 255
    return img


def test_crop_matrix_maps_box_centre_to_output_centre():
    m = crop_matrix(50.0, 70.0, 40.0, 64)
    np.testing.assert_allclose(apply_affine(np.array([[50.0, 70.0]]), m), [[31.5, 31.5]])
    # 40 image pixels span the 64 output pixels
    np.testing.assert_allclose(apply_affine(np.array([[70.0, 70.0]]), m) - 31.5, [[32.0, 0.0]])


@pytest.mark.parametrize("rotation,flip", [(0.0, False), (25.0, False), (-40.0, True), (90.0, True)])
def test_image_and_landmarks_move_together(rotation, flip):
    rng = np.random.default_rng(0)
    points = rng.uniform(60, 140, size=(6, 2)).round()
    img = _dot_image(points)
    m = crop_matrix(100.0, 100.0, 120.0, 128, rotation, flip)
    import cv2
    warped = cv2.warpAffine(img, m, (128, 128), flags=cv2.INTER_LINEAR)
    for p in apply_affine(points, m):
        x, y = int(round(p[0])), int(round(p[1]))
        patch = warped[max(0, y - 1):y + 2, max(0, x - 1):x + 2, 0]
        assert patch.max() > 0, f"no dot near the transformed point {p}"


def test_flip_permutation_applied():
    scheme = get_scheme("68")
    t = CropAndAugment(64, scheme.flip, AugmentConfig(rotate=0, scale_jitter=0, translate=0, flip=1.0,
                                                      brightness=0, contrast=0, occlusion=0))
    pts = np.random.default_rng(1).uniform(20, 80, size=(68, 2)).astype(np.float32)
    sample = {"image": np.zeros((100, 100, 3), np.uint8), "landmarks": pts}
    out = t(sample, np.random.default_rng(0))
    plain = CropAndAugment(64)(sample)
    mirrored = plain["landmarks"].copy()
    mirrored[:, 0] = 63 - mirrored[:, 0]
    np.testing.assert_allclose(out["landmarks"], mirrored[list(scheme.flip)], atol=1e-4)


def test_same_generator_same_augmentation():
    scheme = get_scheme("68")
    t = CropAndAugment(64, scheme.flip, AugmentConfig())
    pts = np.random.default_rng(2).uniform(20, 80, size=(68, 2)).astype(np.float32)
    img = np.random.default_rng(3).integers(0, 255, size=(100, 100, 3), dtype=np.uint8)
    a = t({"image": img, "landmarks": pts}, np.random.default_rng([7, 1, 5]))
    b = t({"image": img, "landmarks": pts}, np.random.default_rng([7, 1, 5]))
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["landmarks"], b["landmarks"])
    assert a["image"].shape == (3, 64, 64) and a["image"].dtype == np.uint8


def test_crop_box_and_bad_inputs():
    cx, cy, side = crop_box(np.array([[10.0, 20.0], [30.0, 60.0]]), scale=1.0)
    assert (cx, cy, side) == (20.0, 40.0, 40.0)
    with pytest.raises(ValueError, match="no finite landmark"):
        crop_box(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="uint8 \\(H, W, 3\\) RGB"):
        CropAndAugment(64)({"image": np.zeros((10, 10), np.uint8), "landmarks": np.zeros((68, 2))})
    with pytest.raises(ValueError, match="flip permutation"):
        CropAndAugment(64, None, AugmentConfig(flip=0.5))


def _photometric_only(**kw):
    """An AugmentConfig with no geometry and no colour jitter, plus `kw`."""
    base = dict(rotate=0, scale_jitter=0, translate=0, flip=0, brightness=0, contrast=0, occlusion=0)
    return AugmentConfig(**{**base, **kw})


def _checkerboard_sample():
    img = ((np.indices((96, 96)).sum(axis=0) % 2) * 255).astype(np.uint8)
    pts = np.array([[20.0, 20.0], [75.0, 75.0]])
    return {"image": np.repeat(img[..., None], 3, axis=2), "landmarks": pts}


def test_blur_smooths_and_leaves_points():
    sample = _checkerboard_sample()
    sharp = CropAndAugment(96, augment=_photometric_only())(sample, np.random.default_rng(0))
    blurred = CropAndAugment(96, augment=_photometric_only(blur=1.0, blur_sigma=3.0))(sample, np.random.default_rng(0))
    def hf(img):  # high-frequency energy: neighbour differences
        return np.abs(np.diff(img[0].astype(float), axis=1)).mean()
    assert hf(blurred["image"]) < 0.5 * hf(sharp["image"])
    np.testing.assert_array_equal(blurred["landmarks"], sharp["landmarks"])


def test_noise_changes_pixels_within_its_std():
    flat = {"image": np.full((96, 96, 3), 128, np.uint8), "landmarks": np.array([[20.0, 20.0], [75.0, 75.0]])}
    out = CropAndAugment(96, augment=_photometric_only(noise=1.0, noise_std=0.05))(flat, np.random.default_rng(1))
    diff = out["image"].astype(float) - 128
    assert diff.std() > 0.5 and diff.std() <= 0.05 * 255 * 1.1
    assert abs(diff.mean()) < 1.0


def test_blur_and_noise_off_keep_the_random_stream():
    """Disabled blur/noise draw nothing, so every earlier run's augmentation replays unchanged;
    probability 0 is the default."""
    scheme = get_scheme("68")
    pts = np.random.default_rng(2).uniform(20, 80, size=(68, 2)).astype(np.float32)
    img = np.random.default_rng(3).integers(0, 255, size=(100, 100, 3), dtype=np.uint8)
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    CropAndAugment(64, scheme.flip, AugmentConfig())({"image": img, "landmarks": pts}, rng_a)
    CropAndAugment(64, scheme.flip, AugmentConfig(blur=0.0, noise=0.0))({"image": img, "landmarks": pts}, rng_b)
    assert rng_a.random() == rng_b.random()
    assert AugmentConfig().blur == 0 and AugmentConfig().noise == 0
