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


class TrainingFigures:
    """The training figures of the steps since the last line written, for that line: each one's mean over the
    steps that gave it, and the steps per second. The rate's clock runs only while a step trains, so start-up
    (a resumed run's too), validation, checkpoints and samples are not counted in it. The means' sums are kept
    in checkpoints (`to_dict`), so a resumed run's first line averages the same steps as the uninterrupted run's."""

    def __init__(self, saved: dict | None = None):
        self.sums: dict[str, float] = dict((saved or {}).get("sums", {}))
        self.counts: dict[str, int] = dict((saved or {}).get("counts", {}))
        self.timed_steps, self.seconds = 0, 0.0

    def add(self, record: dict[str, float], seconds: float) -> None:
        """One step's figures, and the seconds it took to train."""
        for key, value in record.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1
        self.timed_steps += 1
        self.seconds += seconds

    def line(self) -> dict[str, float]:
        """The means and steps/s since the last line (steps/s left out where no step was timed); then empty."""
        said = {key: total / self.counts[key] for key, total in self.sums.items()}
        if self.timed_steps:
            said["steps_per_s"] = self.timed_steps / max(self.seconds, 1e-9)
        self.__init__()
        return said

    def to_dict(self) -> dict:
        """The sums not yet written, for a checkpoint."""
        return {"sums": dict(self.sums), "counts": dict(self.counts)}


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
