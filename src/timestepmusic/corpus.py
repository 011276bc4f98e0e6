"""Prepare a corpus: sources → events per file (parsed in parallel, cached) → chunk index on disk.

On disk, CORPUS/ holds:
  corpus.json           settings, tracks (metadata + counts), skipped files, duration fit, data key
  data-<key>/*.npy      every event of every track (uncapped; the cap is applied when batching):
                        ids int16 [E], start_s float64 [E] (from the track's start), duration_s
                        float32 [E], intensity uint8 [E]; CSR pointers track_event_ptr [T+1],
                        track_chunk_ptr [T+1], chunk_event_ptr [C+1] (global event indices)
  cache/<sha1>-b<bins>-r<reader>.npz  one parsed file, keyed by its content, the pedal binning and the
                        reader (midi.READER_VERSION; entries of an earlier reader are deleted)
The data folder is written under a temporary name and renamed, then corpus.json is replaced
atomically, so a crash leaves the previous corpus intact. Preparing again with the same files and
settings reuses everything; changed files are parsed again, unchanged ones come from the cache.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .chunks import chunk_pointers, count_chunks, overflow
from .config import Config
from .durations import DurationFit
from .files import atomic_path, held_folder
from .markers import MADE_BY
from .midi import (
    DAMPER_ID,
    NUM_KEYS,
    READER_VERSION,
    Events,
    check_timing,
    piano_events,
    score_from_bytes,
)
from .sources import EMPTY_SPLIT_MEANS, SPLITS, Performance, discover

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
ARRAYS = ("ids", "start_s", "duration_s", "intensity", "track_event_ptr", "track_chunk_ptr", "chunk_event_ptr")


CACHE_KEYS = {"ids", "start_s", "duration_s", "intensity", "end_s", "drops"}
DAMAGED_CACHE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)  # what np.load raises on a bad .npz


def _read_cache(cached: Path) -> tuple[dict, float, dict]:
    """A cache entry → (arrays, end_s, drops); raises one of DAMAGED_CACHE when it is not whole."""
    with cached.open("rb") as f, np.load(f, allow_pickle=False) as z:  # our handle: closed even when np.load fails
        if set(z.files) != CACHE_KEYS:
            raise ValueError(f"holds {sorted(z.files)}")
        arrays = {k: z[k] for k in z.files}
    drops = json.loads(str(arrays.pop("drops")))
    end_s = float(arrays.pop("end_s"))
    if len({a.shape for a in arrays.values()}) != 1:
        raise ValueError("arrays of different lengths")
    return arrays, end_s, drops


KILLED_IN_A_ROW = 4  # parsing processes killed with no result between them (at least; twice the workers where more):
# prepare stops rather than forking on


def parsed_in_workers(job_args: list[tuple], workers: int) -> Iterator[dict]:
    """`_parse_file` of each job in `workers` processes, in the order they finish. Each worker is handed its share
    when it starts (nothing queued to it that a stopped worker could leave half read), sends back what it parsed
    through a pipe of its own and ignores Ctrl-C, which the parent takes: on it, or on any error, the workers are
    killed where they are. A worker killed by a signal (the out-of-memory killer's SIGKILL, a crash in the parser's
    native code) ends its pipe, even halfway through a result, and takes no lock with it that the others wait on: the
    file it was on is skipped (`_stopped_on`) and the rest of its share goes to a new worker, up to KILLED_IN_A_ROW
    (or twice the workers) killed with no result between them; a worker that exits otherwise stops the whole prepare
    in one line."""
    running: dict[Connection, tuple[multiprocessing.Process, list[tuple], int]] = {}  # pipe → worker, share, results
    killed_in_a_row = 0
    try:
        for w in range(workers):
            if job_args[w::workers]:
                running.update([_started_worker(job_args[w::workers])])
        while running:
            for pipe in wait(list(running)):
                process, share, done = running[pipe]
                try:
                    result = pipe.recv()
                except (EOFError, OSError):  # its pipe ended: the worker is done, or dead (perhaps mid-result)
                    result = None
                if result is not None:
                    running[pipe], killed_in_a_row = (process, share, done + 1), 0
                    yield result
                    continue
                del running[pipe]
                pipe.close()
                process.join()
                if done == len(share):  # (its share parsed)
                    continue
                stopped = share[done][0]
                if process.exitcode is None or process.exitcode >= 0:
                    raise ValueError(f"{stopped}: the process parsing it stopped (exit code {process.exitcode}); "
                                     "--set corpus.workers=1 parses the files one by one")
                killed_in_a_row += 1
                if killed_in_a_row >= max(KILLED_IN_A_ROW, 2 * workers):  # (a burst may take each worker at once)
                    raise ValueError(f"{stopped}: {killed_in_a_row} parsing processes in a row were killed (the last "
                                     f"by signal {-process.exitcode}), with no file parsed between: short of memory? "
                                     "--set corpus.workers=1 parses the files one by one")
                yield _stopped_on(stopped, process.exitcode)
                if share[done + 1:]:
                    running.update([_started_worker(share[done + 1:])])
    except BaseException:  # Ctrl-C, an error, or the reader gone
        for process, _, _ in running.values():
            process.kill()
        for pipe, (process, _, _) in running.items():  # (gone at once: nothing left for the exit to wait on)
            process.join()
            pipe.close()
        raise


def _started_worker(share: list[tuple]) -> tuple[Connection, tuple[multiprocessing.Process, list[tuple], int]]:
    """A process parsing `share` (`_parse_share`): the end of its pipe that this process reads, and (the process, its
    share, 0 results read). The worker holds the only other end, so the pipe ends when the worker does."""
    pipe, worker_end = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=_parse_share, args=(share, worker_end), daemon=True)
    main_thread = threading.current_thread() is threading.main_thread()  # (only it may set a signal's handler)
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None  # the worker inherits it
    try:
        process.start()
    except BaseException:
        pipe.close()
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, interrupt)
        worker_end.close()  # (a copy: the worker has its own, and the workers started later none)
    return pipe, (process, share, 0)


def _stopped_on(path: str, exitcode: int | None) -> dict:
    """The result for the file a worker was on when it died: skipped with one line saying how, and not recorded as a
    bad file (`retry`): the next prepare parses it again, and the out-of-memory killer may spare it then."""
    if exitcode is not None and exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            how += " (as the out-of-memory killer does)"
    else:
        how = f"stopped (exit code {exitcode})"
    return {"path": path, "error": f"{path}: the process parsing it {how}; the next prepare parses it again",
            "retry": True}


def _parse_share(jobs: list[tuple], results: Connection) -> None:
    """A worker of `parsed_in_workers`: each of its jobs parsed, each result sent through `results`; it ends with the
    process that started it (killed, or stopped by SIGTERM), not left waiting on a pipe nobody reads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()  # (under fork, prepare; under forkserver, the server it was forked from)
    _die_with_parent()
    for job in jobs:
        if os.getppid() != parent:  # (where the system cannot be asked to: between files)
            os._exit(1)
        results.send(_parsed_or_fault(job))


