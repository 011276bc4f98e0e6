"""`tsm`'s usage errors in one line, naming what a mistyped or misplaced word likely meant: a command (`tsm genrate`:
'did you mean generate?'), a flag (--secnds: 'did you mean --seconds?'), or generate's --key or --prompt; and two
names of one flag given two values (`evaluate --real A --corpus B`)."""
from __future__ import annotations

import argparse
import difflib
import itertools
import sys

from .performance import MIDI_SUFFIXES

MEANT_COMMANDS = {"report": ("evaluate",), "eval": ("evaluate",), "compare": ("evaluate",),
                  "sample": ("generate",), "gen": ("generate",), "train": ("train-ae", "train-gan")}
"""A word a new user types for one of tsm's commands → the command(s) it means: `tsm report` wants `tsm evaluate`
(which writes REPORT_DIR/report.html), not prepare, the closest by spelling."""


def _meant_commands(value: str, choices) -> list[str]:
    """The commands among `choices` that `value` means (MEANT_COMMANDS, the case ignored), else the closest by spelling
    (difflib); [] where none is."""
    meant = [command for command in MEANT_COMMANDS.get(value.lower(), ()) if command in choices]
    return meant or difflib.get_close_matches(value, [str(c) for c in choices], n=1)


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors (a flag unknown, a value of the wrong kind, an argument missing) are one
    line of the shape every other error of tsm's has, 'error: WHAT: WHY' (_main), then where to read the command's
    flags: not the whole usage block above 'tsm CMD: error: argument --flag: …', a second style beside ours. Exit
    status 2, as argparse's (and as tsm's own refusals)."""

    def error(self, message: str):
        self.exit(2, f"error: {message.removeprefix('argument ')} (see {self.prog} --help)\n")

    def _check_value(self, action: argparse.Action, value) -> None:
        """argparse's check of a value against its choices (a subcommand, --split), naming the closest where one is
        close (difflib): `tsm genrate` → 'invalid choice: 'genrate' (choose from …); did you mean generate?', or the
        command a word means (_meant_commands): `tsm report` → '…; did you mean evaluate?'."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as e:
            meant = _meant_commands(value, action.choices) if isinstance(value, str) else []
            if not meant:
                raise
            raise argparse.ArgumentError(action, f"{e.message}; did you mean {' or '.join(meant)}?") from None


class OneFlagOfSeveralNames(argparse.Action):
    """A flag of several names (evaluate's --real and --corpus, plot's -o, --out and --output), stored as argparse
    stores one, except that two of its names given different values are refused in one line naming both: argparse
    kept the last, so `evaluate --real A --corpus B` compared with B, silently. The same value under each name, or
    one name given (once or again), reads as before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.given: tuple[argparse.Namespace, dict[str, object]] | None = None  # (the parse's namespace, name → value)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if self.given is None or self.given[0] is not namespace:  # (the first of its names in this parse)
            self.given = (namespace, {})
        given = self.given[1]  # each name given earlier in this parse, with its last value (--real A --corpus A
        for name, value in given.items():  # --corpus B: --real's A is held to B too, not only the name just before)
            if name != option_string and value != values:
                raise argparse.ArgumentError(None, f"{name} {value} and {option_string} {values} both given: two names "
                                             "of one flag; give one")
        given[option_string] = values
        setattr(namespace, self.dest, values)


def near_flags(command: argparse.ArgumentParser, unknown: list[str]) -> str:
    """'; did you mean --seconds?' for an unknown long option close to one of `command`'s own (difflib's closest, as
    for a subcommand: OneLineParser), each named where several are; '' where none is close."""
    own = [flag[2:] for action in command._actions for flag in action.option_strings if flag.startswith("--")]
    near = [(word, close[0]) for word in (word.partition("=")[0] for word in unknown if word.startswith("--"))
            if (close := difflib.get_close_matches(word[2:], own, n=1))]  # (the dashes of each made no name closer)
    if len(near) == 1:
        return f"; did you mean --{near[0][1]}?"
    return "; did you mean " + ", ".join(f"--{flag} for {word}" for word, flag in near) + "?" if near else ""


def unknown_hint(args: argparse.Namespace, unknown: list[str], argv: list[str] | None) -> str:
    """What a pianist's unrecognized words to `generate` likely meant: a key's mode left out of quotes (--key E
    minor), or a performance given without its flag (tsm generate mine.mid); to `evaluate`, several files (a shell's
    glob, mine/*.mid) or folders where it reads one folder; '' otherwise."""
    if getattr(args, "command", None) == "evaluate":
        return _evaluate_hint(args, unknown)
    if getattr(args, "command", None) != "generate":
        return ""
    from .keys import LATER_WORDS

    given = list(sys.argv[1:] if argv is None else argv)
    at = max((i for i, word in enumerate(given) if word == "--key" or word.startswith("--key=")), default=None)
    after = given[at + 1 + (given[at] == "--key"):] if at is not None else []  # the words after the key's value …
    words = list(itertools.takewhile(lambda word: not word.startswith("-"), after))  # … before another flag
    if getattr(args, "key", None) and any(word.lower() in LATER_WORDS for word in words):
        return f"; a key of several words goes in quotes: --key '{args.key} {' '.join(words)}'"
    performance = next((word for word in unknown if word.lower().endswith(MIDI_SUFFIXES)), None)
    if performance is not None:
        return f"; to continue {performance}, give --prompt {performance} (to walk its shape: --like {performance})"
    return ""


def _evaluate_hint(args: argparse.Namespace, unknown: list[str]) -> str:
    """`tsm evaluate mine/*.mid` (the shell's glob: the first file as GENERATED_DIR, the rest unknown) or `tsm evaluate
    mine/ theirs/`: what it reads instead, one folder, and how two folders are set side by side."""
    import os

    given = [word for word in [getattr(args, "generated", ""), *unknown] if not word.startswith("-")]
    if any(word.lower().endswith(MIDI_SUFFIXES) for word in given):
        return "; tsm evaluate reads a folder, every .mid/.midi directly in it: give the folder that holds them"
    if sum(os.path.isdir(word) for word in given) > 1:
        return ("; tsm evaluate reads one folder: evaluate each with its own -o and the same other flags, "
                "whose floor and ceiling rows are then the same")
    return ""
