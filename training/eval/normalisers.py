"""The NME normaliser of a landmark scheme (docs/design.md, "Conventions"; the scheme file's
``normaliser``): the point groups whose centroids' distance normalises the error, or the
annotation's box, how reports name it, and the groups whose centroids are the pupils (the
built-in schemes' inter-pupil normaliser).

* two points or two lists of points: the distance between the groups' centroids on the ground truth;
* ``"bbox"``: sqrt(w·h) of the annotation's face box (COCO's ``bbox``, WFLW's and COFW's face
  rectangles), or of the bounding box of the visible ground-truth points where the data has no
  box (the folder of .pts files, the synthetic faces: their 68 points' box).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np

from awing_ext.schemes import SCHEMES, LandmarkScheme, get_scheme

__all__ = ["SchemeNormaliser", "NORMALISER_OF", "normaliser_of", "normaliser_lengths", "BBOX_LABEL"]

Groups = Tuple[Tuple[int, ...], Tuple[int, ...]]
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


def _of(scheme: LandmarkScheme) -> SchemeNormaliser:
    if scheme.normaliser == "bbox":
        return SchemeNormaliser(None, scheme.normaliser_label or BBOX_LABEL, scheme.pupils)
    a, b = scheme.normaliser
    names = scheme.point_names

    def say(group):
        return names[group[0]] if len(group) == 1 else "the centroid of " + ", ".join(names[i] for i in group)

    label = scheme.normaliser_label or f"distance between {say(a)} and {say(b)}"
    return SchemeNormaliser((a, b), label, scheme.pupils)


# built-in scheme name -> its normaliser (from its scheme file)
NORMALISER_OF: Dict[str, SchemeNormaliser] = {name: _of(scheme) for name, scheme in SCHEMES.items()}


def normaliser_of(scheme: Union[str, int, LandmarkScheme]) -> SchemeNormaliser:
    """The normaliser of a scheme (a built-in's name or number of points, or a LandmarkScheme)."""
    scheme = get_scheme(scheme)
    builtin = NORMALISER_OF.get(scheme.name)
    return builtin if builtin is not None and SCHEMES[scheme.name] == scheme else _of(scheme)


def normaliser_lengths(scheme: Union[str, int, LandmarkScheme], gt, visible=None, box_sizes=None) -> np.ndarray:
    """Per-image normalising lengths (N,) of ground truth `gt` (N, K, 2): the scheme's point groups
    (metrics.normaliser_values), or for "bbox" `box_sizes` (N,) (sqrt(w·h) of each image's
    annotation box in gt's pixels; NaN where there is none) and else the box of the visible
    ground-truth points."""
    from . import metrics
    norm = normaliser_of(scheme)
    if norm.groups is not None:
        return metrics.normaliser_values(gt, norm.groups)
    pts = np.asarray(gt, dtype=np.float64)
    vis = np.ones(pts.shape[:2], bool) if visible is None else np.asarray(visible) > 0
    lo = np.where(vis[..., None], pts, np.inf).min(axis=1)
    hi = np.where(vis[..., None], pts, -np.inf).max(axis=1)
    lengths = np.sqrt(np.prod(hi - lo, axis=-1))
    if box_sizes is not None:
        given = np.asarray(box_sizes, dtype=np.float64).reshape(-1)
        lengths = np.where(np.isfinite(given), given, lengths)
    return metrics.normaliser_values(gt, lengths)
