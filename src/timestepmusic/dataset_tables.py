"""The tables that make a folder a dataset: MAESTRO's (csv or json) and ASAP's metadata.csv, found, checked (columns,
rows cut short, encoding) and read into performances, in the table's own split (MAESTRO's) or split by the piece's hash
(ASAP's); a metadata.csv of one's own told from ASAP's by its header.
"""
from __future__ import annotations

import csv
import json
import logging
import re
from pathlib import Path

from .performance import SPLITS, Performance, SourceProblem, split_by_hash

log = logging.getLogger(__name__)


def find_maestro_table(folder: Path) -> Path | None:
    for name in ("maestro-v3.0.0.csv", "maestro-v3.0.0.json"):
        if (folder / name).is_file():
            return folder / name
    tables = sorted(folder.glob("maestro-v*.csv")) + sorted(folder.glob("maestro-v*.json"))
    return tables[0] if tables else None


MAESTRO_COLUMNS = {"canonical_composer", "canonical_title", "split", "midi_filename"}  # (what a Performance needs)
ASAP_COLUMNS = {"composer", "title", "folder", "midi_performance"}


def csv_rows(table: Path) -> tuple[list[dict], list[int]]:
    """A csv table's rows (csv.DictReader's) and the line each ends on (a quoted field may span lines, and blank lines
    are skipped: counting rows would not say where one is)."""
    try:
        with table.open(newline="", encoding="utf-8-sig") as f:  # (a spreadsheet's save starts with a byte-order mark)
            reader = csv.DictReader(f)
            rows, lines = [], []
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise ValueError(f"{table}: {not_utf8_said(table.read_bytes())}") from e
    return rows, lines


def not_utf8_said(data: bytes) -> str:
    """Where the bytes of a text file are not UTF-8 (another encoding's save), the line and byte, and what to do (the
    decoder's own position counts from the chunk it was given, not from the file's start)."""
    try:
        data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as e:
        line = e.object.count(b"\n", 0, e.start) + 1
        return f"line {line} is not UTF-8 text (byte 0x{e.object[e.start]:02x}): save it as UTF-8 (a spreadsheet's \"CSV UTF-8\")"
    return "not UTF-8 text"


def checked_rows(table: Path, rows: list[dict], columns: set[str], kind: str,
                 lines: list[int] | None = None) -> list[dict]:
    """`rows` of `table`, each holding every one of `columns`: ValueError naming the table otherwise, with the columns
    its header lacks (not `kind`), or the line (`lines`: csv_rows') of a csv row cut short (csv.DictReader leaves what
    it lacks as None)."""
    missing = columns - set(rows[0] if rows else {})
    if missing:
        written = header_names(table) if table.suffix == ".csv" else None  # (case, spaces and semicolons aside)
        otherwise = "" if not missing <= (written or set()) else (
            " (its header names them, written otherwise: in another case or encoding, with spaces, or separated by "
            "semicolons or tabs; save it as UTF-8, with commas and the names in lower case)")
        raise ValueError(f"{table}: not {kind}, missing column(s) {sorted(missing)}{otherwise}")
    for line, row in zip(lines or [], rows):
        lacking = sorted(column for column in columns if row.get(column) is None)
        if lacking:
            raise ValueError(f"{table}: line {line} is cut short: no {', '.join(lacking)}")
    return rows


def json_rows(table: Path) -> list[dict]:
    """A MAESTRO json table's rows: it is one object per column, each keyed by row number; ValueError naming the table
    where it is not, or where a column lacks a row the first has (an empty object has no rows, and checked_rows says
    which columns it lacks)."""
    columns = json.loads(table.read_text(encoding="utf-8-sig"))
    if not isinstance(columns, dict) or not all(isinstance(column, dict) for column in columns.values()):
        raise ValueError(f"{table}: not a MAESTRO table (an object of columns, each an object keyed by row number)")
    keys = list(columns)
    rows = []
    for i in columns[keys[0]] if keys else {}:
        lacking = [k for k in keys if i not in columns[k]]
        if lacking:  # (a column shorter than the first: said as a csv's row cut short is)
            raise ValueError(f"{table}: row {i} is cut short: no {', '.join(lacking)}")
        rows.append({k: columns[k][i] for k in keys})
    return rows


