"""Where a source lies relative to datasets and archives, said in words that say what to give instead: a folder that
holds a dataset a level or two down, a folder or file inside one, a zip archive not yet unzipped, a dataset's table
given for its folder.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .dataset_tables import MAESTRO_TABLE_PATTERNS, TABLE_PATTERNS, dataset_table, reads_as_asap
from .performance import MIDI_SUFFIXES


def nested_datasets(folder: Path, levels: str = "*") -> list[Path]:
    """The folders `levels` below `folder` ("*": one, "*/*": two) that hold a dataset's table (MAESTRO's or ASAP's),
    sorted: read as a plain folder, each year or composer would become a piece and the dataset's split be lost."""
    return sorted({table.parent for pattern in TABLE_PATTERNS for table in folder.glob(f"{levels}/{pattern}")
                   if dataset_table(table.parent) is not None})


def nested_said(folder: Path) -> str | None:
    """Why `folder` cannot be read as a folder of MIDI files (it holds a dataset one or two levels down, as a zip
    unzipped into a folder of its own: each named), or None."""
    for levels, down in (("*", "one level"), ("*/*", "two levels")):
        nested = nested_datasets(folder, levels)
        if len(nested) == 1:
            return (f"holds a dataset {down} down, {nested[0]}, with its table: give that folder, which prepare splits "
                    "as the dataset does")
        if nested:
            return (f"holds {len(nested)} datasets {down} down, {', '.join(map(str, nested))}, each with its table: give "
                    "those folders, which prepare splits as each dataset does")
    return None


def shown_relative(path: Path) -> Path:
    """`path` (absolute) as relative to the working folder where it can be (not on another drive)."""
    try:
        return Path(os.path.relpath(path))
    except ValueError:
        return path


def enclosing_said(source: Path, read_too: frozenset[Path] = frozenset()) -> str | None:
    """A warning where `source` (a folder or file read without a table) lies inside a dataset whose table is a folder or
    two above it (MAESTRO's year folder, an ASAP composer's): read alone it is split by hash, not as the dataset splits
    it. None elsewhere, and where the dataset's folder is read too (`read_too`, absolute: a file its table leaves out,
    given beside it)."""
    for above in list(source.absolute().parents)[:3]:
        table = dataset_table(above)
        if table is not None and above in read_too:
            return None
        if table is not None:
            dataset = above if source.is_absolute() else shown_relative(above)
            return (f"{source} is inside a dataset, {dataset} (its table {table.name}): read without the table, it is "
                    "split by hash, not as the dataset splits it, so the dataset's test performances may be trained "
                    f"on; give {dataset} to keep its split")
    return None


def zip_names(archive: Path) -> list[str] | None:
    """The names a zip archive holds; None where `archive` is no zip archive (or cannot be read)."""
    try:
        with zipfile.ZipFile(archive) as opened:
            return opened.namelist()
    except (OSError, zipfile.BadZipFile):
        return None


def top_folder(names: list[str]) -> str | None:
    """The one folder at the top of a zip archive's `names` (MAESTRO's: maestro-v3.0.0), or None."""
    tops = {name.split("/")[0] for name in names if "/" in name}
    return tops.pop() if len(tops) == 1 else None


def holds_midi(names: list[str]) -> bool:
    """Whether a zip archive's `names` hold a MIDI file (a dataset's download does; a backup of one's photos does not)."""
    return any(Path(name).suffix.lower() in MIDI_SUFFIXES for name in names)


def unzipped_said(folder: Path) -> str | None:
    """What to do with a folder that holds no MIDI file but a zip archive of MIDI files directly in it (a download
    not yet unzipped), or None where it holds none."""
    archives = sorted(path for path in folder.iterdir() if path.is_file() and holds_midi(zip_names(path) or []))
    if not archives:
        return None
    return f"no MIDI files, but {archives[0]}: {file_not_a_source(archives[0])}"


def file_not_a_source(path: Path) -> str | None:
    """Why the file `path` is no performance but a dataset's download or table (a zip archive not yet unzipped, a
    MAESTRO or ASAP table given for its folder), in words saying what to give instead; None for any other file."""
    names = zip_names(path)  # (read once: None where it is no zip archive)
    if names is not None and not holds_midi(names):
        return "a zip archive with no MIDI file in it, not a performance"
    if names is not None:
        top = top_folder(names)
        if top and (path.parent / top).is_dir():
            return f"a zip archive; the folder it holds is unzipped beside it: give that folder, {path.parent / top}"
        into = f" -d {path.parent}" if path.parent != Path(".") else ""
        holds = f", {path.parent / top}" if top else ""
        return f"a zip archive: unzip it first (unzip {path}{into}), then give the folder it holds{holds}"
    if any(path.match(pattern) for pattern in MAESTRO_TABLE_PATTERNS) or (path.name == "metadata.csv"
                                                                          and reads_as_asap(path.parent)):
        return f"a dataset's table, not a performance: give the folder that holds it, {path.parent}"
    return None
