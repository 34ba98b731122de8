"""Landmark schemes: the points' names, the left/right flip permutation, the NME normaliser, the
facial curves of the boundary heatmaps and the mappings from other schemes.

A scheme is data: a TOML file (awing_ext/scheme_file.py gives the format; docs/datasets.md the
guide). The built-in schemes are such files, shipped in awing_ext/landmark_schemes/:

* ``"68"`` (300W / iBUG): the paper's 13 boundaries (docs/design.md); ``[from.98]`` is the
  WFLW -> 68 mapping (68.toml says where it comes from).
* ``"98"`` (WFLW): the paper's 13 boundaries; the brows use their upper edges (33-37, 42-46) as
  in the paper's code; the pupils 96, 97 are on no curve.
* ``"29"`` (COFW, RCPR ordering): 0/1 outer brow corners (left/right), 2/3 inner brow corners,
  4/6 brow tops, 5/7 brow bottoms, 8/9 outer eye corners, 10/11 inner eye corners, 12/14 upper
  lids, 13/15 lower lids, 16/17 pupils, 18/19 nose wings, 20 nose tip, 21 under the nose,
  22/23 mouth corners, 24 upper lip top, 25 upper lip bottom, 26 lower lip top, 27 lower lip
  bottom, 28 chin. COFW has no cheek contour, so its 14 curves are: upper and lower edge of each
  brow (outer corner, top/bottom, inner corner), upper and lower lid of each eye (outer corner,
  lid, inner corner), the nose bottom (wing, under the nose, wing), the nose tip arc (wing, tip,
  wing), and the four lip edges (corner, lip point, corner). Pupils and chin are on no curve.
  Unlike 68/98, this set is our definition, not the paper's.

Indices are 0-based. Each curve is an ordered list of landmark indices; the boundary heatmap
draws an interpolating (Catmull-Rom) spline through them (see awing_ext.render_boundaries).
``flip`` is the permutation for a horizontal mirror: after mirroring the image, the new point
``i`` is the mirrored old point ``flip[i]`` (``flipped = mirrored[:, scheme.flip]``); an
involution, or None for a scheme that declares no flip (no flip augmentation, no flip test).

The NME normaliser (docs/design.md, "Conventions"; the scheme file's ``normaliser``): two point
groups whose centroids' distance normalises the error, or ``"bbox"``, sqrt(w·h) of the
annotation's face box (COCO's ``bbox``, WFLW's and COFW's face rectangles) or of the bounding box
of the visible ground-truth points where the data has no box. normaliser_of gives it with the
label reports name it by and the pupils' groups (the built-ins' inter-pupil normaliser);
training/eval/metrics.py computes the lengths (normaliser_lengths).
"""
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["LandmarkScheme", "SCHEMES", "get_scheme", "map_points", "SCHEME_FOLDER", "SchemeNormaliser",
           "NORMALISER_OF", "normaliser_of", "BBOX_LABEL"]

SCHEME_FOLDER = Path(__file__).resolve().parent / "landmark_schemes"
BUILTIN_POINTS = {"68": 68, "98": 98, "29": 29}
_ALIASES = {"300w": "68", "ibug": "68", "wflw": "98", "cofw": "29"}

Groups = Tuple[Tuple[int, ...], Tuple[int, ...]]


@dataclass(frozen=True, eq=False, repr=False)
class LandmarkScheme:
    """One landmark scheme (module docstring). Made by awing_ext.scheme_file from a scheme file;
    the fields after ``flip`` have defaults so that a scheme can still be written in code.

    A scheme compares equal to its name, so ``scheme == "68"`` holds for the built-in 68 (the
    datasets named their scheme by a string before schemes were files); two schemes are equal
    when every field but ``source`` is."""
    name: str
    num_points: int
    curve_names: Tuple[str, ...]
    curves: Tuple[Tuple[int, ...], ...]
    flip: Optional[Tuple[int, ...]]
    points: Tuple[str, ...] = ()                 # the point names, in order ("" -> point_<i>)
    normaliser: Union[str, Groups] = "bbox"      # "bbox" or two index groups (centroid distance)
    mappings: Tuple[Tuple[str, tuple], ...] = ()  # [from.X] indices, per scheme name X
    pupils: Optional[Groups] = None              # the inter-pupil normaliser's groups (built-ins)
    normaliser_label: str = ""                   # how reports name the normaliser
    source: str = ""                             # the file it was read from (not part of equality)

    @property
    def point_names(self) -> Tuple[str, ...]:
        return self.points or tuple(f"point_{i}" for i in range(self.num_points))

    def mapping_from(self, other: Union[str, "LandmarkScheme"]) -> Optional[tuple]:
        """This scheme's [from.<other>] indices (one entry per point: an index of `other`'s points
        or a tuple of them, their centroid), or None when it declares none."""
        key = other.name if isinstance(other, LandmarkScheme) else str(other)
        return dict(self.mappings).get(key)

    def _fields(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self) if f.name != "source")

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            return self.name == other
        if isinstance(other, LandmarkScheme):
            return self._fields() == other._fields()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        where = f", {self.source}" if self.source else ""
        return f"LandmarkScheme({self.name!r}, {self.num_points} points, {len(self.curves)} curves{where})"


