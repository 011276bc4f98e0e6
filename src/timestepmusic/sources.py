"""Where performances come from: a MAESTRO v3.0.0 folder, an ASAP-style folder, any MIDI folder, files.

Each source becomes a list of `Performance` records (file + composer, title, piece, split, year).
Splits follow the source's own where it has one (MAESTRO's csv/json); otherwise a piece is put in
train/validation/test by hashing its name (ASAP: the `folder` column; plain folders: the parent
folder), so that all performances of one piece share a split and reruns agree. ASAP and MAESTRO read together: the
ASAP performances cut from a MAESTRO file that is read too are left out (MAESTRO's split holds the file).
"""
from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

from .dataset_tables import find_maestro_table, maestro_origins, own_metadata_said, read_asap, read_maestro, reads_as_asap
from .performance import MIDI_SUFFIXES, Performance, SourceProblem, split_by_hash
from .source_places import enclosing_said, file_not_a_source, nested_said, unzipped_said

log = logging.getLogger(__name__)


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
