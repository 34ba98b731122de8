"""Inference internals: the Predictor (predictor.py: image -> crop -> model -> landmarks), face
detection (face_detector.py), the faces' JSON records, tracking and One Euro smoothing across
video frames, overlays, video files (video.py); the
decoders in standard ops that exported graphs end in (graph_decoding.py) and an ONNX export run by
onnxruntime (onnx_model.py: Predictor.from_onnx, detect --onnx)."""
