"""Temporal smoothing of landmarks in video: the One Euro filter (Casiez, Roussel, Vogel, CHI 2012),
the filter face and hand trackers use against frame-to-frame jitter.

Each coordinate is low-pass filtered with a cutoff that rises with its speed:
    cutoff = min_cutoff + beta * |speed|
so a still face is smoothed hard (little jitter) and a moving one lightly (little lag). Units:
cutoffs in Hz, speed in pixels per second, so the filter behaves the same at any frame rate.

``min_cutoff`` (default 1.0 Hz) sets the smoothing at rest: lower = steadier, more lag;
``beta`` (default 0.05) how fast the cutoff opens with speed: higher = less lag on fast motion.
The speed is itself smoothed with ``d_cutoff`` (1 Hz), as in the paper.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

__all__ = ["OneEuroFilter"]


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters arrays of any fixed shape (e.g. (K, 2) landmarks), one sample per call."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        if not (min_cutoff > 0 and d_cutoff > 0 and beta >= 0):
            raise ValueError(f"OneEuroFilter needs min_cutoff > 0, d_cutoff > 0, beta >= 0; got "
                             f"{min_cutoff}, {d_cutoff}, {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None
        self._t: Optional[float] = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """The filtered value of sample `x` taken at time `t` (seconds, increasing). Non-finite
        entries (a point lost in this frame) pass through and leave that entry's state as it was."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if not dt > 0:
            raise ValueError(f"OneEuroFilter: times must increase, got {t} after {self._t}")
        ok = np.isfinite(x) & np.isfinite(self._x)
        dx = np.where(ok, (x - np.where(ok, self._x, 0)) / dt, 0.0)
        dx_hat = self._dx + _alpha(np.full_like(x, self.d_cutoff), dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        x_hat = self._x + _alpha(cutoff, dt) * (x - self._x)
        out = np.where(ok, x_hat, x)
        self._x = np.where(np.isfinite(x), out, self._x)
        self._dx = np.where(ok, dx_hat, self._dx)
        self._t = float(t)
        return out
