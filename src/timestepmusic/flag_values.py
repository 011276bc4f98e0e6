"""Values that start with '-', joined to their flag before argparse reads `tsm`'s words: argparse takes such a word
for a flag ('--seconds: expected one argument'), where it is a negative time (`--seconds -1:30`) or a file named
'-…' (`--prompt -take.mid`). Joined (`--seconds=-1:30`), the flag's own check reads it and names what is wrong."""
from __future__ import annotations

import argparse
from pathlib import Path

from .argtypes import file_arg
from .performance import MIDI_SUFFIXES
from .waypoints import clock_arg, clock_seconds


def values_joined(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """`argv` with each flag that reads a time (type clock_arg: generate --seconds, plot --from, …) or a file (type
    file_arg: generate --prompt, --like, --config, --soundfont, …) joined to a word after it that argparse would
    take for a flag but that is its value: `--seconds -1:30` → `--seconds=-1:30`, `--prompt -take.mid` →
    `--prompt=-take.mid`. A flag is found as argparse finds it in the subcommand it is given to, a unique prefix
    included where that subcommand allows them (`plot --fro -0:10`). Words after '--' are left as they are."""
    joined, command, at = [], parser, 0
    while at < len(argv) and argv[at] != "--":
        command = _subcommand(command, argv[at]) or command
        flag = _flag_named(command, argv[at])
        value = argv[at + 1] if at + 1 < len(argv) else ""
        if flag is not None and _is_its_value(command, flag, value):
            joined.append(f"{argv[at]}={value}")
            at += 2
        else:
            joined.append(argv[at])
            at += 1
    return joined + argv[at:]


def _subcommand(command: argparse.ArgumentParser, word: str) -> argparse.ArgumentParser | None:
    """The subcommand of `command` that `word` names (generate, data, check), else None."""
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction) and word in action.choices:
            return action.choices[word]
    return None


def _flag_named(command: argparse.ArgumentParser, word: str) -> argparse.Action | None:
    """The flag of `command` that `word` is, as argparse reads it: the flag as spelt, or, where `command` allows
    abbreviations, a long flag's prefix that begins one flag alone (--fro for --from); else None (a value, a
    flag with its value after '=', a prefix of several or of none)."""
    if word in command._option_string_actions:
        return command._option_string_actions[word]
    if not command.allow_abbrev or not word.startswith("--") or "=" in word:
        return None
    begun = {action for flag, action in command._option_string_actions.items() if flag.startswith(word)}
    return begun.pop() if len(begun) == 1 else None


def _is_its_value(command: argparse.ArgumentParser, flag: argparse.Action, word: str) -> bool:
    """Whether `word`, after `flag`, is its value although it starts with '-': a time for a flag that reads one, an
    existing file or a MIDI file's name for a flag that reads a file; never a flag of `command` itself."""
    if not word.startswith("-") or _flag_named(command, word) is not None:
        return False
    if flag.type is clock_arg:
        return _is_time(word)
    return flag.type is file_arg and (Path(word).is_file() or word.lower().endswith(MIDI_SUFFIXES))


def _is_time(text: str) -> bool:
    """Whether `text` reads as a time (waypoints.clock_seconds)."""
    try:
        clock_seconds(text)
    except ValueError:
        return False
    return True
