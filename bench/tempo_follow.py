"""How closely an events model plays at the tempo `tsm generate --tempo` asks: each tempo asked of -n pieces of
--seconds per sampling seed, beside the same seeds unasked (the baseline: how often a piece lands on that tempo by
chance). A piece's beat, as heard here: the lag at which the autocorrelation of its blurred onset train peaks
within tsm evaluate's pulse lags (0.2–1.5 s; the onsets, blur and cells of its pulse_clarity descriptor). Beats are
named up to an octave, as listeners tap them (at the beat, or twice or half as fast), so a piece is counted at the
asked tempo when its beat lies within 8 % of the asked beat, and beside that within 8 % of it, its half or its
double. What else moves: tsm evaluate's descriptors, asked against unasked; and the seconds per piece drawn.

    python bench/tempo_follow.py --model default --seeds 2 3 --markdown bench/results/tempo_follow.md
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

TEMPOS_BPM = (60, 80, 100, 120, 140, 160)
TOLERANCE = 0.08
DESCRIPTORS = ("note_density", "pulse_clarity", "ioi_mean", "ioi_std", "polyphony_mean", "pitch_range",
               "stepwise_share", "damper_fraction", "longest_silence_s")


def beat_s(piece, seconds: float) -> float:
    """The lag (s) at which the piece's onset train, blurred, autocorrelates most within the pulse lags; NaN with
    fewer than 4 onsets."""
    from timestepmusic.evaluate.descriptors import PULSE_BLUR_S, PULSE_LAGS_S, PULSE_STEP_S
    from timestepmusic.sequence.pulse import ONSET_S

    starts = np.sort(piece.start_s[piece.ids < 88])
    onsets = starts[np.concatenate([[True], np.diff(starts) > ONSET_S])] if starts.size else starts
    if onsets.size < 4:
        return float("nan")
    cells = int(np.ceil(seconds / PULSE_STEP_S))
    train = np.zeros(cells)
    train[np.minimum((onsets / PULSE_STEP_S).astype(np.int64), cells - 1)] = 1.0
    train -= train.mean()
    lo, hi = (round(lag / PULSE_STEP_S) for lag in PULSE_LAGS_S)
    n = 2 * cells + hi + 1  # zero-padded: no lag wraps round
    frequency = np.fft.rfftfreq(n, PULSE_STEP_S)
    power = np.abs(np.fft.rfft(train, n)) ** 2 * np.exp(-(2 * np.pi * frequency * PULSE_BLUR_S) ** 2)
    autocorrelation = np.fft.irfft(power, n)[:hi + 1]  # [hi + 1]
    return (lo + int(np.argmax(autocorrelation[lo:]))) * PULSE_STEP_S


def at_tempo(beats_s: np.ndarray, bpm: float) -> tuple[float, float]:
    """Shares of pieces (beats [P], NaN: none heard) at the asked beat, and at it, its half or its double."""
    asked_s = 60.0 / bpm
    near = [np.abs(beats_s - asked_s * f) <= TOLERANCE * asked_s * f for f in (1.0, 0.5, 2.0)]
    return float(np.mean(near[0])), float(np.mean(near[0] | near[1] | near[2]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a run folder or a shipped model's name")
    parser.add_argument("-n", type=int, default=16, help="pieces per tempo and seed")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--half-beat", type=float, help="the half-beats' weight in the comb (default: TempoTold's)")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.evaluate.descriptors import describe, excerpts_from_events
    from timestepmusic.generation import GANModel
    from timestepmusic.sequence.pulse import TempoTold
    from timestepmusic.shipped import resolve_model

    how = {} if args.half_beat is None else {"half_beat_weight": args.half_beat}
    gan = GANModel.load(resolve_model(args.model))
    gan.sample(args.n, args.seconds, 0, tempo=TempoTold(TEMPOS_BPM[0], **how))  # warm-up
    pieces = {"asked": [], "unasked": []}
    beats = {"asked": {}, "unasked": {}}
    seconds_taken = {"asked": 0.0, "unasked": 0.0}
    for bpm in TEMPOS_BPM:
        for what, options in (("asked", {"tempo": TempoTold(bpm, **how)}), ("unasked", {})):
            drawn = []
            for seed in args.seeds:  # the same seeds asked and unasked: the same descriptions drawn
                start = time.perf_counter()
                drawn += gan.sample(args.n, args.seconds, seed * 1000 + bpm, **options)
                seconds_taken[what] += time.perf_counter() - start
            pieces[what] += drawn
            beats[what][bpm] = np.array([beat_s(piece, args.seconds) for piece in drawn])
    per_tempo = len(args.seeds) * args.n
    lines = [f"model {args.model}; {args.n} pieces of {args.seconds:g} s per tempo and sampling seed "
             f"{', '.join(map(str, args.seeds))} ({per_tempo} per tempo), asked and unasked at the same seeds; half-beats "
             f"weigh {TempoTold(60, **how).half_beat_weight:g} of a beat in the comb; the model's ar.beat_echo "
             f"{gan.arm.settings.beat_echo:g}; a piece is at a tempo when its beat lies within {TOLERANCE:.0%} of it", ""]
    rows = []
    for bpm in TEMPOS_BPM:
        asked, unasked = at_tempo(beats["asked"][bpm], bpm), at_tempo(beats["unasked"][bpm], bpm)
        rows.append([f"{bpm}", f"{60 / bpm:.3f}", f"{asked[0]:.3f}", f"{unasked[0]:.3f}", f"{asked[1]:.3f}",
                     f"{unasked[1]:.3f}", f"{np.nanmedian(beats['asked'][bpm]):.3f}"])
    means = [np.mean([float(row[i]) for row in rows]) for i in range(2, 6)]
    rows.append(["mean", "", *(f"{m:.3f}" for m in means), ""])
    lines += table(["bpm", "beat (s)", "at the beat, asked", "unasked", "beat, half or double, asked", "unasked",
                    "median beat heard, asked (s)"], rows)
    described = {what: describe(excerpts_from_events(drawn, args.seconds)) for what, drawn in pieces.items()}
    rows = [[name, f"{np.nanmean(described['asked'][name]):.3f}", f"{np.nanmean(described['unasked'][name]):.3f}"]
            for name in DESCRIPTORS]
    lines += ["", "what else moves (tsm evaluate's descriptors, mean over every tempo's pieces):",
              *table(["descriptor", "asked", "unasked"], rows)]
    total = len(pieces["asked"])
    lines += ["", "seconds of drawing per piece (one thread): " + ", ".join(
        f"{what} {taken / total:.3f} s" for what, taken in seconds_taken.items()) + f" ({args.n} pieces per call, "
        "after one warm-up call)"]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following `--tempo`: the model `{args.model}`", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
