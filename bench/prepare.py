"""Benchmark: `timestepmusic.prepare_corpus.prepare` on the 984 ASAP performances, cold then warm, beside a
plain mido baseline (bench/mido_baseline.py).

  cold      empty output folder: discover, parse every file in the process pool, write the cache
            and the corpus. The folder is deleted before each cold run; nothing is warmed up first
            (the MIDI files themselves may sit in the OS page cache after the first run).
  warm      the same folder again: every file unchanged, so the corpus on disk is reused.
  baseline  mido, one process, no cache, on every n-th file (sorted by path); extrapolated to all
            files by bytes unless that estimate is under 3 minutes, in which case all files are run.

Each run is a fresh Python process. Seconds are the `prepare(...)` call; "whole process" rows add
interpreter start and imports (what `tsm prepare` pays). Peak memory: getrusage maxrss of the
process plus that of its largest child (a pool worker), and, sampled every 0.1 s, the summed PSS
of the process and its children alive together. Targets (from the issue): cold ≤ 10 s, warm ≤ 1 s,
peak ≤ 1.5 GiB.

    python bench/prepare.py                                   # print the table
    python bench/prepare.py --markdown bench/results/prepare.md   # and write it there
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import DEFAULT_DATA, busy_warning, load_average, table, verdict, write_markdown  # noqa: E402

COLD_TARGET_S, WARM_TARGET_S, MEMORY_TARGET_MIB = 10.0, 1.0, 1.5 * 1024
FULL_BASELINE_UNDER_S = 180.0
SAMPLE_EVERY_S = 0.1
MIDI_SUFFIXES = (".mid", ".midi")


# ---------------------------------------------------------------- child processes (one per run)

def maxrss_mib() -> tuple[float, float]:
    """(this process, its largest waited-for child) peak resident memory in MiB (Linux: KiB units)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def child_prepare(data: Path, out: Path, workers: int) -> dict:
    started = time.perf_counter()
    from timestepmusic.config import Config
    from timestepmusic.prepare_corpus import prepare
    imported = time.perf_counter()
    config = Config().override({"corpus.workers": workers})
    report = prepare([data], out, config, progress=False)
    seconds = time.perf_counter() - imported
    self_mib, child_mib = maxrss_mib()
    return {"seconds": seconds, "import_s": imported - started, "self_mib": self_mib, "child_mib": child_mib,
            "reused": report.reused, "parsed": report.parsed, "from_cache": report.from_cache,
            "files": report.corpus.num_tracks + len(report.skipped), "skipped": len(report.skipped),
            "workers": workers or os.cpu_count()}


def child_baseline(paths: list[str]) -> dict:
    started = time.perf_counter()
    import mido_baseline  # bench/ is on sys.path (see the imports above)
    imported = time.perf_counter()
    result = mido_baseline.run([Path(p) for p in paths])
    self_mib, child_mib = maxrss_mib()
    return {"seconds": result["seconds"], "import_s": imported - started, "self_mib": self_mib,
            "child_mib": child_mib, "files": len(paths), "per_file": result["files"]}


# ---------------------------------------------------------------- parent: run, sample, compare

def tree_pss_mib(pid: int) -> float:
    """Summed proportional set size of a process and all its descendants, in MiB (0 when gone)."""
    total_kib, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
                    break
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # the process ended between two reads
    return total_kib / 1024


