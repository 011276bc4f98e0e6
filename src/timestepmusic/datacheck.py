"""Check data before preparing it, in each layout `tsm prepare` reads: a MAESTRO v3.0.0 folder
(maestro-v3.0.0.csv/.json; counts and splits against the published figures), an ASAP folder (metadata.csv; split by
piece, as prepare splits it) or any folder of MIDI files (no table; split by the folder each file is in, as prepare
splits it). For each: the table read, every MIDI file present and readable."""
from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .dataset_tables import find_maestro_table, own_metadata_said, own_metadata_why, read_asap, read_maestro, reads_as_asap
from .midi import READ_MAX_EVENTS_PER_SECOND, READ_MAX_SECONDS, check_timing, piano_events
from .midi_open import load_score
from .parse_files import (
    copies_across_splits,
    copies_said,
    event_arrays,
    generated_said,
    late_start_s,
    late_starts_said,
    music_digest,
    written_by_generate,
)
from .performance import EMPTY_SPLIT_MEANS, SPLITS, Performance, SourceProblem
from .source_places import enclosing_said, file_not_a_source, nested_said, unzipped_said
from .sources import read_folder, unlisted_midi
from .stage_configs import CorpusConfig

# MAESTRO v3.0.0 as published: performances per split
MAESTRO_V3_SPLITS = {"train": 962, "validation": 137, "test": 177}
NO_MIDI = ("no MIDI files (.mid, .midi) in it or its folders, and no MAESTRO table (maestro-v3.0.0.csv or .json) or "
           "ASAP table (metadata.csv); give the folder that holds the performances")
FOLDER = "MIDI folder"  # the layout of a folder of MIDI files without a table


