"""One idea spelled one way across `tsm`'s subcommands: the same flag, the same error for the same mistake."""
from __future__ import annotations

import pytest

from timestepmusic.cli import main
from timestepmusic.cli_parser import build_parser

from midi_factory import write_piece


@pytest.mark.parametrize("verb", ["prepare", "train-ae", "train-gan"])
def test_the_output_folder_is_o_or_out_in_every_command_that_writes_one(verb):
    """generate, evaluate and plot take -o; prepare and the trainers took --out alone, and refused -o as an unknown
    argument (prepare: as a missing --out)."""
    for spelling in ("-o", "--out"):
        assert build_parser().parse_args([verb, "SOURCE", spelling, "FOLDER"]).out == "FOLDER"


def test_prepare_writes_its_corpus_to_o(tmp_path, capsys):
    write_piece(tmp_path / "a.mid")
    assert main(["prepare", str(tmp_path / "a.mid"), "-o", str(tmp_path / "corpus"), "-q"]) == 0
    assert (tmp_path / "corpus" / "corpus.json").is_file()


@pytest.mark.parametrize("argv, flag, value", [(["prepare", "a.mid", "-o", "c"], "--max-events", "0"),
                                               (["prepare", "a.mid", "-o", "c"], "--workers", "-1"),
                                               (["prepare", "a.mid", "-o", "c"], "--chunk-seconds", "0"),
                                               (["prepare", "a.mid", "-o", "c"], "--chunk-seconds", "nan"),
                                               (["prepare", "a.mid", "-o", "c"], "--pedal-bins", "-1"),
                                               (["train-gan", "c", "-o", "r"], "--max-chunks", "0"),
                                               (["evaluate-ae", "ae-latent75", "--corpus", "c"], "--max-tracks", "0"),
                                               (["evaluate-ae", "ae-latent75", "--corpus", "c"], "--max-tracks", "-1")])
