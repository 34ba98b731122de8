"""The floor every other part of training stands on; it imports awing_ext and nothing of training:
checkpoint I/O (checkpoint.py: atomic save, digest-checked load, the stored landmark scheme), the
device and memory runtime (runtime.py), what every command shares (cli.py: argument types, strict
JSON, run() and the one error style), crop geometry (geometry.py) and the heatmap codec with a
checkpoint's decoding facts (codec.py: HeatmapCodec, codec_for). docs/design.md, "Layers"."""
