"""Image and annotation file I/O shared by the dataset loaders.

* :func:`load_image_rgb` reads any image OpenCV decodes and returns uint8 RGB (H, W, 3):
  grey (H, W) is replicated to 3 channels, grey+alpha and BGRA drop the alpha channel (no
  compositing: the colour values are kept as stored), 16-bit images are scaled to 8 bits
  (``round(v * 255 / 65535)``), float images (e.g. .exr/.hdr) are clipped to [0, 1] and scaled.
  Missing, unreadable, empty or corrupt files raise :class:`DataError` naming the file.
* :func:`read_pts` / :func:`write_pts`: the iBUG ``.pts`` format used by 300W::

      version: 1
      n_points:  68
      {
      x y
      ...
      }

  The file stores **1-based** pixel coordinates (docs/design.md, as menpo reads them); ``read_pts``
  returns 0-based (x, y) float32 (K, 2) (subtracts 1) and ``write_pts`` adds 1 back, so
  ``read_pts(write_pts(p))`` returns ``p`` rounded to ``decimals`` places (3 by default).
  Parsing is strict: a missing/odd header, a wrong ``n_points``, missing braces, a line that is not
  two finite numbers, too few/many point lines, or text after ``}`` raise :class:`DataError`
  naming the file and the (1-based) line.
"""
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

__all__ = ["DataError", "load_image_rgb", "read_pts", "write_pts", "IMAGE_EXTENSIONS"]

PathLike = Union[str, Path]

# Extensions tried (in this order) when looking for the image beside an annotation file: every
# still-image format OpenCV reads, in lower and upper case.
_OPENCV_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".pnm", ".tif", ".tiff", ".webp",
                      ".jp2", ".jpe", ".dib", ".sr", ".ras", ".exr", ".hdr", ".pic", ".pxm", ".pfm")
IMAGE_EXTENSIONS = _OPENCV_EXTENSIONS + tuple(e.upper() for e in _OPENCV_EXTENSIONS)


class DataError(ValueError):
    """A dataset file is missing, unreadable, corrupt or malformed; the message names the file
    (also in the ``file`` attribute where there is one)."""

    def __init__(self, message: str, file: Optional[PathLike] = None):
        super().__init__(message)
        self.file = None if file is None else str(file)