@dataclass
class DataCheck:
    folder: str
    layout: str | None = None
    """"MAESTRO" or "ASAP" (the table found) or FOLDER (MIDI files, no table); None where there is nothing to read."""
    table: str | None = None
    listed: dict[str, int] = field(default_factory=dict)
    """Performances the table lists, per split."""
    present: dict[str, int] = field(default_factory=dict)
    """… of them whose file is there, per split."""
    readable: dict[str, int] = field(default_factory=dict)
    """… of them that read as MIDI with piano notes (as prepare reads them), per split."""
    pieces: int = 0
    """Pieces among them (all performances of one piece share a split)."""
    composers: int = 0
    problems: list[dict] = field(default_factory=list)
    """{"file", "reason"} of each file missing or unreadable (or of the table, or the folder)."""
    disagreeing: list[str] = field(default_factory=list)
    """Where a MAESTRO folder holds both tables: each performance the json says otherwise than the csv (its file, and
    how), read as the csv says (not a problem)."""
    unlisted: list[str] = field(default_factory=list)
    """MIDI files in a MAESTRO folder that its table does not list: prepare leaves them out (not a problem)."""
    generated: list[str] = field(default_factory=list)
    """Readable files that `tsm generate` wrote (its marker): prepare reads them as performances, and warns (not a
    problem)."""
    late_starts: list[tuple[str, float]] = field(default_factory=list)
    """Readable files that begin with more than LATE_START_S of silence (path, seconds before the first note): prepare
    reads them, and warns (not a problem)."""
    inside: str | None = None
    """The warning of a folder read without a table that lies inside a dataset (source_places.enclosing_said): prepare reads
    it, split by hash, and warns (not a problem)."""
    not_asap: str | None = None
    """The line saying that the folder's own metadata.csv is not read as ASAP's table, and why
    (dataset_tables.own_metadata_said): prepare reads the folder as one of MIDI files, and warns (not a problem)."""
    copies: list[dict[str, str]] = field(default_factory=list)
    """Performances found in two splits ({split: a path}), as copies of one file or the same music saved again:
    prepare reads them, and warns (not a problem)."""

    @property
    def ok(self) -> bool:
        return (self.table is not None or self.layout == FOLDER) and not self.problems

    def to_dict(self) -> dict:
        return self.__dict__ | {"ok": self.ok}

    def counts_not_v3(self) -> str | None:
        """Where a MAESTRO table's counts per split are not v3.0.0's published ones (MAESTRO_V3_SPLITS), the line saying
        so, as what it is: a table of a subset or of another release, not files missing from the user's copy (a
        listed file that is not here is a problem of its own); None where they are."""
        if all(self.listed.get(split, 0) == n for split, n in MAESTRO_V3_SPLITS.items()):
            return None
        published = ", ".join(f"{n} {split}" for split, n in MAESTRO_V3_SPLITS.items())
        name = Path(self.table or "").name
        release = re.match(r"maestro-v(\d+(?:\.\d+)*)", name)  # (v3.0.0's saved again: 'maestro-v3.0.0 (1).csv')
        if release is None or release[1] != "3.0.0":
            how = f"expected of {name}, another release's table"
        elif all(self.listed.get(split, 0) <= n for split, n in MAESTRO_V3_SPLITS.items()):
            how = "expected of a subset of the release"
        else:
            how = "expected of another release's table, or an edited one"
        return (f"the table's counts per split are not MAESTRO v3.0.0's published ones ({published}): {how}; they count "
                "the table's rows, not files missing here (a listed file that is not here is a problem of its own)")

    def format(self) -> str:
        if self.layout is None:  # nothing to read: the reason, in one line (the folders it could not read before it)
            return "\n".join(f"NOT OK: {p['file']}: {p['reason']}" for p in self.problems)
        lines = [f"{self.folder}: " + ("a folder of MIDI files, no table" if self.layout == FOLDER
                                        else f"{self.layout} table {self.table or 'MISSING'}")]
        if self.listed:  # (none where the table could not be read)
            how = {"MAESTRO": "", "ASAP": "; split by piece, as prepare splits it"}.get(
                self.layout, "; each subfolder's files a piece, a file directly in it a piece of its own, as prepare splits them")
            by = "" if self.layout == FOLDER else f" by {self.composers} composer(s)"  # (a folder names none)
            lines[0] += f" ({sum(self.listed.values())} performance(s) of {self.pieces} piece(s){by}{how})"
            for split in SPLITS:
                lines.append(f"  {split:<11}{self.listed.get(split, 0):>5} {'listed' if self.table else 'found '} "
                             f"{self.present.get(split, 0):>5} present "
                             f"{self.readable.get(split, 0):>5} readable")
            if self.layout == "MAESTRO" and (other := self.counts_not_v3()):  # (ASAP's splits are prepare's: none)
                lines.append(f"  note: {other}")
            empty = [split for split in SPLITS if not self.listed.get(split)] if self.layout == FOLDER else []
            for split in empty[:1] if "train" in empty else empty:  # (as prepare warns, said before it is run)
                means = {"train": "nothing can be trained on it"} | EMPTY_SPLIT_MEANS
                lines.append(f"  note: no performance in the {split} split, so {means[split]}; put each piece's takes "
                             "in a subfolder of their own, or add pieces")
        if self.disagreeing:
            lines.append(f"  note: the json disagrees with the csv in {len(self.disagreeing)} place(s), e.g. "
                         f"{self.disagreeing[0]}: prepare reads the csv")
        if self.unlisted:
            lines.append(f"  note: {len(self.unlisted)} MIDI file(s) here that the table does not list, e.g. "
                         f"{self.unlisted[0]}: prepare leaves them out (give them as a source of their own)")
        if self.not_asap:  # (as prepare warns, said before it is run)
            lines.append(f"  warning: {self.not_asap}")
        if self.inside:  # (as prepare warns, said before it is run)
            lines.append(f"  warning: {self.inside}")
        if self.generated:  # (as prepare warns, said before it is run)
            lines.append(f"  warning: {generated_said(self.generated, sum(self.readable.values()))}")
        if self.copies:  # (as prepare warns, said before it is run)
            lines.append(f"  warning: {copies_said(self.copies)}")
        if self.late_starts:  # (as prepare warns, said before it is run)
            lines.append(f"  warning: {late_starts_said(self.late_starts)}")
        for p in self.problems[:20]:
            lines.append(f"  problem: {p['file']}: {p['reason']}")
        if len(self.problems) > 20:
            lines.append(f"  … and {len(self.problems) - 20} more problems")
        lines.append("OK" if self.ok else f"NOT OK: {len(self.problems)} problem(s)")
        return "\n".join(lines)


