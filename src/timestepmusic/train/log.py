"""Metrics log: one JSON object per line, appended and flushed, readable while training runs."""
from __future__ import annotations

import json
import time
from pathlib import Path


class MetricsLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict) -> None:
        line = json.dumps({"time": time.time()} | record)
        with self.path.open("a") as f:
            f.write(line + "\n")


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
