"""A report of `tsm evaluate` (report.json, report.html) on generated files that `tsm generate --overwrite` replaces:
marked out of date at the top of report.html and in report.json, and said in one line; nothing of it is removed (its
figures and numbers are the user's record of the earlier files), and a report whose files were not replaced is left as
it is. A report written among the files is found there; one written elsewhere (evaluate OUT -o REPORTS) through the
record evaluate leaves in OUT of where it wrote it (RECORD)."""
from __future__ import annotations

import datetime
import hashlib
import html
import json
import logging
import os
import re
import shlex
from pathlib import Path

from ..files import NOT_WRITABLE, atomic_path, named

log = logging.getLogger(__name__)

STALE_START, STALE_END = "<!--tsm:stale-->", "<!--/tsm:stale-->"  # around the banner in report.html: replaced, not doubled
REPORT_TITLE = "<title>TimeStepMusic evaluation</title>"  # (render_html's: a report.html of ours)
RECORD = ".tsm-reports.json"  # in a folder of generated files: where evaluate wrote reports of them elsewhere (hidden
# and not .mid: no listing of the folder's pieces counts it)


def described(names: list[str], sha1s: list[str]) -> dict[str, str]:
    """What report.json records of the files it describes: each file's name → the SHA-1 of its bytes when read."""
    return dict(zip(names, sha1s))


def stale_banner(stale: dict) -> str:
    """The report's out-of-date notice (report.json's "stale") as HTML, between the markers that let it be replaced."""
    esc = html.escape
    return (f"{STALE_START}<p id=stale class=flag><b>Out of date</b>: on {esc(stale['when'])} tsm generate --overwrite "
            f"replaced {len(stale['replaced'])} of the files this report describes ({esc(named(stale['replaced']))}); "
            "the figures and numbers below are of the earlier files, not of those there now. For a report of "
            f"these: <code>{esc(stale['again'])}</code></p>{STALE_END}")


def _report_of_folder(out: Path) -> dict | None:
    """The report.json in `out` where it describes the MIDI files of `out` itself (evaluate OUT -o OUT); else None
    (none there, not ours, unreadable, or a report of another folder's files)."""
    report = _read_report(out)
    try:
        generated, written_to = Path(report["generated_dir"]), Path(report["out_dir"])
    except (KeyError, TypeError):  # (None: no report there)
        return None
    same = generated == written_to or generated.resolve() == out.resolve()  # (paths as given where evaluate ran)
    return report if same else None


def _read_report(folder: Path) -> dict | None:
    """The report.json of `tsm evaluate` in `folder` beside its report.html; None where there is none (gone since),
    it cannot be read, or it is not a report's."""
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and os.path.isfile(folder / "report.html") else None


