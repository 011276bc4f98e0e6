"""What a `tsm generate` command asks, as each file's marker records it (heard.made_by): its settings read from its
flags or from a marker, said one way (`request_words`), and whether two files were drawn by the same request."""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path, PurePath

from .generate_flags import PIECE_SECONDS, generate_parser, reading_parser

UNHEARD = ("out", "soundfont", "threads", "overwrite", "png", "wav", "verbose", "quiet", "corpus")  # generate's settings
# that change no note: where the pieces go, what goes beside them, how fast they are drawn, what is said and what
# lengths are shown beside


def request_from(read: dict) -> dict:
    """What a generate command asks (`read`: its flags as parsed), setting by setting: each of generate's settings but
    UNHEARD, with one value however it was said: a default given or not (--model default, and --seconds 16 without
    --max-seconds, as not given: None), each --set NAME once (its last value, which sampling reads), by NAME; the
    files it reads (--prompt, --like, a --model folder; not a shipped model's name) as typed ('./mine.mid' as
    'mine.mid'; '..' kept, which a link may need), not made absolute: a file shared says nothing of the folders it was
    made in, and its command draws it again from where it was typed. Two requests are compared by `comparable`."""
    from .shipped import recorded_model

    request = {action.dest: read.get(action.dest, action.default) for action in generate_parser()._actions
               if action.option_strings and action.dest not in (*UNHEARD, "help")}
    request["model"] = recorded_model(request["model"])
    for name in ("prompt", "like"):
        if request[name]:
            request[name] = str(PurePath(request[name]))
    if request["seconds"] == PIECE_SECONDS and request["max_seconds"] is None:
        request["seconds"] = None
    if request["set"]:
        from .set_assignments import assigned_key

        last = {assigned_key(assignment): assignment for assignment in request["set"]}
        request["set"] = [_set_said(last[name]) for name in sorted(last)]
    return request


def _set_said(assignment: str) -> str:
    """A --set assignment said one way: NAME=VALUE, a number or true/false read as the config reads it (a TOML
    literal; true and false in any case) and written back shortest: 'ar.temperature = 0.70' is 'ar.temperature=0.7';
    any other value (a word, a quoted string, a list) as typed, less the spaces around it."""
    from .set_assignments import split_assignment

    name, value = split_assignment(assignment)
    text = assignment.partition("=")[2].strip()  # (a list, a table or a quoted string: as typed)
    if isinstance(value, str) and value == text and text.lower() in ("true", "false"):  # (a bare word, any case)
        value = text.lower() == "true"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = f"{value:g}" if float(f"{value:g}") == value else repr(value)
    elif isinstance(value, int):
        text = str(value)
    return f"{name}={text}"


def request_words(request: dict) -> list[str]:
    """A request (`request_from`'s) as the command that makes it, after 'tsm': generate and each setting not at its
    default, in the order of generate's --help, each flag spelled out ('--flag VALUE'; '--flag=VALUE' where the value
    starts with '-', which would read as a flag), a number in its shortest form (16, not 16.0). The piece is left to
    heard.made_by."""
    words = ["generate"]
    for action in generate_parser()._actions:
        value = request.get(action.dest, action.default)
        if action.dest not in request or action.dest == "piece" or value == action.default:
            continue
        flag = max(action.option_strings, key=len)  # (the long name; -n has none)
        if isinstance(action, argparse._StoreTrueAction):
            words.append(flag)
            continue
        for one in value if isinstance(action, argparse._AppendAction) else [value]:
            text = str(one)
            if isinstance(one, float):
                text = f"{one:g}" if float(f"{one:g}") == one else repr(one)
            words += ([f"{flag}={text}" if flag.startswith("--") else flag + text] if text.startswith("-")
                      else [flag, text])
    return words


def same_request(earlier: str | None, now: str) -> bool:
    """Whether two files' markers (heard.made_by's) name the same version and the same request (`request_from`): the same
    flags and values as generate reads them, in any order and form, a default given or not (None, a file of no
    request of this tool's: False). An earlier version's marker, '… (piece I of N)', reads as '… --piece I−1'."""
    if earlier is None or earlier.partition(": ")[0] != now.partition(": ")[0]:
        return False
    return ((read := _marker_request(earlier)) is not None and (asked := _marker_request(now)) is not None
            and comparable(read) == comparable(asked))


def comparable(request: dict) -> dict:
    """A request (`request_from`'s) with the files it reads where they lie (resolved from the working directory): the
    same file typed otherwise, or by an earlier version's absolute path, is the same request; the same words typed
    in another folder are not."""
    from .shipped import is_shipped_name

    files = {name: str(Path(request[name]).resolve()) for name in ("prompt", "like") if request[name]}
    if request["model"] is not None and not is_shipped_name(request["model"]):
        files["model"] = str(Path(request["model"]).resolve())
    return request | files


def _marker_request(marker: str) -> dict | None:
    """The request (`request_from`) a file's marker names; None for a marker of no generate command this version reads.
    An earlier version's marker, '… (piece I of N)', reads as '… --piece I−1'."""
    command = marker.partition(": ")[2]
    if (old := re.fullmatch(r"(.*) \(piece (\d+) of (\d+)\)", command)) is not None:
        command = old[1] + (f" --piece {int(old[2]) - 1}" if int(old[3]) > 1 else "")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            read = vars(reading_parser().parse_args(shlex.split(command)[1:]))  # (after "tsm")
        return request_from(read) if read.get("command") == "generate" else None
    except (SystemExit, ValueError):  # (a marker a later version may word otherwise)
        return None


def holds_its_prompt(marker: str | None) -> bool:
    """Whether a file whose marker is `marker` (heard.made_by's) begins with the performance given to its --prompt: a
    continuation written whole, without --continuation-only (None, or a marker no generate command of this version
    reads: False)."""
    read = None if marker is None else _marker_request(marker)
    return read is not None and bool(read["prompt"]) and not read["continuation_only"]


def drawn_alike(path: Path, asked: dict) -> bool:
    """Whether the MIDI file `path` was drawn by this version and the request `asked` (`comparable`'s) but for its
    seed and how many pieces were drawn and written: another seed's pieces of the same model and settings, which
    `tsm evaluate` counts as one set rightly."""
    from .heard import made_version
    from .markers import made_by_marker

    marker = made_by_marker(path)
    if marker is None or marker.partition(": ")[0] != made_version():
        return False
    read = _marker_request(marker)
    if read is None:
        return False
    read = comparable(read)
    return all(read[name] == value for name, value in asked.items() if name not in ("seed", "n", "piece"))

