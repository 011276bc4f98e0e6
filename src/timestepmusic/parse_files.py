"""Parse the files of a prepare: one file → events (from the parse cache when its content, pedal binning and reader
were seen before; on disk: corpus.py), many in worker processes, where a worker killed costs one file, not the
prepare; and whether `tsm generate` wrote a file (its marker)."""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import logging
import multiprocessing
import os
import re
import signal
import threading
import zipfile
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np

from .files import atomic_path
from .markers import MADE_BY
from .midi import NUM_KEYS, READER_VERSION, Events, check_timing, piano_events
from .midi_open import score_from_bytes

log = logging.getLogger("timestepmusic.corpus")  # prepare's records, as before these moved here

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
        results.send(parsed_or_fault(job))


def parsed_or_fault(job: tuple) -> dict:
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
            arrays = event_arrays(events)
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


CACHE_ENTRY = re.compile(r"[0-9a-f]{40}-b\d+(?:-r(\d+))?\.npz")  # cache_name's (no -r: before the reader was named)


def cache_name(sha1: str, pedal_bins: int) -> str:
    """A file's parse-cache entry: by its content, the pedal bins and the reader that read it (READER_VERSION: a
    corpus prepared again after the reader changed reads its files again)."""
    return f"{sha1}-b{pedal_bins}-r{READER_VERSION}.npz"


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


def generated_said(made: list[str], performances: int) -> str:
    """The warning that `made` (paths of files `tsm generate` wrote) are among the `performances` read as real ones:
    prepare's, and `tsm data check`'s before it."""
    return (f"{len(made)} of the {performances} performances were written by tsm generate (its marker), e.g. {made[0]}: "
            "they are prepared as performances, so a model trained on them learns from its own output; move them out "
            "of the source to train on real playing alone")


def music_digest(arrays: dict[str, np.ndarray]) -> str:
    """What a parsed file plays (its events' ids, starts, durations and intensities, in time order), as a digest that
    two files of the same music share however their bytes differ (another track layout or tick resolution, a program
    change). Times are taken to the microsecond: a tick resolution's float steps (0.4447916666666667 s at 1440 ticks a
    quarter, …664 at 480) are not other music."""
    ids, start_us = np.asarray(arrays["ids"], np.int64), _microseconds(arrays["start_s"])  # [E] each
    duration_us = _microseconds(np.asarray(arrays["duration_s"], np.float32))
    intensity = np.asarray(arrays["intensity"], np.int64)
    order = np.lexsort((intensity, duration_us, ids, start_us))  # [E]: by the start hashed, then id, duration, intensity
    columns = (ids, start_us, duration_us, intensity)
    return hashlib.sha1(b"".join(np.ascontiguousarray(column[order]).tobytes() for column in columns)).hexdigest()


def _microseconds(seconds: np.ndarray) -> np.ndarray:
    """Times in seconds [E] → whole microseconds [E] (int64)."""
    return np.rint(np.asarray(seconds, np.float64) * 1e6).astype(np.int64)


def copies_across_splits(found: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """Of (music_digest, split, path) for each performance read, the performances found in more than one split, each
    as {split: its first path there}."""
    splits: dict[str, dict[str, str]] = {}
    for digest, split, path in found:
        splits.setdefault(digest, {}).setdefault(split, path)
    return [where for where in splits.values() if len(where) > 1]


def copies_said(crossed: list[dict[str, str]]) -> str:
    """The warning that performances are in two splits (copies_across_splits): prepare's, and `tsm data check`'s
    before it."""
    example = ", ".join(f"{path} ({split})" for split, path in sorted(crossed[0].items()))
    return (f"{len(crossed)} performance(s) are in two splits as copies of one file (the same content, or the same "
            f"notes, pedals and times written again), e.g. {example}: the model is tested on what it trained on; "
            "remove the copies")


LATE_START_S = 30.0  # silence before a performance's first note past which it is said (ASAP's longest but one: 16 s)


def event_arrays(events) -> dict[str, np.ndarray]:
    """A file's events as the arrays a parse keeps (and caches): ids, starts, durations (float32) and intensities."""
    return {"ids": events.ids, "start_s": events.start_s, "duration_s": events.duration_s.astype(np.float32),
            "intensity": events.intensity}


def late_start_s(arrays: dict[str, np.ndarray]) -> float | None:
    """When a parsed file's first note starts (its arrays, as parsed_or_fault gives them), in seconds, where that is
    later than LATE_START_S; None where it is not (or the file holds no note)."""
    struck = np.asarray(arrays["start_s"])[np.asarray(arrays["ids"]) < NUM_KEYS]
    first = float(struck.min()) if struck.size else 0.0
    return first if first > LATE_START_S else None


def late_starts_said(late: list[tuple[str, float]]) -> str:
    """The warning that performances (path, seconds before the first note) begin with a long silence, which training
    reads as played: prepare's, and `tsm data check`'s before it."""
    path, seconds = max(late, key=lambda found: found[1])
    return (f"{len(late)} performance(s) begin with more than {LATE_START_S:g} s of silence, e.g. {path} ({seconds:.0f} s "
            "before its first note, as a recorder started early, or a cut from a longer recording): the model is trained "
            "on the silence as on playing; trim it")
