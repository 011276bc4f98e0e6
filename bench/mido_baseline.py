"""Baseline for bench/prepare.py: the straightforward way to turn MIDI files into chunked events.

One mido.MidiFile per file, a Python loop over its messages that accumulates ticks and turns them
into seconds through the tempo map (from whole ticks, so no float drift moves an event across a
chunk boundary), note on/off paired per key (a key struck again before its release ends the earlier
note there, as in timestepmusic.midi), CC64/66/67 collected per pedal and folded into one event
per run of one depth bin (intensity = time-weighted mean value), then chunked with numpy. One
process, no cache: what a first script would do. It builds the same (id, start, duration,
intensity) events as timestepmusic, so the two can be compared file by file.

    python bench/mido_baseline.py ../shared/data/asap --every 10
"""
from __future__ import annotations

import argparse
import bisect
import json
import time
from pathlib import Path

import mido
import numpy as np

LOWEST_PITCH, HIGHEST_PITCH = 21, 108
PEDAL_IDS = {64: 88, 66: 89, 67: 90}  # damper, sostenuto, soft
DRUM_CHANNEL = 9


def depth_bin(value: int, pedal_bins: int) -> int:
    if value == 0 or pedal_bins == 0:
        return value
    return 1 + (value - 1) * pedal_bins // 127


def fold_pedal(changes: list[tuple[int, int]], end: int, pedal_bins: int) -> list[tuple[int, int, int]]:
    """(tick, value) changes of one pedal → (start, stop, intensity) per run of one nonzero bin."""
    runs = []
    run_bin, run_start, weighted, held, plain, count = 0, 0, 0, 0, 0, 0
    for i, (t, value) in enumerate(changes):
        b = depth_bin(value, pedal_bins)
        if b != run_bin:
            if run_bin != 0 and t > run_start:  # a value replaced at the same tick never sounds
                mean = weighted / held if held > 0 else plain / count
                runs.append((run_start, t, min(max(round(mean), 1), 127)))
            run_bin, run_start, weighted, held, plain, count = b, t, 0, 0, 0, 0
        hold = (changes[i + 1][0] if i + 1 < len(changes) else end) - t
        weighted += value * hold
        held += hold
        plain += value
        count += 1
    if run_bin != 0 and end > run_start:
        mean = weighted / held if held > 0 else plain / count
        runs.append((run_start, end, min(max(round(mean), 1), 127)))
    return runs


def read_events(path: str | Path, pedal_bins: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """One MIDI file → ids, start_s, duration_s, intensity (sorted by start, id) and its length in seconds."""
    mid = mido.MidiFile(path)
    seconds_per_tick = 500_000 / 1e6 / mid.ticks_per_beat
    tick, tempo_tick, tempo_s = 0, 0, 0.0  # seconds from whole ticks since the last tempo change: no drift
    tempo_changes = [(0, 0.0, seconds_per_tick)]  # (tick, seconds, seconds per tick)
    end_tick = 0
    sounding: dict[int, tuple[float, int]] = {}  # pitch → (start, velocity)
    notes: list[tuple[int, float, float, int]] = []
    pedals: dict[int, list[tuple[int, int]]] = {n: [] for n in PEDAL_IDS}  # (tick, value)
    for msg in mido.merge_tracks(mid.tracks):
        tick += msg.time
        now = tempo_s + (tick - tempo_tick) * seconds_per_tick
        if msg.type == "set_tempo":
            tempo_tick, tempo_s = tick, now
            seconds_per_tick = msg.tempo / 1e6 / mid.ticks_per_beat
            tempo_changes.append((tick, now, seconds_per_tick))
        elif msg.type in ("note_on", "note_off"):
            end_tick = tick
            if msg.channel == DRUM_CHANNEL or not LOWEST_PITCH <= msg.note <= HIGHEST_PITCH:
                continue
            if msg.note in sounding:  # a release, or a restrike that ends the earlier note
                start, velocity = sounding.pop(msg.note)
                notes.append((msg.note - LOWEST_PITCH, start, now - start, velocity))
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[msg.note] = (now, msg.velocity)
        elif msg.type == "control_change":
            end_tick = tick
            if msg.control in pedals:
                pedals[msg.control].append((tick, msg.value))

    def to_seconds(at: int) -> float:
        change_tick, change_s, per_tick = tempo_changes[bisect.bisect_right(tempo_changes, (at, np.inf)) - 1]
        return change_s + (at - change_tick) * per_tick

    # Pedal runs are folded in ticks, as in timestepmusic.midi: a mean exactly halfway between two
    # values (common with integer ticks) then rounds the same way, free of float noise.
    rows = notes
    for number, changes in pedals.items():
        rows += [(PEDAL_IDS[number], to_seconds(start), to_seconds(stop) - to_seconds(start), level)
                 for start, stop, level in fold_pedal(changes, end_tick, pedal_bins)]
    end_s = to_seconds(end_tick)
    ids = np.array([r[0] for r in rows], dtype=np.int16)
    start_s = np.array([r[1] for r in rows], dtype=np.float64)
    duration_s = np.array([r[2] for r in rows], dtype=np.float64)
    intensity = np.array([r[3] for r in rows], dtype=np.uint8)
    order = np.lexsort((ids, start_s))
    return ids[order], start_s[order], duration_s[order], intensity[order], end_s


def chunk(start_s: np.ndarray, end_s: float, chunk_seconds: float,
          max_events: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Start-sorted events → (kept mask [E], chunk pointers [C+1] before the cap, events dropped)."""
    num = int(np.floor(max(end_s, start_s.max(initial=0.0)) / chunk_seconds)) + 1
    ptr = np.searchsorted(start_s, np.arange(num + 1) * chunk_seconds, side="left")
    ptr[-1] = start_s.size
    rank = np.arange(start_s.size) - np.repeat(ptr[:-1], np.diff(ptr))
    keep = rank < max_events
    return keep, ptr, int((~keep).sum())


def run(paths: list[Path], chunk_seconds: float = 0.25, max_events: int = 15, pedal_bins: int = 4) -> dict:
    """Read and chunk every file; per-file counts for comparison with a prepared corpus."""
    started = time.perf_counter()
    files = {}
    for path in paths:
        ids, start_s, duration_s, intensity, end_s = read_events(path, pedal_bins)
        keep, ptr, dropped = chunk(start_s, end_s, chunk_seconds, max_events)
        offset_s = start_s[keep] - np.repeat(np.arange(ptr.size - 1), np.diff(ptr))[keep] * chunk_seconds
        assert offset_s.size == int(keep.sum())
        files[str(path)] = {"notes": int((ids < 88).sum()),
                            "pedal_events": [int((ids == i).sum()) for i in (88, 89, 90)],
                            "chunks": int(ptr.size - 1), "overflow": dropped}
    return {"seconds": time.perf_counter() - started, "files": files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of MIDI files (searched recursively)")
    parser.add_argument("--every", type=int, default=1, help="use every n-th file, sorted by path (default 1: all)")
    args = parser.parse_args()
    paths = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in (".mid", ".midi"))[::args.every]
    result = run(paths)
    events = sum(f["notes"] + sum(f["pedal_events"]) for f in result["files"].values())
    print(json.dumps({"files": len(paths), "seconds": round(result["seconds"], 3), "events": events}))


if __name__ == "__main__":
    main()
