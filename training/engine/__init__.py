"""The training engine: the loop and its setup (trainer.py), train's options and resume rules
(options.py), --config files (config.py), checkpoints, run folders and their metrics log,
distributed training, the device and memory runtime, and what every command shares (cli.py:
argument types, run() and the one error style)."""
