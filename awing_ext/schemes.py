"""Landmark schemes: the facial curves of the boundary heatmaps and the left/right flip permutations.

Indices are 0-based. Each curve is an ordered list of landmark indices; the boundary heatmap
draws an interpolating (Catmull-Rom) spline through them (see awing_ext.render_boundaries).

* ``"68"`` (300W / iBUG): the paper's 13 boundaries (docs/design.md).
* ``"98"`` (WFLW): the paper's 13 boundaries (docs/design.md); the brows use their upper edges
  (33-37, 42-46) as in the paper's code; the pupils 96, 97 are on no curve.
* ``"29"`` (COFW, RCPR ordering): 0/1 outer brow corners (left/right), 2/3 inner brow corners,
  4/6 brow tops, 5/7 brow bottoms, 8/9 outer eye corners, 10/11 inner eye corners, 12/14 upper
  lids, 13/15 lower lids, 16/17 pupils, 18/19 nose wings, 20 nose tip, 21 under the nose,
  22/23 mouth corners, 24 upper lip top, 25 upper lip bottom, 26 lower lip top, 27 lower lip
  bottom, 28 chin. COFW has no cheek contour, so its 14 curves are: upper and lower edge of each
  brow (outer corner, top/bottom, inner corner), upper and lower lid of each eye (outer corner,
  lid, inner corner), the nose bottom (wing, under the nose, wing), the nose tip arc (wing, tip,
  wing), and the four lip edges (corner, lip point, corner). Pupils and chin are on no curve.
  Unlike 68/98, this set is our definition, not the paper's.

``flip`` is the permutation for a horizontal mirror: after mirroring the image, the new point
``i`` is the mirrored old point ``flip[i]`` (``flipped = mirrored[:, scheme.flip]``). Each is an
involution. The NME normalisers of the schemes are the evaluation's: training/eval/normalisers.py.
"""
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple, Union

__all__ = ["LandmarkScheme", "SCHEMES", "get_scheme"]


@dataclass(frozen=True)
class LandmarkScheme:
    name: str
    num_points: int
    curve_names: Tuple[str, ...]
    curves: Tuple[Tuple[int, ...], ...]
    flip: Tuple[int, ...]


def _r(a: int, b: int) -> Tuple[int, ...]:
    """a..b inclusive."""
    return tuple(range(a, b + 1))


def _flip(num_points: int, pairs: Sequence[Tuple[int, int]]) -> Tuple[int, ...]:
    perm = list(range(num_points))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


_NAMES_13 = ("cheek", "left brow", "right brow", "upper left lid", "lower left lid", "upper right lid",
             "lower right lid", "nose bridge", "nose bottom", "upper outer lip", "upper inner lip",
             "lower outer lip", "lower inner lip")

_300W = LandmarkScheme(
    name="68", num_points=68, curve_names=_NAMES_13,
    curves=(_r(0, 16), _r(17, 21), _r(22, 26), _r(36, 39), (36, 41, 40, 39), _r(42, 45),
            (42, 47, 46, 45), _r(27, 30), _r(31, 35), _r(48, 54), _r(60, 64),
            (48, 59, 58, 57, 56, 55, 54), (60, 67, 66, 65, 64)),
    flip=_flip(68, [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)]
               + [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
                  (48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]),
)

_WFLW = LandmarkScheme(
    name="98", num_points=98, curve_names=_NAMES_13,
    curves=(_r(0, 32), _r(33, 37), _r(42, 46), _r(60, 64), (60, 67, 66, 65, 64), _r(68, 72),
            (68, 75, 74, 73, 72), _r(51, 54), _r(55, 59), _r(76, 82), _r(88, 92),
            (76, 87, 86, 85, 84, 83, 82), (88, 95, 94, 93, 92)),
    flip=_flip(98, [(i, 32 - i) for i in range(16)]
               + [(33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48),
                  (41, 47), (55, 59), (56, 58), (60, 72), (61, 71), (62, 70), (63, 69), (64, 68),
                  (65, 75), (66, 74), (67, 73), (76, 82), (77, 81), (78, 80), (83, 87), (84, 86),
                  (88, 92), (89, 91), (93, 95), (96, 97)]),
)

_COFW = LandmarkScheme(
    name="29", num_points=29,
    curve_names=("upper left brow", "lower left brow", "upper right brow", "lower right brow",
                 "upper left lid", "lower left lid", "upper right lid", "lower right lid",
                 "nose bottom", "nose tip", "upper outer lip", "upper inner lip", "lower inner lip",
                 "lower outer lip"),
    curves=((0, 4, 2), (0, 5, 2), (3, 6, 1), (3, 7, 1), (8, 12, 10), (8, 13, 10), (11, 14, 9),
            (11, 15, 9), (18, 21, 19), (18, 20, 19), (22, 24, 23), (22, 25, 23), (22, 26, 23),
            (22, 27, 23)),
    flip=_flip(29, [(0, 1), (2, 3), (4, 6), (5, 7), (8, 9), (10, 11), (12, 14), (13, 15), (16, 17),
                    (18, 19), (22, 23)]),
)

SCHEMES: Dict[str, LandmarkScheme] = {"68": _300W, "98": _WFLW, "29": _COFW}
_ALIASES = {"300w": "68", "ibug": "68", "wflw": "98", "cofw": "29"}


def get_scheme(name: Union[str, int, LandmarkScheme]) -> LandmarkScheme:
    """A scheme by name ("68", "98", "29", "300w", "wflw", "cofw") or number of points."""
    if isinstance(name, LandmarkScheme):
        return name
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in SCHEMES:
        raise ValueError(f"unknown landmark scheme {name!r}; known: 68 (300w), 98 (wflw), 29 (cofw)")
    return SCHEMES[key]