def check_data(folder: str | Path) -> DataCheck:
    """Check a MAESTRO folder, an ASAP folder or a folder of MIDI files, whichever it is (as `tsm prepare` tells them
    apart: a MAESTRO table first, then a metadata.csv with ASAP's columns); a folder that holds a dataset's table one
    level down, or no MIDI file, is one problem, said in one line."""
    folder = Path(folder)
    if not folder.is_dir():  # (a file given for it said as one, not as missing)
        why = ((folder.is_file() and file_not_a_source(folder)) or "a file, not a folder; give the folder that holds the "
               "dataset") if folder.exists() else "no such folder"
        return DataCheck(str(folder), problems=[{"file": str(folder), "reason": why}])
    if find_maestro_table(folder) is not None:
        return check_maestro(folder)
    if reads_as_asap(folder):  # (a metadata.csv of one's own: a folder of MIDI files, as prepare reads it)
        return check_asap(folder)
    return check_folder(folder)


def check_maestro(folder: str | Path) -> DataCheck:
    """A MAESTRO v3.0.0 folder (maestro-v3.0.0.csv or .json; dataset_tables.read_maestro), its splits the release's."""
    folder = Path(folder)
    result = DataCheck(str(folder), layout="MAESTRO")
    if not folder.is_dir():
        result.problems.append({"file": str(folder), "reason": "no such folder"})
        return result
    table = find_maestro_table(folder)
    if table is None:
        result.problems.append({"file": str(folder / "maestro-v3.0.0.csv"),
                                "reason": "no MAESTRO table (maestro-v3.0.0.csv or .json); is this the unzipped folder?"})
        return result
    result.table = str(table)
    left_out: list[SourceProblem] = []  # (rows in no split)
    performances = _check_table(result, table, lambda: read_maestro(folder, table, left_out))
    result.problems += [{"file": p.path, "reason": p.reason} for p in left_out]
    if performances and table.suffix == ".csv" and table.with_suffix(".json").is_file():
        result.disagreeing = _disagreeing(performances, folder, table.with_suffix(".json"), left_out)
    if performances:
        result.unlisted = [str(path) for path in unlisted_midi(folder, [p.path for p in performances + left_out])]
    return result


def _disagreeing(performances: list[Performance], folder: Path, json_table: Path,
                 left_out: list[SourceProblem]) -> list[str]:
    """Each of the csv's `performances` that the MAESTRO json beside it says otherwise (its split, composer or title,
    or not at all), as '{file}: split train in the csv, test in the json'; the json's own rows the csv lacks too (not
    those the csv lists in no split, `left_out`: a problem already). None where the json cannot be read (it is not
    read by prepare either)."""
    unsplit: list[SourceProblem] = []  # (the json's rows in no split: there, but not read)
    try:
        from_json = {p.path: p for p in read_maestro(folder, json_table, unsplit, say_repeats=False)}
    except (ValueError, KeyError, OSError, TypeError, AttributeError):
        return []
    in_no_split = {p.path for p in unsplit}
    said = []
    for perf in performances:
        other = from_json.pop(perf.path, None)
        if other is None:
            how = (f"split {perf.split!r} in the csv, none of {', '.join(SPLITS)} in the json" if perf.path in in_no_split
                   else "not in the json")
            said.append(f"{perf.path}: {how}")
            continue
        said += [f"{perf.path}: {name} {getattr(perf, name)!r} in the csv, {getattr(other, name)!r} in the json"
                 for name in ("split", "composer", "title") if getattr(perf, name) != getattr(other, name)]
    listed = {p.path for p in left_out}
    return said + [f"{path}: not in the csv" for path in from_json if path not in listed]


