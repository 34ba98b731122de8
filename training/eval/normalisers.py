"""Deprecated: a scheme's normaliser (SchemeNormaliser, normaliser_of, NORMALISER_OF, BBOX_LABEL)
is awing_ext.schemes, beside the rest of the scheme; normaliser_lengths is training.eval.metrics.
Re-exported here, with a DeprecationWarning, until awing 0.4."""
import warnings

from awing_ext.schemes import BBOX_LABEL, NORMALISER_OF, SchemeNormaliser, normaliser_of  # noqa: F401

from .metrics import normaliser_lengths  # noqa: F401

__all__ = ["SchemeNormaliser", "NORMALISER_OF", "normaliser_of", "normaliser_lengths", "BBOX_LABEL"]

warnings.warn("training.eval.normalisers is now awing_ext.schemes (normaliser_of, SchemeNormaliser) and "
              "training.eval.metrics (normaliser_lengths); the old path is removed in awing 0.4",
              DeprecationWarning, stacklevel=2)
