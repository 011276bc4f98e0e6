"""`tsm evaluate`: a folder of generated MIDI files against held-out real music → report.json and a
self-contained report.html (figures and audio embedded as data URIs, so the one file can be mailed).

Rows of the report: the generated files, a shuffled-real-chunks baseline (a trivial generator any
model should beat), any extra excerpt tables the caller passes (e.g. autoencoder reconstructions),
and, as the ceiling, one half of the real excerpts against the other half (split by track).
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import atomic_path
from ..markers import made_by_marker
from ..midi import NUM_KEYS, events_from_bytes, file_bytes
from ..requests import holds_its_prompt
from ..setting_names import FLAGS, SettingNames
from ..sources import midi_below, midi_in
from . import CLASSIFIER_REPEATS, MIN_EXCERPTS
from .baseline_excerpts import shuffled_chunks, training_excerpts
from .classifier_tests import classifier_test, trees_classifier_test
from .compare import compare_descriptors, descriptor_features, split_halves
from .descriptors import DESCRIPTOR_MEANING, DESCRIPTORS, SCALAR_DESCRIPTORS, describe
from .excerpts import EXCERPT_SECONDS, ExcerptTable, excerpts_from_corpus, excerpts_from_events
from .near_copies import COPY_THRESHOLD, TrainingOnsets, copy_check
from .stale import described, record_report, stale_banner

log = logging.getLogger(__name__)

GENERATED, BASELINE, CEILING = "generated", "shuffled chunks", "real A vs real B"
TRAINING = "training excerpts"  # (train_row: real excerpts of the training split, as a perfect model of it draws)
REFERENCE_COPY_EXCERPTS = 32  # real held-out excerpts whose nearest training window calibrates the copy check
MIN_REAL_EXCERPTS = 100  # below this the figures and their ceiling are noisy (28 gave a ceiling overlap of 0.12)
HALVES_TOLD_APART = 0.7  # the two halves of a real split told apart above this (ASAP's test split: 0.58): said
REPORT_SAMPLE_RATE = 22050  # WAVs rendered for the report: half CD rate keeps the HTML small
SHORT_SHARE = 0.9  # a generated file lasting less than this share of --seconds is noted as padded with silence


def write_report(out_dir: Path, report: dict) -> None:
    """report.json and report.html into `out_dir`, both written before either replaces an earlier one (files.atomic_path):
    a write that fails (a full disk) names the file and leaves the earlier report whole, not one file of each."""
    with atomic_path(out_dir / "report.json") as json_tmp:
        json_tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
        with atomic_path(out_dir / "report.html") as html_tmp:  # (its failure named as report.html, not report.json)
            html_tmp.write_text(render_html(report), encoding="utf-8")


def _plain(value):
    """JSON-ready: numpy scalars → Python, NaN/inf → None, paths → str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


def read_generated(folder: str | Path | Sequence[str | Path],
                   pedal_bins: int) -> tuple[list, list[str], list[str], list[dict], list[dict], list[Path]]:
    """Every .mid/.midi directly in `folder` (or the MIDI files of a list) → (performances, their file names, their
    bytes' SHA-1s, bad files with reasons, the files read whose notes are not all described with those left out:
    drums, another voice beside the piano, notes beyond the keys, as midi.DropCounts.notes_left_out words them, and the
    paths of the files read), each file read once."""
    if not isinstance(folder, (str, Path)):  # a list of files: each must be there (a folder's broken link is skipped)
        files = [Path(f) for f in folder]  # (read once: a glob's generator, too)
        if not files:
            raise ValueError("no generated MIDI files given: give a folder of them or a list of their paths")
        for path in files:
            if not path.is_file():
                raise ValueError(f"{path}: no such generated MIDI file")
        return _read_files(files, pedal_bins, f"{len(files)} files given")
    folder = Path(folder)
    if folder.is_file():
        raise ValueError(f"{folder}: a file; give the folder that holds the generated MIDI files (tsm generate's -o)")
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder of generated MIDI files")
    files = midi_in(folder)
    if not files:
        deeper = midi_below(folder)
        raise ValueError(f"{folder}: no .mid or .midi files to evaluate" + (
            f" (it reads the folder itself, not its subfolders: {deeper[0].relative_to(folder)} is in one)" if deeper
            else ""))
    deeper = len(midi_below(folder))
    return _read_files(files, pedal_bins, str(folder), f"; {deeper} more {'is' if deeper == 1 else 'are'} in its "
                       "subfolders, which it does not read" if deeper else "")


