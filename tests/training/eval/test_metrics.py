"""training.eval.metrics against hand-computed values (the arithmetic is in the comments)."""
import numpy as np
import pytest
import torch

from training.eval import metrics
from training.eval.metrics import (NORMALISERS, MeanShapeBaseline, auc, ced, failure_rate,
                              format_table, nme, normaliser_values, per_subset, summarize)


def face68(left_eye=(20.0, 30.0), right_eye=(40.0, 30.0)):
    """A 68-point ground truth: points 0..67 spread out, eyes as hexagons.

    Eye contour offsets (-5,0) (-2,-2) (2,-2) (5,0) (2,2) (-2,2) sum to 0, so each eye's centre
    is its given centre. Point 36 = left eye + (-5, 0), point 45 = right eye + (5, 0) (offset 3
    of the right eye, 42 + 3 = 45). With the defaults: 36 = (15, 30), 45 = (45, 30):
    inter-ocular 30, inter-pupil |(40,30) - (20,30)| = 20.
    """
    gt = np.stack([np.arange(68) * 1.0, 60.0 + np.arange(68) % 7], axis=1)
    offs = np.array([(-5, 0), (-2, -2), (2, -2), (5, 0), (2, 2), (-2, 2)], float)
    gt[36:42] = np.asarray(left_eye) + offs
    gt[42:48] = np.asarray(right_eye) + offs
    return gt


# ------------------------------------------------------------------------------------ NME
def test_nme_68_inter_ocular_one_pixel():
    # Eye corners 36 and 45 10 px apart; every prediction 1 px off -> 1 / 10 = 0.1.
    gt = face68(left_eye=(20, 30), right_eye=(20, 30))
    gt[36], gt[45] = (0.0, 0.0), (10.0, 0.0)
    pred = gt + np.array([1.0, 0.0])
    np.testing.assert_allclose(nme(pred, gt), [0.1])
    # (3, 4) off -> every error 5 -> 0.5
    np.testing.assert_allclose(nme(gt + np.array([3.0, 4.0]), gt), [0.5])


def test_nme_68_inter_pupil_and_batch():
    gt = face68()  # inter-ocular 30, inter-pupil 20
    pred = gt + np.array([0.0, 3.0])  # every point 3 px off
    np.testing.assert_allclose(nme(pred, gt, "inter_ocular"), [3 / 30])
    np.testing.assert_allclose(nme(pred, gt, "inter_pupil"), [3 / 20])
    # A batch of two: the second image is the first scaled by 2 with 0 error -> [0.1, 0].
    gts = np.stack([gt, 2 * gt])
    preds = np.stack([pred, 2 * gt])
    np.testing.assert_allclose(nme(preds, gts), [0.1, 0.0])
    np.testing.assert_allclose(normaliser_values(gts, "inter_pupil"), [20.0, 40.0])


def test_nme_mean_is_over_points_not_squared():
    # One point off by 10 (6, 8), all others exact; inter-ocular 30 -> 10 / 68 / 30.
    gt = face68()
    pred = gt.copy()
    pred[0] += (6.0, 8.0)
    np.testing.assert_allclose(nme(pred, gt), [10 / 68 / 30])


def test_nme_visible_mask():
    gt = face68()  # inter-ocular 30
    pred = gt.copy()
    pred[0] += (6.0, 8.0)   # error 10
    pred[1] += (0.0, 2.0)   # error 2
    vis = np.ones(68, bool)
    vis[0] = False          # drop the big error: 2 / 67 / 30
    np.testing.assert_allclose(nme(pred, gt, visible=vis), [2 / 67 / 30])
    only01 = np.zeros((1, 68), int)
    only01[0, :2] = 1       # (10 + 2) / 2 / 30 = 0.2
    np.testing.assert_allclose(nme(pred, gt, visible=only01), [0.2])
    # The normaliser still uses the occluded points' ground truth: hide both eye corners.
    vis = np.ones(68, bool)
    vis[[36, 45]] = False
    np.testing.assert_allclose(nme(pred, gt, visible=vis), [12 / 66 / 30])


