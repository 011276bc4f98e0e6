"""A MIDI file opened: its bytes, and its tick-time score as symusic parses them, each refused in one line naming the
file where it cannot be read or is no usable MIDI (empty, no header, timed in SMPTE frames, 0 ticks per quarter note,
a damaged track). For midi.py's readers, and whatever reads a file's score or bytes alone."""
from __future__ import annotations

import os
from pathlib import Path

import symusic


def load_score(path: str | Path) -> symusic.Score:
    """Read a MIDI file in ticks; raise ValueError naming the file when it is not usable MIDI."""
    return score_from_bytes(file_bytes(path), path)


def file_bytes(path: str | Path) -> bytes:
    """A file's bytes; ValueError naming it where it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as e:  # (said in the words generate's --prompt and --like use)
        if Path(path).is_symlink():  # (a link whose file was moved or deleted: where it points)
            raise ValueError(f"{path}: cannot read: a link to {os.readlink(path)}, which is not there") from e
        raise ValueError(f"{path}: cannot read: no such file") from e
    except IsADirectoryError as e:
        raise ValueError(f"{path}: cannot read: a folder, not a MIDI file") from e
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from e


def score_from_bytes(data: bytes, path: str | Path = "<bytes>") -> symusic.Score:
    if len(data) == 0:
        raise ValueError(f"{path}: empty file")
    if data[:4] != b"MThd":
        raise ValueError(f"{path}: not a MIDI file (no MThd header)")
    if len(data) >= 14 and data[12] >= 0x80:  # (a negative division: frames per second, then ticks per frame)
        raise ValueError(f"{path}: timed in SMPTE frames ({256 - data[12]} per second), which is not read; save it with "
                         "ticks per quarter note")
    if len(data) >= 14 and data[12:14] == b"\x00\x00":  # (every tick would last forever: 'it lasts inf h')
        raise ValueError(f"{path}: damaged MIDI file: its header gives 0 ticks per quarter note")
    try:
        return symusic.Score.from_midi(data)
    except (RuntimeError, ValueError, IndexError) as e:
        raise ValueError(f"{path}: {_parser_error(str(e))}") from e


def _parser_error(message: str) -> str:
    """symusic's parser message → what is wrong with the file, in words (the parser's own words after it)."""
    detail = message.removeprefix("MiniMidi: ").removesuffix(": iostream error").strip()
    if "chunk length" in message:
        what = "damaged MIDI file: a track says it is longer than the file (cut off, or not MIDI after the header)"
    elif "Get " in message or "status" in message:
        what = "damaged MIDI file: the track data is not valid MIDI (corrupt, or random bytes after the header)"
    else:
        what = "damaged MIDI file: it cannot be parsed"
    return f"{what}; parser said: {detail}"
