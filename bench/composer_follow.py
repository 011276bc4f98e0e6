"""How far `tsm generate --composer NAME` makes pieces play like that composer's performances: each composer asked of
-n pieces of --seconds per sampling seed, beside the same number drawn unasked at the same seeds.

A composer classifier is fitted on real excerpts of the corpus's training split (multinomial logistic regression over
`tsm evaluate`'s scalar descriptors, standardised; each composer weighted alike), then read on
  - the real excerpts of --split (how well these descriptors name a composer at all: the ceiling),
  - the pieces asked each composer (the share it names as the one asked),
  - the unasked pieces (the share it names as each composer: the baseline a request is measured against).
It is fitted twice: on every descriptor, and on those the walked path does not tell (all but `TOLD`: nothing of
loudness, density, register, stepwise motion or pedalling), which says whether anything of the composer shows beyond
what each piece is told. How easily the pieces asked each composer, and the unasked ones, are told from that
composer's real excerpts (`tsm evaluate`'s logistic two-sample test over every descriptor and the pitch-class
histogram, 5 folds), and the unasked ones from the composers' real excerpts together; and each descriptor's mean per
composer, real (--split) beside asked. With --guidance G the asked pieces follow their paths guided (as `tsm generate
--guidance`; the unasked ones are drawn as `tsm generate` draws them).

    python bench/composer_follow.py --corpus /work/data/asap --split validation --seeds 0 1 \
        --markdown bench/results/composer_follow.md
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_drawing_arguments, drawing_seconds, drawn, table, write_markdown  # noqa: E402

COMPOSERS = ("Bach", "Beethoven", "Chopin", "Liszt")  # the four with most training performances (114–225)
TOLD = ("note_density", "velocity_mean", "velocity_std", "pitch_range", "stepwise_share", "damper_fraction",
        "half_pedal_share", "soft_fraction", "pedal_changes_per_s")  # what a walked path tells, or nearly
MEANS = ("note_density", "velocity_mean", "pitch_range", "polyphony_mean", "damper_fraction", "soft_fraction",
         "stepwise_share", "ioi_std", "pulse_clarity", "pitch_class_entropy", "duration_log_mean")
PER_COMPOSER_TRAIN = 600  # real training excerpts per composer the classifier is fitted on (fewer where fewer)


def features(described: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    """Descriptors → [X, F], an undefined value (NaN) as NaN (the pipeline imputes it)."""
    return np.stack([np.asarray(described[name], dtype=np.float64) for name in names], axis=1)


def fitted(x: np.ndarray, y: np.ndarray):
    """A standardised multinomial logistic regression, NaN imputed by the training mean, classes weighted alike."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    return model.fit(x, y)


