"""The folder a report is written into, by `tsm evaluate -o` and compare_with_real(out=…) alike: what it may hold
already, checked before the minutes of comparing, and the earlier report's figures and audio that an overwrite leaves
behind, removed once the new report is there."""
from __future__ import annotations

import json
from pathlib import Path

from ..setting_names import SettingNames

PARTS = ("figures", "audio")  # the report's own subfolders: what it writes there replaces a file of the same name


def written_by_report(out: Path) -> set[Path]:
    """The figures and audio the report in `out` wrote into its figures/ and audio/ folders, as its report.json
    lists them (none where there is no readable report.json): the files an overwrite may remove, and no others."""
    try:
        report = json.loads((out / "report.json").read_text())
    except (OSError, ValueError):
        return set()
    ours = {(out / part).resolve() for part in PARTS}
    # the folder as the report was told it, where it wrote: its paths are as given there (relative to the folder that
    # evaluate ran in, or where the folder was before it was moved), read as paths in `out` now
    written_to = Path(report["out_dir"]) if isinstance(report, dict) and isinstance(report.get("out_dir"), str) else None
    found, pending = set(), [report]
    while pending:  # every string anywhere in the report that names a file in those folders
        item = pending.pop()
        if isinstance(item, dict):
            pending += list(item.values())
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, str) and item.endswith((".png", ".wav")):
            path = Path(item)
            if written_to is not None and path.parent.parent == written_to and path.parent.name in PARTS:
                path = out / path.parent.name / path.name
            if path.resolve().parent in ours:
                found.add(path.resolve())
    return found


def refuse_a_file(out: str | Path, names: SettingNames) -> None:
    """A report's folder that is a file: refused in one line naming the flag (or keyword), before anything is read
    (it was an OSError of the system's once the comparison's minutes were spent)."""
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"{names.given('out', out)}: a file; give the folder to write the report into (made if missing)")


def check_report_folder(out: str | Path, overwrite: bool, names: SettingNames) -> set[Path]:
    """Before a report is written into `out`: an earlier report there (report.html or report.json) refused unless
    `overwrite`; with no report there, files in its figures/ or audio/ (a user's own, which the report's figures or
    audio of the same name would replace) refused unless `overwrite`. Each in one line naming the flags, or keywords,
    of `names`. Returns the earlier report's figures and audio (written_by_report), for remove_left_behind."""
    refuse_a_file(out, names)
    said, out = names.given("out", out), Path(out)  # (the folder as given)
    other, again = names.name("out").rstrip("="), names.name("overwrite")
    earlier = [out / name for name in ("report.html", "report.json") if (out / name).exists()]
    if earlier and not overwrite:  # a report a user kept is not replaced without a word
        raise ValueError(f"{earlier[0]} is there already (an earlier report); give another {other}, or {again} to "
                         "replace it")
    theirs = [] if earlier or overwrite else [path for part in PARTS for path in sorted((out / part).glob("*"))
                                              if path.is_file()]
    if theirs:  # no report here: a file in figures/ or audio/ is a user's own
        raise ValueError(f"{theirs[0]}: {said} holds files in {theirs[0].parent.name}/ that no report "
                         f"wrote, where the report writes its figures and audio; give another {other}, or {again} to "
                         "write among them")
    return written_by_report(out) if earlier else set()


def remove_left_behind(out: str | Path, earlier: set[Path]) -> None:
    """After a report replaced one in `out`: the earlier one's figures and audio (`earlier`, check_report_folder's) that
    the new one did not write again, removed, so that none sits beside the new one's, and the folder they were in where
    that leaves it empty (an audio/ of the earlier report's WAVs, where the new one has none); nothing else."""
    gone = earlier - written_by_report(Path(out))
    for path in gone:
        path.unlink(missing_ok=True)
    for folder in {path.parent for path in gone}:
        remove_if_empty(folder)


def remove_if_empty(folder: Path) -> None:
    """A report's folder (its figures/ or audio/) removed where it holds nothing; one that holds anything, a file of a
    user's among them, is left as it is (rmdir refuses it), as is one that is not there."""
    try:
        folder.rmdir()
    except OSError:  # (not empty, or not there)
        pass
