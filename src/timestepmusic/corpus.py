"""The corpus on disk and its reader: `Corpus`, memory-mapped (prepared by prepare_corpus.prepare).

On disk, CORPUS/ holds:
  corpus.json           settings, tracks (metadata + counts), skipped files, duration fit, data key
  data-<key>/*.npy      every event of every track (uncapped; the cap is applied when batching):
                        ids int16 [E], start_s float64 [E] (from the track's start), duration_s
                        float32 [E], intensity uint8 [E]; CSR pointers track_event_ptr [T+1],
                        track_chunk_ptr [T+1], chunk_event_ptr [C+1] (global event indices)
  cache/<sha1>-b<bins>-r<reader>.npz  one parsed file, keyed by its content, the pedal binning and the
                        reader (midi.READER_VERSION; entries of an earlier reader are deleted)
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .config import Config
from .durations import DurationFit
from .midi import Events
from .performance import SPLITS

FORMAT_VERSION = 1
ARRAYS = ("ids", "start_s", "duration_s", "intensity", "track_event_ptr", "track_chunk_ptr", "chunk_event_ptr")


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
