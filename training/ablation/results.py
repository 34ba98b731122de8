"""A run's results.json as the ablation reads it: a run is finished only when that file parses and
holds what the table needs, the test split's nme, fr and auc of the model and of the mean shape
(numbers, or null where train wrote a non-finite value as null).

A results.json that exists but does not qualify (cut short by a full disk or a kill, edited by
hand) is unreadable, not finished: --report-only names it, and the next start of the ablation
evaluates the run again from its best.pt (train --resume auto at the run's end only runs the final
test), or runs it again from the start when there is no best.pt (runner.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Tuple

__all__ = ["RESULTS_NAME", "METRICS", "BASELINE", "load_results", "is_finished"]

RESULTS_NAME = "results.json"
METRICS = ("nme", "fr", "auc")
BASELINE = "mean shape"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _problem(data) -> Optional[str]:
    """Why `data` (a parsed results.json) cannot give the table its numbers, or None."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        return "no \"results\" object"
    for who in ("model", BASELINE):
        row = results.get(who)
        if not isinstance(row, dict):
            return f"no results[{who!r}] object"
        for key in METRICS:
            if key not in row:
                return f"no results[{who!r}][{key!r}]"
            if row[key] is not None and not _is_number(row[key]):
                return f"results[{who!r}][{key!r}] is {row[key]!r}, not a number"
    if data.get("threshold") is not None and not _is_number(data["threshold"]):
        return f"its threshold is {data['threshold']!r}, not a number"
    return None


def load_results(folder: Path) -> Tuple[Optional[dict], Optional[str]]:
    """(the run's results, None) when it is finished; (None, None) when it has no results.json;
    (None, why) when its results.json is unreadable."""
    path = Path(folder) / RESULTS_NAME
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"
    problem = _problem(data)
    return (None, problem) if problem else (data, None)


def is_finished(folder: Path) -> bool:
    """A run is finished once its results.json holds what the table needs."""
    return load_results(folder)[0] is not None