def test_nme_98_points():
    gt = np.stack([np.arange(98.0), np.arange(98.0) % 5], axis=1)
    gt[60], gt[72] = (0.0, 0.0), (0.0, 8.0)      # inter-ocular 8
    gt[96], gt[97] = (1.0, 1.0), (4.0, 5.0)      # pupils: |(3, 4)| = 5
    pred = gt + np.array([2.0, 0.0])             # every error 2
    np.testing.assert_allclose(nme(pred, gt), [2 / 8])
    np.testing.assert_allclose(nme(pred, gt, "inter_pupil"), [2 / 5])


def test_nme_29_points_cofw():
    gt = np.stack([np.arange(29.0), np.zeros(29)], axis=1)
    gt[16], gt[17] = (10.0, 10.0), (13.0, 14.0)  # pupils 5 apart
    gt[8], gt[9] = (0.0, 0.0), (20.0, 0.0)       # outer eye corners 20 apart
    pred = gt + np.array([0.0, 1.0])             # every error 1
    np.testing.assert_allclose(nme(pred, gt), [1 / 5])          # docs/design.md: 16 and 17
    np.testing.assert_allclose(nme(pred, gt, "inter_pupil"), [1 / 5])
    np.testing.assert_allclose(nme(pred, gt, (8, 9)), [1 / 20])  # HRNet-style outer corners
    assert NORMALISERS["inter_ocular"][29] == ((16,), (17,))


def test_nme_custom_normaliser_pair():
    gt = np.array([[1, 2], [5, 2], [3, 11], [2, 5], [4, 7]], float)
    pred = gt + np.array([3.0, 0.0])
    # Pair of index groups: centroid of 0,1 = (3, 2); point 2 = (3, 11): distance 9 -> 1/3.
    np.testing.assert_allclose(nme(pred, gt, ((0, 1), 2)), [3 / 9])


def test_normalisers_come_from_the_schemes():
    from awing_ext.schemes import SCHEMES
    from awing_ext.schemes import normaliser_of
    for scheme in SCHEMES.values():
        norm = normaliser_of(scheme)
        left, right = NORMALISERS["inter_ocular"][scheme.num_points]
        assert (left[0], right[0]) == norm.pair
        assert NORMALISERS["inter_pupil"][scheme.num_points] == norm.pupils
        a, b = norm.pair
        assert scheme.flip[a] == b   # the normaliser's points mirror onto each other
        assert normaliser_of(scheme.num_points) is normaliser_of(scheme.name) is norm


def test_nme_accepts_torch():
    gt = face68()
    pred = gt + np.array([3.0, 0.0])
    out = nme(torch.tensor(pred, dtype=torch.float32), torch.tensor(gt))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, [0.1], rtol=1e-6)


@pytest.mark.parametrize("pred_shape,gt_shape", [((2, 68, 2), (3, 68, 2)), ((1, 68, 2), (1, 98, 2))])
def test_nme_shape_mismatch(pred_shape, gt_shape):
    with pytest.raises(ValueError, match="same shape"):
        nme(np.zeros(pred_shape), np.ones(gt_shape))


def test_nme_bad_inputs():
    gt = face68()
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        nme(np.zeros((68, 3)), np.zeros((68, 3)))
    with pytest.raises(ValueError, match="unknown normaliser 'interocular'"):
        nme(gt, gt, "interocular")
    with pytest.raises(ValueError, match="29, 68, 98 points, got K = 5"):
        nme(np.zeros((5, 2)), np.arange(10.0).reshape(5, 2))
    with pytest.raises(ValueError, match="out of range"):
        nme(gt, gt, (0, 70))
    with pytest.raises(ValueError, match="normaliser must be a name"):
        nme(gt, gt, np.array([1.0, 2.0]))
    # Degenerate ground truth in image 1: eye corners coincide -> normaliser 0.
    bad = gt.copy()
    bad[45] = bad[36]
    with pytest.raises(ValueError, match="image 1: normaliser 'inter_ocular' is 0"):
        nme(np.stack([gt, bad]), np.stack([gt, bad]))
    with pytest.raises(ValueError, match="unknown normaliser 'box'"):
        nme(gt, gt, "box")
    with pytest.raises(ValueError, match="image 0 has non-finite"):
        nme(np.full_like(gt, np.nan), gt)


