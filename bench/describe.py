"""Benchmark: describing every 16 s excerpt of the ASAP test split with the vectorised
`timestepmusic.evaluate.descriptors`, beside a straightforward per-excerpt, per-note Python loop.

  cut       excerpts_from_corpus(corpus, "test"): every test track cut into 16 s windows
  describe  describe(table): every descriptor and the pitch-class histogram, every excerpt
  baseline  the first fifteen descriptors computed excerpt by excerpt and note by note in plain Python
            (below), on every n-th excerpt, extrapolated per excerpt to the whole split; its figures are
            checked against `describe` on those excerpts (the descriptors added since are not in it: the
            baseline does less work than `describe`, which the report says)

The corpus is prepared from ../shared/data/asap into a temporary folder first (or opened from
$TSM_BENCH_CORPUS); one warm-up run, then the median of --repeats timed runs.

    python bench/describe.py                                    # print the table
    python bench/describe.py --markdown bench/results/describe.md   # and write it there
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import DEFAULT_DATA, table, write_markdown  # noqa: E402

CORPUS_ENV = "TSM_BENCH_CORPUS"


def naive_describe(excerpts: list[list[tuple]], lengths: list[float]) -> dict[str, list[float]]:
    """The descriptors of `timestepmusic.evaluate.descriptors`, one excerpt and one note at a time.
    Each excerpt is a list of (id, start_s, duration_s, intensity) tuples."""
    from timestepmusic.evaluate.descriptors import HALF_PEDAL_MAX, MIN_DURATION_S, ONSET_MERGE_S
    from timestepmusic.evaluate.excerpts import GRID_STEP_S

    step, eps, nan = GRID_STEP_S, 1e-9, float("nan")

    def grid_points(start, end, points):
        first = min(max(math.ceil(start / step - eps), 0), points)
        stop = min(max(math.ceil(end / step - eps), 0), points)
        return range(first, max(stop, first))

    def mean_std(values, min_count=1):
        if len(values) < min_count:
            return nan, nan
        mean = sum(values) / len(values)
        var = sum(v * v for v in values) / len(values) - mean * mean
        return mean, (math.sqrt(max(var, 0.0)) if len(values) >= 2 else nan)

    out: dict[str, list[float]] = {}

    def put(name, value):
        out.setdefault(name, []).append(value)

    for events, length in zip(excerpts, lengths):
        points = math.ceil(length / step - eps)
        held = [0] * points
        down, full, soft, sost = [False] * points, [False] * points, [False] * points, [False] * points
        notes, pedal_events = [], 0
        for i, start, duration, level in events:
            end = start + max(duration, 0.0)
            if i < 88:
                notes.append((start, i + 21, duration, level))
                for g in grid_points(start, end, points):
                    held[g] += 1
            else:
                pedal_events += 1
                lanes = {88: [down] + ([full] if level > HALF_PEDAL_MAX else []), 89: [sost], 90: [soft]}[i]
                for lane in lanes:
                    for g in grid_points(start, end, points):
                        lane[g] = True
        put("note_density", len(notes) / length)
        put("polyphony_mean", sum(held) / points)
        put("polyphony_max", float(max(held, default=0)))
        pitches = [p for _, p, _, _ in notes]
        put("pitch_range", float(max(pitches) - min(pitches)) if notes else nan)
        counts = [0] * 12
        for p in pitches:
            counts[p % 12] += 1
        put("pitch_class_entropy", -sum(c / len(notes) * math.log2(c / len(notes)) for c in counts if c) if notes else nan)
        velocity = mean_std([float(v) for _, _, _, v in notes])
        put("velocity_mean", velocity[0])
        put("velocity_std", velocity[1])
        onsets, previous = [], None
        for start, _, _, _ in notes:  # notes come sorted by start
            if previous is None or start - previous > ONSET_MERGE_S:
                onsets.append(start)
            previous = start
        ioi = mean_std([b - a for a, b in zip(onsets, onsets[1:])])
        put("ioi_mean", ioi[0])
        put("ioi_std", ioi[1])
        put("duration_log_mean", mean_std([math.log(max(d, MIN_DURATION_S)) for _, _, d, _ in notes])[0])
        down_points = sum(down)
        put("damper_fraction", down_points / points)
        put("half_pedal_share", sum(d and not f for d, f in zip(down, full)) / down_points if down_points else nan)
        put("pedal_changes_per_s", pedal_events / length)
        put("sostenuto_fraction", sum(sost) / points)
        put("soft_fraction", sum(soft) / points)
    return out


def open_env_corpus(data: Path, folder: Path):
    """$TSM_BENCH_CORPUS, else `data` prepared into `folder`; and a line saying which (unlike common.open_corpus)."""
    from timestepmusic.corpus import Corpus
    from timestepmusic.prepare_corpus import prepare

    if os.environ.get(CORPUS_ENV):
        return Corpus.open(os.environ[CORPUS_ENV]), f"${CORPUS_ENV}={os.environ[CORPUS_ENV]}"
    started = time.perf_counter()
    corpus = prepare([data], folder, progress=False).corpus
    return corpus, f"prepared from {data} in {time.perf_counter() - started:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ASAP folder (default ../shared/data/asap)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of cut and describe (default 5)")
    parser.add_argument("--every", type=int, default=10, help="baseline on every n-th excerpt (default 10)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the report to this file")
    args = parser.parse_args()
    if not (args.data / "metadata.csv").is_file() and not os.environ.get(CORPUS_ENV):
        print(f"skipped: {args.data} not found (set ${CORPUS_ENV} to a prepared corpus instead)")
        return

    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS, describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus

    with tempfile.TemporaryDirectory() as tmp:
        corpus, source = open_env_corpus(args.data, Path(tmp) / "asap")
        describe(excerpts_from_corpus(corpus, "test", max_excerpts=50))  # warm-up
        cut_s, describe_s = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            excerpts = excerpts_from_corpus(corpus, "test")
            cut_done = time.perf_counter()
            described = describe(excerpts)
            cut_s.append(cut_done - started)
            describe_s.append(time.perf_counter() - cut_done)

        subset = np.arange(0, excerpts.num_excerpts, args.every)
        ptr = excerpts.event_ptr
        rows = [list(zip(excerpts.ids[ptr[x]:ptr[x + 1]].tolist(), excerpts.start_s[ptr[x]:ptr[x + 1]].tolist(),
                         excerpts.duration_s[ptr[x]:ptr[x + 1]].tolist(), excerpts.intensity[ptr[x]:ptr[x + 1]].tolist()))
                for x in subset]
        started = time.perf_counter()
        naive = naive_describe(rows, excerpts.length_s[subset].tolist())
        naive_s = time.perf_counter() - started
    both = [name for name in SCALAR_DESCRIPTORS if name in naive]  # (the baseline's fifteen)
    agree = [name for name in both
             if np.allclose(naive[name], described[name][subset], rtol=1e-9, atol=1e-9, equal_nan=True)]

    x_count, events = excerpts.num_excerpts, int(excerpts.ids.size)
    cut, desc = statistics.median(cut_s), statistics.median(describe_s)
    per_excerpt = naive_s / subset.size
    baseline = per_excerpt * x_count
    header = ["step", "seconds", "excerpts/s", "speed-up vs baseline"]
    body = [["cut: excerpts_from_corpus", f"{cut:.4f}", f"{x_count / cut:,.0f}", ""],
            ["describe (vectorised)", f"{desc:.4f}", f"{x_count / desc:,.0f}", f"×{baseline / desc:,.0f}"],
            ["cut + describe", f"{cut + desc:.4f}", f"{x_count / (cut + desc):,.0f}", f"×{baseline / (cut + desc):,.0f}"],
            [f"baseline: Python loops (EXTRAPOLATED from {subset.size} excerpts)", f"{baseline:.2f}",
             f"{1 / per_excerpt:,.0f}", "×1"]]
    lines = [f"describe every 16 s excerpt of the ASAP test split: {x_count:,} excerpts, {events:,} events, "
             f"{len(corpus.tracks_in('test'))} tracks; median of {args.repeats} runs after one warm-up", "",
             *table(header, body), "",
             f"cut runs (s): {', '.join(f'{s:.4f}' for s in cut_s)}; describe runs (s): "
             f"{', '.join(f'{s:.4f}' for s in describe_s)}",
             f"baseline measured on every {args.every}th excerpt: {subset.size} excerpts in {naive_s:.2f} s "
             f"= {per_excerpt * 1e3:.2f} ms per excerpt, × {x_count:,} = {baseline:.1f} s (extrapolated, not measured)",
             f"baseline and describe agree (within 1e-9) on {len(agree)}/{len(both)} descriptors"
             + ("" if len(agree) == len(both) else f"; differ: {', '.join(n for n in both if n not in agree)}"),
             f"the baseline computes {len(both)} of the {len(SCALAR_DESCRIPTORS)} descriptors describe computes "
             f"(not: {', '.join(n for n in SCALAR_DESCRIPTORS if n not in both)}): its speed-up is understated",
             f"corpus: {source}"]
    print("\n".join(lines))
    write_markdown(args.markdown, "# `describe` benchmark", lines)


if __name__ == "__main__":
    main()
