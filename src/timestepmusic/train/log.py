"""Metrics log: one JSON object per line, appended and flushed, readable while training runs."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


class MetricsLog:
    """Appends records to `path`. With `resumed_at` (the step a resumed run starts from), records of
    later steps are dropped first: a run killed after logging a step but before its checkpoint was
    in place logs that step again when it is resumed, and must not leave two rows for it."""

    def __init__(self, path: str | Path, resumed_at: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resumed_at is not None:
            self.drop_after(resumed_at)

    def write(self, record: dict) -> None:
        line = json.dumps({"time": time.time()} | record)
        with self.path.open("a") as f:
            f.write(line + "\n")

    def drop_after(self, step: int) -> None:
        """Keep only the records up to `step` (and those without one); rewritten atomically."""
        try:
            text = self.path.read_text()
        except OSError:
            return
        records = read_metrics(self.path)
        kept = [r for r in records if not isinstance(r.get("step"), int) or r["step"] <= step]
        if len(kept) == len(records) and text.endswith("\n") == bool(text):  # nothing to drop, no half line
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        tmp.replace(self.path)


def read_metrics(path: str | Path) -> list[dict]:
    """All records of a metrics log; a half-written last line (a crash mid-write) is ignored."""
    records = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
