"""The ablation's statistics against values worked out by hand: the Student-t interval (its quantile
a literal, checked against scipy), paired differences and their verdicts (NME / FR lower is better,
AUC higher), the edge cases (one seed, none, sd 0, NaN) and the did-not-learn rule in the table."""
import json
import math

import pytest
from scipy.stats import t as student_t

from training.ablation.stats import (BETTER, NO_EVIDENCE, WORSE, did_not_learn, paired_difference,
                                     seeds_that_did_not_learn, summary, variant_table, verdict)

T_975_4 = 2.7764451051977943   # t quantile 0.975, 4 degrees of freedom (to 17 digits; tables: 2.776)


def t_df2(p):
    """The t quantile with 2 degrees of freedom has a closed form: (2p - 1) / sqrt(2p(1 - p))."""
    return (2 * p - 1) / math.sqrt(2 * p * (1 - p))


def test_the_literal_quantiles_are_scipys():
    assert float(student_t.ppf(0.975, 4)) == pytest.approx(T_975_4, rel=1e-14)
    assert float(student_t.ppf(0.975, 2)) == pytest.approx(t_df2(0.975), rel=1e-12)
    assert t_df2(0.975) == pytest.approx(4.302652729749464, rel=1e-12)   # tables: 4.303


def test_summary_of_one_to_five():
    s = summary([1, 2, 3, 4, 5])
    half = T_975_4 * math.sqrt(2.5) / math.sqrt(5)   # sd: squares 4+1+0+1+4 = 10 over n-1 = 4
    assert s["n"] == 5 and s["mean"] == 3.0 and s["confidence"] == 0.95 and s["note"] is None
    assert s["sd"] == pytest.approx(math.sqrt(2.5), rel=1e-12)
    assert s["ci_half_width"] == pytest.approx(half, rel=1e-12) and half == pytest.approx(1.9632432, rel=1e-7)
    assert (s["ci_low"], s["ci_high"]) == (pytest.approx(3 - half, rel=1e-12), pytest.approx(3 + half, rel=1e-12))


def test_summary_confidence_and_mapping_input():
    s = summary({7: 0.04, 11: 0.05, 13: 0.06}, confidence=0.90)   # sd 0.01, t(0.95, 2)
    assert s["mean"] == pytest.approx(0.05) and s["sd"] == pytest.approx(0.01)
    assert s["ci_half_width"] == pytest.approx(t_df2(0.95) * 0.01 / math.sqrt(3), rel=1e-9)
    assert t_df2(0.95) == pytest.approx(2.919985580, rel=1e-9)   # tables: 2.920


def test_one_seed_has_no_interval():
    s = summary([0.0379])
    assert s["n"] == 1 and s["mean"] == 0.0379 and s["note"] == "one seed: no confidence interval"
    assert s["sd"] is None and s["ci_half_width"] is None and s["ci_low"] is None and s["ci_high"] is None


def test_equal_values_give_a_zero_width_interval():
    s = summary([0.1, 0.1, 0.1])
    assert s["mean"] == 0.1 and s["sd"] == 0.0 and s["ci_low"] == s["ci_high"] == 0.1
    assert "sd 0" in s["note"]


@pytest.mark.parametrize("values, needles", [
    ([], ["no values"]),
    ([0.03, math.nan], ["index 1", "nan"]),
    ({0: 0.03, 4: math.inf}, ["seed 4", "inf"]),
    ([0.03, None], ["index 1", "None"]),
])
def test_summary_refuses_no_values_and_non_finite_ones(values, needles):
    with pytest.raises(ValueError) as info:
        summary(values, what="variant 'x' nme")
    message = str(info.value)
    for needle in needles + ["variant 'x' nme"]:
        assert needle in message, (needle, message)


def test_summary_refuses_a_confidence_outside_0_1():
    with pytest.raises(ValueError, match="confidence"):
        summary([1.0, 2.0], confidence=95)


BASE = {0: 0.050, 1: 0.052, 2: 0.048}
LOWER = {0: 0.041, 1: 0.041, 2: 0.038}   # BASE - 0.01, spread: differences -0.009, -0.011, -0.010


def test_paired_difference_below_zero_is_better_for_nme():
    d = paired_difference(LOWER, BASE, lower_is_better=True)
    half = t_df2(0.975) * 0.001 / math.sqrt(3)   # sd: squares 1e-6 + 1e-6 + 0 over 2 = 0.001^2
    assert d["n"] == 3 and d["paired_seeds"] == [0, 1, 2]
    assert d["left_out"] == {"variant_only": [], "baseline_only": []}
    assert d["mean"] == pytest.approx(-0.010, rel=1e-9) and d["sd"] == pytest.approx(0.001, rel=1e-9)
    assert d["ci_low"] == pytest.approx(-0.010 - half, rel=1e-9)
    assert d["ci_high"] == pytest.approx(-0.010 + half, rel=1e-9) and d["ci_high"] < 0
    assert d["verdict"] == BETTER and d["lower_is_better"] is True
    assert paired_difference(BASE, LOWER, lower_is_better=True)["verdict"] == WORSE


