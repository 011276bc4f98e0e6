"""argparse types the commands share: a bad value is the flag's one-line usage error, not a traceback; and the kinds of
number generate() takes where the command takes these flags (`whole`, `real`)."""
from __future__ import annotations

import argparse
import numbers

SEED_LIMIT = 2 ** 40  # the largest --seed: the sampler derives streams from it (seed × 1,000,003 + 17 fits 64 bits)
PIECES_LIMIT = 1_000_000  # the largest -n of one generate run: weeks of drawing on a CPU, half a GB of file names


def _checked(text: str, kind: type, fits, said: str):
    """`text` read as `kind` (int or float) where `fits(value)`; else the flag's usage error '`text`: `said`'."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not fits(value):
        raise argparse.ArgumentTypeError(f"{text!r}: {said}")
    return value


def seed_arg(text: str) -> int:
    """--seed: a whole number from 0 to SEED_LIMIT."""
    return _checked(text, int, lambda seed: 0 <= seed <= SEED_LIMIT, f"give a whole number from 0 to {SEED_LIMIT}")


def pieces_arg(text: str) -> int:
    """generate -n: a whole number of pieces from 1 to PIECES_LIMIT (refused before anything is made)."""
    return _checked(text, int, lambda pieces: 1 <= pieces <= PIECES_LIMIT,
                    f"give a whole number of pieces from 1 to {PIECES_LIMIT:,} (more in parts: each part another --seed)")


def threads_arg(text: str) -> int:
    """--threads: a whole number, 1 or more."""
    return _checked(text, int, lambda threads: threads >= 1, "give a whole number of threads, 1 or more")


def count_arg(text: str) -> int:
    """--steps, --epochs, --batch, --latent, --checkpoint-steps, --max-chunks, --max-events, --max-tracks, --workers: a
    whole number, 1 or more (said as the flag, before any corpus is read, not as the setting it sets)."""
    return _checked(text, int, lambda count: count >= 1, "give a whole number, 1 or more")


def rate_arg(text: str) -> float:
    """--lr: a finite number above 0."""
    return _checked(text, float, lambda rate: 0 < rate < float("inf"), "give a learning rate above 0, e.g. 1e-4")


def pedal_bins_arg(text: str) -> int:
    """plot and prepare --pedal-bins: a whole number from 0 (every CC value) to 127, as events.pedal_bins (a negative one
    drew every pedal as up)."""
    return _checked(text, int, lambda bins: 0 <= bins <= 127,
                    "give a whole number of pedal depth bins from 1 to 127, or 0 to keep every CC value")


def step_seconds_arg(text: str) -> float:
    """prepare --chunk-seconds: a finite number of seconds above 0."""
    return _checked(text, float, lambda seconds: 0 < seconds < float("inf"),
                    "give a time step in seconds above 0, e.g. 0.25")


def file_arg(text: str) -> str:
    """A flag that reads a file (generate --prompt, --like; --config, --soundfont, evaluate --run): the path as given,
    checked where it is read. The type marks the flag so that a file named '-…' after it is read as its value
    (flag_values: `--prompt -take.mid`), as clock_arg marks a flag that reads a time. An empty name (`--prompt "$F"`
    with F unset) is refused: the commands read it as the flag left out, and would run without the file."""
    if not text:
        raise argparse.ArgumentTypeError(f"{text!r}: give a file's name (an empty one names none)")
    return text


def whole(number) -> bool:
    """Whether `number` is a whole number (an int or numpy integer; not a bool, a float or a string)."""
    return isinstance(number, numbers.Integral) and not isinstance(number, bool)


def real(number) -> bool:
    """Whether `number` is a number (an int, float or numpy number; not a bool, a complex or a string)."""
    return isinstance(number, numbers.Real) and not isinstance(number, bool)
