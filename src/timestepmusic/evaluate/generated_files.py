"""The generated files `tsm evaluate` reads: each MIDI file of a folder (or a list) read once into Events, with the
files that cannot be read and why; which of them hold the same music, and which are real files of a corpus's split."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..midi import events_from_bytes, never_released
from ..midi_bytes import unreleased_notes
from ..midi_open import file_bytes
from ..sources import midi_below, midi_in

log = logging.getLogger("timestepmusic.evaluate.report")  # the report's records, as before these moved here


def read_generated(folder: str | Path | Sequence[str | Path],
                   pedal_bins: int) -> tuple[list, list[str], list[str], list[dict], list[dict], list[Path]]:
    """Every .mid/.midi directly in `folder` (or the MIDI files of a list) → (performances, their file names, their
    bytes' SHA-1s, bad files with reasons, the files read whose notes are not all described with those left out:
    drums, another voice beside the piano, notes beyond the keys, as midi.DropCounts.notes_left_out words them, and notes
    struck and never released, and the paths of the files read), each file read once."""
    if not isinstance(folder, (str, Path)):  # a list of files: each must be there (a folder's broken link is skipped)
        files = [Path(f) for f in folder]  # (read once: a glob's generator, too)
        if not files:
            raise ValueError("no generated MIDI files given: give a folder of them or a list of their paths")
        for path in files:
            if not path.is_file():
                raise ValueError(f"{path}: no such generated MIDI file")
        return _read_files(files, pedal_bins, f"{len(files)} file{'s' * (len(files) > 1)} given")
    folder = Path(folder)
    if folder.is_file():
        raise ValueError(f"{folder}: a file; give the folder that holds the generated MIDI files (tsm generate's -o)")
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder of generated MIDI files")
    files = midi_in(folder)
    if not files:
        deeper = midi_below(folder)
        raise ValueError(f"{folder}: no .mid or .midi files to evaluate" + (
            f" (it reads the folder itself, not its subfolders: {deeper[0].relative_to(folder)} is in one)" if deeper
            else ""))
    deeper = len(midi_below(folder))
    return _read_files(files, pedal_bins, str(folder), f"; {deeper} more {'is' if deeper == 1 else 'are'} in its "
                       "subfolders, which it does not read" if deeper else "")


def _read_files(files: list[Path], pedal_bins: int, given: str, elsewhere: str = "") -> tuple:
    """read_generated of these files; `given` names them in the error where none is usable, `elsewhere` says what
    more there is."""
    performances, names, sha1s, bad, left_out, read = [], [], [], [], [], []
    for path in files:
        try:
            data = file_bytes(path)
            events, drops = events_from_bytes(data, path, pedal_bins=pedal_bins, unreleased_said=False)
            performances.append(events)
            names.append(path.name)
            read.append(path)
            sha1s.append(hashlib.sha1(data).hexdigest())
            unreleased = unreleased_notes(data)  # (left out as read_events leaves them, said with the rest, not apart)
            if notes := ", ".join(filter(None, [drops.notes_left_out(), unreleased and never_released(unreleased)])):
                left_out.append({"file": str(path), "notes": notes})
                log.info("%s: notes left out: %s", path, notes)  # the report lists them, and the CLI prints them once
        except ValueError as e:
            reason = str(e).removeprefix(f"{path}: ")
            bad.append({"file": str(path), "reason": reason})
            log.info("skipped %s: %s", path, reason)  # the report lists every bad file, and the CLI prints it once
    if not performances:
        none = "the one MIDI file is not usable" if len(files) == 1 else f"none of the {len(files)} MIDI files is usable"
        raise ValueError(f"{given}: {none} "
                         f"({'; '.join(b['file'] + ': ' + b['reason'] for b in bad)}){elsewhere}")
    return performances, names, sha1s, bad, left_out, read


def same_music(performances: list) -> np.ndarray:
    """Each performance → the index of the first one with the same events (the same notes, pedals and times, however
    the files were written: another tick resolution, another track layout), itself where it has no earlier twin."""
    first: dict[str, int] = {}
    twin_of = []
    for i, events in enumerate(performances):
        ordered = events.sorted()
        digest = hashlib.sha1(b"".join(np.ascontiguousarray(getattr(ordered, a)).tobytes()
                                       for a in ("ids", "start_s", "duration_s", "intensity"))).hexdigest()
        twin_of.append(first.setdefault(digest, i))
    return np.array(twin_of, dtype=np.int64)


def files_of_the_split(names: list[str], sha1s: list[str], corpus, split: str) -> list[str]:
    """The files (by name, with their bytes' SHA-1s) whose bytes are those of a performance of `corpus`'s `split`."""
    ours = {track.get("sha1") for track in corpus.tracks if track.get("split") == split} - {None}
    return [name for name, sha1 in zip(names, sha1s) if sha1 in ours]
