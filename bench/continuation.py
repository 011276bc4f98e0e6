"""How well `tsm generate --prompt` keeps going where a performance stopped: --prompts real passages of a split
(--prompt-seconds each, at random places in random tracks long enough), each continued for --seconds, and the
continuation set beside what the pianist actually played next, attribute by attribute (how far, then which way):
the notes' mean pitch (semitones), notes per second (|ln ratio|), mean velocity, damper-down and soft-down shares
(`tsm evaluate`'s descriptors), the pulse (`tsm evaluate`'s pulse clarity: how strongly the onsets repeat at a
period), pedal events per second (presses and changes of depth) and the key (1 − the correlation of the two
pitch-class histograms, centred). Lower is closer. A second table follows the register: the low and high ends of
the notes' pitches (their 10th and 90th percentiles, `REGISTER_PERCENTILES`), over the first --opening-seconds and
over the whole passage, each row's minus the real next passage's, in semitones (signed: below 0, lower than what was
played next), and the real next passage's own, as MIDI pitches; then the same over the half of the prompts that go
lowest (the prompt's last --seconds' low end at or below the median's: a bass line, a left hand low, whose
continuation may drift up toward the middle of the keyboard where a higher prompt's drifts down, the two cancelling
over all).

Two real rows frame it: "the prompt's last --seconds" (the repeat-the-prompt baseline: a continuation that plays
on exactly as the prompt did; how much real music itself changes from one passage to the next) and "another
track" (a real passage of a random track of the split from another piece, i.e. another folder: what a
continuation that ignored its prompt would score). Every passage is cut alike (`passage`): a pedal held into it
counts from its start. The prompt's row's opening is its last --opening-seconds (what was played just before the
continuation starts), the other rows' their first.

    python bench/continuation.py --corpus CORPUS --split validation --prompts 100 --markdown bench/results/continuation.md
    python bench/continuation.py --corpus CORPUS --set ar.prompt_told=true    # a variant, by its settings
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402

ATTRIBUTES = ("mean pitch", "density", "velocity", "damper", "soft", "pulse", "pedal changes", "key")
SCALARS = len(ATTRIBUTES) - 1  # compared by their absolute difference; the key by correlation
REGISTER_PERCENTILES = (10, 90)  # the register's low and high ends: a bass line's and a melody's, past a stray note
REGISTER = ("low", "high")


def passage(events, start_s: float, seconds: float):
    """What sounds in [start_s, start_s + seconds), timed from start_s: the notes struck there and the pedals down
    then or pressed there (a pedal held across start_s starts at 0, as `continuation_only` keeps a continuation's),
    all released at the end."""
    from timestepmusic.holds import release_by
    from timestepmusic.midi import continuation_only

    after = continuation_only(events, start_s)
    return release_by(after.take(np.flatnonzero(after.start_s < seconds)), seconds)


def attributes(passages: list, seconds: float) -> np.ndarray:
    """Passages (Events) → [n, SCALARS + 12]: mean pitch, ln density, mean velocity, damper share, soft share, pulse
    clarity, pedal events per second (presses and changes of depth, all three pedals: a pedal changed too often, as
    a flutter, shows here), and the centred pitch-class histogram's 12 values after them (the key is compared from
    those)."""
    from timestepmusic.evaluate.descriptors import HISTOGRAM, describe
    from timestepmusic.evaluate.excerpts import excerpts_from_events

    described = describe(excerpts_from_events(passages, seconds))
    pitch = np.array([p.ids[p.is_note].mean() if p.is_note.any() else np.nan for p in passages])
    histogram = np.nan_to_num(described[HISTOGRAM])
    centred = histogram - histogram.mean(axis=1, keepdims=True)
    return np.column_stack([pitch, np.log(np.maximum(described["note_density"], 1e-3)), described["velocity_mean"],
                            described["damper_fraction"], described["soft_fraction"], described["pulse_clarity"],
                            described["pedal_changes_per_s"], centred])


def register(passages: list, seconds: float) -> np.ndarray:
    """Passages (Events) → [n, 2]: the REGISTER_PERCENTILES of the pitches (MIDI) of the notes struck in their first
    `seconds`; NaN for a passage without notes there."""
    from timestepmusic.midi import LOWEST_PITCH

    ends = np.full((len(passages), len(REGISTER_PERCENTILES)), np.nan)
    for row, p in zip(ends, passages):
        pitches = p.ids[p.is_note & (p.start_s < seconds)] + LOWEST_PITCH
        if pitches.size:
            row[:] = np.percentile(pitches, REGISTER_PERCENTILES)
    return ends


def register_rows(shifts: list[tuple[str, np.ndarray]], truth_ends: np.ndarray, chosen: np.ndarray) -> list[list[str]]:
    """Each row's name and register ends minus what was played next [n, 4] (the opening's low and high, the whole
    passage's), what was played next's own [n, 4] and the prompts to average over [n] (bool) → the register table's
    rows: the mean signed difference, the mean unsigned, then what was played next's mean ends."""
    rows = [[name] + [f"{np.nanmean(shift[chosen, j]):+.2f}" for j in range(shift.shape[1])]
            + [f"{np.nanmean(np.abs(shift[chosen, j])):.2f}" for j in range(shift.shape[1])] for name, shift in shifts]
    return rows + [["what was played next (real), MIDI pitch"]
                   + [f"{np.nanmean(truth_ends[chosen, j]):.1f}" for j in range(truth_ends.shape[1])]
                   + [""] * truth_ends.shape[1]]


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Attributes [n, SCALARS + 12] of two sets of passages, row by row → [n, SCALARS + 1] distances (the key: 1 −
    correlation)."""
    close = np.abs(a[:, :SCALARS] - b[:, :SCALARS])  # [n, SCALARS]
    norms = np.linalg.norm(a[:, SCALARS:], axis=1) * np.linalg.norm(b[:, SCALARS:], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        key = 1 - (a[:, SCALARS:] * b[:, SCALARS:]).sum(axis=1) / norms
    return np.column_stack([close, key])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a prepared corpus (tsm prepare)")
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--model", default="default", help="a run, checkpoint or shipped model (default: default)")
    parser.add_argument("--prompts", type=int, default=100, help="real passages to continue (default 100)")
    parser.add_argument("--prompt-seconds", type=float, default=16.0, help="each prompt's length (default 16)")
    parser.add_argument("--seconds", type=float, default=16.0, help="each continuation's length (default 16)")
    parser.add_argument("--opening-seconds", type=float, default=8.0,
                        help="the register is measured over each passage's first this many seconds too (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="picks the passages and seeds the sampling (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="ar.NAME=VALUE",
                        help="sample with these ar settings, as `tsm generate --set` takes them (repeatable)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.prompt_seconds < args.seconds:
        raise SystemExit(f"--prompt-seconds {args.prompt_seconds:g} must be at least --seconds {args.seconds:g}: the "
                         "repeat-the-prompt row is the prompt's last --seconds")
    if not 0 < args.opening_seconds <= args.seconds:
        raise SystemExit(f"--opening-seconds {args.opening_seconds:g} must be above 0 and at most --seconds "
                         f"{args.seconds:g}")
    torch.set_num_threads(1)
    from timestepmusic.corpus import Corpus
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.prompts import prompt_span_s, prompt_until

    corpus = Corpus.open(args.corpus)
    model = GANModel.load(args.model)
    try:  # as `tsm generate --set` takes them: sampling settings only
        set_sampling(model, args.set)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    rng = np.random.default_rng(args.seed)
    tracks = corpus.tracks_in(args.split)
    long_enough = [t for t in tracks if corpus.tracks[t]["duration_s"] >= args.prompt_seconds + args.seconds + 1]
    picked = rng.choice(long_enough, size=args.prompts)
    real_next, persisting, elsewhere, continued = [], [], [], []
    just_before = []  # the prompt's last --opening-seconds: the repeat-the-prompt row's opening
    started = time.perf_counter()
    for i, track in enumerate(picked):
        events = corpus.track_events(int(track))
        begin = rng.uniform(0, corpus.tracks[track]["duration_s"] - args.prompt_seconds - args.seconds)
        prompt = prompt_until(passage(events, begin, args.prompt_seconds + 1), args.prompt_seconds,
                              corpus.chunk_seconds)
        span_s = prompt_span_s(model.ae, prompt)  # where the continuation starts, a whole number of chunks
        real_next.append(passage(events, begin + span_s, args.seconds))
        persisting.append(passage(events, begin + span_s - args.seconds, args.seconds))
        just_before.append(passage(events, begin + span_s - args.opening_seconds, args.opening_seconds))
        piece_folder = Path(corpus.tracks[track]["path"]).parent  # ASAP: one folder per piece, its performances
        other = int(rng.choice([t for t in long_enough if Path(corpus.tracks[t]["path"]).parent != piece_folder]))
        elsewhere.append(passage(corpus.track_events(other),
                                 rng.uniform(0, corpus.tracks[other]["duration_s"] - args.seconds), args.seconds))
        piece = model.sample(1, args.seconds, seed=args.seed * 100_003 + i, snap_to_real=False, prompt=prompt)[0]
        continued.append(passage(piece, span_s, args.seconds))
    sampling_s = time.perf_counter() - started
    truth = attributes(real_next, args.seconds)
    truth_ends = np.column_stack([register(real_next, args.opening_seconds), register(real_next, args.seconds)])
    rows, shifts, drifts = [], [], []
    for name, passages, opening in (("continued", continued, continued),
                                    ("the prompt's last --seconds (real)", persisting, just_before),
                                    ("another track (real)", elsewhere, elsewhere)):
        described = attributes(passages, args.seconds)  # [n, SCALARS + 12]
        d = distances(described, truth)  # [n, SCALARS + 1]
        drifts.append([name] + [f"{np.nanmean(described[:, j] - truth[:, j]):+.3f}" for j in range(SCALARS)])
        rows.append([name] + [f"{np.nanmean(d[:, j]):.3f}" for j in range(len(ATTRIBUTES))])
        ends = np.column_stack([register(opening, args.opening_seconds), register(passages, args.seconds)])  # [n, 4]
        shifts.append((name, ends - truth_ends))  # [n, 4]: semitones, below 0 lower than what was played next
    prompt_low = register(persisting, args.seconds)[:, 0]  # [n]: how low each prompt's last --seconds go
    lowest = prompt_low <= np.nanmedian(prompt_low)  # [n]: the half of the prompts that go lowest
    settings = ", ".join(args.set) or "as shipped"
    lines = [f"{args.prompts} prompts of {args.prompt_seconds:g} s from the {args.split} split of {corpus.root}, "
             f"each continued {args.seconds:g} s by --model {args.model} ({settings}); seed {args.seed}; "
             f"sampled in {sampling_s:.0f} s",
             "mean distance to what the pianist played next (lower: closer)", ""]
    lines += table(["", *ATTRIBUTES], rows)
    lines += ["", "which way: the mean signed difference from what was played next (the density as ln ratio; above 0: "
              "higher, denser, louder, pedalled more, a clearer pulse, more pedal events)", ""]
    lines += table(["", *ATTRIBUTES[:SCALARS]], drifts)
    opening_s, whole_s = f"{args.opening_seconds:g} s", f"{args.seconds:g} s"
    header = ["", *(f"{end} {span}" for span in (opening_s, whole_s) for end in REGISTER)]
    header += [f"|{h}|" for h in header[1:]]
    lines += ["", f"the register: the {REGISTER_PERCENTILES[0]}th ('low') and {REGISTER_PERCENTILES[1]}th ('high') "
              f"percentiles of the pitches over the first {opening_s} (the prompt's row: its last) and the whole "
              f"{whole_s}; each row's minus what was played next (semitones; signed, then unsigned)", ""]
    lines += table(header, register_rows(shifts, truth_ends, np.ones(len(picked), bool)))
    lines += ["", f"the same, over the {lowest.sum()} prompts that go lowest (their last {whole_s}' low end at or below "
              f"the median, MIDI {np.nanmedian(prompt_low):g}: a bass line, a left hand low)", ""]
    lines += table(header, register_rows(shifts, truth_ends, lowest))
    print("\n".join(lines))
    write_markdown(args.markdown, "# Continuing a prompt: the continuation beside what was played next", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
