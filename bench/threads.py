"""Benchmark: `tsm generate` on one CPU thread (the default since the forty-fourth session) beside two, on a quiet
machine and beside a busy core (one process spinning at normal priority while generate runs under `nice -n 19`, as
a job started in the background beside other work would). Several threads wait on each other at every step, and one
of them is often off the CPU when the others need it: there, more threads are many times slower.

    python bench/threads.py --markdown bench/results/threads_44.md
    python bench/threads.py --train-minutes 0.75 --corpus CORPUS   # also: steps trained in that time, quiet machine

With --train-minutes, `tsm train-gan CORPUS --init-from default --max-minutes M` on one and on two threads (the
quiet machine only): training does gain from cores that are free.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import load_average, table, write_markdown  # noqa: E402

SPIN = "while True: pass"


def timed_generate(threads: int, n: int, seconds: float, niced: bool, out: Path) -> float:
    """Wall seconds of one `tsm generate` process (threads set by --threads)."""
    tsm = Path(sys.executable).with_name("tsm")
    cmd = ([str(tsm)] if tsm.is_file() else [sys.executable, "-m", "timestepmusic"]) + [
        "generate", "-n", str(n), "--seconds", str(seconds), "-o", str(out), "--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    t0 = time.perf_counter()
    subprocess.run((["nice", "-n", "19"] if niced else []) + cmd, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def trained_steps(threads: int, corpus: Path, minutes: float, out: Path) -> int:
    """Generator steps `tsm train-gan --init-from default` reaches in `minutes` (its metrics log's stop row)."""
    tsm = Path(sys.executable).with_name("tsm")
    cmd = ([str(tsm)] if tsm.is_file() else [sys.executable, "-m", "timestepmusic"]) + [
        "train-gan", str(corpus), "--init-from", "default", "--steps", "1000000", "--max-minutes", str(minutes),
        "--out", str(out), "--threads", str(threads), "-q"]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return max(row["step"] for row in rows if "step" in row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="pieces per run (default 20)")
    parser.add_argument("--seconds", type=float, default=4.0, help="each piece's length (default 4)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each setting, interleaved; the median is shown")
    parser.add_argument("--train-minutes", type=float, help="also train the default this long on one and on two "
                        "threads (needs --corpus)")
    parser.add_argument("--corpus", type=Path, help="a prepared corpus for --train-minutes")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.train_minutes and args.corpus is None:
        parser.error("--train-minutes needs --corpus (tsm prepare's output)")

    load_before = os.getloadavg()[0]
    settings = [(threads, busy) for busy in (False, True) for threads in (1, 2)]
    wall: dict[tuple[int, bool], list[float]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory(prefix="tsm-bench-threads-") as tmp:
        for run in range(args.runs):
            for threads, busy in settings:
                spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
                try:
                    wall[threads, busy].append(timed_generate(threads, args.n, args.seconds, niced=busy,
                                                              out=Path(tmp) / f"{threads}{busy}{run}"))
                finally:
                    if spinner is not None:
                        spinner.kill()
                        spinner.wait()
        steps = {threads: [trained_steps(threads, args.corpus, args.train_minutes, Path(tmp) / f"run{threads}{run}")
                           for run in range(args.runs)] for threads in (1, 2)} if args.train_minutes else {}
    load_after = os.getloadavg()[0]
    rows = []
    for busy in (False, True):
        one = statistics.median(wall[1, busy])
        two = statistics.median(wall[2, busy])
        rows.append(["beside a busy core (generate niced)" if busy else "quiet machine", f"{one:.2f} s",
                     f"{two:.2f} s", f"{two / one:.2f}×"])
    lines = [f"tsm generate -n {args.n} --seconds {args.seconds:g} (the shipped default), a whole process each, "
             f"{args.runs} runs of each setting interleaved (median); {os.cpu_count()} cores",
             load_average(load_before, load_after), ""]
    lines += table(["machine", "--threads 1 (default)", "--threads 2 (baseline: torch's own choice here)",
                    "2 threads ÷ 1"], rows)
    if steps:
        lines += ["", f"tsm train-gan --init-from default for {args.train_minutes:g} min on the quiet machine, steps "
                  f"reached (median of {args.runs}; the process's start included): one thread "
                  f"{statistics.median(steps[1]):.0f}, two threads {statistics.median(steps[2]):.0f} "
                  f"({statistics.median(steps[2]) / statistics.median(steps[1]):.2f}×); runs: {steps}"]
    lines += ["", "runs (s): " + "; ".join(f"{t} thread(s){' busy' if b else ''}: "
                                           + ", ".join(f"{x:.2f}" for x in wall[t, b]) for t, b in settings)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# One thread or two (tsm generate)", lines)


if __name__ == "__main__":
    main()
