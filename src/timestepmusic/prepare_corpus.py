"""Prepare a corpus: sources → events per file (parsed in parallel, cached: parse_files.py) → chunk index on disk
(its layout: corpus.py, whose Corpus reads it).

The data folder is written under a temporary name and renamed, then corpus.json is replaced
atomically, so a crash leaves the previous corpus intact. Preparing again with the same files and
settings reuses everything; changed files are parsed again, unchanged ones come from the cache.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .chunks import chunk_pointers, count_chunks, overflow
from .config import Config
from .corpus import FORMAT_VERSION, Corpus
from .durations import DurationFit
from .files import atomic_path, held_folder
from .midi import DAMPER_ID, NUM_KEYS, READER_VERSION
from .parse_files import (
    CACHE_ENTRY,
    copies_across_splits,
    copies_said,
    generated_said,
    late_start_s,
    late_starts_said,
    music_digest,
    parsed_in_workers,
    parsed_or_fault,
)
from .performance import EMPTY_SPLIT_MEANS, Performance
from .sources import discover

log = logging.getLogger("timestepmusic.corpus")  # prepare's records, as before these moved here


@dataclass
class PrepareReport:
    corpus: "Corpus"
    reused: bool
    parsed: int
    from_cache: int
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0


DATA_FOLDER = re.compile(r"data-[0-9a-f]{16}")  # a corpus's arrays: data-KEY (_settings_key), no user's data-2024/


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
                results.append(parsed_or_fault(args))
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
    warn_of_late_starts(good)
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
    arrived: dict[str, list[str]] = {}  # a file's sha1 → the splits it is in now and was not in before
    for sha1, split in sorted(held - {(t.get("sha1"), t.get("split")) for t in old}):
        arrived.setdefault(sha1, []).append(split)
    changed = [t for t in old if (t.get("sha1"), t.get("split")) not in held]
    moved, gone = [], []
    for t in changed:  # (one that left a split for another moved; a copy dropped from one split, still in another, is gone)
        into = arrived.get(t.get("sha1"))
        if into:
            moved.append(f"{t['path']} ({t.get('split')} → {into.pop(0)})")
        else:
            gone.append(t["path"])
    added = sum(map(len, arrived.values()))
    if old and (changed or added):  # (a file moved to another split: said as moved, not as one gone and one new)
        what = ([f"{added} new"] if added else []) + ([f"{len(gone)} gone, e.g. {gone[0]}"] if gone else []) + (
            [f"{len(moved)} moved to another split, e.g. {moved[0]}"] if moved else [])
        log.warning("%s held a corpus of other performances (%s); it is replaced by this one, and runs trained on the "
                    "old one will not resume on it (preparing the old sources into it again restores it)", out,
                    "; ".join(what))


def warn_of_copies_across_splits(good: list[dict], by_path: dict) -> None:
    """Say where one performance is found twice in two splits, as copies of one file or as the same music saved again
    (parse_files.music_digest): a test or validation excerpt the model was trained on (merged corpora that overlap:
    ASAP's performances come from MAESTRO; a user's folder holding one take twice)."""
    crossed = copies_across_splits([(music_digest(result["arrays"]), by_path[result["path"]].split, result["path"])
                                    for result in good])
    if crossed:
        log.warning("%s", copies_said(crossed))


def warn_of_late_starts(good: list[dict]) -> None:
    """Say which performances begin with a long silence (parse_files.LATE_START_S): a recorder left running before the
    playing, or a movement cut out of a longer recording, is trained on as a pianist's silence."""
    late = [(result["path"], late_start_s(result["arrays"])) for result in good]
    late = [(path, seconds) for path, seconds in late if seconds is not None]
    if late:
        log.warning("%s", late_starts_said(late))


def warn_of_generated(good: list[dict]) -> None:
    """Say that performances `tsm generate` wrote (written_by_generate, as each file was read) are prepared as the rest
    are: a folder of one's own recordings that holds the pieces generated from them trains a model on its own output."""
    made = [result["path"] for result in good if result["generated"]]
    if made:
        log.warning("%s", generated_said(made, len(good)))


def warn_of_empty_splits(corpus: "Corpus", config: Config) -> None:
    """Say now, not when training or `tsm evaluate` finds out, that a split meant to hold pieces holds none."""
    fractions = {"validation": config.corpus.validation_fraction, "test": config.corpus.test_fraction}
    advice = empty_split_advice(corpus.tracks)
    if corpus.tracks and not any(t["split"] == "train" for t in corpus.tracks):
        log.warning("%s: no performance in the training split (%d performance(s), split by piece), so nothing can be "
                    "trained on it; %s", corpus.root, corpus.num_tracks, advice)
        return  # (not also that training validates on training chunks it has not)
    for split, means in EMPTY_SPLIT_MEANS.items():
        if fractions[split] > 0 and not any(t["split"] == split for t in corpus.tracks):
            log.warning("%s: no performance in the %s split (%d performance(s), split by piece), so %s; %s",
                        corpus.root, split, corpus.num_tracks, means, advice)


def empty_split_advice(tracks: list[dict]) -> str:
    """What to do about a split that no piece fell into. Where every performance is one piece named by the folder
    that holds them (files given one by one, `tsm prepare mine/*.mid`, are a piece of their folder's name, as a
    subfolder's files are), giving that folder itself makes each of its files a piece of its own."""
    folders = {Path(t["path"]).parent for t in tracks}
    folder = folders.pop() if len(folders) == 1 else None
    if folder is not None and len(tracks) > 1 and all(t["piece"] == folder.name for t in tracks):
        return (f"all {len(tracks)} are one piece, {folder.name} (the files of one folder, given one by one or as a "
                f"subfolder, are a piece named by it): give the folder {folder} itself to make each file in it a piece "
                "of its own, or add pieces")
    return "put each piece's takes in a subfolder of their own, or add pieces"


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
