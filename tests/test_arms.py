"""One generator interface: an arm written only here trains, checkpoints, resumes and samples through the
shared loop; the Python API and the CLI generate from a conv run and from a recurrent run; long pieces are
made block by block, and a piece longer than the limit is one clear error line."""
from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import timestepmusic
import timestepmusic.generation as generation
import timestepmusic.piece_events as piece_events
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.generation import GANModel
from timestepmusic.latents import split_rows
from timestepmusic.midi_write import write_events
from timestepmusic.model_export import main as export_main
from timestepmusic.piece_events import decode_piece
from timestepmusic.prepare_corpus import prepare
from timestepmusic.sample_limits import LONGEST_PIECE_S
from timestepmusic.sequence import LatentData, Update, register
from timestepmusic.train.sequence import train_sequence_model

from conftest import TINY_GAN, TINY_RNN, assert_same_weights, random_performance

# --- a trivial likelihood arm, written only here ---------------------------------------------------


class Gaussian(nn.Module):
    """Every chunk latent [L] independent, from one diagonal Gaussian."""

    def __init__(self, latent: int):
        super().__init__()
        self.latent = latent
        self.mean = nn.Parameter(torch.zeros(latent))
        self.log_std = nn.Parameter(torch.zeros(latent))

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per latent [*R] of latents x [*R, L] (up to a constant)."""
        return (0.5 * ((x - self.mean) / self.log_std.exp()) ** 2 + self.log_std).sum(-1)


@register
class GaussianArm:
    arch = "test-gaussian"
    held_out_key = "val_nll"
    held_out_signed = True  # a log-likelihood: the lowest value is best, below zero too (not the lowest |value|)
    snaps = False

    def __init__(self, config: Config, latent: int, device: torch.device, training: bool = True):
        self.batch = config.gan.batch
        self.generator = Gaussian(latent).to(device)

    def trained(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": torch.optim.Adam(self.generator.parameters(), lr=0.05)}

    def attach(self, data: LatentData) -> None:
        self.data = data
        self.train_rows = torch.from_numpy(split_rows(data.corpus, "train"))
        self.val_rows = torch.from_numpy(split_rows(data.corpus, "validation"))

    def updates(self, step: int, rng: torch.Generator):
        mine = self.data.ranks.shard(torch.arange(self.batch))
        rows = self.train_rows[torch.randint(self.train_rows.numel(), (self.batch,), generator=rng)[mine]]
        nll = self.generator.nll(self.data.real(rows)).sum() * self.data.ranks.world / self.batch
        yield Update("generator", nll, metrics={"nll": float(nll.detach())})

    def held_out(self) -> dict[str, float]:
        return {"val_nll": float(self.generator.nll(self.data.real(self.val_rows)).mean())}

    def sample(self, n: int, chunks: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, chunks, self.generator.latent, generator=g) * self.generator.log_std.exp() + self.generator.mean
        return x, torch.randint(1, chunks + 1, (n,), generator=g)  # a self-chosen length per piece

    def preview_chunks(self, chunk_seconds: float) -> int:
        return 8

    def compile(self) -> None:
        pass


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (a tiny model's silent pieces: said)
def test_an_arm_written_in_a_test_trains_checkpoints_resumes_and_samples(tiny_corpus, tiny_ae, tmp_path):
    config = Config().override(TINY_GAN)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_sequence_model(tiny_corpus, tiny_ae, straight, config, arch="test-gaussian", progress=False)
    meta = json.loads((straight / "last" / "config.json").read_text())
    assert (meta["arch"], meta["step"]) == ("test-gaussian", 6) and np.isfinite(meta["best_val_nll"])
    assert sorted(p.name for p in (straight / "samples").iterdir()) == ["step_000003", "step_000006"]
    records = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6] and all("nll" in r and "val_nll" in r for r in records)
    stopped = train_sequence_model(tiny_corpus, tiny_ae, resumed, config, arch="test-gaussian", progress=False,
                                   max_steps=3)
    assert stopped["stopped"]
    train_sequence_model(tiny_corpus, None, resumed, resume=True, progress=False)  # the arch comes from RUN/last
    assert_same_weights(straight, resumed)
    model = GANModel.load(resumed)
    assert model.arch == "test-gaussian"
    pieces = model.sample_latents(3, 4.0, seed=2)
    assert [p.shape for p in pieces] == [p.shape for p in model.sample_latents(3, 4.0, seed=2)]
    assert all(1 <= p.shape[0] <= 16 for p in pieces)
    first = timestepmusic.generate(tmp_path / "a", model=resumed, n=2, seconds=4, seed=1)
    again = timestepmusic.generate(tmp_path / "b", model=resumed, n=2, seconds=4, seed=1)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]


def test_a_stopped_run_says_its_figures_under_the_step_they_were_measured_at(tiny_corpus, tiny_ae, tmp_path):
    # `--max-minutes` ending at step 4 printed {"step": 4, "nll": …, "val_nll": …}: the figures of step 3's
    # validation, read as step 4's
    config = Config().override(TINY_GAN)
    stopped = train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="test-gaussian",
                                   progress=False, max_steps=4)
    assert stopped["step"] == 4 and stopped["stopped"] and "val_nll" not in stopped and "nll" not in stopped
    assert stopped["last_validation"]["step"] == 3 and np.isfinite(stopped["last_validation"]["val_nll"])


def test_info_on_a_run_says_its_best_validation_and_where_it_stopped(tiny_corpus, tiny_ae, tmp_path, capsys):
    """--info on one's own run: the best held-out figure and its step, and a run stopped before gan.steps at step N of
    M, with how to go on; once it has gone on to its last step, no such line."""
    run = tmp_path / "run"
    config = Config().override(TINY_GAN | {"gan.sample_every": 0})
    train_sequence_model(tiny_corpus, tiny_ae, run, config, arch="test-gaussian", progress=False, max_steps=4)
    best = json.loads((run / "best" / "config.json").read_text())
    assert best["step"] == 3  # (the only validation before the stop)
    for model in (run, run / "best"):
        assert main(["generate", "--model", str(model), "--info"]) == 0
        said = capsys.readouterr().out
        assert f"best validation: val_nll {best['best_val_nll']:.4g} at step 3\n" in said, model
        assert f"the run stopped (its time or steps were up) at step 4 of 6: tsm train-gan --resume {run} trains on" \
            in said, model
    assert main(["generate", "--model", str(run), "--info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["best_validation"]["step"] == 3 and info["run"] == {"folder": str(run), "step": 4, "steps": 6,
                                                                     "ended": "stopped"}
    train_sequence_model(tiny_corpus, None, run, resume=True, progress=False)
    best = json.loads((run / "best" / "config.json").read_text())
    assert main(["generate", "--model", str(run), "--info"]) == 0
    said = capsys.readouterr().out
    assert f"best validation: val_nll {best['best_val_nll']:.4g} at step {best['step']}\n" in said
    assert "the run " not in said and "--resume" not in said  # (done: nothing to go on with)


def test_the_cli_trains_resumes_and_generates_an_arm_registered_outside_its_list(tiny_corpus, tiny_ae, tmp_path,
                                                                                    capsys):
    """An arm of one's own (registered, as this module's is) was refused by train-gan's --arch, whose choices were
    the four built-in names: argparse's 'invalid choice', so the CLI could not train it at all. An unknown name is
    one line naming the flag and the arms there are, before any folder is made."""
    run = tmp_path / "mine"
    tiny = [f"{key}={value}" for key, value in TINY_GAN.items() if key != "gan.steps"]  # (--steps gives them: beside
    # --set gan.steps=6, --steps 3 trained 6 steps and the resume below had nothing to do)
    common = [str(tiny_corpus), "-q", *[arg for setting in tiny for arg in ("--set", setting)]]
    assert main(["train-gan", *common, "--ae", str(tiny_ae), "--arch", "test-gaussian", "--out", str(run),
                 "--steps", "3"]) == 0
    assert main(["train-gan", str(tiny_corpus), "-q", "--resume", str(run), "--steps", "6"]) == 0
    assert json.loads((run / "last" / "config.json").read_text())["step"] == 6
    assert main(["generate", "--model", str(run), "-n", "1", "--seconds", "2", "-o", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", str(run), "--max-seconds", "8", "-o", str(tmp_path / "out2")]) == 2
    assert capsys.readouterr().err.strip().endswith("this test-gaussian model writes exactly --seconds")  # (not 'conv')
    write_events(random_performance(np.random.default_rng(0), 4.0), tmp_path / "p.mid")
    for flag in (["--temperature", "0.5"], ["--set", "ar.temperature=0.5"], ["--prompt", str(tmp_path / "p.mid")]):
        assert main(["generate", "--model", str(run), *flag, "-o", str(tmp_path / "out3")]) == 2
        err = capsys.readouterr().err  # (it was called 'a GAN', which a likelihood arm of one's own is not)
        assert "is a test-gaussian model" in err and "GAN" not in err, err
        # (--prompt named the built-in arms that take it, not how one's own would: `continues = True`)
        assert ("an arm of your own takes it with continues = True: docs/design.md" in err) == (flag[0] == "--prompt")
    with pytest.raises(ValueError, match=r"^--prompt: a test-gaussian model cannot do this; use an ar model, or a conv "
                                         r"model trained with gan.past_chunks \(an arm of your own takes it with "
                                         r"continues = True: docs/design.md, adding an arm\)$"):
        GANModel.load(run).sample_latents(1, 2.0, seed=0, prompt=random_performance(np.random.default_rng(0), 1.0))
    assert main(["train-gan", *common, "--ae", str(tiny_ae), "--arch", "test-gaussian", "--max-chunks", "8", "--out",
                 str(tmp_path / "x")]) == 2  # (it was told of the convolutional GAN's fixed windows)
    assert capsys.readouterr().err.strip() == "error: --max-chunks needs --arch rnn (the test-gaussian arm chooses its own " \
                                              "windows)"
    assert main(["train-gan", *common, "--ae", str(tiny_ae), "--arch", "nosuch", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --arch nosuch: unknown architecture 'nosuch'; known: ar, conv, events, rnn, "
                          "test-gaussian") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_a_held_out_figure_that_is_not_a_number_is_said_once_with_the_empty_validation_split(tiny_corpus, tiny_ae,
                                                                                             tmp_path, caplog):
    """The example arm above, copied onto a corpus of a few files with no validation split (the mean over no
    rows: nan), trained without a word: val_nll nan in every record and no RUN/best, found only by reading
    metrics.jsonl. The loop says it once, with the likely cause."""
    corpus = tmp_path / "no-validation"
    prepare([tiny_corpus.parent / "midi"], corpus, Config().override({"corpus.validation_fraction": 0.0}),
            progress=False)
    config = Config().override(TINY_GAN)
    with caplog.at_level("WARNING"):
        train_sequence_model(corpus, tiny_ae, tmp_path / "run", config, arch="test-gaussian", progress=False)
    said = [r.getMessage() for r in caplog.records if "held-out val_nll" in r.getMessage()]
    assert len(said) == 1 and "is nan at step 3, so no RUN/best is kept; the corpus has no validation split" in said[0]
    assert not (tmp_path / "run" / "best").exists()


def test_an_arm_in_a_file_outside_the_package_is_imported_by_naming_it_in_tsm_arms(tiny_corpus, tiny_ae, tmp_path,
                                                                                   monkeypatch, capsys):
    """A researcher's arm in a file of their own could be trained by `tsm train-gan --arch` only through a script
    that imported it and called cli.main: the CLI (and bench/compare_generators.py) met 'unknown architecture'.
    $TSM_ARMS names the file (or module), which every command imports before looking an arch up; a file that
    cannot be imported is one line naming it."""
    source = "\n".join(["import torch", "from torch import nn", "from timestepmusic.config import Config",
                        "from timestepmusic.latents import split_rows",
                        "from timestepmusic.sequence import LatentData, Update, register",
                        inspect.getsource(Gaussian), inspect.getsource(GaussianArm)])
    arm_file = tmp_path / "outside_arm.py"
    arm_file.write_text(source.replace('"test-gaussian"', '"test-outside"'))
    monkeypatch.setenv("TSM_ARMS", str(arm_file))
    run = tmp_path / "outside"
    tiny = [arg for key, value in TINY_GAN.items() if key != "gan.steps" for arg in ("--set", f"{key}={value}")]
    assert main(["train-gan", str(tiny_corpus), "-q", *tiny, "--ae", str(tiny_ae), "--arch", "test-outside",
                 "--out", str(run), "--steps", "3"]) == 0
    assert main(["generate", "--model", str(run), "-n", "1", "--seconds", "2", "-o", str(tmp_path / "out")]) == 0
    assert json.loads((run / "last" / "config.json").read_text())["arch"] == "test-outside"
    capsys.readouterr()
    (tmp_path / "broken_arm.py").write_text("raise RuntimeError('a typo')\n")
    monkeypatch.setenv("TSM_ARMS", f"{arm_file}, {tmp_path / 'broken_arm.py'}")
    assert main(["generate", "--model", str(run), "-n", "1", "-o", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: $TSM_ARMS: cannot import {tmp_path / 'broken_arm.py'}: RuntimeError: a typo", err


# --- every arch through the Python API and the CLI -------------------------------------------------

TINY_AR = {"ar.context": 16, "ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.mixture": 2, "ar.batch": 4}


@pytest.fixture(scope="module", params=["conv", "rnn", "ar"])
def run(request, tiny_corpus, tiny_ae, tmp_path_factory) -> tuple[str, Path]:
    arch = request.param
    folder = tmp_path_factory.mktemp(arch) / "run"
    config = Config().override(TINY_GAN | {"gan.sample_every": 0} | {"rnn": TINY_RNN, "ar": TINY_AR}.get(arch, {}))
    train_sequence_model(tiny_corpus, tiny_ae, folder, config, arch=arch, progress=False)
    return arch, folder


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (a tiny model's silent pieces: said)
def test_the_python_api_generates_from_every_arch_deterministically(run, tmp_path):
    arch, folder = run
    first = timestepmusic.generate(tmp_path / "a", model=folder, n=2, seconds=4, seed=5)
    again = timestepmusic.generate(tmp_path / "b", model=folder, n=2, seconds=4, seed=5)
    assert len(first) == 2 and [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert GANModel.load(folder).arch == arch


def test_the_cli_generates_from_every_arch(run, tmp_path, capsys):
    arch, folder = run
    length = ["--max-seconds", "4"] if arch == "rnn" else ["--seconds", "4"]
    assert main(["generate", "--model", str(folder), "-n", "2", *length, "-o", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*.mid"))) == 2
    said = capsys.readouterr().out
    assert said.count(".mid  ") == 2 and ("piece lengths" in said) == (arch == "rnn")  # a line per file; the rnn's lengths
    assert main(["generate", "--model", str(folder), "-n", "2", *length, "-q", "-o", str(tmp_path / "quiet")]) == 0
    assert len(list((tmp_path / "quiet").glob("*.mid"))) == 2 and capsys.readouterr().out == ""  # -q: written, unsaid
    assert main(["generate", "--model", str(folder), "--info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arch"] == arch
    assert (info["ar"] is not None) == (arch in ("ar", "events"))  # the settings that trained it and sample it
    if info["ar"] is not None:  # only the settings its arm reads
        assert ("mixture" in info["ar"], "carry" in info["ar"]) == (arch == "ar", arch == "events")
    assert ("critic_steps" in info["gan"]) == (arch in ("conv", "rnn"))


def test_a_piece_longer_than_the_limit_is_one_clear_line(run, tmp_path, capsys):
    arch, folder = run
    flag = "--max-seconds" if arch == "rnn" else "--seconds"
    assert main(["generate", "--model", str(folder), flag, "100000", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert f"{flag} 100000" in err and f"at most {LONGEST_PIECE_S:g} s" in err
    with pytest.raises(ValueError, match="at most"):
        timestepmusic.generate(tmp_path / "p", model=folder, seconds=1e5)


def test_long_pieces_are_snapped_and_decoded_block_by_block_as_at_once(run, monkeypatch):
    _, folder = run
    model = GANModel.load(folder)
    whole = model.sample_latents(2, 6.0, seed=3)
    piece = decode_piece(model.ae, whole[0])
    monkeypatch.setattr(generation, "BLOCK_CHUNKS", 5)  # 24 chunks: five blocks, snapped
    monkeypatch.setattr(piece_events, "BLOCK_CHUNKS", 5)  # … and decoded
    blocked = model.sample_latents(2, 6.0, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(whole, blocked))
    in_blocks = decode_piece(model.ae, whole[0])
    notes, notes_blocked = piece.take(piece.is_note), in_blocks.take(in_blocks.is_note)
    np.testing.assert_array_equal(notes.ids, notes_blocked.ids)
    np.testing.assert_allclose(notes.start_s, notes_blocked.start_s)


def test_tsm_arms_files_import_their_neighbours_keep_their_own_modules_and_say_when_they_register_nothing(
        tmp_path, monkeypatch):
    """A file named in $TSM_ARMS could not import a module beside it (`from helpers import WIDTH`: 'No module named
    helpers', where running it as a script could); two files of one name in two folders shared one module name (the
    second replaced the first in sys.modules, which dataclasses and pickling read); one file named twice (`a.py`,
    `./a.py`) was imported twice; and a file that registers nothing was met with 'name its file in $TSM_ARMS', which
    it was."""
    import sys

    from timestepmusic.sequence import ARCHS, arch_class

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "tsm_test_helpers.py").write_text("ARCH, LOADS = 'test-neighbour', []\n")
    (one / "same_name_arm.py").write_text("from tsm_test_helpers import ARCH, LOADS\n"
                                          "from timestepmusic.sequence import register\n"
                                          "LOADS.append(__name__)\n"
                                          "@register\nclass Arm:\n    arch = ARCH\n")
    (two / "same_name_arm.py").write_text("from timestepmusic.sequence import register\n"
                                          "@register\nclass Arm:\n    arch = 'test-second'\n")
    (two / "nothing.py").write_text("X = 1\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved, modules = dict(ARCHS), set(sys.modules)
    try:
        monkeypatch.chdir(one)
        monkeypatch.setenv("TSM_ARMS", f"{one / 'same_name_arm.py'}, same_name_arm.py, {two / 'same_name_arm.py'}, "
                           f"{two / 'nothing.py'}")
        first, second = arch_class("test-neighbour"), arch_class("test-second")
        assert sys.modules[first.__module__].__file__ == str(one / "same_name_arm.py")
        assert sys.modules[second.__module__].__file__ == str(two / "same_name_arm.py")
        assert sys.modules["tsm_test_helpers"].LOADS == [first.__module__]  # imported once
        with pytest.raises(ValueError, match=r"unknown architecture 'test-nothing'; known: .*\(\$TSM_ARMS's "
                           + re.escape(str(two / "nothing.py")) + " registered no arm"):
            arch_class("test-nothing")
    finally:
        ARCHS.clear()
        ARCHS.update(saved)
        for name in set(sys.modules) - modules:
            del sys.modules[name]


# --- an arm of one's own that breaks the protocol: one line naming it ---------------------------------------------


def _arm_like_gaussian(arch: str, leave_out: str = "", **members) -> type:
    """A class Mine of GaussianArm's members under another arch, without `leave_out`, with `members` instead of its
    own; registered."""
    own = {key: value for key, value in vars(GaussianArm).items() if key not in ("__dict__", "__weakref__", leave_out)}
    return register(type("Mine", (), own | {"arch": arch} | members))


@pytest.fixture
def kept_archs():
    from timestepmusic.sequence import ARCHS

    saved = dict(ARCHS)
    yield
    ARCHS.clear()
    ARCHS.update(saved)


def test_an_arm_named_as_another_files_arm_is_refused_and_one_file_may_register_again(kept_archs, tmp_path,
                                                                                      monkeypatch):
    """An arm named `rnn` (or any built-in arm's name) silently replaced the recurrent GAN for every run of it; the
    same file imported as a module and named in $TSM_ARMS (under two module names) registers its class again."""
    import sys

    from timestepmusic.sequence import ARCHS, arch_class

    built_in = ARCHS["rnn"]
    with pytest.raises(ValueError, match=r"^arch 'rnn' is taken by RecurrentGAN in \S+recurrent_gan\.py; give Mine a "
                                         r"name of its own$"):
        _arm_like_gaussian("rnn")
    assert ARCHS["rnn"] is built_in
    (tmp_path / "tsm_test_twice.py").write_text("from timestepmusic.sequence import register\n"
                                                "@register\nclass Arm:\n    arch = 'test-twice'\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.setenv("TSM_ARMS", str(tmp_path / "tsm_test_twice.py"))
    modules = set(sys.modules)
    try:
        imported = __import__("tsm_test_twice").Arm
        assert arch_class("test-twice") is not imported  # (the file again, by its path: no refusal)
    finally:
        for name in set(sys.modules) - modules:
            del sys.modules[name]


def test_an_arm_file_imported_through_a_linked_folder_and_by_its_path_registers_again(kept_archs, tmp_path,
                                                                                      monkeypatch):
    """A folder on the Python path reached through a link (as /tmp is on macOS) gave the module its path through the
    link, $TSM_ARMS's entry of the same file its real path: the one file was refused as another's arm ('taken by Arm
    in …/tsm_test_linked.py'), naming that same file."""
    import sys

    from timestepmusic.sequence import arch_class

    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    (real / "tsm_test_linked.py").write_text("from timestepmusic.sequence import register\n"
                                             "@register\nclass Arm:\n    arch = 'test-linked'\n")
    monkeypatch.setattr(sys, "path", [str(link), *sys.path])
    monkeypatch.setenv("TSM_ARMS", f"tsm_test_linked,{link / 'tsm_test_linked.py'}")
    modules = set(sys.modules)
    try:
        assert arch_class("test-linked").__name__ == "Arm"
    finally:
        for name in set(sys.modules) - modules:
            del sys.modules[name]


def test_an_arm_that_lacks_a_member_is_refused_before_its_run_starts(kept_archs, tiny_corpus, tiny_ae, tmp_path):
    """An arm without `preview_chunks` trained until its first periodic sample and stopped there with an
    AttributeError's traceback; one without `held_out_key` stopped at set-up with one, and one without a `generator`
    where it was first read (its periodic samples, or here its trained())."""
    config = Config().override(TINY_GAN)
    for missing in ("preview_chunks", "held_out_key"):
        arm = _arm_like_gaussian(f"test-no-{missing}", leave_out=missing)
        with pytest.raises(ValueError, match=rf"^the {arm.arch} arm \(Mine in \S+test_arms\.py\) lacks what every "
                                             rf"arm has \(sequence/base\.py's SequenceModel\): {missing}$"):
            train_sequence_model(tiny_corpus, tiny_ae, tmp_path / missing, config, arch=arm.arch, progress=False)
        assert not (tmp_path / missing).exists()
    no_generator = _arm_like_gaussian("test-no-generator", __init__=lambda self, config, latent, device, training=True: None)
    with pytest.raises(ValueError, match=r"^the test-no-generator arm \(\S+test_arms\.py\) keeps no `generator` module, "
                                         r"which sampling reads"):
        train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "none", config, arch=no_generator.arch, progress=False)


def test_an_update_of_a_part_the_arm_does_not_train_and_a_missing_held_out_figure_are_one_line(kept_archs, tiny_corpus,
                                                                                                tiny_ae, tmp_path):
    """An update naming a part that `optimizers()` does not hold was a KeyError's traceback at the first step; a
    `held_out_key` that `held_out()` does not give, one at the first validation."""
    def updates(self, step, rng):
        for update in GaussianArm.updates(self, step, rng):
            yield Update("gen", update.loss)

    config = Config().override(TINY_GAN)
    wrong_part = _arm_like_gaussian("test-wrong-part", updates=updates)
    with pytest.raises(ValueError, match=r"^the test-wrong-part arm \(\S+test_arms\.py\): an update names the part 'gen', "
                                         r"which is none of its optimizers\(\): generator$"):
        train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "part", config, arch=wrong_part.arch, progress=False)
    wrong_key = _arm_like_gaussian("test-wrong-key", held_out_key="val_loss")
    with pytest.raises(ValueError, match=r"^the test-wrong-key arm \(\S+test_arms\.py\) has no figure named its "
                                         r"held_out_key 'val_loss' from held_out\(\) or its updates' metrics: nll, "):
        train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "key", config, arch=wrong_key.arch, progress=False)


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (a tiny model's silent pieces: said)
def test_latents_an_arm_samples_in_another_shape_than_the_protocols_are_one_line(tiny_corpus, tiny_ae, tmp_path):
    """A sample() whose latents had another width was a traceback in the normaliser; one with `continues` that left
    its prompt out wrote pieces 'drawn' for a negative time (-8.25 s after the prompt's 16.25 s)."""
    run = tmp_path / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_GAN | {"gan.sample_every": 0}),
                         arch="test-gaussian", progress=False)
    model = GANModel.load(run)
    latent = model.arm.generator.latent
    model.arm.sample = lambda n, chunks, seed: (torch.zeros(n, chunks, latent + 1), torch.full((n,), chunks))
    with pytest.raises(ValueError, match=rf"^the test-gaussian arm \(\S+test_arms\.py\) sampled latents \(2, 8, "
                                         rf"{latent + 1}\) and lengths \(2,\); asked for 2 pieces of 8 chunks, sample\(\) "
                                         rf"gives latents \(2, T, {latent}\), T at most 8, and lengths \(2,\) from 1 to T "):
        model.sample_latents(2, 2.0, seed=0)
    model.arm.continues = True
    model.arm.sample = lambda n, chunks, seed, prompt=None: (torch.zeros(n, chunks, latent), torch.full((n,), chunks))
    prompt = random_performance(np.random.default_rng(0), 1.0)
    with pytest.raises(ValueError, match=r"sampled latents \(2, 8, \d+\) and lengths \(2,\); asked for 2 pieces of 8 "
                                         r"chunks after a prompt of (\d+) chunks, sample\(\) gives latents "
                                         r"\(2, (\d+), \d+\), the prompt's first, and lengths \(2,\) from \1 to \2 "):
        model.sample_latents(2, 2.0, seed=0, prompt=prompt)
    model.arm.sample = lambda n, chunks, seed: (torch.zeros(n, chunks - 2, latent), torch.full((n,), chunks - 3))
    model.arm.continues = False
    assert [piece.shape[0] for piece in model.sample_latents(2, 2.0, seed=0, snap_to_real=False)] == [5, 5]  # (fewer
    # chunks than asked, as the protocol lets an arm that ends its pieces give them: taken)


