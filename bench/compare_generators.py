"""The generator comparison (docs/quality.md): each trained model writes N pieces (no snapping), and
`tsm evaluate`'s figures compare them with real excerpts of one split, beside fixed rows: two halves of
the real set (ceiling), the autoencoder's decode of real latent sequences (the representation's
ceiling), real chunks shuffled at random (the floor, built into the report) and, with --train-row, real
training-split excerpts (what a model of the training split could reach on the compared split).

    python bench/compare_generators.py --corpus CORPUS --split test --out OUT \
        --model conv-s0=runs/conv-s0 --model ar-s0=runs/ar-s0 [--samples 200 --seconds 16]

A model is NAME=RUN (a name for the table, a shipped model or a run folder: def=default) or RUN alone. An OUT that
holds an earlier comparison of these names is refused unless --overwrite, which removes the earlier pieces first.

With --select, a model with a critic (critic.py) writes the pieces its critic keeps, as `tsm generate --select`
does. Writes OUT/<name>/midi/*.mid and OUT/<name>/report/report.{json,html}, and prints one markdown
table.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from timestepmusic.evaluate import FOLDS_BY

KEY_DESCRIPTORS = ("pitch_range", "damper_fraction", "longest_note_s", "longest_silence_s", "pulse_clarity", "figure_repeats",
                   "chord_cluster_share")


def decoded_real_row(ae, corpus, split: str, seconds: float):
    """The autoencoder's decode of every real latent sequence of the split, as excerpts."""
    from timestepmusic.batches import ChunkGatherer
    from timestepmusic.evaluate.excerpts import excerpts_from_events
    from timestepmusic.evaluate.fidelity import reconstruct_track

    gatherer = ChunkGatherer(corpus, device=ae.device)
    decoded = [reconstruct_track(ae, gatherer, int(t))[1] for t in corpus.tracks_in(split)]
    return excerpts_from_events(decoded, seconds)


def summary_of(report: dict, row: str) -> dict:
    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS

    overlaps = {name: report["descriptors"][name]["rows"][row]["overlap"] for name in SCALAR_DESCRIPTORS}
    finite = [v for v in overlaps.values() if v is not None and np.isfinite(v)]  # (None: undefined for these pieces,
    # e.g. the half-pedal share of pieces that never press the damper; left out, as `tsm evaluate` leaves it out)
    out = {"classifier": report["classifier"][row]["accuracy"], "mean_overlap": float(np.mean(finite))}
    trees = report.get("classifier_trees", {}).get(row)
    if trees is not None:
        out["trees"] = float("nan") if trees["accuracy"] is None else trees["accuracy"]  # (None: too few for trees)
    return out | {name: overlaps[name] for name in KEY_DESCRIPTORS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=RUN")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--temperature", type=float, help="ar models: sampling temperature")
    parser.add_argument("--mixture-temperature", type=float, help="ar models: temperature of the mixture's weights")
    parser.add_argument("--slide-stride", type=int, help="ar models: ar.slide_stride past the context (bench/ar_slide.py)")
    parser.add_argument("--folds-by", choices=FOLDS_BY, default=FOLDS_BY[0],
                        help="what the classifiers' folds and the real halves keep whole (tsm evaluate --folds-by)")
    parser.add_argument("--no-ae-row", action="store_true", help="skip the autoencoder-decode row (faster)")
    parser.add_argument("--select", action="store_true",
                        help="the pieces a model's critic keeps (as tsm generate --select), not every piece drawn")
    parser.add_argument("--train-row", action="store_true",
                        help="add a fixed row of real training-split excerpts (as many as --samples)")
    parser.add_argument("--set", action="append", default=[], metavar="ar.NAME=VALUE",
                        help="a sampling setting of ar and events models, e.g. ar.pedal_join_s=0.1 (repeatable)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier comparison in OUT (its comparison.json, and each model's pieces and "
                             "report); default: refuse")
    args = parser.parse_args()
    try:
        main_checked(args)
    except ValueError as e:  # a model, setting or folder refused: one line, as `tsm` says it
        raise SystemExit(f"error: {e}") from None