def _read_files(files: list[Path], pedal_bins: int, given: str, elsewhere: str = "") -> tuple:
    """read_generated of these files; `given` names them in the error where none is usable, `elsewhere` says what
    more there is."""
    performances, names, sha1s, bad, left_out, read = [], [], [], [], [], []
    for path in files:
        try:
            data = file_bytes(path)
            events, drops = events_from_bytes(data, path, pedal_bins=pedal_bins)
            performances.append(events)
            names.append(path.name)
            read.append(path)
            sha1s.append(hashlib.sha1(data).hexdigest())
            if notes := drops.notes_left_out():  # (another system's drums and bass beside its piano: not described)
                left_out.append({"file": str(path), "notes": notes})
                log.info("%s: notes left out: %s", path, notes)  # the report lists them, and the CLI prints them once
        except ValueError as e:
            reason = str(e).removeprefix(f"{path}: ")
            bad.append({"file": str(path), "reason": reason})
            log.info("skipped %s: %s", path, reason)  # the report lists every bad file, and the CLI prints it once
    if not performances:
        raise ValueError(f"{given}: none of the {len(files)} MIDI files is usable "
                         f"({'; '.join(b['file'] + ': ' + b['reason'] for b in bad)}){elsewhere}")
    return performances, names, sha1s, bad, left_out, read


def same_music(performances: list) -> np.ndarray:
    """Each performance → the index of the first one with the same events (the same notes, pedals and times, however
    the files were written: another tick resolution, another track layout), itself where it has no earlier twin."""
    first: dict[str, int] = {}
    twin_of = []
    for i, events in enumerate(performances):
        ordered = events.sorted()
        digest = hashlib.sha1(b"".join(np.ascontiguousarray(getattr(ordered, a)).tobytes()
                                       for a in ("ids", "start_s", "duration_s", "intensity"))).hexdigest()
        twin_of.append(first.setdefault(digest, i))
    return np.array(twin_of, dtype=np.int64)


def _files_of_the_split(names: list[str], sha1s: list[str], corpus, split: str) -> list[str]:
    """The files (by name, with their bytes' SHA-1s) whose bytes are those of a performance of `corpus`'s `split`."""
    ours = {track.get("sha1") for track in corpus.tracks if track.get("split") == split} - {None}
    return [name for name, sha1 in zip(names, sha1s) if sha1 in ours]


def _audio_for(midi: Path, out_dir: Path, wav: bool, soundfont) -> tuple[Path | None, str | None]:
    """(a WAV for this MIDI file, or why there is none): one beside it, else rendered when `wav`."""
    beside = midi.with_suffix(".wav")
    if beside.is_file():
        return beside, None
    if not wav:
        return None, "no audio: run `tsm evaluate … --wav` to render it with FluidSynth"
    from .audio import AudioUnavailable, render_wav, warn_unavailable

    try:
        return render_wav(midi, out_dir / "audio" / f"{midi.stem}.wav", soundfont, sample_rate=REPORT_SAMPLE_RATE), None
    except AudioUnavailable as e:
        warn_unavailable("no audio in the report", e)
        return None, f"no audio: {e}"
    except ValueError as e:
        log.warning("no audio for %s: %s", midi, e)
        return None, f"no audio: {e}"


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

    def report_figures(self, split: str) -> dict:
        """What report.json holds of this comparison with the real excerpts of `split`, JSON-ready (`_plain`): the
        files read ("read", "bad", "left_out", "described"), the excerpts of each row and of the real halves, the rows,
        the descriptors' comparison, both classifiers', the copy check and the notes; the one dict `evaluate_generated`
        writes (with its plots, samples and paths) and compare_with_real reads its figures from."""
        return _plain({
            "files": {"read": len(self.names), "bad": self.bad, "left_out": self.left_out,
                      "described": described(self.names, self.sha1s)},
            "excerpts": {f"real ({split})": self.real.num_excerpts,
                         **{row: table.num_excerpts for row, table in self.tables.items()},
                         "real A": int(self.half_a.size), "real B": int(self.half_b.size)},
            "rows": list(self.tables), "descriptors": self.descriptors, "classifier": self.classifier,
            "classifier_trees": self.classifier_trees, "copies": self.copies, "notes": self.notes})


