"""PISA invariants, autoencoder and GAN training with exact resume, checkpoints, generation, CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import mido
import numpy as np
import pytest
import symusic
import torch
from safetensors.torch import load_file

from timestepmusic.autoencoder import Autoencoder, load_autoencoder
from timestepmusic.batches import ChunkGatherer
from timestepmusic.checks import check_resumed_corpus
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.encoding import DurationFit, Encoding
from timestepmusic.evaluate.fidelity import reconstruct_track
from timestepmusic.generate_api import generate
from timestepmusic.generation import GANModel
from timestepmusic.midi import Events
from timestepmusic.midi_write import write_events
from timestepmusic.pisa import PISA
from timestepmusic.prepare_corpus import prepare
from timestepmusic.train.ae import train_autoencoder
from timestepmusic.train.log import read_metrics
from timestepmusic.train.sequence import train_sequence_model

from conftest import TINY_AE, TINY_GAN, assert_same_weights, random_performance
from midi_factory import CC, Note, midi_bytes

# --- PISA invariants on random tensors -----------------------------------------------------------


def make_model() -> PISA:
    torch.manual_seed(0)
    return PISA(features=6, max_events=10, latent=12, hidden=32)


def test_latent_is_invariant_to_order_and_padding():
    model = make_model()
    x = torch.randn(5, 10, 6)
    sizes = torch.tensor([0, 1, 4, 10, 7])
    latent, _ = model.encode(x, sizes)
    shuffled = x.clone()
    for b, n in enumerate(sizes.tolist()):
        shuffled[b, :n] = x[b, torch.randperm(n)]
        shuffled[b, n:] = torch.randn(10 - n, 6) * 100  # padding content must not matter
    latent2, _ = model.encode(shuffled, sizes)
    torch.testing.assert_close(latent, latent2, rtol=1e-5, atol=1e-5)


def test_sets_never_mix_within_a_batch():
    model = make_model()
    x = torch.randn(4, 10, 6)
    sizes = torch.tensor([3, 5, 10, 2])
    alone = torch.cat([model.encode(x[i:i + 1], sizes[i:i + 1])[0] for i in range(4)])
    together, _ = model.encode(x, sizes)
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)


def test_rank_score_gets_gradient_and_loss_is_masked():
    model = make_model()
    encoding = Encoding("pon", 0.25, DurationFit())
    ids = torch.randint(0, 91, (3, 10))
    x = encoding.encode(ids, torch.rand(3, 10) * 0.25, torch.rand(3, 10) + 0.01, torch.randint(1, 128, (3, 10)))
    sizes = torch.tensor([2, 10, 0])
    loss, parts = model.loss(x, sizes, encoding)
    loss.backward()
    assert model.rank.weight.grad is not None and model.rank.weight.grad.abs().sum() > 0
    x2 = x.clone()
    x2[0, 2:] = 50.0  # beyond the true size: the element loss must not see it
    _, parts2 = model.loss(x2, sizes, encoding)
    assert torch.isclose(parts["element"], parts2["element"])


def test_loss_runs_under_bf16_autocast_close_to_float32():
    """On CUDA the autoencoder trains under bf16 autocast; the same ops under CPU autocast must run,
    backpropagate into every weight and stay close to the float32 loss (no GPU needed to check this)."""
    model = make_model()
    encoding = Encoding("pon", 0.25, DurationFit())
    ids = torch.randint(0, 91, (64, 10), generator=torch.Generator().manual_seed(0))
    x = encoding.encode(ids, torch.rand(64, 10) * 0.25, torch.rand(64, 10) + 0.01, torch.randint(1, 128, (64, 10)))
    sizes = torch.randint(0, 11, (64,), generator=torch.Generator().manual_seed(1))
    full, _ = model.loss(x, sizes, encoding)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half, parts = model.loss(x, sizes, encoding)
    half.backward()
    assert half.dtype == torch.float32 and torch.isfinite(half)
    assert abs(float(half.detach()) - float(full.detach())) <= 0.05 * float(full.detach())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# --- autoencoder training, checkpoints, resume ---------------------------------------------------

def test_train_ae_writes_checkpoints_and_metrics(tiny_ae):
    for name in ("last", "best"):
        meta = json.loads((tiny_ae / name / "config.json").read_text())
        assert meta["kind"] == "autoencoder"
        assert (tiny_ae / name / "pisa.safetensors").is_file()
    records = [json.loads(line) for line in (tiny_ae / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "epoch" in r and "val_loss" in r] == [1, 2]
    assert all(np.isfinite(r["val_loss"]) for r in records if "val_loss" in r)


def test_a_stopped_autoencoder_run_counts_its_epoch_as_its_warning_and_log_do(tiny_corpus, tiny_ae, tmp_path, caplog):
    # stopped in its second epoch, a run warned 'at epoch 2 of 2', but printed and logged {"epoch": 1, "batch": …}:
    # the epochs done, beside the epoch records' "epoch": 1 for the first epoch's end
    per_epoch = next(r["step"] for r in read_metrics(tiny_ae / "metrics.jsonl") if r.get("epoch") == 1)
    run = tmp_path / "stopped"
    stopped = train_autoencoder(tiny_corpus, run, Config().override(TINY_AE), progress=False, max_steps=per_epoch + 1)
    assert (stopped["epoch"], stopped["batch"]) == (2, 1) and "at epoch 2 of 2, batch 1 of" in caplog.text
    assert [(r["event"], r["epoch"], r["batch"]) for r in read_metrics(run / "metrics.jsonl") if "event" in r] == [
        ("stopped", 2, 1)]


def test_resume_is_bit_for_bit(tiny_corpus, tiny_ae, tmp_path):
    run = tmp_path / "resumed"
    config = Config().override(TINY_AE)
    stopped = train_autoencoder(tiny_corpus, run, config, progress=False, max_steps=3)
    assert stopped["stopped"] and json.loads((run / "last" / "config.json").read_text())["batch"] == 3
    train_autoencoder(tiny_corpus, run, resume=True, progress=False)
    straight = load_file(str(tiny_ae / "last" / "pisa.safetensors"))
    resumed = load_file(str(run / "last" / "pisa.safetensors"))
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key


def test_resume_from_damaged_weights_names_the_file(tiny_ae, tmp_path):
    import shutil
    run = tmp_path / "copy"
    shutil.copytree(tiny_ae, run)
    corpus = Path(json.loads((run / "last" / "config.json").read_text())["corpus"]["root"])
    (run / "last" / "pisa.optim.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match=r"last: cannot restore optimizer pisa\.optim\.safetensors"):
        train_autoencoder(corpus, run, resume=True, progress=False)
    (run / "last" / "pisa.safetensors").write_bytes(b"\x08" + bytes(8))
    with pytest.raises(ValueError, match=r"last: cannot read weights pisa\.safetensors"):
        train_autoencoder(corpus, run, resume=True, progress=False)


def test_autoencoder_on_other_chunking_is_refused(tiny_corpus, tiny_ae, tmp_path):
    other = tmp_path / "other"
    prepare([Path(tiny_corpus).parent / "midi"], other, Config().override({"chunks.chunk_seconds": 0.5}), progress=False)
    with pytest.raises(ValueError, match="chunks.chunk_seconds"):
        train_sequence_model(other, tiny_ae, tmp_path / "gan", Config().override(TINY_GAN), progress=False)


def test_half_written_checkpoint_is_ignored(tiny_ae, tmp_path):
    import shutil
    run = tmp_path / "copy"
    shutil.copytree(tiny_ae, run)
    (run / ".last.tmp").mkdir()  # a crash mid-write leaves only this
    (run / ".last.tmp" / "config.json").write_text("{ half")
    assert Autoencoder.load(run).weights_sha256 == Autoencoder.load(tiny_ae).weights_sha256
    (run / "last" / "config.json").write_text("{ broken")
    with pytest.raises(ValueError, match="corrupt checkpoint config"):
        Autoencoder.load(run / "last")


def test_reconstruct_round_trip_shapes(tiny_ae, tiny_corpus):
    ae = Autoencoder.load(tiny_ae)
    corpus = Corpus.open(tiny_corpus)
    events = corpus.track_events(0)
    seen, rebuilt, accuracy = ae.reconstruct(events)
    assert 0.0 <= accuracy <= 1.0
    assert len(seen) == len(events)  # nothing over the cap in this corpus
    assert rebuilt.ids.min(initial=0) >= 0 and rebuilt.ids.max(initial=0) <= 90
    assert np.all((rebuilt.intensity >= 1) & (rebuilt.intensity <= 127))
    # the same track gathered from the corpus: the same input, the same rebuilt events, the same accuracy
    reference, estimate, right = reconstruct_track(ae, ChunkGatherer(corpus), 0)
    np.testing.assert_array_equal(seen.ids, reference.ids)
    np.testing.assert_allclose(seen.start_s, reference.start_s, atol=1e-9)
    np.testing.assert_array_equal(rebuilt.ids, estimate.ids)
    np.testing.assert_allclose(rebuilt.start_s, estimate.start_s, atol=1e-9)
    np.testing.assert_allclose(rebuilt.duration_s, estimate.duration_s, atol=1e-6)
    chunks = int(np.diff(corpus.track_chunk_ptr)[0])
    assert accuracy == pytest.approx(right / chunks)


# --- GAN ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_gan(tiny_corpus, tiny_ae, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("gan") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_GAN), progress=False)
    return run


def test_gan_training_writes_samples_and_resumes_exactly(tiny_corpus, tiny_ae, tiny_gan, tmp_path):
    assert sorted(p.name for p in (tiny_gan / "samples").iterdir()) == ["step_000003", "step_000006"]
    for midi in (tiny_gan / "samples" / "step_000006").glob("*.mid"):
        symusic.Score(str(midi))  # plays: a readable MIDI file
    run = tmp_path / "gan"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_GAN), progress=False, max_steps=3)
    train_sequence_model(tiny_corpus, None, run, resume=True, progress=False)
    assert_same_weights(tiny_gan, run, ("generator", "critic", "generator_ema"))  # the weight average resumes exactly too


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (a tiny model's silent pieces: said)
def test_generate_is_reproducible_and_plays(tiny_gan, tmp_path):
    first = generate(tmp_path / "a", model=tiny_gan, n=2, seconds=6, seed=3)
    again = generate(tmp_path / "b", model=tiny_gan, n=2, seconds=6, seed=3)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    gan = GANModel.load(tiny_gan)
    # a 6-step model may decode different noise to the same notes, so compare what the generator made
    assert not torch.equal(torch.stack(gan.sample_latents(2, 6, seed=3, snap_to_real=False)),
                           torch.stack(gan.sample_latents(2, 6, seed=4, snap_to_real=False)))
    assert gan.sample_latents(1, 6, seed=3)[0].shape[0] == round(6 / 0.25)
    for path in first:
        score = symusic.Score(str(path))  # a readable, playable file
        assert score.ticks_per_quarter == 960
    mine = first[0].read_bytes()
    with pytest.raises(ValueError, match="is there already"):  # the Python verb refuses what an earlier run wrote
        generate(tmp_path / "a", model=tiny_gan, n=1, seconds=6, seed=3)
    assert first[0].read_bytes() == mine and first[1].exists()
    from timestepmusic.markers import made_by_marker

    assert made_by_marker(first[1]).endswith(": generate() in Python, seed 3, piece 1 of 2")  # known for this tool's …
    replaced = generate(tmp_path / "a", model=tiny_gan, n=1, seconds=6, seed=3, overwrite=True)
    assert replaced == [first[0]] and not first[1].exists()  # … so replaced: no file of the earlier run to mix with


def test_gan_with_wrong_autoencoder_is_refused(tiny_gan, tiny_corpus, tmp_path):
    other_ae = tmp_path / "ae2"
    train_autoencoder(tiny_corpus, other_ae, Config().override(TINY_AE | {"ae.seed": 1, "ae.epochs": 1}),
                      progress=False)
    folder = tiny_gan / "last"
    meta = json.loads((folder / "config.json").read_text())
    with pytest.raises(ValueError, match="do not belong together"):
        GANModel.with_autoencoder(folder, meta, Autoencoder.load(other_ae))


# --- CLI end to end --------------------------------------------------------------------------------

def test_cli_end_to_end(tiny_corpus, tmp_path, capsys):
    midi = Path(tiny_corpus).parent / "midi"
    corpus = tmp_path / "corpus"
    assert main(["prepare", str(midi), "--out", str(corpus), "-q", "--set", "corpus.validation_fraction=0.2",
                 "--set", "corpus.test_fraction=0.2"]) == 0
    assert main(["train-ae", str(corpus), "--out", str(tmp_path / "ae"), "-q", "--epochs", "1",
                 "--set", "ae.latent=8", "--set", "ae.hidden=32", "--set", "ae.batch_chunks=32"]) == 0
    sets = [f"--set=gan.{k.split('.')[1]}={v}" for k, v in TINY_GAN.items()]
    assert main(["train-gan", str(corpus), "--ae", str(tmp_path / "ae"), "--out", str(tmp_path / "gan"), "-q",
                 *sets]) == 0
    assert main(["generate", "--model", str(tmp_path / "gan"), "-n", "2", "-o", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*.mid"))) == 2
    source = next(midi.rglob("*.mid"))
    assert main(["reconstruct", str(source), "--ae", str(tmp_path / "ae"), "-o", str(tmp_path / "rec.mid")]) == 0
    assert "note precision" in capsys.readouterr().out
    assert main(["evaluate-ae", str(tmp_path / "ae"), "--corpus", str(corpus), "--split", "train", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["notes"]["reference"] > 0


def test_reconstruct_writes_under_the_files_tempo_map_and_meter(tmp_path, capsys):
    """reconstruct wrote every file at 120 bpm in 4/4 (a take at 60 bpm showed twice its bars in a sequencer): the
    reconstruction is written under the tempo map and time signatures of the file it was read from."""
    source = tmp_path / "take.mid"
    tempos = ((0, 1_000_000), (8 * 480, 500_000), (14 * 480, 666_667))  # 60, then 120, then 90 bpm
    source.write_bytes(midi_bytes([Note(60 + i % 8, i * 480, i * 480 + 300) for i in range(20)], tempos=tempos))
    midi = mido.MidiFile(source)
    midi.tracks[0].insert(0, mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    midi.save(source)
    assert main(["reconstruct", str(source), "-o", str(tmp_path / "rebuilt.mid")]) == 0
    capsys.readouterr()
    read, rebuilt = (symusic.Score(path).to("second") for path in (source, tmp_path / "rebuilt.mid"))
    assert [round(t.qpm, 2) for t in rebuilt.tempos] == [round(t.qpm, 2) for t in read.tempos]
    np.testing.assert_allclose([t.time for t in rebuilt.tempos], [t.time for t in read.tempos], atol=1e-3)
    assert [(m.numerator, m.denominator) for m in rebuilt.time_signatures] == [(3, 4)]


def test_reconstruct_says_the_notes_over_the_autoencoders_cap(tmp_path, caplog, capsys):
    """Notes past the autoencoder's events per chunk (a cluster, a dense run) were left out unsaid, and the figures,
    measured on the rest, read 1.000 all the same: they are said in one line naming the file."""
    cap = load_autoencoder().max_events
    chords = 3
    source = tmp_path / "clusters.mid"
    source.write_bytes(midi_bytes([Note(40 + k, c * 960, c * 960 + 480) for c in range(chords) for k in range(cap + 5)]))
    assert main(["reconstruct", str(source), "-o", str(tmp_path / "rebuilt.mid")]) == 0
    capsys.readouterr()
    assert f"{source}: {chords * 5} of {chords * (cap + 5)} notes left out, over the autoencoder's {cap} events" \
        in caplog.text and "pedal presses" not in caplog.text


def test_reconstructs_roll_draws_each_pedal_as_the_written_file_holds_it(tmp_path, monkeypatch, capsys):
    """reconstruct --png drew the decoded presses, which overlap (a press running on past the next one of its pedal),
    as boxes over one another, where the written file holds the pedal at one depth at a time: the roll drawn is
    that of the file written."""
    from timestepmusic.evaluate import plots

    source = tmp_path / "pedalled.mid"
    pedals = [CC(64, 127, 0), CC(64, 0, 1920), CC(64, 64, 2880), CC(64, 40, 3840), CC(64, 0, 5760),
              CC(66, 127, 960), CC(66, 0, 4800), CC(67, 127, 6720), CC(67, 0, 8640)]
    source.write_bytes(midi_bytes([Note(48 + i % 12, i * 480, i * 480 + 300) for i in range(20)], pedals))
    drawn = []
    monkeypatch.setattr(plots, "plot_roll_pair", lambda original, rebuilt, path: drawn.append(rebuilt) or Path(path))
    assert main(["reconstruct", str(source), "-o", str(tmp_path / "rebuilt.mid"), "--png"]) == 0
    capsys.readouterr()
    (rebuilt,) = drawn
    for pedal in np.unique(rebuilt.ids[~rebuilt.is_note]):
        mine = rebuilt.ids == pedal
        order = np.argsort(rebuilt.start_s[mine])
        start, end = rebuilt.start_s[mine][order], (rebuilt.start_s + rebuilt.duration_s)[mine][order]
        assert np.all(start[1:] >= end[:-1] - 1e-6), pedal  # one press at a time


def test_cli_errors_name_the_problem(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    assert main(["prepare", str(bad), "--out", str(tmp_path / "c"), "-q"]) != 0
    assert f"{bad}" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # the flag's usage line, as argparse says it
        main(["prepare", str(tmp_path), "--out", str(tmp_path / "c2"), "--chunk-seconds", "0", "-q"])
    assert stop.value.code == 2 and "error: --chunk-seconds: '0': give a time step" in capsys.readouterr().err
    assert main(["generate", "--model", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_snapped_latents_are_real_training_chunks(tiny_gan):
    gan = GANModel.load(tiny_gan)
    assert gan.codebook is not None and gan.codebook.shape[1] == gan.generator.latent
    snapped = torch.cat(gan.sample_latents(3, 4, seed=0))  # [S·T, L]
    raw = torch.cat(gan.sample_latents(3, 4, seed=0, snap_to_real=False))
    in_book = (snapped[:, None, :] == gan.codebook[None]).all(-1).any(-1)
    assert in_book.all()
    # each raw latent went to the codebook entry nearest to it in standardised space
    distance = torch.cdist(gan.normaliser.forward(raw), gan.codebook_std)
    chosen = torch.cdist(gan.normaliser.forward(snapped), gan.codebook_std).argmin(1)
    assert torch.equal(distance.argmin(1), chosen)


def test_generated_pieces_stop_ringing_soon_after_their_end(tiny_gan):
    from timestepmusic.holds import release_by
    from timestepmusic.piece_events import RELEASE_S

    events = Events([30, 88, 40], [0.5, 1.0, 5.9], [100.0, 50.0, 0.05], [60, 64, 70])
    released = release_by(events, 6.0 + RELEASE_S)
    assert np.all(released.start_s + released.duration_s <= 6.0 + RELEASE_S + 1e-9)
    assert released.duration_s[released.ids == 40][0] == pytest.approx(0.05)
    for piece in GANModel.load(tiny_gan).sample(2, 6.0, seed=1):
        assert piece.end_s <= 6.0 + RELEASE_S + 1e-9


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile on a CPU needs a C compiler (cc or gcc), and none is installed")
def test_compiled_generator_trains_and_saves_plain_weights(tiny_corpus, tiny_ae, tiny_gan, tmp_path):
    run = tmp_path / "compiled"
    config = Config().override(TINY_GAN | {"gan.compile": True, "gan.steps": 2, "gan.sample_every": 0})
    train_sequence_model(tiny_corpus, tiny_ae, run, config, progress=False)
    compiled = load_file(str(run / "last" / "generator.safetensors"))
    plain = load_file(str(tiny_gan / "last" / "generator.safetensors"))
    assert sorted(compiled) == sorted(plain)  # no `_orig_mod.` prefixes: loads into a plain Generator
    assert torch.stack(GANModel.load(run).sample_latents(1, 4, seed=0)).shape == (1, 16, 8)
    # e.g. another machine
    train_sequence_model(tiny_corpus, None, run, resume=True, progress=False, steps=3, compile_model=False)
    meta = json.loads((run / "last" / "config.json").read_text())
    assert meta["step"] == 3 and meta["config"]["gan"]["compile"] is False


def test_generate_refuses_a_soundfont_that_is_not_there(tiny_gan, tmp_path, capsys):
    missing = tmp_path / "no_such_font.sf2"
    assert main(["generate", "--model", str(tiny_gan), "-n", "2", "-o", str(tmp_path / "out"), "--wav",
                 "--soundfont", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --soundfont {missing}: no such file"  # one line, before anything is drawn or written
    assert not (tmp_path / "out").exists()
    assert main(["generate", "--model", str(tiny_gan), "-o", str(tmp_path / "o2"), "--soundfont", str(missing)]) == 2
    assert main(["generate", "--model", str(tiny_gan), "-o", str(tmp_path / "o3"), "--corpus", str(tmp_path)]) == 2
    assert "--corpus is the corpus whose piece lengths" in capsys.readouterr().err  # not silently ignored


def test_pieces_are_numbered_so_that_a_sorted_listing_keeps_their_order():
    from timestepmusic.sample_files import sample_name

    assert sample_name(0, 7, 8) == "sample_0_007.mid"  # as always, up to a thousand pieces
    names = [sample_name(3, i, 3000) for i in (2, 10, 100, 999, 1000, 2999)]
    assert names == sorted(names) and names[-1] == "sample_3_2999.mid" and names[0] == "sample_3_0002.mid"


def test_a_run_resumes_only_on_the_corpus_it_was_trained_on(tiny_corpus, tiny_ae, tmp_path):
    """Resuming on another corpus would change its batches and validation silently: refused, naming both."""
    ae_run, gan_run = tmp_path / "ae", tmp_path / "gan"
    shutil.copytree(tiny_ae, ae_run)
    train_sequence_model(tiny_corpus, tiny_ae, gan_run, Config().override(TINY_GAN), progress=False, max_steps=1)
    rng = np.random.default_rng(5)
    for piece in range(3):
        write_events(random_performance(rng, 12.0), tmp_path / "other" / f"piece{piece}.mid")
    other = prepare([tmp_path / "other"], tmp_path / "other_corpus", progress=False).corpus.root
    with pytest.raises(ValueError, match=r"other_corpus: run .*ae was trained on another corpus"):
        train_autoencoder(other, ae_run, resume=True, progress=False)
    with pytest.raises(ValueError, match=r"other_corpus: run .*gan was trained on another corpus"):
        train_sequence_model(other, None, gan_run, resume=True, progress=False)
    assert json.loads((gan_run / "last" / "config.json").read_text())["step"] == 1  # untouched
    splits = Config().override({"corpus.validation_fraction": 0.2, "corpus.test_fraction": 0.2})  # tiny_corpus's
    again = prepare([Path(f"{tiny_corpus.parent / 'midi'}/.")], tmp_path / "again", splits, progress=False).corpus
    check_resumed_corpus(json.loads((gan_run / "last" / "config.json").read_text()), again, gan_run)  # the same
    # files from another path, in another folder: the same corpus


def test_resume_refuses_a_flag_that_names_another_setting_than_the_runs(tiny_corpus, tiny_ae, tmp_path, capsys):
    """--resume RUN --arch/--ae/--seed/--finetune-ae (train-gan), --latent/--encoding/--batch/--seed (train-ae): the
    run trains on its saved settings, so another value was silently ignored; it is refused in one line, as --set is,
    and the run's own value, repeated, goes on."""
    ae_run, gan_run = tmp_path / "ae", tmp_path / "gan"
    shutil.copytree(tiny_ae, ae_run)
    train_sequence_model(tiny_corpus, tiny_ae, gan_run, Config().override(TINY_GAN), progress=False, max_steps=1)
    for flags, said in ((["--arch", "ar"], "--arch ar: a resumed run keeps its saved arch (conv)"),
                        (["--seed", "5"], "--seed 5: a resumed run keeps its saved seed (0)"),
                        (["--finetune-ae"], "--finetune-ae: a resumed run keeps its saved finetune-ae (off)"),
                        (["--ae", "ae-latent75"], "--ae ae-latent75: a resumed run trains over its own autoencoder")):
        assert main(["train-gan", str(tiny_corpus), "--resume", str(gan_run), "--steps", "2", "-q", *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {said}") and err.count("\n") == 1
        # (--init-from RUN warm-starts a model of RUN's own arch: it is no way to change the arch)
        assert flags[0] != "--arch" or "--init-from" not in err
    assert json.loads((gan_run / "last" / "config.json").read_text())["step"] == 1  # untouched
    for flags, said in ((["--latent", "9"], "--latent 9: a resumed run keeps its saved latent (8)"),
                        (["--encoding", "OHE"], "--encoding OHE: a resumed run keeps its saved encoding (pon)"),
                        (["--batch", "7"], "--batch 7: a resumed run keeps its saved batch (16)"),
                        (["--seed", "3"], "--seed 3: a resumed run keeps its saved seed (0)")):
        assert main(["train-ae", str(tiny_corpus), "--resume", str(ae_run), "-q", *flags]) == 2
        assert capsys.readouterr().err.startswith(f"error: {said}")
    assert main(["train-gan", str(tiny_corpus), "--resume", str(gan_run), "--steps", "2", "-q", "--arch", "conv",
                 "--seed", "0", "--ae", str(tiny_ae)]) == 0  # the run's own, repeated: resumed
    assert json.loads((gan_run / "last" / "config.json").read_text())["step"] == 2
    assert main(["train-ae", str(tiny_corpus), "--resume", str(ae_run), "-q", "--latent", "8", "--batch", "16"]) == 0
    for verb, run, flags, kind in (("train-gan", ae_run, ["--seed", "5"], "not a sequence-model run (kind='autoencoder')"),
                                   ("train-ae", gan_run, ["--latent", "9"], "not an autoencoder run")):
        assert main([verb, str(tiny_corpus), "--resume", str(run), "-q", *flags]) == 2  # a run of the other kind: said
        assert capsys.readouterr().err == f"error: {run / 'last'}: {kind}\n"  # as one, not as a changed flag


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA where there is none")
def test_resume_moves_a_run_to_the_device_asked(tiny_corpus, tiny_ae, tmp_path, capsys):
    """--resume RUN --device D: a run started on one machine goes on on another (a GPU lease, or back); before, the
    flag was silently ignored and the run trained where it had. Asked for a device this machine lacks, it is said."""
    ae_run, gan_run = tmp_path / "ae", tmp_path / "gan"
    shutil.copytree(tiny_ae, ae_run)
    train_sequence_model(tiny_corpus, tiny_ae, gan_run, Config().override(TINY_GAN), progress=False, max_steps=1)
    for verb, run, more in (("train-gan", gan_run, ["--steps", "2"]), ("train-ae", ae_run, ["--epochs", "3"])):
        assert main([verb, str(tiny_corpus), "--resume", str(run), "-q", *more, "--device", "cuda"]) == 2
        assert capsys.readouterr().err == "error: --device cuda: CUDA is not available on this machine\n", verb
        assert main([verb, str(tiny_corpus), "--resume", str(run), "-q", *more, "--device", "cpu"]) == 0
        saved = json.loads((run / "last" / "config.json").read_text())
        assert saved["config"]["gan" if verb == "train-gan" else "ae"]["device"] == "cpu", verb  # where it goes on


def test_resume_of_a_folder_without_a_checkpoint_says_what_it_is(tiny_corpus, tiny_ae, tmp_path, capsys):
    """--resume RUN/last, a run stopped (or still training) before its first checkpoint, or a folder of no run: one
    line saying which (it said 'RUN/last/last: no checkpoint here'), and a run being trained is said to be first."""
    from timestepmusic.checkpoint import held_run

    unfinished = tmp_path / "unfinished"
    (unfinished / "autoencoder").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    for verb in ("train-ae", "train-gan"):
        for folder, said in ((tiny_ae / "last", f"a checkpoint, not a run folder; give the run's folder (--resume {tiny_ae})"),
                             (unfinished, f"the run stopped before its first checkpoint (nothing to resume); start it "
                                          f"again with --out {unfinished} --overwrite"),
                             (tmp_path / "notes", f"holds no run (no {tmp_path / 'notes' / 'last'})")):
            assert main([verb, str(tiny_corpus), "--resume", str(folder), "-q"]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: --resume {folder}: {said}") and err.count("\n") == 1, err
        best_only = tmp_path / "best_only"  # killed between its first best and its first last: not 'nothing to
        shutil.copytree(tiny_ae / "last", best_only / "best", dirs_exist_ok=True)  # resume', whose --overwrite deletes it
        assert main([verb, str(tiny_corpus), "--resume", str(best_only), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --resume {best_only}: the run holds its best checkpoint but no last to go on "
                              f"from") and f"keep {best_only / 'best'} as a model" in err and err.count("\n") == 1, err
        with held_run(unfinished):  # a new run still before its first checkpoint, training now
            assert main([verb, str(tiny_corpus), "--resume", str(unfinished), "-q"]) == 2
            assert "another process is training this run now" in capsys.readouterr().err


def test_sampling_turns_onednn_off_only_while_it_runs():
    from timestepmusic.devices import without_onednn

    seen = []

    @without_onednn
    def sample(fail: bool) -> None:
        seen.append(torch.backends.mkldnn.enabled)
        if fail:
            raise ValueError("bad request")
    before = torch.backends.mkldnn.enabled
    sample(False)
    with pytest.raises(ValueError, match="bad request"):
        sample(True)
    assert seen == [False, False] and torch.backends.mkldnn.enabled == before


def test_a_runs_bar_says_how_many_cpu_threads_it_computes_on():
    import torch

    from timestepmusic.devices import where_words

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert where_words(torch.device("cpu")) == "cpu, 1 thread"
        torch.set_num_threads(2)
        assert where_words(torch.device("cpu")) == "cpu, 2 threads"
    finally:
        torch.set_num_threads(before)
    assert where_words(torch.device("cuda", 0)) == "cuda:0"


def test_training_keeps_the_callers_random_stream(tiny_corpus, tiny_ae, tmp_path):
    """Training seeded torch's global generator (initial weights, dropout) and left it so: a notebook that seeded torch
    drew other numbers after a train call. Each training function now leaves the caller's stream where it was."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_autoencoder(tiny_corpus, tmp_path / "ae", Config().override(TINY_AE | {"ae.epochs": 1}), progress=False)
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "gan", Config().override(TINY_GAN), progress=False,
                         max_steps=1)
    assert torch.equal(torch.rand(3), expected)