def model_specs(specs: list[str]) -> list[tuple[str, str]]:
    """--model NAME=RUN (or RUN alone, named as its folder) → (name, run) pairs; names must differ."""
    if not specs:
        raise ValueError("no --model given: name the models to compare, e.g. --model def=default --model mine=runs/mine")
    pairs = []
    for spec in specs:
        name, equals, run = spec.partition("=")
        name, run = (name, run) if equals else (Path(spec.rstrip("/")).name, spec)
        if not name or not run or "/" in name:
            raise ValueError(f"--model {spec}: give NAME=RUN, a short name for the table and a shipped model's name "
                             "or a run folder (e.g. def=default)")
        pairs.append((name, run))
    names = [name for name, _ in pairs]
    if len(set(names)) < len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"--model: the name {twice} is given twice; each model needs its own (NAME=RUN)")
    return pairs


def earlier_comparison(out: Path, names: list[str]) -> list[Path]:
    """What an earlier comparison left in `out` that this one would write over or read: its comparison.json and,
    for each model name, its pieces (a rerun with fewer --samples would evaluate the earlier run's leftovers with
    its own) and its report."""
    found = [out / "comparison.json"] if (out / "comparison.json").exists() else []
    for name in names:
        found += sorted((out / name / "midi").glob("*.mid")) + sorted((out / name / "report").glob("report.*"))
    return found


def main_checked(args: argparse.Namespace) -> None:
    if args.samples < 1:
        raise ValueError(f"--samples must be ≥ 1, got {args.samples}")
    if not args.seconds > 0:
        raise ValueError(f"--seconds must be > 0, got {args.seconds:g}")
    specs = model_specs(args.model)
    from timestepmusic.checkpoint import read_meta
    from timestepmusic.sequence import arch_class
    from timestepmusic.shipped import resolve_model

    for _, run in specs:  # a model named wrong, or of an arm not known here ($TSM_ARMS), is said before anything is drawn
        arch_class(read_meta(resolve_model(run))[1].get("arch", "conv"))
    earlier = earlier_comparison(args.out, [name for name, _ in specs])
    if earlier and not args.overwrite:
        raise ValueError(f"{earlier[0]}: an earlier comparison's file (of {len(earlier)}); give another --out, or "
                         "--overwrite to replace it")
    for path in earlier:  # --overwrite: the earlier pieces go, so that none is evaluated with the new ones
        if path.suffix == ".mid":
            path.unlink()
    torch.set_num_threads(args.threads)

    from timestepmusic.corpus import Corpus
    from timestepmusic.draws import selected_pieces
    from timestepmusic.evaluate.baseline_excerpts import training_excerpts
    from timestepmusic.evaluate.comparison import BASELINE, CEILING, GENERATED, TRAINING
    from timestepmusic.evaluate.report import evaluate_generated
    from timestepmusic.generation import GANModel, checkpoint_config
    from timestepmusic.midi_write import write_events
    from timestepmusic.piece_events import sampled_events

    corpus = Corpus.open(args.corpus)
    if args.train_row and args.split == "train":
        raise SystemExit("--train-row: the training excerpts are the compared split itself; give --split validation or test")
    trained_on = training_excerpts(corpus, "train", args.samples, args.seconds, args.seed) if args.train_row else None
    results, ceiling_rows = {}, {}
    for name, run in specs:
        model = GANModel.load(run)
        midi = args.out / name / "midi"
        started = time.perf_counter()
        options = ({"temperature": args.temperature, "mixture_temperature": args.mixture_temperature}
                   if getattr(model.arm, "continues", False) else {})
        if getattr(model.arm, "draws_events", False):  # no mixture: its temperature is the key's
            options.pop("mixture_temperature", None)
        if options and args.slide_stride is not None:
            model.arm.settings = dataclasses.replace(model.arm.settings, slide_stride=args.slide_stride)
        if args.set:
            if not options or any(not a.startswith("ar.") for a in args.set):
                raise SystemExit(f"--set {' '.join(args.set)}: ar settings of an ar or events model only ({run} "
                                 f"is a {model.arch} model)")
            try:  # parsed and checked as `tsm train-gan --set` parses them
                settings = checkpoint_config(model.meta).override(args.set).ar
            except ValueError as e:
                raise SystemExit(str(e)) from None
            model.arm.settings = dataclasses.replace(settings, slide_stride=model.arm.settings.slide_stride)
        if args.select:  # the pieces its critic keeps, as tsm generate --select writes
            pieces, written = selected_pieces(model, args.samples, args.seconds, args.seed, snap_to_real=False,
                                              **options)
        else:
            pieces = model.sample_latents(args.samples, args.seconds, args.seed, snap_to_real=False, **options)
            written = sampled_events(model.arm, model.ae, pieces)  # decoded, or drawn as events
        sampled_s = time.perf_counter() - started
        for i, events in enumerate(written):
            write_events(events, midi / f"sample_{i:03d}.mid")
        music_s = sum(p.shape[0] for p in pieces) * model.ae.chunk_seconds
        key = model.ae.weights_sha256
        if key not in ceiling_rows and not args.no_ae_row:  # one decode of the real split per autoencoder
            ceiling_rows[key] = decoded_real_row(model.ae, corpus, args.split, args.seconds)
        extra = {} if args.no_ae_row else {"autoencoder decode": ceiling_rows[key]}
        if trained_on is not None:
            extra[TRAINING] = trained_on
        report = evaluate_generated(midi, corpus, args.out / name / "report", split=args.split, seconds=args.seconds,
                                    seed=args.seed, extra_rows=extra, folds_by=args.folds_by)
        results[name] = {GENERATED: summary_of(report, GENERATED), "faster_than_real_time": music_s / sampled_s,
                         "copies": report["copies"].get("flagged"),
                         "fixed": {row: summary_of(report, row) for row in (BASELINE, *extra)}
                         | {CEILING: {"classifier": report["classifier"][CEILING]["accuracy"]}}}
        print(f"{name}: {json.dumps(results[name][GENERATED])}", file=sys.stderr, flush=True)
    (args.out / "comparison.json").write_text(json.dumps(results, indent=1))
    print(table(results))


