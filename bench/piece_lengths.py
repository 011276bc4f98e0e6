"""The length-choosing figure of the generator issue (docs/quality.md): a model that ends its pieces itself
(`ar` sampled with ends=True, as `tsm generate --max-seconds` does; or `rnn`) samples -n pieces of at most
--max-seconds, and their lengths are printed beside the real ones of gan/recurrent.py's `real_lengths`:
from a uniformly random chunk of a training track to its end (what the model was trained on, the
baseline), and whole tracks, all capped at --max-seconds. Table: `length_table` (median, mean, 10 % and
90 % quantiles, share reaching the cap); PASS/MISS against the issue's target, the generated median
within 20 % of the real one.

    python bench/piece_lengths.py --corpus CORPUS -n 50 --markdown bench/results/piece_lengths.md
    python bench/piece_lengths.py    # the shipped default; prepares ../shared/data/asap into a temporary folder
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
MEDIAN_WITHIN = 0.2  # the target: generated median length within 20 % of the real one
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, corpus_or_skip, table, verdict, write_markdown  # noqa: E402


def sampled_lengths(model, n: int, max_seconds: float, seed: int) -> np.ndarray:
    """Lengths in seconds of `n` pieces that `model` (a GANModel) ends itself, capped at `max_seconds`. The ar arm
    ends pieces only when asked (ends=True, as `tsm generate --max-seconds` and `length_distributions` ask);
    snapping comes after the length is chosen, so it is left out here (refusing models that cannot end pieces)."""
    continues = getattr(model.arm, "continues", False)
    if model.arch != "rnn" and not continues:
        raise ValueError(f"--model {model.folder}: a {model.arch} model writes exactly the length asked; "
                         "give one that ends its pieces (ar, rnn)")
    options = {"ends": True} if continues else {}
    pieces = model.sample_latents(n, max_seconds, seed, snap_to_real=False, **options)  # [T_s, L] each
    return np.minimum(np.array([p.shape[0] for p in pieces]) * model.ae.chunk_seconds, max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--model", default="default", help="a run, checkpoint or shipped model (default: default)")
    parser.add_argument("-n", type=int, default=50, help="pieces to sample (default 50)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="longest a piece may run (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0, as tsm generate)")
    parser.add_argument("--split", default="train", choices=["train", "validation", "test"],
                        help="real lengths from this split (default train: what the model was trained on)")
    parser.add_argument("--end-bias", type=float, help="ar models: ar.end_bias to sample with (default: the model's)")
    parser.add_argument("--set", action="append", default=[], metavar="ar.NAME=VALUE",
                        help="a sampling setting for every piece (as tsm generate --set)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.gan.recurrent import length_table, real_lengths
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.sample_limits import check_piece_seconds

    check_piece_seconds(args.max_seconds, "max-seconds")
    with corpus_or_skip(args, "tsm-bench-lengths-") as corpus:
        if corpus is None:
            return
        model = GANModel.load(args.model)
        set_sampling(model, args.set)
        if args.end_bias is not None:
            if not getattr(model.arm, "continues", False):
                raise ValueError(f"--end-bias: a {model.arch} model has no ar.end_bias")
            model.arm.settings = dataclasses.replace(model.arm.settings, end_bias=args.end_bias)
        if corpus.chunk_seconds != model.ae.chunk_seconds:
            raise ValueError(f"--corpus {corpus.root}: chunks of {corpus.chunk_seconds:g} s, but the model's are "
                             f"{model.ae.chunk_seconds:g} s")
        t0 = time.perf_counter()
        generated = sampled_lengths(model, args.n, args.max_seconds, args.seed)
        sampling_s = time.perf_counter() - t0
        lengths = {"generated": generated} | real_lengths(corpus, args.max_seconds, args.split)

    gen, real = lengths["generated"], lengths["real_remaining"]
    rows = [[name, f"{g:.1f}", f"{r:.1f}", f"{g / r - 1:+.0%}" if r else "—"] for name, g, r in (
        ("median (s)", np.median(gen), np.median(real)), ("mean (s)", gen.mean(), real.mean()),
        ("10 % quantile (s)", np.quantile(gen, 0.1), np.quantile(real, 0.1)),
        ("90 % quantile (s)", np.quantile(gen, 0.9), np.quantile(real, 0.9)))]
    at_cap = [float(np.mean(v >= args.max_seconds - 1e-9)) for v in (gen, real)]
    rows.append(["share at the cap", f"{at_cap[0]:.2f}", f"{at_cap[1]:.2f}", f"{at_cap[0] - at_cap[1]:+.2f}"])
    off = abs(np.median(gen) / np.median(real) - 1)
    lines = [f"piece lengths: --model {args.model} ({model.arch}), {args.n} pieces, seed {args.seed}, capped at --max-seconds "
             f"{args.max_seconds:g}; real: {args.split} split of {corpus.root}",
             f"sampled in {sampling_s:.1f} s on one thread ({gen.sum() / sampling_s:.1f} × real time)", "",
             *length_table(lengths, args.max_seconds), "",
             *table(["generated vs real remaining", "generated", "real", "Δ"], rows), "",
             f"{verdict(off <= MEDIAN_WITHIN)}: generated median within {MEDIAN_WITHIN:.0%} of the real one "
             f"({np.median(gen):.1f} s vs {np.median(real):.1f} s, {off:.0%} off)"]
    if np.median(real) >= args.max_seconds - 1e-9:
        lines.append("(the real median sits at the cap: the mean, the quantiles and the share at the cap are the "
                     "informative figures)")
    print("\n".join(lines))
    write_markdown(args.markdown, "# Piece lengths: generated beside real", lines)


if __name__ == "__main__":
    main()
