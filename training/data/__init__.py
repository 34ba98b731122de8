"""Training data: the built-in procedural synthetic faces (no download) and the crop/augmentation pipeline."""
from .synthetic import SPLITS, SyntheticFaces, render_synthetic_face

__all__ = ["SPLITS", "SyntheticFaces", "render_synthetic_face"]