class Offset(nn.Module):
    """A shift of every sampled latent, fixed by the corpus when the arm attaches (what `kept` is for)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("value", torch.zeros(()))


def test_an_export_keeps_what_an_arm_of_ones_own_keeps_beside_its_weights(kept_archs, tiny_corpus, tiny_ae, tmp_path):
    """model_export copied a fixed list of weights (the events arm's style_paths among them), so an arm of one's own's
    `kept()` tensors were left out and its export sampled without them, silently other pieces; and a second export
    over the first, with --overwrite, met the tensors as another's file."""
    def init(self, config, latent, device, training=True):
        GaussianArm.__init__(self, config, latent, device, training)
        self.offset = Offset()

    def attach(self, data):
        GaussianArm.attach(self, data)
        self.offset.value.fill_(3.0)

    def sample(self, n, chunks, seed):
        x, lengths = GaussianArm.sample(self, n, chunks, seed)
        return x + self.offset.value, lengths

    arm = _arm_like_gaussian("test-kept", __init__=init, attach=attach, sample=sample, KEPT=("offset",),
                             kept=lambda self: {"offset": self.offset},
                             use_kept=lambda self, name, tensors, path: self.offset.load_state_dict(tensors))
    run = tmp_path / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_GAN | {"gan.sample_every": 0}),
                         arch=arm.arch, progress=False)
    for _ in range(2):
        assert export_main([str(run), str(tmp_path / "export"), "--overwrite"]) == 0
    assert (tmp_path / "export" / "offset.safetensors").is_file()
    trained, exported = (GANModel.load(folder).sample_latents(1, 2.0, seed=0, snap_to_real=False)[0]
                         for folder in (run / "best", tmp_path / "export"))
    assert torch.equal(trained, exported)


