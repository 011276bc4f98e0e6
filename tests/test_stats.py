"""corpus_stats on a tiny MAESTRO-shaped corpus written here, checked against counts made by hand.

Three good files (one per split) and three bad ones. Times are chosen off chunk boundaries (0.25 s)
so that float rounding cannot move an event between chunks.

  a.mid (train)  480 tpq, 120 bpm (1 tick = 1/960 s), ends at 1.2 s → 5 chunks
      12 notes at 0.0 s; damper 10 at 0.0 s, 100 at 0.3 s, up at 0.6 s; sostenuto 127 at 0.1 s,
      up at 0.2 s; soft 64 at 1.05 s, up at 1.2 s; 3 notes at 0.55 s; one CC7 (not a pedal)
      chunk sizes [14, 1, 3, 0, 1]
  b.mid (validation)  384 tpq, 60 bpm (1 tick = 1/384 s); notes at 0 s and 440/384 s ≈ 1.146 s,
      each 0.5 s; one note at pitch 10 (off the keyboard) → ends ≈ 1.646 s → 7 chunks
      chunk sizes [1, 0, 0, 0, 1, 0, 0]
  g.mid (test)  one note, 0–0.2 s → 1 chunk, size [1]
  bad: c.mid (train, not MIDI), d.mid (test, empty), e.mid (validation, empty)
"""
from __future__ import annotations

import csv

import mido
import numpy as np
import pytest

from timestepmusic.config import Config
from timestepmusic.prepare_corpus import prepare
from timestepmusic.stats import corpus_stats, depth_ranges, format_stats, reason_kind

SIZES = [14, 1, 3, 0, 1] + [1, 0, 0, 0, 1, 0, 0] + [1]  # events per chunk, by hand (see above)