def compared(generated: str | Path | Sequence[str | Path], corpus, *, split: str = "test", train_split: str = "train",
             extra_rows: dict[str, ExcerptTable] | None = None, seconds: float = EXCERPT_SECONDS, seed: int = 0,
             copy_threshold: float = COPY_THRESHOLD, transpose: bool = False, max_real_excerpts: int | None = None,
             repeats: int = CLASSIFIER_REPEATS, train_row: bool = False,
             setting_names: SettingNames = FLAGS, progress: bool = False) -> Comparison:
    """The figures of `evaluate_generated` (its arguments of the same names), written nowhere: `generated` a folder
    (its .mid/.midi files) or a list of MIDI files. What its notes ask of the caller names `tsm evaluate`'s flags
    (--split, --seconds) and `tsm generate -n 200`, or with `setting_names` PYTHON_KEYWORDS, compare_with_real()'s
    keywords (split=, seconds=) and generate()'s n=200. `progress`: a bar on stderr, where it is a terminal, over the
    classifiers' draws (most of the minutes it takes)."""
    from ..corpus import Corpus

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
                     f"{', …' if len(deeper) > 1 else ''}): only the {len(names) + len(bad)} directly in it are "
                     "counted; give a subfolder to evaluate it")
        log.warning("%s", notes[-1])
    in_split = _files_of_the_split(names, sha1s, corpus, split)
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
    half_a, half_b = split_halves(real, seed)
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
    # the performance or file of each excerpt: the classifiers' folds keep each whole (classifier_tests.classifier_test)
    groups = {row: (real.group, t.group) for row, t in tables.items()}
    groups[GENERATED] = (real.group, file_of)  # (a file's copies: one group)
    groups[CEILING] = (real.group[half_a], real.group[half_b])
    from tqdm import tqdm

    with tqdm(total=2 * len(pairs) * repeats, desc="classifiers", unit="draw", leave=False,
              disable=None if progress else True) as bar:  # (a row whose trees cannot split draws none)
        classifier = {row: classifier_test(*pair, seed=seed, repeats=repeats, groups=groups[row], progress=bar.update)
                      for row, pair in pairs.items()}
        classifier_trees = {row: trees_classifier_test(*pair, seed=seed, repeats=repeats, groups=groups[row],
                                                       progress=bar.update) for row, pair in pairs.items()}
    halves_told = classifier[CEILING]["accuracy"]
    if halves_told > HALVES_TOLD_APART:  # the ceiling itself far from 0.5: few or unlike performances
        tracks = "" if real.group is None else f", {len(np.unique(real.group))} performances"
        notes.append(f"the two halves of the real excerpts ({split} split{tracks}, split by performance) are "
                     f"themselves told apart at {halves_told:.2f}, where "
                     "halves of a large corpus score near 0.5–0.6: its performances are too few or too unlike one "
                     "another for the generated row's figures to mean much; compare against a larger split or corpus")
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
                      real_desc, descs, half_a, half_b, comparison, classifier, classifier_trees, copies, notes)