def test_auc_direction_is_reversed():
    assert paired_difference(LOWER, BASE, lower_is_better=False)["verdict"] == WORSE
    assert paired_difference(BASE, LOWER, lower_is_better=False)["verdict"] == BETTER


def test_mixed_signs_are_no_evidence():
    d = paired_difference({0: 0.04, 1: 0.06, 2: 0.05}, {0: 0.05, 1: 0.05, 2: 0.05}, lower_is_better=True)
    assert d["mean"] == pytest.approx(0.0, abs=1e-15) and d["sd"] == pytest.approx(0.01)
    assert d["ci_low"] < 0 < d["ci_high"] and d["verdict"] == NO_EVIDENCE


def test_zero_sd_is_a_degenerate_interval_judged_by_its_sign():
    shifted = paired_difference({0: 0.25, 1: 0.5, 2: 0.75}, {0: 0.5, 1: 0.75, 2: 1.0}, lower_is_better=True)
    assert shifted["sd"] == 0.0 and shifted["ci_low"] == shifted["ci_high"] == -0.25
    assert shifted["verdict"] == BETTER and "sd 0" in shifted["note"]
    same = paired_difference(BASE, dict(BASE), lower_is_better=True)
    assert same["mean"] == same["sd"] == same["ci_low"] == same["ci_high"] == 0.0
    assert same["verdict"] == NO_EVIDENCE


def test_only_seeds_in_both_are_paired_and_the_rest_reported():
    d = paired_difference({0: 0.9, 1: 0.04, 2: 0.05, 3: 0.06}, {1: 0.05, 2: 0.05, 3: 0.05, 5: 0.9},
                          lower_is_better=True)
    assert d["paired_seeds"] == [1, 2, 3] and d["n"] == 3
    assert d["left_out"] == {"variant_only": [0], "baseline_only": [5]}
    assert d["mean"] == pytest.approx(0.0, abs=1e-15)   # seeds 0 and 5 (0.9) would move it


def test_fewer_than_two_pairs_give_no_verdict():
    one = paired_difference({0: 0.04}, {0: 0.05, 1: 0.05}, lower_is_better=True)
    assert one["n"] == 1 and one["mean"] == pytest.approx(-0.01) and one["ci_low"] is None
    assert one["verdict"] == NO_EVIDENCE and one["note"] == "one seed: no confidence interval"
    assert one["left_out"] == {"variant_only": [], "baseline_only": [1]}
    none = paired_difference({0: 0.04}, {1: 0.05}, lower_is_better=True)
    assert none["n"] == 0 and none["mean"] is None and none["verdict"] == NO_EVIDENCE
    assert "no seed in both" in none["note"]


def test_paired_difference_refuses_nan_in_either():
    with pytest.raises(ValueError, match=r"baseline: .*seed 2: nan"):
        paired_difference(LOWER, {**BASE, 2: math.nan}, lower_is_better=True)


@pytest.mark.parametrize("low, high, lower_is_better, expected", [
    (-0.2, -0.1, True, BETTER), (0.1, 0.2, True, WORSE), (-0.1, 0.1, True, NO_EVIDENCE),
    (-0.1, 0.0, True, NO_EVIDENCE), (0.0, 0.0, True, NO_EVIDENCE), (None, None, True, NO_EVIDENCE),
    (-0.2, -0.1, False, WORSE), (0.1, 0.2, False, BETTER),
])
def test_verdict_rule(low, high, lower_is_better, expected):
    assert verdict(low, high, lower_is_better) == expected


def test_did_not_learn_is_mean_nme_not_below_the_mean_shapes():
    shape = {0: 0.10, 1: 0.12}   # mean 0.11
    assert did_not_learn({0: 0.05, 1: 0.06}, shape) is False
    assert did_not_learn({0: 0.12, 1: 0.11}, shape) is True
    assert did_not_learn([0.11, 0.11], shape) is True   # equal: not below


def _runs(nmes, fr=0.03, auc=0.6):
    return {seed: {"nme": nme, "fr": fr, "auc": auc} for seed, nme in nmes.items()}


SHAPE = {0: 0.10, 1: 0.10, 2: 0.10}


