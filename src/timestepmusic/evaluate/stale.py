"""A report of `tsm evaluate` (report.json, report.html) kept among the generated files it describes, whose files
`tsm generate --overwrite` replaces: marked out of date at the top of report.html and in report.json, and said in
one line; nothing of it is removed (its figures and numbers are the user's record of the earlier files), and a
report whose files were not replaced is left as it is."""
from __future__ import annotations

import datetime
import hashlib
import html
import json
import logging
import re
import shlex
from pathlib import Path

from ..files import atomic_path, named

log = logging.getLogger(__name__)

STALE_START, STALE_END = "<!--tsm:stale-->", "<!--/tsm:stale-->"  # around the banner in report.html: replaced, not doubled
REPORT_TITLE = "<title>TimeStepMusic evaluation</title>"  # (render_html's: a report.html of ours)


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
    try:
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        generated, written_to = Path(report["generated_dir"]), Path(report["out_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    same = generated == written_to or generated.resolve() == out.resolve()  # (paths as given where evaluate ran)
    return report if same and (out / "report.html").is_file() else None


def replaced_in_report(out: Path, replaced: list[Path]) -> tuple[dict, list[str]] | None:
    """The report in `out` and the names of the MIDI files among `replaced` (about to be removed or written again)
    that it describes: by name and the SHA-1 of their bytes where the report records them (files.described), any of
    the folder's where it does not (a report written before it recorded them read every MIDI file there). None where
    no report there describes any of them."""
    report = _report_of_folder(out)
    if report is None:
        return None
    recorded = report.get("files", {}).get("described")
    names = []
    for path in replaced:
        if path.suffix.lower() not in (".mid", ".midi") or not path.is_file():
            continue
        if recorded is None or recorded.get(path.name) == hashlib.sha1(path.read_bytes()).hexdigest():
            names.append(path.name)
    return (report, names) if names else None


def mark_stale(out: Path, replaced: list[Path]) -> Path | None:
    """Before `replaced` (the earlier run's files in `out`, which --overwrite removes or writes again) go: the report
    of `tsm evaluate` in `out` that describes any of them marked out of date (report.json's "stale", a notice at the
    top of report.html, each written atomically) and said in one line. Returns its report.html, or None where no
    report there describes them."""
    found = replaced_in_report(out, replaced)
    if found is None:
        return None
    report, names = found
    page = (out / "report.html").read_text(encoding="utf-8")
    if REPORT_TITLE not in page:  # (a report.html of the user's beside our report.json: left alone)
        return None
    earlier = report.get("stale", {}).get("replaced", [])
    again = shlex.join(["tsm", "evaluate", str(out), "--real", str(report.get("corpus", "CORPUS")), "-o", str(out),
                        "--overwrite"])
    report["stale"] = {"replaced": sorted(set(earlier) | set(names)), "again": again,
                       "when": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")}
    banner = stale_banner(report["stale"])
    if STALE_START in page and STALE_END in page:  # marked before: the notice replaced, naming every file since
        page = re.sub(re.escape(STALE_START) + ".*?" + re.escape(STALE_END), lambda _: banner, page, count=1, flags=re.S)
    else:
        page = page.replace("<body>", f"<body>{banner}", 1)
    with atomic_path(out / "report.json") as json_tmp:  # (as write_report: both ready before either replaces its own)
        json_tmp.write_text(json.dumps(report, indent=1), encoding="utf-8")
        with atomic_path(out / "report.html") as html_tmp:
            html_tmp.write_text(page, encoding="utf-8")
    log.warning("--overwrite: %s describes %d of the files this run replaces (%s): marked out of date, kept; for a "
                "report of the new ones: %s", out / "report.html", len(names), named(names), again)
    return out / "report.html"
