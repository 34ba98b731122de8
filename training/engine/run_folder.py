"""A training run's folder (--out): one run at a time, never clobbered by accident.

* **Lock.** A run holds ``<out>/.lock`` (created with O_CREAT | O_EXCL, so of two runs starting
  together exactly one gets it) holding its pid, host and start time, and removes it when it
  ends, also on an error or Ctrl-C. A second run into the folder stops with an error naming the
  holder. A lock left by a run that died without cleaning up (SIGKILL, a power cut) is *stale*
  when its host is this machine and its pid is no longer alive (or is another process that
  started later): it is removed with a note. A lock from another host cannot be checked from
  here: the error says to delete it once that run is known to be gone. Under torchrun only rank
  0 takes it.
* **No silent restart.** A folder that already holds a run (config.json, last.pt, best.pt or
  metrics.jsonl) is refused unless the run continues it (``--resume``) or the user asks to start
  afresh (``--overwrite``, which deletes the previous run's outputs first, so no stale
  results.json or best.pt is left beside the new run's).
* **Leftovers.** A SIGKILL while a checkpoint is written leaves its temporary file
  (``.last.pt.*.tmp``); the lock holder removes them when it starts, as nobody else writes there.
* **metrics.jsonl after a resume.** Each checkpoint records how many metrics.jsonl records were
  written when it was saved; a resumed run cuts the file back to that many, so the steps it
  replays are logged once (checkpoints from before that record: the records after the
  checkpoint's step are dropped).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import List, Optional

__all__ = ["RunFolderError", "RunLock", "RUN_FILES", "holds_a_run", "remove_run_outputs", "remove_stale_temp_files",
           "trim_metrics_log", "LOCK_NAME"]

LOCK_NAME = ".lock"
# what a training run writes into its folder (and evaluate's default outputs there)
RUN_FILES = ("config.json", "scheme.toml", "last.pt", "best.pt", "metrics.jsonl", "results.json", "ced.png",
             "predictions.png")
RUN_PATTERNS = ("results_*.json", "ced_*.png", "predictions_*.png")
RUN_DIRS = ("tensorboard",)
_MARKERS = ("config.json", "last.pt", "best.pt", "metrics.jsonl")


class RunFolderError(RuntimeError):
    """The run folder is in use, or holds a run that the options would overwrite."""


def _process_start(pid: int) -> Optional[int]:
    """The start time of process `pid` in clock ticks since boot (Linux /proc), None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # another user's process: alive
        return True
    try:                        # a zombie (exited, not yet reaped) is not a running holder
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return True


class RunLock:
    """The lock on a run folder (module docstring). acquire() raises RunFolderError when another
    live run holds it; release() removes it if it is still ours. A context manager too."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.held = False
        self.note: Optional[str] = None   # what acquire() did about a stale lock, for the log

    def _record(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid()),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)[:500]}

    def _read(self) -> Optional[dict]:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _stale(self, holder: dict) -> bool:
        """A lock of this host whose process is gone (or whose pid now belongs to a younger process)."""
        pid = holder.get("pid")
        if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
            return False
        if not _alive(pid):
            return True
        start = holder.get("start")
        return start is not None and _process_start(pid) not in (None, start)

    def acquire(self) -> "RunLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read()
                if holder is None:          # released between our open and our read: try again
                    continue
                if holder and self._stale(holder):
                    self.note = f"removed a stale lock of pid {holder['pid']} (no longer running)"
                    try:
                        self.path.unlink()
                    except FileNotFoundError:
                        pass
                    continue
                if not holder:              # being written this instant, or garbage: look again shortly
                    time.sleep(0.2)
                    holder = self._read()
                    if holder is None:
                        continue
                raise RunFolderError(self._busy(holder or {}))
            with os.fdopen(fd, "w") as f:
                json.dump(self._record(), f)
            self.held = True
            return self
        raise RunFolderError(f"{self.folder} is in use: could not take its lock {self.path}")

    def _busy(self, holder: dict) -> str:
        if not holder:
            return (f"run folder {self.folder} has an unreadable lock file {self.path}: if no training run uses the "
                    f"folder, delete it")
        who = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}"
        since = f", since {holder['since']}" if holder.get("since") else ""
        if holder.get("host") not in (None, socket.gethostname()):
            hint = f"if that run is gone, delete {self.path}"
        else:
            hint = "wait for it to end, or train into another --out"
        return f"run folder {self.folder} is in use by another training run ({who}{since}): {hint}"

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        holder = self._read()
        if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def holds_a_run(folder: Path) -> bool:
    """Whether `folder` already holds a training run's outputs."""
    return any((Path(folder) / name).exists() for name in _MARKERS)


def remove_run_outputs(folder: Path) -> List[str]:
    """--overwrite: deletes what a run (and evaluate, by default) wrote into `folder`; returns the names."""
    folder, removed = Path(folder), []
    paths = [folder / n for n in RUN_FILES] + [p for pat in RUN_PATTERNS for p in sorted(folder.glob(pat))]
    for path in paths:
        if path.is_file():
            path.unlink()
            removed.append(path.name)
    for name in RUN_DIRS:
        if (folder / name).is_dir():
            shutil.rmtree(folder / name)
            removed.append(name + "/")
    return removed


def remove_stale_temp_files(folder: Path) -> List[str]:
    """Deletes the temporary files of a killed run's atomic writes (``.last.pt.<random>.tmp``,
    ``.metrics.jsonl.<pid>.tmp``, ...); call with the lock held (then no writer can be using them)."""
    removed = []
    folder = Path(folder)
    stale = sorted({p for pattern in (".*.pt.*.tmp", *(f".{name}.*.tmp" for name in RUN_FILES))
                    for p in folder.glob(pattern)})
    for path in stale:
        try:
            path.unlink()
            removed.append(path.name)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
    return removed


def trim_metrics_log(path: Path, records: Optional[int], step: int) -> int:
    """Cuts metrics.jsonl back to what a checkpoint had seen: its first `records` records, or
    (checkpoints without that count) the records up to `step`. A torn last line is dropped.
    Returns the number kept. Rewritten atomically."""
    path = Path(path)
    if not path.exists():
        return 0
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if records is not None:
            if len(kept) >= records:
                break
        elif not isinstance(record, dict) or record.get("step", 0) > step:
            continue
        kept.append(line)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    os.replace(tmp, path)
    return len(kept)


def default_run_folder() -> Path:
    """runs/<time>: the folder of a run given no --out (train decides it once, before the lock)."""
    return Path("runs") / time.strftime("%Y%m%d-%H%M%S")