def run_child(args: list[str]) -> dict:
    """Run this script in child mode; return its JSON result plus wall seconds and sampled tree PSS."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], stdout=subprocess.PIPE,
                            text=True)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_pss_mib(proc.pid))
            time.sleep(SAMPLE_EVERY_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child {' '.join(args)} failed with exit status {proc.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    return result | {"process_s": wall, "pss_mib": peak[0]}


def compare(per_file: dict, manifest: dict) -> tuple[int, list[str]]:
    """Files where baseline and prepare agree on notes, pedal events per pedal, chunks and overflow."""
    tracks = {t["path"]: t for t in manifest["tracks"]}
    agree, differ = 0, []
    for path, b in per_file.items():
        t = tracks.get(path)
        mine = (b["notes"], b["pedal_events"], b["chunks"], b["overflow"])
        if t is not None and (t["notes"], t["pedal_events"], t["chunks"], t["overflow"]) == mine:
            agree += 1
        else:
            differ.append(path)
    return agree, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ASAP folder (default ../shared/data/asap)")
    parser.add_argument("--out", type=Path, default=None,
                        help="corpus folder to use (deleted before each cold run; default: a temporary folder)")
    parser.add_argument("--repeat", type=int, default=3, help="cold and warm runs each; the median is shown")
    parser.add_argument("--workers", type=int, default=0, help="corpus.workers for prepare (0 = one per core)")
    parser.add_argument("--baseline-every", type=int, default=10, help="baseline on every n-th file")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the report to this file")
    parser.add_argument("--phase", choices=("prepare", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--paths", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "prepare":
        print(json.dumps(child_prepare(args.data, args.out, args.workers)))
        return
    if args.phase == "baseline":
        print(json.dumps(child_baseline(args.paths.read_text().split("\n"))))
        return

    if not args.data.is_dir():
        print(f"skipped: {args.data} is absent; this benchmark needs the ASAP performances there "
              "(see ../shared/data/README.md) or a folder given with --data")
        return
    paths = sorted(str(p) for p in args.data.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    data_arg = os.path.relpath(args.data)
    paths = [os.path.join(data_arg, os.path.relpath(p, args.data)) for p in paths]  # as prepare names them
    temporary = args.out is None
    out = Path(tempfile.mkdtemp(prefix="tsm-bench-prepare-")) if temporary else args.out
    if not temporary and out.exists() and any(out.iterdir()) and not (out / "corpus.json").is_file():
        raise SystemExit(f"--out {out}: exists, is not empty and holds no corpus.json; refusing to delete it")

    load_before = os.getloadavg()[0]
    try:
        prepare_args = ["--phase", "prepare", "--data", data_arg, "--out", str(out), "--workers", str(args.workers)]
        cold, warm = [], []
        for _ in range(args.repeat):
            shutil.rmtree(out, ignore_errors=True)
            cold.append(run_child(prepare_args))
            print(f"cold run: {cold[-1]['seconds']:.2f} s", file=sys.stderr)
        for _ in range(args.repeat):
            warm.append(run_child(prepare_args))
            print(f"warm run: {warm[-1]['seconds']:.3f} s", file=sys.stderr)
        manifest = json.loads((out / "corpus.json").read_text())

        subset = paths[::args.baseline_every]
        sizes = {p: os.path.getsize(p) for p in paths}
        list_file = out / "baseline-paths.txt"
        list_file.write_text("\n".join(subset))
        base = run_child(["--phase", "baseline", "--paths", str(list_file)])
        print(f"baseline on {len(subset)} files: {base['seconds']:.1f} s", file=sys.stderr)
        agree, differ = compare(base["per_file"], manifest)
        byte_share = sum(sizes[p] for p in subset) / sum(sizes.values())
        base_estimate = base["seconds"] / byte_share
        extrapolated = base_estimate >= FULL_BASELINE_UNDER_S and len(subset) < len(paths)
        if not extrapolated and len(subset) < len(paths):
            list_file.write_text("\n".join(paths))
            base = run_child(["--phase", "baseline", "--paths", str(list_file)])
            agree, differ = compare(base["per_file"], manifest)
            base_estimate = base["seconds"]
    finally:
        if temporary:
            shutil.rmtree(out, ignore_errors=True)

    load = (load_before, os.getloadavg()[0])
    lines = report(args, paths, cold, warm, base, base_estimate, extrapolated, byte_share, agree, differ, load)
    print("\n".join(lines))
    write_markdown(args.markdown, "# `prepare` benchmark", lines)


def report(args, paths, cold, warm, base, base_estimate, extrapolated, byte_share, agree, differ,
           load: tuple[float, float]) -> list[str]:
    n = cold[0]["files"]
    rows = []

    def row(name: str, seconds: float, runs: list[dict], target: float | None) -> None:
        """target None: the baseline row, which has no targets of its own."""
        rss = max(r["self_mib"] + r["child_mib"] for r in runs)
        pss = max(r["pss_mib"] for r in runs)
        rows.append([name, f"{seconds:.3f}" if seconds < 1 else f"{seconds:.2f}", f"{n / seconds:,.0f}",
                     f"{rss:,.0f}", f"{pss:,.0f}", f"×{base_estimate / seconds:,.1f}",
                     "" if target is None else f"≤ {target:g} s {verdict(seconds <= target)}",
                     "" if target is None else f"≤ 1.5 GiB {verdict(max(rss, pss) <= MEMORY_TARGET_MIB)}"])

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)
    row("cold: prepare()", median(cold, "seconds"), cold, COLD_TARGET_S)
    row("cold: whole process", median(cold, "process_s"), cold, COLD_TARGET_S)
    row("warm: prepare()", median(warm, "seconds"), warm, WARM_TARGET_S)
    row("warm: whole process", median(warm, "process_s"), warm, WARM_TARGET_S)
    label = (f"baseline: mido, 1 process (EXTRAPOLATED from {base['files']} files)" if extrapolated
             else "baseline: mido, 1 process (all files)")
    row(label, base_estimate, [base], None)

    lines = [f"prepare on {n} files from {os.path.relpath(args.data)}; {cold[0]['workers']} worker processes; "
             f"median of {len(cold)} cold and {len(warm)} warm runs; {load_average(*load)}",
             *busy_warning(*load), ""]
    lines += table(["phase", "seconds", "files/s", "peak MiB (maxrss self+child)", "peak MiB (tree PSS)",
                    "speed-up vs baseline", "time target", "memory target"], rows)
    lines += ["",
              f"cold runs (s): {', '.join(format(r['seconds'], '.2f') for r in cold)}; "
              f"warm runs (s): {', '.join(format(r['seconds'], '.3f') for r in warm)}; "
              f"import of timestepmusic.prepare_corpus: {median(cold, 'import_s'):.2f} s",
              f"a cold run parsed {cold[0]['parsed']} files, took {cold[0]['from_cache']} from the content cache "
              f"(same bytes as another file) and skipped {cold[0]['skipped']}; warm runs reused the corpus: "
              f"{all(r['reused'] for r in warm)}"]
    if extrapolated:
        lines.append(f"baseline measured on every {args.baseline_every}th file: {base['files']} files, "
                     f"{100 * byte_share:.1f} % of the bytes, {base['seconds']:.1f} s; scaled by bytes to "
                     f"{len(paths)} files = {base_estimate:.0f} s (extrapolated, not measured)")
    lines.append(f"baseline and prepare agree on notes, pedal events per pedal, chunks and overflow for "
                 f"{agree}/{base['files']} files" + (f"; differ: {', '.join(differ[:5])}" if differ else ""))
    lines.append("peak MiB (maxrss self+child): the process's own peak plus the largest single pool worker's; "
                 "tree PSS: the largest sum, sampled every 0.1 s, over the process and its live workers "
                 "(shared pages counted once)")
    return lines


if __name__ == "__main__":
    main()