def check_asap(folder: str | Path) -> DataCheck:
    """An ASAP folder (metadata.csv, one row per performance; dataset_tables.read_asap), split as `tsm prepare` splits it
    with the default fractions."""
    folder = Path(folder)
    table = folder / "metadata.csv"
    result = DataCheck(str(folder), layout="ASAP", table=str(table))
    corpus = CorpusConfig()
    _check_table(result, table, lambda: read_asap(folder, corpus.validation_fraction, corpus.test_fraction))
    return result


def _check_table(result: DataCheck, table: Path, read: Callable[[], list[Performance]]) -> list[Performance]:
    """The performances `read` finds in `table`, checked into `result` (`_check_files`); none, with the table's own
    problem in `result`, where it cannot be read."""
    try:
        performances = read()
    except (ValueError, KeyError, OSError, csv.Error) as e:
        result.problems.append(_unreadable(table, e))
        return []
    _check_files(result, performances)
    return performances


def check_folder(folder: str | Path) -> DataCheck:
    """A folder of MIDI files with no table (sources.read_folder, as `tsm prepare` reads it): each folder's files one
    piece, split with the default fractions; a folder with no MIDI file is one problem."""
    folder = Path(folder)
    nested = nested_said(folder)
    if nested:  # (prepare refuses it: read as a folder of MIDI files, each year or composer would be a piece)
        return DataCheck(str(folder), problems=[{"file": str(folder), "reason": nested}])
    unreadable: list[SourceProblem] = []
    performances = read_folder(folder, CorpusConfig().validation_fraction, CorpusConfig().test_fraction, unreadable)
    found = [{"file": p.path, "reason": p.reason} for p in unreadable]
    if not performances:
        why = own_metadata_why(folder)  # (the metadata.csv there said, which NO_MIDI would deny)
        reason = unzipped_said(folder) or NO_MIDI + (f" ({folder / 'metadata.csv'} is not ASAP's: {why})" if why else "")
        return DataCheck(str(folder), problems=found + [{"file": str(folder), "reason": reason}])
    result = DataCheck(str(folder), layout=FOLDER, inside=enclosing_said(folder), not_asap=own_metadata_said(folder))
    result.problems += found
    _check_files(result, performances)
    return result


def _unreadable(table: Path, e: Exception) -> dict:
    """The problem of a table that cannot be read, its reason in words (without the table's name twice)."""
    reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).removeprefix(f"{table}: ")
    if isinstance(e, KeyError):  # (a MAESTRO json whose columns are not all as long)
        reason = f"a column lacks entry {e}"
    return {"file": str(table), "reason": f"unreadable table ({reason})"}


def _check_files(result: DataCheck, performances: list[Performance]) -> None:
    """Count the listed performances per split, those present and those readable, into `result`; each missing or
    unreadable file is a problem."""
    result.listed = dict(Counter(p.split for p in performances))
    result.pieces = len({p.piece for p in performances})
    result.composers = len({p.composer for p in performances})
    present: Counter = Counter()
    readable: Counter = Counter()
    played = []  # (music_digest, split, path) of each readable performance
    for perf in performances:
        if not Path(perf.path).is_file():
            result.problems.append({"file": perf.path, "reason": "listed in the table, but not there"
                                    if result.table else "not a file (a link to nowhere?)"})
            continue
        present[perf.split] += 1
        try:
            # as prepare reads it, less the pedals symusic leaves out (which no file of drum notes alone, or of
            # implausible timing, is refused or kept for)
            events, _ = piano_events(load_score(perf.path), perf.path)
            check_timing(events, perf.path, READ_MAX_SECONDS, READ_MAX_EVENTS_PER_SECOND)
            readable[perf.split] += 1
            arrays = event_arrays(events)
            played.append((music_digest(arrays), perf.split, perf.path))
            if (late := late_start_s(arrays)) is not None:
                result.late_starts.append((perf.path, late))
            if written_by_generate(perf.path, None):
                result.generated.append(perf.path)
        except ValueError as e:
            result.problems.append({"file": perf.path, "reason": str(e).removeprefix(f"{perf.path}: ")})
    result.present = dict(present)
    result.readable = dict(readable)
    result.copies = copies_across_splits(played)
