"""The One Euro filter: steadier at rest, little lag in motion, frame-rate independent, NaN-safe."""
import numpy as np
import pytest

from training.infer.smoothing import OneEuroFilter


def _run(filt, samples, fps):
    return np.array([filt(x, i / fps) for i, x in enumerate(samples)])


def test_jitter_at_rest_is_reduced():
    rng = np.random.default_rng(0)
    noisy = 100 + rng.normal(0, 1.0, size=(300, 68, 2))
    out = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), noisy, 30.0)
    jitter = lambda a: np.abs(np.diff(a[50:], axis=0)).mean()   # noqa: E731
    assert jitter(out) < 0.25 * jitter(noisy)
    assert abs(out[50:].mean() - 100) < 0.1


def test_first_sample_passes_and_a_constant_stays():
    f = OneEuroFilter()
    x = np.array([[3.0, 4.0]])
    assert np.array_equal(f(x, 0.0), x)
    for t in range(1, 10):
        assert np.allclose(f(x, t / 25), x)


def test_beta_cuts_lag_on_motion():
    ramp = np.arange(120, dtype=float)[:, None] * 5.0        # 5 px per frame at 30 fps
    slow = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), ramp, 30.0)
    fast = _run(OneEuroFilter(min_cutoff=1.0, beta=0.05), ramp, 30.0)
    lag = lambda out: (ramp - out)[60:].mean()   # noqa: E731
    assert lag(fast) < 0.5 * lag(slow) and lag(slow) > 0


def test_same_seconds_same_smoothing_at_any_frame_rate():
    """The cutoffs are in Hz: a step is followed in about the same time at 30 and 60 fps."""
    def settle(fps):
        f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
        f(np.zeros(1), 0.0)
        t = 0.0
        for i in range(1, 10 * int(fps)):
            t = i / fps
            if f(np.ones(1), t)[0] > 0.9:
                return t
    assert settle(30.0) == pytest.approx(settle(60.0), rel=0.1)


def test_nan_points_pass_and_keep_state():
    f = OneEuroFilter(beta=0.0)
    f(np.array([1.0, 1.0]), 0.0)
    out = f(np.array([np.nan, 2.0]), 0.1)
    assert np.isnan(out[0]) and 1.0 < out[1] < 2.0
    assert 1.0 < f(np.array([2.0, 2.0]), 0.2)[0] < 2.0   # the lost point resumes from its last state


def test_bad_arguments():
    with pytest.raises(ValueError, match="min_cutoff > 0"):
        OneEuroFilter(min_cutoff=0)
    f = OneEuroFilter()
    f(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="times must increase"):
        f(np.zeros(2), 1.0)
    f.reset()
    assert np.array_equal(f(np.ones(2), 0.5), np.ones(2))
