"""The NME normalisers of each landmark scheme (docs/design.md, "Conventions"): the landmark pair
whose distance normalises the error, how reports name it, and the point groups whose centroids
are the pupils. awing_ext.schemes holds the curves and flip pairs only; this is the evaluation's.
"""
from dataclasses import dataclass
from typing import Dict, Tuple, Union

from awing_ext.schemes import LandmarkScheme, get_scheme

__all__ = ["SchemeNormaliser", "NORMALISER_OF", "normaliser_of"]


def _r(a: int, b: int) -> Tuple[int, ...]:
    """a..b inclusive."""
    return tuple(range(a, b + 1))


@dataclass(frozen=True)
class SchemeNormaliser:
    pair: Tuple[int, int]                            # the NME normaliser's landmark pair
    label: str                                       # how reports name it
    pupils: Tuple[Tuple[int, ...], Tuple[int, ...]]  # the point groups whose centroids are the pupils


# scheme name -> its normaliser
NORMALISER_OF: Dict[str, SchemeNormaliser] = {
    "68": SchemeNormaliser((36, 45), "inter-ocular distance (outer eye corners 36, 45)", (_r(36, 41), _r(42, 47))),
    "98": SchemeNormaliser((60, 72), "inter-ocular distance (points 60, 72)", ((96,), (97,))),
    "29": SchemeNormaliser((16, 17), "inter-pupil distance (points 16, 17)", ((16,), (17,))),
}


def normaliser_of(scheme: Union[str, int, LandmarkScheme]) -> SchemeNormaliser:
    """The normaliser of a scheme (a name, a number of points or a LandmarkScheme)."""
    return NORMALISER_OF[get_scheme(scheme).name]
