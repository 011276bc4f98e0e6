"""How long do a model's pieces fall silent, against real excerpts? -n pieces of --seconds (fixed length, as
`tsm generate` writes them, no redraws) and every real excerpt of --split as long: per excerpt the longest
stretch with no key held (`tsm evaluate`'s longest_silence_s), summarised by its median, mean, 90 % quantile and
the share over 2 s and over 4 s; and for the pieces, when their longest silence starts. A low overlap of that
descriptor can mean stalls (a heavy tail) or too few phrase-long pauses (a low median): this tells which.

    python bench/silences.py --corpus CORPUS --model default --seconds 60 --markdown bench/results/silences.md
    python bench/silences.py --corpus CORPUS --seconds 30 --settings "ar.silence_guard_s=3"   # a row more, guarded
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import (  # noqa: E402
    add_corpus_arguments,
    add_settings_argument,
    corpus_or_skip,
    settings_groups,
    table,
    use_settings,
    write_markdown,
)


def summary(longest_s: np.ndarray) -> list[str]:
    """Longest silences [E] (s) → the table's figures."""
    return [str(len(longest_s)), f"{np.median(longest_s):.2f}", f"{longest_s.mean():.2f}",
            f"{np.quantile(longest_s, 0.9):.2f}", f"{(longest_s > 2).mean():.3f}", f"{(longest_s > 4).mean():.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--model", action="append", help="runs, checkpoints or shipped models (default: default)")
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--seconds", type=float, default=60.0, help="piece and excerpt length (default 60)")
    parser.add_argument("-n", type=int, default=100, help="pieces per model (default 100)")
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="sampling seeds, -n pieces each (default 0)")
    parser.add_argument("--style", help="as `tsm generate --style`, e.g. pause=0.25 (models trained with ar.style)")
    add_settings_argument(parser)
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus, excerpts_of_length
    from timestepmusic.generation import GANModel
    from timestepmusic.piece_events import sampled_events
    from timestepmusic.sequence.style_request import parse_style

    style = parse_style(args.style) if args.style else None  # refuses a bad request before sampling

    with corpus_or_skip(args, "tsm-bench-silences-") as corpus:
        if corpus is None:
            return
        real = describe(excerpts_from_corpus(corpus, args.split, args.seconds))["longest_silence_s"]
        rows, starts = [[f"real ({args.split})", *summary(real)]], []
        for name in args.model or ["default"]:
            model = GANModel.load(name)
            groups, own = settings_groups(model, args.settings)  # each checked before the minutes of drawing
            for group in groups:
                use_settings(model, group, own)
                label = name + (f" {' '.join(group)}" if group else "")
                pieces, told = [], []
                for seed in args.seed:
                    latents = model.sample_latents(args.n, args.seconds, seed, False, style=style)
                    pieces += sampled_events(model.arm, model.ae, latents, None)
                    told.append(getattr(model.arm, "told", None))  # with ar.style: each piece's description [n, D]
                table_ = excerpts_of_length(pieces, np.full(len(pieces), args.seconds), args.seconds)
                longest = describe(table_)["longest_silence_s"]
                rows.append([label, *summary(longest)])
                long = longest > 4
                if long.any():
                    first_s = [silence_start_s(piece, args.seconds) for piece, x in zip(pieces, long) if x]
                    starts.append(f"- {label}: the {int(long.sum())} pieces silent over 4 s fall silent at "
                                  f"{', '.join(f'{s:.0f}' for s in sorted(first_s))} s")
                    if all(t is not None for t in told):
                        starts.append(told_apart(label, torch.cat(told).cpu().numpy(), long,
                                                 model.arm.generator.style.attributes))
    asked = f", told --style {args.style}" if args.style else ""
    seeds = ", ".join(map(str, args.seed))
    lines = [f"{args.split} split of {corpus.root}: {args.n} pieces of {args.seconds:g} s per model and sampling seed "
             f"({seeds}; no redraws{asked}) against every real {args.seconds:g} s excerpt", "",
             *table(["rows", "excerpts", "median longest silence (s)", "mean", "90 %", "share > 2 s", "share > 4 s"],
                    rows), "", *starts]
    print("\n".join(lines))
    write_markdown(args.markdown, "# How long do the pieces fall silent?", lines)


def told_apart(name: str, told: np.ndarray, long: np.ndarray, attributes: tuple[str, ...]) -> str:
    """The mean description [pieces, D] told the pieces silent over 4 s (`long` [pieces]) against the others',
    density and pause in their users' units (notes/s, s: the mean of ln(1 + x), then back)."""
    from timestepmusic.sequence.style_request import LOGGED

    shown = []
    for j, attribute in enumerate(attributes):
        stalled, others = told[long, j].mean(), told[~long, j].mean()
        if attribute in LOGGED:
            stalled, others = np.expm1(stalled), np.expm1(others)
        shown.append(f"{attribute} {stalled:.2f} against {others:.2f}")
    return f"  - told (mean description, stalled against the rest): {'; '.join(shown)}"


def silence_start_s(piece, seconds: float, step_s: float = 0.05) -> float:
    """When a piece's longest stretch with no key held starts (on a step_s grid)."""
    notes = np.asarray(piece.is_note)
    start = np.asarray(piece.start_s)[notes]
    end = start + np.asarray(piece.duration_s)[notes]
    grid = np.arange(0, seconds, step_s)  # [G]
    held = ((start[None] < grid[:, None] + step_s) & (end[None] > grid[:, None])).any(1)  # [G]
    best, best_at, run = 0, 0, 0
    for i, h in enumerate(held):
        run = 0 if h else run + 1
        if run > best:
            best, best_at = run, i + 1 - run
    return best_at * step_s


if __name__ == "__main__":
    main()