def map_points(values, entries: Sequence, axis: int = -2, reduce: str = "mean") -> np.ndarray:
    """Values of a source scheme's points along `axis` (landmarks (..., K_src, 2): axis -2; scores
    or visibility (..., K_src): axis -1) -> the same with len(entries) points, through a [from.X]
    mapping: an int entry takes that point, a tuple entry reduces its points ("mean": their
    centroid; "min" / "max" for masks)."""
    arr = np.asarray(values)
    parts = []
    for e in entries:
        taken = np.take(arr, list(e) if isinstance(e, tuple) else [e], axis=axis)
        parts.append(getattr(taken, reduce)(axis=axis, keepdims=True))
    return np.concatenate(parts, axis=axis)


def _builtin(name: str) -> LandmarkScheme:
    from .scheme_file import read_scheme
    scheme = read_scheme(SCHEME_FOLDER / f"{name}.toml")
    if scheme.name != name or scheme.num_points != BUILTIN_POINTS[name]:
        raise RuntimeError(f"{scheme.source}: the built-in scheme {name!r} is damaged")
    return scheme


SCHEMES: Dict[str, LandmarkScheme] = {name: _builtin(name) for name in BUILTIN_POINTS}


def get_scheme(name: Union[str, int, Path, LandmarkScheme]) -> LandmarkScheme:
    """A scheme by name ("68", "98", "29", "300w", "wflw", "cofw"), number of points (68, 98,
    29), or scheme file (a path to a .toml file)."""
    if isinstance(name, LandmarkScheme):
        return name
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key in SCHEMES:
        return SCHEMES[key]
    if isinstance(name, Path) or str(name).lower().endswith(".toml") or Path(str(name)).is_file():
        from .scheme_file import read_scheme
        return read_scheme(name)
    raise ValueError(f"unknown landmark scheme {name!r}; known: 68 (300w), 98 (wflw), 29 (cofw), or a scheme "
                     f"file (.toml, docs/datasets.md)")


BBOX_LABEL = "sqrt(w·h) of the face box"


@dataclass(frozen=True)
class SchemeNormaliser:
    groups: Optional[Groups]                         # the two index groups; None: the bbox normaliser
    label: str                                       # how reports name it
    pupils: Optional[Groups] = None                  # the point groups whose centroids are the pupils

    @property
    def pair(self) -> Optional[Tuple[int, int]]:
        """The landmark pair when each group is one point (the built-in schemes'), else None."""
        if self.groups is None or len(self.groups[0]) != 1 or len(self.groups[1]) != 1:
            return None
        return self.groups[0][0], self.groups[1][0]


def _normaliser(scheme: LandmarkScheme) -> SchemeNormaliser:
    if scheme.normaliser == "bbox":
        return SchemeNormaliser(None, scheme.normaliser_label or BBOX_LABEL, scheme.pupils)
    a, b = scheme.normaliser
    names = scheme.point_names

    def say(group):
        return names[group[0]] if len(group) == 1 else "the centroid of " + ", ".join(names[i] for i in group)

    label = scheme.normaliser_label or f"distance between {say(a)} and {say(b)}"
    return SchemeNormaliser((a, b), label, scheme.pupils)


# built-in scheme name -> its normaliser (from its scheme file)
NORMALISER_OF: Dict[str, SchemeNormaliser] = {name: _normaliser(scheme) for name, scheme in SCHEMES.items()}


def normaliser_of(scheme: Union[str, int, LandmarkScheme]) -> SchemeNormaliser:
    """The normaliser of a scheme (a built-in's name or number of points, or a LandmarkScheme)."""
    scheme = get_scheme(scheme)
    builtin = NORMALISER_OF.get(scheme.name)
    return builtin if builtin is not None and SCHEMES[scheme.name] == scheme else _normaliser(scheme)
