"""What the tests share: data writers (datasets), plain-torch Gaussian heatmaps (heatmaps), the
authors' released model (released_fan), CPU-vs-CUDA tolerances (cuda_parity), why CUDA tests
skip (device_support) and running the commands as `python -m training.<command>` does (cli_runs).

pytest.ini puts tests/ on sys.path (`pythonpath = tests`), so a test anywhere under tests/ imports
these as `from helpers.heatmaps import gaussian_heatmaps`; the test folders mirror the code and
have no __init__.py (`--import-mode=importlib`), so two folders may hold files of the same name.
"""
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
