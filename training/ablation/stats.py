"""The statistics behind an ablation's claims: per-variant summaries over seeds, paired differences
against a reference variant with a verdict, and the did-not-learn rule. Plain Python data in (per
variant, seed -> {"nme", "fr", "auc"} as fractions, as training writes them; the mean shape's NME
per seed), plain JSON-ready data out (floats, None, str, lists, dicts).

summary
    n, mean, sample sd (ddof = 1) and the two-sided Student-t confidence interval of the mean,
    mean +- t * sd / sqrt(n), where t = scipy.stats.t.ppf((1 + confidence) / 2, n - 1). One value:
    the mean alone (sd and interval None, with a note). sd 0 (all values equal): a zero-width
    interval at the mean, with a note. No values, or a NaN / inf / missing value (a collapsed run),
    is a ValueError naming them: such a run must not become a number.

paired difference
    A variant and the reference are paired by seed (same seed = same data order and
    initialisation, so the per-seed difference cancels what the seed alone does); only seeds both
    have count, the others are listed as left out. Its numbers are the summary of the per-seed
    differences variant - reference (a paired t interval).

verdict
    ``better`` when the difference's interval lies entirely on the good side of 0 (below for NME
    and FR, above for AUC: LOWER_IS_BETTER), ``worse`` when entirely on the bad side, ``no
    evidence`` when it contains 0 or there is no interval (fewer than 2 pairs). A zero-width
    interval is judged by its sign like any other (at exactly 0: no evidence). Each verdict is its
    own interval: over many variants some verdicts happen by chance (no multiple-comparison
    correction).

did not learn
    A run whose NME is not below the mean shape's (every face given the training faces' average
    shape: what a model scores without learning from the image) did not learn. A variant did not
    learn when its mean NME is not below the mean shape's mean, or when any of its seeds did not
    learn (that seed's NME against that seed's mean shape): a variant that collapsed at one seed
    in three is not a model to rank, and its interval would be the collapse's. Its difference from
    the reference measures a failed optimisation, not the ablated component, so it is neither
    ranked nor given a verdict; when the reference did not learn, no variant gets a verdict.
"""
from __future__ import annotations

import math
import statistics
from typing import Dict, Hashable, Mapping, Optional, Sequence, Union

from scipy.stats import t as student_t

__all__ = ["METRICS", "LOWER_IS_BETTER", "BETTER", "WORSE", "NO_EVIDENCE", "summary", "verdict",
           "paired_difference", "did_not_learn", "seeds_that_did_not_learn", "variant_table"]

METRICS = ("nme", "fr", "auc")
LOWER_IS_BETTER = {"nme": True, "fr": True, "auc": False}
BETTER, WORSE, NO_EVIDENCE = "better", "worse", "no evidence"

Values = Union[Sequence[float], Mapping[Hashable, float]]   # a mapping's keys are seeds


