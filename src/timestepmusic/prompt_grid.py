"""A prompt's grid (midi.FileGrid: tempos, time and key signatures) as the continuation after its cut goes on under
it: cut at the prompt's end, or timed from there with a pickup bar."""
from __future__ import annotations

import math

import numpy as np

from .midi import WRITE_QUARTERS_PER_SECOND, FileGrid
from .midi_write import tempo_ticks


def grid_until(grid: FileGrid, end_s: float) -> FileGrid:
    """`grid` with only the changes before `end_s` (generate --prompt: the prompt's grid, going on after its cut as
    it stood then)."""
    return FileGrid(*(tuple(entry for entry in entries if entry[0] < end_s)
                      for entries in (grid.tempos, grid.meters, grid.keys)))


QUARTER_MICROS = 1_000_000  # grid_from: quarters counted under a tempo map in millionths (tempo_ticks' whole ticks)


def grid_from(grid: FileGrid, from_s: float) -> FileGrid:
    """`grid` going on from `from_s`, timed from there (generate --prompt --continuation-only): the tempo, time and
    key signature in effect then, from 0 s, its bars and beats where the prompt's would fall. Where `from_s` lies
    inside a bar, a pickup bar of the beats left (of the meter's unit: a quarter in 3/4, an eighth in 6/8; a whole bar
    where less than half a unit is left), its first beat stretched or shortened (at most by half) to end where the
    prompt's beat would. Without a time signature, bars of 4/4 as a sequencer counts them (written only where a
    pickup bar needs one)."""
    def in_effect(entries: tuple, fallback: tuple) -> tuple:  # (one at the cut is after it, as grid_until says)
        before = [entry for entry in entries if entry[0] < from_s - 1e-9]
        return before[-1] if before else fallback

    tempos = grid.tempos or ((0.0, 60.0 * WRITE_QUARTERS_PER_SECOND),)
    _, bpm = in_effect(tempos, tempos[0])
    meter_s, numerator, denominator = in_effect(grid.meters, (0.0, 4, 4))
    key = in_effect(grid.keys, None)
    keys = () if key is None else ((0.0, key[1], key[2]),)
    unit_q = 4.0 / denominator  # the meter's unit (a quarter: 1; an eighth: 0.5) in quarters
    micro, _ = tempo_ticks(np.array([meter_s, from_s]), tempos, QUARTER_MICROS)  # [2]: the meter's start and the cut
    into_units = (micro[1] - micro[0]) / QUARTER_MICROS / unit_q % numerator  # how far into its bar, in units
    left_units = numerator - into_units  # (0, numerator]
    written = bool(grid.meters)
    if min(into_units, left_units) < 1e-3:  # on a bar line
        return FileGrid(((0.0, bpm),), ((0.0, numerator, denominator),) if written else (), keys)
    whole, first_units = pickup(left_units, numerator)
    unit_s = unit_q * 60.0 / bpm
    pickup_s = (first_units + whole - 1) * unit_s
    tempos_from = [(0.0, bpm)]
    if abs(first_units - 1.0) > 1e-3:  # one unit of ticks lasting first_units units' time
        tempos_from = [(0.0, bpm / first_units), (first_units * unit_s, bpm)]
    meters = ((0.0, whole, denominator),) + (((pickup_s, numerator, denominator),) if whole != numerator else ())
    meters = meters if written or whole != numerator else ()
    return FileGrid(tuple(tempos_from), meters, keys)


def pickup(left_units: float, numerator: int) -> tuple[int, float]:
    """A pickup bar for `left_units` (0 < left ≤ numerator) of a bar's units before its next bar line: how many units
    it is written with, and how many units' time its first one lasts ([0.5, 1.5): at most half a unit off). Less than
    half a unit left: a whole bar, its first unit lasting the sliver longer."""
    if left_units < 0.5:
        return numerator, left_units + 1.0
    whole = math.floor(left_units + 0.5)  # (half up: Python's round() takes 0.5 to 0, a bar of no units)
    return whole, left_units - (whole - 1)
