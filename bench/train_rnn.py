"""Benchmark and comparison of the recurrent attention GAN (gan/recurrent.py, sequence/recurrent_gan.py).

  speed     training steps/s at batch 10 (the real training loop, frozen and fine-tuned autoencoder)
            beside the convolutional trainer; sampling speed (chunks/s, × real time) with the
            KV cache beside two baselines without it and beside the convolutional generator.
            Writes bench/results/train_rnn.md.
  compare   equal wall-clock training (default 5 min each, run side by side so that every arm sees
            the same machine load, one thread each) of conv + frozen AE, rnn + frozen AE and
            rnn + fine-tuned AE; then descriptors of 16 s decoded samples against real test
            excerpts (evaluate/excerpts.py, descriptors.py, compare.py), and the length distribution
            of rnn pieces beside the real one. Writes docs/comparison.md.

Every timing: torch.set_num_threads(1), warm-up first, then timed repeats (median reported). Both arms train
under `Config.preset("seed")`: the [gan] settings (batch 10, …) these tables were first measured with.

    python bench/train_rnn.py speed --corpus /root/work/asap --ae /root/work/ae20 --cache /root/work/rnn_cache \
        --markdown bench/results/train_rnn.md
    python bench/train_rnn.py compare --corpus /root/work/asap --ae /root/work/ae20 --cache /root/work/rnn_cache \
        --runs /root/work/rnn_compare --minutes 5 --markdown docs/comparison.md
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
TARGET_REAL_TIME = 100.0  # × real time for sampling (64 chunks = 16 s in < 160 ms)
sys.path.insert(0, str(BENCH))
from common import busy, copy_checkpoint, table, verdict, write_markdown  # noqa: E402

# ---------------------------------------------------------------- shared set-up


def seed_run(run: Path, cache: Path) -> None:
    """Put the already-encoded latents into a run folder so that the trainer does not encode again."""
    run.mkdir(parents=True, exist_ok=True)
    for npy in cache.glob("latents-*.npy"):
        if not (run / npy.name).exists():
            shutil.copy(npy, run / npy.name)


def encode_once(args, ae_dir: Path) -> None:
    from timestepmusic.autoencoder import Autoencoder
    from timestepmusic.corpus import Corpus
    from timestepmusic.latents import cached_latents

    t0 = time.perf_counter()
    cached_latents(Autoencoder.load(ae_dir), Corpus.open(args.corpus), args.cache)
    print(f"latents ready in {args.cache} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def load_note() -> str:
    load = os.getloadavg()[0]
    note = f"1-min load average {load:.1f} on {os.cpu_count()} cores"
    return note + (" (other jobs were running: wall figures are deflated)" if busy(load) else "")


# ---------------------------------------------------------------- sampling baselines

@torch.no_grad()
def sample_without_kv_cache(gen, z: torch.Tensor, noise: torch.Tensor, u: torch.Tensor):
    """RecurrentGenerator.sample step for step (same end sampling), but without the KV cache: keys and
    values are projected again from every past hidden state at each step."""
    b, steps = noise.shape[:2]
    y, h, _ = gen.begin(z)
    hidden = []
    out = z.new_zeros(b, steps, gen.latent)
    lengths = torch.full((b,), steps, dtype=torch.long)
    alive = torch.ones(b, dtype=torch.bool)
    for t in range(steps):
        h = gen.cell(torch.cat([y, noise[:, t]], -1), h)
        hidden.append(h)
        past = torch.stack(hidden, 1)  # [B, t, H]
        o = torch.cat([h, gen.read(gen.query(h), gen.key(past), gen.value(past))], -1)
        y, end = gen.out(o), gen.end(o).squeeze(-1)
        out[:, t] = y * alive[:, None]
        fired = alive & (u[:, t] < torch.sigmoid(end))
        lengths[fired] = t + 1
        alive &= ~fired
        if not alive.any():
            break
    return out, lengths


@torch.no_grad()
def sample_from_scratch(gen, z: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """No cache at all: every new step re-runs the whole recurrence from the first step (O(T²))."""
    x = None
    for t in range(1, noise.shape[1] + 1):
        x, _ = gen(z, noise[:, :t])
    return x


# ---------------------------------------------------------------- speed

def train_rates(args, ae_dir: Path, tmp: Path, arm: str, steps: int) -> dict:
    """Generator steps/s of the real training loop: `steps` timed steps after `steps` warm-up steps."""
    from timestepmusic.config import Config
    from timestepmusic.train.log import read_metrics
    from timestepmusic.train.sequence import train_sequence_model
    from timestepmusic.train.sequence import train_sequence_model as train_gan

    run = tmp / arm
    seed_run(run, args.cache)
    config = Config.preset("seed").override({"gan.device": "cpu", "gan.sample_every": 0,
                                             "gan.validate_every": steps, "gan.steps": 3 * steps,
                                             "gan.finetune_ae": arm.endswith("-ft")})
    t0, c0 = time.perf_counter(), time.process_time()
    if arm.startswith("conv"):
        train_gan(args.corpus, ae_dir, run, config, progress=False)
    else:
        train_sequence_model(args.corpus, ae_dir, run, config, arch="rnn", progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    records = [r for r in read_metrics(run / "metrics.jsonl") if "step" in r and "val_wasserstein" in r]
    rates = [r["steps_per_s"] for r in records[1:]]  # generator steps/s; the first interval is the warm-up
    return {"steps_per_s": statistics.median(rates), "rates": rates, "wall_s": wall, "cpu_s": cpu}


def cmd_speed(args) -> None:
    torch.set_num_threads(1)
    from timestepmusic.autoencoder import Autoencoder
    from timestepmusic.gan.conv import Generator
    from timestepmusic.gan.recurrent import RecurrentGenerator
    from timestepmusic.stage_configs import RecurrentConfig

    tmp = Path(tempfile.mkdtemp(prefix="tsm-bench-rnn-"))
    try:
        ae_dir = copy_checkpoint(args.ae, tmp / "ae")
        encode_once(args, ae_dir)
        ae = Autoencoder.load(ae_dir)
        r = RecurrentConfig()
        torch.manual_seed(0)
        gen = RecurrentGenerator(latent=ae.model.latent, noise=50, step_noise=r.step_noise, hidden=r.hidden,
                                 attention=r.attention).eval()
        conv = Generator(latent=ae.model.latent).eval()
        g = torch.Generator().manual_seed(0)
        rows = []
        lines = []
        chunk_s = ae.chunk_seconds
        for batch, steps in ((1, 64), (1, 480), (8, 64)):
            z = torch.randn(batch, 50, generator=g)
            noise = torch.randn(batch, steps, r.step_noise, generator=g)
            never = torch.ones(batch, steps)  # u = 1: no piece ends, all run the full length
            cached, _ = gen.sample(z, noise, never)
            diff = float((sample_without_kv_cache(gen, z, noise, never)[0] - cached).abs().max())
            variants = [("rnn, GRU state + KV cache (ours)", lambda z=z, noise=noise, never=never: gen.sample(z, noise, never)),
                        ("rnn, no KV cache (keys/values re-projected each step)",
                         lambda z=z, noise=noise, never=never: sample_without_kv_cache(gen, z, noise, never))]
            if steps <= 64:
                variants.append(("rnn, no cache (re-run from step 0 each step)",
                                 lambda z=z, noise=noise: sample_from_scratch(gen, z, noise)))
                zc = torch.randn(batch, 50, generator=g)
                variants.append(("conv generator (one pass, 64 chunks)", lambda zc=zc: conv(zc)))
            base_ms = None
            for name, fn in variants:
                ms = median_ms(fn, args.repeats)
                base_ms = base_ms or ms
                chunks = batch * steps
                speed = chunks * chunk_s / (ms / 1e3)
                ok = "" if "ours" not in name else f"≥ {TARGET_REAL_TIME:g}× {verdict(speed >= TARGET_REAL_TIME)}"
                rows.append([f"{batch} × {steps}", name, f"{ms:.1f}", f"{chunks / (ms / 1e3):,.0f}",
                             f"{speed:,.0f}×", f"×{base_ms / ms:.2f}", ok])
            lines.append(f"{batch} × {steps} chunks: cached and KV-free sampling agree to {diff:.1e}")
        latents = ae.decode_events  # decoding (not part of the generator) for one 64-chunk piece
        piece = torch.randn(64, ae.model.latent)
        decode_ms = median_ms(lambda: latents(piece), args.repeats)

        train_rows = []
        for arm in ARMS:
            rate = train_rates(args, ae_dir, tmp, arm, args.train_steps)
            print(f"{arm}: {rate}", file=sys.stderr)
            train_rows.append([arm, f"{rate['steps_per_s']:.2f}", f"{5 * rate['steps_per_s']:.1f}",
                               ", ".join(f"{x:.2f}" for x in rate["rates"])])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = ["Sampling (no grad, batch × chunks; median of "
              f"{args.repeats} after 2 warm-up calls; speed vs ours = our ms / its ms, > 1 = faster than ours):", ""]
    report += table(["batch × chunks", "variant", "ms", "chunks/s", "× real time", "speed vs ours", "target"], rows)
    report += ["", *lines,
               f"decoding one 64-chunk piece with the autoencoder (latents → events, not included above): "
               f"{decode_ms:.1f} ms", "",
               f"Training at batch 10 (sequence/conv_gan.py and sequence/recurrent_gan.py themselves, default sizes, "
               "5 critic steps "
               f"per generator step, gp every step; {args.train_steps} warm-up steps, then the median of two "
               f"{args.train_steps}-step intervals; no samples written):", ""]
    report += table(["arm", "generator steps/s", "critic steps/s", "intervals (generator steps/s)"], train_rows)
    report += ["", "arms: conv = convolutional WGAN-GP on cached latents; rnn = recurrent GAN on cached latents; "
               "-ft = the same with the autoencoder fine-tuned (real chunks encoded on the fly, "
               "reconstruction loss, its own Adam)",
               f"torch {torch.__version__}, torch.set_num_threads(1); {load_note()}"]
    write(args, "# Recurrent GAN benchmark: training steps/s and sampling speed", report)


# ---------------------------------------------------------------- compare

def cmd_train_arm(args) -> None:
    """One arm of the comparison, in its own process: train for --minutes, print wall/CPU/steps."""
    torch.set_num_threads(1)
    from timestepmusic.config import Config
    from timestepmusic.train.sequence import train_sequence_model
    from timestepmusic.train.sequence import train_sequence_model as train_gan

    config = Config.preset("seed").override({"gan.device": "cpu", "gan.steps": 10 ** 6, "gan.sample_every": 0,
                                             "gan.validate_every": 100, "gan.finetune_ae": args.arm.endswith("-ft")})
    t0, c0 = time.perf_counter(), time.process_time()
    if args.arm.startswith("conv"):
        result = train_gan(args.corpus, args.ae, args.run, config, progress=False, max_seconds=60 * args.minutes)
    else:
        result = train_sequence_model(args.corpus, args.ae, args.run, config, arch="rnn", progress=False,
                                     max_seconds=60 * args.minutes)
    print(json.dumps({"arm": args.arm, "step": result["step"], "wall_s": time.perf_counter() - t0,
                      "cpu_s": time.process_time() - c0}))


ARMS = ("conv", "conv-ft", "rnn", "rnn-ft")
SHOWN = ("note_density", "polyphony_mean", "pitch_range", "velocity_mean", "velocity_std", "damper_fraction")


def cmd_compare(args) -> None:
    torch.set_num_threads(1)
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.baseline_excerpts import shuffled_chunks
    from timestepmusic.evaluate.classifier_tests import classifier_test
    from timestepmusic.evaluate.compare import compare_descriptors, descriptor_features, split_halves
    from timestepmusic.evaluate.descriptors import DESCRIPTORS, describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus, excerpts_from_events
    from timestepmusic.gan.recurrent import length_distributions
    from timestepmusic.generation import GANModel

    args.runs.mkdir(parents=True, exist_ok=True)
    ae_dir = copy_checkpoint(args.ae, args.runs / "ae")
    encode_once(args, ae_dir)
    trained = {}
    if not args.skip_training:
        children = {}
        for arm in ARMS:
            shutil.rmtree(args.runs / arm, ignore_errors=True)
            seed_run(args.runs / arm, args.cache)
            command = [sys.executable, __file__, "train-arm", "--arm", arm, "--corpus", str(args.corpus), "--ae",
                       str(ae_dir), "--run", str(args.runs / arm), "--minutes", str(args.minutes)]
            children[arm] = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        for arm, child in children.items():
            out, _ = child.communicate()
            if child.returncode:
                raise SystemExit(f"arm {arm} failed (exit {child.returncode})")
            trained[arm] = json.loads(out.strip().splitlines()[-1])
        (args.runs / "trained.json").write_text(json.dumps(trained, indent=1))
    trained = json.loads((args.runs / "trained.json").read_text())

    corpus = Corpus.open(args.corpus)
    real_table = excerpts_from_corpus(corpus, "test", 16.0, max_excerpts=args.real_excerpts)
    half_a, half_b = split_halves(real_table)
    sets = {"real test, other half (ceiling)": describe(real_table.take(half_b)),
            "shuffled real chunks (trivial)": describe(shuffled_chunks(corpus, "test", args.samples))}
    reference = describe(real_table.take(half_a))
    models, ended_early, drift = {}, {}, {}
    examples = args.examples
    write_real_examples(corpus, examples)
    for arm in ARMS:
        run = args.runs / arm
        model = GANModel.load(run / "last")  # any arch; a recurrent run's pieces end themselves
        if arm.startswith("conv"):  # every arm decoded raw; the conv arms also as shipped (snapped)
            pieces = model.sample(args.samples, 16.0, seed=0, snap_to_real=False)
            sets[arm] = describe(excerpts_from_events(pieces, 16.0))
            sets[f"{arm} (snapped)"] = describe(excerpts_from_events(model.sample(args.samples, 16.0, seed=0), 16.0))
        else:
            lengths = torch.tensor([x.shape[0] for x in model.sample_latents(args.samples, 16.0, seed=0)])
            ended_early[arm] = float((lengths < 64).float().mean())
            pieces = model.sample(args.samples, 16.0, seed=0)
            models[arm] = model
            sets[arm] = describe(excerpts_from_events(pieces, 16.0))
        write_examples(pieces, examples, arm)
        if arm.endswith("-ft"):
            drift[arm] = autoencoder_drift(corpus, ae_dir, model.ae, args.drift_chunks)
    compared = compare_descriptors(reference, sets)
    names = list(sets)
    rows = []
    for name in SHOWN:
        label, unit = DESCRIPTORS[name]
        ref = compared[name]["real"]
        rows.append([f"{label} ({unit})", f"{ref['mean']:.2f} ± {ref['std']:.2f}"]
                    + [f"{compared[name]['rows'][s]['mean']:.2f} ± {compared[name]['rows'][s]['std']:.2f} "
                       f"[{compared[name]['rows'][s]['overlap']:.2f}]" for s in names])
    mean_overlap = [np.nanmean([compared[n]["rows"][s]["overlap"] for n in DESCRIPTORS]) for s in names]
    rows.append(["mean overlap, all 15 descriptors", "1"] + [f"{x:.2f}" for x in mean_overlap])
    features = descriptor_features(reference)
    rows.append(["classifier accuracy vs real (0.5 = can't tell)", "—"]
                + [f"{classifier_test(features, descriptor_features(sets[s]))['accuracy']:.2f}" for s in names])

    length_rows = []
    for arm, model in models.items():
        dist = length_distributions(model, corpus, n=args.samples * 4, max_seconds=120.0, seed=1)
        for key in ("generated", "real_remaining", "real_tracks"):
            v = dist[key]
            if key != "generated" and arm != next(iter(models)):  # the real rows once
                continue
            length_rows.append([arm if key == "generated" else key.replace("_", " "),
                                f"{np.median(v):.1f}", f"{np.mean(v):.1f}", f"{np.quantile(v, 0.1):.1f}",
                                f"{np.quantile(v, 0.9):.1f}", f"{(v >= 120).mean():.2f}", f"{v.size}"])
    train_rows = [[arm, f"{trained[arm]['step']:,}", f"{trained[arm]['wall_s']:.0f}", f"{trained[arm]['cpu_s']:.0f}"]
                  for arm in ARMS]
    report = ["arms: conv = sequence/conv_gan.py (convolutional WGAN-GP on 64-chunk windows), frozen autoencoder; "
              "rnn = sequence/recurrent_gan.py (recurrent attention GAN, sequences of up to 64 chunks with real endings), "
              "frozen autoencoder; -ft = the same with the autoencoder fine-tuned jointly (gan.finetune_ae). All with the "
              "GANConfig defaults (batch 10, 5 critic steps, gp 0.1 every step, feature matching 0.1, Adam 1e-4, "
              "betas 0.5/0.9) and the RecurrentConfig defaults; the same autoencoder copy; seed 0.", "",
              f"Equal wall-clock training, {args.minutes:g} min per arm, the {len(ARMS)} arms side by side (one thread "
              f"each; {load_note() + ' at the end' if not args.skip_training else 'figures from trained.json'}):", ""]
    report += table(["arm", "generator steps", "wall s (incl. set-up)", "CPU s"], train_rows)
    report += ["", f"Descriptors of {args.samples} decoded 16 s samples per arm (seed 0, `last` checkpoints) against "
               f"{half_a.size} real test excerpts of 16 s (half of {real_table.num_excerpts}, split by track); "
               "mean ± std [KDE overlap with the real values, 1 = same distribution]:", ""]
    report += table(["descriptor", "real (half A)", *names], rows)
    report += ["", f"Autoencoder drift of the fine-tuned arms: reconstruction loss (train/ae.py `validate`) on "
               f"{args.drift_chunks:,} validation chunks, the starting autoencoder → the arm's tuned one:"]
    report += [f"  {arm}: {before:.4f} → {after:.4f} (× {after / before:.2f})" for arm, (before, after) in drift.items()]
    report += ["", f"Listening examples (MIDI and piano rolls, the first two samples of each arm, seed 0, raw "
               f"decoding; two real test excerpts beside them): {examples}"]
    if ended_early:
        report += ["", "share of rnn samples that ended before 16 s (their excerpt is silent after the end): "
                   + ", ".join(f"{a}: {v:.2f}" for a, v in ended_early.items())]
    report += ["", f"Piece lengths (s) with at most 120 s, {args.samples * 4} rnn pieces (seed 1) beside the real "
               "training split (`real remaining` = from a uniformly random chunk to the track's end, what "
               "the training windows imply; `real tracks` = whole tracks):", ""]
    report += table(["set", "median", "mean", "10 %", "90 %", "share at 120 s", "n"], length_rows)
    write(args, "# Conv vs recurrent GAN, frozen vs fine-tuned autoencoder (equal compute)", report)


def write_examples(pieces, folder: Path, name: str, count: int = 2) -> None:
    from timestepmusic.evaluate.plots import plot_roll
    from timestepmusic.midi_write import write_events

    folder.mkdir(parents=True, exist_ok=True)
    for i, piece in enumerate(pieces[:count]):
        write_events(piece, folder / f"{name}_{i}.mid")
        plot_roll(piece, folder / f"{name}_{i}.png", title=f"{name}, sample {i} (16 s)")


def write_real_examples(corpus, folder: Path, start_s: float = 30.0, seconds: float = 16.0) -> None:
    """16 s from `start_s` of the first two test tracks, for listening beside the arms."""
    from timestepmusic.midi import Events

    pieces = []
    for track in corpus.tracks_in("test")[:2]:
        events = corpus.track_events(int(track))
        keep = (events.start_s >= start_s) & (events.start_s < start_s + seconds)
        pieces.append(Events(events.ids[keep], events.start_s[keep] - start_s,
                             np.minimum(events.duration_s[keep], start_s + seconds + 2.0 - events.start_s[keep]),
                             events.intensity[keep]))
    write_examples(pieces, folder, "real")


def autoencoder_drift(corpus, base_dir: Path, tuned, chunks: int) -> tuple[float, float]:
    from timestepmusic.autoencoder import Autoencoder
    from timestepmusic.batches import ChunkGatherer
    from timestepmusic.train.ae import validate

    base = Autoencoder.load(base_dir)
    gatherer = ChunkGatherer(corpus, max_events=base.max_events)
    tracks, index = (torch.from_numpy(a) for a in corpus.chunk_index("validation"))
    pick = torch.randperm(tracks.numel(), generator=torch.Generator().manual_seed(0))[:chunks]
    tracks, index = tracks[pick], index[pick]
    size_weight = base.config.ae.size_loss_weight
    return (validate(base.model, gatherer, base.encoding, tracks, index, size_weight)["loss"],
            validate(tuned.model, gatherer, tuned.encoding, tracks, index, size_weight)["loss"])


def write(args, title: str, lines: list[str]) -> None:
    print("\n".join(lines))
    write_markdown(args.markdown, title, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("speed", "compare", "train-arm"):
        p = sub.add_parser(name)
        p.add_argument("--corpus", type=Path, required=True, help="prepared corpus")
        p.add_argument("--ae", type=Path, required=True, help="autoencoder run or checkpoint (copied first)")
        p.add_argument("--markdown", type=Path, help="also write the report to this file")
        p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "tsm-rnn-latents",
                       help="folder for the corpus latents of this autoencoder (encoded once)")
    speed, compare, arm = (sub.choices[n] for n in ("speed", "compare", "train-arm"))
    speed.add_argument("--repeats", type=int, default=20, help="timed calls per sampling variant")
    speed.add_argument("--train-steps", type=int, default=10, help="generator steps per timed training interval")
    compare.add_argument("--runs", type=Path, required=True, help="folder for the three runs")
    compare.add_argument("--minutes", type=float, default=5.0, help="wall-clock training per arm")
    compare.add_argument("--samples", type=int, default=64, help="16 s samples per arm")
    compare.add_argument("--real-excerpts", type=int, default=512, help="real test excerpts (16 s)")
    compare.add_argument("--skip-training", action="store_true", help="evaluate the runs already in --runs")
    compare.add_argument("--examples", type=Path, default=Path("docs/comparison"),
                         help="folder for the listening examples (MIDI + piano rolls)")
    compare.add_argument("--drift-chunks", type=int, default=50_000,
                         help="validation chunks on which the fine-tuned autoencoders' drift is measured")
    arm.add_argument("--arm", choices=ARMS, required=True)
    arm.add_argument("--run", type=Path, required=True)
    arm.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    {"speed": cmd_speed, "compare": cmd_compare, "train-arm": cmd_train_arm}[args.command](args)


if __name__ == "__main__":
    main()