def test_a_count_out_of_range_is_named_as_the_flag_in_every_command(argv, flag, value, tmp_path, capsys, monkeypatch):
    """train-ae --epochs 0 and plot --pedal-bins -1 are the flag's usage line; prepare --max-events 0 was 'config
    chunks.max_events: must be ≥ 1', a setting never written, and evaluate-ae --max-tracks 0 said the corpus had no
    tracks in the split while --max-tracks -1 silently left out its last one."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main([*argv, flag, value])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.startswith(f"error: {flag}: '{value}': give a") and "config" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_evaluate_takes_its_corpus_as_corpus_too(tmp_path, capsys):
    """generate, evaluate-ae and the benches name a prepared corpus --corpus; evaluate named it --real alone and said of
    `evaluate out/ --corpus corpus/` only that --real was missing."""
    write_piece(tmp_path / "out" / "a.mid")
    for spelling in ("--real", "--corpus"):
        assert build_parser().parse_args(["evaluate", "out", spelling, "corpus", "-o", "report"]).real == "corpus"
        assert main(["evaluate", str(tmp_path / "out"), spelling, str(tmp_path / "none"), "-o", str(tmp_path / "r")]) == 2
        assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'none'}: not a prepared corpus (no readable "
                                                   "corpus.json; run `tsm prepare`)")


@pytest.mark.parametrize("command, first, second", [(["evaluate", "out", "-o", "report"], "--real", "--corpus"),
                                                    (["plot", "a.mid"], "-o", "--output"),
                                                    (["plot", "a.mid"], "--out", "--output")])
def test_two_names_of_one_flag_given_two_values_are_refused(command, first, second, capsys):
    """evaluate's --corpus is another name of --real, plot's --out and --output of -o: argparse kept the last given,
    so `evaluate out/ --real A --corpus B` compared with B without a word. Two values are refused in one line naming
    both; the same value under both names, or one name, reads as before."""
    dest = "real" if command[0] == "evaluate" else "output"
    with pytest.raises(SystemExit) as stop:
        main([*command, first, "A", f"{second}=B"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (f"error: {first} A and {second} B both given: two names of one flag; give one "
                                       f"(see tsm {command[0]} --help)\n")
    parser = build_parser()
    for given in ([first, "A", second, "A"], [second, "A"], [first, "B", first, "A"]):
        assert getattr(parser.parse_args([*command, *given]), dest) == "A", given


@pytest.mark.parametrize("given", [["--real", "A", "--corpus", "A", "--corpus", "B"],
                                   ["--corpus", "A", "--real", "A", "--real", "B"]])
def test_a_name_given_again_after_another_is_held_to_the_others_value(given, capsys):
    """OneFlagOfSeveralNames compared a value with the name given just before it alone: `--real A --corpus A --corpus
    B` compared with B, silently, though --real A was given too. Every other name given is compared."""
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "out", "-o", "report", *given])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (f"error: {given[0]} A and {given[-2]} B both given: two names of one flag; "
                                       "give one (see tsm evaluate --help)\n")
    assert build_parser().parse_args(["evaluate", "out", "-o", "report", "--real", "A", "--real", "B", "--corpus",
                                      "B"]).real == "B"  # (one name given again, then the other with its last value)


def test_every_flag_of_several_long_names_refuses_two_values():
    """A flag spelt two ways (evaluate --real/--corpus, plot --out/--output) keeps one value: a new one added with an
    alias reads its names through usage_errors.OneFlagOfSeveralNames, which refuses two values."""
    from timestepmusic.subcommands import subparsers
    from timestepmusic.usage_errors import OneFlagOfSeveralNames

    aliased = {(p.prog, tuple(a.option_strings)): isinstance(a, OneFlagOfSeveralNames) for p in subparsers(build_parser())
               for a in p._actions if sum(name.startswith("--") for name in a.option_strings) > 1}
    assert aliased == {("tsm evaluate", ("--real", "--corpus")): True, ("tsm plot", ("-o", "--out", "--output")): True}


def test_data_check_names_a_file_given_for_its_folder_as_a_file(tmp_path, capsys):
    """A MIDI file (or the zip) given to data check was said to be 'no such folder', though it is there; evaluate and
    generate say a path of the wrong kind as that kind."""
    midi = write_piece(tmp_path / "a.mid")
    assert main(["data", "check", str(midi)]) == 1
    out = capsys.readouterr().out.strip()
    assert out == f"NOT OK: {midi}: a file, not a folder; give the folder that holds the dataset", out


def _options(flag: str) -> dict[str, str]:
    """Each subcommand that takes `flag` → its help text."""
    from timestepmusic.subcommands import subparsers

    return {p.prog: a.help for p in subparsers(build_parser()) for a in p._actions if flag in a.option_strings}


def test_seed_and_device_helps_say_their_defaults_and_the_same_names():
    """train-ae's and train-gan's --seed said no default (generate's and evaluate's say 0); reconstruct's, evaluate-ae's
    and generate's --device left out cuda:N, which each takes as training's does."""
    from timestepmusic.config import Config

    seeds, devices = _options("--seed"), _options("--device")
    assert set(seeds) >= {"tsm train-ae", "tsm train-gan", "tsm generate", "tsm evaluate"}
    assert Config().ae.seed == Config().gan.seed == 0
    assert all("(default 0" in said for said in seeds.values()), seeds
    assert set(devices) == {"tsm train-ae", "tsm train-gan", "tsm generate", "tsm reconstruct", "tsm evaluate-ae"}
    for prog, said in devices.items():
        assert all(name in said for name in ("cpu", "cuda,", "cuda:N", "auto", "default")), (prog, said)
    assert all("; default: no limit)" in _options("--max-minutes")[verb] for verb in ("tsm train-ae", "tsm train-gan"))


def test_each_run_flag_says_which_checkpoint_of_a_run_it_reads(tmp_path):
    """generate --model RUN samples RUN/last, where --ae, evaluate-ae and model_export read RUN/best; generate's help
    said only 'a run or checkpoint folder', so a new user who sampled runs/mine and exported it got another model."""
    from timestepmusic.checkpoint import checkpoint_dir

    assert "its last checkpoint" in _options("--model")["tsm generate"] and "RUN/best" in _options("--model")["tsm generate"]
    assert "its best checkpoint" in _options("--ae")["tsm train-gan"]
    for name in ("last", "best"):
        (tmp_path / "run" / name).mkdir(parents=True)
        (tmp_path / "run" / name / "config.json").write_text("{}")
    assert checkpoint_dir(tmp_path / "run") == tmp_path / "run" / "last"  # (what generate's --model RUN reads)


@pytest.mark.parametrize("value", ["x", "nan", "0", "-1"])
def test_checkpoint_minutes_is_read_as_max_minutes_is(value, tmp_path, capsys):
    """--max-minutes x is "'x' is not a number of minutes"; --checkpoint-minutes x was argparse's "invalid float
    value", nan was 'config ae.checkpoint_every_s: expected a finite number' and 0 an error after parsing."""
    with pytest.raises(SystemExit) as stop:
        main(["train-ae", str(tmp_path / "corpus"), "-o", str(tmp_path / "run"), "--checkpoint-minutes", value])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and f"error: --checkpoint-minutes: {value}" in err.replace("'", ""), err
    assert "config" not in err and "invalid float" not in err and "train to the end" not in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["reconstruct", "{path}", "-o", "{tmp}/out.mid"], ["plot", "{path}", "-o", "{tmp}/r.png"]])
