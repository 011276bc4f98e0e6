"""`compare_with_real()`: `tsm evaluate`'s figures from Python, as a plain dict, writing nothing unless asked."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from . import CLASSIFIER_REPEATS, FOLDS_BY
from .descriptors import SCALAR_DESCRIPTORS
from .excerpts import EXCERPT_SECONDS


def compare_with_real(generated: str | Path | Sequence[str | Path], corpus, *, split: str = "test",
                      seconds: float = EXCERPT_SECONDS, seed: int = 0, repeats: int = CLASSIFIER_REPEATS,
                      max_real_excerpts: int | None = None, out: str | Path | None = None,
                      overwrite: bool = False, folds_by: str = "piece") -> dict:
    """Compare generated MIDI files with the real excerpts of `corpus`'s `split`, as `tsm evaluate` does, and return
    its figures; the same files, split, `seconds`, `seed` and `repeats` give the figures of `tsm evaluate`'s
    report.json.

    generated: a folder (the .mid/.midi files directly in it) or a list of MIDI files.
    corpus: a prepared corpus (`tsm prepare`'s folder, or a `Corpus`).
    seconds: excerpt length; `repeats`: draws each classifier accuracy is averaged over; `max_real_excerpts`: at most
    this many real excerpts, evenly spaced (quicker; not the CLI's default); `folds_by`: the classifiers' folds and
    the ceiling's real halves keep each real "piece" whole (all its performances), or each "performance".
    out: None writes nothing; a folder writes the full report (report.html, report.json, figures) there, as
    `tsm evaluate -o` does (a folder of generated files only; an earlier report, or files of the user's own in its
    figures/ or audio/, refused unless `overwrite`, which removes the earlier report's figures and audio).

    Returns {"logistic": accuracy, "trees": accuracy, "mean_overlap": over the descriptors where it is defined,
    "overlaps": {descriptor: overlap or None}, "baseline" and "ceiling": {"logistic", "trees", "mean_overlap"} of the
    shuffled-chunks floor and of two halves of the real excerpts, "why": {classifier: why its accuracy is None}
    where one is, "near_copies": count (None: no copy check),
    "excerpts": {"generated", "real"}, "files": how many were read, "bad": [{"file", "reason"}], "left_out":
    [{"file", "notes"}] of the files read whose notes are not all described (drums, another voice, notes beyond the
    keys: what tsm evaluate prints of them), "notes": [what makes the figures rough, each also logged; what it asks
    of the caller named in keywords: split=, seconds=, generate()'s n=200], "report": the report.json written, or
    None}. Accuracies: 0.5 = cannot tell apart."""
    from ..setting_names import PYTHON_KEYWORDS
    from .comparison import BASELINE, CEILING, compared
    from .report import evaluate_generated
    from .report_folder import check_report_folder, remove_left_behind

    if isinstance(generated, PathLike):  # (read as a folder, as a str or Path is)
        generated = Path(generated)
    elif isinstance(generated, Iterable) and not isinstance(generated, (str, bytes)):  # (a glob's generator: read once)
        generated = list(generated)
    check_compare_arguments({"generated": generated, "corpus": corpus, "split": split, "seconds": seconds, "seed": seed,
                             "repeats": repeats, "max_real_excerpts": max_real_excerpts, "out": out,
                             "overwrite": overwrite, "folds_by": folds_by})
    if out is not None:
        if not isinstance(generated, (str, Path)):
            raise ValueError("compare_with_real(out=…): a report is written of a folder of generated files; give the "
                             "folder, or out=None for the figures alone")
        earlier = check_report_folder(out, overwrite, PYTHON_KEYWORDS)  # (as tsm evaluate -o's, before the minutes)
        report = evaluate_generated(generated, corpus, out, split=split, seconds=seconds, seed=seed, repeats=repeats,
                                    max_real_excerpts=max_real_excerpts, folds_by=folds_by,
                                    setting_names=PYTHON_KEYWORDS)
        remove_left_behind(out, earlier)
        written = Path(out) / "report.json"
    else:
        report = compared(generated, corpus, split=split, seconds=seconds, seed=seed, repeats=repeats,
                          max_real_excerpts=max_real_excerpts, folds_by=folds_by,
                          setting_names=PYTHON_KEYWORDS).report_figures(split)  # (report.json's, unwritten)
        written = None
    return figures_of(report, split) | {"report": written} | {
        "baseline": row_figures(report, BASELINE), "ceiling": row_figures(report, CEILING)}


def check_compare_arguments(given: dict[str, object]) -> None:
    """compare_with_real()'s arguments, keyword → value, refused in one line naming the keyword before anything is read:
    a value of a kind it does not take (generated=None, max_real_excerpts='40': a TypeError from deep inside) or out of
    its range (seed=-1: numpy's 'expected non-negative integer', after a note of it; repeats=0: '--repeats must be ≥
    1', a flag the caller did not give)."""
    from ..argtypes import SEED_LIMIT, real, whole
    from ..corpus import Corpus

    def path(value) -> bool:
        return isinstance(value, (str, PathLike))

    generated, max_real = given["generated"], given["max_real_excerpts"]
    if not (path(generated) or isinstance(generated, list) and all(path(file) for file in generated)):
        raise ValueError(f"generated= must be a folder of MIDI files or a list of their paths, got {generated!r}")
    if not (path(given["corpus"]) or isinstance(given["corpus"], Corpus)):
        raise ValueError(f"corpus= must be a prepared corpus's folder (tsm prepare's) or a Corpus, got {given['corpus']!r}")
    if not isinstance(given["split"], str):
        raise ValueError(f"split= must be a split's name ('train', 'validation', 'test'), got {given['split']!r}")
    if not (real(given["seconds"]) and 0 < given["seconds"] < math.inf):
        raise ValueError(f"seconds= must be an excerpt's length in seconds, > 0, got {given['seconds']!r}")
    if not (whole(given["seed"]) and 0 <= given["seed"] <= SEED_LIMIT):
        raise ValueError(f"seed= must be a whole number from 0 to {SEED_LIMIT}, got {given['seed']!r}")
    if not (whole(given["repeats"]) and given["repeats"] >= 1):
        raise ValueError(f"repeats= must be a whole number ≥ 1, got {given['repeats']!r}")
    if not (max_real is None or whole(max_real) and max_real >= 1):
        raise ValueError(f"max_real_excerpts= must be a whole number ≥ 1 (None: all), got {max_real!r}")
    if not (given["out"] is None or path(given["out"])):
        raise ValueError(f"out= must be a folder's path (None: write nothing), got {given['out']!r}")
    if isinstance(generated, str) and not generated.strip():  # (Path(''): the working folder's files, evaluated)
        raise ValueError("generated='': an empty name; give the folder of generated MIDI files ('.' for the working "
                         "folder) or a list of their paths")
    if given["out"] == "":  # (Path(''): the working folder, where tsm evaluate refuses -o '')
        raise ValueError("out='': an empty name; give the folder to write the report into ('.' for the working folder), "
                         "or None to write nothing")
    if given["folds_by"] not in FOLDS_BY:
        raise ValueError(f"folds_by= must be 'piece' or 'performance', got {given['folds_by']!r}")
    if not isinstance(given["overwrite"], (bool, np.bool_)):
        raise ValueError(f"overwrite= must be True or False, got {given['overwrite']!r}")


def figures_of(report: dict, split: str = "test") -> dict:
    """The generated row's figures of a report (evaluate_generated's, or its report.json read back)."""
    from .comparison import GENERATED

    overlaps = {name: report["descriptors"][name]["rows"][GENERATED]["overlap"] for name in SCALAR_DESCRIPTORS}
    return row_figures(report, GENERATED) | {
        "overlaps": overlaps, "near_copies": report["copies"].get("flagged"),
        "excerpts": {"generated": report["excerpts"][GENERATED], "real": report["excerpts"][f"real ({split})"]},
        "files": report["files"]["read"], "bad": report["files"]["bad"], "left_out": report["files"]["left_out"],
        "notes": report["notes"]}


def row_figures(report: dict, row: str) -> dict | None:
    """{"logistic", "trees", "mean_overlap"} of one row of a report (None: a row it has not, the baseline where the
    training split is too small), and "why" an accuracy is None where the report says (too few excerpts for the
    trees). The mean overlap is over the descriptors where it is defined, as report.html's."""
    from .comparison import CEILING

    if row not in report["classifier"]:
        return None
    overlaps = [report["descriptors"][name]["ceiling" if row == CEILING else "rows"] for name in SCALAR_DESCRIPTORS]
    overlaps = [(entry if row == CEILING else entry[row])["overlap"] for entry in overlaps]
    finite = [v for v in overlaps if v is not None and math.isfinite(v)]
    tests = {"logistic": report["classifier"][row], "trees": report["classifier_trees"][row]}
    why = {name: test["why"] for name, test in tests.items() if test["accuracy"] is None and test.get("why")}
    return {name: test["accuracy"] for name, test in tests.items()} | {
        "mean_overlap": float(np.mean(finite)) if finite else None} | ({"why": why} if why else {})
