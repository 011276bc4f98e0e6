"""What a prepared corpus holds: files and hours per split, notes, pedal events by pedal and depth,
events per chunk, what each cap would drop, and the files skipped. Vectorised over events and chunks.

`corpus_stats` returns plain ints, floats, strings, lists and dicts (JSON-ready); `format_stats`
lays them out as a plain-text table for the terminal.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .chunks import overflow
from .corpus import Corpus
from .midi import DAMPER_ID, NUM_KEYS
from .pedal_cc import pedal_bin
from .performance import SPLITS

DEFAULT_CAPS = (10, 15, 20, 30, 50)
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
PEDAL_NAMES = ("damper", "sostenuto", "soft")  # ids 88, 89, 90 (CC64, CC66, CC67)
UNBINNED_RANGES = 8  # with events.pedal_bins = 0, pedal depths are shown in this many equal value ranges
SECONDS_PER_HOUR = 3600.0


def depth_ranges(bins: int) -> list[tuple[int, int]]:
    """The CC values (lowest, highest) that `pedal_cc.pedal_bin` puts in each of bins 1..`bins`."""
    values = np.arange(1, 128)
    of = pedal_bin(values, bins)  # [127], 1..bins
    return [(int(values[of == b].min()), int(values[of == b].max())) for b in range(1, bins + 1)]


def corpus_stats(corpus: Corpus, caps: tuple[int, ...] = DEFAULT_CAPS) -> dict:
    """Counts over a prepared corpus. `caps` are extra max_events values whose overflow is reported
    beside the corpus's own cap (events dropped = those beyond the cap in each chunk)."""
    bad = [c for c in caps if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1]
    if bad:
        raise ValueError(f"caps: every cap must be an integer ≥ 1, got {bad}")

    ids = np.asarray(corpus.ids)  # [E] int16
    intensity = np.asarray(corpus.intensity)  # [E] uint8
    chunk_ptr = np.asarray(corpus.chunk_event_ptr)  # [C+1]
    sizes = np.diff(chunk_ptr)  # [C] events per chunk, uncapped
    num_events = int(ids.size)
    event_counts = np.diff(np.asarray(corpus.track_event_ptr))  # [T]
    chunk_counts = np.diff(np.asarray(corpus.track_chunk_ptr))  # [T]

    splits = {}
    for split in SPLITS:
        tracks = corpus.tracks_in(split)
        splits[split] = {
            "files": int(tracks.size),
            "hours": float(sum(corpus.tracks[t]["duration_s"] for t in tracks) / SECONDS_PER_HOUR),
            "chunks": int(chunk_counts[tracks].sum()),
            "events": int(event_counts[tracks].sum()),
        }

    pedal_bins = corpus.config.events.pedal_bins
    shown_bins = pedal_bins or UNBINNED_RANGES
    is_pedal = ids >= DAMPER_ID
    pedal = ids[is_pedal].astype(np.int64) - DAMPER_ID  # [P] 0 damper, 1 sostenuto, 2 soft
    depth = pedal_bin(intensity[is_pedal], shown_bins) - 1  # [P] 0..shown_bins-1
    per_bin = np.bincount(pedal * shown_bins + depth, minlength=3 * shown_bins).reshape(3, shown_bins)
    ranges = depth_ranges(shown_bins)
    pedals = {name: {"id": DAMPER_ID + k, "events": int(per_bin[k].sum()),
                     "depths": [{"bin": b + 1, "values": list(ranges[b]), "events": int(per_bin[k, b])}
                                for b in range(shown_bins)]}
              for k, name in enumerate(PEDAL_NAMES)}

    if sizes.size:
        quantiles = np.percentile(sizes, PERCENTILES)
        per_chunk = {f"p{p:g}": float(q) for p, q in zip(PERCENTILES, quantiles)}
        per_chunk |= {"max": int(sizes.max()), "mean": float(sizes.mean())}
    else:
        per_chunk = {f"p{p:g}": 0.0 for p in PERCENTILES} | {"max": 0, "mean": 0.0}

    overflows = []
    for cap in sorted({int(c) for c in caps} | {corpus.max_events}):
        dropped = overflow(chunk_ptr, cap)
        overflows.append({"cap": cap, "corpus_cap": cap == corpus.max_events, "dropped": dropped,
                          "share": dropped / num_events if num_events else 0.0,
                          "chunks_over": int((sizes > cap).sum())})

    reasons = Counter(reason_kind(s["reason"]) for s in corpus.skipped)
    drop_counts: Counter = Counter()
    for track in corpus.tracks:
        drop_counts.update({k: v for k, v in track.get("dropped", {}).items() if isinstance(v, int)})

    return {
        "root": str(corpus.root),
        "chunk_seconds": corpus.chunk_seconds,
        "max_events": corpus.max_events,
        "pedal_bins": pedal_bins,
        "files": corpus.num_tracks,
        "hours": float(sum(t["duration_s"] for t in corpus.tracks) / SECONDS_PER_HOUR),
        "chunks": int(sizes.size),
        "events": num_events,
        "notes": int((ids < NUM_KEYS).sum()),
        "splits": splits,
        "pedals": pedals,
        "events_per_chunk": per_chunk,
        "overflow": overflows,
        "drop_counts": dict(sorted(drop_counts.items())),
        "skipped": {"count": len(corpus.skipped), "by_reason": dict(reasons.most_common()),
                    "files": [dict(s) for s in corpus.skipped]},
    }


