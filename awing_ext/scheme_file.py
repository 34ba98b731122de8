"""Landmark scheme files: TOML in, a validated LandmarkScheme out, and back (docs/datasets.md).

    name = "face5"                                   # required
    points = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"]   # required, in order
    flip = [["left_eye", "right_eye"], ["left_mouth", "right_mouth"]]      # omitted: no flip augmentation
    normaliser = ["left_eye", "right_eye"]           # or [["a", "b"], ["c", "d"]] or "bbox" (the default)

    [curves]                                         # optional: boundary heatmaps
    "upper lip" = ["left_mouth", "nose", "right_mouth"]

    [from.68]                                        # optional: this scheme's points from another's
    indices = [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], 30, 48, 54]

``flip``: left/right pairs of point names (unpaired points mirror onto themselves); ``flip = []``
declares a scheme whose every point lies on the mirror axis. ``normaliser``: the NME's length,
the distance between two points, between the centroids of two lists of points, or ``"bbox"``,
sqrt(w·h) of the annotation's face box (the landmarks' box where the data has none).
``[from.X] indices``: for each point of this scheme, the 0-based index of the point of scheme X
it is, or a list of indices whose centroid it is. A model of scheme X is evaluated on data of
this scheme through it, and data drawn in scheme X (the synthetic faces are "68") is read as this
scheme through it. Optional extras, used by the built-in files: ``normaliser_label`` (how
reports name the normaliser) and ``pupils`` (two lists of names: the inter-pupil normaliser).

Every error is one line naming the file and the key (``SchemeError``, a ValueError).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - python < 3.11 (the package declares tomli there)
    import tomli as tomllib

from .schemes import BUILTIN_POINTS, LandmarkScheme

__all__ = ["SchemeError", "KEYS", "parse_scheme", "read_scheme", "scheme_to_dict", "scheme_to_toml"]

KEYS = ("name", "points", "flip", "normaliser", "normaliser_label", "pupils", "curves", "from")
Entry = Union[int, Tuple[int, ...]]


class SchemeError(ValueError):
    """A scheme file (or a checkpoint's stored scheme) that is not a valid landmark scheme."""


def read_scheme(path) -> LandmarkScheme:
    """The scheme in the TOML file at `path`; SchemeError naming the file for anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise SchemeError(f"scheme file not found: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SchemeError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemeError(f"{path}: not valid TOML: {exc}") from None
    return parse_scheme(table, str(path))


def parse_scheme(data: dict, source: str) -> LandmarkScheme:
    """A LandmarkScheme from a scheme file's table (or scheme_to_dict's output); `source` names
    where it comes from in the messages."""
    def fail(key: str, problem: str):
        raise SchemeError(f"{source}: {key}: {problem}")

    if not isinstance(data, dict):
        raise SchemeError(f"{source}: a scheme is a table of {', '.join(KEYS)}, got {type(data).__name__}")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        fail(unknown[0], f"unknown key; a scheme file holds {', '.join(KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        fail("name", f"a non-empty string is required, got {name!r}")
    points = data.get("points")
    if not isinstance(points, list) or not points:
        fail("points", f"a non-empty list of point names is required, got {points!r}")
    index: Dict[str, int] = {}
    for i, p in enumerate(points):
        if not isinstance(p, str) or not p.strip():
            fail(f"points[{i}]", f"a point name is a non-empty string, got {p!r}")
        if p in index:
            fail("points", f"duplicate point name {p!r} (at {index[p]} and {i})")
        index[p] = i

    def point(key: str, value) -> int:
        if not isinstance(value, str):
            fail(key, f"expected a point name, got {value!r}")
        if value not in index:
            fail(key, f"unknown point name {value!r}")
        return index[value]

    flip = _flip(data.get("flip"), len(points), point, fail)
    normaliser = _normaliser(data.get("normaliser", "bbox"), point, fail)
    label = data.get("normaliser_label", "")
    if not isinstance(label, str):
        fail("normaliser_label", f"a string is required, got {label!r}")
    pupils = None
    if "pupils" in data:
        pupils = _two_groups(data["pupils"], "pupils", point, fail)
    curves = data.get("curves", {})
    if not isinstance(curves, dict):
        fail("curves", "a table ([curves]) of curve name = [point names] is required")
    curve_idx = []
    for cname, members in curves.items():
        key = f"curves.{_key(cname)}"
        if not isinstance(members, list) or not members:
            fail(key, "empty curve (a curve is a list of at least 2 point names)")
        if len(members) < 2:
            fail(key, f"a curve needs at least 2 points, got {members!r}")
        curve_idx.append(tuple(point(f"{key}[{j}]", m) for j, m in enumerate(members)))
    mappings = _mappings(data.get("from", {}), len(points), fail)
    return LandmarkScheme(name=name, num_points=len(points), curve_names=tuple(curves), curves=tuple(curve_idx),
                          flip=flip, points=tuple(points), normaliser=normaliser, mappings=mappings,
                          pupils=pupils, normaliser_label=label, source=source)


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def _flip(pairs, k: int, point, fail) -> Optional[Tuple[int, ...]]:
    """The permutation of the flip pairs (None: no flip declared)."""
    if pairs is None:
        return None
    if not isinstance(pairs, list):
        fail("flip", f"a list of [left, right] name pairs is required, got {pairs!r}")
    perm, seen = list(range(k)), {}
    for j, pair in enumerate(pairs):
        key = f"flip[{j}]"
        if not isinstance(pair, list) or len(pair) != 2:
            fail(key, f"a flip pair is two point names, got {pair!r}")
        a, b = point(key, pair[0]), point(key, pair[1])
        if a == b:
            fail(key, f"{pair[0]!r} is paired with itself (unpaired points mirror onto themselves: leave it out)")
        for p, name in ((a, pair[0]), (b, pair[1])):
            if p in seen:
                fail(key, f"{name!r} is already in flip[{seen[p]}]: the flip is not an involution (each point "
                          f"swaps with at most one other)")
            seen[p] = j
        perm[a], perm[b] = b, a
    return tuple(perm)


def _group(value, key: str, point, fail) -> Tuple[int, ...]:
    if isinstance(value, str):
        return (point(key, value),)
    if not isinstance(value, list) or not value:
        fail(key, f"expected a point name or a non-empty list of names, got {value!r}")
    return tuple(point(f"{key}[{j}]", v) for j, v in enumerate(value))


def _two_groups(value, key: str, point, fail) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    if not isinstance(value, list) or len(value) != 2:
        fail(key, f"two point names, or two lists of names, are required, got {value!r}")
    a, b = _group(value[0], f"{key}[0]", point, fail), _group(value[1], f"{key}[1]", point, fail)
    if sorted(a) == sorted(b):
        fail(key, "its two ends are the same points: their distance is 0")
    return a, b


def _normaliser(value, point, fail):
    if value == "bbox":
        return "bbox"
    if isinstance(value, str):
        fail("normaliser", f"\"bbox\", two point names or two lists of names, got {value!r}")
    return _two_groups(value, "normaliser", point, fail)


def _mappings(table, k: int, fail) -> Tuple[Tuple[str, Tuple[Entry, ...]], ...]:
    if not isinstance(table, dict):
        fail("from", "a table of [from.<scheme>] tables is required")
    out = []
    for other, body in table.items():
        key = f"from.{_key(other)}"
        if not isinstance(body, dict) or set(body) != {"indices"}:
            fail(key, f"a [{key}] table holds one key, indices, got {body!r}")
        indices = body["indices"]
        if not isinstance(indices, list):
            fail(f"{key}.indices", f"a list is required, got {indices!r}")
        if len(indices) != k:
            fail(f"{key}.indices", f"{len(indices)} entries, but the scheme has {k} points (one entry per point)")
        limit = BUILTIN_POINTS.get(str(other))
        entries = []
        for j, entry in enumerate(indices):
            where = f"{key}.indices[{j}]"
            group = entry if isinstance(entry, list) else [entry]
            if not group or not all(isinstance(i, int) and not isinstance(i, bool) for i in group):
                fail(where, f"an index (integer) or a non-empty list of indices is required, got {entry!r}")
            for i in group:
                if i < 0 or (limit is not None and i >= limit):
                    fail(where, f"index {i} out of range" + (f" for scheme {other!r} ({limit} points)"
                                                             if limit is not None else " (indices start at 0)"))
            entries.append(tuple(group) if isinstance(entry, list) else entry)
        out.append((str(other), tuple(entries)))
    return tuple(out)


def scheme_to_dict(scheme: LandmarkScheme) -> dict:
    """The scheme as a scheme file's table (plain lists, strings and ints: what a checkpoint stores;
    parse_scheme reads it back)."""
    names = list(scheme.point_names)
    out: dict = {"name": scheme.name, "points": names}
    if scheme.flip is not None:
        out["flip"] = [[names[i], names[j]] for i, j in enumerate(scheme.flip) if i < j]
    out["normaliser"] = ("bbox" if scheme.normaliser == "bbox"
                         else [_names(g, names) for g in scheme.normaliser])
    if scheme.normaliser_label:
        out["normaliser_label"] = scheme.normaliser_label
    if scheme.pupils is not None:
        out["pupils"] = [_names(g, names) for g in scheme.pupils]
    if scheme.curves:
        out["curves"] = {n: [names[i] for i in c] for n, c in zip(scheme.curve_names, scheme.curves)}
    if scheme.mappings:
        out["from"] = {other: {"indices": [list(e) if isinstance(e, tuple) else e for e in entries]}
                       for other, entries in scheme.mappings}
    return out


def _names(group: Sequence[int], names: List[str]):
    return names[group[0]] if len(group) == 1 else [names[i] for i in group]


def scheme_to_toml(scheme: LandmarkScheme, header: str = "") -> str:
    """The scheme as a scheme file (read_scheme reads it back); `header`: comment lines on top."""
    data = scheme_to_dict(scheme)
    lines = [f"# {ln}".rstrip() for ln in header.splitlines()]
    for key in ("name", "points", "flip", "normaliser", "normaliser_label", "pupils"):
        if key in data:
            lines.append(f"{key} = {_value(data[key])}")
    if "curves" in data:
        lines += ["", "[curves]"] + [f"{_key(n)} = {_value(v)}" for n, v in data["curves"].items()]
    for other, body in data.get("from", {}).items():
        lines += ["", f"[from.{_key(other)}]", f"indices = {_value(body['indices'])}"]
    return "\n".join(lines) + "\n"


def _value(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise TypeError(f"scheme_to_toml: unexpected value {v!r}")
    return json.dumps(v, ensure_ascii=False)
