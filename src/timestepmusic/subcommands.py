"""What `tsm`'s subcommands share: -v after the command, --threads for those that run torch, and the line naming
the notes a file read to play from leaves out."""
from __future__ import annotations

import argparse
import logging

from .argtypes import threads_arg

log = logging.getLogger("timestepmusic")
THREADED = ("train-ae", "train-gan", "generate", "reconstruct", "evaluate-ae", "evaluate", "plot")  # use torch


def subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every (nested) subcommand parser under `parser`."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *subparsers(child)]
    return found


def add_shared_flags(parser: argparse.ArgumentParser) -> None:
    """-v after each subcommand of `parser` too (SUPPRESS keeps one given before it), and --threads for those in
    THREADED."""
    for command in subparsers(parser):
        if not any("-v" in a.option_strings for a in command._actions):
            command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                 help="log details")
        if command.prog.split()[-1] in THREADED:
            arithmetic = "its arithmetic" if command.prog.split()[-1] == "plot" else "the model's arithmetic"
            command.add_argument("--threads", type=threads_arg, metavar="N",
                                 help=f"CPU threads for {arithmetic} (default 1, or OMP_NUM_THREADS where "
                                 "set: more help only on a machine with cores to spare; beside other jobs they "
                                 "wait on each other and run many times slower)")


def said_left_out(what: str, drops) -> None:
    """One line naming the notes a file read to play from holds that are not played (midi.DropCounts'
    notes_left_out: on the drum channel, beyond the piano's keys), where it holds any."""
    left_out = drops.notes_left_out()
    if left_out:
        log.warning("%s: notes left out: %s", what, left_out)