def test_a_warm_start_of_an_arm_whose_modules_are_built_in_attach_trains(kept_archs, tiny_corpus, tiny_ae, tmp_path):
    """The check that a warm start's weights fit (before the run's folder is made) builds the arm without attaching
    it: an arm whose trained() names a module its attach() builds (sized by the corpus) stopped there with an
    AttributeError's traceback, where the warm start had trained; and none of whose weights fit is still refused."""
    def attach(self, data):
        GaussianArm.attach(self, data)
        self.scale = nn.Linear(1, 1)

    arm = _arm_like_gaussian("test-attached", attach=attach,
                             trained=lambda self: {"generator": self.generator, "scale": self.scale},
                             optimizers=lambda self: {name: torch.optim.Adam(module.parameters(), lr=0.05)
                                                      for name, module in self.trained().items()})
    config = Config().override(TINY_GAN | {"gan.sample_every": 0})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "first", config, arch=arm.arch, progress=False)
    warm = tmp_path / "warm"
    train_sequence_model(tiny_corpus, None, warm, config, arch=arm.arch, init_from=tmp_path / "first", progress=False)
    assert json.loads((warm / "last" / "config.json").read_text())["initialised_from"]
    for name in ("generator", "scale"):
        (tmp_path / "first" / "best" / f"{name}.safetensors").unlink()  # (nothing of it left to fit)
    with pytest.raises(ValueError, match="none of its weights fit"):
        train_sequence_model(tiny_corpus, None, tmp_path / "none", config, arch=arm.arch,
                             init_from=tmp_path / "first" / "best", progress=False)