def real_by_composer(corpus, split: str, seconds: float, composers: tuple[str, ...], most: int | None,
                     rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """`tsm evaluate`'s descriptors of `split`'s real excerpts of `seconds` by the composers named, and each one's
    composer [X]; at most `most` per composer (drawn at random)."""
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus

    excerpts = excerpts_from_corpus(corpus, split, seconds)
    composer = np.array([corpus.tracks[int(t)].get("composer") or "" for t in excerpts.group])  # [X]
    kept = []
    for name in composers:
        mine = np.flatnonzero(composer == name)
        kept.append(mine if most is None or mine.size <= most else np.sort(rng.choice(mine, most, replace=False)))
    kept = np.concatenate(kept)
    return describe(excerpts.take(kept)), composer[kept]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_drawing_arguments(parser, 48, "pieces per composer and sampling seed (and as many unasked)", 16.0)
    parser.add_argument("--corpus", type=Path, required=True, help="the prepared corpus the model was trained on")
    parser.add_argument("--split", default="validation", help="the real excerpts the classifier is read on")
    parser.add_argument("--composers", nargs="+", default=list(COMPOSERS))
    parser.add_argument("--guidance", type=float, help="as tsm generate --guidance (default: the model's)")
    args = parser.parse_args()

    import torch

    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.classifier_tests import classifier_test
    from timestepmusic.evaluate.compare import descriptor_features
    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS, describe
    from timestepmusic.evaluate.excerpts import excerpts_from_events
    from timestepmusic.generation import GANModel
    from timestepmusic.shipped import resolve_model

    torch.set_num_threads(1)
    composers = tuple(args.composers)
    corpus = Corpus.open(args.corpus)
    rng = np.random.default_rng(0)
    train, train_y = real_by_composer(corpus, "train", args.seconds, composers, PER_COMPOSER_TRAIN, rng)
    real, real_y = real_by_composer(corpus, args.split, args.seconds, composers, None, rng)
    untold = tuple(name for name in SCALAR_DESCRIPTORS if name not in TOLD)
    classifiers = {"every descriptor": (SCALAR_DESCRIPTORS, fitted(features(train, SCALAR_DESCRIPTORS), train_y)),
                   "untold only": (untold, fitted(features(train, untold), train_y))}

    gan = GANModel.load(resolve_model(args.model))
    gan.sample(2, args.seconds, 0)  # warm-up
    pieces: dict[str, list] = {name: [] for name in (*composers, "unasked")}
    seconds_taken = dict.fromkeys(pieces, 0.0)
    for seed in args.seeds:
        for name in pieces:
            t0 = time.perf_counter()
            asked = {} if name == "unasked" else {"composer": name}
            if args.guidance is not None and name != "unasked":  # (unasked: as tsm generate draws them)
                asked["guidance"] = args.guidance
            pieces[name] += drawn(gan, args.n, args.seconds, seed, args.select, **asked)
            seconds_taken[name] += time.perf_counter() - t0
    described = {name: describe(excerpts_from_events(drawn_pieces, args.seconds))
                 for name, drawn_pieces in pieces.items()}
    count = args.n * len(args.seeds)

    lines = [f"model {args.model}; {args.n} pieces of {args.seconds:g} s per composer asked and sampling seed "
             f"{', '.join(map(str, args.seeds))} ({count} per composer), and {count} unasked at the same seeds"
             + ("; the pieces the critic keeps (--select)" if args.select else "")
             + (f"; asked at guidance {args.guidance:g}" if args.guidance is not None else ""),
             f"classifier: multinomial logistic regression over standardised descriptors, fitted on {len(train_y)} real "
             f"{args.seconds:g} s excerpts of the training split (at most {PER_COMPOSER_TRAIN} per composer: "
             + ", ".join(f"{name} {int((train_y == name).sum())}" for name in composers)
             + f"), read on the {args.split} split's {len(real_y)} ("
             + ", ".join(f"{name} {int((real_y == name).sum())}" for name in composers) + ")",
             f"untold only: {', '.join(untold)}", ""]
    for what, (names, model) in classifiers.items():
        header = ["", *composers, "mean (real: of those in the split)"]
        real_named = model.predict(features(real, names))
        rows = [[f"real {args.split} excerpts: named as their composer"]
                + [f"{np.mean(real_named[real_y == name] == name):.3f}" if (real_y == name).any() else "—"
                   for name in composers]
                + [f"{np.mean([np.mean(real_named[real_y == n] == n) for n in composers if (real_y == n).any()]):.3f}"]]
        asked = [np.mean(model.predict(features(described[name], names)) == name) for name in composers]
        rows.append(["asked: named as the composer asked", *(f"{share:.3f}" for share in asked), f"{np.mean(asked):.3f}"])
        unasked_named = model.predict(features(described["unasked"], names))
        baseline = [np.mean(unasked_named == name) for name in composers]
        rows.append(["unasked: named as that composer", *(f"{share:.3f}" for share in baseline),
                     "(1/composers)"])
        lines += [f"## Named by the classifier on {what}", "", *table(header, rows), ""]
    present = [name for name in composers if (real_y == name).any()]
    real_features = descriptor_features(real)

    def apart(pieces_of: str, real_rows: np.ndarray) -> str:  # the logistic two-sample accuracy, as tsm evaluate's
        return f"{classifier_test(descriptor_features(described[pieces_of]), real_features[real_rows])['accuracy']:.3f}"
    rows = [["asked vs the composer's real excerpts", *(apart(name, real_y == name) for name in present), ""],
            ["unasked vs the composer's real excerpts", *(apart("unasked", real_y == name) for name in present),
             apart("unasked", np.ones(len(real_y), dtype=bool))]]
    lines += ["## Told from real (logistic two-sample accuracy: 0.5 = indistinguishable)", "",
              *table(["", *present, "all of them together"], rows), ""]
    rows = []
    for name in MEANS:
        cells = [name]
        for composer in composers:
            mine = real[name][real_y == composer]
            real_mean = f"{np.nanmean(mine):.3f}" if mine.size else "—"
            cells.append(f"{real_mean} / {np.nanmean(described[composer][name]):.3f}")
        cells.append(f"{np.nanmean(real[name]):.3f} / {np.nanmean(described['unasked'][name]):.3f}")
        rows.append(cells)
    lines += ["## Descriptor means: real (" + args.split + " split) / asked", "",
              *table(["descriptor", *composers, "all of them / unasked"], rows), "",
              drawing_seconds(seconds_taken, count, args.n)]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following `--composer`: the model `{args.model}`", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