def reason_kind(reason: str) -> str:
    """A skip reason without its per-file detail: 'unreadable MIDI (bad chunk at 14)' → 'unreadable MIDI',
    'implausible timing: it lasts 37.8 h …' → 'implausible timing'."""
    return re.split(r" \(|: |; ", reason, maxsplit=1)[0].strip() or reason


def hours_said(hours: float) -> str:
    """Hours of music as prepare's line and stats' header say them: '0.05 h', '85.50 h'."""
    return f"{hours:.2f} h"


def format_stats(stats: dict) -> str:
    """The output of `corpus_stats` as a plain-text report, one table per topic."""
    lines = [f"{stats['root']}: {stats['files']} files, {hours_said(stats['hours'])}, "
             f"{stats['chunks']:,} chunks of {stats['chunk_seconds']:g} s, {stats['events']:,} events "
             f"({stats['notes']:,} notes), cap {stats['max_events']} events per chunk, "
             f"pedal_bins {stats['pedal_bins']}", ""]

    rows = [[s, f"{v['files']:,}", f"{v['hours']:.2f}", f"{v['chunks']:,}", f"{v['events']:,}"]
            for s, v in stats["splits"].items()]
    rows.append(["all", f"{stats['files']:,}", f"{stats['hours']:.2f}", f"{stats['chunks']:,}",
                 f"{stats['events']:,}"])
    lines += _table(["split", "files", "hours", "chunks", "events"], rows) + [""]

    pedals = stats["pedals"]
    first = next(iter(pedals.values()))["depths"]
    if stats["pedal_bins"]:
        lines.append(f"pedal events by depth bin (pedal_bins {stats['pedal_bins']}; columns: CC values of a bin)")
    else:
        lines.append(f"pedal events by intensity (pedal_bins 0: {len(first)} equal ranges of CC value)")
    header = ["pedal", "events"] + [f"{d['values'][0]}–{d['values'][1]}" for d in first]
    rows = [[f"{name} ({p['id']})", f"{p['events']:,}"] + [f"{d['events']:,}" for d in p["depths"]]
            for name, p in pedals.items()]
    lines += _table(header, rows) + [""]

    per_chunk = stats["events_per_chunk"]
    lines += _table(["events per chunk"] + list(per_chunk),
                    [["uncapped"] + [f"{v:,}" if isinstance(v, int) else f"{v:.1f}" for v in per_chunk.values()]])
    lines.append("")

    rows = [[f"{o['cap']}{' (corpus)' if o['corpus_cap'] else ''}", f"{o['dropped']:,}",
             f"{100 * o['share']:.4f} %", f"{o['chunks_over']:,}"] for o in stats["overflow"]]
    lines += _table(["cap", "events dropped", "share of events", "chunks over cap"], rows) + [""]

    if stats["drop_counts"]:
        lines += _table(["counted on reading, not events", "count"],
                        [[k, f"{v:,}"] for k, v in stats["drop_counts"].items()]) + [""]

    skipped = stats["skipped"]
    lines.append(f"skipped files: {skipped['count']}")
    if skipped["count"]:
        lines += _table(["reason", "files"], [[r, str(n)] for r, n in skipped["by_reason"].items()])
        lines += [f"  {s['file']}: {s['reason']}" for s in skipped["files"]]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell: the first left-aligned, the rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
