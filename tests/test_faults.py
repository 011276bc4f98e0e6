"""Nothing lost, nothing mixed: checkpoint writes interrupted at every point, runs killed at random
steps, a run folder that already holds a run, and metrics logs after a resume (issue 15)."""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import timestepmusic.checkpoint as checkpoint
import timestepmusic.train.ae as train_ae
from timestepmusic.checkpoint import CONFIG, read_meta, start_run_folder, write_checkpoint
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.midi import Events
from timestepmusic.midi_write import write_events
from timestepmusic.prepare_corpus import prepare
from timestepmusic.train.ae import train_autoencoder
from timestepmusic.train.log import MetricsLog, read_metrics
from timestepmusic.train.sequence import train_sequence_model as train_gan

AE = {"ae.latent": 4, "ae.hidden": 16, "ae.batch_chunks": 16, "ae.epochs": 2, "ae.lr": 1e-3}
GAN = {"gan.window_chunks": 16, "gan.channels": 8, "gan.noise": 4, "gan.batch": 2, "gan.steps": 6,
       "gan.validate_every": 1, "gan.sample_every": 0, "gan.critic_steps": 1}


def _performance(rng: np.random.Generator, seconds: float) -> Events:
    n = int(seconds * 5)
    return Events(rng.integers(20, 70, n), rng.uniform(0, seconds, n), rng.uniform(0.05, 1.0, n),
                  rng.integers(20, 120, n)).sorted()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(1)
    for piece in range(4):
        for take in range(2):
            write_events(_performance(rng, 8.0), root / "midi" / f"piece{piece}" / f"take{take}.mid")
    config = Config().override({"corpus.validation_fraction": 0.25, "corpus.test_fraction": 0.25})
    prepare([root / "midi"], root / "corpus", config, progress=False)
    return root / "corpus"


@pytest.fixture(scope="module")
def straight_ae(corpus, tmp_path_factory) -> Path:
    """An autoencoder run trained without interruption: what every interrupted run must end as."""
    run = tmp_path_factory.mktemp("straight") / "ae"
    train_autoencoder(corpus, run, Config().override(AE), progress=False)
    return run


def _same_weights(a: Path, b: Path, keys=("pisa",)) -> None:
    for key in keys:
        x, y = load_file(str(a / f"{key}.safetensors")), load_file(str(b / f"{key}.safetensors"))
        assert x.keys() == y.keys()
        for name in x:
            assert torch.equal(x[name], y[name]), (key, name)


class Crash(BaseException):
    """A crash: not an Exception, so no handler in the code under test catches it."""


def _faulty(limit: int | str | None, seen: list[str]):
    """write_checkpoint whose filesystem steps are counted into `seen`, crashing at step `limit` (a
    number: the step's place in `seen`; a name: its first step of that name)."""
    original = write_checkpoint

    def step(name, fn):
        def wrapped(*args, **kwargs):
            seen.append(name)
            if len(seen) - 1 == limit or name == limit:
                raise Crash(name)
            return fn(*args, **kwargs)
        return wrapped

    def write(*args, **kwargs):
        patches = [(checkpoint, "save_tensors", step("save_tensors", checkpoint.save_tensors)),
                   (checkpoint, "shutil", types.SimpleNamespace(rmtree=step("rmtree", shutil.rmtree))),
                   (pathlib.Path, "rename", step("rename", pathlib.Path.rename)),
                   (pathlib.Path, "mkdir", step("mkdir", pathlib.Path.mkdir)),
                   (pathlib.Path, "write_text", step("write_text", pathlib.Path.write_text))]
        saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
        for owner, name, value in patches:
            setattr(owner, name, value)
        try:
            return original(*args, **kwargs)
        finally:
            for owner, name, value in saved:
                setattr(owner, name, value)
    return write


def test_checkpoint_write_crashing_at_every_step_resumes_to_the_same_weights(corpus, straight_ae, tmp_path,
                                                                             monkeypatch):
    stopped = tmp_path / "stopped"
    train_autoencoder(corpus, stopped, Config().override(AE), progress=False, max_steps=3)
    seen: list[str] = []  # the steps of one checkpoint write, counted on a dry run
    monkeypatch.setattr(train_ae, "write_checkpoint", _faulty(None, seen))
    train_autoencoder(corpus, tmp_path / "dry", Config().override(AE), progress=False, max_steps=1)
    assert seen.count("rename") == 1 and "save_tensors" in seen  # a first checkpoint: no `last` to move aside
    steps: list[str] = []
    shutil.copytree(stopped, tmp_path / "count")
    monkeypatch.setattr(train_ae, "write_checkpoint", _faulty(None, steps))
    train_autoencoder(corpus, tmp_path / "count", resume=True, progress=False, max_steps=5)
    assert steps.count("rename") == 2  # `last` → `.last.old`, `.last.tmp` → `last`
    for point in range(len(steps)):
        run = tmp_path / f"crash{point}"
        shutil.copytree(stopped, run)
        monkeypatch.setattr(train_ae, "write_checkpoint", _faulty(point, []))
        with pytest.raises(Crash):
            train_autoencoder(corpus, run, resume=True, progress=False, max_steps=5)
        monkeypatch.setattr(train_ae, "write_checkpoint", write_checkpoint)
        folder, meta = read_meta(run / "last")
        assert meta["step"] in (3, 5), (point, steps[point])
        train_autoencoder(corpus, run, resume=True, progress=False)
        _same_weights(straight_ae / "last", run / "last")
        steps_logged = [r["step"] for r in read_metrics(run / "metrics.jsonl") if "val_loss" in r]
        assert len(steps_logged) == len(set(steps_logged)) == 2, (point, steps_logged)
        shutil.rmtree(run)


def test_reader_falls_back_to_old_between_the_two_renames(corpus, straight_ae, tmp_path):
    run = tmp_path / "run"
    train_autoencoder(corpus, run, Config().override(AE), progress=False, max_steps=3)
    (run / "last").rename(run / ".last.old")  # the crash: the old one moved aside, the new one not in place
    (run / ".last.tmp").mkdir()
    (run / ".last.tmp" / "config.json").write_text("{ half")
    assert read_meta(run / "last")[0] == run / ".last.old"
    train_autoencoder(corpus, run, resume=True, progress=False)
    _same_weights(straight_ae / "last", run / "last")
    assert not (run / ".last.old").exists() and not (run / ".last.tmp").exists()


def test_resumed_train_loss_goes_on_with_the_same_average(corpus, straight_ae, tmp_path):
    run = tmp_path / "run"
    train_autoencoder(corpus, run, Config().override(AE), progress=False, max_steps=5)
    resumed = train_autoencoder(corpus, run, resume=True, progress=False)
    straight = [r for r in read_metrics(straight_ae / "metrics.jsonl") if "val_loss" in r]
    again = [r for r in read_metrics(run / "metrics.jsonl") if "val_loss" in r]
    assert [r["train_loss"] for r in again] == [r["train_loss"] for r in straight]
    assert resumed["train_loss"] == straight[-1]["train_loss"]


def test_metrics_log_drops_rows_after_the_resumed_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    for step in (1, 2, 3):
        log.write({"step": step, "val": step})
    log.write({"event": "note"})
    with path.open("a") as f:
        f.write('{"step": 4, "va')  # killed mid-line
    MetricsLog(path, resumed_at=2).write({"step": 3, "val": 30})
    assert [(r.get("step"), r.get("val")) for r in read_metrics(path)] == [(1, 1), (2, 2), (None, None), (3, 30)]
    assert path.read_text().endswith("\n") and len(path.read_text().splitlines()) == 4