def _parsed_or_fault(job: tuple) -> dict:
    """`_parse_file(job)`, or where the parser itself fails on the file (an exception it does not expect: a bug, out
    of memory) the file skipped in one line, not a traceback, and parsed again by the next prepare (`retry`: the fault
    is the parser's, which a fix or more memory may mend, not known to be the file's). In a worker or in prepare's own
    process alike."""
    try:
        return _parse_file(job)
    except Exception as e:  # (the file's own faults are _parse_file's results, not exceptions: these are the rest)
        said = " ".join(str(e).split())  # (one line)
        return {"path": job[0], "error": f"{job[0]}: the parser failed ({type(e).__name__}: {said})", "retry": True}


def _die_with_parent() -> None:
    """Linux: this process is killed when its parent ends (prctl PR_SET_PDEATHSIG); elsewhere nothing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _parse_file(job: tuple[str, str | None, int, str, float, float]) -> dict:
    """Worker: one file → events (from the cache when its content was seen before) or the reason it failed.
    A damaged cache entry is the cache's fault, not the file's: it is deleted and the file parsed again."""
    path, known_sha1, pedal_bins, cache_dir, max_seconds, max_events_per_second = job
    try:
        data = None
        sha1 = known_sha1
        if sha1 is None:
            data = Path(path).read_bytes()
            sha1 = hashlib.sha1(data).hexdigest()
        cached = Path(cache_dir) / cache_name(sha1, pedal_bins)
        result = None
        if cached.is_file():
            try:
                arrays, end_s, drops = _read_cache(cached)
                result = {"path": path, "sha1": sha1, "arrays": arrays, "end_s": end_s, "drops": drops, "cached": True}
            except DAMAGED_CACHE as e:
                log.warning("%s: damaged cache entry %s (%s); parsing the file again", path, cached, e)
                cached.unlink(missing_ok=True)
        if result is None:
            if data is None:
                data = Path(path).read_bytes()
                if hashlib.sha1(data).hexdigest() != sha1:  # changed since it was listed: key the cache by what is read
                    sha1 = hashlib.sha1(data).hexdigest()
                    cached = Path(cache_dir) / cache_name(sha1, pedal_bins)
            events, drops = piano_events(score_from_bytes(data, path), path, pedal_bins=pedal_bins, data=data)
            arrays = {"ids": events.ids, "start_s": events.start_s,
                      "duration_s": events.duration_s.astype(np.float32), "intensity": events.intensity}
            try:
                with atomic_path(cached, ".npz") as tmp:
                    np.savez(tmp, **arrays, end_s=events.end_s, drops=json.dumps(drops.to_dict()))
            except OSError as e:  # the cache's fault (a full disk), not the file's: the whole prepare stops
                return {"path": path, "fatal": f"{cached.parent}: cannot write the parse cache ({e.strerror or e})"}
            result = {"path": path, "sha1": sha1, "arrays": arrays, "end_s": events.end_s,
                      "drops": drops.to_dict(), "cached": False}
        a = result["arrays"]
        check_timing(Events(a["ids"], a["start_s"], a["duration_s"], a["intensity"], result["end_s"]), path,
                     max_seconds, max_events_per_second)
        return result | {"generated": written_by_generate(path, data)}
    except OSError as e:
        return {"path": path, "error": f"{path}: cannot read ({e.strerror or e})"}
    except ValueError as e:
        message = str(e)
        return {"path": path, "error": message if message.startswith(f"{path}: ") else f"{path}: {message}"}


@dataclass
class PrepareReport:
    corpus: "Corpus"
    reused: bool
    parsed: int
    from_cache: int
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0


DATA_FOLDER = re.compile(r"data-[0-9a-f]{16}")  # a corpus's arrays: data-KEY (_settings_key), no user's data-2024/


CACHE_ENTRY = re.compile(r"[0-9a-f]{40}-b\d+(?:-r(\d+))?\.npz")  # cache_name's (no -r: before the reader was named)


def cache_name(sha1: str, pedal_bins: int) -> str:
    """A file's parse-cache entry: by its content, the pedal bins and the reader that read it (READER_VERSION: a
    corpus prepared again after the reader changed reads its files again)."""
    return f"{sha1}-b{pedal_bins}-r{READER_VERSION}.npz"


def _settings_key(config: Config, files: list[tuple[str, str, str]]) -> str:
    """The data folder's key: the settings and files that shaped it, and the reader (a corpus prepared again after
    the reader changed is read again, where it kept its data; its runs still resume on it: Corpus.content_key)."""
    settings = {"format": FORMAT_VERSION, "events": config.events.__dict__, "chunks": config.chunks.__dict__,
                "corpus": {k: v for k, v in config.corpus.__dict__.items() if k != "workers"}, "files": files,
                "reader": READER_VERSION}
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def prepare(sources: list[str | Path] | str | Path, out: str | Path, config: Config | None = None, *,
            progress: bool = True) -> PrepareReport:
    """Turn performances into a chunked corpus in `out` (`sources`: folders or files, or one of them). Bad files are
    skipped, listed and reported. A second prepare into the same `out` while one runs is refused in one line (a lock
    in it: files.held_folder)."""
    sources = [sources] if isinstance(sources, (str, Path)) else sources  # (not a string's letters)
    with held_folder(out, ".prepare.lock", f"{out}: another process is preparing this corpus now; wait for it to "
                     "end, or give another --out"):
        return _prepare(sources, out, config, progress)


def _prepare(sources: list[str | Path], out: str | Path, config: Config | None, progress: bool) -> PrepareReport:
    started = time.perf_counter()
    config = config or Config()
    out = Path(out)
    performances, problems = discover(sources, config.corpus.validation_fraction, config.corpus.test_fraction)
    previous = _read_manifest(out)
    refuse_foreign_folder(out, previous)
    made = [folder for folder in (out, out / "cache") if not folder.exists()]  # removed again if nothing comes of it
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = out / "cache"
    cache_dir.mkdir(exist_ok=True)
    for stale in cache_dir.glob("*.npz"):  # an entry read by an earlier reader: never read again
        entry = CACHE_ENTRY.fullmatch(stale.name)
        if entry and int(entry[1] or 0) < READER_VERSION:  # (a later tsm's entries kept for it)
            stale.unlink(missing_ok=True)
    skipped = [{"file": p.path, "reason": p.reason} for p in problems]
    for problem in problems:  # at INFO: the report lists every skipped file, and the CLI prints it once
        log.info("skipped %s: %s", problem.path, problem.reason)
    # what a file's being bad depends on: a known bad file is read again when one changes (the reader too: one that
    # reads a layer's notes no more may find the file plausible)
    limits = [config.events.pedal_bins, config.events.max_seconds, config.events.max_events_per_second, READER_VERSION]

    known = {t["path"]: t for t in previous.get("tracks", [])} | {s["file"]: s for s in previous.get("stat_cache", [])}
    jobs, stats, bad_stat = [], {}, []
    for perf in performances:
        try:
            st = os.stat(perf.path)
        except OSError as e:
            skipped.append({"file": perf.path, "reason": f"cannot read ({e.strerror})"})
            log.info("skipped %s: cannot read (%s)", perf.path, e.strerror)
            continue
        stats[perf.path] = (st.st_size, st.st_mtime_ns)
        seen = known.get(perf.path)
        unchanged = seen is not None and (seen.get("size"), seen.get("mtime_ns")) == stats[perf.path]
        if unchanged and seen.get("reason") and seen.get("limits") == limits:
            skipped.append({"file": perf.path, "reason": seen["reason"]})  # known bad, not changed since
            bad_stat.append(seen)
            continue
        jobs.append((perf, seen["sha1"] if unchanged and seen.get("sha1") else None))

    if previous and all(sha1 is not None for _, sha1 in jobs):
        key = _settings_key(config, sorted((p.path, sha1, p.split) for p, sha1 in jobs))
        if key == previous.get("key") and (out / f"data-{key}").is_dir():
            try:
                corpus = Corpus.open(out)
                warn_of_empty_splits(corpus, config)
                return PrepareReport(corpus, True, 0, 0, skipped, time.perf_counter() - started)
            except ValueError as e:  # damaged on disk: rebuilt below from the per-file cache
                log.warning("%s; rebuilding it", e)

    workers = config.corpus.workers or os.cpu_count() or 1
    job_args = [(p.path, sha1, config.events.pedal_bins, str(cache_dir), config.events.max_seconds,
                 config.events.max_events_per_second) for p, sha1 in jobs]
    results: list[dict] = []
    bar = tqdm(total=len(job_args), desc="parsing", unit="file", disable=not progress)
    try:
        if workers > 1 and len(job_args) > 8:
            for result in parsed_in_workers(job_args, workers):
                results.append(result)
                bar.update()
            listed = {args[0]: i for i, args in enumerate(job_args)}
            results.sort(key=lambda result: listed[result["path"]])  # (as they were listed, not as they finished)
        else:
            for args in job_args:
                results.append(_parsed_or_fault(args))
                bar.update()
    finally:
        bar.close()  # (before an interruption's message: not drawn again after it)

    fatal = next((result["fatal"] for result in results if "fatal" in result), None)
    if fatal is not None:  # (no file is recorded as bad for it: a rerun with room parses them)
        raise ValueError(fatal)
    by_path = {p.path: p for p, _ in jobs}
    good = []
    for result in results:
        if "error" in result:
            skipped.append({"file": result["path"], "reason": result["error"].removeprefix(f"{result['path']}: ")})
            log.info("skipped %s", result["error"])
            if result.get("retry"):  # (not the file's fault, as far as is known: parsed again next time)
                continue
            st = stats[result["path"]]
            bad_stat.append({"file": result["path"], "size": st[0], "mtime_ns": st[1], "sha1": None,
                             "reason": skipped[-1]["reason"], "limits": limits})
        else:
            good.append(result)
    if not good:
        for folder in reversed(made):  # a failed prepare leaves no empty folders behind
            if not any(folder.iterdir()):
                folder.rmdir()
        reasons = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped) or "no MIDI files found"
        raise ValueError(f"no usable performance in {', '.join(map(str, sources))} ({reasons})")
    good.sort(key=lambda r: r["path"])
    warn_of_copies_across_splits(good, by_path)
    warn_of_generated(good)
    from_cache = sum(1 for r in results if r.get("cached"))
    key = _settings_key(config, sorted((r["path"], r["sha1"], by_path[r["path"]].split) for r in good))
    _write_corpus(out, key, config, good, by_path, stats, skipped, bad_stat)
    if not warn_of_new_settings(out, previous, config):  # (other settings: said already, and every track differs)
        warn_of_other_performances(out, previous, {(r["sha1"], by_path[r["path"]].split) for r in good})
    corpus = Corpus.open(out)
    warn_of_empty_splits(corpus, config)
    return PrepareReport(corpus, False, len(results) - from_cache, from_cache, skipped, time.perf_counter() - started)


def refuse_foreign_folder(out: Path, previous: dict) -> None:
    """A corpus is written into a new or empty folder, or over a corpus: never among files a user keeps there."""
    if previous or not out.is_dir():
        return
    ours = ("cache", "corpus.json")  # and data-KEY folders, and an interrupted write's hidden temporary files
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours and not DATA_FOLDER.fullmatch(p.name)
                     and not p.name.startswith("."))
    if foreign:
        raise ValueError(f"--out {out}: the folder holds {foreign[0]} and no corpus; give a new or empty folder for "
                         "the corpus")


def warn_of_new_settings(out: Path, previous: dict, config: Config) -> bool:
    """Preparing over a corpus made with other settings replaces it: said, with what changed (the runs trained on
    the old one will not resume on the new one). Whether it was said."""
    old, new = previous.get("config") or {}, config.to_dict()  # as saved: an old corpus's settings may be retired ones
    if not old:
        return False
    changed = [f"{section}.{name} {old.get(section, {}).get(name)} → {value}"
               for section in ("events", "chunks", "corpus") for name, value in new[section].items()
               if name != "workers" and old.get(section, {}).get(name) != value]
    if changed:
        log.warning("%s held a corpus prepared with other settings (%s); it is replaced by this one, and runs trained "
                    "on the old one will not resume on it", out, ", ".join(changed))
    return bool(changed)


def warn_of_other_performances(out: Path, previous: dict, held: set[tuple[str, str]]) -> None:
    """Preparing over a corpus of other performances (files added, removed or changed, or splits moved: `held`, the
    new one's (sha1, split) pairs) replaces it: said, as the runs trained on the old one will not resume on the new
    one (Corpus.content_key), and said now, not when one is resumed."""
    old = previous.get("tracks") or []
    gone = [t["path"] for t in old if (t.get("sha1"), t.get("split")) not in held]
    added = len(held - {(t.get("sha1"), t.get("split")) for t in old})
    if old and (gone or added):  # (a file moved to another split: one gone, one new)
        what = ([f"{added} new"] if added else []) + ([f"{len(gone)} gone, e.g. {gone[0]}"] if gone else [])
        log.warning("%s held a corpus of other performances (%s); it is replaced by this one, and runs trained on the "
                    "old one will not resume on it (preparing the old sources into it again restores it)", out,
                    "; ".join(what))


def warn_of_copies_across_splits(good: list[dict], by_path: dict) -> None:
    """Say where one performance's file is found twice (the same content) in two splits: a test or validation
    excerpt the model was trained on (merged corpora that overlap: ASAP's performances come from MAESTRO)."""
    splits: dict[str, dict[str, str]] = {}  # sha1 → {split: a path}
    for result in good:
        splits.setdefault(result["sha1"], {}).setdefault(by_path[result["path"]].split, result["path"])
    crossed = [where for where in splits.values() if len(where) > 1]
    if crossed:
        example = ", ".join(f"{path} ({split})" for split, path in sorted(crossed[0].items()))
        log.warning("%d performance(s) are in two splits as copies of one file (the same content), e.g. %s: the "
                    "model is tested on what it trained on; remove the copies", len(crossed), example)


MARKER_BYTES = 4096  # how far into a file `tsm generate`'s marker is looked for (it is the first track's first events)


def written_by_generate(path: str, data: bytes | None) -> bool:
    """Whether `tsm generate` wrote the file (its marker near the start), from its bytes `data` where they were read
    (a file parsed), else from its first MARKER_BYTES (a file whose events came from the cache)."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read(MARKER_BYTES)
        except OSError:  # (read a moment ago: gone since, which the corpus is not the worse for)
            return False
    return MADE_BY.encode() in data[:MARKER_BYTES]


def warn_of_generated(good: list[dict]) -> None:
    """Say that performances `tsm generate` wrote (written_by_generate, as each file was read) are prepared as the rest
    are: a folder of one's own recordings that holds the pieces generated from them trains a model on its own output."""
    made = [result["path"] for result in good if result["generated"]]
    if made:
        log.warning("%s", generated_said(made, len(good)))


def generated_said(made: list[str], performances: int) -> str:
    """The warning that `made` (paths of files `tsm generate` wrote) are among the `performances` read as real ones:
    prepare's, and `tsm data check`'s before it."""
    return (f"{len(made)} of the {performances} performances were written by tsm generate (its marker), e.g. {made[0]}: "
            "they are prepared as performances, so a model trained on them learns from its own output; move them out "
            "of the source to train on real playing alone")


def warn_of_empty_splits(corpus: "Corpus", config: Config) -> None:
    """Say now, not when training or `tsm evaluate` finds out, that a split meant to hold pieces holds none."""
    fractions = {"validation": config.corpus.validation_fraction, "test": config.corpus.test_fraction}
    if corpus.tracks and not any(t["split"] == "train" for t in corpus.tracks):
        log.warning("%s: no performance in the training split (%d performance(s), split by piece), so nothing can be "
                    "trained on it; put each piece's takes in a subfolder of their own, or add pieces", corpus.root,
                    corpus.num_tracks)
        return  # (not also that training validates on training chunks it has not)
    for split, means in EMPTY_SPLIT_MEANS.items():
        if fractions[split] > 0 and not any(t["split"] == split for t in corpus.tracks):
            log.warning("%s: no performance in the %s split (%d performance(s), split by piece), so %s; put each "
                        "piece's takes in a subfolder of their own, or add pieces", corpus.root, split,
                        corpus.num_tracks, means)


def _read_manifest(out: Path) -> dict:
    try:
        return json.loads((out / "corpus.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_corpus(out: Path, key: str, config: Config, results: list[dict], by_path: dict[str, Performance],
                  stats: dict, skipped: list[dict], bad_stat: list[dict]) -> None:
    c = config.chunks.chunk_seconds
    tracks, chunk_ptrs, event_counts, chunk_counts = [], [], [], []
    for r in results:
        a = r["arrays"]
        num = count_chunks(max(r["end_s"], float(a["start_s"].max(initial=0.0))), c)
        ptr = chunk_pointers(a["start_s"], num, c)
        ids = a["ids"]
        perf = by_path[r["path"]]
        tracks.append(perf.to_dict() | {
            "sha1": r["sha1"], "size": stats[r["path"]][0], "mtime_ns": stats[r["path"]][1],
            "duration_s": r["end_s"], "chunks": num, "notes": int((ids < NUM_KEYS).sum()),
            "pedal_events": [int((ids == DAMPER_ID + k).sum()) for k in range(3)],
            "overflow": overflow(ptr, config.chunks.max_events), "dropped": r["drops"]})
        chunk_ptrs.append(ptr)
        event_counts.append(ids.size)
        chunk_counts.append(num)
    event_base = np.concatenate([[0], np.cumsum(event_counts)]).astype(np.int64)
    arrays = {
        "ids": np.concatenate([r["arrays"]["ids"] for r in results]).astype(np.int16),
        "start_s": np.concatenate([r["arrays"]["start_s"] for r in results]).astype(np.float64),
        "duration_s": np.concatenate([r["arrays"]["duration_s"] for r in results]).astype(np.float32),
        "intensity": np.concatenate([r["arrays"]["intensity"] for r in results]).astype(np.uint8),
        "track_event_ptr": event_base,
        "track_chunk_ptr": np.concatenate([[0], np.cumsum(chunk_counts)]).astype(np.int64),
        "chunk_event_ptr": np.concatenate([p[:-1] + b for p, b in zip(chunk_ptrs, event_base[:-1])]
                                          + [event_base[-1:]]).astype(np.int64),
    }
    train = np.zeros(arrays["ids"].size, dtype=bool)
    for i, t in enumerate(tracks):
        if t["split"] == "train":
            train[event_base[i]:event_base[i + 1]] = True
    fit_on = train if train.any() else np.ones_like(train)
    fit = DurationFit.fit(arrays["duration_s"][fit_on], arrays["ids"][fit_on] < NUM_KEYS)

    data_dir = out / f"data-{key}"
    manifest = {"format": FORMAT_VERSION, "key": key, "config": config.to_dict(), "tracks": tracks,
                "skipped": skipped, "stat_cache": bad_stat, "duration_fit": fit.to_dict()}
    try:  # each whole or not there (files.atomic_path), the earlier corpus kept until both are
        with atomic_path(data_dir) as tmp_dir:
            tmp_dir.mkdir()
            for name, array in arrays.items():
                np.save(tmp_dir / f"{name}.npy", array)
        with atomic_path(out / "corpus.json") as tmp:
            tmp.write_text(json.dumps(manifest, indent=1))
    except OSError as e:  # a full disk: named as the user knows it (numpy's short write names no file, nor why)
        where = out / "corpus.json" if e.filename == str(out / "corpus.json") else data_dir
        earlier = _read_manifest(out).get("key")
        if where == out / "corpus.json" and earlier != key:  # the new arrays, which no corpus.json names: gone
            shutil.rmtree(data_dir, ignore_errors=True)
        raise ValueError(f"{where}: cannot write the corpus ({e.strerror or f'{e}: is the disk full?'})") from e
    for old in out.glob("data-*"):  # the earlier corpus's arrays, none of the user's
        if old != data_dir and DATA_FOLDER.fullmatch(old.name) and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


class Corpus:
    """A prepared corpus, memory-mapped. Track t holds events track_event_ptr[t]:[t+1] and chunks
    track_chunk_ptr[t]:[t+1]; chunk k holds (uncapped) events chunk_event_ptr[k]:[k+1]."""

    def __init__(self, root: Path, manifest: dict, arrays: dict[str, np.ndarray]):
        self.root = root
        self.manifest = manifest
        self.config = Config.from_dict(manifest["config"])
        self.tracks: list[dict] = manifest["tracks"]
        self.skipped: list[dict] = manifest["skipped"]
        self.duration_fit = DurationFit.from_dict(manifest["duration_fit"])
        for name in ARRAYS:
            setattr(self, name, arrays[name])

    @classmethod
    def open(cls, path: str | Path) -> "Corpus":
        root = Path(path)
        manifest_path = root / "corpus.json"
        try:
            manifest = json.loads(manifest_path.read_text())
        except OSError as e:
            raise ValueError(f"{root}: not a prepared corpus (no readable corpus.json; run `tsm prepare`)") from e
        except ValueError as e:
            raise ValueError(f"{manifest_path}: corrupt corpus manifest ({e})") from e
        if not isinstance(manifest, dict) or manifest.get("format") == FORMAT_VERSION and not (
                isinstance(manifest.get("key"), str) and isinstance(manifest.get("tracks"), list)):
            raise ValueError(f"{manifest_path}: corrupt corpus manifest (its key or tracks missing); run the same "
                             "`tsm prepare` again to rebuild it")
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"{root}: corpus format {manifest.get('format')} is not {FORMAT_VERSION}; prepare it again")
        data_dir = root / f"data-{manifest['key']}"
        try:
            arrays = {name: np.load(data_dir / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
        except (OSError, ValueError) as e:
            raise ValueError(f"{data_dir}: corpus arrays missing or damaged ({e}); run the same `tsm prepare` "
                             "again to rebuild it") from e
        sizes = {name: a.shape[0] if a.ndim == 1 else -1 for name, a in arrays.items()}
        tracks, events = len(manifest.get("tracks", [])), sizes["ids"]
        consistent = (all(sizes[n] == events for n in ("start_s", "duration_s", "intensity"))
                      and sizes["track_event_ptr"] == sizes["track_chunk_ptr"] == tracks + 1
                      and sizes["chunk_event_ptr"] >= 1 and int(arrays["track_event_ptr"][-1]) == events
                      and int(arrays["track_chunk_ptr"][-1]) == sizes["chunk_event_ptr"] - 1)
        if not consistent:
            raise ValueError(f"{data_dir}: corpus arrays damaged (their lengths do not agree with each other or "
                             f"with corpus.json); run the same `tsm prepare` again to rebuild it")
        return cls(root, manifest, arrays)

    @property
    def content_key(self) -> str:
        """What the corpus holds, whatever folder or path it was prepared from: its tracks' contents (sha1) and
        splits, and the settings that shaped it (a run resumes only on the same: checks.check_resumed_corpus)."""
        held = sorted((t["sha1"], t["split"]) for t in self.tracks)
        settings = {k: v for k, v in self.manifest["config"].items() if k in ("events", "chunks", "corpus")}
        settings["corpus"] = {k: v for k, v in settings.get("corpus", {}).items() if k != "workers"}
        return hashlib.sha1(json.dumps([held, settings], sort_keys=True).encode()).hexdigest()[:16]

    @property
    def num_tracks(self) -> int:
        return len(self.tracks)

    @property
    def chunk_seconds(self) -> float:
        return self.config.chunks.chunk_seconds

    @property
    def max_events(self) -> int:
        return self.config.chunks.max_events

    def tracks_in(self, split: str | None) -> np.ndarray:
        """Indices of the tracks in a split (all tracks for None)."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return np.array([i for i, t in enumerate(self.tracks) if split is None or t["split"] == split], dtype=np.int64)

    def empty_split(self, split: str, flag: str | None = "--split", purpose: str = "") -> str:
        """Why a split of no track cannot be used, in one line: the corpus's folder, the splits it has, and the flag
        that chooses one of those (`purpose`: what the split was to be read for, e.g. ' for the copy check'); a `flag`
        ending in '=' is a Python keyword, said with the split's name quoted (split='train'); None: the caller cannot
        choose it (compare_with_real() reads the training split as 'train'), and only the splits it has are said."""
        has = [name for name in SPLITS if self.tracks_in(name).size]
        if flag is None:
            return f"{self.root}: no tracks in the {split} split{purpose}" + (f" (it has {', '.join(has)})" if has else "")
        choose = " or ".join(f"{flag}{name!r}" if flag.endswith("=") else f"{flag} {name}" for name in has)
        return (f"{self.root}: no tracks in the {split} split{purpose}" + (f" (it has {', '.join(has)}: choose one with "
                                                                           f"{choose})" if has else ""))

    def chunk_index(self, split: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(track, chunk-within-track) of every chunk of a split, each [C_split]."""
        tracks = self.tracks_in(split)
        counts = np.diff(self.track_chunk_ptr)[tracks]
        track_of = np.repeat(tracks, counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return track_of, within

    def track_events(self, track: int) -> Events:
        lo, hi = self.track_event_ptr[track], self.track_event_ptr[track + 1]
        return Events(self.ids[lo:hi], self.start_s[lo:hi], self.duration_s[lo:hi], self.intensity[lo:hi],
                      self.tracks[track]["duration_s"])