def read_maestro(folder: Path, table: Path, problems: list[SourceProblem] | None = None, *,
                 say_repeats: bool = True) -> list[Performance]:
    """The performances a MAESTRO table lists, each in its row's split (its case and spaces aside: `Train `); a row
    whose split is none of SPLITS is left out, and said in `problems` (where given) naming the row: in no split, its
    file would be prepared but neither trained nor tested on. A file listed in more than one row is one performance,
    where its first row is, as its last row says (as prepare keeps it; left out where that row is in no split, read
    where only an earlier one is), and warned of unless not `say_repeats` (a table read only to be compared with the
    one prepare reads, whose warning says it: said once)."""
    lines = None
    if table.suffix == ".csv":
        rows, lines = csv_rows(table)
    else:
        rows = json_rows(table)
    checked_rows(table, rows, MAESTRO_COLUMNS, "a MAESTRO table", lines)

    def where(number: int) -> str:  # a row, as the table numbers it
        return f"line {lines[number]}" if lines else f"row {number}"

    # by path: a file listed again keeps its first place, and its last row's values: None where that row is in no split
    performances: dict[str, Performance | None] = {}
    unsplit: dict[str, SourceProblem] = {}  # by path: the file's last row, where it is in no split (it is left out)
    first_row: dict[str, int] = {}  # each file's first row
    again: list[tuple[str, int, int]] = []  # (file, its first row, a later one): the later is read, as prepare keeps it
    for number, r in enumerate(rows):
        named = r["midi_filename"]
        if not isinstance(named, str) or not named.strip():  # (a json's null or number, a csv's blank)
            raise ValueError(f"{table}: {where(number)} names no MIDI file (its midi_filename is {json.dumps(named)})")
        path, split = str(folder / r["midi_filename"]), str(r["split"]).strip().lower()
        if first_row.setdefault(path, number) != number:
            again.append((r["midi_filename"], first_row[path], number))
        if split not in SPLITS:
            performances[path] = None
            unsplit[path] = SourceProblem(path, f"its split in {table.name} ({where(number)}) is {r['split']!r}, not one "
                                                f"of {', '.join(SPLITS)}: left out")
            continue
        unsplit.pop(path, None)
        performances[path] = Performance(path=path, composer=r["canonical_composer"], title=r["canonical_title"],
                                         piece=f'{r["canonical_composer"]}/{r["canonical_title"]}', split=split,
                                         year=int(r["year"]) if r.get("year") else None)
    if again and say_repeats:
        name, first, later = again[0]
        log.warning("%s: %d file(s) listed in more than one row, e.g. %s (%s and %s): each is prepared once, as its last "
                    "row says", table, len(again), name, where(first), where(later))
    if problems is not None:
        problems += unsplit.values()
    return [performance for performance in performances.values() if performance is not None]


def read_asap(folder: Path, validation_fraction: float, test_fraction: float) -> list[Performance]:
    table = folder / "metadata.csv"
    rows, lines = csv_rows(table)
    checked_rows(table, rows, ASAP_COLUMNS, "an ASAP metadata table", lines)
    return [Performance(path=str(folder / r["midi_performance"]), composer=r["composer"], title=r["title"],
                        piece=r["folder"], split=split_by_hash(r["folder"], validation_fraction, test_fraction))
            for r in rows]


