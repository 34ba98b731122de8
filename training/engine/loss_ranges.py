"""The ranges of train's loss options: the values the loss kernels can compute with in float32.

criterion.py hands the heatmap losses float32 maps, and the kernels cast each parameter, and the
constants they derive from it (1/epsilon, 1/beta, W + 1), to float32 (csrc/include/awing/
adaptive_wing_loss.h, losses/*.h). A value above float32's largest, 3.4e38, becomes inf there and
the loss inf or NaN; one below its smallest normal number, 2^-126 = 1.2e-38, is flushed towards 0
(the CPU kernels' exp flushes subnormals), which turns the loss off or its inverse into inf. So:

* every parameter that scales or divides is a normal float32 (FLOAT32_TINY .. FLOAT32_MAX), and
  epsilon, which the kernels invert, at most 2^126 (so is 1/epsilon);
* focal: alpha <= 126 + log2(ln 2) = 125.47. At p = sigmoid(x) = 1/2, where an untrained head's
  logits start, every pixel's loss is 2^-alpha * ln 2 (a positive's (1-p)^alpha * -log p and a
  background negative's p^alpha * -log(1-p) alike); past the bound it leaves float32's normal
  range and is flushed to 0, with its gradient: nothing is learned (measured: 125.4 learns,
  125.5 gives exactly 0). beta at most FLOAT32_MAX: (1 - y)^beta is exp(beta * log(1 - y)), and
  an inf beta times log 1 = 0 is NaN on every background pixel;
* smooth-l1: beta = 0 (the L1 loss) or in [2^-126, 2^125]: the kernel multiplies by 1/beta, which
  must be finite, and the loss 0.5 d^2 / beta at d = 1, the widest gap between heatmap values in
  [0, 1], must stay a normal float32 (beta 1e300 made 1/beta 0 in float32: a loss of exactly 0);
* awing and wing tie several options together (check_loss_ranges, for the --loss in use):
  - awing: P = (theta/epsilon)^(alpha - y) at the branch point d = theta, for targets y in
    [0, 1], must not overflow (the loss and its slope A would be inf or NaN), and the loss there,
    omega * ln(1 + P), must be a normal float32 for at least the most favourable target, else it
    is 0 for every pixel (alpha 1e6 with theta/epsilon = 0.5: 0.5^1e6);
  - wing: the slope at d = 0, omega / epsilon, must be finite (inf times sign(0) = 0 is NaN), and
    so must the loss at the branch point, omega * ln(1 + omega / epsilon).

What the parser cannot foresee (a large W or omega times a model's large errors, weights that
grow) the trainer stops on (loss_watch.py), naming these options.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable, Optional

from ..core.cli import float_in

__all__ = ["FLOAT32_MAX", "FLOAT32_TINY", "FOCAL_ALPHA_MAX", "SMOOTH_L1_BETA_MAX", "EPSILON_MAX", "float32_normal",
           "float32_scale", "float32_inverted", "smooth_l1_beta", "focal_alpha", "check_loss_ranges"]

FLOAT32_MAX = (2.0 - 2.0 ** -23) * 2.0 ** 127   # 3.4028235e38, the largest float32
FLOAT32_TINY = 2.0 ** -126                      # 1.1754944e-38, the smallest normal float32
EPSILON_MAX = 2.0 ** 126                        # 1/epsilon stays a normal float32
SMOOTH_L1_BETA_MAX = 2.0 ** 125                 # 0.5 * 1^2 / beta stays a normal float32
FOCAL_ALPHA_MAX = 126 + math.log2(math.log(2))  # 2^-alpha * ln 2 stays a normal float32
_LN_MAX, _LN_TINY = math.log(FLOAT32_MAX), math.log(FLOAT32_TINY)

float32_normal: Callable[[str], float] = float_in(FLOAT32_TINY, FLOAT32_MAX)   # omega, theta, alpha
float32_scale: Callable[[str], float] = float_in(0, FLOAT32_MAX)              # W, lambda, focal beta
float32_inverted: Callable[[str], float] = float_in(FLOAT32_TINY, EPSILON_MAX)  # epsilon
focal_alpha: Callable[[str], float] = float_in(0, FOCAL_ALPHA_MAX)


def smooth_l1_beta(text: str) -> float:
    """0 (the L1 loss) or a number in [FLOAT32_TINY, SMOOTH_L1_BETA_MAX]."""
    value = float_in(0, SMOOTH_L1_BETA_MAX)(text)
    if 0 < value < FLOAT32_TINY:
        raise argparse.ArgumentTypeError(f"must be 0 or a number in [{FLOAT32_TINY:g}, {SMOOTH_L1_BETA_MAX:g}] "
                                         f"(1/beta must be a float32), got {value:g}")
    return value


def _ln_log1p_exp(x: float) -> float:
    """ln(ln(1 + e^x)) without overflow or underflow."""
    if x > 30:
        return math.log(x)
    if x < -30:
        return x
    return math.log(math.log1p(math.exp(x)))


def _power_of_ten(ln_value: float) -> str:
    """e^ln_value as 1e+N (the values here are beyond float64's range too)."""
    return f"1e{ln_value / math.log(10):+.0f}"


def _awing(args: argparse.Namespace) -> Optional[str]:
    omega, theta, epsilon, alpha = args.awing_omega, args.awing_theta, args.awing_epsilon, args.awing_alpha
    given = (f"--awing-omega {omega:g} --awing-theta {theta:g} --awing-epsilon {epsilon:g} "
             f"--awing-alpha {alpha:g}")
    ln_ratio = math.log(theta) - math.log(epsilon)
    ln_p = [e * ln_ratio for e in (alpha, alpha - 1)]   # ln P at d = theta for y = 0 and y = 1 (linear in y)
    if max(ln_p) > _LN_MAX:
        return (f"{given}: (theta/epsilon)^(alpha - y), the loss's P at d = theta, overflows float32 (about "
                f"{_power_of_ten(max(ln_p))} > 3.4e38), so the loss is inf or NaN: lower --awing-alpha or "
                f"--awing-theta / --awing-epsilon")
    ln_loss = [math.log(omega) + _ln_log1p_exp(x) for x in ln_p]   # ln(omega * ln(1 + P))
    if max(ln_loss) > _LN_MAX:
        return f"{given}: the loss at d = theta, omega * ln(1 + P), overflows float32 (> 3.4e38)"
    if max(ln_loss) < _LN_TINY:
        return (f"{given}: the loss at d = theta, omega * ln(1 + (theta/epsilon)^(alpha - y)), is below "
                f"float32's range (about {_power_of_ten(max(ln_loss))} < 1.2e-38) for every target value y in "
                f"[0, 1]: it would be 0 for every pixel (lower --awing-alpha, or raise --awing-omega)")
    return None


def _wing(args: argparse.Namespace) -> Optional[str]:
    omega, epsilon = args.wing_omega, args.wing_epsilon
    given = f"--wing-omega {omega:g} --wing-epsilon {epsilon:g}"
    ln_slope = math.log(omega) - math.log(epsilon)
    if ln_slope > _LN_MAX:
        return (f"{given}: the loss's slope at d = 0, omega / epsilon, overflows float32 (about "
                f"{_power_of_ten(ln_slope)} > 3.4e38), which makes its gradient NaN where a prediction equals its "
                f"target")
    if math.log(omega) + _ln_log1p_exp(ln_slope) > _LN_MAX:
        return f"{given}: the loss at d = omega, omega * ln(1 + omega / epsilon), overflows float32 (> 3.4e38)"
    return None


def check_loss_ranges(args: argparse.Namespace) -> Optional[str]:
    """None, or one line naming the options of the --loss in use whose combination the float32
    kernels cannot compute with (module docstring). Each option's own range is its argparse type."""
    check = {"awing": _awing, "wing": _wing}.get(args.loss)
    return check(args) if check is not None else None
