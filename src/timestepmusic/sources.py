"""Where performances come from: a MAESTRO v3.0.0 folder, an ASAP-style folder, any MIDI folder, files.

Each source becomes a list of `Performance` records (file + composer, title, piece, split, year).
Splits follow the source's own where it has one (MAESTRO's csv/json); otherwise a piece is put in
train/validation/test by hashing its name (ASAP: the `folder` column; plain folders: the parent
folder), so that all performances of one piece share a split and reruns agree. ASAP and MAESTRO read together: the
ASAP performances cut from a MAESTRO file that is read too are left out (MAESTRO's split holds the file).
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")  # in any case: .MID, .Mid
SPLITS = ("train", "validation", "test")
EMPTY_SPLIT_MEANS = {"validation": "training validates on its training chunks",  # (what a split left empty costs)
                     "test": "`tsm evaluate` needs another --split"}


@dataclass(frozen=True)
class Performance:
    path: str
    composer: str = ""
    title: str = ""
    piece: str = ""
    split: str = "train"
    year: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SourceProblem:
    """A file or folder that could not be used, and why."""

    path: str
    reason: str


def split_by_hash(name: str, validation_fraction: float, test_fraction: float) -> str:
    """Deterministic split of a piece name: the same name always lands in the same split."""
    u = int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + validation_fraction:
        return "validation"
    return "train"


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


def without_maestro_cuts(performances: list[Performance], maestro_files: dict[str, Performance],
                         cut_from: dict[str, str]) -> list[Performance]:
    """`performances` less the ASAP ones cut from a MAESTRO file that is read too (`maestro_files`: by midi_filename;
    `cut_from`: maestro_origins'): split by piece, a cut of a MAESTRO test file would be trained on. Said once."""
    cuts = [p for p in performances if cut_from.get(p.path) in maestro_files]
    if cuts:
        whole = maestro_files[cut_from[cuts[0].path]]
        log.warning("%d ASAP performance(s) are cut from MAESTRO files read too (metadata.csv's maestro_midi_performance), "
                    "e.g. %s from %s (%s): left out, so that each is read once, in MAESTRO's split", len(cuts),
                    cuts[0].path, whole.path, whole.split)
    left_out = {p.path for p in cuts}
    return [p for p in performances if p.path not in left_out]


def midi_in(folder: Path) -> list[Path]:
    """The MIDI files directly in `folder` (any case of .mid or .midi), sorted: what evaluate and plot read there, a
    link whose file is gone among them (it is named as unreadable, not passed over without a word). One whose name is
    not UTF-8 is left out with a warning (it could not be printed nor drawn)."""
    found = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in MIDI_SUFFIXES
                   and (p.is_file() or (p.is_symlink() and not p.exists())))
    for path in found:
        if not utf8_name(path):
            log.warning("%s: %s: left out", shown_name(path), NOT_UTF8)
    return [path for path in found if utf8_name(path)]


def midi_below(folder: Path) -> list[Path]:
    """The .mid and .midi names in the subfolders of `folder`, sorted: what evaluate and plot do not read, named
    where it is all a user has (those whose names are UTF-8, which can be named)."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.parent != folder
                  and utf8_name(p))


NOT_UTF8 = "its name is not UTF-8 (another system's or an instrument's encoding, as copied from a USB stick or a zip)"


def unlisted_midi(folder: Path, listed: list[str]) -> list[Path]:
    """The MIDI files in a MAESTRO `folder` (beside its table or below it) that are none of the `listed` paths (its
    table's rows, read or left out): prepare leaves them out."""
    listed_paths = {str(Path(path)) for path in listed}
    return [path for path in midi_in(folder) + midi_below(folder) if str(path) not in listed_paths]


def utf8_name(path: Path | str) -> bool:
    """Whether a path's name is text (a name of bytes that are not UTF-8 reaches Python as lone surrogates, which
    cannot be encoded, printed or written to a corpus's json)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(path: Path | str) -> str:
    """A path as it can be printed: the bytes of a name that is not UTF-8 as escapes (\\x97)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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


def read_folder(folder: Path, validation_fraction: float, test_fraction: float,
                problems: list[SourceProblem]) -> list[Performance]:
    found: list[Path] = []

    def on_error(e: OSError) -> None:
        problems.append(SourceProblem(str(e.filename), f"unreadable folder ({e.strerror})"))

    for root, dirs, files in os.walk(folder, onerror=on_error):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files) if Path(f).suffix.lower() in MIDI_SUFFIXES]
    performances = []
    for path in found:
        if not utf8_name(path):  # (its name could be neither hashed for the split nor printed: the whole source failed)
            problems.append(SourceProblem(shown_name(path), f"{NOT_UTF8}: rename it to read it"))
            continue
        piece = str(path.parent.relative_to(folder)) if path.parent != folder else path.stem
        performances.append(Performance(path=str(path), title=path.stem, piece=piece,
                                        split=split_by_hash(piece, validation_fraction, test_fraction)))
    return performances


