"""Run configurations: `python -m training.train --config FILE` reads a TOML recipe
(configs/<name>.toml) or a run's config.json, and the command line overrides it.

    python -m training.train --config configs/300w.toml --data-root data/300W --device cuda
    python -m training.train --config runs/<run>/config.json --out runs/again     # repeat a run

A file's keys are train's option names (``batch-size`` or ``batch_size``), at the top level or
inside any one-level table ([data], [model], ...: the tables only group keys for the reader).
The values become command-line arguments placed *before* the user's own, so

* every value goes through the same argparse type checks as a typed option (a bad value is an
  error naming the file and the key, before anything runs);
* a typed option, given after them, overrides the file (argparse keeps the last value); switches
  a file may turn on have an off form (``--skip-bad`` / ``--no-skip-bad``, ``--compile`` /
  ``--no-compile``, ``--channels-last`` / ``--no-channels-last``, ``--no-augment`` / ``--augment``,
  ``--no-progress`` / ``--progress``).

A run's config.json holds every option plus what describes the run rather than the recipe
(RUN_ONLY: its out folder, --resume, --overwrite, the world size, its torch threads, the config it
came from): those
are dropped, so a repeated run writes a new folder and starts from scratch.
"""
from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - python < 3.11 (pyproject declares tomli there)
    import tomli as tomllib

__all__ = ["ConfigError", "RUN_ONLY", "OptionSpec", "OptionTable", "load_config", "read_text", "flatten_options",
           "config_to_argv", "config_path_in"]

RUN_ONLY = frozenset({"out", "resume", "world_size", "threads", "config", "overwrite"})


class ConfigError(ValueError):
    """A configuration file that cannot be read or holds an unknown key or a bad value."""


@dataclass(frozen=True)
class OptionSpec:
    """What the config layer knows of an option: its flag, its kind ("value"; "switch": on when
    given, store_true; "on_off": --x / --no-x), whether it takes a list, and its default."""
    dest: str
    flag: str
    kind: str
    many: bool
    default: Any


class OptionTable:
    """The options of a parser, recorded as they are added (no argparse internals needed): add
    them through ``table.add(group_or_parser, *flags, **kwargs)``. The first option of a dest is
    the one a config file's key sets (--no-augment, not its undo --augment)."""

    def __init__(self) -> None:
        self.specs: Dict[str, OptionSpec] = {}

    def add(self, target, *flags: str, **kwargs) -> argparse.Action:
        action = target.add_argument(*flags, **kwargs)
        how = kwargs.get("action")
        kind = "switch" if how == "store_true" else "on_off" if how is argparse.BooleanOptionalAction else "value"
        default = kwargs.get("default", False if how == "store_true" else True if how == "store_false" else None)
        if isinstance(default, str) and "type" in kwargs:
            default = kwargs["type"](default)   # as argparse converts a string default
        flag = next(s for s in flags if s.startswith("--"))
        self.specs.setdefault(action.dest, OptionSpec(action.dest, flag, kind, kwargs.get("nargs") in ("*", "+"),
                                                      default))
        return action

    def defaults(self) -> Dict[str, Any]:
        """{dest: default}, in the order the options were added (argparse's namespace order)."""
        return {dest: spec.default for dest, spec in self.specs.items()}


def config_path_in(argv: List[str]) -> Optional[str]:
    """The value of --config (``--config F`` or ``--config=F``) in argv, or None."""
    pre = argparse.ArgumentParser(prog="python -m training.train", add_help=False)
    pre.add_argument("--config", default=None, metavar="FILE")
    known, _ = pre.parse_known_args(argv)
    return known.config


def load_config(path) -> Dict[str, object]:
    """{option dest: value} from a TOML file or a run's config.json (tables flattened, '-' -> '_',
    RUN_ONLY keys of a config.json dropped)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = read_text(path)
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of options, got {type(data).__name__}")
    flat = flatten_options(data, str(path))
    if path.suffix.lower() == ".json":
        flat = {k: v for k, v in flat.items() if k not in RUN_ONLY}
    elif "config" in flat:
        raise ConfigError(f"{path}: a config file cannot name another config file")
    return flat


def read_text(path: Path, error=ConfigError) -> str:
    """A config or grid file's text. TOML and JSON files are UTF-8: anything else raises `error`
    naming the file, the line and the byte (a byte replaced by U+FFFD would end up in a label)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): TOML and JSON files are "
                    f"UTF-8; save it as UTF-8") from None


def flatten_options(data: Dict[str, object], source: str, error=ConfigError) -> Dict[str, object]:
    """{dest: value} of a table of train options: one-level sub-tables flattened (they only group
    keys), '-' -> '_'. Deeper tables and a key given twice raise `error` naming `source`."""
    flat: Dict[str, object] = {}
    for key, value in data.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, v in items:
            if isinstance(v, dict):
                raise error(f"{source}: [{key}.{name}]: tables nest one level deep at most")
            dest = str(name).replace("-", "_")
            if dest in flat:
                raise error(f"{source}: {name!r} is given twice")
            flat[dest] = v
    return flat


def config_to_argv(config: Dict[str, object], options: OptionTable, source: str) -> List[str]:
    """The command-line arguments that set `config`'s values on the parser whose `options` these are
    (see the module docstring). Unknown keys and values of the wrong kind raise ConfigError naming
    `source` and the key."""
    argv: List[str] = []
    for dest, value in config.items():
        spec = options.specs.get(dest)
        if spec is None:
            close = difflib.get_close_matches(dest, list(options.specs), n=1)
            hint = f" (did you mean {close[0].replace('_', '-')!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown option {dest.replace('_', '-')!r}{hint}; the keys are "
                              f"python -m training.train's options")
        flag = spec.flag
        if spec.kind in ("switch", "on_off"):
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: {dest.replace('_', '-')} must be true or false, got {value!r}")
            if spec.kind == "on_off":   # --x / --no-x: the command line can undo it
                argv += [flag if value else f"--no-{flag[2:]}"]
            else:
                argv += [flag] if value else []
        elif value is None:
            continue  # the option's default
        elif isinstance(value, bool):
            raise ConfigError(f"{source}: {dest.replace('_', '-')} takes a value, not {str(value).lower()}")
        elif isinstance(value, list):
            if not spec.many:
                raise ConfigError(f"{source}: {dest.replace('_', '-')} takes one value, got a list {value!r}")
            argv += [flag, *(str(v) for v in value)]
        elif isinstance(value, (int, float, str)):
            argv += [flag, str(value)]
        else:
            raise ConfigError(f"{source}: {dest.replace('_', '-')}: unsupported value {value!r}")
    return argv


class RaisingParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise ConfigError instead of exiting (to check a file's values
    and name the file in the message)."""

    def __init__(self, *args, source: str = "config", **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source

    def error(self, message):
        raise ConfigError(f"{self.source}: {message}")
