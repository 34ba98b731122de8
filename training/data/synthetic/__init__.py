"""Procedural synthetic faces with 68 iBUG landmarks: the built-in dataset that needs no download.

Each sample is drawn with OpenCV from a random parametric 3-D face, deterministically from a
numpy Generator. Coordinates follow docs/design.md: (x, y) image pixels, pixel centres at integer
coordinates. The 68 points are in iBUG order (0-based): jaw 0-16 (image left to right, i.e. from
the subject's right ear over the chin), brows 17-21 / 22-26, nose bridge 27-30 (30 = tip), nose
bottom 31-35, eyes 36-41 / 42-47 (36 = outer corner of the eye on the image left, the subject's
right eye), outer lips 48-59, inner lips 60-67.

Modules: ``face_model`` (the random 3-D face and the `Sampler` of random numbers), ``drawing``
(pose, then one drawing function per feature, then degradations: `render_synthetic_face`),
``geometry`` and ``canvas`` (spline/rotation maths and OpenCV painting helpers), ``dataset``
(`SyntheticFaces`, `SPLITS`).

Difficulty: on bounding-box crops (as training/data/transforms.py makes them) predicting the
training set's mean shape gives an inter-ocular NME of about 0.18. Speed: about 4 ms per 256x256
image and 3.3 ms per 160x160 image on one CPU core.

``render_synthetic_face(rng, image_size, max_rotation=..., max_yaw=..., ...)`` takes keyword
arguments to switch variations off (e.g. ``max_rotation=0, max_yaw=0, max_pitch=0,
asymmetry=False, offset=False`` gives an upright, frontal, symmetric face), used by the tests.
"""
from .dataset import SPLITS, SyntheticFaces
from .drawing import render_synthetic_face

__all__ = ["SyntheticFaces", "render_synthetic_face", "SPLITS"]
