"""The training engine: options, setup and the loop (training/engine/trainer.py)."""