def write_midi(path, ticks_per_beat: int, tempo_us: int, messages: list[tuple[int, mido.Message]]) -> None:
    """One-track MIDI file from (absolute tick, message) pairs."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo_us, time=0)])
    now = 0
    for tick, msg in sorted(messages, key=lambda m: m[0]):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, tracks=[track]).save(path)


def note(pitch: int, on: int, off: int, velocity: int = 80) -> list[tuple[int, mido.Message]]:
    return [(on, mido.Message("note_on", note=pitch, velocity=velocity)),
            (off, mido.Message("note_off", note=pitch, velocity=0))]


def cc(number: int, tick: int, value: int) -> tuple[int, mido.Message]:
    return tick, mido.Message("control_change", control=number, value=value)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maestro")
    a = [m for p in range(48, 60) for m in note(p, 0, 96)]  # 12 notes, 0–0.1 s
    a += [m for p in (60, 64, 67) for m in note(p, 528, 576)]  # 3 notes, 0.55–0.6 s
    a += [cc(64, 0, 10), cc(64, 288, 100), cc(64, 576, 0), cc(66, 96, 127), cc(66, 192, 0),
          cc(67, 1008, 64), cc(67, 1152, 0), cc(7, 0, 100)]
    write_midi(folder / "a.mid", 480, 500_000, a)
    write_midi(folder / "b.mid", 384, 1_000_000, note(60, 0, 192) + note(62, 440, 632) + note(10, 0, 100))
    write_midi(folder / "g.mid", 480, 500_000, note(72, 0, 192, velocity=100))
    (folder / "c.mid").write_bytes(b"this is not a MIDI file")
    (folder / "d.mid").write_bytes(b"")
    (folder / "e.mid").write_bytes(b"")
    rows = [("a.mid", "train"), ("b.mid", "validation"), ("g.mid", "test"),
            ("c.mid", "train"), ("d.mid", "test"), ("e.mid", "validation")]
    with (folder / "maestro-v3.0.0.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                         "audio_filename", "duration"])
        for name, split in rows:
            writer.writerow(["Nobody", name, split, 2004, name, "", 1.0])
    return folder


@pytest.fixture(scope="module")
def stats(source, tmp_path_factory):
    config = Config().override({"chunks.max_events": 12})  # a cap that is not among the default caps
    report = prepare([source], tmp_path_factory.mktemp("corpus"), config, progress=False)
    return corpus_stats(report.corpus)


def test_files_hours_and_splits(stats):
    assert stats["files"] == 3
    assert stats["chunks"] == len(SIZES) == 13
    assert stats["events"] == sum(SIZES) == 22
    assert stats["notes"] == 12 + 3 + 2 + 1
    assert {s: v["files"] for s, v in stats["splits"].items()} == {"train": 1, "validation": 1, "test": 1}
    assert {s: v["chunks"] for s, v in stats["splits"].items()} == {"train": 5, "validation": 7, "test": 1}
    assert {s: v["events"] for s, v in stats["splits"].items()} == {"train": 19, "validation": 2, "test": 1}
    assert stats["splits"]["train"]["hours"] == pytest.approx(1.2 / 3600)
    assert stats["splits"]["validation"]["hours"] == pytest.approx((440 + 192) / 384 / 3600)
    assert stats["splits"]["test"]["hours"] == pytest.approx(0.2 / 3600)
    assert stats["hours"] == pytest.approx(sum(v["hours"] for v in stats["splits"].values()))


def test_pedal_events_by_pedal_and_depth_bin(stats):
    pedals = stats["pedals"]
    assert [pedals[p]["events"] for p in ("damper", "sostenuto", "soft")] == [2, 1, 1]
    by_bin = {p: [d["events"] for d in v["depths"]] for p, v in pedals.items()}
    assert by_bin == {"damper": [1, 0, 0, 1],  # 10 → bin 1, 100 → bin 4
                      "sostenuto": [0, 0, 0, 1],  # 127 → bin 4
                      "soft": [0, 1, 0, 0]}  # 64 → bin 2
    assert [tuple(d["values"]) for d in pedals["damper"]["depths"]] == [(1, 32), (33, 64), (65, 96), (97, 127)]


def test_unbinned_pedals_use_eight_value_ranges(source, tmp_path):
    config = Config().override({"events.pedal_bins": 0})
    corpus = prepare([source], tmp_path / "corpus", config, progress=False).corpus
    pedals = corpus_stats(corpus)["pedals"]
    by_range = {p: [d["events"] for d in v["depths"]] for p, v in pedals.items()}
    assert by_range == {"damper": [1, 0, 0, 0, 0, 0, 1, 0],  # 10 in 1–16, 100 in 97–112
                        "sostenuto": [0, 0, 0, 0, 0, 0, 0, 1],  # 127 in 113–127
                        "soft": [0, 0, 0, 1, 0, 0, 0, 0]}  # 64 in 49–64
    assert tuple(pedals["soft"]["depths"][3]["values"]) == (49, 64)


def test_depth_ranges_cover_every_value_once():
    for bins in (1, 4, 8, 127):
        ranges = depth_ranges(bins)
        assert len(ranges) == bins
        assert ranges[0][0] == 1 and ranges[-1][1] == 127
        assert all(hi + 1 == lo for (_, hi), (lo, _) in zip(ranges, ranges[1:]))


def test_events_per_chunk_percentiles(stats):
    per_chunk = stats["events_per_chunk"]
    assert per_chunk["max"] == 14
    assert per_chunk["p50"] == 1.0
    for p in (90, 99, 99.9):
        assert per_chunk[f"p{p:g}"] == pytest.approx(np.percentile(SIZES, p))
    assert per_chunk["mean"] == pytest.approx(22 / 13)


def test_overflow_at_corpus_cap_and_other_caps(stats):
    rows = {o["cap"]: o for o in stats["overflow"]}
    assert list(rows) == [10, 12, 15, 20, 30, 50]  # the corpus's own cap (12) joins the defaults
    assert [o["cap"] for o in stats["overflow"] if o["corpus_cap"]] == [12]
    assert rows[10]["dropped"] == 4 and rows[10]["share"] == pytest.approx(4 / 22)
    assert rows[12]["dropped"] == 2 and rows[12]["chunks_over"] == 1
    assert all(rows[c]["dropped"] == 0 and rows[c]["chunks_over"] == 0 for c in (15, 20, 30, 50))


def test_custom_caps_and_bad_caps(source, tmp_path):
    corpus = prepare([source], tmp_path / "corpus", progress=False).corpus  # default cap 15
    rows = {o["cap"]: o for o in corpus_stats(corpus, caps=(1, 3))["overflow"]}
    assert list(rows) == [1, 3, 15]
    assert rows[1]["dropped"] == 13 + 2 and rows[1]["chunks_over"] == 2  # the 14- and the 3-event chunks
    assert rows[3]["dropped"] == 11 and rows[3]["chunks_over"] == 1
    assert rows[15]["corpus_cap"] and rows[15]["dropped"] == 0
    for bad in [(0,), (10, -1), (2.5,)]:
        with pytest.raises(ValueError, match="caps"):
            corpus_stats(corpus, caps=bad)


def test_skipped_files_and_reasons(stats):
    skipped = stats["skipped"]
    assert skipped["count"] == 3
    assert skipped["by_reason"] == {"empty file": 2, "not a MIDI file": 1}
    assert sorted(s["file"].rsplit("/", 1)[-1] for s in skipped["files"]) == ["c.mid", "d.mid", "e.mid"]
    assert stats["drop_counts"]["other_controllers"] == 1
    assert stats["drop_counts"]["notes_out_of_range"] == 1


def test_reason_kind_drops_the_detail():
    assert reason_kind("unreadable MIDI (bad chunk at byte 14)") == "unreadable MIDI"
    assert reason_kind("empty file") == "empty file"
    assert reason_kind("implausible timing: it lasts 37.8 h (more than 14400 s)") == "implausible timing"


def test_format_stats_shows_the_numbers(stats):
    text = format_stats(stats)
    lines = text.splitlines()
    assert any(line.split()[:3] == ["train", "1", "0.00"] for line in lines)
    assert any(line.split()[:4] == ["damper", "(88)", "2", "1"] for line in lines)
    assert any(line.split()[:4] == ["12", "(corpus)", "2", "9.0909"] for line in lines)
    assert any(line.split()[:3] == ["empty", "file", "2"] for line in lines)
    assert "skipped files: 3" in text


def test_prepare_and_stats_say_a_corpus_and_its_hours_alike(source, tmp_path, capsys):
    """One form of hours in both (prepare said 0.1 h where stats said 0.05 h), and a folder named `corpus` said once."""
    import re

    from timestepmusic.cli import main

    out = tmp_path / "corpus"
    assert main(["prepare", str(source), "--out", str(out), "-q"]) == 0
    prepared = capsys.readouterr().out.splitlines()[0]
    assert main(["stats", str(out)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith(f"{out}: ") and prepared.startswith(f"{out}: ") and "corpus corpus" not in header
    hours = [re.search(r", ([\d.]+ h),", line)[1] for line in (prepared, header)]
    assert hours[0] == hours[1] == "0.00 h", (prepared, header)