def test_a_missing_performance_or_a_folder_for_it_is_said_as_generate_says_it(command, tmp_path, capsys):
    """generate --prompt says 'no such file' and 'not a file'; reconstruct and plot said 'cannot read (No such file or
    directory)' for a missing file, and 'cannot read (Is a directory)' for a folder (reconstruct's IN.mid)."""
    (tmp_path / "folder").mkdir()
    cases = [("nope.mid", "cannot read: no such file")] + (
        [("folder", "cannot read: a folder, not a MIDI file")] if command[0] == "reconstruct" else [])
    for name, said in cases:
        argv = [word.format(path=tmp_path / name, tmp=tmp_path) for word in command]
        assert main(argv) == 2
        assert capsys.readouterr().err.strip() == f"error: {tmp_path / name}: {said}"


def test_ctrl_c_before_a_command_runs_is_one_line_and_the_start_is_quick(monkeypatch, capsys):
    """Ctrl-C in a command's first quarter second printed a traceback: `import timestepmusic` loaded numpy, symusic
    and the corpus code (0.16 s) before the CLI's handler existed, and main read the arguments outside it. The
    package's names now load on first use, and Ctrl-C while the arguments are read is the one line any command says."""
    import subprocess
    import sys

    import timestepmusic.cli as cli

    loaded = subprocess.run([sys.executable, "-c", "import sys, timestepmusic.cli; print(sorted(m for m in "
                             "('numpy', 'symusic', 'torch', 'timestepmusic.corpus', 'timestepmusic.prepare_corpus', "
                             "'timestepmusic.parse_files') if m in sys.modules))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["generate", "--help"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_the_package_lists_its_lazy_names_and_reaches_its_modules_after_a_bare_import():
    """Since every name loads on first use, `dir(timestepmusic)` (and so help() and completion) listed none of the
    documented names, and `import timestepmusic; timestepmusic.midi.read_events` (which the eager imports had
    loaded) was AttributeError 'midi'. The names are listed without loading them; a submodule loads when reached."""
    import subprocess
    import sys

    code = ("import sys, timestepmusic as t; names = dir(t); heavy = [m for m in ('numpy', 'torch') if m in sys.modules]; "
            "print(all(n in names for n in t.__all__), heavy, t.midi.read_events.__name__, t.Config.__name__); "
            "print(hasattr(t, 'no_such_name'))")
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert said[:2] == ["True [] read_events Config", "False"]