def _finite(values: Values, what: str) -> Dict[Hashable, float]:
    """`values` as {seed or index: float}; a missing, non-numeric, NaN or inf value is a ValueError
    naming each one."""
    mapping = isinstance(values, Mapping)
    numbers, bad = {}, []
    for key, value in (values.items() if mapping else enumerate(values)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if math.isfinite(number):
            numbers[key] = number
        else:
            bad.append(f"{'seed' if mapping else 'index'} {key}: {value!r}")
    if bad:
        raise ValueError(f"{what}: not a finite number at {', '.join(bad)} (a collapsed run?); "
                         "refusing to summarise it")
    return numbers


def _blank(n: int, confidence: float, note: Optional[str]) -> dict:
    return {"n": n, "mean": None, "sd": None, "confidence": confidence, "ci_half_width": None,
            "ci_low": None, "ci_high": None, "note": note}


def summary(values: Values, confidence: float = 0.95, what: str = "values") -> dict:
    """{"n", "mean", "sd", "confidence", "ci_half_width", "ci_low", "ci_high", "note"} of `values`
    (see the module docstring); `what` names them in errors."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    numbers = list(_finite(values, what).values())
    if not numbers:
        raise ValueError(f"{what}: no values to summarise")
    n = len(numbers)
    out = _blank(n, confidence, "one seed: no confidence interval" if n == 1 else None)
    out["mean"] = statistics.mean(numbers)   # exact arithmetic, correctly rounded: equal values give sd 0
    if n == 1:
        return out
    sd = statistics.stdev(numbers)
    half = float(student_t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    out.update(sd=sd, ci_half_width=half, ci_low=out["mean"] - half, ci_high=out["mean"] + half)
    if sd == 0:
        out["note"] = "sd 0 (all values equal): the interval is the mean alone"
    return out


def verdict(ci_low: Optional[float], ci_high: Optional[float], lower_is_better: bool) -> str:
    """BETTER / WORSE / NO_EVIDENCE for an interval of differences variant - reference."""
    if ci_low is None or ci_high is None or ci_low <= 0 <= ci_high:
        return NO_EVIDENCE
    below = ci_high < 0
    return BETTER if below == lower_is_better else WORSE


def paired_difference(variant: Mapping[Hashable, float], baseline: Mapping[Hashable, float], *,
                      lower_is_better: bool, confidence: float = 0.95) -> dict:
    """The summary of variant[seed] - baseline[seed] over the seeds both have (see summary), plus
    "paired_seeds", "left_out" ({"variant_only", "baseline_only"}: seeds not paired),
    "lower_is_better" and "verdict"."""
    ours, theirs = _finite(variant, "variant"), _finite(baseline, "baseline")
    paired = sorted(set(ours) & set(theirs))
    if paired:
        stats = summary([ours[s] - theirs[s] for s in paired], confidence)
    else:
        stats = _blank(0, confidence, "no seed in both: nothing to compare")
    return {**stats, "paired_seeds": paired,
            "left_out": {"variant_only": sorted(set(ours) - set(theirs)),
                         "baseline_only": sorted(set(theirs) - set(ours))},
            "lower_is_better": lower_is_better,
            "verdict": verdict(stats["ci_low"], stats["ci_high"], lower_is_better)}


def seeds_that_did_not_learn(variant_nmes: Values, mean_shape_nmes: Values) -> list:
    """The seeds (a sequence's: indices) whose NME is not below the mean shape's NME at the same
    seed; a seed the mean shape has no value for is compared with the mean shape's mean."""
    ours = _finite(variant_nmes, "variant NME")
    shape = _finite(mean_shape_nmes, "mean-shape NME")
    shape_mean = statistics.fmean(shape.values())
    return [seed for seed, nme in ours.items() if nme >= shape.get(seed, shape_mean)]


def did_not_learn(variant_nmes: Values, mean_shape_nmes: Values) -> bool:
    """True when the variant's mean NME is not below the mean shape's mean NME, or any of its
    seeds' NME is not below that seed's mean-shape NME (module docstring)."""
    mean_rule = (summary(variant_nmes, what="variant NME")["mean"]
                 >= summary(mean_shape_nmes, what="mean-shape NME")["mean"])
    return mean_rule or bool(seeds_that_did_not_learn(variant_nmes, mean_shape_nmes))


def _percent(value: float) -> str:
    return f"{100 * value:.2f} %"


def variant_table(variants: Mapping[str, Mapping[Hashable, Mapping[str, float]]],
                  mean_shape_nme: Values, reference: str, confidence: float = 0.95) -> dict:
    """The whole table: `variants` is {name: {seed: {"nme", "fr", "auc"}}}, `reference` the
    variant the others are compared with, `mean_shape_nme` the mean shape's NME per seed.

    Returns {"confidence", "reference", "reference_learned", "note", "mean_shape": {"nme": summary},
    "lower_is_better": LOWER_IS_BETTER, "variants": [row, ...] (input order), "ranking": [name, ...]
    (the variants that learned, by mean NME, best first)}; a row is {"name", "seeds", "nme", "fr",
    "auc" (summaries), "did_not_learn", "rank" (1 = best, None when not ranked), "vs_reference"
    ({metric: paired_difference} or None), "note" (why a row has no verdict, else None)}.
    A variant with no seeds is listed unsummarised (its metrics, flag and rank None); a non-finite
    value anywhere, or no mean-shape value, is a ValueError (see summary)."""
    if reference not in variants:
        raise ValueError(f"reference {reference!r} is not one of the variants ({', '.join(variants)})")
    shape = summary(mean_shape_nme, confidence, "mean-shape NME")
    values, rows = {}, []
    for name, per_seed in variants.items():
        values[name] = {m: _finite({s: r.get(m) for s, r in per_seed.items()}, f"variant {name!r} {m}")
                        for m in METRICS}
        summarised = bool(per_seed)
        rows.append({"name": name, "seeds": sorted(per_seed),
                     **{m: summary(values[name][m], confidence) if summarised else None for m in METRICS},
                     "did_not_learn": did_not_learn(values[name]["nme"], mean_shape_nme) if summarised else None,
                     "rank": None, "vs_reference": None,
                     "note": None if summarised else "no finished seed: not summarised, ranked or compared"})

    def why_not_learned(name: str) -> str:
        """The mean when it is not below the mean shape's, then every seed that did not learn."""
        row = next(r for r in rows if r["name"] == name)
        shape_at = _finite(mean_shape_nme, "mean-shape NME")
        reasons = [f"mean NME {_percent(row['nme']['mean'])}, not below the mean shape's {_percent(shape['mean'])}"
                   ] if row["nme"]["mean"] >= shape["mean"] else []
        reasons += [f"seed {s}: NME {_percent(values[name]['nme'][s])}, not below the mean shape's "
                    f"{_percent(shape_at.get(s, shape['mean']))}"
                    for s in seeds_that_did_not_learn(values[name]["nme"], mean_shape_nme)]
        return "; ".join(reasons)

    ref = next(r for r in rows if r["name"] == reference)
    reference_learned = None if ref["did_not_learn"] is None else not ref["did_not_learn"]
    why = None   # why no variant gets a verdict
    if reference_learned is None:
        why = f"the reference {reference!r} has no finished seed"
    elif not reference_learned:
        why = f"the reference {reference!r} did not learn ({why_not_learned(ref['name'])})"
    for row in rows:
        if row["did_not_learn"] is None:
            continue
        if row["did_not_learn"]:
            row["note"] = f"did not learn ({why_not_learned(row['name'])}): not ranked, no verdict"
        elif row is ref:
            row["note"] = "the reference: the others are compared with it"
        elif why:
            row["note"] = f"no verdict: {why}"
        else:
            row["vs_reference"] = {m: paired_difference(values[row["name"]][m], values[reference][m],
                                                        lower_is_better=LOWER_IS_BETTER[m], confidence=confidence)
                                   for m in METRICS}
    ranked = sorted((r for r in rows if r["did_not_learn"] is False), key=lambda r: r["nme"]["mean"])
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    return {"confidence": confidence, "reference": reference, "reference_learned": reference_learned,
            "note": f"{why}: no verdicts" if why else None, "mean_shape": {"nme": shape},
            "lower_is_better": dict(LOWER_IS_BETTER), "variants": rows, "ranking": [r["name"] for r in ranked]}