def test_nme_bad_visible():
    gt = face68()
    with pytest.raises(ValueError, match=r"visible must have shape \(N, K\) = \(1, 68\)"):
        nme(gt, gt, visible=np.ones((1, 67), bool))
    with pytest.raises(ValueError, match="0/1 mask"):
        nme(gt, gt, visible=np.full(68, 0.5))
    vis = np.ones((2, 68), bool)
    vis[1] = False
    with pytest.raises(ValueError, match="image 1 has no visible points"):
        nme(np.stack([gt, gt]), np.stack([gt, gt]), visible=vis)


# ------------------------------------------------------------------------- FR, CED, AUC
def test_failure_rate():
    assert failure_rate([0.0, 0.05, 0.2]) == pytest.approx(1 / 3)
    assert failure_rate([0.0, 0.05, 0.2], threshold=0.01) == pytest.approx(2 / 3)
    assert failure_rate([0.1, 0.1]) == 0.0          # NME == threshold is not a failure
    assert failure_rate(np.array([0.3])) == 1.0


def test_ced():
    # x = [0, 0.05, 0.1]; share <= x: {0} -> 1/3, {0, 0.05} -> 2/3, 0.2 never counts.
    x, y = ced([0.0, 0.05, 0.2], threshold=0.1, num=3)
    np.testing.assert_allclose(x, [0.0, 0.05, 0.1])
    np.testing.assert_allclose(y, [1 / 3, 2 / 3, 2 / 3])
    x, y = ced(np.random.default_rng(0).uniform(0, 0.2, 50))
    assert x.shape == y.shape == (1000,) and np.all(np.diff(y) >= 0)


def test_auc_exact_hand_values():
    # Exact AUC = mean(clip(1 - e / T, 0, 1)).
    assert auc([0.0]) == 1.0
    assert auc([0.05]) == pytest.approx(0.5)
    assert auc([0.025]) == pytest.approx(0.75)
    assert auc([0.1]) == 0.0 and auc([0.2]) == 0.0
    assert auc([0.0, 0.05, 0.2]) == pytest.approx((1 + 0.5 + 0) / 3)
    assert auc([0.04], threshold=0.08) == pytest.approx(0.5)


def test_auc_matches_the_common_grid_implementation():
    """The exact AUC against the usual public code (F on a 1e-4 grid, scipy's Simpson rule):
    they differ by less than step / threshold."""
    scipy_integrate = pytest.importorskip("scipy.integrate")
    e = np.random.default_rng(1).gamma(2.0, 0.025, size=500)
    xs = np.arange(0, 0.1 + 1e-4, 1e-4)
    ys = np.array([np.count_nonzero(e <= x) for x in xs]) / e.size
    ref = scipy_integrate.simpson(ys, x=xs) / 0.1
    assert auc(e) == pytest.approx(ref, abs=1e-3)
    assert auc([0.05 + 1e-4 / 2]) == pytest.approx(0.4995)


def test_metric_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        failure_rate([])
    with pytest.raises(ValueError, match=r"nmes\[1\] = nan"):
        auc([0.1, np.nan])
    with pytest.raises(ValueError, match=r"nmes\[0\] = -0.1"):
        ced([-0.1])
    with pytest.raises(ValueError, match="1-D"):
        summarize(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="threshold must be > 0"):
        failure_rate([0.1], threshold=0)
    with pytest.raises(ValueError, match="num must be >= 2"):
        ced([0.1], num=1)


# ---------------------------------------------------------------------- summaries, tables
def test_summarize():
    s = summarize(np.array([0.0, 0.05, 0.2]))
    # mean 0.25 / 3, FR 1/3, AUC (1 + 0.5 + 0) / 3
    assert s == pytest.approx({"nme": 0.25 / 3, "fr": 1 / 3, "auc": 0.5, "count": 3})
    assert isinstance(s["count"], int) and isinstance(s["nme"], float)


