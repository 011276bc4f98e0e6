"""argparse types the commands share: a bad value is the flag's one-line usage error, not a traceback."""
from __future__ import annotations

import argparse

SEED_LIMIT = 2 ** 40  # the largest --seed: the sampler derives streams from it (seed × 1,000,003 + 17 fits 64 bits)
PIECES_LIMIT = 1_000_000  # the largest -n of one generate run: weeks of drawing on a CPU, half a GB of file names


def seed_arg(text: str) -> int:
    """--seed: a whole number from 0 to SEED_LIMIT."""
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if not 0 <= seed <= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from 0 to {SEED_LIMIT:,}".replace(",", ""))
    return seed


def pieces_arg(text: str) -> int:
    """generate -n: a whole number of pieces from 1 to PIECES_LIMIT (refused before anything is made)."""
    try:
        pieces = int(text)
    except ValueError:
        pieces = 0
    if not 1 <= pieces <= PIECES_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of pieces from 1 to {PIECES_LIMIT:,} (more "
                                         "in parts: each part another --seed)")
    return pieces


def threads_arg(text: str) -> int:
    """--threads: a whole number, 1 or more."""
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of threads, 1 or more")
    return threads


def count_arg(text: str) -> int:
    """--steps, --epochs, --batch, --latent, --checkpoint-steps, --max-chunks, --max-events, --max-tracks, --workers: a
    whole number, 1 or more (said as the flag, before any corpus is read, not as the setting it sets)."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, 1 or more")
    return count


def rate_arg(text: str) -> float:
    """--lr: a finite number above 0."""
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not 0 < rate < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a learning rate above 0, e.g. 1e-4")
    return rate


def pedal_bins_arg(text: str) -> int:
    """plot and prepare --pedal-bins: a whole number from 0 (every CC value) to 127, as events.pedal_bins (a negative one drew
    every pedal as up)."""
    try:
        bins = int(text)
    except ValueError:
        bins = -1
    if not 0 <= bins <= 127:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of pedal depth bins from 1 to 127, or 0 to keep "
                                         "every CC value")
    return bins


def step_seconds_arg(text: str) -> float:
    """prepare --chunk-seconds: a finite number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a time step in seconds above 0, e.g. 0.25")
    return seconds
