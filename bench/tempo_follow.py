"""How closely an events model plays at the tempo `tsm generate --tempo` asks: each tempo asked of -n pieces of
--seconds per sampling seed, beside the same seeds unasked (the baseline: how often a piece lands on that tempo by
chance). A piece's beat, as heard (tempo.heard_beat_s, what `tsm generate --tempo` prints): the lag of the highest
peak of its blurred onset train's autocorrelation within tsm evaluate's pulse lags (0.2–1.5 s; the onsets, blur and
cells of its pulse_clarity descriptor). Beats are named up to an octave, as listeners tap them (at the beat, or twice
or half as fast), so a piece is counted at the asked tempo when its beat lies within 8 % of the asked beat, and
beside that within 8 % of it, its half or its double (at 60 bpm a beat half as fast, 2 s, lies past the lags and is
never heard; at 160 bpm twice as fast, 0.19 s, neither). What else moves: tsm evaluate's descriptors, asked against
unasked (and with --corpus, real excerpts of --split); and the seconds per piece drawn.

    python bench/tempo_follow.py --model default --seeds 2 3 --corpus /work/data/asap --markdown bench/results/tempo_follow.md
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
from common import add_follow_arguments, descriptor_means, drawing_seconds, drawn, table, write_markdown  # noqa: E402

TEMPOS_BPM = (60, 80, 100, 120, 140, 160)
DESCRIPTORS = ("note_density", "pulse_clarity", "ioi_mean", "ioi_std", "polyphony_mean", "pitch_range",
               "stepwise_share", "damper_fraction", "longest_silence_s")


def at_tempo(beats_s: list, bpm: float) -> tuple[float, float]:
    """Shares of pieces (their heard beats, None: none heard) at the asked beat, and at it, its half or its double."""
    from timestepmusic.tempo import beat_relation

    heard = [beat_relation(beat, bpm) for beat in beats_s]
    return (float(np.mean([h == "the beat" for h in heard])),
            float(np.mean([h in ("the beat", "twice as fast", "half as fast") for h in heard])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_follow_arguments(parser, 16, "pieces per tempo and seed",
                         "a prepared corpus: its --split's excerpts beside, described alike")
    parser.add_argument("--half-beat", type=float, help="the half-beats' weight in the comb (default: TempoTold's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_events
    from timestepmusic.generation import GANModel
    from timestepmusic.sequence.pulse import TempoTold
    from timestepmusic.shipped import resolve_model
    from timestepmusic.tempo import TOLERANCE, heard_beat_s

    how = {} if args.half_beat is None else {"half_beat_weight": args.half_beat}
    gan = GANModel.load(resolve_model(args.model))
    gan.sample(args.n, args.seconds, 0, tempo=TempoTold(TEMPOS_BPM[0], **how))  # warm-up
    pieces = {"asked": [], "unasked": []}
    beats = {"asked": {}, "unasked": {}}
    seconds_taken = {"asked": 0.0, "unasked": 0.0}
    for bpm in TEMPOS_BPM:
        for what, options in (("asked", {"tempo": TempoTold(bpm, **how)}), ("unasked", {})):
            played = []
            for seed in args.seeds:  # the same seeds asked and unasked: the same descriptions drawn
                start = time.perf_counter()
                played += drawn(gan, args.n, args.seconds, seed * 1000 + bpm, args.select, **options)
                seconds_taken[what] += time.perf_counter() - start
            pieces[what] += played
            beats[what][bpm] = [heard_beat_s(piece, args.seconds) for piece in played]
    per_tempo = len(args.seeds) * args.n
    lines = [f"model {args.model}; {args.n} pieces of {args.seconds:g} s per tempo and sampling seed "
             f"{', '.join(map(str, args.seeds))} ({per_tempo} per tempo), asked and unasked at the same seeds; half-beats "
             f"weigh {TempoTold(60, **how).half_beat_weight:g} of a beat in the comb; the model's ar.beat_echo "
             f"{gan.arm.settings.beat_echo:g}; a piece is at a tempo when its beat lies within {TOLERANCE:.0%} of it", ""]
    rows = []
    for bpm in TEMPOS_BPM:
        asked, unasked = at_tempo(beats["asked"][bpm], bpm), at_tempo(beats["unasked"][bpm], bpm)
        rows.append([f"{bpm}", f"{60 / bpm:.3f}", f"{asked[0]:.3f}", f"{unasked[0]:.3f}", f"{asked[1]:.3f}",
                     f"{unasked[1]:.3f}", f"{np.median([b for b in beats['asked'][bpm] if b is not None]):.3f}"])
    means = [np.mean([float(row[i]) for row in rows]) for i in range(2, 6)]
    rows.append(["mean", "", *(f"{m:.3f}" for m in means), ""])
    lines += table(["bpm", "beat (s)", "at the beat, asked", "unasked", "beat, half or double, asked", "unasked",
                    "median beat heard, asked (s)"], rows)
    described = {what: describe(excerpts_from_events(drawn, args.seconds)) for what, drawn in pieces.items()}
    if args.corpus is not None:
        from timestepmusic.corpus import Corpus
        from timestepmusic.evaluate.excerpts import excerpts_from_corpus

        real = excerpts_from_corpus(Corpus.open(args.corpus), args.split, args.seconds)
        described[f"real ({args.split}, {real.num_excerpts} excerpts)"] = describe(real)
    lines += ["", "what else moves (tsm evaluate's descriptors, mean over every tempo's pieces):",
              *descriptor_means(described, DESCRIPTORS)]
    lines += ["", drawing_seconds(seconds_taken, len(pieces["asked"]), args.n)]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following `--tempo`: the model `{args.model}`", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