def discover(sources: list[str | Path], validation_fraction: float = 0.1,
             test_fraction: float = 0.1) -> tuple[list[Performance], list[SourceProblem]]:
    """All performances named by `sources`, and the sources that could not be used."""
    performances: list[Performance] = []
    problems: list[SourceProblem] = []
    maestro_files: dict[str, Performance] = {}  # MAESTRO's midi_filename → its performance
    cut_from: dict[str, str] = {}  # an ASAP performance's path → the MAESTRO midi_filename it is cut from
    unchecked: list[Path] = []  # ASAP folders whose table names no MAESTRO file their performances are cut from
    inside: list[Path] = []  # folders and files read without a table: said where a dataset's table is above them
    for source in map(Path, sources):
        try:
            if source.is_dir():
                table = find_maestro_table(source)
                if table is not None:
                    left_out: list[SourceProblem] = []  # (rows in no split)
                    read = read_maestro(source, table, left_out)
                    problems += left_out
                    unlisted = unlisted_midi(source, [p.path for p in read + left_out]) if read else []
                    if unlisted:
                        log.warning("%s: %d MIDI file(s) here that %s does not list, e.g. %s: left out (give them as a "
                                    "source of their own)", source, len(unlisted), table.name, unlisted[0])
                    maestro_files |= {Path(p.path).relative_to(source).as_posix(): p for p in read
                                      if Path(p.path).is_relative_to(source)}  # (a row's absolute path: no ASAP cut's)
                    performances += read
                elif reads_as_asap(source):  # (a metadata.csv of one's own: a folder of MIDI files)
                    performances += read_asap(source, validation_fraction, test_fraction)
                    origins = maestro_origins(source)
                    cut_from |= origins
                    unchecked += [] if origins else [source]
                elif nested := nested_said(source):
                    problems.append(SourceProblem(str(source), nested))
                else:
                    if own := own_metadata_said(source):
                        log.warning(own)
                    found = read_folder(source, validation_fraction, test_fraction, problems)
                    inside.append(source)
                    if not found and (unzipped := unzipped_said(source)):
                        problems.append(SourceProblem(str(source), unzipped))
                    performances += found
            elif source.is_file() and (not_one := file_not_a_source(source)):
                problems.append(SourceProblem(str(source), not_one))
            elif source.is_file():
                inside.append(source)
                piece = source.parent.name or source.stem
                performances.append(Performance(path=str(source), title=source.stem, piece=piece,
                                                split=split_by_hash(piece, validation_fraction, test_fraction)))
            else:
                problems.append(SourceProblem(str(source), "no such file or folder"))
        except (OSError, ValueError, KeyError, csv.Error) as e:
            problems.append(SourceProblem(str(source), f"unusable source ({e})"))
    read_too = frozenset(Path(source).absolute() for source in sources)
    first_in = {}  # the folder each source read without a table lies in → the first such source (the folders above
    for source in inside:  # it, all enclosing_said looks at, are the same for every source there: looked at once)
        first_in.setdefault(source.absolute().parent, source)
    said_inside = next(filter(None, (enclosing_said(source, read_too) for source in first_in.values())), None)
    if said_inside:  # (said once: a dataset's files given one by one would say it for each)
        log.warning(said_inside)
    unique = list({p.path: p for p in performances}.values())
    if maestro_files and unchecked:  # (the ASAP table of another release, without the column)
        log.warning("%s: its metadata.csv names no MAESTRO file its performances are cut from (maestro_midi_performance), "
                    "so its cuts of MAESTRO's test performances cannot be left out and may be trained on; prepare MAESTRO "
                    "alone to keep MAESTRO's split", unchecked[0])
    return without_maestro_cuts(unique, maestro_files, cut_from), problems