def evaluate_generated(generated_dir: str | Path, corpus, out_dir: str | Path, *, split: str = "test",
                       train_split: str = "train", extra_rows: dict[str, ExcerptTable] | None = None,
                       runs: list[str | Path] | None = None, wav: bool = False, seconds: float = EXCERPT_SECONDS,
                       seed: int = 0, copy_threshold: float = COPY_THRESHOLD, transpose: bool = False,
                       max_rolls: int = 4, max_real_excerpts: int | None = None, soundfont=None,
                       link_audio: bool = False, repeats: int = CLASSIFIER_REPEATS, train_row: bool = False,
                       setting_names: SettingNames = FLAGS, progress: bool = False) -> dict:
    """Describe generated files and real `split` excerpts of `corpus` (a Corpus or its folder), compare
    them, check for copies of the `train_split`, and write report.json + report.html into `out_dir`.
    `repeats`: draws of the classifiers' balancing subsample and folds each accuracy is averaged over.
    `link_audio`: the page links the WAV files in `out_dir`/audio instead of embedding them (a small
    page; keep the folder together). `train_row`: also a row of as many real excerpts of the `train_split` as there
    are generated ones: what a model that had learnt it exactly would score against `split`. `setting_names`: as
    `compared`'s notes name the settings; `progress`: as `compared`'s. Returns the report (as written to report.json)."""
    from .plots import plot_densities, plot_roll, plot_training_curves

    found = compared(generated_dir, corpus, split=split, train_split=train_split, extra_rows=extra_rows,
                     seconds=seconds, seed=seed, copy_threshold=copy_threshold, transpose=transpose,
                     max_real_excerpts=max_real_excerpts, repeats=repeats, train_row=train_row,
                     setting_names=setting_names, progress=progress)
    corpus, names = found.corpus, found.names
    generated_dir, out_dir = Path(generated_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = out_dir / "figures"
    density_sets = {f"real ({split})": found.real_desc} | found.descs
    figures = {"densities": plot_densities(density_sets, figures_dir / "densities.png")}
    samples = []
    for events, name, path in list(zip(found.performances, names, found.paths))[:max_rolls]:
        roll = plot_roll(events, figures_dir / f"roll_{Path(name).stem}.png", title=name)
        audio, why = _audio_for(path, out_dir, wav, soundfont)
        if audio is not None and link_audio and Path(audio).parent != out_dir / "audio":  # a WAV beside the MIDI
            (out_dir / "audio").mkdir(exist_ok=True)
            audio = Path(shutil.copy(audio, out_dir / "audio" / Path(audio).name))
        samples.append({"file": name, "roll": roll, "audio": audio, "audio_note": why})
    curves = []
    for run in runs or []:
        metrics = Path(run) / "metrics.jsonl" if Path(run).is_dir() else Path(run)
        if not metrics.is_file():
            curves.append({"run": str(run), "figure": None, "note": f"{metrics}: no such metrics log"})
            continue
        try:
            curves.append({"run": str(run), "figure": plot_training_curves(
                metrics, figures_dir / f"training_{len(curves)}.png", title=str(run))})
        except ValueError as e:
            curves.append({"run": str(run), "figure": None, "note": str(e)})

    compared_figures = found.report_figures(split)
    notes = compared_figures.pop("notes")  # (said after the plots, as report.json has always held them)
    flags = evaluate_flags(split=split, train_split=train_split, seconds=seconds, seed=seed, repeats=repeats,
                           max_real_excerpts=max_real_excerpts, train_row=train_row, copy_threshold=copy_threshold,
                           transpose=transpose, wav=wav, soundfont=soundfont, link_audio=link_audio, runs=runs)
    report = _plain({  # (the corpus absolute: the command a stale report names runs from any folder, stale._mark)
        "generated_dir": generated_dir, "corpus": os.path.abspath(corpus.root), "split": split, "train_split": train_split,
        "seconds": seconds, "seed": seed, **compared_figures,
        "figures": figures, "samples": samples, "training": curves, "notes": notes, "link_audio": link_audio,
        "out_dir": out_dir, "flags": flags})
    write_report(out_dir, report)
    log.info("wrote %s", out_dir / "report.html")
    if any(marker is not None for marker in found.markers):  # files tsm generate may replace: where their report is, noted
        record_report(generated_dir, out_dir)  # among them (a folder of the user's own MIDI is not written into)
    return report


def evaluate_flags(*, split: str, train_split: str, seconds: float, seed: int, repeats: int,
                   max_real_excerpts: int | None, train_row: bool, copy_threshold: float, transpose: bool, wav: bool,
                   soundfont, link_audio: bool, runs) -> list[str]:
    """The flags of `tsm evaluate` that write a report of these settings (evaluate_generated's) again, those at their
    default left out: what report.json keeps as "flags", so that the command a stale report names (stale.mark_stale)
    writes the same kind of report of the new files, not one of 16 s excerpts of the test split in place of yours.
    The paths (--soundfont, --run) are kept absolute, so that the command runs from any folder, not only from the one
    evaluate ran in (as the corpus report.json names is)."""
    flags = [*(["--split", split] if split != "test" else []),
             *(["--train-split", train_split] if train_split != "train" else []),
             *(["--seconds", f"{seconds:.15g}"] if seconds != EXCERPT_SECONDS else []),
             *(["--seed", str(seed)] if seed != 0 else []),
             *(["--repeats", str(repeats)] if repeats != CLASSIFIER_REPEATS else []),
             *(["--max-real-excerpts", str(max_real_excerpts)] if max_real_excerpts is not None else []),
             *(["--train-row"] if train_row else []),
             *(["--copy-threshold", f"{copy_threshold:.15g}"] if copy_threshold != COPY_THRESHOLD else []),
             *(["--transpose"] if transpose else []), *(["--wav"] if wav else []),
             *(["--soundfont", os.path.abspath(soundfont)] if wav and soundfont is not None else []),
             *(["--link-audio"] if link_audio else [])]
    return flags + [flag for run in runs or [] for flag in ("--run", os.path.abspath(run))]


# ---------------------------------------------------------------- HTML

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
.note{color:#8a5a00}.flag{background:#fdd}.sample{margin:1.5em 0}"""


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        if abs(value) < 1e-9:  # numerical zero (a KL of 1e-18 between identical densities)
            return "0"
        return f"{value:.{digits}g}" if abs(value) >= 1e-3 else f"{value:.1e}"
    return html.escape(str(value))


def _data_uri(path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def _descriptor_table(report: dict) -> str:
    rows = report["rows"]
    head = ["<tr><th rowspan=2>descriptor</th><th rowspan=2>unit</th><th rowspan=2>real mean ± sd</th>"]
    head += [f"<th colspan=3>{html.escape(r)}</th>" for r in rows] + [f"<th colspan=2>ceiling: {CEILING}</th></tr><tr>"]
    head += ["<th>mean ± sd</th><th>overlap</th><th>KL</th>"] * len(rows) + ["<th>overlap</th><th>KL</th></tr>"]
    body = []
    for name in SCALAR_DESCRIPTORS:
        d = report["descriptors"][name]
        cells = [html.escape(d["label"]), html.escape(d["unit"]), f"{_fmt(d['real']['mean'])} ± {_fmt(d['real']['std'])}"]
        for r in rows:
            c = d["rows"][r]
            cells += [f"{_fmt(c['mean'])} ± {_fmt(c['std'])}", _fmt(c["overlap"]), _fmt(c["kl"])]
        cells += [_fmt(d["ceiling"]["overlap"]), _fmt(d["ceiling"]["kl"])]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    def mean_overlap(overlaps) -> str:  # over the descriptors where it is defined, as the README's target reads it
        finite = [v for v in overlaps if v is not None and math.isfinite(v)]
        return f"<b>{_fmt(float(np.mean(finite)))}</b>" if finite else "—"

    described = report["descriptors"]
    means = [mean_overlap(described[n]["rows"][r]["overlap"] for n in SCALAR_DESCRIPTORS) for r in rows]
    body.append(f"<tr><td colspan=3><b>mean overlap</b> over the {len(SCALAR_DESCRIPTORS)} descriptors</td>"
                + "".join(f"<td></td><td>{m}</td><td></td>" for m in means)
                + f"<td>{mean_overlap(described[n]['ceiling']['overlap'] for n in SCALAR_DESCRIPTORS)}</td><td></td></tr>")
    return "<table id=descriptors>" + "".join(head) + "".join(body) + "</table>"


def _descriptor_meanings() -> str:
    """What each descriptor measures, in plain words, under the table."""
    items = "".join(f"<li><b>{html.escape(DESCRIPTORS[n][0])}</b>: {html.escape(DESCRIPTOR_MEANING[n])}</li>"
                    for n in SCALAR_DESCRIPTORS)
    return f"<h3>What each descriptor measures (in each excerpt)</h3><ul id=meanings>{items}</ul>"


def _spread(c: dict) -> str:
    """An accuracy, with its spread over the draws where it is a mean of several."""
    sd = c.get("accuracy_sd")
    if c.get("why"):  # no accuracy, and why (the trees on too few excerpts)
        return f"— ({html.escape(c['why'])})"
    return _fmt(c.get("accuracy")) + (f" ± {_fmt(sd)}" if c.get("repeats", 1) > 1 and sd is not None else "")


def _folds_said(classifier: dict) -> str:
    """How the classifiers' folds fell: each performance (and generated file) whole, and the rows where it could not
    be (reports before the forty-eighth session say nothing of it)."""
    if not any("folds_grouped" in c for c in classifier.values()):
        return ""
    ungrouped = [html.escape(row) for row, c in classifier.items() if c.get("folds_grouped") is False]
    return (" The folds keep each performance (and each generated file) whole, so that no excerpt is tested by a "
            "classifier that trained on its siblings" + (f"; except in the row{'s' * (len(ungrouped) > 1)} "
                                                        f"{' and '.join(ungrouped)}, where one side is a single "
                                                        "performance or file" if ungrouped else "") + ".")


def _p_said(classifier: dict) -> str:
    """What the p-values count: whole performances and generated files since the forty-ninth session (reports before
    it tested the excerpts as independent, and say nothing of it)."""
    if not any("p_groups" in c for c in classifier.values()):
        return ""
    return (" Each p-value counts performances and generated files, not excerpts: excerpts of one performance are "
            "told right or wrong together, so the test flips the sign of each performance's (and file's) excess over "
            "chance as one.")


def _p(value) -> str:
    """A p-value as the console says it: below 0.001 it is past what the test resolves (a 1e-4 is its floor)."""
    return "&lt; 0.001" if isinstance(value, float) and math.isfinite(value) and value < 0.001 else _fmt(value)


def _classifier_section(report: dict) -> str:
    trees = report.get("classifier_trees", {})  # absent from reports written before the trees test
    rows = []
    for row, c in report["classifier"].items():
        t = trees.get(row, {})
        rows.append(f"<tr><td>{html.escape(row)}</td><td>{_spread(c)}</td><td>{_p(c['p_value'])}</td>"
                    f"<td>{_spread(t)}</td><td>{_p(t.get('p_value'))}</td><td>{c['n_per_class']}</td></tr>")
    repeats = next(iter(report["classifier"].values()), {}).get("repeats", 1)
    averaged = (f" Each accuracy is the mean over {repeats} draws of which real excerpts balance the classes and how "
                "the folds fall (± their spread)." if repeats > 1 else "")
    averaged += _folds_said(report["classifier"]) + _p_said(report["classifier"])
    return ("<h2>Classifier two-sample tests</h2><p>Cross-validated accuracy of two classifiers telling the set from "
            "real excerpts by their descriptors (0.5 = indistinguishable, 1 = always told apart): a logistic regression "
            "and gradient-boosted trees, which also catch what no straight boundary separates. <b>Lower is better</b>: "
            f"the nearer both come to the {CEILING} row (two halves of real music, near 0.5), the harder the set is to "
            f"tell from real playing; the {BASELINE} row (near 1) is what a trivial generator scores. An accuracy below "
            "0.5 is not more real than real: read it as 0.5, and well below it as a set that shares music with the real "
            "excerpts (real files of the split it is compared with, for one). "
            "p (acc &gt; 0.5): how often an accuracy this far above 0.5 would come by chance were the set and the real "
            f"excerpts alike; a p near 0.05 is weak evidence, &lt; 0.001 a clear difference.{averaged}</p>"
            "<table id=classifier><tr><th rowspan=2>set</th><th colspan=2>logistic</th>"
            "<th colspan=2>boosted trees</th><th rowspan=2>excerpts per class</th></tr><tr><th>accuracy</th>"
            "<th>p (acc &gt; 0.5)</th><th>accuracy</th><th>p (acc &gt; 0.5)</th></tr>" + "".join(rows) + "</table>")


def _copy_section(copies: dict) -> str:
    if "generated" not in copies:
        return ""
    ref, esc = copies["real_reference"], html.escape
    transposed = ", any transposition up to ±5 semitones" if copies["transpose"] else ""
    rows = "".join(f"<tr{' class=flag' if c['flagged'] else ''}><td>{esc(c['excerpt'])}</td><td>{_fmt(c['similarity'])}</td>"
                   f"<td>{esc(c['nearest'])}</td><td>{_fmt(c['nearest_start_s'])}</td><td>{c['transpose']}</td></tr>"
                   for c in copies["generated"])
    return (f"<h2>Copy check</h2><p>Nearest chunk-aligned window of the {esc(copies['train_split'])} split by cosine "
            f"similarity of binary onset rolls (88 keys × chunks){transposed}; flagged at ≥ {_fmt(copies['threshold'])}: "
            f"<b>{copies['flagged']}</b> of {len(copies['generated'])}. For reference, real {esc(ref['split'])} "
            f"excerpts reach median {_fmt(ref['median'])}, max {_fmt(ref['max'])} ({ref['n']} excerpts).</p>"
            "<table id=copies><tr><th>excerpt</th><th>similarity</th><th>nearest training excerpt</th><th>at (s)</th>"
            f"<th>transpose</th></tr>{rows}</table>")


def _set_said(name: str, report: dict) -> str:
    """What a row of the excerpts table is, in a few words."""
    seconds, split = _fmt(report["seconds"]), html.escape(report["split"])
    said = {GENERATED: f"the files of {html.escape(str(report['generated_dir']))}, each cut into excerpts of {seconds} s",
            BASELINE: f"the floor: a trivial generator, {seconds} s of the corpus's short real chunks (a model's steps) from the "
                      f"{html.escape(report.get('train_split', 'train'))} split drawn at random and laid side by side "
                      "(real sounds, no continuity); any model should be far nearer real than this",
            TRAINING: f"real excerpts of the {html.escape(report.get('train_split', 'train'))} split, as many as the "
                      "generated ones: what a model that had learnt that split exactly would score here (where the "
                      "splits' music differs, told apart above 0.5)",
            "real A": "one half of the real excerpts (split by performance) …",
            "real B": "… and the other: compared with each other, the ceiling (as alike as two sets of real music come)"}
    if name.startswith("real ("):
        return f"excerpts of {seconds} s of every performance of the {split} split: what each set is compared with"
    return said.get(name, "")


def render_html(report: dict) -> str:
    """The report as one HTML page, every image and sound inside it."""
    esc = html.escape
    stale = stale_banner(report["stale"]) if report.get("stale") else ""  # (tsm generate --overwrite replaced its files)
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>TimeStepMusic evaluation</title>"
             f"<style>{CSS}</style></head><body>{stale}<h1>Generated vs real: {esc(report['generated_dir'])}</h1>",
             f"<p>{report['files']['read']} generated file(s) read; real excerpts: the <b>{esc(report['split'])}</b> "
             f"split of {esc(report['corpus'])}; excerpts of {_fmt(report['seconds'])} s.</p>",
             "<table id=sets><tr><th>set</th><th>excerpts</th><th>what it is</th></tr>"
             + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td><td>{_set_said(k, report)}</td></tr>"
                       for k, v in report["excerpts"].items()) + "</table>"]
    parts += [f"<p class=note>{esc(n)}</p>" for n in report["notes"]]
    if report["files"]["bad"]:
        parts.append("<h2>Files that could not be read</h2><ul>" + "".join(
            f"<li>{esc(b['file'])}: {esc(b['reason'])}</li>" for b in report["files"]["bad"]) + "</ul>")
    if report["files"].get("left_out"):  # (absent from reports written before it was said)
        parts.append("<h2>Notes left out of the files read</h2><p>Only the piano's notes are described; these files "
                     "hold others, which no descriptor counts:</p><ul>" + "".join(
                         f"<li>{esc(b['file'])}: {esc(b['notes'])}</li>" for b in report["files"]["left_out"]) + "</ul>")
    parts += ["<h2>Descriptors</h2><p>Each descriptor (listed under the table) is measured in every excerpt; the "
              "table compares how its values spread over the real excerpts with how they spread over each set's. "
              "<b>Overlap</b>: the area two smoothed histograms (Gaussian-KDE densities) share, from 0 (nothing in "
              "common) to 1 (the same distribution): <b>higher is better</b>. <b>KL</b>(real ‖ set), in nats: how "
              "poorly the set's distribution accounts for the real one, from 0 (the same) up: <b>lower is "
              "better</b>. A value of exactly 0 (a pedal never pressed) is compared as a point mass beside the "
              f"densities. The {BASELINE} columns show how far off a trivial generator is; the last two, the ceiling, "
              "compare two halves of the real excerpts (split by performance): as alike as two sets of real music "
              "come. Mean ± sd: the descriptor's mean and standard deviation over the excerpts, in its unit.</p>",
              _descriptor_table(report), _descriptor_meanings()]
    parts.append(_classifier_section(report))
    parts.append(_copy_section(report["copies"]))
    densities = _data_uri(report["figures"]["densities"], "image/png")
    parts.append("<h2>Densities</h2><p>One panel per descriptor: how its values spread over the excerpts of each set "
                 "(smoothed histograms, so that a curve may run a little past a bound, a share above 1). Where some "
                 "excerpts are exactly 0 (a pedal never pressed), they are counted apart, and the curves are of the "
                 "others: <i>at 0: a / b / c</i> gives each set's share of them, in the legend's order.</p>"
                 f"<img alt='descriptor densities' src='{densities}'>")
    shown = len(report["samples"])
    parts.append(f"<h2>Samples</h2><p>The first {shown} of the {report['files']['read']} generated files, as piano "
                 "rolls (keys by time, velocity as colour, the pedals' depth underneath).</p>" if shown
                 else "<h2>Samples</h2>")
    for s in report["samples"]:
        if s["audio"] and report.get("link_audio"):
            src = esc(os.path.relpath(s["audio"], report["out_dir"]))
        elif s["audio"]:
            src = _data_uri(s["audio"], "audio/wav")
        audio = (f"<audio controls src='{src}'></audio>" if s["audio"] else f"<p class=note>{esc(s['audio_note'])}</p>")
        parts.append(f"<div class=sample><h3>{esc(s['file'])}</h3>{audio}"
                     f"<img alt='piano roll of {esc(s['file'])}' src='{_data_uri(s['roll'], 'image/png')}'></div>")
    if report["training"]:
        parts.append("<h2>Training</h2>")
        for c in report["training"]:
            parts.append(f"<h3>{esc(c['run'])}</h3>" + (
                f"<img alt='training curves' src='{_data_uri(c['figure'], 'image/png')}'>" if c["figure"]
                else f"<p class=note>{esc(c['note'])}</p>"))
    return "\n".join(parts + ["</body></html>"])