def test_per_subset_labels_and_masks():
    e = np.array([0.02, 0.04, 0.2])
    out = per_subset(e, ["common", "common", "challenging"], total="full")
    assert list(out) == ["common", "challenging", "full"]
    assert out["common"]["nme"] == pytest.approx(0.03) and out["common"]["count"] == 2
    assert out["challenging"]["fr"] == 1.0
    assert out["full"]["count"] == 3
    out = per_subset(e, {"pose": np.array([False, True, True]), "blur": [0]}, total=None)
    assert list(out) == ["pose", "blur"]
    assert out["pose"]["nme"] == pytest.approx(0.12) and out["blur"]["nme"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="expected 3"):
        per_subset(e, ["a", "b"])
    with pytest.raises(ValueError, match="'x' is empty"):
        per_subset(e, {"x": np.zeros(3, bool)})
    with pytest.raises(ValueError, match="out of range"):
        per_subset(e, {"x": [5]})


def test_format_table():
    rows = {"model": summarize([0.0, 0.05, 0.2]),
            "mean shape": {"nme": 0.1234, "fr": 0.5, "auc": 0.25, "count": 7},
            "paper": {"nme": 0.0436, "fr": 0.0284, "auc": 0.5719}}
    table = format_table(rows)
    lines = table.splitlines()
    assert len(lines) == 5
    assert len({len(line) for line in lines}) == 1          # aligned columns
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    assert [c.strip() for c in lines[0].strip("|").split("|")] == \
        ["method", "NME %", "FR@10 %", "AUC@10", "images"]
    assert set(lines[1]) <= {"|", "-", ":"}
    # model: NME 8.33 %, FR 33.33 %, AUC 0.5000, 3 images
    assert [c.strip() for c in lines[2].strip("|").split("|")] == ["model", "8.33", "33.33", "0.5000", "3"]
    assert [c.strip() for c in lines[3].strip("|").split("|")] == ["mean shape", "12.34", "50.00", "0.2500", "7"]
    assert lines[4].split("|")[-2].strip() == "-"         # missing count
    assert "FR@8 %" in format_table(rows, threshold=0.08)
    with pytest.raises(ValueError):
        format_table({})


# ----------------------------------------------------------------------------- baseline
def test_mean_shape_baseline():
    # mean of (0,0),(2,0) = (1,0); of (2,2),(4,6) = (3,4)
    lm = np.array([[[0, 0], [2, 2]], [[2, 0], [4, 6]]], float)
    base = MeanShapeBaseline().fit(torch.tensor(lm))
    np.testing.assert_allclose(base.mean_shape_, [[1, 0], [3, 4]])
    pred = base.predict(3)
    assert pred.shape == (3, 2, 2)
    np.testing.assert_allclose(pred, np.broadcast_to([[1, 0], [3, 4]], (3, 2, 2)))
    pred[0] = 99.0  # a copy: the fitted mean is unchanged
    np.testing.assert_allclose(base.predict(1)[0], [[1, 0], [3, 4]])
    assert base.predict(0).shape == (0, 2, 2)
    # Its NME on the training shapes normalised by points 0-1: image 0 distance |(2,2)| = 2 sqrt 2,
    # errors |(1,0)| = 1 and |(1,2)| = sqrt(5) -> (1 + sqrt 5) / 2 / (2 sqrt 2).
    np.testing.assert_allclose(nme(base.predict(2), lm, (0, 1))[0], (1 + np.sqrt(5)) / 2 / (2 * np.sqrt(2)))


def test_mean_shape_baseline_errors():
    with pytest.raises(ValueError, match="before fit"):
        MeanShapeBaseline().predict(2)
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        MeanShapeBaseline().fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        MeanShapeBaseline().fit(np.zeros((0, 68, 2)))
    with pytest.raises(ValueError, match="image 1 has non-finite"):
        MeanShapeBaseline().fit(np.array([[[0, 0]], [[np.nan, 0]]]))
    with pytest.raises(ValueError, match="non-negative int"):
        MeanShapeBaseline().fit(np.zeros((1, 3, 2))).predict(-1)
    assert metrics.__all__  # the public API is declared