def table(results: dict) -> str:
    """The markdown table: a row per model, then the fixed rows (fixed_rows)."""
    from timestepmusic.evaluate.comparison import GENERATED

    header = ["row", "classifier acc.", "trees acc.", "mean overlap", *KEY_DESCRIPTORS, "near copies", "× real time"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def figure(s: dict, key: str) -> str:  # (None or NaN: not measured, e.g. too few excerpts for the trees)
        return f"{s[key]:.3f}" if s.get(key) is not None and np.isfinite(s[key]) else "—"

    def cells(s: dict) -> list[str]:
        return [figure(s, key) for key in ("classifier", "trees", "mean_overlap", *KEY_DESCRIPTORS)]
    for name, r in results.items():
        speed = f"{r['faster_than_real_time']:,.0f}"
        lines.append("| " + " | ".join([name, *cells(r[GENERATED]), str(r["copies"]), speed]) + " |")
    for row, s in fixed_rows(results):
        lines.append("| " + " | ".join([f"*{row}*", *cells(s), "—", "—"]) + " |")
    return "\n".join(lines)


def fixed_rows(results: dict) -> list[tuple[str, dict]]:
    """The fixed rows, each once where every model's report gives it the same figures (the shuffled chunks, the two
    real halves, the training row: one corpus, split and seed), else once for each set of models that share its
    figures, named by them: the autoencoder decode of models over different autoencoders (the first model's alone
    was printed, unnamed, as if it were every model's)."""
    groups: dict[str, dict[str, tuple[dict, list[str]]]] = {}  # row → its figures (as json) → (figures, models)
    for name, r in results.items():
        for row, s in r["fixed"].items():
            groups.setdefault(row, {}).setdefault(json.dumps(s, sort_keys=True), (s, []))[1].append(name)
    return [(f"{row} ({', '.join(names)})" if len(shared) > 1 else row, s)
            for row, shared in groups.items() for s, names in shared.values()]


if __name__ == "__main__":
    main()