def test_new_run_into_an_existing_run_is_refused_without_overwrite(corpus, straight_ae, tmp_path, capsys):
    run = tmp_path / "ae"
    shutil.copytree(straight_ae, run)
    before = (run / "last" / "pisa.safetensors").read_bytes(), (run / "metrics.jsonl").read_text()
    args = ["train-ae", str(corpus), "--out", str(run), "-q", "--epochs", "1", "--set", "ae.latent=4",
            "--set", "ae.hidden=16"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume" in err and "--overwrite" in err and str(run) in err
    assert ((run / "last" / "pisa.safetensors").read_bytes(), (run / "metrics.jsonl").read_text()) == before
    assert main(args + ["--overwrite"]) == 0
    records = read_metrics(run / "metrics.jsonl")
    assert [r["epoch"] for r in records if "val_loss" in r] == [1]  # the old run's rows are gone
    assert json.loads((run / "best" / "config.json").read_text())["step"] == records[-1]["step"]
    (run / "NOTES.md").write_text("what I tried")  # a user's notes and favourites kept in the run's folder
    (run / "favourites").mkdir()
    with pytest.raises(ValueError, match=r"--overwrite deletes only what a run wrote, and this folder holds "
                                         r"NOTES\.md and 1 more, which no run wrote"):
        start_run_folder(run, overwrite=True)
    assert (run / "NOTES.md").read_text() == "what I tried" and (run / "last").is_dir()
    (run / "NOTES.md").unlink()
    (run / "favourites").rmdir()
    (run / ".thesis.old").mkdir()  # a hidden folder of the user's: not a run's
    with pytest.raises(ValueError, match=r"holds \.thesis\.old, which no run wrote"):
        start_run_folder(run, overwrite=True)
    (run / ".thesis.old").rmdir()
    (run / ".autoencoder.old").mkdir()  # the halves of a write a kill left: the run's own
    (run / ".metrics.jsonl.123.tmp").write_text("")
    start_run_folder(run, overwrite=True)
    assert not run.exists() or not any(run.iterdir())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds no run"):
        start_run_folder(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        start_run_folder(tmp_path / "file")
    (tmp_path / "seeded").mkdir()
    (tmp_path / "seeded" / "latents-abc-def.npy").write_bytes(b"x")  # a bench's seeded cache: a run may start
    start_run_folder(tmp_path / "seeded")
    assert (tmp_path / "seeded" / "latents-abc-def.npy").read_bytes() == b"x"


def test_overwrite_never_deletes_what_the_new_run_starts_from(corpus, straight_ae, tmp_path, capsys):
    run = tmp_path / "ae"
    shutil.copytree(straight_ae, run)
    before = sorted(p.name for p in run.rglob("*"))
    for reads in (["--ae", str(run)], ["--ae", str(run / "best")]):  # the run itself, or a folder inside it
        assert main(["train-gan", str(corpus), *reads, "--out", str(run), "--overwrite", "-q", "--steps", "1"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "reads the autoencoder" in err and "choose another output folder" in err
        assert sorted(p.name for p in run.rglob("*")) == before


def test_resuming_a_run_past_its_target_says_so(corpus, straight_ae, tmp_path, caplog, capsys):
    run = tmp_path / "ae"
    shutil.copytree(straight_ae, run)
    before = (run / "last" / "pisa.safetensors").read_bytes()
    assert main(["train-ae", str(corpus), "--resume", str(run), "--set", "ae.hidden=256", "-q"]) == 2
    assert "--set ae.hidden=256: a resumed run keeps its saved settings" in capsys.readouterr().err  # (not ignored)
    assert main(["train-ae", str(corpus), "--resume", str(run), "--epochs", "1", "-q"]) == 0
    assert "already at epoch 2 of 1; nothing to train (give --epochs above 2" in caplog.text
    assert (run / "last" / "pisa.safetensors").read_bytes() == before


def test_resuming_a_finished_run_says_so_once_with_no_progress_bar(corpus, straight_ae, tmp_path, capsys, request):
    """`tsm train-gan --resume RUN` of a run at its last step drew its full progress bar, the 'already at step'
    warning glued to its end, then the bar again: stderr holds the warning alone, once (train-ae's too)."""
    import logging

    shown = logging.StreamHandler(sys.stderr)  # (as a terminal shows them: the warnings between the bar's draws)
    shown.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.getLogger("timestepmusic").addHandler(shown)
    request.addfinalizer(lambda: logging.getLogger("timestepmusic").removeHandler(shown))
    gan = tmp_path / "gan"
    sets = [f"--set={k}={v}" for k, v in (GAN | {"gan.minibatch_group": 2}).items() if k != "gan.steps"]  # (no warning)
    assert main(["train-gan", str(corpus), "--ae", str(straight_ae), "--out", str(gan), "-q", *sets, "--steps", "2"]) == 0
    capsys.readouterr()
    for command, run, said in (("train-gan", gan, "already at step 2 of 2"), ("train-ae", straight_ae,
                                                                             "already at epoch 2 of 2")):
        assert main([command, str(corpus), "--resume", str(run)]) == 0  # (no -q: a bar wherever there is one)
        err = capsys.readouterr().err
        assert err == (f"WARNING: {run} is {said}; nothing to train (give --{said.split()[2]}s above 2 to train "
                       "on)\n"), err


def test_resume_takes_the_runs_own_settings_repeated_and_refuses_others(corpus, straight_ae, tmp_path, capsys):
    """--set and --config with --resume go on where they set the run's own values (a script's first command line
    with --resume added) and are refused in one line naming the first they change, with both values."""
    run = tmp_path / "ae"
    shutil.copytree(straight_ae, run)
    same, other = tmp_path / "same.toml", tmp_path / "other.toml"
    same.write_text("[ae]\nlr = 0.001\nlatent = 4\n")
    other.write_text("[ae]\nlr = 0.001\nhidden = 32\n")
    for given in (["--set", "ae.lr=0.001"], ["--config", str(same)], ["--config", str(same), "--set", "ae.hidden=16"]):
        assert main(["train-ae", str(corpus), "--resume", str(run), *given, "--epochs", "1", "-q"]) == 0, given
    capsys.readouterr()
    refusals = {("--set", "ae.lr=3e-4"): "--set ae.lr=3e-4: a resumed run keeps its saved settings, so that it goes on "
                "exactly (ae.lr is 0.001 in the run, 0.0003 here); give --lr with --resume to change it from here on",
                ("--config", str(other)): f"--config {other}: a resumed run keeps its saved settings, so that it goes on "
                "exactly (ae.hidden is 16 in the run, 32 here); start a new run (--out RUN) to change it"}
    for given, said in refusals.items():
        assert main(["train-ae", str(corpus), "--resume", str(run), *given, "-q"]) == 2
        assert capsys.readouterr().err.strip() == f"error: {said}"
    gan = tmp_path / "gan"
    assert main(["train-gan", str(corpus), "--ae", str(straight_ae), "--out", str(gan), "--steps", "1", "-q",
                 *itertools.chain.from_iterable(("--set", f"{k}={v}") for k, v in GAN.items() if k != "gan.steps")]) == 0
    assert main(["train-gan", str(corpus), "--resume", str(gan), "--set", "gan.channels=8", "--steps", "2", "-q"]) == 0
    capsys.readouterr()
    assert main(["train-gan", str(corpus), "--resume", str(gan), "--set", "gan.channels=9", "-q"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --set gan.channels=9: a resumed run keeps its saved settings, so "
                                               "that it goes on exactly (gan.channels is 8 in the run, 9 here); start a "
                                               "new run (--init-from RUN: from its weights) to change it")


def test_the_python_verbs_refuse_an_existing_run_unless_overwrite(corpus, straight_ae, tmp_path, caplog):
    run = tmp_path / "ae"
    shutil.copytree(straight_ae, run)
    before = (run / "last" / "pisa.safetensors").read_bytes()
    with pytest.raises(ValueError, match="already holds a run"):
        train_autoencoder(corpus, run, Config().override(AE), progress=False)
    assert (run / "last" / "pisa.safetensors").read_bytes() == before
    gan = tmp_path / "gan"
    train_gan(corpus, run, gan, Config().override(GAN), progress=False, max_steps=1)
    with pytest.raises(ValueError, match="already holds a run"):
        train_gan(corpus, run, gan, Config().override(GAN), progress=False, max_steps=1)
    with pytest.raises(ValueError, match="the warm start"):  # nor, with overwrite, the run it starts from
        train_gan(corpus, None, gan, progress=False, max_steps=1, init_from=gan, overwrite=True)
    assert (gan / "last").is_dir()
    assert train_gan(corpus, run, gan, Config().override(GAN), progress=False, max_steps=1, overwrite=True)
    train_gan(corpus, None, gan, resume=True, progress=False, steps=1)
    assert "already at step 1 of 1; nothing to train (give --steps above 1" in caplog.text


def _training_lines(run: Path) -> list[dict]:
    """metrics.jsonl's lines of training figures, less what differs between two runs of the same steps (the time)."""
    return [{k: v for k, v in r.items() if k not in ("time", "steps_per_s", "chunks_per_s", "seconds")}
            for r in read_metrics(run / "metrics.jsonl") if "event" not in r]


def test_gan_logs_training_figures_between_validations_without_changing_what_it_trains(corpus, straight_ae, tmp_path):
    """gan.log_every: a line every N steps of each training figure's mean since the line before, and steps/s; the
    weights after the same steps are bit-identical with and without it, and a resumed run writes the same lines."""
    config = Config().override(GAN | {"gan.validate_every": 5, "gan.steps": 8})
    runs = {every: tmp_path / f"every{every}" for every in (0, 1, 2)}
    for every, run in runs.items():
        train_gan(corpus, straight_ae, run, config.override({"gan.log_every": every}), progress=False)
    for run in runs.values():
        _same_weights(runs[0] / "last", run / "last", ("generator", "critic"))
    each = _training_lines(runs[1])
    assert [r["step"] for r in each] == list(range(1, 9))
    assert [r["step"] for r in _training_lines(runs[2])] == [2, 4, 5, 6, 8]  # and at each validation
    assert [r["step"] for r in _training_lines(runs[0])] == [5, 8]
    line = _training_lines(runs[2])[1]  # step 4: the mean of steps 3 and 4
    assert line["critic_loss"] == pytest.approx((each[2]["critic_loss"] + each[3]["critic_loss"]) / 2)
    assert all(r["steps_per_s"] > 0 for r in read_metrics(runs[2] / "metrics.jsonl") if "event" not in r)
    resumed = tmp_path / "resumed"
    for stop in (3, 7):  # (stopped between lines: the resumed run's next line averages the same steps)
        train_gan(corpus, straight_ae, resumed, config.override({"gan.log_every": 2}), progress=False,
                  max_steps=stop, overwrite=True)
        train_gan(corpus, None, resumed, resume=True, progress=False)
        assert _training_lines(resumed) == _training_lines(runs[2])


def test_autoencoder_logs_training_figures_between_epochs_without_changing_what_it_trains(corpus, straight_ae,
                                                                                          tmp_path):
    """ae.log_every, as gan.log_every: a line every N steps of each batch figure's mean since the line before, the
    rest in the epoch's line; the weights bit-identical with and without it; a resumed run writes the same lines."""
    per_epoch = next(r["step"] for r in read_metrics(straight_ae / "metrics.jsonl") if "val_loss" in r)
    assert per_epoch >= 4  # (lines between epochs to check)
    runs = {every: tmp_path / f"every{every}" for every in (0, 1, 3)}
    for every, run in runs.items():
        train_autoencoder(corpus, run, Config().override(AE | {"ae.log_every": every}), progress=False)
    for run in runs.values():
        _same_weights(straight_ae / "last", run / "last")
    each = _training_lines(runs[1])
    assert [r["step"] for r in each] == list(range(1, 2 * per_epoch + 1))
    epoch_ends = [per_epoch, 2 * per_epoch]
    assert [r["step"] for r in _training_lines(runs[0])] == epoch_ends
    threes = [r["step"] for r in _training_lines(runs[3])]
    assert threes == sorted({*range(3, 2 * per_epoch + 1, 3), *epoch_ends})
    line = next(r for r in _training_lines(runs[3]) if r["step"] == 3)  # the mean of steps 1, 2 and 3
    for key in ("batch_loss", "batch_element_loss", "batch_size_loss", "batch_size_accuracy"):
        assert line[key] == pytest.approx(sum(r[key] for r in each[:3]) / 3), key
    after = next(r["step"] for r in _training_lines(runs[3]) if r["step"] > per_epoch)  # since the epoch's line
    assert _training_lines(runs[3])[threes.index(after)]["batch_loss"] == pytest.approx(
        sum(r["batch_loss"] for r in each[per_epoch:after]) / (after - per_epoch))
    assert all(r["steps_per_s"] > 0 for r in read_metrics(runs[3] / "metrics.jsonl") if "batch_loss" in r)
    assert [r["train_loss"] for r in _training_lines(runs[3]) if "val_loss" in r] == [
        r["train_loss"] for r in _training_lines(runs[0])]
    resumed = tmp_path / "resumed"
    for stop in (4, per_epoch + 1, per_epoch):  # (between lines, and at an epoch's end before its validation)
        train_autoencoder(corpus, resumed, Config().override(AE | {"ae.log_every": 3}), progress=False,
                          max_steps=stop, overwrite=True)
        train_autoencoder(corpus, resumed, resume=True, progress=False)
        assert _training_lines(resumed) == _training_lines(runs[3]), stop
        _same_weights(straight_ae / "last", resumed / "last")


def test_steps_per_s_counts_only_the_steps_trained_not_start_up_nor_validation(corpus, straight_ae, tmp_path,
                                                                                monkeypatch):
    import timestepmusic.train.sequence as train_gan_module

    run = tmp_path / "run"
    config = Config().override(GAN | {"gan.validate_every": 5, "gan.steps": 6, "gan.log_every": 0})
    train_gan(corpus, straight_ae, run, config, progress=False, max_steps=5)

    def slowly(function):
        def slow(*args, **kwargs):
            time.sleep(1.0)
            return function(*args, **kwargs)
        return slow

    monkeypatch.setattr(train_gan_module, "restore_training", slowly(train_gan_module.restore_training))
    monkeypatch.setattr(train_gan_module, "held_out", slowly(train_gan_module.held_out))
    last = train_gan(corpus, None, run, resume=True, progress=False)  # one step after resuming
    assert last["step"] == 6 and last["steps_per_s"] > 2  # (a tiny step takes milliseconds; start-up 1 s, validation 1 s)


def test_gan_killed_during_a_checkpoint_write_logs_each_step_once(corpus, straight_ae, tmp_path, monkeypatch):
    import timestepmusic.train.sequence as train_gan_module

    straight = tmp_path / "straight"
    train_gan(corpus, straight_ae, straight, Config().override(GAN), progress=False)
    run = tmp_path / "run"
    train_gan(corpus, straight_ae, run, Config().override(GAN), progress=False, max_steps=2)
    seen: list[str] = []
    monkeypatch.setattr(train_gan_module, "write_checkpoint", _faulty("rename", seen))
    with pytest.raises(Crash):  # step 3 logged, then killed while writing its `last`
        train_gan(corpus, None, run, resume=True, progress=False)
    monkeypatch.setattr(train_gan_module, "write_checkpoint", write_checkpoint)
    assert "rename" in seen and read_meta(run / "last")[1]["step"] == 2
    train_gan(corpus, None, run, resume=True, progress=False)
    steps = [r["step"] for r in read_metrics(run / "metrics.jsonl") if "val_wasserstein" in r]
    assert steps == [1, 2, 3, 4, 5, 6]
    _same_weights(straight / "last", run / "last", ("generator", "critic"))


ONE_THREAD = os.environ | {"OMP_NUM_THREADS": "1"}  # the same float sums in every process


def _tsm(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "timestepmusic", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ONE_THREAD)


def _kill_at(proc: subprocess.Popen, run: Path, step: int, delay_s: float = 0.0, sig: int = signal.SIGKILL) -> None:
    """SIGKILL (or `sig`) `proc` `delay_s` after RUN/last reaches `step` (or when the run ends): at a moment of the
    next steps that the test does not choose, possibly in the middle of a checkpoint write."""
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if json.loads((run / "last" / "config.json").read_text())["step"] >= step:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.002)
    time.sleep(delay_s)
    proc.send_signal(sig)
    proc.wait()


@pytest.mark.parametrize("kind, sig", [("ae", signal.SIGKILL), ("gan", signal.SIGKILL), ("ae", signal.SIGINT),
                                       ("gan", signal.SIGINT)])
def test_training_killed_at_a_random_step_resumes_to_the_uninterrupted_result(kind, sig, corpus, straight_ae,
                                                                               tmp_path):
    """Killed (SIGKILL), or stopped with Ctrl-C (SIGINT: held to the step's end, then saved), at random moments, and
    resumed: the same weights as a run never stopped."""
    rng = random.Random(15 if sig == signal.SIGKILL else 16)
    sets = [f"--set={k}={v}" for k, v in (AE if kind == "ae" else GAN).items()]
    if kind == "ae":
        command, extra, keys = "train-ae", ["--checkpoint-minutes", "0.0001"], ("pisa",)
    else:
        command, extra, keys = "train-gan", ["--ae", str(straight_ae)], ("generator", "critic")
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert _tsm(command, str(corpus), "--out", str(straight), "-q", *extra, *sets).wait() == 0
    total = read_meta(straight / "last")[1]["step"]
    proc = _tsm(command, str(corpus), "--out", str(run), "-q", *extra, *sets)
    _kill_at(proc, run, rng.randint(1, total - 1), delay_s=rng.uniform(0.0, 0.05), sig=sig)
    for _ in range(3):  # killed again at a random moment of the resumed run, then left to finish
        if read_meta(run / "last")[1]["step"] >= total:
            break
        before = read_meta(run / "last")[1]["step"]
        proc = _tsm(command, str(corpus), "--resume", str(run), "-q")
        _kill_at(proc, run, before + 1, delay_s=rng.uniform(0.0, 0.1), sig=sig)
    done = subprocess.run([sys.executable, "-m", "timestepmusic", command, str(corpus), "--resume", str(run), "-q"],
                          capture_output=True, text=True, env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    _same_weights(straight / "last", run / "last", keys)
    steps = [r["step"] for r in read_metrics(run / "metrics.jsonl") if "val_loss" in r or "val_wasserstein" in r]
    assert len(steps) == len(set(steps))


def test_reconstruct_reaches_the_shipped_and_a_gan_runs_autoencoder(corpus, straight_ae, tmp_path, capsys):
    source = next((corpus.parent / "midi").rglob("*.mid"))
    assert main(["reconstruct", str(source), "-o", str(tmp_path / "shipped.mid")]) == 0  # the shipped model's
    gan = tmp_path / "gan"
    train_gan(corpus, straight_ae, gan, Config().override(GAN | {"gan.steps": 1}), progress=False)
    for target in (gan, gan / "last"):
        assert main(["reconstruct", str(source), "--ae", str(target), "-o", str(tmp_path / f"{target.name}.mid")]) == 0
    assert (tmp_path / "last.mid").is_file()
    assert (tmp_path / "shipped.mid").is_file() and (tmp_path / "gan.mid").is_file()
    capsys.readouterr()


def test_swapped_or_misfit_weights_are_refused_in_one_line(straight_ae, tmp_path):
    from timestepmusic.autoencoder import Autoencoder

    run = tmp_path / "ae"
    shutil.copytree(straight_ae, run)
    other = tmp_path / "other"
    train_autoencoder(Path(read_meta(run / "last")[1]["corpus"]["root"]), other,
                      Config().override(AE | {"ae.seed": 5, "ae.epochs": 1}), progress=False)
    shutil.copy(other / "last" / "pisa.safetensors", run / "last" / "pisa.safetensors")  # same shape, other weights
    with pytest.raises(ValueError, match=r"not the weights config\.json was saved with") as caught:
        Autoencoder.load(run)
    assert "\n" not in str(caught.value) and "pisa.safetensors" in str(caught.value)
    wide = tmp_path / "wide"
    train_autoencoder(Path(read_meta(run / "last")[1]["corpus"]["root"]), wide,
                      Config().override(AE | {"ae.hidden": 24, "ae.epochs": 1}), progress=False)
    meta = json.loads((run / "last" / "config.json").read_text())
    meta["weights"]["pisa"] = json.loads((wide / "last" / "config.json").read_text())["weights"]["pisa"]
    (run / "last" / "config.json").write_text(json.dumps(meta))
    shutil.copy(wide / "last" / "pisa.safetensors", run / "last" / "pisa.safetensors")
    with pytest.raises(ValueError, match="do not fit the model") as caught:
        Autoencoder.load(run)
    assert "\n" not in str(caught.value) and "of another shape" in str(caught.value)
    shutil.rmtree(run)
    shutil.copytree(straight_ae, run)
    weights = load_file(str(run / "last" / "pisa.safetensors"))
    name = next(iter(weights))
    weights[name] = torch.full_like(weights[name], float("nan"))  # a diverged run's, its config saying so
    save_file(weights, str(run / "last" / "pisa.safetensors"))
    meta = json.loads((run / "last" / "config.json").read_text())
    meta["weights"]["pisa"] = hashlib.sha256((run / "last" / "pisa.safetensors").read_bytes()).hexdigest()
    (run / "last" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=rf"pisa.safetensors: its weights hold NaN or infinite values \({name}\)"):
        Autoencoder.load(run)


@pytest.mark.parametrize("command", ["generate", "reconstruct", "plot", "evaluate"])
def test_output_path_that_is_a_file_is_one_line(command, corpus, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    source = next((corpus.parent / "midi").rglob("*.mid"))
    argv = {"generate": ["generate", "-n", "1", "-o", str(blocker / "sub")],
            "reconstruct": ["reconstruct", str(source), "-o", str(blocker / "x.mid")],
            "plot": ["plot", str(source), "-o", str(blocker / "x.png")],
            "evaluate": ["evaluate", str(source.parent), "--real", str(corpus), "-o", str(blocker),
                         "--seconds", "4"]}[command]  # (excerpts no longer than the corpus's performances)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(blocker) in err, err
    assert blocker.read_text() == "mine"


def test_cli_frictions(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("tsm ")
    with pytest.raises(SystemExit):
        main(["stats", "x", "--no-such-flag"])
    err = capsys.readouterr().err
    assert err == "error: unrecognized arguments: --no-such-flag (see tsm stats --help)\n", err
    assert main(["stats", "/nonexistent/corpus", "-v"]) == 2  # -v after the command is accepted
    capsys.readouterr()
    assert main(["prepare", str(Path(__file__).parent), "/nonexistent/mine", "--out", "/nonexistent/c"]) == 2
    assert capsys.readouterr().err.strip() == ("error: /nonexistent/mine: no such file or folder; nothing was "
                                               "prepared")  # (a typo in a source: said, not skipped)
    with pytest.raises(SystemExit):
        main(["train-ae", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default 10" in help_text and "--checkpoint-minutes" in help_text and "--overwrite" in help_text
    with pytest.raises(SystemExit):
        main(["evaluate-ae", "--help"])
    assert "which split to evaluate" in " ".join(capsys.readouterr().out.split())


def test_evaluate_warns_on_a_small_real_set_and_can_link_audio(corpus, tmp_path):
    from timestepmusic.evaluate.report import evaluate_generated

    generated = tmp_path / "generated"
    generated.mkdir()
    source = next((corpus.parent / "midi").rglob("*.mid"))
    shutil.copy(source, generated / "a.mid")
    wav = generated / "a.wav"  # a WAV beside the MIDI file is used as its audio
    wav.write_bytes(b"RIFF" + bytes(4096))
    report = evaluate_generated(generated, corpus, tmp_path / "report", split="train", seconds=2.0, link_audio=True)
    assert any("real excerpts" in n and "rough" in n for n in report["notes"])
    assert any("generated excerpts" in n and "rough" in n for n in report["notes"])  # a few pieces: no verdict
    page = (tmp_path / "report" / "report.html").read_text()
    assert "src='audio/a.wav'" in page and "data:audio" not in page
    assert (tmp_path / "report" / "audio" / "a.wav").read_bytes() == wav.read_bytes()
    embedded = evaluate_generated(generated, corpus, tmp_path / "embedded", split="train", seconds=2.0)
    assert "data:audio/wav" in (tmp_path / "embedded" / "report.html").read_text()
    assert not embedded["link_audio"]


def test_a_write_that_fails_names_the_file_asked_for_not_its_temporary(tmp_path):
    from timestepmusic.files import atomic_path

    target = tmp_path / "sample_0_000.mid"
    with pytest.raises(PermissionError) as failed:
        with atomic_path(target) as temporary:
            raise PermissionError(13, "Permission denied", str(temporary))  # as opening it on a read-only disk would
    assert failed.value.filename == str(target) and failed.value.errno == 13
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError) as other:  # another path's error is left as it is
        with atomic_path(target):
            raise OSError(28, "No space left on device", str(tmp_path / "elsewhere"))
    assert other.value.filename == str(tmp_path / "elsewhere")


@pytest.mark.parametrize("after_s", [0.3, 0.5, 0.8])
def test_ctrl_c_while_prepare_parses_in_workers_ends_it_at_once(after_s, shared_data, tmp_path):
    folder = shared_data  # (984 files: about a second of parsing in two worker processes)
    proc = subprocess.Popen([sys.executable, "-m", "timestepmusic", "prepare", str(folder), "--out", str(tmp_path / "c"),
                             "-q", "--set", "corpus.workers=2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after_s)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the process and its workers alike
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("prepare hung after Ctrl-C")
    assert "Traceback" not in err
    assert (proc.returncode, err.strip()) == (130, "interrupted") or (proc.returncode == 0 and "984 performances" in out)


def test_a_run_is_trained_by_one_process_and_never_inside_another(corpus, straight_ae, tmp_path, capsys):
    from timestepmusic.checkpoint import check_run_folder, held_run

    run = tmp_path / "ae"
    shutil.copytree(straight_ae, run)
    before = (run / "metrics.jsonl").read_text()
    resume = ["train-ae", str(corpus), "--resume", str(run), "-q", "--epochs", "2"]
    with held_run(run):  # another process training it now
        assert main(resume) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: {run}: another process is training this run now; wait for it to end, or give another --out"
        for flags in ([], ["--overwrite"]):  # a new run asked into it: the same reason, not what its folder holds
            assert main(["train-ae", str(corpus), "--out", str(run), "-q", *flags]) == 2
            assert "another process is training this run now" in capsys.readouterr().err
    assert (run / "metrics.jsonl").read_text() == before  # nothing mixed in
    link = tmp_path / "link"
    link.symlink_to(run)
    with held_run(link):  # the same run by another name
        assert main(resume) == 2
        assert "another process is training this run now" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*.lock"))  # let go: no lock file left beside the run
    with held_run(run), pytest.raises(ValueError, match="another process is training"), held_run(run):
        pass  # (a lock file made again is held again)
    unfinished = tmp_path / "unfinished"
    (unfinished / "autoencoder").mkdir(parents=True)  # stopped before its first checkpoint
    with pytest.raises(ValueError, match="stopped before its first checkpoint .* --overwrite"):
        check_run_folder(unfinished)
    for inside in (run / "sub", run / "last" / "x"):  # its folders are replaced as it is resumed
        assert main(["train-ae", str(corpus), "--out", str(inside), "-q", "--epochs", "1"]) == 2
        assert "holds a run or a checkpoint" in capsys.readouterr().err
        assert not inside.exists()
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "config.json").write_text("{}")  # a folder of the user's with a config of its own
    assert check_run_folder(tmp_path / "project" / "runs" / "new") == []
    assert main(resume) == 0  # the lock went with the other process


@pytest.mark.parametrize("kind", ["ae", "gan"])
def test_an_interrupted_run_says_where_in_its_log(kind, corpus, straight_ae, tmp_path, monkeypatch, capsys):
    from timestepmusic.train import budget

    sets = [f"--set={k}={v}" for k, v in (AE if kind == "ae" else GAN).items()]
    command, extra = ("train-ae", ["--epochs", "2"]) if kind == "ae" else ("train-gan", ["--ae", str(straight_ae)])
    calls = []

    def interrupted_third(self, *args):  # Ctrl-C as the third step ends
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return False
    monkeypatch.setattr(budget.Budget, "spent_here" if kind == "ae" else "spent", interrupted_third)
    run = tmp_path / "run"
    assert main([command, str(corpus), "--out", str(run), "-q", *extra, *sets]) == 130
    assert "interrupted" in capsys.readouterr().err
    last = read_metrics(run / "metrics.jsonl")[-1]
    assert last["event"] == "interrupted" and last["step"] == read_meta(run / "last")[1]["step"]


@pytest.mark.parametrize("kind", ["ae", "gan"])
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_run_stopped_by_sigterm_exits_143_as_one_stopped_by_ctrl_c_exits_130(kind, sig, status, corpus, straight_ae,
                                                                               tmp_path, monkeypatch, request, capsys,
                                                                               caplog):
    """SIGTERM (`kill`, `timeout`, a scheduler's time limit) is held to a step's end and saved as Ctrl-C is, but tsm
    then exited 130, Ctrl-C's status, where a process SIGTERM ends exits 143 (128 + 15), the status a scheduler or a
    script that sent it looks for; the lines that say the run was interrupted name SIGTERM, not Ctrl-C's words."""
    from timestepmusic.train import budget

    def not_held(signum, frame):  # (where training does not hold it: a failure, not the end of pytest)
        raise RuntimeError(f"{signal.Signals(signum).name} was not held to the step's end")

    previous = signal.signal(sig, not_held)
    request.addfinalizer(lambda: signal.signal(sig, previous))
    sets = [f"--set={k}={v}" for k, v in (AE if kind == "ae" else GAN).items()]
    command, extra = ("train-ae", ["--epochs", "2"]) if kind == "ae" else ("train-gan", ["--ae", str(straight_ae)])
    calls = []

    def signalled_third(self, *args):  # the signal lands as the third step ends
        calls.append(args)
        if len(calls) == 3:
            os.kill(os.getpid(), sig)
        return False
    monkeypatch.setattr(budget.Budget, "spent_here" if kind == "ae" else "spent", signalled_third)
    run = tmp_path / "run"
    assert main([command, str(corpus), "--out", str(run), "-q", *extra, *sets]) == status
    by = " by SIGTERM" if sig == signal.SIGTERM else ""
    assert capsys.readouterr().err.splitlines()[-1] == f"interrupted{by}"
    assert f"interrupted{by}: saved {run}/last at " in caplog.text
    last = read_metrics(run / "metrics.jsonl")[-1]
    assert last["event"] == "interrupted" and last["step"] == read_meta(run / "last")[1]["step"] == 3


def test_a_full_disk_during_prepare_stops_it_and_marks_no_file_bad(tmp_path, monkeypatch):
    """The parse cache cannot be written (a full disk): prepare stops with one line naming the cache, and a rerun with
    room parses every file (none was recorded as a bad file)."""
    import errno

    import timestepmusic.parse_files as parse_files

    rng = np.random.default_rng(2)
    for piece in range(3):
        write_events(_performance(rng, 4.0), tmp_path / "midi" / f"piece{piece}.mid")
    config = Config().override({"corpus.workers": 1})
    savez = np.savez

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(parse_files.np, "savez", full)
    with pytest.raises(ValueError, match=r"cache: cannot write the parse cache \(No space left on device\)"):
        prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False)
    assert not list((tmp_path / "corpus" / "cache").glob(".*tmp*"))  # no half-written cache entry left
    monkeypatch.setattr(parse_files.np, "savez", savez)
    report = prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False)
    assert report.corpus.num_tracks == 3 and not report.skipped


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_in_the_middle_of_a_step_saves_the_whole_step(corpus, straight_ae, tmp_path, monkeypatch, request,
                                                            sig):
    """Ctrl-C lands inside a step (between the critic's and the generator's update): the step is finished, then saved,
    and the resumed run ends with the weights of a run never stopped. A second Ctrl-C stops at once, saving nothing.
    SIGTERM (`kill`, `timeout`, a scheduler's time limit) is held as Ctrl-C is: it ended the run at once, losing
    every step since the last checkpoint."""
    import timestepmusic.train.sequence as train_gan_module
    from timestepmusic.train.interrupts import StopNow

    def not_held(signum, frame):  # (where training does not hold it: a failure, not the end of pytest)
        raise RuntimeError(f"{signal.Signals(signum).name} was not held to the step's end")

    previous = signal.signal(sig, not_held)
    request.addfinalizer(lambda: signal.signal(sig, previous))
    config = Config().override(GAN)
    straight = tmp_path / "straight"
    train_gan(corpus, straight_ae, straight, config, progress=False)
    apply, calls = train_gan_module.apply, []

    def interrupted(times: int):
        def apply_then_ctrl_c(update, *args):
            apply(update, *args)
            calls.append(update.part)
            if len(calls) in range(5, 5 + times):  # step 3's critic update (two updates a step), then each next one
                os.kill(os.getpid(), sig)
        return apply_then_ctrl_c
    run = tmp_path / "run"
    monkeypatch.setattr(train_gan_module, "apply", interrupted(1))
    with pytest.raises(KeyboardInterrupt):
        train_gan(corpus, straight_ae, run, config, progress=False)
    assert read_meta(run / "last")[1]["step"] == 3  # step 3 finished, then saved
    monkeypatch.setattr(train_gan_module, "apply", apply)
    train_gan(corpus, None, run, resume=True, progress=False)
    _same_weights(straight / "last", run / "last", ("generator", "critic"))
    twice = tmp_path / "twice"
    calls.clear()
    monkeypatch.setattr(train_gan_module, "apply", interrupted(2))
    with pytest.raises(StopNow):
        train_gan(corpus, straight_ae, twice, config, progress=False)
    assert read_meta(twice / "last")[1]["step"] == 2  # the checkpoint before: nothing saved mid-step


def test_two_processes_writing_one_corpus_or_one_seeds_pieces_are_refused(corpus, tmp_path, capsys):
    """While one prepare writes a corpus, or one generate a seed's pieces into a folder, a second is refused in one
    line, nothing written (another seed may be written there meanwhile); once it ends, no lock file stays."""
    from timestepmusic.files import held_lock

    out = tmp_path / "pieces"
    with held_lock(out / ".generate-seed3.lock", "busy"):  # as generate --seed 3 -o pieces holds it
        assert main(["generate", "-n", "1", "--seconds", "1", "--seed", "3", "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"error: -o {out}: another tsm generate is writing --seed 3's pieces into it now; wait for it "
                       "to end, or give another -o or --seed")
        assert [p.name for p in out.iterdir()] == [".generate-seed3.lock"]  # nothing written
        assert main(["generate", "-n", "1", "--seconds", "1", "--seed", "4", "-o", str(out)]) == 0  # another seed
    assert not list(out.glob(".*.lock"))
    midi = corpus.parent / "midi"
    with held_lock(tmp_path / "corpus" / ".prepare.lock", "busy"):
        with pytest.raises(ValueError, match="another process is preparing this corpus now"):
            prepare([midi], tmp_path / "corpus", progress=False)
    prepare([midi], tmp_path / "corpus", progress=False)
    assert not list((tmp_path / "corpus").glob(".*.lock"))
    assert main(["generate", "-n", "1", "--seconds", "1", "--model", "nonexistent", "-o", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()  # (a folder made for the lock, left empty: removed again)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the workers end with their parent on Linux")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_prepare_killed_while_parsing_leaves_no_worker_behind(sig, shared_data, tmp_path):
    """prepare killed (or stopped with SIGTERM) while its workers parse: they end too, not left waiting for ever on a
    queue nobody reads."""
    proc = subprocess.Popen([sys.executable, "-m", "timestepmusic", "prepare", str(shared_data), "--out",
                             str(tmp_path / "c"), "-q", "--set", "corpus.workers=2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == proc.pid:  # (its parent's pid)
                found.append(int(stat.parent.name))
        return found
    deadline = time.monotonic() + 20
    while len(workers := children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) >= 2
    time.sleep(0.3)  # parsing
    proc.send_signal(sig)
    proc.wait()
    def running(pid: int) -> bool:  # (a zombie has ended)
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(running, workers)):
        time.sleep(0.1)
    left = [pid for pid in workers if running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers left running: {left}"


@contextlib.contextmanager
def _forked_workers():
    """Worker processes forked from this one (they see what a test patched), whatever the default start method."""
    import multiprocessing

    method = multiprocessing.get_start_method()
    multiprocessing.set_start_method("fork", force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(method, force=True)


@contextlib.contextmanager
def _no_longer_than(seconds: int, what: str):
    """Fail, not hang, where `what` has not ended within `seconds` (SIGALRM interrupts the wait)."""
    def hung(signum, frame):
        raise TimeoutError(f"{what} hung")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _killed_once_it_writes() -> None:
    """A thread that kills this process with SIGKILL as soon as it has written anything (Linux: /proc/self/io's
    wchar, all its threads together, counted as each write ends): a large message through a pipe is killed halfway,
    its 4-byte length written, its body not (multiprocessing writes them apart)."""
    def written() -> int:
        return int(Path("/proc/self/io").read_text().split("wchar:")[1].split()[0])
    start = written()

    def watch() -> None:
        while written() == start:
            time.sleep(0.0002)
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, daemon=True).start()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers forked; /proc/self/io")
@pytest.mark.parametrize("when, doomed_piece", [
    ("parsing", 4),  # (shares of two workers: 0, 2, 4, … and 1, 3, 5, …; 6, 8 and 10 are left to another worker)
    ("sending", 10),  # (the last of its share: nothing is written after it, so that its result is what is cut)
])
def test_a_worker_killed_while_prepare_parses_costs_one_file_said_not_a_hang(when, doomed_piece, tmp_path,
                                                                            monkeypatch):
    """A worker killed (the out-of-memory killer's SIGKILL) as it parses a file, or halfway through sending what it
    parsed: prepare goes on and ends, that file skipped with one line that names it and says why, every other file in
    the corpus; the next prepare parses it again (it is not recorded as a bad file)."""
    import timestepmusic.parse_files as parse_files

    rng = np.random.default_rng(4)
    for piece in range(12):
        write_events(_performance(rng, 2.0), tmp_path / "midi" / f"piece{piece:02d}.mid")
    doomed = str(tmp_path / "midi" / f"piece{doomed_piece:02d}.mid")
    parse = parse_files._parse_file

    def killed_on_doomed(job: tuple) -> dict:
        if job[0] != doomed:
            return parse(job)
        if when == "parsing":
            os.kill(os.getpid(), signal.SIGKILL)
        result = parse(job) | {"ballast": np.ones(100_000_000 // 8)}  # (a result that takes a while to send)
        _killed_once_it_writes()
        return result
    monkeypatch.setattr(parse_files, "_parse_file", killed_on_doomed)
    config = Config().override({"corpus.workers": 2})
    with _forked_workers(), _no_longer_than(30, "prepare with a killed worker"):
        report = prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False)
    assert report.corpus.num_tracks == 11
    assert [s["file"] for s in report.skipped] == [doomed]
    reason = report.skipped[0]["reason"]
    assert "killed by SIGKILL" in reason and "\n" not in reason
    monkeypatch.setattr(parse_files, "_parse_file", parse)
    again = prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False)
    assert again.corpus.num_tracks == 12 and not again.skipped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers forked")
def test_a_parser_fault_on_a_file_skips_it_in_one_line_and_workers_killed_again_and_again_stop_prepare(tmp_path,
                                                                                                       monkeypatch):
    """An exception the parser does not expect (a bug) on one file: that file skipped with one line naming the
    exception, no worker lost; every worker killed as it starts a file: prepare stops in one line after
    KILLED_IN_A_ROW, rather than forking a worker for each file."""
    import timestepmusic.parse_files as parse_files

    rng = np.random.default_rng(5)
    for piece in range(12):
        write_events(_performance(rng, 2.0), tmp_path / "midi" / f"piece{piece:02d}.mid")
    faulty = str(tmp_path / "midi" / "piece03.mid")
    parse = parse_files._parse_file

    def fails_on_one(job: tuple) -> dict:
        if job[0] == faulty:
            raise TypeError("an unexpected None")
        return parse(job)
    monkeypatch.setattr(parse_files, "_parse_file", fails_on_one)
    config = Config().override({"corpus.workers": 2})
    with _forked_workers(), _no_longer_than(30, "prepare with a parser fault"):
        report = prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False)
    assert report.corpus.num_tracks == 11 and [s["file"] for s in report.skipped] == [faulty]
    assert report.skipped[0]["reason"] == "the parser failed (TypeError: an unexpected None)"
    alone = prepare([tmp_path / "midi"], tmp_path / "alone", Config().override({"corpus.workers": 1}), progress=False)
    assert [s["reason"] for s in alone.skipped] == [report.skipped[0]["reason"]]  # in prepare's own process alike
    monkeypatch.setattr(parse_files, "_parse_file", parse)  # the parser mended: the file parsed (the parser's
    assert prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False).corpus.num_tracks == 12  # fault)

    def always_killed(job: tuple) -> dict:
        os.kill(os.getpid(), signal.SIGKILL)
    monkeypatch.setattr(parse_files, "_parse_file", always_killed)
    with _forked_workers(), _no_longer_than(30, "prepare with every worker killed"):
        with pytest.raises(ValueError, match=f"{max(parse_files.KILLED_IN_A_ROW, 4)} parsing processes in a row "
                                             "were killed") as stopped:
            prepare([tmp_path / "midi"], tmp_path / "again", config, progress=False)
    assert "\n" not in str(stopped.value) and "corpus.workers=1" in str(stopped.value)


def test_settings_that_are_not_finite_are_refused_and_a_diverged_run_stops_unsaved(corpus, tmp_path, capsys):
    """`--set ae.lr=inf` (or a scalar where two numbers go) is refused in one line naming the key; a run whose loss
    becomes NaN stops with one line, and what it saved holds no NaN."""
    for bad, said in (("ae.lr=inf", "--set ae.lr=inf: expected a finite number, got inf"),
                      ("gan.betas=0.5", "--set gan.betas=0.5: expected 2 numbers in brackets"),
                      ("chunks.chunk_seconds=nan", "--set chunks.chunk_seconds=nan: expected a finite number")):
        assert main(["train-ae", str(corpus), "--out", str(tmp_path / "x"), "-q", "--set", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert said in err and "\n" not in err
    run = tmp_path / "wild"
    sets = [f"--set={k}={v}" for k, v in (AE | {"ae.lr": 1e30, "ae.epochs": 3}).items()]
    assert main(["train-ae", str(corpus), "--out", str(run), "-q", *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert "training diverged at step" in err and "with a lower learning rate" in err and "\n" not in err
    for saved in run.glob("*/pisa.safetensors"):
        assert all(torch.isfinite(t).all() for t in load_file(str(saved)).values())
    assert not (run / "metrics.jsonl").exists() or "NaN" not in (run / "metrics.jsonl").read_text()


def test_a_full_disk_while_a_checkpoint_is_written_is_one_line_and_leaves_no_half_folder(corpus, tmp_path,
                                                                                         monkeypatch, capsys):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(checkpoint, "save_tensors", full)
    run = tmp_path / "ae"
    sets = [f"--set={k}={v}" for k, v in AE.items()]
    assert main(["train-ae", str(corpus), "--out", str(run), "-q", *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{run}/best: " in err and "no space left" in err and "\n" not in err
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no .best.tmp, .last.tmp left


@pytest.mark.parametrize("edit, said", [
    (lambda meta: {"kind": "gan"}, "corrupt checkpoint config ('config' missing or not a dict)"),
    (lambda meta: [1, 2], "corrupt checkpoint config (a JSON list, not an object)"),
    (lambda meta: meta | {"normaliser": None}, "corrupt checkpoint config ('normaliser' missing or not a dict)"),
])
def test_a_hand_edited_model_or_corpus_config_is_one_line(edit, said, corpus, tmp_path, capsys):
    from timestepmusic.shipped import resolve_model

    model = tmp_path / "model"
    shutil.copytree(resolve_model("default"), model)
    (model / "config.json").write_text(json.dumps(edit(json.loads((model / "config.json").read_text()))))
    assert main(["generate", "--model", str(model), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {model / 'config.json'}: {said}"
    broken = tmp_path / "corpus"
    broken.mkdir()
    (broken / "corpus.json").write_text(json.dumps({"format": 1}))
    assert main(["stats", str(broken)]) == 2
    assert "corrupt corpus manifest (its key or tracks missing)" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver, as Python 3.14 starts processes on Linux")
def test_prepare_parses_in_workers_started_by_a_fork_server(tmp_path):
    import multiprocessing

    rng = np.random.default_rng(3)
    for piece in range(12):
        write_events(_performance(rng, 2.0), tmp_path / "midi" / f"piece{piece}.mid")
    method = multiprocessing.get_start_method()
    multiprocessing.set_start_method("forkserver", force=True)
    try:
        report = prepare([tmp_path / "midi"], tmp_path / "corpus", Config().override({"corpus.workers": 2}),
                         progress=False)
    finally:
        multiprocessing.set_start_method(method, force=True)
    assert report.corpus.num_tracks == 12


def test_a_lock_file_that_cannot_be_made_is_said_not_waited_on(tmp_path):
    from timestepmusic.files import held_lock

    (tmp_path / ".run.lock").symlink_to(tmp_path / "gone" / "x")  # a link to nowhere where the lock goes
    with pytest.raises(FileNotFoundError), held_lock(tmp_path / ".run.lock", "busy"):
        pass


def test_a_folder_that_may_not_be_written_is_named_as_given_not_its_lock(corpus, tmp_path, monkeypatch, capsys):
    """generate, train-ae and prepare into a read-only folder: one line naming the folder the user gave (staged: as
    root, as these tests may run, chmod stops no write)."""
    from timestepmusic import files

    def refused(path, *args, **kwargs):  # the hidden lock file is the first thing each writes into the folder
        if Path(path).name.endswith(".lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(files, "open", refused, raising=False)
    ro = tmp_path / "ro"
    ro.mkdir()
    for argv, given in ((["generate", "-n", "1", "--seconds", "1", "-o", f"{ro}/"], f"{ro}/"),
                        (["train-ae", str(corpus), "--out", str(ro / "ae"), "-q"], str(ro / "ae")),
                        (["prepare", str(corpus.parent / "midi"), "--out", str(ro / "corpus"), "-q"], str(ro / "corpus"))):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: {given}: cannot write here (permission denied)", err
    assert list(ro.iterdir()) == []


def test_weights_are_readable_as_any_file_the_user_writes(tmp_path):
    from timestepmusic.latents import write_codebook

    mask = os.umask(0o027)  # a group that may read, others not
    try:
        folder = write_checkpoint(tmp_path / "run", "last", {"step": 1}, {"generator": torch.nn.Linear(2, 2)},
                                  {"generator": torch.optim.Adam(torch.nn.Linear(2, 2).parameters())},
                                  {"torch": torch.get_rng_state()})
        write_codebook(tmp_path / "codebook.safetensors", torch.zeros(3, 2))
        written = [*folder.glob("*.safetensors"), tmp_path / "codebook.safetensors"]
    finally:
        os.umask(mask)
    assert len(written) == 4  # weights, optimizer, random state; a codebook
    for path in written:  # (safetensors writes its files 0600: colleagues sharing a run read its config, not these)
        assert path.stat().st_mode & 0o777 == 0o640, path.name


def test_weights_are_written_where_the_file_system_keeps_no_modes(tmp_path, monkeypatch):
    """A FAT drive or some network shares refuse chmod (EPERM): the checkpoint is written all the same, as before
    save_tensors made its files readable as the umask says; it was refused with the whole checkpoint."""
    import errno

    from timestepmusic import files

    def refused(*args, **kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
    monkeypatch.setattr(files.os, "chmod", refused)
    folder = write_checkpoint(tmp_path / "run", "last", {"step": 1}, {"generator": torch.nn.Linear(2, 2)})
    assert load_file(folder / "generator.safetensors").keys() == {"weight", "bias"}


def test_a_file_whose_long_name_fits_is_written_though_its_temporary_would_not(tmp_path):
    """A name of 241 characters is a file's name the disk keeps; its temporary (.NAME.PID.tmp) would pass 255 bytes:
    `tsm plot LONG.mid` was refused 'File name too long', naming the hidden temporary. Now it is written, and two such
    names alike at the start have temporaries of their own."""
    from timestepmusic.files import atomic_path, temporary_name

    rng = np.random.default_rng(3)
    midi = write_events(_performance(rng, 2.0), tmp_path / ("é" * 120 + ".mid"))  # 244 bytes
    assert midi.is_file() and [p.name for p in tmp_path.iterdir()] == [midi.name]
    with atomic_path(tmp_path / ("y" * 250)) as folder:  # (a folder too)
        folder.mkdir()
    assert (tmp_path / ("y" * 250)).is_dir()
    first, second = (temporary_name("x" * 250 + tail, ".123456.tmp") for tail in ("a", "b"))
    assert first != second and max(len(os.fsencode(first)), len(os.fsencode(second))) <= 255
    assert temporary_name("a.mid", ".7.tmp") == ".a.mid.7.tmp"  # (a short name's as before)


def test_ctrl_c_while_a_wav_renders_leaves_no_half_file_and_the_earlier_one_whole(tmp_path, monkeypatch):
    """Ctrl-C while FluidSynth writes (`tsm plot a.mid --wav`): a half-written .a.wav.tmp, megabytes of it, stayed in
    the user's folder. Now nothing but what was there is left, an earlier WAV as it was."""
    from timestepmusic.evaluate import audio

    rng = np.random.default_rng(4)
    midi = write_events(_performance(rng, 2.0), tmp_path / "a.mid")
    earlier = tmp_path / "a.wav"
    earlier.write_bytes(b"RIFF" + bytes(100))

    def interrupted(command, **kwargs):  # fluidsynth half way through its file when Ctrl-C comes
        Path(command[command.index("-F") + 1]).write_bytes(b"RIFF" + bytes(5000))
        raise KeyboardInterrupt
    monkeypatch.setattr(audio, "find_fluidsynth", lambda: "fluidsynth")
    monkeypatch.setattr(audio, "find_soundfont", lambda soundfont=None: tmp_path / "font.sf2")
    monkeypatch.setattr(audio.subprocess, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        audio.render_wav(midi, earlier)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mid", "a.wav"]
    assert earlier.read_bytes() == b"RIFF" + bytes(100)


def test_a_full_disk_while_the_report_is_written_names_it_and_keeps_the_earlier_report_whole(tmp_path, monkeypatch):
    """`tsm evaluate` on a full disk said 'error: No space left on device' (no file), left a half .report.html.tmp, and
    kept a new report.json beside the old report.html. Now the line names report.html, and the earlier report is there
    whole, nothing else."""
    import errno

    from timestepmusic.evaluate import report as report_module

    monkeypatch.setattr(report_module, "render_html", lambda report: f"<p>{report['run']}</p>")
    report_module.write_report(tmp_path, {"run": 1})
    write_text = pathlib.Path.write_text

    def full(self, text, *args, **kwargs):
        if "report.html" in self.name:  # a part written, then no room
            write_text(self, text[:3], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_text(self, text, *args, **kwargs)
    monkeypatch.setattr(pathlib.Path, "write_text", full)
    with pytest.raises(OSError) as failed:
        report_module.write_report(tmp_path, {"run": 2})
    assert failed.value.filename == str(tmp_path / "report.html") and failed.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]
    assert json.loads((tmp_path / "report.json").read_text()) == {"run": 1}
    assert (tmp_path / "report.html").read_text() == "<p>1</p>"


def test_two_evaluates_into_one_folder_are_refused_not_mixed(corpus, tmp_path, capsys):
    """Two `tsm evaluate -o REPORT` at once both said 'wrote REPORT/report.html'; the second's replaced the first's
    unasked, their rolls mixed in figures/. Now the second is refused in one line while the first writes."""
    from timestepmusic.files import held_lock

    out = tmp_path / "report"
    with held_lock(out / ".evaluate.lock", "busy"):  # as a first tsm evaluate -o report holds it
        assert main(["evaluate", str(corpus.parent / "midi" / "piece0"), "--real", str(corpus), "--split", "train",
                     "-o", str(out)]) == 2
        assert capsys.readouterr().err.strip() == (f"error: -o {out}: another tsm evaluate is writing a report into it "
                                                   "now; wait for it to end, or give another -o")
        assert [p.name for p in out.iterdir()] == [".evaluate.lock"]  # nothing written
    assert not list(out.iterdir())


@pytest.mark.parametrize("full_at", ["data", "corpus.json"])
def test_a_full_disk_while_prepare_writes_the_corpus_names_it_and_keeps_the_earlier_one(full_at, tmp_path,
                                                                                       monkeypatch):
    """The disk full as prepare writes the corpus's arrays: 'error: 14011 requested and 6128 written' (numpy's words,
    no file), or as it writes corpus.json: 'error: No space left on device'; a half-written hidden folder or file
    stayed. Now one line names what could not be written, nothing half-written stays, the earlier corpus opens."""
    import errno

    import timestepmusic.corpus as corpus_module
    import timestepmusic.prepare_corpus as prepare_corpus

    rng = np.random.default_rng(5)
    for piece in range(3):
        write_events(_performance(rng, 4.0), tmp_path / "midi" / f"piece{piece}.mid")
    config = Config().override({"corpus.workers": 1})
    prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False)
    before = sorted(p.name for p in (tmp_path / "corpus").iterdir())
    write_events(_performance(rng, 4.0), tmp_path / "midi" / "piece3.mid")  # another corpus: other arrays
    save, write_text = np.save, pathlib.Path.write_text

    def short_save(file, array, *args, **kwargs):  # as numpy says a short write on a full disk
        if Path(file).name == "start_s.npy":
            Path(file).write_bytes(b"\x93NUMPY")
            raise OSError(f"{array.size} requested and 6 written")
        return save(file, array, *args, **kwargs)

    def full(self, text, *args, **kwargs):
        if "corpus.json" in self.name:
            write_text(self, text[:5], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_text(self, text, *args, **kwargs)
    if full_at == "data":
        monkeypatch.setattr(prepare_corpus.np, "save", short_save)
        said = r"data-[0-9a-f]+: cannot write the corpus \(\d+ requested and 6 written: is the disk full\?\)"
    else:
        monkeypatch.setattr(pathlib.Path, "write_text", full)
        said = r"corpus\.json: cannot write the corpus \(No space left on device\)"
    with pytest.raises(ValueError, match=said):
        prepare([tmp_path / "midi"], tmp_path / "corpus", config, progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == before  # no half folder or file
    assert corpus_module.Corpus.open(tmp_path / "corpus").num_tracks == 3  # the earlier corpus, whole


def test_preparing_again_deletes_the_earlier_arrays_and_never_a_users_data_folder(tmp_path):
    """Preparing over a corpus with other settings deleted every data-* in its folder: a user's data-mine/ kept there
    was gone without a word, and a folder holding only a user's data-2024/ was taken for a corpus's. Now only the
    earlier corpus's own arrays (data-KEY) go, and such a folder is refused as any other of the user's."""
    rng = np.random.default_rng(6)
    for piece in range(3):
        write_events(_performance(rng, 4.0), tmp_path / "midi" / f"piece{piece}.mid")
    out = tmp_path / "corpus"
    prepare([tmp_path / "midi"], out, Config(), progress=False)
    (out / "data-mine").mkdir()
    (out / "data-mine" / "notes.txt").write_text("mine")
    earlier = next(out.glob("data-*[0-9]*"))
    prepare([tmp_path / "midi"], out, Config().override({"chunks.max_events": 40}), progress=False)
    assert (out / "data-mine" / "notes.txt").read_text() == "mine"
    assert not earlier.exists() and len(list(out.glob("data-*"))) == 2  # the new arrays, and the user's
    (tmp_path / "theirs" / "data-2024").mkdir(parents=True)
    with pytest.raises(ValueError, match="the folder holds data-2024 and no corpus"):
        prepare([tmp_path / "midi"], tmp_path / "theirs", Config(), progress=False)
    assert [p.name for p in (tmp_path / "theirs").iterdir()] == ["data-2024"]


def test_export_never_replaces_a_run_or_a_users_folder(corpus, straight_ae, tmp_path):
    """export_model(RUN, DEST) replaced DEST whole: DEST the run itself (or a folder of the user's) was deleted, its
    checkpoints and metrics gone without a word. Now only a new or empty folder, or an earlier export, is written."""
    from timestepmusic.generation import GANModel
    from timestepmusic.model_export import export_model

    run = tmp_path / "gan"
    train_gan(corpus, straight_ae, run, Config().override(GAN), progress=False, max_steps=1)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    (theirs / CONFIG).write_text("{}")
    for dest, said in ((run, "holds best and 3 more, which no export wrote"),
                       (theirs, "holds notes.txt, which no export wrote")):
        before = sorted(p.name for p in dest.iterdir())
        with pytest.raises(ValueError, match=f"{dest}: {said}"):
            export_model(run, dest)
        assert sorted(p.name for p in dest.iterdir()) == before
    assert (theirs / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="not a folder"):
        export_model(run, theirs / "notes.txt")
    exported = export_model(run, tmp_path / "exported")  # a new folder, then an earlier export: with overwrite
    before = {p.name: p.stat().st_mtime_ns for p in exported.iterdir()}
    with pytest.raises(ValueError, match=f"{exported} holds an earlier export already; give another folder, or "
                                         "--overwrite to replace it"):
        export_model(run, exported)
    assert {p.name: p.stat().st_mtime_ns for p in exported.iterdir()} == before
    assert export_model(run, exported, overwrite=True) == exported and GANModel.load(exported).arch == "conv"


def test_a_run_is_exported_from_the_command_line_as_a_model_folder_of_its_own(corpus, straight_ae, tmp_path, capsys):
    """docs/training.md told a user to copy a checkpoint out as 'a model folder of its own', which `tsm generate`
    then refused (its autoencoder is beside it in the run, not in it), and nothing made such a folder but a Python
    function. `python -m timestepmusic.model_export RUN DEST` writes one; an autoencoder run is one line."""
    from timestepmusic.critic import CRITIC
    from timestepmusic.generation import GANModel
    from timestepmusic.model_export import main

    run = tmp_path / "gan"
    train_gan(corpus, straight_ae, run, Config().override(GAN), progress=False, max_steps=1)
    (run / "last" / CRITIC).write_bytes(b"a piece critic")  # (added after training, for --select: it goes along)
    assert main([str(run / "last"), str(tmp_path / "shared"), "--description", "my forty"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'shared'}")
    assert GANModel.load(tmp_path / "shared").arch == "conv"
    assert json.loads((tmp_path / "shared" / CONFIG).read_text())["description"] == "my forty"
    assert (tmp_path / "shared" / CRITIC).read_bytes() == b"a piece critic"
    assert main([str(run / "last"), str(tmp_path / "shared")]) == 1  # an earlier export: kept, without --overwrite
    assert "--overwrite to replace it" in capsys.readouterr().err
    assert json.loads((tmp_path / "shared" / CONFIG).read_text())["description"] == "my forty"
    assert main([str(run / "last"), str(tmp_path / "shared"), "--overwrite"]) == 0
    assert json.loads((tmp_path / "shared" / CONFIG).read_text())["description"] == ""
    capsys.readouterr()
    assert main([str(straight_ae), str(tmp_path / "ae-model")]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {straight_ae}: an autoencoder's checkpoint, not train-gan's; give the run tsm generate " \
                  "--model reads\n" and not (tmp_path / "ae-model").exists()


def test_full_disk_under_safetensors_is_an_os_error_naming_the_file(tmp_path, monkeypatch):
    """safetensors reports a failed write (a full disk) as its own SafetensorError, which train-gan's codebook write
    let through as a traceback; it is an OSError naming the file asked for, and no temporary is left."""
    import safetensors.torch
    from safetensors import SafetensorError

    from timestepmusic.cli import _os_error
    from timestepmusic.latents import write_codebook

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half")  # (as a write cut short leaves it)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    book = tmp_path / "codebook.safetensors"
    with pytest.raises(OSError) as failed:
        write_codebook(book, torch.zeros(4, 3))
    assert failed.value.errno == 28 and failed.value.filename == str(book)
    assert list(tmp_path.iterdir()) == []
    assert _os_error(failed.value).endswith("codebook.safetensors: cannot write or read here: no space left on the device")


def test_a_new_run_over_one_killed_in_its_first_checkpoint_says_what_resume_says(tmp_path):
    """A run killed while it wrote its first `last` (only .last.tmp there), or between its first best and last: --out
    said 'already holds a run; continue it with --resume', which then refused ('nothing to resume'); both say
    --overwrite."""
    from timestepmusic.checkpoint import check_run_folder

    cut = tmp_path / "cut"
    (cut / ".last.tmp").mkdir(parents=True)
    (cut / ".last.tmp" / "pisa.safetensors").write_bytes(b"half")
    with pytest.raises(ValueError, match=r"stopped before its first checkpoint \(nothing to resume\); .* --overwrite"):
        check_run_folder(cut)
    assert check_run_folder(cut, overwrite=True) == [cut / ".last.tmp"]
    best_only = tmp_path / "best_only"
    (best_only / "best").mkdir(parents=True)
    (best_only / "best" / CONFIG).write_text("{}")
    with pytest.raises(ValueError, match=r"between writing its first best and last .* keep .*best as a model.*--overwrite"):
        check_run_folder(best_only)
    (best_only / ".last.old").mkdir()  # a crash between a later write's two renames: resumable, as before
    with pytest.raises(ValueError, match="already holds a run; continue it with --resume"):
        check_run_folder(best_only)


@pytest.mark.parametrize("name, refused_path, errno", [("last", "last", 13), ("best", ".best.tmp", 16)])
def test_a_checkpoint_whose_rename_is_refused_keeps_the_old_one_in_place(tmp_path, monkeypatch, name, refused_path,
                                                                        errno):
    """Two renames replace a checkpoint: the old one aside (RUN/NAME → .NAME.old), the new one in (.NAME.tmp → RUN/NAME).
    RUN/last that may not be moved aside (a folder not writable: renaming a folder writes its '..') left .last.tmp
    beside the old one; a new checkpoint refused its place after the old one was moved aside left the old one only as
    .best.old (which a read falls back to, but a listing, a copy of RUN/best or a user's script does not find). Each
    now removes the new one, keeps the old one in its place, and the error names RUN/NAME."""
    run = tmp_path / "run"
    model = torch.nn.Linear(2, 2)
    write_checkpoint(run, name, {"step": 1}, {"model": model})
    before = (run / name / "model.safetensors").read_bytes()
    rename = pathlib.Path.rename

    def refused(self, target):
        if self == run / refused_path:
            raise OSError(errno, "refused", str(self))
        return rename(self, target)

    monkeypatch.setattr(pathlib.Path, "rename", refused)
    with torch.no_grad():
        model.weight.add_(1.0)
    with pytest.raises(OSError) as failed:
        write_checkpoint(run, name, {"step": 2}, {"model": model})
    assert failed.value.errno == errno and failed.value.filename == str(run / name)
    assert sorted(p.name for p in run.iterdir()) == [name]
    assert (run / name / "model.safetensors").read_bytes() == before


def test_gan_killed_after_a_checkpoint_before_its_samples_writes_them_on_resume(corpus, straight_ae, tmp_path,
                                                                                monkeypatch):
    """A step that both checkpoints and samples: `last` was saved before RUN/samples/step_N, so a run killed between
    the two went on from step N and never wrote that step's samples (the chaos test found runs missing a step's
    folder); the samples come first now, and a resumed run's samples are the straight run's, file for file."""
    import timestepmusic.train.sequence as train_gan_module

    config = Config().override(GAN | {"gan.validate_every": 3, "gan.sample_every": 3})
    straight = tmp_path / "straight"
    train_gan(corpus, straight_ae, straight, config, progress=False)
    run = tmp_path / "run"

    def killed_after_last_at_3(folder, name, meta, *args, **kwargs):
        written = write_checkpoint(folder, name, meta, *args, **kwargs)
        if name == "last" and meta["step"] == 3:
            raise Crash("killed")
        return written

    monkeypatch.setattr(train_gan_module, "write_checkpoint", killed_after_last_at_3)
    with pytest.raises(Crash):
        train_gan(corpus, straight_ae, run, config, progress=False)
    monkeypatch.setattr(train_gan_module, "write_checkpoint", write_checkpoint)
    train_gan(corpus, None, run, resume=True, progress=False)
    samples = {p.relative_to(straight): p.read_bytes() for p in sorted((straight / "samples").rglob("*.mid"))}
    assert {p.relative_to(run): p.read_bytes() for p in sorted((run / "samples").rglob("*.mid"))} == samples
    assert {p.parent.name for p in samples} == {"step_000003", "step_000006"}


def test_a_full_disk_as_train_gan_caches_the_encoded_corpus_names_the_cache(corpus, straight_ae, tmp_path, monkeypatch,
                                                                          capsys):
    """numpy's short write on a full disk ('142464 requested and 141280 written', no file, no errno) reached the
    user as that alone: `error: 142464 requested and 141280 written`; now it names the cache and asks about the disk,
    and leaves no half file."""
    import timestepmusic.latents as latents_module

    save = np.save

    def short_save(file, array, *args, **kwargs):
        Path(file).write_bytes(b"\x93NUMPY")
        raise OSError(f"{array.size * 4} requested and 6 written")

    monkeypatch.setattr(latents_module.np, "save", short_save)
    run = tmp_path / "run"
    args = ["train-gan", str(corpus), "--ae", str(straight_ae), "-o", str(run), "-q", "--steps", "1", "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(rf"error: {re.escape(str(run))}/latents-[0-9a-f-]+\.npy: cannot write or read here: cannot write "
                        r"the encoded corpus's cache \(\d+ requested and 6 written: is the disk full\?\)\n", err), err
    assert not list(run.glob("*.npy*")) and not list(run.glob(".*"))
    monkeypatch.setattr(latents_module.np, "save", save)
