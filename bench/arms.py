"""Benchmark: the sequence-model arms side by side, the convolutional GAN (`conv`, the baseline row) first,
then the recurrent GAN (`rnn`) and the likelihood arm (`ar`), and two variants: the conv arm with each window
generated after the 16 chunks before it (`conv-past16`: gan.past_chunks = 16) and the likelihood arm with its
dimension-by-dimension density (`ar-dimwise`: ar.head = dimwise), and the events arm (`events`: the ar transformer
drawing each chunk as events, no decoder): parameters, training speed, sampling speed.

  parameters  of the trained networks: the generator, and the critic where the arm has one
  training    generator steps/s at the arm's default batch (gan.batch for conv and rnn, ar.batch for ar):
              the arm's own `updates()` applied by the loop's `apply`, set up from a run the way
              train/sequence.py resumes one (its config, autoencoder copy, normaliser and latent cache);
              --warmup steps, then --seconds per arm in --rounds rounds, the arms interleaved, so that
              every arm sees the same machine load. windows/s = batch × steps/s (a conv or rnn step also
              reads gan.critic_steps more real batches for its critic; an ar step reads one); real chunks/s
              = windows/s × the mean real chunks of a window (rnn and ar windows stop at a track's end)
  sampling    seconds of music per second (× real time) of GANModel.sample (generator, snapping where the
              arm snaps, PISA decoding to events) for 1 piece of 16 s (median of --repeats) and --pieces
              pieces of 16 s at once (median of 3), on each arm's run after one training step (the speed
              does not depend on the weights, except the events arm's: it draws one event at a time, and
              untrained it draws about the cap of 15 per chunk where the trained default draws about 2, so
              its row here is a worst case; bench/generate.py times the trained model); ar samples through
              its key/value cache. The share of
              GANModel.sample_latents (everything but decoding) beside it
  process     `tsm generate -n 1 --model default` (the shipped model) as a fresh process beside
              `python -c "import torch"`, interleaved, median of --runs (0 skips it)
Everything runs on one thread: torch.set_num_threads(1) here and OMP_NUM_THREADS=1 for the child processes.

    python bench/arms.py --corpus /work/data/asap --ae /work/runs/ae/ohe-cdf-32-n05-s0 --seconds 10 \
        --markdown bench/results/arms.md
    python bench/arms.py      # prepares ../shared/data/asap and trains a tiny autoencoder first
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
# name → (arm, settings over its defaults); the baseline first
ARMS = {"conv": ("conv", {}), "rnn": ("rnn", {}), "ar": ("ar", {}),
        "conv-past16": ("conv", {"gan.past_chunks": 16}),  # each window after the 16 chunks before it
        "ar-dimwise": ("ar", {"ar.head": "dimwise"}),  # the latent's dimensions one after another
        "events": ("events", {"ar.head_hidden": 128})}  # the ar transformer drawing each chunk as events
ARCHS = tuple(ARMS)
PIECE_S = 16.0
sys.path.insert(0, str(BENCH))
from common import (  # noqa: E402
    add_corpus_arguments,
    busy_warning,
    load_autoencoder,
    load_average,
    scratch_corpus,
    table,
    write_markdown,
)

# ---------------------------------------------------------------- runs


def one_step_runs(corpus, ae_dir: Path, latents: Path, tmp: Path) -> dict[str, Path]:
    """A run of every arm trained for one step by train/sequence.py (default settings on the CPU), each seeded
    with the corpus latents encoded once (`latents`, linked into the run folder as its latent cache)."""
    from timestepmusic.config import Config
    from timestepmusic.train.sequence import train_sequence_model

    config = Config().override({"gan.device": "cpu", "gan.steps": 1, "gan.sample_every": 0, "gan.validate_every": 1})
    runs = {}
    for arch in ARCHS:
        run = runs[arch] = tmp / "runs" / arch
        run.mkdir(parents=True)
        arm, settings = ARMS[arch]
        try:
            os.link(latents, run / latents.name)
        except OSError:  # another file system
            shutil.copy(latents, run / latents.name)
        print(f"{arch}: one training step into {run}", file=sys.stderr)
        train_sequence_model(corpus.root, ae_dir, run, config.override(settings), arch=arm, progress=False)
    return runs


# ---------------------------------------------------------------- training speed

@dataclass
class Trainer:
    """One arm set up as train/sequence.py resumes `run`, stepping the way its loop does."""

    arch: str
    arm: object
    trained: dict
    optimizers: dict
    rng: torch.Generator
    batch: int
    chunks_per_window: float  # mean real chunks in one training window
    step: int = 0
    timed_steps: int = 0
    seconds: float = 0.0
    rounds: list[float] = field(default_factory=list)  # generator steps/s per round

    @classmethod
    def from_run(cls, run: Path, corpus, name: str) -> "Trainer":
        from timestepmusic.latents import Normaliser, cached_latents
        from timestepmusic.sequence import LatentData, arch_class
        from timestepmusic.train.distributed import Dist
        from timestepmusic.train.finetune import RealLatents
        from timestepmusic.train.run_sources import autoencoder_for_run, read_run

        meta = read_run(run)
        ae, config = autoencoder_for_run(run, None, meta, None)  # the run's copy, checked against its hash
        normaliser = Normaliser.from_dict(meta["normaliser"])
        cached = normaliser.forward(torch.from_numpy(cached_latents(ae, corpus, run)))  # [C, L]
        device = torch.device("cpu")
        torch.manual_seed(config.gan.seed)
        arm = arch_class(meta["arch"])(config, ae.model.latent, device)
        arm.attach(LatentData(corpus, RealLatents(corpus, ae, normaliser, cached, Dist()), Dist(), device, False))
        batch = config.ar.batch if meta["arch"] in ("ar", "events") else config.gan.batch
        return cls(name, arm, arm.trained(), arm.optimizers(), torch.Generator().manual_seed(config.gan.seed),
                   batch, mean_real_chunks(arm))

    def train(self, steps: int = 0, seconds: float = 0.0, timed: bool = True) -> None:
        """`steps` steps, or as many as start within `seconds` (at least one)."""
        from timestepmusic.train.distributed import Dist
        from timestepmusic.train.sequence import apply

        ranks, done = Dist(), 0
        start = time.perf_counter()
        while done < steps or (seconds and (done == 0 or time.perf_counter() - start < seconds)):
            for update in self.arm.updates(self.step, self.rng):  # the loop applies each before asking for the next
                apply(update, self.trained, self.optimizers, ranks)
            self.step += 1
            done += 1
        elapsed = time.perf_counter() - start
        if timed:
            self.timed_steps += done
            self.seconds += elapsed
            self.rounds.append(done / elapsed)

    @property
    def steps_per_s(self) -> float:
        return self.timed_steps / self.seconds

    def parameters(self, part: str) -> int | None:
        module = self.trained.get(part)
        return None if module is None else sum(p.numel() for p in module.parameters())


def mean_real_chunks(arm, draws: int = 8192) -> float:
    """Mean real chunks per training window of an attached arm: the conv arm's windows are whole; the rnn and
    ar arms' stop at a track's end (their samplers give a mask)."""
    from timestepmusic.sequence.windows import SequenceSampler

    sampler = getattr(arm, "train_seq", None) or arm.train_windows
    if not isinstance(sampler, SequenceSampler):  # conv: whole windows of gan.window_chunks
        return float(sampler.offsets.numel())
    return float(sampler.sample(draws, torch.Generator().manual_seed(0)).mask.sum(1).mean())


# ---------------------------------------------------------------- sampling speed

def sampling(gan, n: int, repeats: int, warmup: int) -> dict[str, float]:
    """GANModel.sample(n, PIECE_S, seed) for `repeats` seeds: median seconds, the generator's share
    (GANModel.sample_latents alone, same seed) and the seconds of music one call writes (pieces of an arm
    that ends them may be shorter)."""
    for i in range(warmup):
        gan.sample(n, PIECE_S, 1000 + i)
    whole, generator, music_s = [], [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        gan.sample(n, PIECE_S, i)
        t1 = time.perf_counter()
        pieces = gan.sample_latents(n, PIECE_S, i)  # [T_s, L] each
        generator.append(time.perf_counter() - t1)
        whole.append(t1 - t0)
        music_s.append(sum(x.shape[0] for x in pieces) * gan.ae.chunk_seconds)
    return {"seconds": statistics.median(whole), "generator": statistics.median(generator),
            "music_s": statistics.median(music_s)}


# ---------------------------------------------------------------- whole process

def process_times(runs: int, tmp: Path) -> dict[str, list[float]]:
    """Seconds of `tsm generate -n 1 --model default` and of `python -c "import torch"`, `runs` each, interleaved
    after one untimed run each (page cache)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    tsm = Path(sys.executable).with_name("tsm")
    tsm_cmd = [str(tsm)] if tsm.is_file() else [sys.executable, "-m", "timestepmusic"]
    children = {
        "tsm generate -n 1 --model default": lambda i: tsm_cmd + ["generate", "-n", "1", "-o", str(tmp / f"gen{i}"),
                                                                   "--model", "default"],
        'baseline: python -c "import torch"': lambda i: [sys.executable, "-c", "import torch"],
    }
    times: dict[str, list[float]] = {name: [] for name in children}
    for i in range(-1, runs):
        for name, command in children.items():
            t0 = time.perf_counter()
            subprocess.run(command(i), check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if i >= 0:
                times[name].append(time.perf_counter() - t0)
    return times


def code_state() -> str:
    """The commit measured, and the files under src/ that differ from it (others may be editing the checkout)."""
    def git(*command: str) -> str:
        try:
            return subprocess.run(["git", *command], cwd=BENCH, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "../src").splitlines()]
    return f"code: commit {commit}" + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--ae", type=Path, help="autoencoder run or checkpoint (default: train a tiny one)")
    parser.add_argument("--cache", type=Path, help="folder with (or for) the cached latents-*.npy of this "
                        "autoencoder and corpus (default: a temporary folder, so the corpus is encoded first)")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed training seconds per arm")
    parser.add_argument("--rounds", type=int, default=2, help="rounds the timed seconds are split into (interleaved)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps per arm first")
    parser.add_argument("--pieces", type=int, default=200, help="pieces of 16 s sampled at once (the batch row)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls for one piece (the batch: median of 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each child process (0: skip the process row)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    code = code_state()  # before the run: the checkout may change under it
    from timestepmusic.generation import GANModel
    from timestepmusic.latents import cached_latents

    with scratch_corpus(args, "tsm-bench-arms-") as (tmp, corpus):
        if corpus is None:
            return
        ae = load_autoencoder(args, corpus, tmp)  # a private copy in tmp/ae
        print("encoding the corpus (once; give --cache DIR to keep it)", file=sys.stderr)
        cache = args.cache or tmp / "latents"
        cached_latents(ae, corpus, cache)
        latents = next(cache.glob(f"latents-{ae.weights_sha256[:12]}-{corpus.manifest['key']}.npy"))
        runs = one_step_runs(corpus, tmp / "ae", latents, tmp)

        load_before = os.getloadavg()[0]
        trainers = [Trainer.from_run(runs[arch], corpus, arch) for arch in ARCHS]
        for t in trainers:  # allocator, autograd graph, optimizer state
            t.train(steps=args.warmup, timed=False)
        for r in range(args.rounds):
            for t in trainers:
                t.train(seconds=args.seconds / args.rounds)
                print(f"round {r + 1}: {t.arch}: {t.rounds[-1]:.2f} generator steps/s", file=sys.stderr)
        load_trained = os.getloadavg()[0]

        sampled = {}
        for arch in ARCHS:
            gan = GANModel.load(runs[arch] / "last")
            sampled[arch] = (sampling(gan, 1, args.repeats, warmup=2), sampling(gan, args.pieces, 3, warmup=0))
            print(f"{arch}: sampled", file=sys.stderr)
        chunk_s = gan.ae.chunk_seconds
        process = process_times(args.runs, tmp) if args.runs else {}
        load_after = os.getloadavg()[0]

    base, base_sample = trainers[0], sampled[ARCHS[0]][1]
    base_chunks = base.steps_per_s * base.batch * base.chunks_per_window
    rows = []
    for t in trainers:
        one, many = sampled[t.arch]
        windows = t.steps_per_s * t.batch
        critic = t.parameters("critic")
        many_speed = many["music_s"] / many["seconds"]
        rows.append([t.arch, f"{t.parameters('generator'):,}", "—" if critic is None else f"{critic:,}",
                     str(t.batch), f"{t.steps_per_s:.2f}", f"{windows:.1f}",
                     f"{windows * t.chunks_per_window:,.0f}", f"×{windows * t.chunks_per_window / base_chunks:.2f}",
                     f"{1e3 * one['seconds']:.1f}", f"{one['music_s'] / one['seconds']:,.0f}×",
                     f"{many['seconds']:.2f}", f"{many_speed:,.0f}×",
                     f"×{many_speed / (base_sample['music_s'] / base_sample['seconds']):.2f}"])
    lines = [f"{corpus.root}: {corpus.num_tracks} tracks; autoencoder latent {ae.model.latent}, chunks of "
             f"{chunk_s:g} s; every arm with its default settings (`tsm train-gan --arch ARM`; "
             + "; ".join(f"{n}: --arch {a} --set " + " ".join(f"{k}={v}" for k, v in o.items())
                         for n, (a, o) in ARMS.items() if o) + "), on the CPU",
             f"torch {torch.__version__}, torch.set_num_threads(1) (OMP_NUM_THREADS=1 in children); training: "
             f"{args.warmup} warm-up steps, then {args.seconds:g} s per arm in {args.rounds} interleaved rounds; "
             f"{load_average(load_before, load_after)} ({load_trained:.1f} after training)",
             code, *busy_warning(load_before, load_after, "every rate is deflated by it, the ratios less so"),
             ""]
    lines += table(["arm", "generator params", "critic params", "batch", "generator steps/s", "windows/s",
                    "real chunks/s", "vs conv", f"1 × {PIECE_S:g} s: ms", "× real time",
                    f"{args.pieces} × {PIECE_S:g} s: s", "× real time", "vs conv"], rows)
    lines += ["", "training: windows/s = batch × generator steps/s; real chunks/s = windows/s × mean real chunks per "
              "window (" + ", ".join(f"{t.arch} {t.chunks_per_window:.1f}" for t in trainers) + "); a conv or rnn "
              "step also reads gan.critic_steps more real batches for its critic. vs conv: real chunks/s and "
              f"{args.pieces}-piece × real time, over the conv row's",
              "generator steps/s per round: " + "; ".join(
                  f"{t.arch}: {', '.join(f'{x:.2f}' for x in t.rounds)} ({t.timed_steps} steps)" for t in trainers),
              f"sampling: GANModel.sample (generator, snapping where the arm snaps, decoding to events); 1 piece: median "
              f"of {args.repeats} after 2 warm-up calls; {args.pieces} pieces: median of 3; × real time = seconds of "
              "music written / seconds taken. GANModel.sample_latents alone (generator and normaliser, + snapping for "
              f"conv; no decoding), ms for 1 piece and s for {args.pieces}: " + "; ".join(
                  f"{arch}: {1e3 * one['generator']:.1f} ms, {many['generator']:.2f} s"
                  for arch, (one, many) in sampled.items())]
    if any(many["music_s"] < args.pieces * PIECE_S - 1e-6 for _, many in sampled.values()):
        lines.append("music written per call (pieces that the arm ended early are shorter): " + "; ".join(
            f"{arch}: {one['music_s']:g} s and {many['music_s']:,.0f} s" for arch, (one, many) in sampled.items()))
    if process:
        floor = statistics.median(process['baseline: python -c "import torch"'])
        lines += [""] + table([f"process (median of {args.runs})", "seconds", "over the import-torch floor", "runs"],
                              [[name, f"{statistics.median(v):.2f}",
                                "floor" if name.startswith("baseline") else f"{statistics.median(v) - floor:+.2f} s",
                                ", ".join(f"{x:.2f}" for x in v)] for name, v in process.items()])
    print("\n".join(lines))
    write_markdown(args.markdown, "# Sequence-model arms: parameters, training and sampling speed", lines,
                   note="shared with training jobs")


if __name__ == "__main__":
    main()
