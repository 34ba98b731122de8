"""The learning-rate schedule's milestones, one rule for the trainer and for a resumed run's
options (train_options.resume_options)."""
import argparse

__all__ = ["lr_milestones"]


def lr_milestones(args: argparse.Namespace) -> list:
    """--lr-milestones, or by default 75 % and 90 % of --epochs (computed here, not stored in args,
    so that a run repeated from its config.json with another --epochs gets its own milestones)."""
    if args.lr_milestones is not None:
        return list(args.lr_milestones)
    return sorted({max(1, int(args.epochs * 0.75)), max(1, int(args.epochs * 0.9))})
