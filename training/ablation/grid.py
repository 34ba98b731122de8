"""An ablation grid file: the base train options, the variants' overrides and the seeds.

    title = "Loss functions"          # optional: the table's heading
    seeds = 2                         # optional: the default of --seeds (a count, or a list of seeds)
    baseline = "mse"                  # optional: the variant the others are compared with (default: the first)

    [base]                            # train options, as in a `python -m training.train --config` file
    preset = "small"
    epochs = 4

    [variants.mse]                    # one train run per seed with base + these overrides
    label = "MSE"                     # optional: the row's name in the table (default: the variant's)
    sigma = 2.0

    [variants.awing]                  # an empty table is the base itself
    lr = [5e-4, 2e-3, 8e-3]           # a list expands to one variant per value (awing-lr0.0005, ...);
                                      # the report selects the best on the validation split

The keys follow training/train_config.py (``batch-size`` or ``batch_size``; one-level tables such
as ``[base.data]`` only group keys). Every variant's merged options are checked as train checks a
--config file, before anything runs: an unknown key or a bad value is an error naming the file,
the variant and the key. The keys the ablation sets itself per run (RESERVED) are refused.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ..engine.loss_ranges import check_loss_ranges
from ..train_config import ConfigError, RaisingParser, config_to_argv, flatten_options, read_text
from ..train_options import build_parser

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - python < 3.11 (pyproject declares tomli there)
    import tomli as tomllib

__all__ = ["GridError", "Variant", "Grid", "RESERVED", "ABLATION_FILES", "MAX_SEEDS", "load_grid", "seed_list"]

# set per run by the ablation (its folder, its seed, resuming it), never by the grid
RESERVED = frozenset({"out", "seed", "resume", "overwrite", "config", "world_size"})
TOP_LEVEL = ("title", "seeds", "baseline", "base", "variants")
VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")   # a folder name
# the ablation's own files beside the variants' folders (ablate.py writes them): no variant is
# named so, in any case (a case-insensitive file system would take Ablation.json for it)
ABLATION_FILES = ("ablation.json", "ablation.png")
# the most seeds a grid or --seeds may ask for: each is a train run per variant, and the plan lists
# every run before the first starts (--seeds 99999999999 was a MemoryError)
MAX_SEEDS = 1000


class GridError(ConfigError):
    """A grid file that cannot be read, or whose variants are not valid train options."""


@dataclass(frozen=True)
class Variant:
    """One row of the ablation: its name (its folder), its label (the table's), and its train
    options (base merged with its overrides, as option dests)."""
    name: str
    label: str
    options: Dict[str, object]
    family: str = ""   # the [variants.NAME] it comes from (NAME itself unless an lr list expanded it)

    def __post_init__(self):
        if not self.family:
            object.__setattr__(self, "family", self.name)


@dataclass(frozen=True)
class Grid:
    path: Path
    title: str
    variants: List[Variant]
    seeds: List[int]
    base: Dict[str, object] = field(default_factory=dict)
    raw: Dict[str, object] = field(default_factory=dict)   # the file's tables, for ablation.json
    baseline: str = ""   # the variant (or, with an lr list, the variant family) the others are compared with


def seed_list(value, source: str) -> List[int]:
    """Seeds from a count N (0..N-1) or an explicit list of distinct integers in [0, 2**32 - 1]; at
    most MAX_SEEDS either way."""
    if isinstance(value, bool):
        raise GridError(f"{source}: seeds must be a count or a list of integers, got {str(value).lower()}")
    if isinstance(value, int):
        if not 1 <= value <= MAX_SEEDS:
            raise GridError(f"{source}: seeds must be a count from 1 to {MAX_SEEDS} (each is a train run per "
                            f"variant), got {value}")
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        if len(value) > MAX_SEEDS:
            raise GridError(f"{source}: at most {MAX_SEEDS} seeds (each is a train run per variant), got {len(value)}")
        if any(not 0 <= s <= 2 ** 32 - 1 for s in value) or len(set(value)) != len(value):
            raise GridError(f"{source}: seeds must be distinct integers in [0, 2**32 - 1], got {value}")
        return list(value)
    raise GridError(f"{source}: seeds must be a count or a non-empty list of integers, got {value!r}")


def _flat_options(table: Dict[str, object], source: str) -> Dict[str, object]:
    """{dest: value} of a table of train options (config.flatten_options), without the options the
    ablation sets itself."""
    flat = flatten_options(table, source, error=GridError)
    for dest in flat:
        if dest in RESERVED:
            name = next(n for n in _keys(table) if str(n).replace("-", "_") == dest)
            raise GridError(f"{source}: {name!r} cannot be set in a grid: the ablation sets --out, --seed "
                            f"and --resume of each run itself (use --seeds or the grid's top-level seeds)")
    return flat


def _keys(table: Dict[str, object]):
    """The option names of a table, its one-level sub-tables' included, as written."""
    for key, value in table.items():
        yield from (value if isinstance(value, dict) else [key])


def _check_options(options: Dict[str, object], source: str) -> None:
    """Raises GridError naming `source` and the key when train would refuse these options (the
    checks of a --config file: config_to_argv's, then argparse's types and choices, then the loss
    options' joint ranges)."""
    checker = build_parser(RaisingParser, source=source)
    try:
        parsed = checker.parse_args(config_to_argv(options, checker.options, source))
    except ConfigError as exc:
        raise GridError(str(exc)) from None
    problem = check_loss_ranges(parsed)   # the loss options that only fail together (train's check too)
    if problem:
        raise GridError(f"{source}: {problem}")


def _lr_members(name: str, label: str, lr, source: str):
    """(name, label, lr) of each variant a [variants.NAME] table stands for: itself (lr a number or
    not given: lr None means the base's), or one per value of an lr list, named NAME-lr<value>."""
    if not isinstance(lr, list):
        return [(name, label, lr)]
    if not lr or len(set(map(repr, lr))) != len(lr):
        raise GridError(f"{source}: an lr list needs distinct values, got {lr!r}")
    for value in lr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GridError(f"{source}: an lr list holds numbers, got {value!r}")
    return [(f"{name}-lr{value:g}", f"{label}, lr {value:g}", float(value)) for value in lr]


def load_grid(path, seeds: Optional[int] = None, baseline: Optional[str] = None) -> Grid:
    """The grid at `path`, every variant checked (module docstring); `seeds` (--seeds N) and
    `baseline` (--baseline) override the file's. Raises GridError (a ConfigError) naming the file,
    the variant and the key."""
    path = Path(path)
    if not path.is_file():
        raise GridError(f"grid file not found: {path}")
    try:
        data = tomllib.loads(read_text(path, error=GridError))
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{path}: not valid TOML: {exc}") from None
    unknown = [k for k in data if k not in TOP_LEVEL]
    if unknown:
        raise GridError(f"{path}: unknown top-level key {unknown[0]!r}; a grid holds {', '.join(TOP_LEVEL)}")
    title = data.get("title", path.stem)
    if not isinstance(title, str):
        raise GridError(f"{path}: title must be a string, got {title!r}")
    base_table = data.get("base", {})
    if not isinstance(base_table, dict):
        raise GridError(f"{path}: base must be a table ([base]) of train options")
    base = _flat_options(base_table, f"{path}: [base]")
    _check_options(base, f"{path}: [base]")
    variants_table = data.get("variants")
    if not isinstance(variants_table, dict) or not variants_table:
        raise GridError(f"{path}: no variants: add at least one [variants.NAME] table")
    variants = []
    for name, table in variants_table.items():
        source = f"{path}: variant {name!r}"
        if not VARIANT_NAME.match(name):
            raise GridError(f"{source}: a variant's name is its folder: letters, digits, '.', '_' and '-' only")
        if name.lower() in ABLATION_FILES:
            raise GridError(f"{source}: a variant's name is its folder, and {name} is the ablation's own file "
                            f"({', '.join(ABLATION_FILES)} lie beside the variants' folders): rename the variant")
        if not isinstance(table, dict):
            raise GridError(f"{source}: must be a table ([variants.{name}]) of train options")
        table = dict(table)
        label = table.pop("label", name)
        if not isinstance(label, str) or not label.strip():
            raise GridError(f"{source}: label must be a non-empty string, got {label!r}")
        own = _flat_options(table, source)
        for member, member_label, lr in _lr_members(name, label, own.pop("lr", None), source):
            options = {**base, **own, **({} if lr is None else {"lr": lr})}
            _check_options(options, f"{source}" + ("" if lr is None else f" (lr {lr:g})"))
            variants.append(Variant(member, member_label, options, family=name))
    chosen = seed_list(seeds if seeds is not None else data.get("seeds", 1),
                       "--seeds" if seeds is not None else str(path))
    names = [v.name for v in variants]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash:
        raise GridError(f"{path}: two variants are named {clash!r} (an lr list names its variants NAME-lr<value>)")
    families = list(dict.fromkeys(v.family for v in variants))
    source = "--baseline" if baseline is not None else str(path)
    baseline = baseline if baseline is not None else data.get("baseline", families[0])
    if not isinstance(baseline, str) or baseline not in families:
        raise GridError(f"{source}: baseline must name one of the variants ({', '.join(families)}), got {baseline!r}")
    return Grid(path=path, title=title, variants=variants, seeds=chosen, base=base, raw=data, baseline=baseline)
