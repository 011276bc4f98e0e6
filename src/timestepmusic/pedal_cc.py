"""One pedal's controller (CC) messages → pedal events, for midi.score_to_events: values binned into depths, a run of
one depth one event at its time-weighted mean value."""
from __future__ import annotations

import numpy as np

Runs = tuple[np.ndarray, np.ndarray, np.ndarray]  # (start, end, intensity) of a pedal's runs, [R] each


def pedal_bin(values: np.ndarray, pedal_bins: int) -> np.ndarray:
    """CC value 0–127 → depth bin; 0 = up. pedal_bins = 0 keeps every value as its own bin."""
    values = values.astype(np.int64)
    if pedal_bins == 0:
        return values
    return np.where(values == 0, 0, 1 + (values - 1) * pedal_bins // 127)


def pedal_events(times: np.ndarray, values: np.ndarray, end: float, pedal_bins: int) -> Runs:
    """One pedal's CC messages (sorted by time) → (start, end, intensity) per run of one nonzero bin.

    times may be ticks or seconds; `end` (same unit) ends a pedal still down at the end of the file.
    """
    if times.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.uint8)
    bins = pedal_bin(values, pedal_bins)
    run_first = np.flatnonzero(np.diff(bins, prepend=0) != 0)  # index of the first message of each run
    run_end_index = np.append(run_first[1:], times.size)
    run_start = times[run_first].astype(np.float64)
    run_stop = np.append(times[run_first[1:]], end).astype(np.float64)
    hold = np.diff(times.astype(np.float64), append=float(end))  # how long each message's value holds
    weighted = np.concatenate([[0.0], np.cumsum(values * hold)])
    held = np.concatenate([[0.0], np.cumsum(hold)])
    counts = np.concatenate([[0], np.cumsum(np.ones_like(hold))])
    plain = np.concatenate([[0.0], np.cumsum(values.astype(np.float64))])
    span = held[run_end_index] - held[run_first]
    mean_weighted = (weighted[run_end_index] - weighted[run_first]) / np.where(span > 0, span, 1)
    mean_plain = (plain[run_end_index] - plain[run_first]) / (counts[run_end_index] - counts[run_first])
    mean = np.where(span > 0, mean_weighted, mean_plain)
    down = (bins[run_first] != 0) & (run_stop > run_start)  # a value replaced at the same tick never sounds
    intensity = np.clip(np.rint(mean[down]), 1, 127).astype(np.uint8)
    return run_start[down], run_stop[down], intensity


def pressed_at_end(times: np.ndarray, values: np.ndarray, end: float, pedal_bins: int) -> Runs:
    """One pedal's last run where it begins at `end` (pressed, or its depth changed, as the file's last message: a run
    of no length, which pedal_events leaves out, as a value replaced at the same tick) → (start, end, intensity) of
    it, an event of no length at `end` (midi.read_prompt: down where the continuation starts); empty where its last
    run is up or begins before `end`."""
    bins = pedal_bin(values, pedal_bins) if times.size else np.zeros(0, np.int64)
    first = np.flatnonzero(np.diff(bins, prepend=0) != 0)[-1:]  # [≤1]: the first message of the last run
    if not (first.size and bins[-1] and times[first[0]] >= end):
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.uint8)
    level = np.clip(np.rint(values[-1:]), 1, 127).astype(np.uint8)  # (its last value: the one that sounds)
    return np.array([float(end)]), np.array([float(end)]), level