def test_table_ranks_and_judges_only_the_variants_that_learned():
    variants = {"awing": _runs(BASE), "wing": _runs(LOWER), "broken": _runs({0: 0.15, 1: 0.16, 2: 0.14})}
    table = variant_table(variants, SHAPE, "awing")
    assert json.loads(json.dumps(table, allow_nan=False)) == table   # ablation.json-ready
    awing, wing, broken = table["variants"]
    assert table["reference_learned"] is True and table["note"] is None
    assert table["ranking"] == ["wing", "awing"] and (wing["rank"], awing["rank"]) == (1, 2)
    assert wing["nme"]["mean"] == pytest.approx(0.04, rel=1e-9) and wing["seeds"] == [0, 1, 2]
    assert wing["vs_reference"]["nme"]["mean"] == pytest.approx(-0.010, rel=1e-9)
    assert wing["vs_reference"]["nme"]["verdict"] == BETTER
    assert wing["vs_reference"]["auc"]["lower_is_better"] is False
    assert wing["vs_reference"]["fr"]["verdict"] == NO_EVIDENCE   # equal FR: sd 0 at 0
    assert awing["vs_reference"] is None and "the reference" in awing["note"]
    assert broken["did_not_learn"] is True and broken["rank"] is None and broken["vs_reference"] is None
    assert "did not learn" in broken["note"] and "15.00 %" in broken["note"] and "10.00 %" in broken["note"]
    assert table["mean_shape"]["nme"]["mean"] == pytest.approx(0.10)


def test_a_reference_that_did_not_learn_gives_no_verdicts():
    variants = {"awing": _runs({0: 0.12, 1: 0.11, 2: 0.13}), "wing": _runs(LOWER)}
    table = variant_table(variants, SHAPE, "awing")
    assert table["reference_learned"] is False
    assert "did not learn" in table["note"] and table["note"].endswith("no verdicts")
    assert all(row["vs_reference"] is None for row in table["variants"])
    assert table["variants"][1]["note"].startswith("no verdict: the reference 'awing' did not learn")
    assert table["ranking"] == ["wing"]


def test_table_pairs_by_seed_and_lists_a_variant_without_seeds():
    variants = {"awing": _runs(BASE), "wing": _runs({0: 0.041, 1: 0.041}), "pending": {}}
    table = variant_table(variants, SHAPE, "awing")
    _, wing, pending = table["variants"]
    assert wing["vs_reference"]["nme"]["paired_seeds"] == [0, 1]
    assert wing["vs_reference"]["nme"]["left_out"] == {"variant_only": [], "baseline_only": [2]}
    assert pending["nme"] is None and pending["rank"] is None and pending["did_not_learn"] is None
    assert "no finished seed" in pending["note"] and table["ranking"] == ["wing", "awing"]


def test_table_refuses_nan_and_an_unknown_reference():
    with pytest.raises(ValueError, match=r"variant 'wing' nme: .*seed 1: nan"):
        variant_table({"awing": _runs(BASE), "wing": _runs({0: 0.04, 1: math.nan})}, SHAPE, "awing")
    with pytest.raises(ValueError, match="reference 'sota' is not one of the variants"):
        variant_table({"awing": _runs(BASE)}, SHAPE, "sota")


def test_one_seed_that_did_not_learn_is_enough():
    """A mean below the mean shape's does not hide a seed that collapsed (components.toml's plain
    FAN: 21.23 % at seed 0 against the mean shape's 18.31 %, 13.60 % and 14.94 % at the others)."""
    shape = {0: 0.1831, 1: 0.1808, 2: 0.1815}
    fan = {0: 0.2123, 1: 0.1360, 2: 0.1494}
    assert seeds_that_did_not_learn(fan, shape) == [0]
    assert did_not_learn(fan, shape) is True
    assert seeds_that_did_not_learn({0: 0.13, 1: 0.12, 2: 0.13}, shape) == []
    assert seeds_that_did_not_learn({0: 0.19, 5: 0.19}, shape) == [0, 5]   # seed 5: against the mean, 0.1818
    table = variant_table({"fan": _runs(fan), "coordconv": _runs({0: 0.13, 1: 0.12, 2: 0.13})}, shape, "fan")
    first, second = table["variants"]
    assert first["did_not_learn"] and first["rank"] is None and table["ranking"] == ["coordconv"]
    assert "seed 0: NME 21.23 %, not below the mean shape's 18.31 %" in first["note"]
    assert table["note"].startswith("the reference 'fan' did not learn (seed 0: NME 21.23 %")
    assert second["vs_reference"] is None and second["rank"] == 1
