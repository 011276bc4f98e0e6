"""Check a downloaded MAESTRO v3.0.0 folder before preparing it: table present, every listed MIDI
file present and readable, counts and hours per split against the published figures."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .midi import load_score
from .sources import find_maestro_table, read_maestro

# MAESTRO v3.0.0 as published: performances per split
MAESTRO_V3_SPLITS = {"train": 962, "validation": 137, "test": 177}


@dataclass
class DataCheck:
    folder: str
    table: str | None = None
    listed: dict[str, int] = field(default_factory=dict)
    readable: dict[str, int] = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.table is not None and not self.problems

    def to_dict(self) -> dict:
        return self.__dict__ | {"ok": self.ok}

    def format(self) -> str:
        lines = [f"{self.folder}: table {self.table or 'MISSING'}"]
        for split in ("train", "validation", "test"):
            expected = MAESTRO_V3_SPLITS[split]
            listed = self.listed.get(split, 0)
            note = "" if listed == expected else f"   (MAESTRO v3.0.0 has {expected})"
            lines.append(f"  {split:<11}{listed:>5} listed {self.readable.get(split, 0):>5} readable{note}")
        for p in self.problems[:20]:
            lines.append(f"  problem: {p['file']}: {p['reason']}")
        if len(self.problems) > 20:
            lines.append(f"  … and {len(self.problems) - 20} more problems")
        lines.append("OK" if self.ok else f"NOT OK: {len(self.problems)} problem(s)")
        return "\n".join(lines)


def check_maestro(folder: str | Path) -> DataCheck:
    folder = Path(folder)
    result = DataCheck(str(folder))
    if not folder.is_dir():
        result.problems.append({"file": str(folder), "reason": "no such folder"})
        return result
    table = find_maestro_table(folder)
    if table is None:
        result.problems.append({"file": str(folder / "maestro-v3.0.0.csv"),
                                "reason": "no MAESTRO table (maestro-v3.0.0.csv or .json); is this the unzipped folder?"})
        return result
    result.table = str(table)
    try:
        performances = read_maestro(folder, table)
    except (ValueError, KeyError, OSError) as e:
        result.problems.append({"file": str(table), "reason": str(e)})
        return result
    result.listed = dict(Counter(p.split for p in performances))
    readable: Counter = Counter()
    for perf in performances:
        try:
            score = load_score(perf.path)
            if not any(len(t.notes) for t in score.tracks):
                raise ValueError(f"{perf.path}: no notes")
            readable[perf.split] += 1
        except ValueError as e:
            result.problems.append({"file": perf.path, "reason": str(e).removeprefix(f"{perf.path}: ")})
    result.readable = dict(readable)
    return result
