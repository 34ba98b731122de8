"""A plain folder of images with iBUG .pts files beside them: a user's own data (``--dataset folder``).

Layout: any tree under ``data_root``; every ``*.pts`` file (searched recursively, sorted by its
path relative to the root) is one face, and its image is the file beside it with the same stem and
one of the extensions in ``io.IMAGE_EXTENSIONS`` (.jpg, .jpeg, .png, .bmp; either case). As in
300W's AFW folder, ``name_2.pts`` may also annotate ``name.jpg`` when ``name_2.jpg`` does not exist
(several faces in one image). The .pts coordinates are 1-based; the loader subtracts 1.

The number of points picks the landmark scheme: 68 (300W / iBUG), 98 (WFLW) or 29 (COFW), or
the count of a given ``scheme`` (a scheme file's: any count), the count most files have (or
``num_points``). A file with another count is a bad file: an error naming it, or with
``skip_bad`` skipped and counted like a missing image. Files of a built-in count read with a
scheme of another count are mapped by the registry through its ``[from.<count>]``.

Splits, deterministic by the sorted relative path of the .pts files (i = position in that order,
counting files skipped as bad, so skipping one does not move the others):

* ``"all"``: every face;
* ``"test"``: the faces with ``i % 10 == 9`` (10 %);
* ``"train"``: the other 90 %;
* ``"val"`` / ``"train-val"``: the crc32 5 % of "train" / the rest (see base.py).

The crop is the landmarks' bounding box (CropAndAugment, scale 1.25). Evaluation subsets: "all".
"""
import re
from collections import Counter
from pathlib import Path
from typing import List, Optional

from awing_ext.schemes import LandmarkScheme

from .base import LandmarkDataset, Record, select_split
from .io import IMAGE_EXTENSIONS, DataError, read_pts

__all__ = ["FolderDataset", "find_image", "pts_records"]

_SUFFIX = re.compile(r"^(.*)_\d+$")
SCHEME_POINTS = (68, 98, 29)


def find_image(pts_path: Path) -> Optional[Path]:
    """The image a .pts file annotates: same stem (or the stem without a ``_<n>`` suffix)."""
    stems = [pts_path.stem]
    m = _SUFFIX.match(pts_path.stem)
    if m:
        stems.append(m.group(1))
    for stem in stems:
        for ext in IMAGE_EXTENSIONS:
            cand = pts_path.with_name(stem + ext)
            if cand.is_file():
                return cand
    return None


def pts_records(dataset: LandmarkDataset, folder: Path, root: Path, num_points: Optional[int], *,
                recursive: bool, subset: str = "all", source: str = "") -> List[Record]:
    """Records for every .pts file in `folder` (sorted), bad ones raised or skipped via dataset._bad."""
    files = sorted(folder.rglob("*.pts") if recursive else folder.glob("*.pts"),
                   key=lambda p: p.relative_to(root).as_posix())
    out = []
    for order, pts in enumerate(files):
        try:
            lm = read_pts(pts, num_points)
            image = find_image(pts)
            if image is None:
                raise DataError(f"no image for annotation {pts}: expected {pts.stem}.jpg/.png (or another "
                                f"format OpenCV reads: {', '.join(IMAGE_EXTENSIONS[:11])}, ...) beside it", file=pts)
        except DataError as exc:
            dataset._bad(exc)
            continue
        out.append(Record(image=str(image), landmarks=lm, key=pts.relative_to(root).as_posix(),
                          subset=subset, source=source, order=order, annotation=str(pts)))
    return out


class FolderDataset(LandmarkDataset):
    """Images with .pts files under `root` (see the module docstring)."""

    name = "folder"
    splits = ("all", "train", "test", "val", "train-val")

    def __init__(self, root, split: str = "all", num_points: Optional[int] = None,
                 scheme: Optional[LandmarkScheme] = None, **kwargs):
        super().__init__(split, **kwargs)
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"folder dataset: data root {root} is not a folder", file=root)
        if not any(root.rglob("*.pts")):
            raise DataError(f"folder dataset: no .pts annotation files under {root}", file=root)
        records = pts_records(self, root, root, None, recursive=True)
        if records:
            counts = Counter(len(r.landmarks) for r in records)
            first = len(records[0].landmarks)  # ties go to the first file's count
            candidates = SCHEME_POINTS if scheme is None else (scheme.num_points,) + SCHEME_POINTS
            k = num_points or max(candidates, key=lambda n: (counts[n], n == first))
            if counts[k] == 0:
                have = ", ".join(f"{n} ({c} files)" for n, c in sorted(counts.items()))
                wanted = (f"{k} points (num_points)" if num_points else
                          "68, 98 or 29 points (the supported schemes)" if scheme is None else
                          f"{scheme.num_points} points (scheme {scheme.name!r}), or 68, 98 or 29")
                raise DataError(f"folder dataset: no file under {root} has {wanted}; the files have {have}", file=root)
            kept = []
            for r in records:
                if len(r.landmarks) == k:
                    kept.append(r)
                else:
                    self._bad(DataError(f"folder dataset: {r.key} has {len(r.landmarks)} points, the folder's "
                                        f"scheme has {k}", file=r.key))
            records = kept
            self.num_points = k
            self.scheme = scheme if scheme is not None and k == scheme.num_points else str(k)
        if split == "test":
            records = [r for r in records if r.order % 10 == 9]
        elif split != "all":
            records = select_split([r for r in records if r.order % 10 != 9],
                                   "train" if split == "train" else split)
        self.records = records
        self._finish()
