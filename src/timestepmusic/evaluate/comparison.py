"""`tsm evaluate`'s figures, written nowhere: the generated files' excerpts against held-out real ones
(`compared` → a `Comparison`), which report.py's evaluate_generated writes and summary.compare_with_real returns.

Rows of the report: the generated files, a shuffled-real-chunks baseline (a trivial generator any
model should beat), any extra excerpt tables the caller passes (e.g. autoencoder reconstructions),
and, as the ceiling, one half of the real excerpts against the other half (split by piece, all of a piece's
performances on one side; or with folds_by="performance", by performance).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..markers import made_by_marker
from ..midi import NUM_KEYS
from ..requests import holds_its_prompt
from ..setting_names import FLAGS, SettingNames
from ..sources import midi_below
from . import CLASSIFIER_REPEATS, FOLDS_BY, MIN_EXCERPTS
from .baseline_excerpts import shuffled_chunks, training_excerpts
from .classifier_tests import classifier_test, trees_classifier_test
from .compare import compare_descriptors, descriptor_features, split_halves
from .descriptors import DESCRIPTORS, SCALAR_DESCRIPTORS, describe
from .excerpts import EXCERPT_SECONDS, ExcerptTable, excerpts_from_corpus, excerpts_from_events
from .generated_files import files_of_the_split, read_generated, same_music
from .near_copies import COPY_THRESHOLD, TrainingOnsets, copy_check
from .stale import described

log = logging.getLogger("timestepmusic.evaluate.report")  # the report's records, as before these moved here

GENERATED, BASELINE, CEILING = "generated", "shuffled chunks", "real A vs real B"
TRAINING = "training excerpts"  # (train_row: real excerpts of the training split, as a perfect model of it draws)
REFERENCE_COPY_EXCERPTS = 32  # real held-out excerpts whose nearest training window calibrates the copy check
MIN_REAL_EXCERPTS = 100  # below this the figures and their ceiling are noisy (28 gave a ceiling overlap of 0.12)
HALVES_TOLD_APART = 0.7  # the two halves of a real split told apart above this (ASAP's test split: 0.58): said
FLOOR_TOLD_BELOW = 0.8  # real chunks shuffled told from real below this (ASAP's splits: 0.98 and above): said; with few
# pieces and folds that keep each whole, the classifiers have too little to learn what real playing is (3 pieces: 0.51–0.65)
SHORT_SHARE = 0.9  # a generated file lasting less than this share of --seconds is noted as padded with silence


def plain(value):
    """JSON-ready: numpy scalars → Python, NaN/inf → None, paths → str."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class Comparison:
    """What `compared` found of the generated files against the real excerpts: everything a report says but its
    figures (plots, audio) and training curves. Lists over the files read are in the order of `names`."""

    corpus: object  # the Corpus compared with
    folder: Path | None  # the folder the files were read from (None: a list of files)
    performances: list  # [files] Events
    names: list[str]  # [files] file names
    sha1s: list[str]  # [files] SHA-1 of each file's bytes
    bad: list[dict]  # files that could not be read, with why
    left_out: list[dict]  # files read with notes not described (drums, another voice)
    paths: list[Path]  # [files]
    markers: list  # [files] the command that drew each, or None
    tables: dict  # row → ExcerptTable (GENERATED first)
    real: ExcerptTable  # the real excerpts of the split
    real_desc: dict  # descriptor → [X] values of the real excerpts
    descs: dict  # row → descriptor → values
    half_a: np.ndarray  # excerpt indices of the real halves (the ceiling)
    half_b: np.ndarray
    descriptors: dict  # compare_descriptors' result, with labels and the ceiling
    classifier: dict  # row → classifier_test's result (logistic)
    classifier_trees: dict  # row → trees_classifier_test's result
    copies: dict  # the copy check
    notes: list[str]  # what makes the figures rough or odd
    folds_by: str = "piece"  # what the folds and the halves keep whole on the real side (FOLDS_BY)

    def report_figures(self, split: str) -> dict:
        """What report.json holds of this comparison with the real excerpts of `split`, JSON-ready (`plain`): the
        files read ("read", "bad", "left_out", "described"), the excerpts of each row and of the real halves, the rows,
        the descriptors' comparison and each row's mean overlap, both classifiers', the copy check and the notes; the
        one dict `evaluate_generated` writes (with its plots, samples and paths) and compare_with_real reads its
        figures from; "folds_by": what the folds kept whole (a report without it was made by performance)."""
        return plain({"folds_by": self.folds_by,
            "files": {"read": len(self.names), "bad": self.bad, "left_out": self.left_out,
                      "described": described(self.names, self.sha1s)},
            "excerpts": {f"real ({split})": self.real.num_excerpts,
                         **{row: table.num_excerpts for row, table in self.tables.items()},
                         "real A": int(self.half_a.size), "real B": int(self.half_b.size)},
            "rows": list(self.tables), "descriptors": self.descriptors,
            "mean_overlap": {row: mean_overlap(self.descriptors[name]["rows"][row]["overlap"]
                                               for name in SCALAR_DESCRIPTORS) for row in self.tables}
            | {CEILING: mean_overlap(self.descriptors[name]["ceiling"]["overlap"] for name in SCALAR_DESCRIPTORS)},
            "classifier": self.classifier,
            "classifier_trees": self.classifier_trees, "copies": self.copies, "notes": self.notes})


