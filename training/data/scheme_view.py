"""A dataset annotated in one landmark scheme, read in another through the other's ``[from.X]``
mapping: the synthetic faces (drawn with 68 points) as any subset scheme, or WFLW's 98 points
as 68 (the built-in 68 declares ``[from.98]``).

Each sample's points become the scheme's (an index takes that point, a list of indices their
centroid; a centroid is visible when all its points are). The crop stays the source's: the
sample's "box" (when the loader gives one) or the box around all the source points x box_scale,
so a 5-point face is cropped as the whole face is. Without an annotated face box ("det_box") the
box of the source points becomes it, for the "bbox" normaliser (awing_ext/schemes.py normaliser_of; training/eval/metrics.py normaliser_lengths).
"""
import numpy as np
import torch

from awing_ext.schemes import LandmarkScheme, map_points

from ..core.geometry import crop_box

__all__ = ["SchemeView"]


class SchemeView(torch.utils.data.Dataset):
    """`base` (raw samples in `source`'s points) with `scheme`'s points; every other attribute
    (records, skipped, subsets(), ...) is the base's."""

    def __init__(self, base, scheme: LandmarkScheme, source: LandmarkScheme, box_scale: float):
        mapping = scheme.mapping_from(source)
        if mapping is None:
            raise ValueError(f"scheme {scheme.name!r} declares no [from.{source.name}]")
        top = max(max(e) if isinstance(e, tuple) else e for e in mapping)
        if top >= source.num_points:
            raise ValueError(f"{scheme.source or scheme.name}: from.{source.name}.indices: index {top} out of range "
                             f"for scheme {source.name!r} ({source.num_points} points)")
        self.base, self.scheme, self.source, self.mapping, self.box_scale = base, scheme, source, mapping, box_scale

    def __len__(self) -> int:
        return len(self.base)

    def __getattr__(self, name):
        if name.startswith("__") or name == "base":   # (unpickling in a worker looks these up first)
            raise AttributeError(name)
        return getattr(self.base, name)

    def __getitem__(self, index) -> dict:
        sample = dict(self.base[index])
        points = np.asarray(sample["landmarks"], dtype=np.float64)
        visible = np.asarray(sample.get("visible", np.ones(len(points))), dtype=np.float32)
        seen = points[visible > 0] if (visible > 0).any() else points
        if sample.get("box") is None:
            sample["box"] = crop_box(seen, self.box_scale)
        if sample.get("det_box") is None:
            lo, hi = seen.min(axis=0), seen.max(axis=0)
            sample["det_box"] = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        sample["landmarks"] = map_points(points, self.mapping, axis=-2).astype(np.float32)
        sample["visible"] = map_points(visible, self.mapping, axis=-1, reduce="min")
        if "occluded" in sample:
            sample["occluded"] = map_points(sample["occluded"], self.mapping, axis=-1, reduce="max")
        return sample
