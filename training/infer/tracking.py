"""Faces linked across a video's frames into tracks (nearest crop centre within half a crop
side; a track unseen for a second ends), each track's landmarks smoothed by a One Euro filter
when asked (smoothing.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .smoothing import OneEuroFilter

__all__ = ["Track", "Tracker"]


@dataclass
class Track:
    id: int
    centre: np.ndarray
    side: float
    last_frame: int
    smoother: Optional[OneEuroFilter] = field(default=None)


class Tracker:
    """Links each frame's faces to the previous frames' (nearest crop centre within half a side)
    and smooths each track's landmarks (One Euro filter) when asked."""

    def __init__(self, fps: float, smooth: bool, min_cutoff: float, beta: float):
        self.fps, self.smooth, self.min_cutoff, self.beta = fps, smooth, min_cutoff, beta
        self.tracks: List[Track] = []
        self.next_id = 0

    def update(self, frame: int, faces: List[dict]) -> None:
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= max(1, round(self.fps))]
        free = list(self.tracks)
        for face in faces:
            centre, side = np.array(face["crop"][:2]), face["crop"][2]
            near = [(float(np.linalg.norm(t.centre - centre)), t) for t in free]
            near = [(d, t) for d, t in near if d < 0.5 * max(side, t.side)]
            if near:
                track = min(near, key=lambda dt: dt[0])[1]
                free.remove(track)
            else:
                track = Track(self.next_id, centre, side, frame,
                              OneEuroFilter(self.min_cutoff, self.beta) if self.smooth else None)
                self.next_id += 1
                self.tracks.append(track)
            track.centre, track.side, track.last_frame = centre, side, frame
            face["track"] = track.id
            if track.smoother is not None:
                face["landmarks"] = np.round(track.smoother(np.array(face["landmarks"]), frame / self.fps), 3).tolist()
