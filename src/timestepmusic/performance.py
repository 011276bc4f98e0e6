"""What a source yields: a `Performance` record per MIDI file (file + composer, title, piece, split, year), or a
`SourceProblem` where a file or folder could not be used; the splits, and the hash that puts a piece in one so that
all performances of one piece share a split and reruns agree; the file names read as MIDI.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

MIDI_SUFFIXES = (".mid", ".midi")  # in any case: .MID, .Mid
SPLITS = ("train", "validation", "test")
EMPTY_SPLIT_MEANS = {"validation": "training validates on its training chunks",  # (what a split left empty costs)
                     "test": "`tsm evaluate` needs another --split"}


@dataclass(frozen=True)
class Performance:
    path: str
    composer: str = ""
    title: str = ""
    piece: str = ""
    split: str = "train"
    year: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SourceProblem:
    """A file or folder that could not be used, and why."""

    path: str
    reason: str


def split_by_hash(name: str, validation_fraction: float, test_fraction: float) -> str:
    """Deterministic split of a piece name: the same name always lands in the same split."""
    u = int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + validation_fraction:
        return "validation"
    return "train"