def maestro_origins(folder: Path) -> dict[str, str]:
    """An ASAP folder's performances cut from MAESTRO files: their path → the MAESTRO file's midi_filename (metadata.csv's
    maestro_midi_performance, '{maestro}/2004/….midi'); {} where the table has no such column."""
    rows, _ = csv_rows(folder / "metadata.csv")
    return {str(folder / r["midi_performance"]): r["maestro_midi_performance"].removeprefix("{maestro}/")
            for r in rows if r.get("maestro_midi_performance") and r.get("midi_performance")}


MAESTRO_TABLE_PATTERNS = ("maestro-v*.csv", "maestro-v*.json")  # (as find_maestro_table finds the folder's)
TABLE_PATTERNS = (*MAESTRO_TABLE_PATTERNS, "metadata.csv")  # (a dataset's table: a metadata.csv only ASAP's, reads_as_asap)


ASAP_MARKS = frozenset({"midi_performance", "maestro_midi_performance", "midi_score"})
"""Columns of ASAP's table that a table of one's own hardly names (composer, title and folder it may)."""
HEADER_BYTES = 65536  # (the most of a first line read to tell a table of one's own)


def header_names(table: Path) -> set[str] | None:
    """The column names the first line of the csv `table` gives, in lower case without spaces or quotes, split at
    commas, semicolons and tabs alike (a spreadsheet's save in another locale), read as UTF-8, as UTF-16 where a
    byte-order mark says so, else as Latin-1 (another encoding's save: its ASCII names read alike); None where it
    cannot be read."""
    try:
        with table.open("rb") as f:
            start = f.read(HEADER_BYTES)
    except OSError:
        return None
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = start.decode("utf-16", errors="replace")
    else:
        first = start.split(b"\n", 1)[0]
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = first.decode("latin-1")
    text = text.replace("\x00", "")  # (UTF-16 without its byte-order mark, read byte by byte)
    line = text.splitlines()[0] if text.strip() else ""  # (an old Mac's line ends: \r alone)
    return {name.strip().strip('"').strip().lower() for name in re.split(r"[,;\t]", line)} - {""}


def own_metadata_why(folder: Path) -> str | None:
    """Why the metadata.csv directly in `folder` is one of its own, not ASAP's table: its first line names none of
    ASAP's own columns (ASAP_MARKS), however written; None where the folder holds none, or ASAP's, or one that may be
    ASAP's, saved otherwise (a header in another case, spaced, with semicolons, or not in UTF-8; or unreadable): read as
    ASAP's, and refused naming what is wrong with it, not read as a folder of MIDI files whose performances would
    lose their composers and ASAP's cuts of MAESTRO's files be trained on beside MAESTRO's own."""
    table = folder / "metadata.csv"
    names = header_names(table) if table.is_file() else None
    if names is None or names & ASAP_MARKS:
        return None
    return f"its header lacks ASAP's column(s) {', '.join(sorted(ASAP_COLUMNS - names))}"


def reads_as_asap(folder: Path) -> bool:
    """Whether prepare and data check read `folder` as an ASAP folder: a metadata.csv directly in it that is not
    one of its own (own_metadata_why)."""
    return (folder / "metadata.csv").is_file() and own_metadata_why(folder) is None


def own_metadata_said(folder: Path) -> str | None:
    """The line saying that the metadata.csv directly in `folder` is not read as ASAP's table, and why, where the folder
    is read as a folder of MIDI files instead (as prepare and data check read it); None where it holds none, or ASAP's."""
    why = own_metadata_why(folder)
    return None if why is None else (f"{folder / 'metadata.csv'}: not read as ASAP's metadata table ({why}); the folder "
                                     "is read as a folder of MIDI files, without a table")


def dataset_table(folder: Path) -> Path | None:
    """The table that makes `folder` a dataset (MAESTRO's, find_maestro_table; or an ASAP metadata.csv, reads_as_asap:
    one saved otherwise too, which prepare refuses given the folder), or None."""
    table = find_maestro_table(folder)
    if table is None and reads_as_asap(folder):
        table = folder / "metadata.csv"
    return table
