"""Training data: the built-in procedural synthetic faces (no download), the 300W / WFLW / COFW /
folder / COCO keypoints loaders, any of them read in another landmark scheme (scheme_view.py),
the crop/augmentation pipeline, and the registry that builds a dataset by name
(registry.build_dataset, used by train, evaluate and the benchmarks)."""
from .registry import DATASETS, build_dataset, subsets_of
from .synthetic import SPLITS, SyntheticFaces, render_synthetic_face

__all__ = ["DATASETS", "build_dataset", "subsets_of", "SPLITS", "SyntheticFaces", "render_synthetic_face"]