def recorded_reports(generated_dir: Path) -> list[Path]:
    """The folders `tsm evaluate` recorded (RECORD) it wrote reports of `generated_dir`'s files into; none where
    there is no record or it cannot be read."""
    try:
        folders = json.loads((generated_dir / RECORD).read_text(encoding="utf-8"))["reports"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [Path(folder) for folder in folders if isinstance(folder, str)] if isinstance(folders, list) else []


def record_report(generated_dir: Path, out_dir: Path) -> None:
    """After `tsm evaluate GENERATED -o OUT` wrote its report into another folder: OUT (resolved, as generate may run
    elsewhere) added to GENERATED's RECORD, written atomically, so that `tsm generate --overwrite` there finds the
    report to mark (a report in GENERATED itself is found without it). Folders whose report is gone are dropped. A
    folder that may not be written is left without one (generate cannot replace its files either); another failure
    is said in one line, and the report stands."""
    if out_dir.resolve() == generated_dir.resolve():
        return
    folders = [folder for folder in recorded_reports(generated_dir) if os.path.isfile(folder / "report.json")]
    if out_dir.resolve() not in folders:
        folders.append(out_dir.resolve())
    try:
        with atomic_path(generated_dir / RECORD) as tmp:
            tmp.write_text(json.dumps({"reports": [str(folder) for folder in folders]}, indent=1), encoding="utf-8")
    except OSError as e:
        if e.errno not in NOT_WRITABLE:
            log.warning("%s: cannot record where the report of its files is (%s): tsm generate --overwrite there will "
                        "not mark %s out of date", generated_dir, e.strerror or e, out_dir / "report.html")


def _reports_of(out: Path) -> list[tuple[Path, dict]]:
    """The reports of `tsm evaluate` on the MIDI files of `out`, each (its folder, its report.json): the one in `out`
    itself, and those recorded (RECORD) as written elsewhere that are still there, readable and name their files (a
    recorded folder whose report now describes other files is passed over by their SHA-1s)."""
    found = [(out, report)] if (report := _report_of_folder(out)) is not None else []
    seen = {out.resolve()}
    for folder in recorded_reports(out):
        report = _read_report(folder)
        files = report.get("files") if report is not None else None
        if isinstance(files, dict) and isinstance(files.get("described"), dict) and folder.resolve() not in seen:
            seen.add(folder.resolve())
            found.append((folder, report))
    return found


def replaced_in_report(report: dict, replaced: dict[str, str]) -> list[str]:
    """The names of the MIDI files `replaced` (name → SHA-1 of the bytes about to be removed or written again) that
    `report` describes: by name and SHA-1 where it records them (files.described), all where it does not (a report
    written before it recorded them read every MIDI file of its folder)."""
    recorded = report.get("files", {}).get("described")
    return [name for name, sha1 in replaced.items() if recorded is None or recorded.get(name) == sha1]


def midi_sha1s(paths: list[Path]) -> dict[str, str]:
    """The MIDI files among `paths` that are there, each name → the SHA-1 of its bytes (as report.json's
    files.described records them)."""
    return {path.name: hashlib.sha1(path.read_bytes()).hexdigest() for path in paths
            if path.suffix.lower() in (".mid", ".midi") and path.is_file()}


def mark_stale(out: Path, sha1s: dict[str, str]) -> list[Path]:
    """For files of the earlier run in `out` that --overwrite removed or wrote again with other bytes (`sha1s`: each
    name → the SHA-1 of the bytes it held, midi_sha1s): each report of `tsm evaluate` on them (_reports_of: in `out`,
    or recorded as written elsewhere) that describes any of them marked out of date (report.json's "stale", a notice
    at the top of report.html, each written atomically) and said in one line. Returns the report.html of each
    marked."""
    marked = []
    for folder, report in _reports_of(out) if sha1s else []:
        names = replaced_in_report(report, sha1s)
        if names and _mark(folder, report, names, out):
            marked.append(folder / "report.html")
    return marked


def _flags_of(report: dict) -> list[str]:
    """The flags of `tsm evaluate` that wrote `report` (its "flags", report.evaluate_flags); a report written before it
    kept them: the split, excerpt length and seed it records, each given. A report without "folds_by" was made with
    the folds by performance, before --folds-by was chosen (its default since: piece): --folds-by performance added,
    so that the command writes the same kind of report again."""
    flags = report.get("flags")
    by_performance = [] if "folds_by" in report else ["--folds-by", "performance"]
    if isinstance(flags, list) and all(isinstance(flag, str) for flag in flags):
        return flags + by_performance
    given = []
    for key in ("split", "train_split", "seconds", "seed"):
        if isinstance(value := report.get(key), (str, int, float)) and not isinstance(value, bool):
            given += [f"--{key.replace('_', '-')}", f"{value:.15g}" if isinstance(value, float) else str(value)]
    return given + by_performance


def _mark(folder: Path, report: dict, names: list[str], out: Path) -> bool:
    """The report in `folder` marked out of date for the files `names` of `out`, and said; False where its report.html
    is not ours (left alone), or where it cannot be read or written (said, and left as it was)."""
    try:
        page = (folder / "report.html").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False
    if REPORT_TITLE not in page:  # (a report.html of the user's beside our report.json: left alone)
        return False
    earlier = report.get("stale", {}).get("replaced", [])
    again = shlex.join(["tsm", "evaluate", os.path.abspath(out), "--real", str(report.get("corpus", "CORPUS")),
                        *_flags_of(report), "-o", os.path.abspath(folder), "--overwrite"])  # (run from any folder)
    report["stale"] = {"replaced": sorted(set(earlier) | set(names)), "again": again,
                       "when": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")}
    banner = stale_banner(report["stale"])
    if STALE_START in page and STALE_END in page:  # marked before: the notice replaced, naming every file since
        page = re.sub(re.escape(STALE_START) + ".*?" + re.escape(STALE_END), lambda _: banner, page, count=1, flags=re.S)
    else:
        page = page.replace("<body>", f"<body>{banner}", 1)
    try:
        with atomic_path(folder / "report.json") as json_tmp:  # (as write_report: both ready before either replaces)
            json_tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
            with atomic_path(folder / "report.html") as html_tmp:
                html_tmp.write_text(page, encoding="utf-8")
    except OSError as e:
        log.warning("--overwrite: %s describes %d of the files this run replaces (%s), but cannot be marked out of "
                    "date (%s): it describes the earlier files", folder / "report.html", len(names), named(names),
                    e.strerror or e)
        return False
    log.warning("--overwrite: %s describes %d of the files this run replaces (%s): marked out of date, kept; for a "
                "report of the new ones: %s", folder / "report.html", len(names), named(names), again)
    return True
