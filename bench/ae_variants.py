"""The latent-space comparison (docs/latent-space.md): autoencoder arms trained at equal compute (same
batch, same number of steps, one thread each), then measured by `tsm evaluate-ae` on one split.

    python bench/ae_variants.py train --corpus CORPUS --runs RUNS --arms seed,ohe-cdf-32 --steps 5000
    python bench/ae_variants.py evaluate --corpus CORPUS --runs RUNS --split validation   # choose here
    python bench/ae_variants.py evaluate --corpus CORPUS --runs RUNS --split test         # report this
    python bench/ae_variants.py table --runs RUNS --split test

Each arm is `RUNS/<arm>-s<seed>`, a normal autoencoder run (`tsm evaluate-ae` and `--resume` work on it).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch


def said(value: float | None, spec: str) -> str:
    """A figure as the report writes it; "—" where it is undefined (nothing to match, as tsm evaluate-ae says)."""
    return "—" if value is None else format(value, spec)


def ohe(durations: str, latent: int, noise: float = 0.0, **more) -> dict:
    """The overrides of an arm with the 91-way key: durations (cdf or log), latent size, latent noise (0: none),
    and any further settings by key (`time_weight=10.0` → encoding.time_weight, the rest under ae.)."""
    arm = {"encoding.encoding": "OHE", "encoding.durations": durations, "ae.latent": latent}
    arm |= {"ae.latent_noise": noise} if noise else {}
    return arm | {(f"encoding.{k}" if k == "time_weight" else f"ae.{k}"): v for k, v in more.items()}


# name → configuration overrides; every arm also gets the shared batch and learning rate below
ARMS = {
    "seed": {"encoding.encoding": "pon", "encoding.durations": "cdf", "ae.latent": 20},
    "ohe-cdf-32": ohe("cdf", 32),
    "ohe-log-32": ohe("log", 32),
    "ohe-log-32-noise": ohe("log", 32, 0.2),
    "ohe-log-20-noise": ohe("log", 20, 0.2),
    "ohe-log-48-noise": ohe("log", 48, 0.2),
    "ohe-log-75-noise": ohe("log", 75, 0.2),
    "ohe-log-32-noise-tw10": ohe("log", 32, 0.2, time_weight=10.0),
    "ohe-log-32-noise-h128": ohe("log", 32, 0.2, hidden=128),
    "ohe-cdf-32-n05": ohe("cdf", 32, 0.05),
    "ohe-cdf-32-n05-tw10": ohe("cdf", 32, 0.05, time_weight=10.0),
    "ohe-cdf-32-n05-bounded": ohe("cdf", 32, 0.05, bounded_values=True),
    "ohe-cdf-48-n05": ohe("cdf", 48, 0.05),
    "ohe-cdf-20-n05": ohe("cdf", 20, 0.05),
    "ohe-cdf-75-n05": ohe("cdf", 75, 0.05),
    "ohe-cdf-75-n20": ohe("cdf", 75, 0.2),
    "ohe-cdf-48-n05-h128": ohe("cdf", 48, 0.05, hidden=128),
}
SHARED = {"ae.batch_chunks": 512, "ae.lr": 1e-3, "ae.device": "cpu", "ae.epochs": 100, "ae.checkpoint_every_s": 120.0}


def train(args: argparse.Namespace) -> None:
    from timestepmusic.corpus import Corpus
    from timestepmusic.train.ae import train_autoencoder

    torch.set_num_threads(args.threads)
    base = Corpus.open(args.corpus).config
    for arm in args.arms.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            out = Path(args.runs) / f"{arm}-s{seed}"
            if (out / "done.json").exists():
                print(f"{out}: done already", flush=True)
                continue
            config = base.override(SHARED | ARMS[arm] | {"ae.seed": seed})
            started = time.perf_counter()
            resume = (out / "last" / "config.json").exists()
            first = json.loads((out / "last" / "config.json").read_text())["step"] if resume else 0
            # overwrite: an arm that crashed before its first checkpoint starts again
            result = train_autoencoder(args.corpus, out, None if resume else config, resume=resume,
                                       overwrite=True, progress=False, max_steps=args.steps)
            seconds = time.perf_counter() - started
            record = {"arm": arm, "seed": seed, "steps": result.get("step"), "seconds": seconds,
                      "chunks_per_s": (args.steps - first) * SHARED["ae.batch_chunks"] / seconds,  # this call's steps
                      "train_loss": result.get("train_loss"), "threads": args.threads}
            (out / "done.json").write_text(json.dumps(record, indent=1))
            print(json.dumps(record), flush=True)


def evaluate(args: argparse.Namespace) -> None:
    """Every finished arm's best checkpoint through `tsm evaluate-ae`'s figures on one split → RUNS/<arm>/eval-<split>.json."""
    from timestepmusic.autoencoder import Autoencoder
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.latent_space import evaluate_autoencoder

    torch.set_num_threads(args.threads)
    corpus = Corpus.open(args.corpus)
    for run in sorted(Path(args.runs).glob("*-s[0-9]*")):
        if args.arms and run.name.rsplit("-s", 1)[0] not in args.arms.split(","):
            continue
        out = run / f"eval-{args.split}.json"
        if out.exists() or not (run / "done.json").exists():
            continue
        started = time.perf_counter()
        summary = evaluate_autoencoder(Autoencoder.load(run / "best"), corpus, args.split,
                                       max_seconds_per_track=args.seconds_per_track)
        summary["evaluated_s"] = time.perf_counter() - started
        summary["seconds_per_track"] = args.seconds_per_track
        out.write_text(json.dumps(summary, indent=1))
        print(f"{run.name}: note F1 {summary['notes']['f1']:.3f}, ceiling {summary['ceiling']['accuracy']:.3f}", flush=True)


def table(args: argparse.Namespace) -> None:
    """The comparison table (markdown) of every evaluated arm on one split."""
    rows = []
    for run in sorted(Path(args.runs).glob("*-s[0-9]*")):
        path = run / f"eval-{args.split}.json"
        if not path.exists():
            continue
        e, done = json.loads(path.read_text()), json.loads((run / "done.json").read_text())
        t, smooth = e["timing"], e["smoothness"]
        rows.append([run.name, said(e['notes']['f1'], ".3f"), said(e['notes_with_offsets']['f1'], ".3f"),
                     said(e['velocity_mae'], ".2f"), said(e['pedal_f1_all'], ".3f"),
                     f"{t['damper_share']['mean_abs_difference']:.3f}", f"{t['soft_share']['mean_abs_difference']:.3f}",
                     f"{t['damper_presses_per_s']['relative_difference']:+.0%}",
                     f"{t['longest_note_s']['relative_difference']:+.0%}", f"{e['ceiling']['accuracy']:.3f}",
                     f"{smooth['noise 0.3']['note_f1_vs_clean']:.3f}",
                     f"{smooth['noise 0.3']['held_share']:.4f} / {smooth['clean']['held_share']:.4f}",
                     f"{max(smooth[k]['clipped_keys'] for k in smooth):.4f}",
                     f"{max(smooth[k]['clipped_values'] for k in smooth):.4f}",
                     f"{done['steps']:,}", f"{done['seconds'] / 60:.0f}"])
    header = ["arm", "note F1", "F1 +offsets", "vel. MAE", "pedal F1", "damper share ±", "soft share ±",
              "damper presses", "longest note", "ceiling acc.", "F1 @noise 0.3", "notes >4 s @0.3 / clean",
              "keys clipped (max)", "values clipped (max)", "steps", "train min"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--corpus", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--seeds", default="0")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=train)
    p = sub.add_parser("evaluate")
    p.add_argument("--corpus", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--split", default="validation")
    p.add_argument("--arms", default="")
    p.add_argument("--seconds-per-track", type=float, default=120.0)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=evaluate)
    p = sub.add_parser("table")
    p.add_argument("--runs", required=True)
    p.add_argument("--split", default="test")
    p.set_defaults(func=table)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