def mean_overlap(overlaps) -> float | None:
    """The mean of a row's descriptor overlaps over the descriptors where it is defined (report.html's last row, the
    README's "mean descriptor overlap"); None where none is."""
    finite = [float(v) for v in overlaps if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def piece_codes(corpus, tracks) -> np.ndarray:
    """One integer per piece for each corpus track index in `tracks` [X] → [X]: tracks of one "piece" (the corpus's
    name of it) share a code; a track without a piece name is a piece of its own."""
    codes: dict = {}
    code_of = np.array([codes.setdefault(track.get("piece") or ("track", t), len(codes))  # (a name never equals a tuple)
                        for t, track in enumerate(corpus.tracks)], dtype=np.int64)  # [tracks]
    return code_of[np.asarray(tracks, dtype=np.int64)]


def fold_groups(corpus, tracks, folds_by: str = "piece") -> np.ndarray:
    """The groups the classifiers' folds (and the real halves) keep whole, of excerpts of corpus tracks `tracks` [X]:
    their pieces (piece_codes) with `folds_by` "piece", the tracks themselves with "performance"."""
    return piece_codes(corpus, tracks) if folds_by == "piece" else np.asarray(tracks, dtype=np.int64)


def folds_unit(report: dict) -> str:
    """What a report's folds kept whole on the real side, as its words say it: "piece" or "performance" (a report
    without "folds_by" was made before it was chosen, by performance)."""
    return "piece" if report.get("folds_by") == "piece" else "performance"


def compared(generated: str | Path | Sequence[str | Path], corpus, *, split: str = "test", train_split: str = "train",
             extra_rows: dict[str, ExcerptTable] | None = None, seconds: float = EXCERPT_SECONDS, seed: int = 0,
             copy_threshold: float = COPY_THRESHOLD, transpose: bool = False, max_real_excerpts: int | None = None,
             repeats: int = CLASSIFIER_REPEATS, train_row: bool = False, folds_by: str = "piece",
             setting_names: SettingNames = FLAGS, progress: bool = False) -> Comparison:
    """The figures of `evaluate_generated` (its arguments of the same names), written nowhere: `generated` a folder
    (its .mid/.midi files) or a list of MIDI files. What its notes ask of the caller names `tsm evaluate`'s flags
    (--split, --seconds) and `tsm generate -n 200`, or with `setting_names` PYTHON_KEYWORDS, compare_with_real()'s
    keywords (split=, seconds=) and generate()'s n=200. `progress`: a bar on stderr, where it is a terminal, over the
    classifiers' draws (most of the minutes it takes). `folds_by` (FOLDS_BY): the classifiers' folds keep each real
    piece whole, all its performances (the training row's too), and the ceiling's halves split the real excerpts by
    piece; or with "performance", each performance. Generated files are one group each either way; the
    shuffled-chunks baseline's own excerpts keep their groups."""
    from ..corpus import Corpus

    if folds_by not in FOLDS_BY:
        raise ValueError(f"{setting_names.name('folds_by')} must be 'piece' or 'performance', got {folds_by!r}")

    if repeats < 1:
        raise ValueError(f"--repeats must be ≥ 1, got {repeats}")
    if train_row and split == train_split:
        raise ValueError(f"--train-row: the training excerpts would be the compared {split} split itself; give another "
                         "--split or --train-split")
    if max_real_excerpts is not None and max_real_excerpts < 1:
        raise ValueError(f"--max-real-excerpts must be ≥ 1, got {max_real_excerpts}")
    split_said, seconds_said = setting_names.name("split"), setting_names.name("seconds")  # (--split; split=)
    train_said = setting_names.name("train_split") if setting_names.cli else None  # (compare_with_real(): 'train')
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    if corpus.tracks_in(split).size == 0:  # (excerpts_from_corpus says so too, naming --split whoever the caller)
        raise ValueError(corpus.empty_split(split, split_said))
    folder = Path(generated) if isinstance(generated, (str, Path)) else None  # (None: a list of files)
    performances, names, sha1s, bad, left_out, paths = read_generated(generated, corpus.config.events.pedal_bins)
    deeper = [] if folder is None else midi_below(folder)  # (another system's folder of folders: not read)

    tables: dict[str, ExcerptTable] = {GENERATED: excerpts_from_events(performances, seconds, names)}
    real = excerpts_from_corpus(corpus, split, seconds, max_excerpts=max_real_excerpts)
    notes: list[str] = []
    # a real performance shorter than the excerpts is one excerpt, silent after its end, as a short generated file is
    real_lengths = np.array([float(corpus.tracks[t]["duration_s"]) for t in real.group])  # [X], its track's length
    real_short = real_lengths < SHORT_SHARE * seconds
    if real.num_excerpts == 0 or real_short.all():
        longest = f" (its longest performance lasts {float(real_lengths.max()):.0f} s)" if real.num_excerpts else ""
        raise ValueError(f"{corpus.root}: no real excerpts of {seconds:g} s in the {split} split to compare with"
                         f"{longest}; choose another {split_said}, shorter {seconds_said} or a larger corpus")
    if real_short.any():
        performances_short = np.unique(real.group[real_short])
        notes.append(f"{performances_short.size} of {np.unique(real.group).size} real performances in the {split} "
                     f"split last less than {seconds:g} s (median {float(np.median(real_lengths[real_short])):.1f} s): "
                     f"each is one excerpt of {seconds:g} s, silent after its end, which the descriptors count "
                     f"({int(real_short.sum())} of the {real.num_excerpts} real excerpts)")
        log.warning("%s", notes[-1])
    if real.num_excerpts < MIN_REAL_EXCERPTS:
        notes.append(f"only {real.num_excerpts} real excerpts of {seconds:g} s in the {split} split (fewer than "
                     f"{MIN_REAL_EXCERPTS}): the figures are rough, and the ceiling, from two halves of them, is low; "
                     f"use a larger split ({split_said}), shorter {seconds_said} or a larger corpus")
        log.warning("%s", notes[-1])
    lengths = np.array([p.end_s for p in performances])  # to the last sound's end
    short = lengths < SHORT_SHARE * seconds
    if short.any():
        notes.append(f"{int(short.sum())} of {len(performances)} generated files last less than {seconds:g} s "
                     f"(median {float(np.median(lengths[short])):.1f} s): each is one excerpt of {seconds:g} s, silent "
                     f"after its end, which the descriptors count; pass {seconds_said} no longer than the files")
        log.warning("%s", notes[-1])
    if deeper:
        notes.append(f"{len(deeper)} more MIDI file{'s are' if len(deeper) > 1 else ' is'} in subfolders of "
                     f"{folder}, which evaluate does not read ({deeper[0].relative_to(folder)}"
                     f"{', …' if len(deeper) > 1 else ''}): only {_directly_in(len(names), len(bad))} "
                     "evaluated; give a subfolder to evaluate it")
        log.warning("%s", notes[-1])
    in_split = files_of_the_split(names, sha1s, corpus, split)
    if in_split:  # real files evaluated as generated against their own split: on both sides of every comparison
        notes.append(f"{len(in_split)} of the {len(names)} files are performances of the {split} split itself (the same "
                     f"bytes: {', '.join(in_split[:3])}{', …' if len(in_split) > 3 else ''}): their excerpts are among "
                     "the real ones they are compared with, so the overlaps run high and the accuracies below 0.5 "
                     "(each mistaken for its twin); evaluate music from outside the split")
        log.warning("%s", notes[-1])
    markers = [made_by_marker(path) for path in paths]  # [files]: the command that drew each, or None
    prompted = [name for name, marker in zip(names, markers) if holds_its_prompt(marker)]
    if prompted:  # a continuation written whole: the real performance it continues is measured as generated
        notes.append(f"{len(prompted)} of the {len(names)} files begin with the performance given to tsm generate "
                     f"--prompt (their markers say so: {', '.join(prompted[:3])}{', …' if len(prompted) > 3 else ''}): "
                     "its real notes are described as generated, and counted as near copies where it is a training "
                     "performance; draw them again with --continuation-only to evaluate what the model played alone")
        log.warning("%s", notes[-1])
    generated = tables[GENERATED]
    struck = np.bincount(generated.excerpt[generated.ids < NUM_KEYS], minlength=generated.num_excerpts)  # [X] notes
    if (silent := struck == 0).any():  # another system's long silences: excerpts of nothing, told by that alone
        files = list(dict.fromkeys(names[g] for g in generated.group[silent]))
        notes.append(f"{int(silent.sum())} of the {generated.num_excerpts} generated excerpts of {seconds:g} s hold no "
                     f"note (silence throughout, in {len(files)} file{'s' * (len(files) > 1)}: "
                     f"{', '.join(files[:3])}{', …' if len(files) > 3 else ''}): they are compared as they are, and "
                     "the descriptors of notes (pitch, velocity, intervals) are measured over the others alone")
        log.warning("%s", notes[-1])
    twin_of = same_music(performances)  # [files]: the first file of the same notes, pedals and times
    twins = [(names[i], names[first]) for i, first in enumerate(twin_of) if first != i]
    if twins:  # one piece saved twice: one group, not two that agree by chance (p counted it twice)
        notes.append(f"{len(twins)} of the {len(names)} files {'holds' if len(twins) == 1 else 'hold'} the same "
                     "music as another file ("
                     f"{', '.join(f'{a} = {b}' for a, b in twins[:3])}{', …' if len(twins) > 3 else ''}): the "
                     "classifiers' folds and p-values count each such set as one file; its excerpts are all described, "
                     "so that the set weighs as many times in the overlaps; remove the copies to weigh it once")
        log.warning("%s", notes[-1])
    file_of = twin_of[generated.group]  # [X]: each generated excerpt's file, a file's copies as one
    sizes = np.bincount(file_of, minlength=len(names))  # [files]: excerpts of each (copies as one)
    if len(names) > 1 and sizes.max() > generated.num_excerpts / 2:  # its fold is tested by a model trained on few
        notes.append(f"{names[int(sizes.argmax())]} holds {int(sizes.max())} of the {generated.num_excerpts} generated "
                     "excerpts: the folds keep each file whole, so the classifiers that test it learnt the generated "
                     "side from the few others, and their accuracies may read near 0.5 however unlike real it is; "
                     f"cut long files into pieces of about {seconds_said}, or give more files")
        log.warning("%s", notes[-1])
    if tables[GENERATED].num_excerpts < MIN_EXCERPTS:
        notes.append(f"only {tables[GENERATED].num_excerpts} generated excerpts of {seconds:g} s (fewer than "
                     f"{MIN_EXCERPTS}): the classifier's accuracy and the overlaps are rough (see their "
                     f"p-values); generate more pieces ({'tsm generate ' if setting_names.cli else 'generate() with '}"
                     f"{setting_names.given('n', 200)})")
        log.warning("%s", notes[-1])
    try:
        tables[BASELINE] = shuffled_chunks(corpus, train_split, real.num_excerpts, seconds, seed, train_said)
    except ValueError as e:
        notes.append(f"no shuffled-chunks baseline: {e}")
        log.warning("%s", notes[-1])
    if train_row:
        tables[TRAINING] = training_excerpts(corpus, train_split, tables[GENERATED].num_excerpts, seconds, seed,
                                             train_said)
    tables |= dict(extra_rows or {})
    real_folds = fold_groups(corpus, real.group, folds_by)  # [X]: each real excerpt's piece (or performance)
    if folds_by == "piece" and np.unique(real_folds).size < 2 <= np.unique(real.group).size:  # one piece, its takes
        # (by piece the real side would be one group: folds dealt excerpt by excerpt, halves that share performances)
        folds_by, real_folds = "performance", fold_groups(corpus, real.group, "performance")
        notes.append(f"the {np.unique(real.group).size} real performances of the {split} split are all of one piece: "
                     "the classifiers' folds and the real halves keep each performance whole instead (as "
                     f"{setting_names.given('folds_by', 'performance' if setting_names.cli else repr('performance'))}"
                     "), so a classifier may train on one performance of the piece it tests; compare against a split "
                     "of more pieces")
        log.warning("%s", notes[-1])
    half_a, half_b = split_halves(real, seed, real_folds)
    real_desc = describe(real)
    descs = {row: describe(t) for row, t in tables.items()}
    desc_a, desc_b = (describe(real.take(h)) for h in (half_a, half_b))

    comparison = compare_descriptors(real_desc, descs)
    ceiling = compare_descriptors(desc_a, {CEILING: desc_b})
    for name in SCALAR_DESCRIPTORS:
        label, unit = DESCRIPTORS[name]
        comparison[name] |= {"label": label, "unit": unit, "ceiling": ceiling[name]["rows"][CEILING]}
    pairs = {row: (descriptor_features(real_desc), descriptor_features(d)) for row, d in descs.items()}
    pairs[CEILING] = (descriptor_features(desc_a), descriptor_features(desc_b))
    # the piece (or performance) or file of each excerpt: the classifiers' folds keep each whole
    # (classifier_tests.classifier_test); the baseline's chunks and extra rows keep their own groups
    groups = {row: (real_folds, t.group) for row, t in tables.items()}
    groups[GENERATED] = (real_folds, file_of)  # (a file's copies: one group)
    if TRAINING in tables:  # (corpus track indices too)
        groups[TRAINING] = (real_folds, fold_groups(corpus, tables[TRAINING].group, folds_by))
    groups[CEILING] = (real_folds[half_a], real_folds[half_b])
    from tqdm import tqdm

    with tqdm(total=2 * len(pairs) * repeats, desc="classifiers", unit="draw", leave=False,
              disable=None if progress else True) as bar:  # (a row whose trees cannot split draws none)
        classifier = {row: classifier_test(*pair, seed=seed, repeats=repeats, groups=groups[row], progress=bar.update)
                      for row, pair in pairs.items()}
        classifier_trees = {row: trees_classifier_test(*pair, seed=seed, repeats=repeats, groups=groups[row],
                                                       progress=bar.update) for row, pair in pairs.items()}
    halves_told = classifier[CEILING]["accuracy"]
    if halves_told > HALVES_TOLD_APART:  # the ceiling itself far from 0.5: few or unlike performances
        tracks = f", {len(np.unique(real.group))} performances" + (
            f" of {len(np.unique(real_folds))} pieces" if folds_by == "piece" else "")
        notes.append(f"the two halves of the real excerpts ({split} split{tracks}, split by {folds_by}) are "
                     f"themselves told apart at {halves_told:.2f}, where "
                     "halves of a large corpus score near 0.5–0.6: its performances are too few or too unlike one "
                     "another for the generated row's figures to mean much; compare against a larger split or corpus")
        log.warning("%s", notes[-1])
    floor_told = (classifier.get(BASELINE) or {}).get("accuracy")
    if floor_told is not None and floor_told < FLOOR_TOLD_BELOW:  # the floor itself near 0.5: too few pieces to learn from
        pieces = f" ({len(np.unique(real_folds))} {folds_by}s)"
        notes.append(f"real chunks shuffled at random are told from the real excerpts of the {split} split{pieces} at only "
                     f"{floor_told:.2f}, where a large corpus tells them at 0.98 and above: {folds_by}s this few leave the "
                     "classifiers too little to learn what real playing is, so the generated row's accuracy near 0.5 "
                     "does not mean it plays like a pianist; compare against a split with more pieces")
        log.warning("%s", notes[-1])

    copies: dict = {"threshold": copy_threshold, "transpose": transpose, "train_split": train_split}
    try:
        onsets = TrainingOnsets(corpus, train_split, seconds, train_said)
        copies["generated"] = copy_check(tables[GENERATED], onsets, copy_threshold, transpose)
        copies["flagged"] = sum(c["flagged"] for c in copies["generated"])
        pick = np.unique(np.linspace(0, real.num_excerpts - 1, min(REFERENCE_COPY_EXCERPTS, real.num_excerpts)).astype(int))
        reference = [c["similarity"] for c in copy_check(real.take(pick), onsets, copy_threshold, transpose)]
        copies["real_reference"] = {"split": split, "n": len(reference), "median": float(np.median(reference)),
                                    "max": float(np.max(reference))}
    except ValueError as e:
        notes.append(f"no copy check: {e}")
        log.warning("%s", notes[-1])

    return Comparison(corpus, folder, performances, names, sha1s, bad, left_out, paths, markers, tables, real,
                      real_desc, descs, half_a, half_b, comparison, classifier, classifier_trees, copies, notes,
                      folds_by)


def _directly_in(usable: int, unusable: int) -> str:
    """The files of a folder that evaluate reads, as the note of its subfolders' says them: 'the 8 directly in it are',
    or where some were not usable, 'the 6 usable of the 8 directly in it are' (the count the report reads, not one
    beside it that disagrees)."""
    in_it = usable + unusable
    return (f"the {usable} usable of the {in_it} directly in it {'are' if usable > 1 else 'is'}" if unusable
            else f"the {in_it} directly in it {'are' if in_it > 1 else 'is'}")
