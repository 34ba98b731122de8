"""Checkpoints: written atomically, read with torch.load(weights_only=True), checked by a digest.

A checkpoint holds only tensors, numbers, strings, lists and dicts (model, optimizer, scheduler
and grad-scaler state, epoch/step counters, torch RNG states and the run's config), so it loads
with weights_only=True: opening a checkpoint never runs code from it.

Integrity: save_checkpoint stores ``"digest"``, a SHA-256 over every tensor of the checkpoint
(its place in the dict, dtype, shape and bytes, in the dict's order), and load_checkpoint, the
one load function every command uses, recomputes it: a file damaged or edited after it was
written (flipped bytes inside the weights load without any error from torch.load) is refused
with an error naming it. Checkpoints written before the digest existed (no ``"digest"`` entry)
still load, unchecked. check_finite_weights refuses weights that hold NaN or inf (models/loading.py's
load_model calls it), so no command evaluates, exports or predicts with them.

The landmark scheme: train and convert store the model's whole scheme (``"scheme"``, a scheme
file's table: awing_ext/scheme_file.py), so a checkpoint alone predicts and evaluates;
checkpoint_scheme reads it (a checkpoint from before: the built-in scheme of its point count).
"""
import contextlib
import hashlib
import os
import re
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

import torch

from awing_ext.scheme_file import SchemeError, parse_scheme
from awing_ext.schemes import LandmarkScheme, get_scheme

__all__ = ["save_checkpoint", "load_checkpoint", "tensor_digest", "check_finite_weights", "describe_load_error",
           "checkpoint_scheme", "DIGEST_KEY"]

PathLike = Union[str, Path]
DIGEST_KEY = "digest"


def _tensors(obj, where: str = "") -> Iterator[Tuple[str, torch.Tensor]]:
    """(path, tensor) for every tensor in nested dicts/lists/tuples, in their order."""
    if torch.is_tensor(obj):
        yield where, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if where == "" and key == DIGEST_KEY:
                continue
            yield from _tensors(value, f"{where}/{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _tensors(value, f"{where}[{i}]")


def tensor_digest(state: dict) -> str:
    """SHA-256 (hex) over every tensor of `state` (except the digest entry itself): each tensor's
    place in the dict, dtype, shape and bytes, in the dict's order. Independent of the device."""
    h = hashlib.sha256()
    for where, t in _tensors(state):
        t = t.detach()
        h.update(f"{where}|{t.dtype}|{tuple(t.shape)}|".encode())
        flat = t.cpu().contiguous().reshape(-1)
        if flat.numel():
            h.update(flat.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def _ctrl_c_deferred():
    """Holds a Ctrl-C (SIGINT) that arrives inside the block until the block ends, then raises
    KeyboardInterrupt. A KeyboardInterrupt raised inside torch.save leaves torch's zip writer
    half-written, and closing it then fails with "[enforce fail at inline_container.cc] unexpected
    pos", which would turn Ctrl-C into an error instead of the interrupt it is (exit 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def save_checkpoint(state: dict, path: PathLike) -> None:
    """Writes `state` (plus its tensor digest) to `path` via a temporary file in the same folder,
    fsync and rename, so a crash or SIGKILL at any moment leaves either the old checkpoint or the
    new one, never half (a SIGKILL can leave the temporary file: training removes stale ones
    when a run starts, training/engine/run_folder.py). A Ctrl-C during the write lets it finish first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {**state, DIGEST_KEY: {"algorithm": "sha256", "tensors": tensor_digest(state)}}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with _ctrl_c_deferred():
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def describe_load_error(exc: BaseException) -> str:
    """One line of a torch.load error: the weights_only refusal names the global it refused
    (torch's own message explains the option in 8 lines)."""
    text = str(exc)
    refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if refused:
        return f"weights_only loading refused the pickled object {refused.group(1)} (a checkpoint holds tensors " \
               f"and plain data only; load such a file yourself only if you trust where it came from)"
    if "weights_only" in text.lower() or "Weights only load failed" in text:
        line = next((ln.strip() for ln in text.splitlines() if ln.strip().startswith("WeightsUnpickler error")),
                    "it holds pickled objects")
        return f"weights_only loading refused it: {line}"
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)


def load_checkpoint(path: PathLike, map_location="cpu") -> dict:
    """Loads a checkpoint written by save_checkpoint and verifies its tensor digest (when it has
    one); one-line errors naming the file for missing, corrupt, modified or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"checkpoint {path} is corrupt or not an awing checkpoint: "
                           f"{describe_load_error(exc)}") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise RuntimeError(f"checkpoint {path} is not an awing checkpoint (no model/config entries)")
    digest = state.get(DIGEST_KEY)
    if digest is not None:
        expected = digest.get("tensors") if isinstance(digest, dict) else None
        if not isinstance(expected, str) or tensor_digest(state) != expected:
            raise RuntimeError(f"checkpoint {path} is corrupt: its tensors do not match the SHA-256 digest stored "
                               f"in it (the file was damaged or modified after it was written)")
    return state


def check_finite_weights(state_dict: dict, source: str) -> None:
    """ValueError (one line naming `source`) when a floating tensor of the weights holds NaN/inf."""
    bad = [key for key, value in state_dict.items()
           if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if bad:
        raise ValueError(f"{source}: the model's weights are not finite (NaN or inf in {len(bad)} tensor"
                         f"{'s' if len(bad) > 1 else ''}, e.g. {bad[0]}): it cannot be used")


def checkpoint_scheme(checkpoint: dict, source: str = "checkpoint", required: bool = True) -> Optional[LandmarkScheme]:
    """The landmark scheme of a checkpoint's model (module docstring): the stored one, or for a
    checkpoint that stores none the built-in scheme with the model's number of points (None
    instead when not `required`). ValueError naming `source` for a stored scheme that is not
    valid or does not fit the model."""
    points = int((checkpoint.get("model_config") or {}).get("num_landmarks", 68))
    stored = checkpoint.get("scheme")
    if stored is None:
        if not required:
            return None
        try:
            return get_scheme(points)
        except ValueError:
            raise ValueError(f"{source}: the model predicts {points} points and the checkpoint names no landmark "
                             f"scheme (68, 98 and 29 are the built-in ones)") from None
    try:
        scheme = parse_scheme(stored, f"{source} (its stored scheme)")
    except SchemeError as exc:
        raise ValueError(str(exc)) from None
    if scheme.num_points != points:
        raise ValueError(f"{source}: its stored scheme {scheme.name!r} has {scheme.num_points} points, the model "
                         f"predicts {points}")
    return scheme
