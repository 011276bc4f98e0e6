"""`tsm evaluate`: a folder of generated MIDI files against held-out real music → report.json and a
self-contained report.html (figures and audio embedded as data URIs, so the one file can be mailed).

Its parts: generated_files.py reads the files, comparison.py compares them with the real excerpts (the rows and
their figures), report_html.py renders the page; this module plots, writes and records the report.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from ..files import atomic_path
from ..setting_names import FLAGS, SettingNames
from . import CLASSIFIER_REPEATS
from .comparison import compared, plain
from .excerpts import EXCERPT_SECONDS, ExcerptTable
from .near_copies import COPY_THRESHOLD
from .report_folder import remove_if_empty
from .report_html import render_html
from .stale import record_report

log = logging.getLogger(__name__)

REPORT_SAMPLE_RATE = 22050  # WAVs rendered for the report: half CD rate keeps the HTML small


def write_report(out_dir: Path, report: dict) -> None:
    """report.json and report.html into `out_dir`, both written before either replaces an earlier one (files.atomic_path):
    a write that fails (a full disk) names the file and leaves the earlier report whole, not one file of each."""
    with atomic_path(out_dir / "report.json") as json_tmp:
        json_tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
        with atomic_path(out_dir / "report.html") as html_tmp:  # (its failure named as report.html, not report.json)
            html_tmp.write_text(render_html(report), encoding="utf-8")


def _audio_for(midi: Path, out_dir: Path, wav: bool, soundfont, stem: str | None = None) -> tuple[Path | None, str | None]:
    """(a WAV for this MIDI file, or why there is none): one beside it, else rendered when `wav`, named `stem` (by
    default the file's)."""
    beside = midi.with_suffix(".wav")
    if beside.is_file():
        return beside, None
    if not wav:
        return None, "no audio: run `tsm evaluate … --wav` to render it with FluidSynth"
    from .audio import AudioUnavailable, render_wav, warn_unavailable

    there = (out_dir / "audio").exists()
    try:
        return render_wav(midi, out_dir / "audio" / f"{stem or midi.stem}.wav", soundfont,
                          sample_rate=REPORT_SAMPLE_RATE), None
    except AudioUnavailable as e:
        warn_unavailable("no audio in the report", e)
        return None, f"no audio: {e}"
    except ValueError as e:
        log.warning("no audio for %s: %s", midi, e)
        if not there:  # (made for the WAV FluidSynth failed to write: not left behind empty)
            remove_if_empty(out_dir / "audio")
        return None, f"no audio: {e}"


def evaluate_generated(generated_dir: str | Path, corpus, out_dir: str | Path, *, split: str = "test",
                       train_split: str = "train", extra_rows: dict[str, ExcerptTable] | None = None,
                       runs: list[str | Path] | None = None, wav: bool = False, seconds: float = EXCERPT_SECONDS,
                       seed: int = 0, copy_threshold: float = COPY_THRESHOLD, transpose: bool = False,
                       max_rolls: int = 4, max_real_excerpts: int | None = None, soundfont=None,
                       link_audio: bool = False, repeats: int = CLASSIFIER_REPEATS, train_row: bool = False,
                       folds_by: str = "piece", setting_names: SettingNames = FLAGS, progress: bool = False) -> dict:
    """Describe generated files and real `split` excerpts of `corpus` (a Corpus or its folder), compare
    them, check for copies of the `train_split`, and write report.json + report.html into `out_dir`.
    `repeats`: draws of the classifiers' balancing subsample and folds each accuracy is averaged over.
    `link_audio`: the page links the WAV files in `out_dir`/audio instead of embedding them (a small
    page; keep the folder together). `train_row`: also a row of as many real excerpts of the `train_split` as there
    are generated ones: what a model that had learnt it exactly would score against `split`. `folds_by`: what the
    classifiers' folds and the real halves keep whole, each "piece" or each "performance" (compared's). `setting_names`: as
    `compared`'s notes name the settings; `progress`: as `compared`'s. Returns the report (as written to report.json)."""
    from .plots import plot_densities, plot_roll, plot_training_curves

    found = compared(generated_dir, corpus, split=split, train_split=train_split, extra_rows=extra_rows,
                     seconds=seconds, seed=seed, copy_threshold=copy_threshold, transpose=transpose,
                     max_real_excerpts=max_real_excerpts, repeats=repeats, train_row=train_row, folds_by=folds_by,
                     setting_names=setting_names, progress=progress)
    corpus, names = found.corpus, found.names
    generated_dir, out_dir = Path(generated_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = out_dir / "figures"
    density_sets = {f"real ({split})": found.real_desc} | found.descs
    figures = {"densities": plot_densities(density_sets, figures_dir / "densities.png")}
    samples, stems = [], set()
    for events, name, path in list(zip(found.performances, names, found.paths))[:max_rolls]:
        # x.mid and x.midi (or X.mid, where case is not told apart): a roll and audio each, not the second's twice
        stem = Path(name).stem if Path(name).stem.lower() not in stems else Path(name).name
        stems.add(stem.lower())
        roll = plot_roll(events, figures_dir / f"roll_{stem}.png", title=name)
        audio, why = _audio_for(path, out_dir, wav, soundfont, stem)
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
                           folds_by=folds_by, max_real_excerpts=max_real_excerpts, train_row=train_row,
                           copy_threshold=copy_threshold, transpose=transpose, wav=wav, soundfont=soundfont,
                           link_audio=link_audio, runs=runs)
    report = plain({  # (the corpus absolute: the command a stale report names runs from any folder, stale._mark)
        "generated_dir": generated_dir, "corpus": os.path.abspath(corpus.root), "split": split, "train_split": train_split,
        "seconds": seconds, "seed": seed, **compared_figures,
        "figures": figures, "samples": samples, "training": curves, "notes": notes, "link_audio": link_audio,
        "out_dir": out_dir, "flags": flags})
    write_report(out_dir, report)
    log.info("wrote %s", out_dir / "report.html")
    if any(marker is not None for marker in found.markers):  # files tsm generate may replace: where their report is, noted
        record_report(generated_dir, out_dir)  # among them (a folder of the user's own MIDI is not written into)
    return report


def evaluate_flags(*, split: str, train_split: str, seconds: float, seed: int, repeats: int, folds_by: str,
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
             *(["--folds-by", folds_by] if folds_by != "piece" else []),
             *(["--max-real-excerpts", str(max_real_excerpts)] if max_real_excerpts is not None else []),
             *(["--train-row"] if train_row else []),
             *(["--copy-threshold", f"{copy_threshold:.15g}"] if copy_threshold != COPY_THRESHOLD else []),
             *(["--transpose"] if transpose else []), *(["--wav"] if wav else []),
             *(["--soundfont", os.path.abspath(soundfont)] if wav and soundfont is not None else []),
             *(["--link-audio"] if link_audio else [])]
    return flags + [flag for run in runs or [] for flag in ("--run", os.path.abspath(run))]
