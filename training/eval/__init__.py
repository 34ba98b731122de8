"""Evaluation internals: metrics (NME, FR, AUC, CED), the evaluation protocol (protocol.py, what
`python -m training.evaluate` and the end of a training run call), the released code's protocol,
the schemes' NME normaliser lengths (metrics.normaliser_lengths) and the result plots."""
