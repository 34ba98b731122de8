"""The training engine, the training loop only: the run's setup and loop (trainer.py), the loss it
minimises (criterion.py, loss_options.py, loss_ranges.py), what stops it (loss_watch.py), the
learning-rate milestones (schedule.py), run folders and their metrics log, distributed training.
train's options and --config files sit beside the command (training/train_options.py,
train_config.py); checkpoints and the runtime are training/core."""
