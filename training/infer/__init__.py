"""Inference internals: the Predictor (predictor.py: image -> crop -> model -> landmarks), face
detection (face_detector.py), the faces' JSON records, tracking and One Euro smoothing across
video frames, overlays, and detect's image, folder and video runners (runners.py, video.py)."""
