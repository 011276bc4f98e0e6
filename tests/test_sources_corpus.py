"""Sources and the prepared corpus, on small folders of the three shapes built in tmp_path."""
from __future__ import annotations

import collections
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from timestepmusic import parse_files, prepare_corpus
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.midi import DAMPER_ID, NUM_KEYS, read_events
from timestepmusic.performance import SPLITS, split_by_hash
from timestepmusic.prepare_corpus import prepare
from timestepmusic.sources import discover

from midi_factory import CC, Note, bad_files, simple_piece, write_midi, write_piece

SERIAL = Config().override({"corpus.workers": 1, "corpus.validation_fraction": 0.3, "corpus.test_fraction": 0.3})
PLAIN_PIECES = [f"piece_{k:02d}" for k in range(10)]


# --- building the three shapes ------------------------------------------------------------------------

def make_plain(root: Path) -> list[Path]:
    """Ten piece folders with two performances each, plus one loose file at the top."""
    files = []
    for k, piece in enumerate(PLAIN_PIECES):
        for take in range(2):
            suffix = ".mid" if take == 0 else ".midi"
            files.append(write_piece(root / piece / f"take{take}{suffix}", seed=10 * k + take))
    files.append(write_piece(root / "loose.MID", seed=999))
    (root / "notes.txt").write_text("not a performance, and not a MIDI name either")
    return files


MAESTRO_ROWS = [  # composer, title, split, year, file
    ("Frédéric Chopin", "Ballade No. 1", "train", 2004, "2004/MIDI-Unprocessed_01_R1_2004_Track01_wav.midi"),
    ("Frédéric Chopin", "Ballade No. 1", "train", 2006, "2006/MIDI-Unprocessed_02_R1_2006_Track02_wav.midi"),
    ("Johann Sebastian Bach", "Prelude, \"BWV 846\"", "validation", 2008, "2008/MIDI-Bach_846_wav.midi"),
    ("Franz Liszt", "Mephisto Waltz", "test", 2009, "2009/MIDI-Liszt_wav.midi"),
    ("Franz Schubert", "Sonata D. 960", "train", 2011, "2011/MIDI-Schubert_wav.midi"),
]


