"""Bad input, written by the test: every file gets one line naming it and the reason, never a
traceback, and the batch finishes with the good files (issue 15)."""
from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.midi import read_events
from timestepmusic.prepare_corpus import prepare

from midi_factory import Note, midi_bytes, simple_piece, write_piece


def _note_offs_only() -> bytes:
    track = mido.MidiTrack([mido.Message("note_off", note=60 + i, velocity=0, time=120) for i in range(8)])
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def bad_midi() -> dict[str, tuple[bytes, str]]:
    """name → (bytes, a word the reason must hold)."""
    good = midi_bytes(*simple_piece(1))
    junk = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    return {
        "zero_byte": (b"", "empty"),
        "text": (b"just some text, not music\n" * 10, "not a MIDI file"),
        "truncated": (good[: len(good) // 2], "damaged"),
        "random_after_header": (good[:14] + b"MTrk" + struct.pack(">I", len(junk)) + junk, "damaged"),
        "drums_only": (midi_bytes([Note(38, 0, 240, 100, channel=9), Note(42, 240, 480, 90, channel=9)]),
                       "no piano notes (pitch 21–108) in the file; its notes: 2 on the drum channel (10)"),
        "out_of_range": (midi_bytes([Note(10, 0, 240), Note(120, 240, 480)]),
                         "no piano notes (pitch 21–108) in the file; its notes: 2 beyond the piano's keys"),
        "no_notes": (midi_bytes([]), "no piano notes"),
        "violin_only": (midi_bytes([Note(67, 0, 480), Note(69, 480, 960)], programs=[(0, 40)]),
                        "no piano plays in the file: its notes are all on other instruments' programs, 40 (strings)"),
        "note_offs_only": (_note_offs_only(), "no piano notes"),
        "huge_tick": (midi_bytes([Note(60, 0, 100), Note(62, 2**27, 2**27 + 100)]), "implausible timing"),
        "slow_tempo": (midi_bytes([Note(60, 0, 100), Note(62, 480 * 2000, 480 * 2001)], tempos=((0, 2**24 - 1),)),
                       "implausible timing"),
        "fast_tempo": (midi_bytes([Note(40 + i % 40, i * 10, i * 10 + 5) for i in range(20_001)], tempos=((0, 1),)),
                       "implausible timing"),
        "zero_division": (good[:12] + b"\x00\x00" + good[14:], "its header gives 0 ticks per quarter note"),  # (not inf h)
        "smpte": (good[:12] + struct.pack(">bB", -25, 40) + good[14:],  # valid MIDI, timed in frames: not damaged
                  "timed in SMPTE frames (25 per second), which is not read; save it with ticks per quarter note"),
    }


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad") / "midi"
    root.mkdir()
    for name, (data, _) in bad_midi().items():
        (root / f"{name}.mid").write_bytes(data)
    write_piece(root / "good.mid", seed=2)
    return root


@pytest.mark.parametrize("name", sorted(bad_midi()))
def test_each_bad_file_is_refused_with_its_name_and_reason(name, bad_folder):
    path = bad_folder / f"{name}.mid"
    with pytest.raises(ValueError) as caught:
        read_events(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert bad_midi()[name][1] in message, message


def test_prepare_skips_each_bad_file_once_and_finishes(bad_folder, tmp_path):
    out = tmp_path / "corpus"
    done = subprocess.run([sys.executable, "-m", "timestepmusic", "prepare", str(bad_folder), "--out", str(out), "-q",
                           "--workers", "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if "no performance in the" not in line]  # one piece
    for name, (_, reason) in bad_midi().items():
        mine = [line for line in lines if f"{name}.mid" in line]
        assert len(mine) == 1, (name, lines)
        assert reason in mine[0]
    assert len(lines) == len(bad_midi())
    corpus = Corpus.open(out)
    assert [Path(t["path"]).name for t in corpus.tracks] == ["good.mid"]
    assert corpus.num_tracks == 1 and sum(t["duration_s"] for t in corpus.tracks) < 60


def test_timing_limits_are_settings(bad_folder, tmp_path):
    config = Config().override({"events.max_seconds": 1e9, "events.max_events_per_second": 1e9})
    report = prepare([bad_folder / "huge_tick.mid", bad_folder / "good.mid"], tmp_path / "c", config, progress=False)
    assert report.corpus.num_tracks == 2 and not report.skipped


def test_damaged_cache_entry_is_rebuilt_and_the_file_kept(bad_folder, tmp_path, caplog):
    out = tmp_path / "corpus"
    prepare([bad_folder / "good.mid"], out, progress=False)
    entry = next((out / "cache").glob("*.npz"))
    entry.write_bytes(entry.read_bytes()[:100])
    (out / "corpus.json").write_text("{ broken")  # so the cache is read again
    report = prepare([bad_folder / "good.mid"], out, progress=False)
    assert report.corpus.num_tracks == 1 and not report.skipped
    warning = [r.getMessage() for r in caplog.records if "damaged cache" in r.getMessage()]
    assert len(warning) == 1 and str(bad_folder / "good.mid") in warning[0]
    again = prepare([bad_folder / "good.mid"], out, progress=False)  # and it stays good
    assert again.corpus.num_tracks == 1 and not again.skipped


@pytest.mark.parametrize("damage", ["truncate", "delete", "resize"])
def test_damaged_corpus_is_repaired_by_prepare(damage, bad_folder, tmp_path):
    out = tmp_path / "corpus"
    sources = [bad_folder / "good.mid"]
    before = np.array(prepare(sources, out, progress=False).corpus.start_s)
    data = next(out.glob("data-*"))
    target = data / "start_s.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:90])
    elif damage == "delete":
        target.unlink()
    else:
        np.save(target, np.zeros(3))
    with pytest.raises(ValueError, match="prepare"):
        Corpus.open(out)
    again = prepare(sources, out, progress=False)
    assert not again.reused
    assert np.array_equal(np.asarray(again.corpus.start_s), before)


def test_pickled_latents_cache_is_rebuilt_naming_the_file(tmp_path, caplog):
    from timestepmusic.latents import read_cached_latents

    path = tmp_path / "latents-x.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert read_cached_latents(path, rows=4, latent=2) is None
    assert str(path) in caplog.text
    np.save(path, np.zeros((4, 2), np.float32))
    assert read_cached_latents(path, rows=4, latent=2).shape == (4, 2)
    assert read_cached_latents(path, rows=5, latent=2) is None


def test_a_reader_that_leaves_early_ends_the_command_quietly():
    """`tsm … | head`: once the reader has gone, no traceback and no error line; exit 0."""
    import subprocess
    import sys

    code = ("import sys\nfrom timestepmusic import cli\nparse = cli._parse\n"
            "def long_output(parser, argv):\n    args = parse(parser, argv)\n"
            "    args.func = lambda a: [print('x' * 50) for _ in range(200000)] and 0\n    return args\n"
            "cli._parse = long_output\nsys.exit(cli.main(['generate', '--list']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait() == 0 and b"Traceback" not in err and b"error" not in err, err


@pytest.mark.parametrize("command", ["generate", "plot"])
def test_a_reader_that_leaves_early_still_gets_every_file(tmp_path, command):
    """`tsm generate -o out/ | head -1`, `tsm plot a.mid b.mid -o rolls/ | head -1`: the lines are for the reader, the
    files for the user; once the reader has gone the lines are dropped and every file asked is still written (before,
    the first line that met the closed pipe ended the run: 1 piece of 3, one roll of 2, exit 0 all the same)."""
    out = tmp_path / "out"
    if command == "generate":
        argv, wanted = ["generate", "-n", "3", "--seconds", "1", "-o", str(out)], [f"sample_0_00{i}.mid" for i in range(3)]
    else:
        played = [write_piece(tmp_path / f"{name}.mid", seed) for seed, name in enumerate("ab")]
        argv, wanted = ["plot", *map(str, played), "-o", f"{out}/"], ["a.png", "b.png"]
    proc = subprocess.Popen([sys.executable, "-m", "timestepmusic", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader gone before the first line
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait() == 0 and b"stopped" not in err and b"Traceback" not in err, err
    assert sorted(path.name for path in out.iterdir()) == wanted


def test_a_bare_tsm_prints_what_it_can_do(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tsm") and "generate" in out and "train-gan" in out


def test_a_usage_error_is_one_line_naming_the_command_and_its_help(capsys):
    """argparse's errors are one line of the shape of tsm's own, 'error: WHAT: WHY' (not 'tsm generate: error: argument
    --seconds: …' under a usage block), then where the command's flags are read; exit status 2, as argparse's."""
    for argv, said in ((["generate", "--seconds", "abc"], "error: --seconds: 'abc' is not a time"),
                       (["generate", "-n", "0"], "error: -n: '0': give a whole number"),
                       (["generate", "--seconds"], "error: --seconds: expected one argument"),
                       (["generate", "--no-such-flag"], "error: unrecognized arguments: --no-such-flag"),
                       (["train-gan"], "error: the following arguments are required: CORPUS"),
                       (["data", "check"], "error: the following arguments are required"),
                       (["no-such-command"], "error: COMMAND: invalid choice: 'no-such-command'")):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith(said), err
        command = "tsm" if argv[0] == "no-such-command" else " ".join(["tsm", *argv[:2 if argv[0] == "data" else 1]])
        assert err.rstrip().endswith(f"(see {command} --help)") and not err.startswith("error: argument "), err


def test_a_misspelt_command_choice_or_flag_is_said_with_the_closest(capsys):
    """A new user's trial: `tsm genrate` listed every command and `--secnds 20` was 'unrecognized' without a word of
    what was meant; now the closest (difflib) is named, on the one line, exit status 2 as before."""
    for argv, said in ((["genrate"], "error: COMMAND: invalid choice: 'genrate' (choose from 'prepare', "),
                       (["genrate"], "; did you mean generate? (see tsm --help)\n"),
                       (["data", "chek", "x"], "; did you mean check? (see tsm data --help)\n"),
                       (["evaluate-ae", "r", "--corpus", "c", "--split", "tset"], "; did you mean test? (see"),
                       (["generate", "--secnds", "20"],
                        "error: unrecognized arguments: --secnds 20; did you mean --seconds? (see tsm generate --help)\n"),
                       (["generate", "--secnds=20", "--modl", "x"],
                        "--secnds=20 --modl x; did you mean --seconds for --secnds, --model for --modl? (see"),
                       (["stats", "c", "--overwirte"], "error: unrecognized arguments: --overwirte (see"),  # none close
                       (["nothing-like-it"], "'plot') (see tsm --help)\n")):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1 and said in err, err


def test_a_word_for_a_command_is_said_with_the_command_it_means(capsys):
    """A new user's trial: `tsm report` was answered 'did you mean prepare?' (the closest by spelling); a word that
    means another command names that one (usage_errors.MEANT_COMMANDS), both where two are meant; a word that means none keeps
    the spelling's suggestion, and another flag's choices are not read as commands."""
    for argv, said in ((["report"], "; did you mean evaluate? (see tsm --help)\n"),
                       (["Report"], "; did you mean evaluate? (see tsm --help)\n"),
                       (["compare"], "; did you mean evaluate? (see tsm --help)\n"),
                       (["gen"], "; did you mean generate? (see tsm --help)\n"),
                       (["train"], "; did you mean train-ae or train-gan? (see tsm --help)\n"),
                       (["genrate"], "; did you mean generate? (see tsm --help)\n"),
                       (["evaluate-ae", "r", "--corpus", "c", "--split", "report"], "'test') (see tsm evaluate-ae --help)\n")):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1 and err.endswith(said), err


def test_a_negative_time_is_said_as_its_flags_bound_not_as_a_missing_value(tmp_path, capsys):
    """A new user's trial: `tsm generate --seconds -1:30` said '--seconds: expected one argument' (argparse takes a word
    that starts with '-' and is no plain number for a flag), and `--seconds=-1:30` that it was no time: each flag that
    reads a time names itself and the value as typed (it said 'got -90' for `-1:30`), and why, and nothing is
    written; a time counted from a file's start says that a '-' does not count back from its end."""
    out = tmp_path / "out"
    prompt = write_piece(tmp_path / "take.mid", 8)
    for argv, said in ((["generate", "--seconds", "-1:30"], "error: --seconds -1:30: a piece's length must be > 0\n"),
                       (["generate", "--seconds=-1:30"], "error: --seconds -1:30: a piece's length must be > 0\n"),
                       (["generate", "--seconds", "-90"], "error: --seconds -90: a piece's length must be > 0\n"),
                       (["generate", "--seconds", "0:00"], "error: --seconds 0:00: a piece's length must be > 0\n"),
                       (["generate", "--max-seconds", "-0:30"],
                        "error: --max-seconds -0:30: the longest a piece may last must be > 0\n"),
                       (["generate", "--prompt", str(prompt), "--prompt-seconds", "-0:02"],
                        "error: --prompt-seconds -0:02: where the prompt is cut, from its start, must be > 0 (a '-' does "
                        "not count back from the end)\n"),
                       (["generate", "--like", str(prompt), "--like-seconds", "-1:30"],
                        "error: --like-seconds -1:30: where to start in the --like file, from its start, must be ≥ 0 (a "
                        "'-' does not count back from the end)\n")):
        assert main([*argv, "-n", "1", "-o", str(out)]) == 2
        assert capsys.readouterr().err == said
    assert not out.exists()
    with pytest.raises(SystemExit):  # (a word after a time's flag that is not a time is still no value for it)
        main(["generate", "--seconds", "-q", "-o", str(out)])
    assert capsys.readouterr().err.startswith("error: --seconds: expected one argument")


def test_a_negative_waypoint_time_is_said_as_typed(tmp_path, capsys):
    """A waypoint's time after '@' counted back from the end as `--key "C > G@-0:10"` might mean it: it was said as
    where it would come, in seconds ('the waypoints would come at 0, -10 s'); now the waypoint as typed, and why."""
    for flag, path, part in (("--key", "C > G@-0:10", "'G@-0:10'"), ("--tempo", "80 > 100@-1:30", "'100@-1:30'"),
                             ("--style", "loudness=40 > loudness=80@-5", "'loudness=80@-5'")):
        assert main(["generate", flag, path, "-n", "1", "-o", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {flag} '{path}': {part}: a waypoint's time counts from the piece's start, so it "
                              "must be > 0 (a '-' does not count back from the end") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


FROM_START = "where to start drawing, from the file's start, must be ≥ 0 (a '-' does not count back from the end)"


def test_a_negative_time_to_evaluate_or_plot_is_said_as_typed(tmp_path, capsys):
    """evaluate --seconds and plot --from, --seconds read a clock time too: a negative one is said as typed, as
    generate's is ('-1:00', where they said 'got -60'), with why, and nothing is written; a time typed with spaces
    around it (read without them) is said without them ('--from  -0:10 :')."""
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events

    played = write_events(Events([39, 43], [0.0, 0.5], [0.4, 0.4], [70, 70]), tmp_path / "played.mid")
    out = tmp_path / "out"
    for argv, said in ((["evaluate", str(tmp_path), "--real", str(tmp_path), "--seconds", "-1:00", "-o", str(out)],
                        "error: --seconds -1:00: an excerpt's length must be > 0\n"),
                       (["plot", str(played), "--from", "-0:10", "-o", str(out / "roll.png")],
                        f"error: --from -0:10: {FROM_START}\n"),
                       (["plot", str(played), "--seconds", "-0:10", "-o", str(out / "roll.png")],
                        "error: --seconds -0:10: how long to draw must be > 0\n"),
                       (["plot", str(played), "--from", " -0:10 ", "-o", str(out / "roll.png")],  # (as "$FROM" in a
                        f"error: --from -0:10: {FROM_START}\n")):  # script may give it: read, and said, without spaces)
        assert main(argv) == 2
        assert capsys.readouterr().err == said
    assert not out.exists()


def test_a_negative_time_after_an_abbreviated_flag_is_said_as_after_the_whole_flag(tmp_path, capsys):
    """argparse takes a unique prefix for a flag where the subcommand allows it (plot, evaluate): `plot --fro -0:10` said
    '--from: expected one argument' where `--from -0:10` says the bound. A prefix of a time's flag and another is left to
    argparse ('ambiguous option'), and so is generate's, which takes each flag spelt out (allow_abbrev off)."""
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events

    played = write_events(Events([39, 43], [0.0, 0.5], [0.4, 0.4], [70, 70]), tmp_path / "played.mid")
    out = tmp_path / "out"
    for argv, said in ((["plot", str(played), "--fro", "-0:10", "-o", str(out / "roll.png")],
                        f"error: --from -0:10: {FROM_START}\n"),
                       (["plot", str(played), "--sec", "-0:10", "-o", str(out / "roll.png")],
                        "error: --seconds -0:10: how long to draw must be > 0\n"),
                       (["evaluate", str(tmp_path), "--real", str(tmp_path), "--sec", "-1:00", "-o", str(out)],
                        "error: --seconds -1:00: an excerpt's length must be > 0\n")):
        assert main(argv) == 2
        assert capsys.readouterr().err == said
    for argv, said in ((["plot", str(played), "--s", "-0:10"], "error: ambiguous option: --s could match"),
                       (["generate", "--sec", "-5"], "error: unrecognized arguments: --sec -5")):
        with pytest.raises(SystemExit):
            main([*argv, "-o", str(out)])
        assert capsys.readouterr().err.startswith(said)
    assert not out.exists()


def test_a_file_named_with_a_dash_is_read_as_its_flags_value(tmp_path, capsys, monkeypatch):
    """`tsm generate --prompt -take.mid` said '--prompt: expected one argument' (argparse takes a word that starts with
    '-' for a flag): a file there, or a MIDI file's name, after a flag that reads a file is its value, as
    `--prompt=-take.mid` is, and the flag's own check names it; a word that is another flag is still none."""
    monkeypatch.chdir(tmp_path)
    Path("-take.mid").write_bytes(b"not midi at all")
    Path("-settings.toml").write_text("not = toml = at all")
    Path("-metrics.jsonl").write_text("")
    for argv, said in ((["generate", "--prompt", "-take.mid"], "error: --prompt -take.mid: not a MIDI file (no MThd"),
                       (["generate", "--like", "-take.mid"], "error: --like -take.mid: not a MIDI file (no MThd header)"),
                       (["generate", "--prompt", "-gone.mid"], "error: --prompt -gone.mid: no such file"),
                       (["generate", "--wav", "--soundfont", "-take.mid"], "error: --soundfont -take.mid: not a SoundFont"),
                       (["train-ae", "corpus", "--config", "-settings.toml"], "error: -settings.toml: not valid TOML"),
                       (["evaluate", ".", "--real", ".", "--run", "-metrics.jsonl"],  # (read: the next check speaks)
                        "error: .: not a prepared corpus")):
        assert main([*argv, "-o", "out"]) == 2
        assert capsys.readouterr().err.startswith(said)
    for argv in (["generate", "--prompt", "-q"], ["generate", "--prompt", "-gone"]):  # a flag; no file, no MIDI name
        with pytest.raises(SystemExit):
            main([*argv, "-o", "out"])
        assert capsys.readouterr().err.startswith("error: --prompt: expected one argument")
    assert not Path("out").exists()


def test_an_empty_file_name_is_refused_not_read_as_the_flag_left_out(tmp_path, capsys):
    """`tsm generate --prompt "$TAKE"` with TAKE unset drew 8 new pieces with no prompt and no word of it (an empty
    --prompt, --like or --config read as not given): each is one line naming the flag, and nothing is written."""
    out = tmp_path / "out"
    for argv in (["generate", "--prompt", ""], ["generate", "--like", ""], ["generate", "--wav", "--soundfont", ""],
                 ["train-ae", str(tmp_path), "--config", ""]):
        with pytest.raises(SystemExit):
            main([*argv, "-o", str(out)])
        flag = argv[-2]
        assert capsys.readouterr().err.startswith(f"error: {flag}: '': give a file's name")
    assert not out.exists()


def test_every_bad_input_is_one_line_of_one_shape(tmp_path, capsys):
    """A value of the wrong kind and a flag unknown (argparse's), a file missing and a file that is not MIDI (tsm's
    own): each one line starting 'error: ', exit status 2, no usage block, no traceback."""
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    missing = tmp_path / "missing.mid"
    usage = (["generate", "--seconds", "abc"], ["generate", "--no-such-flag"], ["plot", str(bad), "--pedal-bins", "x"])
    own = ((["generate", "--prompt", str(missing), "-o", str(tmp_path / "o")], f"error: --prompt {missing}: no such file"),
           (["plot", str(missing), "-o", str(tmp_path / "r.png")], f"error: {missing}: cannot read: no such file"),
           (["generate", "--prompt", str(bad), "-o", str(tmp_path / "o")],
            f"error: --prompt {bad}: not a MIDI file (no MThd header)"),
           (["reconstruct", str(bad), "-o", str(tmp_path / "x.mid")], f"error: {bad}: not a MIDI file (no MThd header)"))
    for argv in usage:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert "usage" not in err and "Traceback" not in err, err
    for argv, said in own:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"{said}\n", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mid"]


def test_words_a_pianist_gives_generate_without_their_flag_or_quotes_are_said_how_to_give(capsys):
    """`tsm generate mine.mid` (no --prompt) or `--key E minor` unquoted: 'unrecognized arguments' said what to type."""
    for argv, said in ((["mine.mid"], "to continue mine.mid, give --prompt mine.mid (to walk its shape: --like mine.mid)"),
                       (["--key", "E", "minor", "-n", "2"], "a key of several words goes in quotes: --key 'E minor'"),
                       (["--key", "si", "bémol", "majeur", "--sedd", "1"],
                        "in quotes: --key 'si bémol majeur' (see"),
                       (["mine.mid", "--key", "E", "minor"], "in quotes: --key 'E minor' (see"),  # (not 'E mine.mid minor')
                       (["--key=E", "minor"], "in quotes: --key 'E minor' (see"),
                       (["--sedd", "1"], "unrecognized arguments: --sedd 1; did you mean --seed? (see")):
        with pytest.raises(SystemExit):
            main(["generate", *argv])
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err, err


def test_an_unknown_model_name_lists_the_generators_apart_from_the_autoencoders(capsys):
    assert main(["generate", "--model", "no_such_model", "-o", "unused"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "generators: default" in err and "autoencoders, for --ae: ae-latent" in err


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_a_failed_prepare_leaves_no_folder_behind(bad_folder, tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "nope"), "--out", str(tmp_path / "c1"), "-q"]) == 2
    assert "no such file" in one_line_error(capsys) and not (tmp_path / "c1").exists()
    assert main(["prepare", str(bad_folder / "text.mid"), "--out", str(tmp_path / "c2"), "-q"]) == 2
    assert "not a MIDI file" in one_line_error(capsys) and not (tmp_path / "c2").exists()


def test_prepare_says_when_a_split_is_empty(bad_folder, tmp_path, caplog):
    assert main(["prepare", str(bad_folder / "good.mid"), "--out", str(tmp_path / "c"), "-q"]) == 0
    warning = [r.getMessage() for r in caplog.records if "no performance in the" in r.getMessage()]
    assert len(warning) == 2 and "validation split" in warning[0] and "validates on its training chunks" in warning[0]
    assert "test split" in warning[1] and "--split" in warning[1]
    caplog.clear()
    assert main(["prepare", str(bad_folder / "good.mid"), "--out", str(tmp_path / "c2"), "-q", "--set",
                 "corpus.test_fraction=0"]) == 0  # no test split asked for: only the validation split's is said
    assert len([r for r in caplog.records if "no performance in the" in r.getMessage()]) == 1


def test_a_corpus_with_no_training_split_is_said_at_prepare_and_train_gan_makes_no_run_folder(bad_folder, tmp_path,
                                                                                             caplog, capsys):
    """A lone file hashed into the test split: prepare said only that validation was empty (validating 'on its
    training chunks', which it has none of), and train-gan made the run's folder, then stopped with 'no chunks in
    the tracks to sample sequences from', leaving a run that 'stopped before its first checkpoint'."""
    corpus = tmp_path / "c"
    assert main(["prepare", str(bad_folder / "good.mid"), "--out", str(corpus), "-q", "--set",
                 "corpus.validation_fraction=0", "--set", "corpus.test_fraction=0.95"]) == 0
    assert Corpus.open(corpus).tracks[0]["split"] == "test"
    warning = [r.getMessage() for r in caplog.records if "no performance in the" in r.getMessage()]
    assert len(warning) == 1 and "training split" in warning[0] and "nothing can be trained on it" in warning[0]
    capsys.readouterr()
    run = tmp_path / "run"
    assert main(["train-gan", str(corpus), "--ae", "ae-latent75", "--arch", "ar", "--out", str(run), "-q"]) == 2
    assert one_line_error(capsys) == f"error: {corpus}: no chunks in the training split"
    assert not run.exists()


def test_files_given_one_by_one_from_one_folder_are_told_to_give_the_folder(tmp_path, caplog):
    """`tsm prepare mine/*.mid --out corpus/`, a shell's way of giving a folder, made the files one piece, named by
    their folder, so all of them fell into one split (the test split, for a new user's folder of 23), and the warning
    advised putting 'each piece's takes in a subfolder of their own', which they were not. It names the folder to
    give instead; a folder given itself splits its files each by its name, as before."""
    folder = tmp_path / "mine"
    files = [str(write_piece(folder / f"take{k}.mid", seed=k)) for k in range(6)]
    assert main(["prepare", *files, "--out", str(tmp_path / "c"), "-q"]) == 0
    warnings = [r.getMessage() for r in caplog.records if "no performance in the" in r.getMessage()]
    assert len({t["split"] for t in Corpus.open(tmp_path / "c").tracks}) == 1 and warnings
    assert all("all 6 are one piece, mine" in w and f"give the folder {folder} itself" in w
               and "put each piece's takes" not in w for w in warnings)
    caplog.clear()
    assert main(["prepare", str(folder), "--out", str(tmp_path / "c2"), "-q"]) == 0
    assert len({t["piece"] for t in Corpus.open(tmp_path / "c2").tracks}) == 6
    assert "give the folder" not in caplog.text


def test_flags_are_named_as_given_and_checked_before_anything_is_written(bad_folder, tmp_path, capsys):
    midi = bad_folder / "good.mid"
    for output in (f"{tmp_path / 'newdir'}/", str(tmp_path / "out.txt")):
        assert main(["reconstruct", str(midi), "-o", output]) == 2
        assert "give the name of the MIDI file" in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []
    assert main(["reconstruct", str(midi), "--ae", "no_such_ae", "-o", str(tmp_path / "a.mid")]) == 2
    assert one_line_error(capsys).startswith("error: --ae no_such_ae: no such folder")
    corpus = prepare([bad_folder / "good.mid"], tmp_path / "corpus", progress=False).corpus.root
    assert main(["train-gan", str(corpus), "--ae", "no_such_ae", "--out", str(tmp_path / "gan"), "-q"]) == 2
    assert one_line_error(capsys).startswith("error: --ae no_such_ae: no such folder")
    assert main(["train-gan", str(corpus), "--init-from", "default", "--set", "ar.temprature=1", "--out",
                 str(tmp_path / "gan")]) == 2
    assert "did you mean ar.temperature" in one_line_error(capsys)


def test_a_flag_and_a_set_of_its_setting_are_refused_together(bad_folder, tmp_path, capsys):
    # `--steps 30 --set gan.steps=12` trained 12 steps, `--latent 8 --set ae.latent=9` a latent of 9: the flag ignored
    corpus = prepare([bad_folder / "good.mid"], tmp_path / "corpus", progress=False).corpus.root
    for command, said in [
        (["train-gan", str(corpus), "--ae", "ae-latent75", "--steps", "30", "--set", "gan.steps=12"],
         "error: --steps and --set gan.steps=12 both given: give one"),
        (["train-gan", str(corpus), "--ae", "ae-latent75", "--arch", "ar", "--batch", "4", "--set", "ar.batch=5"],
         "error: --batch and --set ar.batch=5 both given: give one"),
        (["train-gan", str(corpus), "--ae", "ae-latent75", "--arch", "rnn", "--max-chunks", "64", "--set",
          "rnn.max_chunks=128"], "error: --max-chunks and --set rnn.max_chunks=128 both given: give one"),
        (["train-ae", str(corpus), "--latent", "8", "--set", "ae.latent=9"],
         "error: --latent and --set ae.latent=9 both given: give one"),
        (["train-ae", str(corpus), "--checkpoint-minutes", "1", "--set", "ae.checkpoint_every_s=5"],
         "error: --checkpoint-minutes and --set ae.checkpoint_every_s=5 both given: give one"),
        (["prepare", str(bad_folder / "good.mid"), "--out", str(tmp_path / "again"), "--pedal-bins", "2", "--set",
          "events.pedal_bins=4"], "error: --pedal-bins and --set events.pedal_bins=4 both given: give one")]:
        assert main([*command, "--out", str(tmp_path / "run")] if command[0] != "prepare" else command) == 2
        assert one_line_error(capsys) == said
    assert not (tmp_path / "run").exists() and not (tmp_path / "again").exists()
    # the same value twice (a script's settings beside its flags) goes on, on to what comes next
    assert main(["train-gan", str(corpus), "--ae", "ae-latent75", "--steps", "30", "--set", "gan.steps=30", "--set",
                 "gan.lr=0", "--out", str(tmp_path / "run")]) == 2
    assert one_line_error(capsys) == "error: --set gan.lr=0: must be > 0, got 0.0"


def test_reconstruct_and_evaluate_ae_take_the_device_names_their_help_gives(bad_folder, tmp_path, capsys, monkeypatch):
    """`--device auto` (which their --help offers) reached torch as a device name, and `--device cuda` on a machine
    without CUDA reached torch's own assertion: each a traceback; now auto runs and cuda is one line, as in training."""
    midi = bad_folder / "good.mid"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert main(["reconstruct", str(midi), "--ae", "ae-latent75", "--device", "auto", "-o", str(tmp_path / "a.mid")]) == 0
    capsys.readouterr()
    assert main(["reconstruct", str(midi), "--ae", "ae-latent75", "--device", "cuda", "-o", str(tmp_path / "b.mid")]) == 2
    assert one_line_error(capsys) == "error: --device cuda: CUDA is not available on this machine"
    corpus = prepare([midi], tmp_path / "corpus", progress=False).corpus.root
    assert main(["evaluate-ae", "ae-latent75", "--corpus", str(corpus), "--split", "train", "--device", "tpu"]) == 2
    assert "--device 'tpu': not a device name" in one_line_error(capsys)


def test_evaluate_refuses_fewer_than_one_real_excerpt_in_one_line(bad_folder, tmp_path, capsys):
    corpus = prepare([bad_folder / "good.mid"], tmp_path / "corpus", progress=False).corpus.root
    for n in ("0", "-1"):
        assert main(["evaluate", str(bad_folder), "--real", str(corpus), "-o", str(tmp_path / "r"),
                     "--max-real-excerpts", n]) == 2
        assert "--max-real-excerpts must be ≥ 1" in one_line_error(capsys)
    assert main(["evaluate", str(bad_folder), "--real", str(corpus), "-o", str(tmp_path / "r"), "--split", "test"]) == 2
    assert one_line_error(capsys) == (f"error: {corpus}: no tracks in the test split (it has train: choose one with "
                                      "--split train)")  # (the flag named; not "corpus corpus:" for a folder so named)
    assert not (tmp_path / "r").exists()


def test_training_time_boxes_and_resumed_folders_are_checked_in_one_line(bad_folder, tmp_path, capsys):
    corpus = prepare([bad_folder / "good.mid"], tmp_path / "corpus", progress=False).corpus.root
    for verb in ("train-ae", "train-gan"):
        for minutes in ("0", "-1", "soon"):
            with pytest.raises(SystemExit) as stop:  # argparse: usage and one error line
                main([verb, str(corpus), "--out", str(tmp_path / "run"), "--max-minutes", minutes])
            assert stop.value.code == 2 and "--max-minutes" in capsys.readouterr().err
        assert main([verb, str(corpus), "--resume", str(tmp_path / "nosuch")]) == 2
        assert "nosuch: no such folder" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


@pytest.mark.parametrize("verb, flag, value", [("train-ae", "--epochs", "0"), ("train-ae", "--latent", "0"),
                                               ("train-ae", "--batch", "-2"), ("train-ae", "--lr", "0"),
                                               ("train-ae", "--lr", "nan"), ("train-gan", "--steps", "0"),
                                               ("train-gan", "--batch", "0"), ("train-gan", "--checkpoint-steps", "-1")])
def test_a_training_flag_out_of_range_is_named_as_the_flag(verb, flag, value, bad_folder, tmp_path, capsys):
    """`--steps 0` was refused as 'config gan.steps: must be ≥ 1', a setting the user never wrote, and only after
    the corpus was opened; now it is the flag's own usage line, for a new run and a resumed one alike."""
    for where in ("--out", "--resume"):
        with pytest.raises(SystemExit) as stop:
            main([verb, str(tmp_path / "corpus"), where, str(tmp_path / "run"), flag, value])
        err = capsys.readouterr().err.strip()
        assert stop.value.code == 2 and err.startswith(f"error: {flag}: '{value}': give a") and "config" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_prepare_writes_no_corpus_among_a_users_files_and_says_when_it_replaces_one(bad_folder, tmp_path, capsys,
                                                                                     caplog):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["prepare", str(bad_folder / "good.mid"), "--out", str(mine), "-q"]) == 2
    assert "holds notes.txt and no corpus" in one_line_error(capsys) and sorted(mine.iterdir()) == [mine / "notes.txt"]
    out = tmp_path / "corpus"
    assert main(["prepare", str(bad_folder / "good.mid"), "--out", str(out), "-q"]) == 0
    assert not [r for r in caplog.records if "other settings" in r.getMessage()]
    assert main(["prepare", str(bad_folder / "good.mid"), "--out", str(out), "-q", "--chunk-seconds", "0.5"]) == 0
    said = [r.getMessage() for r in caplog.records if "other settings" in r.getMessage()]
    assert len(said) == 1 and "chunks.chunk_seconds 0.25 → 0.5" in said[0] and "will not resume" in said[0]
    manifest = json.loads((out / "corpus.json").read_text())  # a corpus saved with a setting since retired …
    manifest["config"]["chunks"]["retired_setting"] = 1
    (out / "corpus.json").write_text(json.dumps(manifest))
    assert main(["prepare", str(bad_folder / "good.mid"), "--out", str(out), "-q"]) == 0  # … is prepared over


@pytest.mark.parametrize("command", [["generate", "-n", "1"], ["evaluate", "x", "--real", "y"],
                                     ["train-ae", "corpus"], ["train-gan", "corpus"]])
@pytest.mark.parametrize("seed", ["99999999999999999999", "-1", "1.5"])
def test_a_seed_out_of_range_is_named_in_one_line(command, seed, capsys):
    from timestepmusic.argtypes import SEED_LIMIT

    with pytest.raises(SystemExit):
        main([*command, "--seed", seed])
    err = capsys.readouterr().err
    assert f"error: --seed: '{seed}': give a whole number from 0 to {SEED_LIMIT}" in err and "Traceback" not in err


def test_the_largest_seed_trains_and_generates():
    from timestepmusic.argtypes import SEED_LIMIT
    from timestepmusic.batches import batch_generator, epoch_order

    assert epoch_order(10, SEED_LIMIT, 3).sort().values.tolist() == list(range(10))
    assert batch_generator(SEED_LIMIT, 99, 10_000).initial_seed() >= 0
    assert batch_generator(5, 1, 2).initial_seed() == (5 * 1_000_003 + 1) * 1_000_003 + 2  # (small seeds as before)


@pytest.mark.parametrize("n", ["100000000", "1000001", "0", "-3", "many"])
def test_a_number_of_pieces_out_of_range_is_refused_before_anything_is_made(n, tmp_path, capsys):
    from timestepmusic.argtypes import PIECES_LIMIT
    from timestepmusic.generate_api import generate

    with pytest.raises(SystemExit):  # (not a list of every piece's name first: out of memory for -n 100000000)
        main(["generate", "-n", n, "-o", str(tmp_path / "x") + "/"])
    err = capsys.readouterr().err
    assert f"error: -n: '{n}': give a whole number of pieces from 1 to {PIECES_LIMIT:,}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no folder, no lock left in one
    with pytest.raises(ValueError, match=f"^n must be from 1 to {PIECES_LIMIT:,}, got 100,000,000"):
        generate(tmp_path / "x", n=100_000_000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["--prompt", "--like"])
def test_a_performance_given_is_named_after_its_flag_alike_whatever_is_wrong_with_it(flag, bad_folder, tmp_path, capsys):
    """'--prompt FILE: why', whether the file is not there or is no usable MIDI (one said '--prompt: FILE: why')."""
    for name, why in (("missing.mid", "no such file"), ("zero_byte.mid", "empty file"), ("text.mid", "not a MIDI file"),
                      ("violin_only.mid", "no piano plays in the file")):  # (a violin's part: not continued as piano)
        given = bad_folder / name
        assert main(["generate", flag, str(given), "-n", "1", "-o", str(tmp_path / "out")]) == 2
        assert one_line_error(capsys).startswith(f"error: {flag} {given}: {why}")
    assert not (tmp_path / "out").exists()


def _track_bytes(events: bytes) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(events)) + events


def test_notes_struck_and_never_released_are_said_not_dropped_silently(tmp_path, caplog):
    """A recording stopped with a chord held ends with note-ons and no note-offs: the parser drops that chord, so a
    prompt or a roll lost it without a word; now a warning names the file and how many, and a file of such notes
    alone is refused saying so (not 'no piano notes' and nothing more)."""
    from timestepmusic.midi_bytes import unreleased_notes

    played = bytes([0, 0xC0, 0]) + b"".join(bytes([0, 0x90, 60 + i, 80, 0x83, 0x60, 0x80, 60 + i, 0])
                                            for i in range(4))  # a program change (one data byte), 4 notes of 480 ticks
    held = bytes([0, 0x90, 48, 70, 0, 52, 70, 0, 55, 70])  # a chord struck (running status) and never released
    end = bytes([0x83, 0x60, 0xFF, 0x2F, 0])
    cut = tmp_path / "cut off.mid"
    cut.write_bytes(_track_bytes(played + held + end))
    assert unreleased_notes(cut.read_bytes()) == 3
    with caplog.at_level("WARNING"):
        events, _ = read_events(cut)
    assert events.is_note.sum() == 4  # (the parser's: the chord is not there to play)
    assert f"{cut}: notes left out: 3 struck and never released (no note-off" in caplog.text
    released = bytes([0, 0x90, 48, 0, 0, 52, 0, 0, 0x80, 55, 0])  # … the same chord released: velocity 0 and note-off
    assert unreleased_notes(_track_bytes(played + held + released + end)) == 0
    only_held = tmp_path / "held.mid"
    only_held.write_bytes(_track_bytes(held + end))
    with pytest.raises(ValueError, match="no piano notes .*; its notes: 3 struck and never released"):
        read_events(only_held)
    assert unreleased_notes(midi_bytes(*simple_piece(1))) == 0 and unreleased_notes(b"MThd") == 0


def test_a_prompt_stopped_with_a_chord_held_keeps_the_chord_to_its_end(tmp_path, caplog):
    """A pianist's take whose recorder stopped with the last chord held (note-ons, no note-offs, the track ending 1 s
    later) was continued without that chord, and the file written began without it: the parser drops such notes. A
    prompt keeps them, held to where the track ends, and says so; read_events (prepare, --like) leaves them out as
    before, and a held note on the drum channel is left out and said so, not said as held. One struck more than HELD_KEY_S (10 s)
    before the end is left out as before: a note-off lost mid-file, not held on for minutes."""
    from timestepmusic.midi import read_prompt

    played = b"".join(bytes([0, 0x90, 60 + i, 80, 0x83, 0x60, 0x80, 60 + i, 0]) for i in range(4))  # 4 notes to 2 s
    held = bytes([0, 0x90, 48, 70, 0, 52, 70, 0, 55, 70, 0, 0x99, 38, 100])  # a chord and a drum, never released
    path = tmp_path / "stopped.mid"
    path.write_bytes(_track_bytes(played + held + bytes([0x87, 0x40, 0xFF, 0x2F, 0])))  # the track ends at 3 s
    with caplog.at_level("WARNING"):
        prompt, drops, _, _ = read_prompt(path)
    chord = prompt.is_note & (prompt.start_s == 2.0)
    assert sorted(prompt.ids[chord] + 21) == [48, 52, 55] and prompt.duration_s[chord] == pytest.approx([1.0] * 3)
    assert prompt.is_note.sum() == 7 and prompt.end_s == pytest.approx(3.0) and drops.drum_notes == 0
    assert f"{path}: notes held to its end: 3 struck and never released" in caplog.text  # (not the drum's:)
    assert f"{path}: notes left out: 1 struck and never released" in caplog.text
    assert read_events(path)[0].is_note.sum() == 4
    lost = tmp_path / "lost note-off.mid"  # the track ending 11 s after the chord: a note-off lost, not a key held
    lost.write_bytes(_track_bytes(played + held + bytes([0xD2, 0x40, 0xFF, 0x2F, 0])))  # (10,560 ticks: 11 s)
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert read_prompt(lost)[0].is_note.sum() == 4
    assert "notes left out: 4 struck and never released" in caplog.text and "held to its end" not in caplog.text


def test_a_prompts_chord_held_at_the_end_is_kept_though_a_click_or_marker_track_runs_on(tmp_path, caplog):
    """The take as above (a chord struck at 2 s, never released, its track ending at 3 s) in a sequencer's file whose
    metronome track (channel 10) and marker track run on to 60 s: the chord was measured against HELD_KEY_S from the
    file's last event (58 s after it) and left out as a note-off lost mid-file. Now it is measured from, and held
    to, where the playing ends (its track's end, 3 s), as in the file without those tracks."""
    from timestepmusic.midi import read_prompt

    def track(*messages) -> mido.MidiTrack:  # (tick, message) pairs in order → a track of delta times
        out, now = mido.MidiTrack(), 0
        for tick, message in messages:
            out.append(message.copy(time=tick - now))
            now = tick
        return out

    played = [(i * 480 + off, mido.Message("note_on", note=60 + i, velocity=80 * (1 - off // 480))) for i in range(4)
              for off in (0, 480)]  # 4 notes to 2 s, each released by a note-on of velocity 0
    chord = [(1920, mido.Message("note_on", note=key, velocity=70)) for key in (48, 52, 55)]
    take = mido.MidiFile(type=1, ticks_per_beat=480)
    marker = mido.MetaMessage("marker", text="end")
    take.tracks += [track((0, mido.MetaMessage("set_tempo", tempo=500_000)), (57_600, marker)),
                    track(*played, *chord, (2880, mido.MetaMessage("end_of_track"))),
                    track(*[(tick, mido.Message(kind, channel=9, note=37, velocity=90 if kind == "note_on" else 0))
                            for tick in range(0, 57_600, 960) for kind in ("note_on", "note_off")])]
    path = tmp_path / "clicked.mid"
    take.save(path)
    with caplog.at_level("WARNING"):
        prompt = read_prompt(path)[0]
    held = prompt.is_note & np.isclose(prompt.start_s, 2.0)
    assert sorted(prompt.ids[held] + 21) == [48, 52, 55] and prompt.duration_s[held] == pytest.approx([1.0] * 3)
    assert f"{path}: notes held to its end: 3 struck and never released" in caplog.text


def test_a_prompts_key_struck_again_before_it_rose_is_not_held_to_its_end(tmp_path, caplog):
    """A key struck twice and released once (it rose only after the second strike, as a fast repetition records):
    symusic gives the one release to the first strike and drops the second, which a prompt then held to the file's
    end, as if the recorder had stopped with it down; the key was let go at its release. Read as read_events reads it
    (the second strike left out, and said)."""
    from timestepmusic.midi import read_prompt

    repeated = bytes([0, 0x90, 62, 80, 0, 0x90, 60, 80, 0x81, 0x70, 0x90, 60, 90,  # 60 at 0 s, again at 0.25 s
                      0x81, 0x70, 0x80, 60, 0, 0x83, 0x60, 0x80, 62, 0])  # 60 released at 0.5 s, 62 at 1 s
    path = tmp_path / "repeated.mid"
    path.write_bytes(_track_bytes(repeated + bytes([0, 0xFF, 0x2F, 0])))
    with caplog.at_level("WARNING"):
        prompt = read_prompt(path)[0]
    key = prompt.is_note & (prompt.ids == 60 - 21)
    assert (prompt.start_s + prompt.duration_s)[key].max() == pytest.approx(0.5) and prompt.end_s == pytest.approx(1.0)
    assert "notes left out: 1 struck and never released" in caplog.text and "held to its end" not in caplog.text
    assert prompt.is_note.sum() == read_events(path)[0].is_note.sum()


def test_running_status_goes_on_past_a_meta_event_as_symusic_reads_it(tmp_path, caplog):
    """A sequencer may write a marker or lyric between messages of one running status: symusic reads the messages
    after it with that status, where the byte walk stopped at them, so a note released after a marker was said
    'struck and never released' and a pedal after one (in a channel without notes) was lost."""
    from timestepmusic.midi_bytes import pedal_controls, unreleased_notes

    marker = bytes([0, 0xFF, 0x06, 2]) + b"cu"  # a marker, 2 bytes of text
    notes = bytes([0, 0x90, 60, 80]) + marker + bytes([0x83, 0x60, 60, 0])  # the release: running status after it
    pedal = bytes([0, 0xB1, 64, 100]) + marker + bytes([0x83, 0x60, 64, 0])  # channel 1: no note there
    path = tmp_path / "marked.mid"
    path.write_bytes(_track_bytes(notes + pedal + bytes([0, 0xFF, 0x2F, 0])))
    assert unreleased_notes(path.read_bytes()) == 0
    assert pedal_controls(path.read_bytes())["value"].tolist() == [100, 0]
    with caplog.at_level("WARNING"):
        events, _ = read_events(path, pedal_bins=0)
    assert "never released" not in caplog.text
    assert events.ids.tolist() == [60 - 21, 88] and events.duration_s.tolist() == [0.5, 0.5]


def test_a_file_named_as_a_folder_with_a_slash_is_refused_in_one_line_before_anything_is_drawn(tmp_path, capsys):
    """-o take.mid/ where take.mid is a file of the user's: one line naming it, not a draw and then 'stopped after
    writing 0 of 1 MIDI file(s); the same command with --overwrite writes them all again' above the error."""
    take = tmp_path / "take.mid"
    take.write_bytes(b"mine")
    assert main(["generate", "-n", "1", "--seconds", "1", "-o", f"{take}/"]) == 2
    assert one_line_error(capsys) == (f"error: -o {take}/: a file; give the folder to write into (each piece is named "
                                      "sample_SEED_NNN.mid)")
    assert take.read_bytes() == b"mine"


@pytest.mark.parametrize("given, said", [(["--style", "densty=3"], "error: --style densty=3: no attribute 'densty'"),
                                         (["--style", "loudness=forte"], "error: --style loudness=forte: not a number"),
                                         (["--temperature", "0"], "error: --temperature must be > 0")])
def test_a_typo_in_a_rerun_into_its_own_folder_is_said_before_the_files_there(tmp_path, capsys, given, said):
    """The same command again with a typo: the typo, not 'sample_0_000.mid is there already; … --overwrite', after
    which the user gave --overwrite only to be told of the typo."""
    out = tmp_path / "out"
    assert main(["generate", "-n", "1", "--seconds", "1", "-o", str(out)]) == 0
    capsys.readouterr()
    before = (out / "sample_0_000.mid").read_bytes()
    assert main(["generate", "-n", "1", "--seconds", "1", *given, "-o", str(out)]) == 2
    assert one_line_error(capsys).startswith(said)
    assert (out / "sample_0_000.mid").read_bytes() == before


@pytest.mark.parametrize("command", ["generate", "evaluate"])
def test_an_out_folder_that_is_a_file_is_named_as_the_flag(tmp_path, capsys, command):
    """-o roll.png where roll.png is a file of the user's (a roll, not a MIDI file): one line naming -o, as -o take.mid
    is, not the system's 'roll.png: cannot write or read here: exists and is a file, not a folder'."""
    roll = tmp_path / "roll.png"
    roll.write_bytes(b"mine")
    argv = (["generate", "-n", "1", "--seconds", "1"] if command == "generate" else
            ["evaluate", str(tmp_path), "--real", str(tmp_path)])
    assert main([*argv, "-o", str(roll)]) == 2
    what = "into (each piece is named sample_SEED_NNN.mid)" if command == "generate" else "the report into (made if missing)"
    assert one_line_error(capsys) == f"error: -o {roll}: a file; give the folder to write {what}"
    assert roll.read_bytes() == b"mine"


@pytest.mark.parametrize("command", ["generate", "evaluate", "plot"])
def test_an_out_folder_that_is_a_link_to_nowhere_is_named_as_one(tmp_path, capsys, command):
    """-o LINK where LINK is a symbolic link whose target is gone was said to 'exist and be a file'."""
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    argv = {"generate": ["generate", "-n", "1", "--seconds", "1", "-o", str(tmp_path / "gone")],
            "evaluate": ["evaluate", str(tmp_path), "--real", str(tmp_path), "-o", str(tmp_path / "gone")],
            "plot": ["plot", str(write_piece(tmp_path / "a.mid")), "-o", f"{tmp_path / 'gone'}/"]}
    assert main(argv[command]) == 2
    assert one_line_error(capsys) == f"error: {tmp_path / 'gone'}: cannot write or read here: a link to nowhere, not a folder"
    assert not (tmp_path / "nowhere").exists()


def test_a_soundfont_that_is_a_folder_is_named_as_one(tmp_path, capsys):
    """--soundfont FOLDER said 'no such file' of a folder that is there."""
    assert main(["generate", "-n", "1", "--wav", "--soundfont", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert one_line_error(capsys) == f"error: --soundfont {tmp_path}: not a file"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("given, said", [({"n": 1.5}, "^n must be a whole number from 1 to"),
                                         ({"n": "2"}, "^n must be a whole number from 1 to"),
                                         ({"seed": 1.5}, "seed must be a whole number from 0 to"),
                                         ({"seed": -1}, "seed must be a whole number from 0 to"),
                                         ({"seed": 2 ** 63}, "seed must be a whole number from 0 to"),
                                         ({"seconds": "16"}, "^seconds= must be a number of seconds, got '16'"),
                                         ({"max_seconds": "60"}, "^max_seconds= must be a number of seconds"),
                                         ({"seconds": True}, "^seconds= must be a number of seconds"),
                                         ({"pieces": 5}, r"^pieces= must be a list of the pieces' numbers"),
                                         ({"pieces": [1.5]}, r"^pieces= must be a list of the pieces' numbers"),
                                         ({"pieces": "01"}, r"^pieces= must be a list of the pieces' numbers"),
                                         ({"pieces": np.array([0, 7]), "n": 2}, r"^pieces: 7 is not among the pieces of n=2"),
                                         ({"pieces": []}, r"^pieces= must be a list of the pieces' numbers .*, got \[\]$")])
def test_generate_in_python_refuses_a_count_or_seed_the_command_refuses_before_the_model_loads(given, said, tmp_path,
                                                                                              monkeypatch):
    """generate(n=1.5) was a TypeError from inside range(), seed=1.5 a RuntimeError of torch's manual_seed after the
    model loaded, seed=-1 wrote sample_-1_000.mid, which `tsm generate --seed -1` refuses; seconds='16' (or
    max_seconds=) a TypeError of a comparison, pieces=5 one of iterating an int, pieces=[1.5] a ValueError about a
    format code, pieces=[] 'none is not among the pieces'."""
    from timestepmusic import generate_api, generation

    monkeypatch.setattr(generation.GANModel, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(ValueError, match=said):
        generate_api.generate(tmp_path / "x", **given)
    assert list(tmp_path.iterdir()) == []


NAN = float("nan")
WRONG_KINDS = {  # id: (generate()'s keywords, what it says: ' … ' between its start and end), what it was before
    "prompt=123": ({"prompt": 123}, "prompt= must be a MIDI file's path or Events, got 123"),  # AttributeError: end_s
    "like=123": ({"like": 123}, "like= must be a MIDI file's path or Events, got 123"),  # AttributeError: ids
    "prompt=NaN": ({"prompt": NAN}, "prompt= must be a MIDI file's path or Events, got nan"),
    "style=123": ({"style": 123}, "style= must be text ('density=6', 'loudness=45 > loudness=80'), a request as "
                  "style_request.parse_style holds it (attribute → number) or a StyleRamp, got 123"),  # AttributeError
    "style, a list": ({"style": ["density=6"]}, "style= must be text … got ['density=6']"),  # AttributeError
    "style, a word": ({"style": {"density": "6"}}, "style={'density': '6'}: density must be a finite number, got '6'"),
    "style, NaN": ({"style": {"density": NAN}}, "style={'density': nan}: density must be a finite number, got nan"),
    "style, a word as name": ({"style": {3: 0.5}}, "style={3: 0.5}: no attribute 3; a request names register, … "
                              "events-pause)"),
    "style, empty": ({"style": {}}, "style= must be … got {}"),  # an IndexError of torch's
    "composer=3": ({"composer": 3}, "composer= must be a composer's name as text ('Bach'), got 3"),  # .split
    "key=3": ({"key": 3}, "key= must be a key as text ('E minor', 'C > G@8'), keys.parse_key's (tonic, minor) or a "
              "KeyTold, got 3"),  # 'key 3: give (tonic 0–11 …' once the model had loaded
    "tempo=[80]": ({"tempo": [80]}, "tempo= must be beats per minute (90), a path as text ('80 > 120') or a TempoTold, "
                   "got [80]"),  # 'tempo=[80]: give beats per minute …' once the model had loaded
    "tempo=True": ({"tempo": True}, "tempo= must be beats per minute … got True"),
    "temperature text": ({"temperature": "hot"}, "temperature= must be a number (None: the model's own), got 'hot'"),
    "mixture temperature list": ({"mixture_temperature": [1.0]}, "mixture_temperature= must be a number … got [1.0]"),
    "guidance text": ({"guidance": "strong"}, "guidance= must be a number … got 'strong'"),  # 'must be real number'
    "ends text": ({"ends": "yes"}, "ends= must be True, False or None (as the model does), got 'yes'"),  # taken
    "ending None": ({"ending": None}, "ending= must be True or False, got None"),  # taken as False
    "snap_to_real='no'": ({"snap_to_real": "no"}, "snap_to_real= must be True or False, got 'no'"),  # taken as True
    "overwrite='no'": ({"overwrite": "no"}, "overwrite= must be True or False, got 'no'"),  # taken as True: files gone
    "device=0": ({"device": 0}, "device= must be a device's name ('cpu', 'cuda', 'cuda:N', 'auto'; None: cpu, or a "
                 "GANModel's own), got 0"),  # (None: the default, since a loaded model's device is refused another)
    "model=3": ({"model": 3}, "model= must be a shipped model's name, a run folder or a GANModel (None: the default), "
                "got 3"),  # a TypeError of pathlib's
    "out=3": ({"out": 3}, "out= must be a folder's path, got 3"),  # a TypeError of pathlib's
    "out=None": ({"out": None}, "out= must be a folder's path, got None"),
    "out=''": ({"out": ""}, "out='': an empty name; give the folder to write into ('.' for the working folder)"),  # wrote
    # into the working folder, where the command refuses -o ''
    "prompt=''": ({"prompt": ""}, "prompt='': an empty name; give a MIDI file's path, or None"),  # 'prompt=:
    # cannot read: a folder, not a MIDI file', where the command refuses --prompt ''
    "like=''": ({"like": ""}, "like='': an empty name; give a MIDI file's path, or None"),
}


@pytest.mark.parametrize("given, said", WRONG_KINDS.values(), ids=WRONG_KINDS.keys())
def test_generate_in_python_refuses_a_value_of_a_kind_its_keyword_does_not_take(given, said, tmp_path, monkeypatch):
    """prompt=123, like=, style=, composer= of a kind none takes were an AttributeError from deep inside once the
    model had loaded (temperature='hot' a TypeError of a comparison, device=None torch's (now the default), out=3 pathlib's);
    snap_to_real='no' and overwrite='no' were taken as True. Each is one line naming the keyword and what it takes
    (generate_api.TAKES), before the model loads, and nothing is written."""
    from timestepmusic import generate_api, generation

    monkeypatch.setattr(generation.GANModel, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    given = dict(given)
    with pytest.raises(ValueError) as raised:
        generate_api.generate(given.pop("out", tmp_path / "x"), n=1, **given)
    start, _, end = said.partition(" … ")
    assert str(raised.value).startswith(start) and str(raised.value).endswith(end) and "\n" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device, said", [("mps", "MPS (Apple's GPU) is not available on this machine"),
                                          ("cuda", "CUDA is not available on this machine"),
                                          ("meta", "not a device name (cpu, cuda, cuda:N, auto)")])
def test_a_device_this_machine_lacks_is_one_line_naming_it(device, said, tmp_path, capsys, monkeypatch):
    """generate(device='mps') where torch has none was torch's RuntimeError ('PyTorch is not linked with support for
    mps devices') from moving the model; now one line naming device= (as cuda was), and the command's --device."""
    from timestepmusic import generate_api

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    with pytest.raises(ValueError, match=f"^device='{device}': {re.escape(said)}$"):
        generate_api.generate(tmp_path / "x", n=1, seconds=1.0, device=device)
    assert main(["generate", "-n", "1", "--seconds", "1", "--device", device, "-o", str(tmp_path / "cli")]) == 2
    shown = device if device != "meta" else repr(device)  # (as --device 'tpu' is said: not a name)
    assert one_line_error(capsys) == f"error: --device {shown}: {said}"
    assert not list(tmp_path.rglob("*.mid"))


def test_an_unknown_model_s_name_lists_the_generators_alone_to_generate_s_caller(tmp_path):
    """generate(model='no_such_model') listed the shipped autoencoders 'for --ae', a flag of another command, which
    a Python caller has none of (an autoencoder is no model= either); the command lists them as before."""
    from timestepmusic import generate_api

    with pytest.raises(ValueError, match=r"^model='no_such_model': no such folder, and not a shipped model "
                                         r"\(generators: default, [^;]*\)$"):
        generate_api.generate(tmp_path / "x", n=1, model="no_such_model")


@pytest.mark.parametrize("out", ["a_file", "a_file/below"])
def test_generate_in_python_into_a_file_is_one_line_naming_it(out, tmp_path, monkeypatch):
    """generate(out=a file) was a FileExistsError (or NotADirectoryError) from pathlib once the pieces were drawn; the
    command says it in one line. Now a ValueError naming `out` before the model loads; so for prepare()."""
    from timestepmusic import generate_api, generation

    (tmp_path / "a_file").write_bytes(b"mine")
    monkeypatch.setattr(generation.GANModel, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(ValueError, match="a file, not a folder"):
        generate_api.generate(tmp_path / out, n=1)
    with pytest.raises(ValueError, match="a file, not a folder"):
        prepare([tmp_path / "a_file"], tmp_path / out)
    assert (tmp_path / "a_file").read_bytes() == b"mine"


def test_generate_in_python_takes_the_command_s_lock_on_its_folder_and_seed(tmp_path, monkeypatch):
    """Two generate() calls (or one and `tsm generate`) writing one seed into one folder are not mixed: the second is
    refused in one line, as the command refuses a second command."""
    from timestepmusic import generate_api, generation
    from timestepmusic.files import held_folder

    monkeypatch.setattr(generation.GANModel, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    with held_folder(tmp_path, ".generate-seed3.lock", "busy"):
        with pytest.raises(ValueError, match="another generate is writing seed 3's pieces into it now"):
            generate_api.generate(tmp_path, n=1, seed=3)


@pytest.mark.parametrize("option", ["temperature", "mixture_temperature"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_a_temperature_the_command_refuses_is_refused_in_python_too(option, value, tmp_path):
    """generate(temperature=-1) wrote pieces (`tsm generate --temperature -1` refuses it: it must be > 0, finite)."""
    from timestepmusic.generation import GANModel

    gan = GANModel.load("ar-v1")  # (tempered, with a mixture: takes both temperatures)
    with pytest.raises(ValueError, match=f"--{option.replace('_', '-')} must be > 0 and finite"):
        gan.sample_latents(1, 2.0, 0, **{option: value})


def test_a_kind_of_model_is_said_with_its_article():
    from timestepmusic.shipped import arch_said

    assert [arch_said(arch) for arch in ("conv", "rnn", "ar", "events", "my-gru")] == [
        "a conv model", "an rnn model", "an ar model", "an events model", "a my-gru model"]


def test_a_corpus_chunked_otherwise_is_refused_before_any_warning(tiny_corpus, tiny_ae, tmp_path, capsys, caplog):
    """train-gan warned that --steps 10 ends within the learning rate's warm-up, then refused the corpus (chunked
    otherwise than its autoencoder's): the refusal is said alone, first."""
    other = tmp_path / "corpus-05"
    prepare([tiny_corpus.parent / "midi"], other, Config().override({"chunks.chunk_seconds": 0.5}), progress=False)
    caplog.set_level("WARNING")
    assert main(["train-gan", str(other), "--ae", str(tiny_ae), "--arch", "events", "--steps", "10",
                 "--out", str(tmp_path / "run")]) != 0
    assert "was trained with chunks.chunk_seconds=0.25 but the corpus" in capsys.readouterr().err
    assert not [r.getMessage() for r in caplog.records if "warm-up" in r.getMessage()]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("refused", ["corpus", "device"])
def test_a_refused_train_gan_run_warns_of_no_setting_it_would_not_read_first(tiny_corpus, tiny_ae, tmp_path, capsys,
                                                                            caplog, refused):
    """train-gan given `--set ar.lr=…` (which the conv arm does not read) warned of it, then refused the corpus (chunked
    otherwise than its autoencoder's) or the device: the refusal is said alone, in one line, and nothing is warned of."""
    import torch

    if refused == "corpus":
        corpus = tmp_path / "corpus-05"
        prepare([tiny_corpus.parent / "midi"], corpus, Config().override({"chunks.chunk_seconds": 0.5}), progress=False)
        flags, said = [], "was trained with chunks.chunk_seconds=0.25 but the corpus"
    else:
        if torch.cuda.is_available():
            pytest.skip("CUDA is available here: --device cuda is not refused")
        corpus, flags, said = tiny_corpus, ["--device", "cuda"], "--device cuda: CUDA is not available on this machine"
    caplog.set_level("WARNING")
    caplog.clear()  # (prepare's own warnings of the tiny corpus's splits)
    assert main(["train-gan", str(corpus), "--ae", str(tiny_ae), "--set", "ar.lr=1e-3", "--steps", "1", *flags,
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and "\n" not in err, err
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    assert not (tmp_path / "run").exists()


def test_train_gan_refusing_its_run_folder_warns_of_no_setting_it_would_not_read_first(tiny_corpus, tiny_ae, tmp_path,
                                                                                      capsys, caplog):
    """train-gan --overwrite over the folder its --ae lies in, given `--set ar.lr=…` (which the conv arm does not read),
    warned of the setting, then refused the folder (--overwrite would delete what the run reads): the refusal is said
    alone, and the folder is kept."""
    run = tmp_path / "run"
    shutil.copytree(tiny_ae, run)
    kept = sorted(path.name for path in run.iterdir())
    caplog.set_level("WARNING")
    caplog.clear()  # (the tiny corpus's own warnings)
    assert main(["train-gan", str(tiny_corpus), "--ae", str(run), "--set", "ar.lr=1e-3", "--steps", "1",
                 "--out", str(run), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert "which --overwrite would delete" in err and "\n" not in err, err
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    assert sorted(path.name for path in run.iterdir()) == kept