def load_image_rgb(path: PathLike) -> np.ndarray:
    """The image at `path` as a C-contiguous uint8 RGB array (H, W, 3).

    Handles grey, grey+alpha, BGR, BGRA (alpha dropped), 16-bit (scaled to 8 bits) and float
    images. Raises DataError naming the file if it is missing, not a file, empty, or cannot be
    decoded (corrupt or an unsupported format)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"image file not found: {path}", file=path)
    if not path.is_file():
        raise DataError(f"image path is not a file: {path}", file=path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)   # also works for non-ASCII paths
    except OSError as exc:
        raise DataError(f"cannot read image file {path}: {exc}", file=path) from None
    if data.size == 0:
        raise DataError(f"image file is empty: {path}", file=path)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise DataError(f"cannot decode image file {path} (corrupt, truncated or not an image)", file=path)
    try:
        return to_rgb_uint8(img, bgr=True)
    except ValueError as exc:
        raise DataError(f"image file {path}: {exc}", file=path) from None


def to_rgb_uint8(img: np.ndarray, bgr: bool = True) -> np.ndarray:
    """Any grey / grey+alpha / 3- or 4-channel array of uint8, uint16 or float to uint8 RGB (H, W, 3).

    `bgr`: the colour channels are in OpenCV's BGR order (True) or already RGB (False)."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (2, 3, 4)) or 0 in img.shape:
        raise ValueError(f"unsupported image shape {img.shape} (expected (H, W), (H, W, 2|3|4))")
    if img.dtype == np.uint8:
        pass
    elif img.dtype == np.uint16:
        img = ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif img.dtype == np.bool_:
        img = img.astype(np.uint8) * 255
    elif np.issubdtype(img.dtype, np.floating):
        img = np.clip(np.nan_to_num(img.astype(np.float64)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif np.issubdtype(img.dtype, np.integer):
        info = np.iinfo(img.dtype)
        if info.min < 0:
            raise ValueError(f"unsupported signed image dtype {img.dtype}")
        img = (img.astype(np.float64) * (255.0 / info.max) + 0.5).astype(np.uint8)
    else:
        raise ValueError(f"unsupported image dtype {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 2:                                    # grey + alpha
        img = np.repeat(img[:, :, :1], 3, axis=2)
    else:
        img = img[:, :, :3]
        if bgr:
            img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def read_pts(path: PathLike, num_points: Optional[int] = None) -> np.ndarray:
    """0-based (x, y) float32 (K, 2) landmarks from an iBUG .pts file (which stores 1-based).

    `num_points`: if given, the file must hold exactly that many points. Raises DataError naming
    the file (and the line, 1-based) for a missing file or any format error."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"annotation file not found: {path}", file=path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read annotation file {path}: {exc}", file=path) from None
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, ln) for i, ln in lines if ln]                  # blank lines are allowed anywhere

    def fail(lineno, msg):
        where = f"{path}, line {lineno}" if lineno else str(path)
        raise DataError(f"malformed .pts file {where}: {msg}", file=path)

    pos, n = 0, None
    while pos < len(lines) and lines[pos][1] != "{":
        lineno, ln = lines[pos]
        key, sep, value = ln.partition(":")
        if not sep:
            fail(lineno, f"expected 'key: value' header or '{{', got {ln!r}")
        key = key.strip().lower()
        if key == "n_points":
            try:
                n = int(value.strip())
            except ValueError:
                fail(lineno, f"n_points is not an integer: {value.strip()!r}")
            if n <= 0:
                fail(lineno, f"n_points must be positive, got {n}")
        elif key != "version":
            fail(lineno, f"unknown header key {key!r}")
        pos += 1
    if pos == len(lines):
        fail(lines[-1][0] if lines else 0, "missing '{' (no point block)")
    if n is None:
        fail(lines[pos][0], "missing 'n_points:' header before '{'")
    if num_points is not None and n != num_points:
        fail(0, f"expected {num_points} points, n_points says {n}")
    pts = []
    pos += 1
    while pos < len(lines) and lines[pos][1] != "}":
        lineno, ln = lines[pos]
        parts = ln.split()
        if len(parts) != 2:
            fail(lineno, f"expected two numbers 'x y', got {ln!r}")
        try:
            xy = [float(parts[0]), float(parts[1])]
        except ValueError:
            fail(lineno, f"non-numeric coordinates {ln!r}")
        if not all(np.isfinite(xy)):
            fail(lineno, f"non-finite coordinates {ln!r}")
        if len(pts) == n:
            fail(lineno, f"more point lines than n_points = {n}")
        pts.append(xy)
        pos += 1
    if pos == len(lines):
        fail(lines[-1][0], "missing closing '}'")
    if len(pts) != n:
        fail(lines[pos][0], f"n_points = {n} but {len(pts)} point lines")
    if pos + 1 < len(lines):
        fail(lines[pos + 1][0], f"unexpected text after '}}': {lines[pos + 1][1]!r}")
    return (np.asarray(pts, dtype=np.float64) - 1.0).astype(np.float32)


def write_pts(path: PathLike, landmarks, decimals: int = 3) -> Path:
    """Writes 0-based (x, y) landmarks (K, 2) as an iBUG .pts file (1-based, `decimals` places)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise ValueError(f"write_pts: landmarks must have shape (K, 2), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("write_pts: landmarks must be finite")
    path = Path(path)
    body = "\n".join(f"{x + 1:.{decimals}f} {y + 1:.{decimals}f}" for x, y in pts)
    path.write_text(f"version: 1\nn_points:  {len(pts)}\n{{\n{body}\n}}\n")
    return path