def make_maestro(root: Path, table: str = "csv") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k, (_, _, _, _, name) in enumerate(MAESTRO_ROWS):
        write_piece(root / name, seed=100 + k)
    columns = ["canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename", "duration"]
    rows = [dict(zip(columns, (c, t, s, y, f, f.replace(".midi", ".wav"), 12.5))) for c, t, s, y, f in MAESTRO_ROWS]
    if table == "csv":
        with (root / "maestro-v3.0.0.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    else:  # the json of the release: one object per column, keyed by row number
        data = {c: {str(i): r[c] for i, r in enumerate(rows)} for c in columns}
        (root / "maestro-v3.0.0.json").write_text(json.dumps(data))
    return root


ASAP_ROWS = [  # composer, title, folder, performer
    ("Bach", "Fugue_bwv_846", "Bach/Fugue/bwv_846", "Shi05M"),
    ("Bach", "Fugue_bwv_846", "Bach/Fugue/bwv_846", "Denisova06M"),
    ("Bach", "Prelude_bwv_848", "Bach/Prelude/bwv_848", "Lee01M"),
    ("Chopin", "Etude_op_10_1", "Chopin/Etudes_op_10/1", "Kim03M"),
    ("Chopin", "Etude_op_10_1", "Chopin/Etudes_op_10/1", "Park09M"),
    ("Chopin", "Etude_op_10_1", "Chopin/Etudes_op_10/1", "Wu12M"),
    ("Liszt", "Sonata", "Liszt/Sonata", "Bogdanov11M"),
]


def make_asap(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "metadata.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["composer", "title", "folder", "midi_performance", "maestro_midi_performance", "start", "end"])
        for k, (composer, title, folder, performer) in enumerate(ASAP_ROWS):
            midi = f"{folder}/{performer}.mid"
            write_piece(root / midi, seed=200 + k)
            writer.writerow([composer, title, folder, midi, f"{{maestro}}/2004/{performer}.midi", 1.5, ""])
    return root


# --- checks -------------------------------------------------------------------------------------------

def check_consistent(corpus: Corpus) -> None:
    """Every array agrees with every other and with the metadata."""
    e = corpus.ids.size
    for name in ("start_s", "duration_s", "intensity"):
        assert getattr(corpus, name).shape == (e,), name
    tep, tcp, cep = (np.asarray(corpus.track_event_ptr), np.asarray(corpus.track_chunk_ptr),
                     np.asarray(corpus.chunk_event_ptr))
    t = corpus.num_tracks
    assert tep.shape == (t + 1,) and tcp.shape == (t + 1,)
    assert tep[0] == 0 and tep[-1] == e and (np.diff(tep) > 0).all()  # every track has events
    assert cep[0] == 0 and cep[-1] == e and (np.diff(cep) >= 0).all()
    assert cep.size == tcp[-1] + 1  # one pointer per chunk, plus the end
    np.testing.assert_array_equal(cep[tcp], tep)  # track boundaries are chunk boundaries
    c = corpus.chunk_seconds
    chunk_of_event = np.searchsorted(cep, np.arange(e), side="right") - 1  # [E] global chunk of each event
    track_of_event = np.repeat(np.arange(t), np.diff(tep))
    local = chunk_of_event - tcp[track_of_event]
    start = np.asarray(corpus.start_s)
    assert ((local >= 0) & (local < np.diff(tcp)[track_of_event])).all()
    assert (start >= local * c - 1e-12).all() and (start < (local + 1) * c).all()
    assert ((corpus.ids >= 0) & (corpus.ids < 91)).all()
    assert ((corpus.intensity >= 1) & (corpus.intensity <= 127)).all()
    sizes = np.diff(cep)
    for k, track in enumerate(corpus.tracks):
        assert track["chunks"] == int(np.floor(track["duration_s"] / c)) + 1 == tcp[k + 1] - tcp[k]
        ids = corpus.ids[tep[k]:tep[k + 1]]
        assert track["notes"] == int((ids < NUM_KEYS).sum())
        assert track["pedal_events"] == [int((ids == DAMPER_ID + j).sum()) for j in range(3)]
        assert track["overflow"] == int(np.maximum(sizes[tcp[k]:tcp[k + 1]] - corpus.max_events, 0).sum())
        s = start[tep[k]:tep[k + 1]]
        assert (np.diff(s) >= 0).all()  # sorted by start within a track
        assert track["split"] in SPLITS


def check_matches_files(corpus: Corpus) -> None:
    """The corpus holds exactly what read_events finds in each track's file."""
    for k, track in enumerate(corpus.tracks):
        expected, drops = read_events(track["path"], pedal_bins=corpus.config.events.pedal_bins)
        got = corpus.track_events(k)
        np.testing.assert_array_equal(got.ids, expected.ids)
        np.testing.assert_array_equal(got.start_s, expected.start_s)
        np.testing.assert_allclose(got.duration_s, expected.duration_s, rtol=1e-6)  # stored as float32
        np.testing.assert_array_equal(got.intensity, expected.intensity)
        assert track["duration_s"] == pytest.approx(expected.end_s)
        assert track["dropped"] == drops.to_dict() | {"controller_numbers": {
            str(n): c for n, c in drops.controller_numbers.items()}}


def by_name(corpus: Corpus) -> dict[str, dict]:
    return {Path(t["path"]).name: t for t in corpus.tracks}


# --- sources ------------------------------------------------------------------------------------------

def test_split_by_hash_is_deterministic_and_proportional():
    names = [f"composer_{k}/piece_{k * 7}" for k in range(6000)]
    splits = [split_by_hash(n, 0.1, 0.2) for n in names]
    assert splits == [split_by_hash(n, 0.1, 0.2) for n in names]
    share = {s: splits.count(s) / len(names) for s in SPLITS}
    assert share["validation"] == pytest.approx(0.1, abs=0.02)
    assert share["test"] == pytest.approx(0.2, abs=0.02)
    assert {split_by_hash(n, 0.0, 0.0) for n in names[:200]} == {"train"}


def test_plain_folder_splits_by_piece_folder(tmp_path):
    make_plain(tmp_path / "plain")
    performances, problems = discover([tmp_path / "plain"], 0.3, 0.3)
    assert problems == []
    assert len(performances) == 21  # .mid, .midi and .MID, not .txt
    pieces = {}
    for p in performances:
        pieces.setdefault(p.piece, set()).add(p.split)
    assert all(len(s) == 1 for s in pieces.values()), pieces  # a piece never straddles two splits
    assert set(pieces) == set(PLAIN_PIECES) | {"loose"}
    assert len({next(iter(s)) for s in pieces.values()}) >= 2  # the hash does spread pieces


def test_a_folder_reads_midi_names_in_any_case_as_plot_and_evaluate_do(tmp_path):
    # 'Take.Mid' or 'SONG.Midi' (renamed by hand, or as some software saves them) was left out of prepare and data check
    # without a word, though plot and evaluate read it
    from timestepmusic.sources import midi_in

    names = ["Take.Mid", "SONG.Midi", "a.mid", "B.MID"]
    for k, name in enumerate(names):
        write_piece(tmp_path / "mine" / name, seed=k)
    performances, problems = discover([tmp_path / "mine"])
    assert problems == [] and sorted(Path(p.path).name for p in performances) == sorted(names)
    assert len(midi_in(tmp_path / "mine")) == len(names)


def test_a_file_whose_name_is_not_utf8_is_skipped_not_the_whole_folder(tmp_path, capsys, caplog):
    # a Latin-1 or Shift-JIS name (copied from an instrument's USB stick) made prepare refuse every file of the folder
    # ("unusable source ('utf-8' codec can't encode …)") and data check end in that line
    from timestepmusic.cli import main

    folder = tmp_path / "mine"
    write_piece(folder / "take.mid")
    try:
        with open(os.fsencode(folder) + b"/\xe9tude.mid", "wb") as f:
            f.write((folder / "take.mid").read_bytes())
    except OSError:
        pytest.skip("this file system takes no name that is not UTF-8")
    report = prepare([folder], tmp_path / "corpus", SERIAL, progress=False)
    assert report.corpus.num_tracks == 1
    assert [(s["file"], s["reason"].split(" (")[0]) for s in report.skipped] == [
        (f"{folder}/\\xe9tude.mid", "its name is not UTF-8")]
    assert main(["data", "check", str(folder)]) == 1
    assert "problem: " + f"{folder}/\\xe9tude.mid: its name is not UTF-8" in capsys.readouterr().out
    # … and plot and evaluate, which read a folder too, leave it out with a line (a traceback from the font or the
    # MIDI marker before); a name given alone is refused in one line
    assert main(["plot", str(folder), "-o", f"{tmp_path / 'rolls'}/"]) == 0
    assert sorted(p.name for p in (tmp_path / "rolls").iterdir()) == ["take.png"]
    assert f"{folder}/\\xe9tude.mid: its name is not UTF-8" in caplog.text
    named = os.fsdecode(os.fsencode(folder) + b"/\xe9tude.mid")
    assert main(["generate", "--prompt", named, "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {folder}/\\xe9tude.mid: its name is not UTF-8")


def test_pieces_tsm_generate_wrote_into_the_source_are_said(tmp_path, caplog):
    # `tsm generate -o mine/generated/` and then `tsm prepare mine/` trained the next model on the last one's pieces,
    # prepared as the player's own without a word
    import mido

    folder = tmp_path / "mine"
    write_piece(folder / "take.mid")
    made = write_piece(folder / "generated" / "sample_0_000.mid", seed=3)
    mid = mido.MidiFile(made)
    mid.tracks[0].insert(0, mido.MetaMessage("marker", text="TimeStepMusic 0.1.0: tsm generate --piece 0", time=0))
    mid.save(made)
    with caplog.at_level("WARNING"):
        report = prepare([folder], tmp_path / "corpus", SERIAL, progress=False)
    assert report.corpus.num_tracks == 2
    assert f"1 of the 2 performances were written by tsm generate (its marker), e.g. {made}" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):  # prepared again with other chunks: the events from the cache, the file unread
        report = prepare([folder], tmp_path / "corpus", SERIAL.override({"chunks.chunk_seconds": 0.5}), progress=False)
    assert report.from_cache == 2 and f"were written by tsm generate (its marker), e.g. {made}" in caplog.text
    caplog.clear()
    made.unlink()
    with caplog.at_level("WARNING"):
        prepare([folder], tmp_path / "corpus", SERIAL, progress=False)
    assert "tsm generate" not in caplog.text


def test_data_check_says_the_warning_prepare_gives_of_pieces_tsm_generate_wrote(tmp_path, caplog, capsys):
    # a new user's trial: `tsm data check FOLDER` said OK of a folder holding a file tsm generate wrote, where `tsm
    # prepare` of the same folder warned that 8 of its 20 performances were generated
    import mido

    from timestepmusic.cli import main

    folder = tmp_path / "mine"
    write_piece(folder / "take.mid")
    write_piece(folder / "other" / "take.mid", seed=1)
    made = write_piece(folder / "generated" / "sample_0_000.mid", seed=3)
    mid = mido.MidiFile(made)
    mid.tracks[0].insert(0, mido.MetaMessage("marker", text="TimeStepMusic 0.1.0: tsm generate --piece 0", time=0))
    mid.save(made)
    with caplog.at_level("WARNING"):
        prepare([folder], tmp_path / "corpus", SERIAL, progress=False)
    (warned,) = [r.getMessage() for r in caplog.records if "tsm generate" in r.getMessage()]
    assert warned.startswith(f"1 of the 3 performances were written by tsm generate (its marker), e.g. {made}: ")
    capsys.readouterr()
    assert main(["data", "check", str(folder)]) == 0  # (usable: a warning, not a problem)
    out = capsys.readouterr().out
    assert f"  warning: {warned}\n" in out and out.endswith("OK\n"), out
    assert main(["data", "check", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["generated"] == [str(made)]
    made.unlink()
    assert main(["data", "check", str(folder)]) == 0 and "warning" not in capsys.readouterr().out


def test_maestro_csv_and_json_give_their_own_splits(tmp_path):
    for table in ("csv", "json"):
        root = make_maestro(tmp_path / table / "maestro-v3.0.0", table)
        performances, problems = discover([root], 0.3, 0.3)
        assert problems == []
        got = {Path(p.path).relative_to(root).as_posix(): p for p in performances}
        assert set(got) == {r[4] for r in MAESTRO_ROWS}
        for composer, title, split, year, name in MAESTRO_ROWS:
            p = got[name]
            assert (p.composer, p.title, p.split, p.year) == (composer, title, split, year)
            assert p.piece == f"{composer}/{title}"


def test_asap_metadata_splits_by_folder(tmp_path):
    root = make_asap(tmp_path / "asap")
    performances, problems = discover([root], 0.3, 0.3)
    assert problems == []
    assert [(p.composer, p.title, p.piece) for p in performances] == [r[:3] for r in ASAP_ROWS]
    for p in performances:
        assert p.split == split_by_hash(p.piece, 0.3, 0.3)
        assert Path(p.path).is_file()


def test_missing_source_and_broken_table_are_problems(tmp_path):
    root = make_maestro(tmp_path / "m")
    (root / "maestro-v3.0.0.csv").write_text("a,b\n1,2\n")
    performances, problems = discover([tmp_path / "absent", root])
    assert performances == []
    assert [p.path for p in problems] == [str(tmp_path / "absent"), str(root)]
    assert problems[0].reason == "no such file or folder"
    assert "missing column" in problems[1].reason


# --- prepare ------------------------------------------------------------------------------------------

def test_prepare_three_shapes_and_reuse(tmp_path):
    plain, maestro, asap = tmp_path / "plain", tmp_path / "maestro-v3.0.0", tmp_path / "asap"
    make_plain(plain)
    make_maestro(maestro)
    make_asap(asap)
    single = write_piece(tmp_path / "single" / "solo.mid", seed=77)
    out = tmp_path / "corpus"
    report = prepare([plain, maestro, asap, single], out, SERIAL, progress=False)
    n = 21 + len(MAESTRO_ROWS) + len(ASAP_ROWS) + 1
    assert not report.reused and report.parsed == n and report.from_cache == 0 and report.skipped == []

    corpus = Corpus.open(out)
    assert corpus.num_tracks == n and corpus.skipped == []
    assert corpus.config == SERIAL
    check_consistent(corpus)
    check_matches_files(corpus)
    tracks = by_name(corpus)
    for composer, title, split, year, name in MAESTRO_ROWS:
        t = tracks[Path(name).name]
        assert (t["composer"], t["title"], t["split"], t["year"]) == (composer, title, split, year)
    asap_tracks = [t for t in corpus.tracks if t["path"].startswith(str(asap))]
    assert sorted((t["composer"], t["title"], t["piece"]) for t in asap_tracks) == sorted(r[:3] for r in ASAP_ROWS)
    assert tracks["solo.mid"]["piece"] == "single"
    for t in corpus.tracks:
        assert t["sha1"] and t["size"] == os.stat(t["path"]).st_size and t["duration_s"] > 0
    # the duration fit is made on the training split
    assert corpus.duration_fit.note_sigma > 0
    # splits as the pieces say, in the corpus too
    split_of_piece = {}
    for t in corpus.tracks:
        assert split_of_piece.setdefault(t["piece"], t["split"]) == t["split"]
    assert sorted(corpus.tracks_in(None).tolist()) == list(range(n))
    assert sum(len(corpus.tracks_in(s)) for s in SPLITS) == n
    with pytest.raises(ValueError, match="unknown split"):
        corpus.tracks_in("training")

    again = prepare([plain, maestro, asap, single], out, SERIAL, progress=False)
    assert again.reused and again.parsed == 0
    assert again.corpus.manifest["key"] == corpus.manifest["key"]


def test_changed_file_is_parsed_again_alone(tmp_path):
    plain = tmp_path / "plain"
    files = make_plain(plain)
    out = tmp_path / "corpus"
    first = prepare([plain], out, SERIAL, progress=False).corpus
    changed = files[3]
    before = os.stat(changed)
    write_midi(changed, [Note(30, 0, 480, 11), Note(90, 240, 960, 99)], [CC(66, 127, 100), CC(66, 0, 900)])
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns + 5_000_000_000))
    report = prepare([plain], out, SERIAL, progress=False)
    assert not report.reused
    assert report.parsed == 1 and report.from_cache == len(files) - 1
    corpus = report.corpus
    check_consistent(corpus)
    check_matches_files(corpus)
    assert corpus.manifest["key"] != first.manifest["key"]
    t = next(k for k, tr in enumerate(corpus.tracks) if tr["path"] == str(changed))
    assert corpus.track_events(t).ids.tolist() == [30 - 21, 89, 90 - 21]
    assert len(list(out.glob("data-*"))) == 1  # the old data folder is gone


def test_other_settings_rebuild(tmp_path):
    plain = tmp_path / "plain"
    files = make_plain(plain)
    out = tmp_path / "corpus"
    first = prepare([plain], out, SERIAL, progress=False).corpus
    half = SERIAL.override(["chunks.chunk_seconds=0.5", "chunks.max_events=3"])
    report = prepare([plain], out, half, progress=False)
    assert not report.reused and report.parsed == 0 and report.from_cache == len(files)
    corpus = report.corpus
    assert corpus.chunk_seconds == 0.5 and corpus.max_events == 3
    assert corpus.manifest["key"] != first.manifest["key"]
    assert corpus.track_chunk_ptr[-1] < first.track_chunk_ptr[-1]
    assert sum(t["overflow"] for t in corpus.tracks) > 0
    check_consistent(corpus)

    binned = SERIAL.override(["events.pedal_bins=0"])
    report = prepare([plain], out, binned, progress=False)
    assert not report.reused
    assert report.corpus.config.events.pedal_bins == 0
    check_consistent(report.corpus)
    check_matches_files(report.corpus)
    assert prepare([plain], out, binned, progress=False).reused


def test_other_binning_reports_files_parsed_again(tmp_path):
    plain = tmp_path / "plain"
    files = make_plain(plain)
    out = tmp_path / "corpus"
    prepare([plain], out, SERIAL, progress=False)
    report = prepare([plain], out, SERIAL.override(["events.pedal_bins=0"]), progress=False)
    assert (report.parsed, report.from_cache) == (len(files), 0)


def _reader_version(monkeypatch, version: int) -> None:
    """Prepare as a reader of `version` would: the parse cache's names (parse_files) and the data key, the known bad
    files' limits and the stale cache entries (prepare_corpus)."""
    for module in (parse_files, prepare_corpus):
        monkeypatch.setattr(module, "READER_VERSION", version)


def test_a_corpus_prepared_by_an_earlier_reader_is_read_again(tmp_path, monkeypatch):
    """Preparing again with the same files and settings reused the corpus and the parse cache even where the reader
    had changed (the forty-ninth session's pedals from note-less tracks), so an old corpus never got them. The reader's
    version is in the data key and the cache's names: such a corpus is read again, and the old entries go."""
    plain = tmp_path / "plain"
    files = make_plain(plain)
    out = tmp_path / "corpus"
    first = prepare([plain], out, SERIAL, progress=False).corpus
    mine = out / "cache" / "notes.npz"  # not a cache entry's name: left alone
    mine.write_bytes(b"mine")
    later = out / "cache" / f"{'0' * 40}-b4-r{parse_files.READER_VERSION + 2}.npz"  # a later tsm's: left for it
    later.write_bytes(b"later")
    _reader_version(monkeypatch, parse_files.READER_VERSION + 1)
    report = prepare([plain], out, SERIAL, progress=False)
    assert not report.reused and (report.parsed, report.from_cache) == (len(files), 0)
    assert report.corpus.manifest["key"] != first.manifest["key"]
    entries = sorted(p.name for p in (out / "cache").glob("*.npz"))
    assert len(entries) == len(files) + 2 and "notes.npz" in entries and later.name in entries
    assert all(name.endswith(f"-r{parse_files.READER_VERSION}.npz") for name in entries
               if name not in ("notes.npz", later.name))
    assert report.corpus.content_key == first.content_key  # its runs still resume on it
    assert prepare([plain], out, SERIAL, progress=False).reused


def test_a_layered_instrument_is_left_out_of_the_corpus_and_an_older_readers_cache_read_again(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    files = make_plain(plain)
    layer = write_midi(plain / "layer.mid", [Note(60, 0, 480), Note(48, 0, 960, channel=1)], programs=[(1, 48)])
    out = tmp_path / "corpus"
    _reader_version(monkeypatch, 1)  # a corpus and cache prepared before the reader changed
    prepare([plain], out, SERIAL, progress=False)
    monkeypatch.undo()
    report = prepare([plain], out, SERIAL, progress=False)
    assert not report.reused and report.parsed == len(files) + 1 and report.from_cache == 0
    track = next(t for t in report.corpus.tracks if t["path"] == str(layer))
    assert track["dropped"]["other_instrument_notes"] == 1
    k = report.corpus.tracks.index(track)
    assert report.corpus.track_events(k).ids.tolist() == [60 - 21]


def test_a_file_an_earlier_reader_skipped_is_read_again(tmp_path, monkeypatch):
    """A file an earlier reader found bad stayed skipped for its reason while it was unchanged, though the reader
    that would take it had come: a layered piano too dense for events.max_events_per_second with its strings read,
    not without them, was skipped again by every later prepare into the corpus, and read by a prepare into a new one."""
    folder = tmp_path / "plain"
    write_midi(folder / "sparse.mid", [Note(60 + i % 12, 480 * i, 480 * i + 200) for i in range(20)])
    layer = write_midi(folder / "layer.mid", [Note(60 + i, 100 * i, 100 * i + 100) for i in range(8)]
                       + [Note(48 + i, 100 * i, 100 * i + 100, channel=1) for i in range(8)], programs=[(1, 48)])
    config, out = SERIAL.override({"events.max_events_per_second": 10}), tmp_path / "corpus"
    reader = parse_files.piano_events

    def every_voice(score, *args, **options):  # the reader before a layer was left out: every track as the piano
        for track in score.tracks:
            track.program = 0
        return reader(score, *args, **options)

    _reader_version(monkeypatch, 2)
    monkeypatch.setattr(parse_files, "piano_events", every_voice)
    assert [s["file"] for s in prepare([folder], out, config, progress=False).skipped] == [str(layer)]
    monkeypatch.undo()
    report = prepare([folder], out, config, progress=False)
    assert report.skipped == [] and len(report.corpus.tracks) == 2


def test_bad_files_are_skipped_with_a_reason(tmp_path):
    folder = tmp_path / "mixed"
    good = [write_piece(folder / "good" / f"g{k}.mid", seed=k) for k in range(3)]
    bad = bad_files(folder / "bad")
    out = tmp_path / "corpus"
    missing = tmp_path / "not_there"
    report = prepare([folder, missing], out, SERIAL, progress=False)
    reasons = {s["file"]: s["reason"] for s in report.skipped}
    assert reasons[str(missing)] == "no such file or folder"
    assert "empty" in reasons[str(bad["empty"])]
    assert "not a MIDI file" in reasons[str(bad["not_midi"])]
    assert "damaged MIDI file" in reasons[str(bad["truncated"])]
    assert "no piano notes" in reasons[str(bad["drums_only"])]
    assert len(reasons) == 5
    corpus = Corpus.open(out)
    assert sorted(t["path"] for t in corpus.tracks) == sorted(map(str, good))
    assert {s["file"]: s["reason"] for s in corpus.skipped} == reasons
    check_consistent(corpus)

    again = prepare([folder, missing], out, SERIAL, progress=False)
    assert again.reused and again.parsed == 0
    assert {s["file"]: s["reason"] for s in again.skipped} == reasons  # still listed, not parsed again

    bad["empty"].unlink()  # repaired: the bad file becomes a good one
    write_piece(bad["empty"], seed=42)
    report = prepare([folder], out, SERIAL, progress=False)
    assert report.parsed == 1 and str(bad["empty"]) in {t["path"] for t in report.corpus.tracks}


def test_only_bad_files_is_a_clear_error(tmp_path):
    bad_files(tmp_path / "bad")
    # nothing to make a corpus of is an error, not an empty corpus, and it says which sources gave nothing
    with pytest.raises(ValueError, match=str(tmp_path / "bad")):
        prepare([tmp_path / "bad"], tmp_path / "corpus", SERIAL, progress=False)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="runs as root, where chmod 000 does not stop reading a folder")
def test_unreadable_folder_is_listed(tmp_path):
    folder = tmp_path / "plain"
    make_plain(folder)
    locked = folder / PLAIN_PIECES[0]
    locked.chmod(0)
    try:
        report = prepare([folder], tmp_path / "corpus", SERIAL, progress=False)
    finally:
        locked.chmod(0o755)
    assert any(s["file"] == str(locked) and "unreadable folder" in s["reason"] for s in report.skipped)
    assert report.corpus.num_tracks == 19


def test_unreadable_folder_is_listed_even_as_root(tmp_path, monkeypatch):
    # as root chmod cannot lock a folder, so the refusal the operating system would give is staged instead
    folder = tmp_path / "plain"
    make_plain(folder)
    locked = folder / PLAIN_PIECES[0]
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = prepare([folder], tmp_path / "corpus", SERIAL, progress=False)
    assert [s for s in report.skipped if s["file"] == str(locked)] == [
        {"file": str(locked), "reason": "unreadable folder (Permission denied)"}]
    assert report.corpus.num_tracks == 19


def test_parallel_parse_gives_the_same_corpus(tmp_path):
    plain = tmp_path / "plain"
    make_plain(plain)
    serial = prepare([plain], tmp_path / "serial", SERIAL, progress=False).corpus
    parallel = prepare([plain], tmp_path / "parallel", SERIAL.override(["corpus.workers=2"]), progress=False).corpus
    assert serial.manifest["key"] == parallel.manifest["key"]
    for name in ("ids", "start_s", "duration_s", "intensity", "track_event_ptr", "track_chunk_ptr",
                 "chunk_event_ptr"):
        np.testing.assert_array_equal(getattr(serial, name), getattr(parallel, name))


def test_open_refuses_what_is_not_a_corpus(tmp_path):
    with pytest.raises(ValueError, match="not a prepared corpus"):
        Corpus.open(tmp_path)
    (tmp_path / "corpus.json").write_text("{ not json")
    with pytest.raises(ValueError, match="corrupt"):
        Corpus.open(tmp_path)


def test_data_check_reports_missing_and_unreadable_files(tmp_path):
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_maestro

    folder = tmp_path / "maestro-v3.0.0"
    (folder / "2004").mkdir(parents=True)
    good = folder / "2004" / "a.midi"
    write_tiny_maestro_file(good)
    (folder / "2004" / "bad.midi").write_bytes(b"MThd broken")
    (folder / "maestro-v3.0.0.csv").write_text(
        "canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration\n"
        "A,One,train,2004,2004/a.midi,x.wav,1.0\n"
        "B,Two,test,2004,2004/bad.midi,y.wav,1.0\n"
        "C,Three,validation,2004,2004/missing.midi,z.wav,1.0\n")
    result = check_maestro(folder)
    assert result.listed == {"train": 1, "test": 1, "validation": 1}
    assert result.readable == {"train": 1}
    assert sorted(Path(p["file"]).name for p in result.problems) == ["bad.midi", "missing.midi"]
    assert not result.ok
    assert main(["data", "check", str(folder)]) == 1
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 1


def test_data_check_counts_as_unreadable_what_prepare_skips(tmp_path):
    """A file of drum notes alone (a metronome track saved by itself) or of notes beyond the keys was 'readable' to data
    check, which said OK, and then skipped by prepare as having no piano notes."""
    from timestepmusic.datacheck import check_data

    folder = tmp_path / "mine"
    write_piece(folder / "take.mid")
    bad = bad_files(folder / "bad")["drums_only"]
    write_midi(folder / "bad" / "low.mid", [Note(12, 0, 240)])
    result = check_data(folder)
    assert sum(result.readable.values()) == 1 and not result.ok
    reasons = {Path(p["file"]).name: p["reason"] for p in result.problems}
    assert reasons[bad.name] == "no piano notes (pitch 21–108) in the file; its notes: 2 on the drum channel (10)"
    assert reasons["low.mid"].startswith("no piano notes") and len(reasons) == 5  # (with the bad_files that are not MIDI)
    skipped = prepare([folder], tmp_path / "corpus", SERIAL, progress=False).skipped
    assert sorted(Path(s["file"]).name for s in skipped) == sorted(reasons)


def test_data_check_reads_an_asap_a_maestro_and_a_plain_folder_as_prepare_does(tmp_path, capsys):
    """`tsm data check` on an ASAP folder: its metadata.csv read, the performances counted per split as prepare splits
    them (by piece), each missing or unreadable file a problem; a folder of MIDI files without a table as prepare reads it;
    a folder with no MIDI file, or none, is one line."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_data

    asap = make_asap(tmp_path / "asap")
    with (asap / "metadata.csv").open("a", newline="") as f:
        csv.writer(f).writerows([["Liszt", "Sonata", "Liszt/Sonata", "Liszt/Sonata/Gone01M.mid", "", "", ""],
                                 ["Liszt", "Sonata", "Liszt/Sonata", "Liszt/Sonata/Broken02M.mid", "", "", ""]])
    (asap / "Liszt" / "Sonata" / "Broken02M.mid").write_bytes(b"MThd broken")
    result = check_data(asap)
    assert (result.layout, result.table, result.pieces, result.composers) == ("ASAP", str(asap / "metadata.csv"), 4, 3)
    performances, _ = discover([asap])  # (the splits prepare gives them)
    assert result.listed == dict(collections.Counter(p.split for p in performances))
    assert sum(result.present.values()) == 8 and sum(result.readable.values()) == 7
    assert [(Path(p["file"]).name, p["reason"]) for p in result.problems][0] == (
        "Gone01M.mid", "listed in the table, but not there")
    assert [Path(p["file"]).name for p in result.problems] == ["Gone01M.mid", "Broken02M.mid"] and not result.ok
    assert main(["data", "check", str(asap)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{asap}: ASAP table {asap / 'metadata.csv'} (9 performance(s) of 4 piece(s) by 3 composer(s)")
    assert "Gone01M.mid: listed in the table, but not there" in out and out.rstrip().endswith("NOT OK: 2 problem(s)")
    assert "MAESTRO v3.0.0 has" not in out  # (ASAP's splits are prepare's, not a release's)
    assert check_data(make_maestro(tmp_path / "maestro")).layout == "MAESTRO"
    plain = tmp_path / "plain"
    make_plain(plain)  # MIDI files and no table: prepare reads it, and so does data check
    result = check_data(plain)
    performances, _ = discover([plain])
    assert result.layout == "MIDI folder" and result.ok and result.table is None
    assert result.listed == result.present == result.readable == dict(collections.Counter(p.split for p in performances))
    assert main(["data", "check", str(plain)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{plain}: a folder of MIDI files, no table ({len(performances)} performance(s)")
    assert "composer" not in out and out.rstrip().endswith("OK")
    (plain / "empty").mkdir()
    nested = tmp_path / "downloads"
    make_asap(nested / "asap-dataset")  # the unzipped dataset one level down: its folder named, not read as plain
    assert main(["data", "check", str(nested)]) == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"NOT OK: {nested}: holds a dataset one level down, {nested / 'asap-dataset'}") and "\n" not in out
    for folder, said in ((plain / "empty", "no MIDI files (.mid, .midi) in it or its folders, and no MAESTRO table"),
                         (tmp_path / "nowhere", "no such folder")):
        assert main(["data", "check", str(folder)]) == 1
        out = capsys.readouterr().out.strip()
        assert out.startswith(f"NOT OK: {folder}: {said}") and "\n" not in out, out


@pytest.mark.parametrize("layout", ["asap", "maestro"])
def test_a_table_row_cut_short_is_one_line_not_a_traceback(layout, tmp_path, capsys):
    """A metadata.csv or maestro-v3.0.0.csv whose last row was cut short (a download stopped): data check and prepare
    each say so in one line naming the table and the line."""
    from timestepmusic.cli import main

    folder = make_asap(tmp_path / "data") if layout == "asap" else make_maestro(tmp_path / "data")
    table = folder / ("metadata.csv" if layout == "asap" else "maestro-v3.0.0.csv")
    with table.open("a") as f:
        f.write("\n\nBach,Fugue\n")  # (after blank lines, which csv skips: the line is the file's, not the row's)
    line = len(table.read_text().splitlines())
    assert main(["data", "check", str(folder)]) == 1
    assert f"problem: {table}: unreadable table (line {line} is cut short: no " in capsys.readouterr().out
    assert main(["prepare", str(folder), "--out", str(tmp_path / "corpus"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{table}: line {line} is cut short: no " in err and "\n" not in err and "Traceback" not in err


@pytest.mark.real
def test_data_check_passes_the_shared_asap_folder(shared_data):
    """Every performance in ../shared/data/asap listed, present and readable, split as the prepared corpus is."""
    from timestepmusic.datacheck import check_data

    result = check_data(shared_data)
    assert result.ok, result.format()
    assert (result.layout, sum(result.listed.values()), result.pieces) == ("ASAP", 984, 213)
    assert result.listed == result.present == result.readable
    assert set(result.listed) == set(SPLITS)


def write_tiny_maestro_file(path):
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events

    write_events(Events([39, 88], [0.0, 0.1], [0.5, 0.3], [64, 70]), path)


def test_copies_of_one_file_in_two_splits_are_said(tmp_path, caplog):
    """One performance copied into twelve piece folders lands in several splits: prepare says so (the model would be
    tested on what it trained on); distinct files are not named."""
    for piece in range(12):
        write_midi(tmp_path / "midi" / f"p{piece}" / "take.mid", [Note(60, 0, 480), Note(64, 480, 960)])
    write_midi(tmp_path / "midi" / "other" / "take.mid", [Note(50, 0, 480)])
    prepare([tmp_path / "midi"], tmp_path / "corpus", Config().override({"corpus.workers": 1}), progress=False)
    said = [r.getMessage() for r in caplog.records if "in two splits as copies of one file" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("1 performance(s)") and "other" not in said[0]


def test_one_performance_saved_again_in_other_bytes_in_two_splits_is_said(tmp_path, caplog):
    """A user's folder holding one take twice, once as saved by another program (a type-0 file beside the type-1
    original, an added program change): the same notes, pedals and times in two splits went unsaid, as only byte
    copies were looked for. Both are said; the same music in one split, and other music, are not."""
    names = {}  # a piece folder's name for each split
    for k in range(200):
        names.setdefault(split_by_hash(f"p{k}", 0.1, 0.1), f"p{k}")
    notes, controls = simple_piece(3)
    write_midi(tmp_path / "midi" / names["train"] / "take.mid", notes, controls, file_type=1)
    write_midi(tmp_path / "midi" / names["test"] / "take.mid", notes, controls, file_type=0, programs=[(0, 1)])
    write_midi(tmp_path / "midi" / names["train"] / "again.mid", notes, controls, file_type=0, note_off="velocity0")
    write_piece(tmp_path / "midi" / names["validation"] / "other.mid", seed=4)
    prepare([tmp_path / "midi"], tmp_path / "corpus", Config().override({"corpus.workers": 1}), progress=False)
    said = [r.getMessage() for r in caplog.records if "in two splits as copies of one file" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("1 performance(s)"), said
    assert f"{names['test']}/take.mid (test)" in said[0] and "other.mid" not in said[0]
    from timestepmusic.datacheck import check_data  # … and `tsm data check` says it before, as it says prepare's others

    checked = check_data(tmp_path / "midi")
    assert checked.ok and f"  warning: {said[0]}" in checked.format().splitlines()
    assert checked.copies == [{"test": str(tmp_path / "midi" / names["test"] / "take.mid"),
                               "train": str(tmp_path / "midi" / names["train"] / "again.mid")}]


def test_one_performance_saved_at_another_tick_resolution_in_two_splits_is_said(tmp_path, caplog):
    """music_digest said two files of the same music share a digest 'however their bytes differ (another tick
    resolution)', but it hashed the parsed seconds' float bits: a take saved at 1440 ticks a quarter beside its
    480-tick original parses to times one float step apart (0.4447916666666667 against …664), so the copy in
    another split went unsaid. Times are compared to the microsecond."""
    from timestepmusic.parse_files import music_digest

    names = {}  # a piece folder's name for each split
    for k in range(200):
        names.setdefault(split_by_hash(f"p{k}", 0.1, 0.1), f"p{k}")
    notes, controls = simple_piece(3)
    write_midi(tmp_path / "midi" / names["train"] / "take.mid", notes, controls)
    finer = [Note(n.pitch, 3 * n.on, 3 * n.off, n.velocity) for n in notes]
    write_midi(tmp_path / "midi" / names["test"] / "take.mid", finer, [CC(c.number, c.value, 3 * c.tick) for c in controls],
               ticks_per_quarter=1440)
    parsed = [read_events(tmp_path / "midi" / names[split] / "take.mid")[0] for split in ("train", "test")]
    assert not np.array_equal(parsed[0].start_s, parsed[1].start_s)  # (the float steps this is about)
    assert len({music_digest({"ids": e.ids, "start_s": e.start_s, "duration_s": e.duration_s,
                              "intensity": e.intensity}) for e in parsed}) == 1
    prepare([tmp_path / "midi"], tmp_path / "corpus", Config().override({"corpus.workers": 1}), progress=False)
    said = [r.getMessage() for r in caplog.records if "in two splits as copies of one file" in r.getMessage()]
    assert len(said) == 1 and f"{names['test']}/take.mid (test)" in said[0], said
    moved = {"ids": parsed[0].ids, "start_s": parsed[0].start_s + 0.001, "duration_s": parsed[0].duration_s,
             "intensity": parsed[0].intensity}  # (other music, a millisecond later: not a copy)
    assert music_digest(moved) != music_digest({"ids": parsed[0].ids, "start_s": parsed[0].start_s,
                                                "duration_s": parsed[0].duration_s, "intensity": parsed[0].intensity})
    one_step = np.nextafter(0.5, 1.0)  # (two notes struck together, one float step apart in one file, not the other)
    together = {"ids": np.array([60, 50]), "start_s": np.array([0.5, one_step]), "duration_s": np.array([1.0, 1.0]),
                "intensity": np.array([64, 64])}
    assert music_digest(together) == music_digest(together | {"start_s": np.array([one_step, 0.5])})


def test_a_performance_that_begins_with_minutes_of_silence_is_said(tmp_path, caplog):
    """A take whose recorder ran five minutes before the playing (ASAP holds one: a fugue 269 s after its cut's start)
    went into the corpus without a word, its silence trained on as playing: data check and prepare say it; a take
    starting within LATE_START_S does not."""
    from timestepmusic.datacheck import check_data
    from timestepmusic.parse_files import LATE_START_S

    notes, controls = simple_piece(5)
    late_tick = int(2 * 480 * (LATE_START_S + 270))  # (120 bpm: 960 ticks a second)
    write_midi(tmp_path / "midi" / "late.mid", [Note(n.pitch, n.on + late_tick, n.off + late_tick, n.velocity)
                                                 for n in notes])
    soon_tick = int(2 * 480 * (LATE_START_S - 5))
    write_midi(tmp_path / "midi" / "soon.mid", [Note(n.pitch, n.on + soon_tick, n.off + soon_tick, n.velocity)
                                                for n in notes], controls)
    write_piece(tmp_path / "midi" / "prompt.mid", seed=6)
    prepare([tmp_path / "midi"], tmp_path / "corpus", SERIAL, progress=False)
    said = [r.getMessage() for r in caplog.records if "of silence" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"1 performance(s) begin with more than {LATE_START_S:g} s of silence")
    assert f"{tmp_path / 'midi' / 'late.mid'} (300 s before its first note" in said[0], said
    assert f"  warning: {said[0]}" in check_data(tmp_path / "midi").format().splitlines()


@pytest.mark.parametrize("asap_first", [False, True], ids=["maestro_then_asap", "asap_then_maestro"])
def test_asap_performances_cut_from_maestro_files_are_left_out_when_maestro_is_read_too(tmp_path, caplog, asap_first):
    """ASAP's performances are cut from MAESTRO's files (metadata.csv's maestro_midi_performance) and split by piece;
    prepared beside MAESTRO, a cut of a MAESTRO test file would be trained on. Those cuts are left out, said once."""
    maestro, asap = make_maestro(tmp_path / "maestro-v3.0.0"), tmp_path / "asap"
    rows = [("Liszt", "Mephisto", "Liszt/Mephisto", "Liszt/Mephisto/Kim01.mid", "{maestro}/2009/MIDI-Liszt_wav.midi"),
            ("Bach", "Prelude_846", "Bach/Prelude/846", "Bach/Prelude/846/Lee02.mid", "{maestro}/2008/MIDI-Bach_846_wav.midi"),
            ("Chopin", "Etude_10_1", "Chopin/Etude/10_1", "Chopin/Etude/10_1/Wu03.mid", ""),  # not from MAESTRO: kept
            ("Chopin", "Etude_10_2", "Chopin/Etude/10_2", "Chopin/Etude/10_2/Wu04.mid", "{maestro}/2019/not-read.midi")]
    asap.mkdir()
    with (asap / "metadata.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["composer", "title", "folder", "midi_performance", "maestro_midi_performance", "start", "end"])
        for k, row in enumerate(rows):
            write_piece(asap / row[3], seed=300 + k)
            writer.writerow([*row, "", ""])
    performances, problems = discover([asap, maestro] if asap_first else [maestro, asap], 0.3, 0.3)
    assert problems == []
    kept = sorted(str(Path(p.path).relative_to(asap)) for p in performances if p.path.startswith(str(asap)))
    assert kept == ["Chopin/Etude/10_1/Wu03.mid", "Chopin/Etude/10_2/Wu04.mid"]
    assert len([p for p in performances if p.path.startswith(str(maestro))]) == len(MAESTRO_ROWS)
    assert "2 ASAP performance(s) are cut from MAESTRO files read too" in caplog.text
    performances, _ = discover([asap], 0.3, 0.3)  # ASAP alone: all of it
    assert len(performances) == len(rows)
    older = tmp_path / "asap-older"  # a table without the column: the cuts cannot be told, which is said
    older.mkdir()
    with (older / "metadata.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["composer", "title", "folder", "midi_performance", "start", "end"])
        write_piece(older / rows[0][3], seed=400)
        writer.writerow([*rows[0][:4], "", ""])
    caplog.clear()
    performances, _ = discover([maestro, older], 0.3, 0.3)
    assert "asap-older: its metadata.csv names no MAESTRO file" in caplog.text and len(performances) == len(MAESTRO_ROWS) + 1


def test_data_check_names_midi_files_a_maestro_table_does_not_list(tmp_path, capsys):
    """A MIDI file put into a MAESTRO folder that its table does not list is left out by prepare: data check says so
    (not a problem of the download: still OK)."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    write_piece(folder / "2018" / "my_own_take.mid", seed=5)
    result = check_maestro(folder)
    assert result.ok and result.unlisted == [str(folder / "2018" / "my_own_take.mid")]
    assert main(["data", "check", str(folder)]) == 0
    assert "1 MIDI file(s) here that the table does not list, e.g. " in capsys.readouterr().out
    assert check_maestro(make_maestro(tmp_path / "clean")).unlisted == []
    write_piece(folder / "beside_the_table.mid", seed=6)  # (put at the top, beside maestro-v3.0.0.csv: left out too)
    assert check_maestro(folder).unlisted == [str(folder / "beside_the_table.mid"), str(folder / "2018" / "my_own_take.mid")]


def test_prepare_says_the_midi_files_a_maestro_table_does_not_list(tmp_path, caplog):
    """prepare left a MIDI file put into a MAESTRO folder out without a word, where data check said it: it says it too,
    once, naming the table and the file; a folder whose files are all listed says nothing."""
    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    with caplog.at_level("WARNING"):
        discover([folder], 0.3, 0.3)
    assert not [r for r in caplog.records if "does not list" in r.getMessage()]
    write_piece(folder / "2018" / "my_own_take.mid", seed=5)
    caplog.clear()
    with caplog.at_level("WARNING"):
        performances, problems = discover([folder], 0.3, 0.3)
    said = [r.getMessage() for r in caplog.records if "does not list" in r.getMessage()]
    assert said == [f"{folder}: 1 MIDI file(s) here that maestro-v3.0.0.csv does not list, e.g. "
                    f"{folder / '2018' / 'my_own_take.mid'}: left out (give them as a source of their own)"]
    assert problems == [] and len(performances) == len(MAESTRO_ROWS)


def test_a_maestro_row_naming_a_file_outside_its_folder_is_read_not_the_whole_source_refused(tmp_path):
    """A MAESTRO table edited to name a file by its absolute path (outside the folder): the row is read as before,
    not the whole MAESTRO folder refused as an 'unusable source' by the ASAP overlap's bookkeeping."""
    maestro = make_maestro(tmp_path / "maestro-v3.0.0")
    write_piece(tmp_path / "elsewhere" / "mine.midi", seed=9)
    with (maestro / "maestro-v3.0.0.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["Frédéric Chopin", "Nocturne", "train", 2004, str(tmp_path / "elsewhere" / "mine.midi"),
                                "", 1])
    performances, problems = discover([maestro], 0.1, 0.1)
    assert problems == [] and len(performances) == len(MAESTRO_ROWS) + 1
    assert str(tmp_path / "elsewhere" / "mine.midi") in {p.path for p in performances}


def test_data_check_says_which_splits_a_folder_leaves_empty_as_prepare_does(tmp_path, capsys):
    """A researcher's folder sorted by composer (each subfolder a piece to prepare, so 2 pieces here) was 'OK' to data
    check with 0 performances in two splits; prepare then warned that training validates on its training chunks and
    that `tsm evaluate` needs another --split. Data check says it too, before preparing."""
    from timestepmusic.cli import main

    folder = tmp_path / "mine"
    for name in ("Bach/a.mid", "Bach/b.mid", "Chopin/c.mid", "Chopin/d.mid"):
        write_piece(folder / name)
    assert main(["data", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    listed = {split: int(line.split()[1]) for line in out.splitlines() for split in SPLITS
              if line.startswith(f"  {split} ")}
    empty = [split for split in SPLITS if not listed[split]]
    assert len(empty) >= 1  # (two pieces: at least one split holds none)
    said = [line for line in out.splitlines() if line.startswith("  note: no performance in the")]
    assert said == [f"  note: no performance in the {split} split, so " + {
        "train": "nothing can be trained on it", "validation": "training validates on its training chunks",
        "test": "`tsm evaluate` needs another --split"}[split] + "; put each piece's takes in a subfolder of their own, "
        "or add pieces" for split in (empty[:1] if "train" in empty else empty)]
    assert out.rstrip().endswith("OK")
    make_plain(tmp_path / "plain")  # (every split holds a piece: nothing said)
    main(["data", "check", str(tmp_path / "plain")])
    assert "note: no performance" not in capsys.readouterr().out


def test_preparing_other_performances_over_a_corpus_says_its_runs_will_not_resume(tmp_path, caplog):
    # a performance added to mine/ and `tsm prepare mine/ --out corpus/` again replaced the corpus without a word;
    # `train-gan --resume` of a run trained on it then found it gone. Said when it happens (as other settings are);
    # the same files, prepared again or from another path, are not
    import shutil

    folder, out = tmp_path / "mine", tmp_path / "corpus"
    for seed in range(3):
        write_piece(folder / f"p{seed}" / "take.mid", seed=seed)
    prepare([folder], out, SERIAL, progress=False)
    shutil.copytree(folder, tmp_path / "moved")
    with caplog.at_level("WARNING"):
        prepare([folder], out, SERIAL, progress=False)
        prepare([tmp_path / "moved"], out, SERIAL, progress=False)
    assert "other performances" not in caplog.text
    write_piece(tmp_path / "moved" / "p9" / "take.mid", seed=9)
    with caplog.at_level("WARNING"):
        prepare([tmp_path / "moved"], out, SERIAL, progress=False)
    assert f"{out} held a corpus of other performances (1 new); it is replaced by this one, and runs trained on the " \
           "old one will not resume on it (preparing the old sources into it again restores it)" in caplog.text
    caplog.clear()
    (tmp_path / "moved" / "p0" / "take.mid").unlink()
    with caplog.at_level("WARNING"):
        prepare([tmp_path / "moved"], out, SERIAL, progress=False)
    assert f"other performances (1 gone, e.g. {tmp_path / 'moved' / 'p0' / 'take.mid'})" in caplog.text
    caplog.clear()  # a MAESTRO year folder prepared over the whole dataset's corpus: its file that moved split was said
    maestro, out = make_maestro(tmp_path / "maestro-v3.0.0"), tmp_path / "maestro-corpus"  # as '1 new; 5 gone, e.g.'
    prepare([maestro], out, SERIAL, progress=False)  # that very file, still there
    bach = maestro / MAESTRO_ROWS[2][4]  # (the csv's validation performance; alone in its folder, a piece of its own)
    assert [p.split for p in discover([bach.parent], 0.3, 0.3)[0]] == ["test"]  # (SERIAL's fractions: it moves)
    with caplog.at_level("WARNING"):
        prepare([bach.parent], out, SERIAL, progress=False)
    assert (f"other performances ({len(MAESTRO_ROWS) - 1} gone, e.g. {maestro / MAESTRO_ROWS[0][4]}; 1 moved to another "
            f"split, e.g. {bach} (validation → test)); it is replaced") in caplog.text, caplog.text


def _zipped(folder: Path, archive: Path) -> Path:
    """`folder` zipped into `archive` as a download holds it: every path under the folder's own name."""
    import zipfile

    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as opened:
        for path in sorted(folder.rglob("*")):
            opened.write(path, path.relative_to(folder.parent))
    return archive


def test_a_maestro_download_given_by_its_parent_its_table_or_its_zip_names_the_folder_to_give(tmp_path, capsys):
    """A MAESTRO user giving the folder above maestro-v3.0.0/ had it prepared as a plain folder (each year a piece, split
    by hash: the official test split trained on) where data check refused it; the csv, the json or the zip given for
    the folder was 'not a MIDI file (no MThd header)'. Prepare and data check now each say, in one line, which folder
    to give (and, for a zip, to unzip it first)."""
    from timestepmusic.cli import main

    downloads = tmp_path / "downloads"
    maestro = make_maestro(downloads / "maestro-v3.0.0")
    elsewhere = _zipped(maestro, tmp_path / "zips" / "maestro-v3.0.0-midi.zip")
    beside = _zipped(maestro, downloads / "maestro-v3.0.0-midi.zip")
    (maestro / "maestro-v3.0.0.json").write_text("{}")  # (MAESTRO ships both tables; the csv is the one read)
    only_zip = elsewhere.parent
    expected = {
        downloads: f"holds a dataset one level down, {maestro}, with its table: give that folder, which prepare splits "
                   "as the dataset does",
        maestro / "maestro-v3.0.0.csv": f"a dataset's table, not a performance: give the folder that holds it, {maestro}",
        maestro / "maestro-v3.0.0.json": f"a dataset's table, not a performance: give the folder that holds it, {maestro}",
        elsewhere: f"a zip archive: unzip it first (unzip {elsewhere} -d {elsewhere.parent}), then give the folder it "
                   f"holds, {elsewhere.parent / 'maestro-v3.0.0'}",
        beside: f"a zip archive; the folder it holds is unzipped beside it: give that folder, {maestro}",
    }
    expected[only_zip] = f"no MIDI files, but {elsewhere}: {expected[elsewhere]}"
    for source, said in expected.items():
        assert main(["data", "check", str(source)]) == 1
        assert capsys.readouterr().out.strip() == f"NOT OK: {source}: {said}"
        out = tmp_path / "corpus"
        assert main(["prepare", str(source), "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: no usable performance in {source} ({source}: {said})", err
        assert not out.exists()
    performances, problems = discover([downloads, maestro])  # (beside the dataset itself: the parent skipped, listed)
    assert len(performances) == len(MAESTRO_ROWS) and [p.path for p in problems] == [str(downloads)]
    unzipped = make_maestro(tmp_path / "unzipped" / "maestro-v3.0.0-midi" / "maestro-v3.0.0")  # (into a folder of its own)
    assert main(["prepare", str(tmp_path / "unzipped"), "--out", str(tmp_path / "corpus"), "-q"]) == 2
    assert f"holds a dataset two levels down, {unzipped}, with its table: give that folder" in capsys.readouterr().err


def test_a_year_folder_of_maestro_prepared_alone_warns_that_the_official_split_is_not_kept(tmp_path, caplog, capsys):
    """`tsm prepare maestro-v3.0.0/2004` (or its files) read the year folder as a plain folder, split by hash, without a
    word: MAESTRO's test performances could be trained on. Prepare and data check now warn, naming the dataset's folder
    to give; not where that folder is read too (a file its table leaves out, given beside it)."""
    from timestepmusic.cli import main

    maestro = make_maestro(tmp_path / "maestro-v3.0.0")
    year = maestro / "2004"
    said = (f"{year} is inside a dataset, {maestro} (its table maestro-v3.0.0.csv): read without the table, it is split "
            f"by hash, not as the dataset splits it, so the dataset's test performances may be trained on; give {maestro} "
            "to keep its split")
    with caplog.at_level("WARNING"):
        performances, problems = discover([year])
    assert len(performances) == 1 and problems == [] and said in caplog.text
    assert main(["data", "check", str(year)]) == 0
    assert f"\n  warning: {said}\n" in capsys.readouterr().out
    caplog.clear()
    take = next(year.iterdir())
    with caplog.at_level("WARNING"):
        discover([take])
        assert said.replace(str(year), str(take), 1) in caplog.text
        caplog.clear()
        discover([maestro, take])
        discover([make_plain(tmp_path / "mine")[0].parent])
    assert "is inside a dataset" not in caplog.text


def test_data_check_says_where_maestros_json_disagrees_with_its_csv(tmp_path, capsys):
    """MAESTRO ships its table twice, as csv and json; prepare reads the csv. A json edited apart from it (another split
    for one performance, a row the csv lacks) passed data check without a word: it is now a note, naming the file and
    how they differ (not a problem: still OK)."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    json_table = make_maestro(tmp_path / "json", table="json") / "maestro-v3.0.0.json"
    data = json.loads(json_table.read_text())
    (folder / "maestro-v3.0.0.json").write_text(json.dumps(data))
    assert check_maestro(folder).disagreeing == []  # (the same rows: nothing said)
    data["split"]["3"] = "train"  # (the csv's test performance)
    for column, value in zip(data, ("Franz Liszt", "Etude", "train", 2018, "2018/extra.midi", "", 1)):
        data[column]["5"] = value
    (folder / "maestro-v3.0.0.json").write_text(json.dumps(data))
    result = check_maestro(folder)
    changed, added = folder / MAESTRO_ROWS[3][4], folder / "2018" / "extra.midi"
    assert result.disagreeing == [f"{changed}: split 'test' in the csv, 'train' in the json", f"{added}: not in the csv"]
    assert result.ok and main(["data", "check", str(folder)]) == 0
    assert (f"  note: the json disagrees with the csv in 2 place(s), e.g. {changed}: split 'test' in the csv, 'train' "
            "in the json: prepare reads the csv") in capsys.readouterr().out


@pytest.mark.parametrize("table", ["csv", "json"])
def test_a_maestro_table_saved_by_a_spreadsheet_with_a_byte_order_mark_is_read(tmp_path, table):
    """A maestro-v3.0.0.csv edited and saved as 'CSV UTF-8' by a spreadsheet starts with a byte-order mark: it was
    refused as 'not a MAESTRO table, missing column(s) ['canonical_composer']' though the column is there (the json
    would not parse). It is read, its accented names as written."""
    folder = make_maestro(tmp_path / "maestro-v3.0.0", table=table)
    path = folder / f"maestro-v3.0.0.{table}"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    performances, problems = discover([folder])
    assert problems == [] and len(performances) == len(MAESTRO_ROWS)
    assert [p.composer for p in performances] == [row[0] for row in MAESTRO_ROWS]
    assert [p.split for p in performances] == [row[2] for row in MAESTRO_ROWS]


@pytest.mark.parametrize("table", ["csv", "json"])
def test_a_maestro_row_whose_split_is_none_of_the_three_is_listed_not_prepared_into_no_split(tmp_path, capsys, table):
    """A MAESTRO table edited by hand with 'Train' or 'eval' in its split column: prepare put those files into the
    corpus in no split (counted in `all`, never trained nor tested on) and data check left them out of every count,
    both without a word. 'Train ' is read as train; 'eval' is skipped and listed by prepare, a problem to data check."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0", table=table)
    path = folder / f"maestro-v3.0.0.{table}"
    if table == "csv":
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        rows[1][2], rows[4][2] = "Train ", "eval"
        with path.open("w", newline="") as f:
            csv.writer(f).writerows(rows)
        row = "line 5"
    else:
        data = json.loads(path.read_text())
        data["split"]["0"], data["split"]["3"] = "Train ", "eval"
        path.write_text(json.dumps(data))
        row = "row 3"
    evaluated = str(folder / MAESTRO_ROWS[3][4])
    said = f"its split in {path.name} ({row}) is 'eval', not one of train, validation, test: left out"
    performances, problems = discover([folder])
    assert [p.split for p in performances] == ["train", "train", "validation", "train"]
    assert [(p.path, p.reason) for p in problems] == [(evaluated, said)]
    result = check_maestro(folder)
    assert result.listed == {"train": 3, "validation": 1} and result.problems == [{"file": evaluated, "reason": said}]
    assert result.unlisted == [] and not result.ok
    assert main(["prepare", str(folder), "--out", str(tmp_path / "corpus"), "-q"]) == 0
    assert f"skipped {evaluated}: {said}" in capsys.readouterr().err
    corpus = Corpus.open(tmp_path / "corpus")
    assert sorted(t["split"] for t in corpus.tracks) == ["train", "train", "train", "validation"]


def test_a_metadata_csv_of_ones_own_makes_no_folder_a_dataset(tmp_path, caplog):
    """A metadata.csv of one's own (a session's notes, no ASAP column) in a subfolder made prepare refuse the whole
    folder of MIDI files ('holds a dataset one level down … give that folder', which would then be refused as no ASAP
    table), and one beside a folder given made prepare warn that it 'is inside a dataset'. Only a table with ASAP's
    columns now makes a folder a dataset."""
    from timestepmusic.datacheck import check_data

    mine = tmp_path / "project" / "mine"
    files = make_plain(mine)
    (mine / PLAIN_PIECES[0] / "metadata.csv").write_text("date,microphone\n2020-05-01,ribbon\n")
    (mine.parent / "metadata.csv").write_text("date,microphone\n2020-05-01,ribbon\n")  # (above the folder given)
    with caplog.at_level("WARNING"):
        performances, problems = discover([mine])
        assert problems == [] and len(performances) == len(files)
        assert discover([files[0]])[1] == []
    assert "inside a dataset" not in caplog.text, caplog.text
    assert check_data(mine).ok and check_data(mine).inside is None
    asap = make_asap(tmp_path / "downloads" / "asap")  # (an ASAP table: still a dataset, still named)
    assert discover([asap.parent])[1][0].reason.startswith(f"holds a dataset one level down, {asap}, with its table")


def test_a_folder_holding_two_datasets_names_both(tmp_path):
    """A downloads folder holding MAESTRO and ASAP was refused naming the first alone ('give that folder'): the user
    following it would leave the other dataset out. Both are named."""
    from timestepmusic.datacheck import check_data

    maestro, asap = make_maestro(tmp_path / "data" / "maestro-v3.0.0"), make_asap(tmp_path / "data" / "asap")
    said = (f"holds 2 datasets one level down, {asap}, {maestro}, each with its table: give those folders, which prepare "
            "splits as each dataset does")
    assert [(p.path, p.reason) for p in discover([tmp_path / "data"])[1]] == [(str(tmp_path / "data"), said)]
    assert check_data(tmp_path / "data").problems == [{"file": str(tmp_path / "data"), "reason": said}]


def test_a_zip_holding_no_midi_is_not_said_to_be_a_download_to_unzip(tmp_path, capsys):
    """A folder holding no MIDI file but a zip of one's photos was told 'unzip it first …, then give the folder it
    holds'; the zip given as a source was told the same. Only a zip holding MIDI files is said to be a download."""
    import zipfile

    from timestepmusic.cli import main
    from timestepmusic.datacheck import NO_MIDI

    folder = tmp_path / "photos"
    folder.mkdir()
    with zipfile.ZipFile(folder / "holiday.zip", "w") as opened:
        opened.writestr("holiday/beach.jpg", "not a performance")
    assert main(["data", "check", str(folder)]) == 1
    assert capsys.readouterr().out.strip() == f"NOT OK: {folder}: {NO_MIDI}"
    assert discover([folder]) == ([], [])
    said = "a zip archive with no MIDI file in it, not a performance"
    assert [p.reason for p in discover([folder / "holiday.zip"])[1]] == [said]


def test_a_copy_added_to_or_dropped_from_another_split_is_said_when_preparing_over_a_corpus(caplog):
    """Over a corpus: a copy of a training file put in another split replaced the corpus without a word (its sha1 was
    not new), and a copy dropped from one split, still in another, was said to have 'moved' there."""
    from timestepmusic.prepare_corpus import warn_of_other_performances

    one = [{"path": "a/take.mid", "sha1": "s1", "split": "train"}]
    both = one + [{"path": "b/take.mid", "sha1": "s1", "split": "test"}]
    with caplog.at_level("WARNING"):
        warn_of_other_performances(Path("corpus"), {"tracks": one}, {("s1", "train"), ("s1", "test")})
    assert "held a corpus of other performances (1 new)" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        warn_of_other_performances(Path("corpus"), {"tracks": both}, {("s1", "train")})
    assert "held a corpus of other performances (1 gone, e.g. b/take.mid)" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        warn_of_other_performances(Path("corpus"), {"tracks": one}, {("s1", "test")})
    assert "other performances (1 moved to another split, e.g. a/take.mid (train → test))" in caplog.text, caplog.text


@pytest.mark.parametrize("text", ["{}", "[1, 2]"])
def test_a_maestro_json_that_is_no_table_is_said_in_one_line(tmp_path, capsys, text):
    """An empty or stray maestro-v3.0.0.json beside the csv made data check end in a traceback (IndexError, read to
    compare it with the csv), as it made prepare of a folder holding that json alone. Beside the csv it is not compared
    (prepare reads the csv); alone, it is an unusable table, said in one line."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    (folder / "maestro-v3.0.0.json").write_text(text)
    assert check_maestro(folder).disagreeing == [] and main(["data", "check", str(folder)]) == 0
    capsys.readouterr()
    (folder / "maestro-v3.0.0.csv").unlink()
    assert main(["prepare", str(folder), "--out", str(tmp_path / "corpus"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    table = folder / "maestro-v3.0.0.json"
    assert err.startswith(f"error: no usable performance in {folder} ({folder}: unusable source ({table}: not a MAESTRO "
                          "table"), err


def test_a_metadata_csv_of_ones_own_given_among_files_is_not_said_to_be_a_datasets_table(tmp_path):
    """`tsm prepare mine/*` over a folder holding a metadata.csv of one's own was told 'a dataset's table, not a
    performance: give the folder that holds it', a folder then refused as no ASAP table. It is skipped as any file that
    is not MIDI; an ASAP table given so is still told which folder to give."""
    mine = tmp_path / "mine"
    files = make_plain(mine)
    (mine / "metadata.csv").write_text("date,microphone\n2020-05-01,ribbon\n")
    performances, problems = discover([*files, mine / "metadata.csv"])
    assert problems == [] and len(performances) == len(files) + 1
    asap = make_asap(tmp_path / "asap")
    said = f"a dataset's table, not a performance: give the folder that holds it, {asap}"
    assert [p.reason for p in discover([asap / "metadata.csv"])[1]] == [said]


def test_a_row_in_no_split_is_not_said_to_be_missing_from_the_other_maestro_table(tmp_path):
    """Data check's comparison of MAESTRO's json with its csv read each table's rows in no split ('eval') as absent:
    a file the json lists with split 'eval' was 'not in the json', and one the csv lists so 'not in the csv' (beside
    the csv's own problem naming it). The json's is said as it is; the csv's is its problem alone."""
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    data = json.loads((make_maestro(tmp_path / "json", table="json") / "maestro-v3.0.0.json").read_text())
    data["split"]["0"] = "eval"
    (folder / "maestro-v3.0.0.json").write_text(json.dumps(data))
    with (folder / "maestro-v3.0.0.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    rows[2][2] = "eval"  # (the csv's second performance)
    with (folder / "maestro-v3.0.0.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    result = check_maestro(folder)
    assert result.disagreeing == [f"{folder / MAESTRO_ROWS[0][4]}: split 'train' in the csv, none of train, validation, "
                                  "test in the json"], result.disagreeing
    assert [p["file"] for p in result.problems] == [str(folder / MAESTRO_ROWS[1][4])]


def test_a_file_a_maestro_table_lists_twice_is_said_and_prepared_once(tmp_path, caplog):
    """A table listing one file in two rows (a spreadsheet's pasted row) was read without a word, the last row's split
    kept. It is said, naming the file and both rows; the file is prepared once."""
    root = make_maestro(tmp_path / "maestro-v3.0.0")
    table = root / "maestro-v3.0.0.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines + [lines[1].replace(",train,", ",test,")]) + "\n")  # the first row again, in test
    with caplog.at_level("WARNING"):
        performances, problems = discover([root], 0.3, 0.3)
    said = [r.getMessage() for r in caplog.records if "more than one row" in r.getMessage()]
    assert problems == [] and len(said) == 1
    assert f"1 file(s) listed in more than one row, e.g. {MAESTRO_ROWS[0][4]} (line 2 and line 7)" in said[0]
    again = [p for p in performances if p.path.endswith(MAESTRO_ROWS[0][4])]
    assert len(performances) == len(MAESTRO_ROWS) and [p.split for p in again] == ["test"]
    caplog.clear()
    with caplog.at_level("WARNING"):
        discover([make_maestro(tmp_path / "plain" / "maestro-v3.0.0")], 0.3, 0.3)
    assert not [r for r in caplog.records if "more than one row" in r.getMessage()]


def test_a_file_both_maestro_tables_list_twice_is_said_once_and_counted_once(tmp_path, capsys, caplog):
    """Data check on a MAESTRO folder whose csv and json both list one file in two rows warned of it twice (reading the
    csv, then the json to compare), counted it twice per split, and said the json disagreed ('not in the json'). It is
    said once, counted once (as prepare reads it), and the tables agree."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    table = folder / "maestro-v3.0.0.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines + [lines[1]]) + "\n")  # (the first row again)
    data = json.loads((make_maestro(tmp_path / "json", table="json") / "maestro-v3.0.0.json").read_text())
    for column in data:
        data[column][str(len(MAESTRO_ROWS))] = data[column]["0"]
    (folder / "maestro-v3.0.0.json").write_text(json.dumps(data))
    with caplog.at_level("WARNING"):
        assert main(["data", "check", str(folder)]) == 0
    said = [r.getMessage() for r in caplog.records if "more than one row" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"{table}: 1 file(s) listed in more than one row"), said
    out = capsys.readouterr().out
    assert f"({len(MAESTRO_ROWS)} performance(s) of" in out and "disagrees" not in out, out
    performances, _ = discover([folder])
    assert check_maestro(folder).listed == dict(collections.Counter(p.split for p in performances))


def test_a_metadata_csv_of_ones_own_in_the_folder_given_is_read_as_a_folder_of_midi(tmp_path, capsys, caplog):
    """A metadata.csv of one's own (no ASAP column) directly in the folder given made prepare and data check read it as
    ASAP's table and refuse the folder for its columns. The folder is read as a folder of MIDI files, split as without
    the file, and one line says why the metadata.csv was not read as ASAP's; an ASAP table is still read as one."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import check_data

    mine = tmp_path / "mine"
    files = make_plain(mine)
    without, _ = discover([mine])
    (mine / "metadata.csv").write_text("date,microphone,title\n2020-05-01,ribbon,Ballade\n")
    said = (f"{mine / 'metadata.csv'}: not read as ASAP's metadata table (its header lacks ASAP's column(s) composer, "
            "folder, midi_performance); the folder is read as a folder of MIDI files, without a table")
    with caplog.at_level("WARNING"):
        performances, problems = discover([mine])
    assert problems == [] and performances == without and len(performances) == len(files)
    assert [r.getMessage() for r in caplog.records if "metadata.csv" in r.getMessage()] == [said]
    result = check_data(mine)
    assert (result.layout, result.ok, result.not_asap) == ("MIDI folder", True, said)
    assert result.listed == dict(collections.Counter(p.split for p in performances))
    assert main(["data", "check", str(mine)]) == 0
    assert capsys.readouterr().out.count("metadata.csv") == 1
    empty = tmp_path / "empty"  # (no MIDI file: the one line says the metadata.csv there is not ASAP's)
    empty.mkdir()
    (empty / "metadata.csv").write_text("date\n2020-05-01\n")
    assert check_data(empty).problems[0]["reason"].endswith(f"({empty / 'metadata.csv'} is not ASAP's: its header lacks "
                                                            "ASAP's column(s) composer, folder, midi_performance, title)")
    caplog.clear()
    asap = make_asap(tmp_path / "asap")
    with caplog.at_level("WARNING"):
        assert discover([asap])[1] == [] and check_data(asap).layout == "ASAP"
    assert "not read as ASAP's" not in caplog.text


def test_a_maestro_table_of_a_subset_is_said_to_differ_from_the_release_not_to_lack_files(tmp_path, capsys):
    """Data check put '(MAESTRO v3.0.0 has 962)' beside each split's count of a table of a few rows, which read as files
    missing from one's copy. One line says the table's counts are not the release's published ones, and why that is
    expected (a subset, another release's table: v3.0.0's saved again under another name, 'maestro-v3.0.0 (1).csv',
    is not); a table with the published counts is said nothing of."""
    from timestepmusic.cli import main
    from timestepmusic.datacheck import MAESTRO_V3_SPLITS, DataCheck

    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    assert main(["data", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if "published" in line]
    assert "MAESTRO v3.0.0 has" not in out and len(notes) == 1, out
    assert notes[0].startswith("  note: the table's counts per split are not MAESTRO v3.0.0's published ones (962 train, "
                               "137 validation, 177 test): expected of a subset of the release;"), notes
    (folder / "maestro-v3.0.0.csv").rename(folder / "maestro-v2.0.0.csv")
    assert main(["data", "check", str(folder)]) == 0
    assert "expected of maestro-v2.0.0.csv, another release's table;" in capsys.readouterr().out
    (folder / "maestro-v2.0.0.csv").rename(folder / "maestro-v3.0.0 (1).csv")  # (v3.0.0's, saved again by a browser)
    assert main(["data", "check", str(folder)]) == 0
    assert "expected of a subset of the release;" in capsys.readouterr().out
    published = DataCheck(str(folder), layout="MAESTRO", table=str(folder / "maestro-v3.0.0.csv"),
                          listed=dict(MAESTRO_V3_SPLITS))
    assert published.counts_not_v3() is None and "published" not in published.format()
    more = DataCheck(str(folder), layout="MAESTRO", table=str(folder / "maestro-v3.0.0.csv"),
                     listed=dict(MAESTRO_V3_SPLITS) | {"train": 967})
    assert "expected of another release's table, or an edited one" in more.counts_not_v3()


def _resaved(text: str, how: str) -> bytes:
    """ASAP's metadata.csv `text` as a spreadsheet or an editor may save it again."""
    header, rest = text.split("\n", 1)
    return {"semicolons": lambda: "\n".join(line.replace(",", ";") for line in text.split("\n")).encode(),
            "spaced header": lambda: (", ".join(header.split(",")) + "\n" + rest).encode(),
            "capitalised header": lambda: (header.title() + "\n" + rest).encode(),
            "cp1252": lambda: text.replace("Sonata", "Après_une_lecture").encode("cp1252"),
            "utf-16": lambda: text.encode("utf-16"),
            "utf-16 without its mark": lambda: text.encode("utf-16-le"),
            "bom, crlf, extra column": lambda: ("\ufeff" + "\r\n".join(f"{line},notes" for line in text.split("\n")[:-1])
                                                + "\r\n").encode()}[how]()


@pytest.mark.parametrize("how", ["semicolons", "spaced header", "capitalised header", "cp1252", "utf-16",
                                 "utf-16 without its mark", "bom, crlf, extra column"])
def test_asaps_table_saved_otherwise_is_never_read_as_a_folder_of_midi(tmp_path, caplog, how):
    """ASAP's metadata.csv saved again otherwise (by a spreadsheet in another locale, in another encoding, with its
    header edited) was taken for a metadata.csv of one's own and the folder read as one of MIDI files, with one warning:
    its performances lost their composers, and ASAP's cuts of MAESTRO's files would be trained on beside MAESTRO's own.
    It is read as ASAP's table, as before: refused (by prepare and data check alike) where it cannot be read as one,
    read where it can (a byte-order mark, Windows line ends, a column more). The refusal names the table and says what
    is wrong with it: the line that is not UTF-8 (the decoder's own position was counted from a chunk, without the
    file's name), or a header that names ASAP's columns written otherwise (it said only that they were missing)."""
    from timestepmusic.datacheck import check_data

    asap = make_asap(tmp_path / "asap")
    table = asap / "metadata.csv"
    table.write_bytes(_resaved(table.read_text(), how))
    with caplog.at_level("WARNING"):
        performances, problems = discover([asap])
    result = check_data(asap)
    assert "not read as ASAP's" not in caplog.text and result.not_asap is None
    assert result.layout == "ASAP"
    if how == "bom, crlf, extra column":
        assert problems == [] and {p.composer for p in performances} == {row[0] for row in ASAP_ROWS} and result.ok
    else:
        assert performances == [] and [p.path for p in problems] == [str(asap)] and not result.ok
        assert [p["file"] for p in result.problems] == [str(table)]
        said = {"cp1252": f"line {len(ASAP_ROWS) + 1} is not UTF-8 text (byte 0xe8): save it as UTF-8",
                "utf-16": "line 1 is not UTF-8 text (byte 0xff): save it as UTF-8"}.get(how, "its header names them, written "
                                                                                       "otherwise")
        assert f"{table}: " in problems[0].reason and said in problems[0].reason and said in result.problems[0]["reason"]


@pytest.mark.parametrize("last", ["in no split", "in a split"])
def test_a_maestro_file_listed_again_is_read_as_its_last_row_says_even_in_no_split(tmp_path, last):
    """A file a MAESTRO table listed in a split and again in no split was read in the first row's split, though the
    warning said 'as its last row says' and the problem said 'left out' (data check counted it and called it left out);
    listed first in no split and again in a split, it was read, and still said to be left out. Its last row decides,
    as the warning says: left out in the first case, with the one problem naming that row; read in the second, with
    none. Prepare and data check agree."""
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0")
    table = folder / "maestro-v3.0.0.csv"
    header, *rows = table.read_text().splitlines()
    unsplit = rows[0].replace(",train,", ",none,")
    assert unsplit != rows[0]
    table.write_text("\n".join([header, *rows, unsplit] if last == "in no split" else [header, unsplit, *rows]) + "\n")
    first_file = str(folder / MAESTRO_ROWS[0][4])
    performances, problems = discover([folder])
    result = check_maestro(folder)
    if last == "in no split":
        assert first_file not in {p.path for p in performances} and len(performances) == len(MAESTRO_ROWS) - 1
        assert [(p.path, p.reason) for p in problems] == [(first_file, f"its split in {table.name} (line "
                                                           f"{len(MAESTRO_ROWS) + 2}) is 'none', not one of train, "
                                                           "validation, test: left out")]
        assert [p["file"] for p in result.problems] == [first_file]
    else:
        assert first_file in {p.path for p in performances} and len(performances) == len(MAESTRO_ROWS)
        assert problems == [] and result.ok, result.problems
    assert result.listed == dict(collections.Counter(p.split for p in performances))


@pytest.mark.parametrize("table", ["json", "csv"])
def test_a_maestro_row_that_names_no_file_is_one_line_not_a_traceback(tmp_path, table):
    """A MAESTRO json whose row has null (or a number) for its midi_filename made prepare and data check end in a
    traceback (a folder joined to None); a csv's blank one was read as the folder itself. Both refuse the table in one
    line naming it and the row."""
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0", table=table)
    path = folder / f"maestro-v3.0.0.{table}"
    if table == "json":
        data = json.loads(path.read_text())
        data["midi_filename"]["1"] = None
        path.write_text(json.dumps(data))
        where, shown = "row 1", "null"
    else:
        header, first, second, *rest = path.read_text().splitlines()
        path.write_text("\n".join([header, first, second.replace(MAESTRO_ROWS[1][4], ""), *rest]) + "\n")
        where, shown = "line 3", '""'
    said = f"{path}: {where} names no MIDI file (its midi_filename is {shown})"
    performances, problems = discover([folder])
    assert performances == [] and [(p.path, p.reason) for p in problems] == [(str(folder), f"unusable source ({said})")]
    result = check_maestro(folder)
    reason = f"unreadable table ({said.removeprefix(f'{path}: ')})"
    assert [(p["file"], p["reason"]) for p in result.problems] == [(str(path), reason)]


@pytest.mark.parametrize("how", ["semicolons", "cp1252"])
def test_asaps_table_saved_otherwise_is_a_dataset_above_and_below_too(tmp_path, caplog, how):
    """ASAP's metadata.csv saved otherwise was no dataset's table to the folders around it: the folder above was read
    as one of MIDI files, each composer's folder a piece of the path, without a word; a composer's folder given alone
    was not said to lie inside a dataset; the table given as a file was taken for a performance. They are said as for
    ASAP's own table (the folder itself is refused, saying what is wrong with its table)."""
    from timestepmusic.datacheck import check_data

    asap = make_asap(tmp_path / "downloads" / "asap")
    table = asap / "metadata.csv"
    table.write_bytes(_resaved(table.read_text(), how))
    performances, problems = discover([asap.parent])
    assert performances == [] and [p.reason for p in problems] == [
        f"holds a dataset one level down, {asap}, with its table: give that folder, which prepare splits as the dataset does"]
    assert not check_data(asap.parent).ok
    with caplog.at_level("WARNING"):
        assert discover([asap / "Bach"])[0]
    assert f"{asap / 'Bach'} is inside a dataset, {asap} (its table metadata.csv)" in caplog.text
    assert [p.reason for p in discover([table])[1]] == [f"a dataset's table, not a performance: give the folder that holds "
                                                        f"it, {asap}"]


def test_a_metadata_csv_of_ones_own_naming_a_folder_column_is_still_ones_own(tmp_path):
    """A metadata.csv of one's own may name a folder, a composer and a title, as ASAP's does: only ASAP's own columns
    (midi_performance) make it ASAP's, and the folder is read as one of MIDI files, split as without the table; so
    too where its header is written in another encoding than UTF-8 (ASAP's names are ASCII: read alike)."""
    mine = tmp_path / "mine"
    make_plain(mine)
    without, _ = discover([mine])
    (mine / "metadata.csv").write_text("Composer,Title,Folder,Date\nSatie,Gymnopédie,takes,2020-05-01\n")
    assert discover([mine]) == (without, [])
    (mine / "metadata.csv").write_bytes("Stück;Größe\nGymnopédie;3\n".encode("latin-1"))  # (its names not in UTF-8)
    assert discover([mine]) == (without, [])


def test_a_maestro_json_whose_column_lacks_a_row_is_refused_naming_the_table_and_row(tmp_path):
    """A MAESTRO json (alone in its folder) whose split column lacked one row's entry made prepare say only
    "unusable source ('2')" (the KeyError's row key), naming neither the table nor what it lacked. It says the table,
    the row and the column, as a csv's row cut short is said; data check alike."""
    from timestepmusic.datacheck import check_maestro

    folder = make_maestro(tmp_path / "maestro-v3.0.0", table="json")
    path = folder / "maestro-v3.0.0.json"
    data = json.loads(path.read_text())
    del data["split"]["2"]
    path.write_text(json.dumps(data))
    said = f"{path}: row 2 is cut short: no split"
    assert [p.reason for p in discover([folder])[1]] == [f"unusable source ({said})"]
    assert [p["reason"] for p in check_maestro(folder).problems] == ["unreadable table (row 2 is cut short: no split)"]
