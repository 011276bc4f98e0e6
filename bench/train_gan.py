"""Benchmark: critic steps/s of the convolutional WGAN-GP at batch 10 (the default architecture), our
batched path beside a DataLoader + per-sample gradient-penalty baseline, with a per-component breakdown.

One iteration = `critic_steps` (5) critic steps + 1 generator step, the loop of train/gan.py (copied
here so that each part can be timed): critic on a real and a generated batch, WGAN loss, + gp_weight ·
gradient penalty, backward, Adam; then the generator on −critic + feature matching. Rates are critic
steps per second over whole iterations, as train/gan.py reports them (`critic_steps_per_s`).

  baseline        a map-style Dataset returning one window [L, T] at a time, DataLoader(batch_size=10,
                  shuffle=True); the gradient penalty per sample in a Python loop; torch.optim.Adam
                  with its defaults (the for-loop implementation on CPU)
  ours            WindowSampler (one tensor gather per batch) + gan.conv.gradient_penalty (batched),
                  Adam defaults: what train/gan.py runs today with gan.gp_every = 1
  + gp_every=4    lazy regularisation as train/gan.py implements it: the penalty every 4th critic
                  step, scaled by 4
  + Adam fused    torch.optim.Adam(fused=True) for both networks (foreach=True when fused fails)

Variants run interleaved (a few iterations of each, round after round) on the same windows and
the same initial weights, all with torch.set_num_threads(1). Target (from the issue): ≥ 25 critic
steps/s. The batched and the per-sample penalty are checked to agree on the same batch.

    python bench/train_gan.py --corpus /root/work/asap --ae /root/work/gan_t/autoencoder \
        --cache /root/work/gan_t --markdown bench/results/train_gan.md
    python bench/train_gan.py   # prepares ../shared/data/asap and trains a tiny autoencoder first
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
TARGET_CRITIC_STEPS_S = 25.0
PARTS = ("data", "critic forward", "gradient penalty", "backward", "Adam")
sys.path.insert(0, str(BENCH))
from common import (  # noqa: E402
    add_corpus_arguments,
    busy_warning,
    load_autoencoder,
    load_average,
    scratch_corpus,
    table,
    verdict,
    write_markdown,
)

# ---------------------------------------------------------------- the baseline's pieces


class WindowDataset(torch.utils.data.Dataset):
    """One window [L, T] of standardised latents per index; the DataLoader stacks them."""

    def __init__(self, latents: torch.Tensor, starts: np.ndarray, window: int):
        self.latents, self.starts, self.window = latents, starts, window

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> torch.Tensor:
        s = int(self.starts[i])
        return self.latents[s:s + self.window].T  # [L, T]


def gradient_penalty_per_sample(critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """gan.conv.gradient_penalty one sample at a time: real, fake [B, L, T], eps [B] → penalties [B]."""
    penalties = []
    for i in range(real.shape[0]):
        mixed = (eps[i] * real[i:i + 1] + (1 - eps[i]) * fake[i:i + 1]).requires_grad_(True)  # [1, L, T]
        score, _ = critic(mixed)
        (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
        penalties.append((grad.norm() - 1) ** 2)
    return torch.stack(penalties)  # [B]


# ---------------------------------------------------------------- one variant of the training loop

@dataclass
class Variant:
    name: str
    generator: torch.nn.Module
    critic: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_c: torch.optim.Optimizer
    next_real: object  # () → real windows [B, L, T]
    penalty: object  # (critic, real, fake, eps [B]) → penalties [B]
    gp_every: int
    rng: torch.Generator
    critic_count: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    iterations: int = 0
    parts: dict = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))
    generator_step: float = 0.0


def iteration(v: Variant, g, timed: bool = True) -> None:
    """critic_steps critic updates + one generator update, as in train/gan.py; adds the time of each part."""
    clock = time.perf_counter
    start_wall, start_cpu = clock(), time.process_time()
    for _ in range(g.critic_steps):
        t0 = clock()
        real = v.next_real()  # [B, L, T]
        noise = torch.randn(g.batch, g.noise, generator=v.rng)
        eps = torch.rand(g.batch, generator=v.rng)
        t1 = clock()
        with torch.no_grad():
            fake = v.generator(noise)
        real_score, _ = v.critic(real)
        fake_score, _ = v.critic(fake)
        loss_c = fake_score.mean() - real_score.mean()
        t2 = clock()
        v.critic_count += 1
        if g.gp_weight > 0 and v.critic_count % v.gp_every == 0:
            loss_c = loss_c + g.gp_weight * v.gp_every * v.penalty(v.critic, real, fake, eps).mean()
        t3 = clock()
        v.opt_c.zero_grad(set_to_none=True)
        loss_c.backward()
        t4 = clock()
        v.opt_c.step()
        t5 = clock()
        if timed:
            for key, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                v.parts[key] += dt
    t0 = clock()
    real = v.next_real()
    noise = torch.randn(g.batch, g.noise, generator=v.rng)
    fake_score, fake_features = v.critic(v.generator(noise))
    with torch.no_grad():
        _, real_features = v.critic(real)
    matching = ((fake_features.mean(0) - real_features.mean(0)) ** 2).mean()
    loss_g = -fake_score.mean() + g.fm_weight * matching
    v.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    v.opt_g.step()
    float(loss_g.detach())  # as train/gan.py reads its losses
    if timed:
        v.generator_step += clock() - t0
        v.seconds += clock() - start_wall
        v.cpu_seconds += time.process_time() - start_cpu
        v.iterations += 1


def adam(params, g, how: str) -> tuple[torch.optim.Optimizer, str]:
    """Adam with train/gan.py's settings; how = 'default' | 'fused' (falls back to 'foreach')."""
    kwargs = {"lr": g.lr, "betas": tuple(g.betas)}
    if how == "fused":
        try:
            opt = torch.optim.Adam(params, fused=True, **kwargs)
            p = opt.param_groups[0]["params"][0]
            p.grad = torch.zeros_like(p)
            opt.step()  # fused may only fail at the first step
            opt.zero_grad(set_to_none=True)
            opt.state.clear()  # as new
            return opt, "fused"
        except (RuntimeError, TypeError) as e:
            print(f"Adam(fused=True) is not available here ({e}); using foreach=True", file=sys.stderr)
            return torch.optim.Adam(params, foreach=True, **kwargs), "foreach"
    return torch.optim.Adam(params, **kwargs), "default"


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--ae", type=Path, help="autoencoder run or checkpoint (default: train a tiny one)")
    parser.add_argument("--cache", type=Path, help="folder with (or for) the cached latents-*.npy of this "
                        "autoencoder and corpus (default: a temporary folder, so the corpus is encoded first)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each runs every variant in turn")
    parser.add_argument("--iterations", type=int, default=8, help="timed iterations (5 critic + 1 generator "
                        "step) per variant per round")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.config import Config
    from timestepmusic.gan.conv import Critic, Generator, gradient_penalty
    from timestepmusic.latents import Normaliser, cached_latents, window_starts
    from timestepmusic.sequence.conv_gan import WindowSampler

    with scratch_corpus(args, "tsm-bench-gan-") as (tmp, corpus):
        if corpus is None:
            return
        ae = load_autoencoder(args, corpus, tmp)
        latents_np = cached_latents(ae, corpus, args.cache or tmp / "latents")  # [C, L]
    g = Config.preset("seed").gan  # the design this table was first measured on (batch 10, the strided critic)
    train_starts = window_starts(corpus, "train", g.window_chunks)
    train_rows = np.concatenate([np.arange(corpus.track_chunk_ptr[t], corpus.track_chunk_ptr[t + 1])
                                 for t in corpus.tracks_in("train")])
    latents = Normaliser.fit(latents_np[train_rows]).forward(torch.from_numpy(latents_np))  # [C, L]
    latent_dim = latents.shape[1]

    torch.manual_seed(g.seed)
    generator0 = Generator(noise=g.noise, latent=latent_dim, channels=g.channels, window=g.window_chunks)
    critic0 = Critic(latent=latent_dim, channels=g.channels, window=g.window_chunks)

    # the two penalties agree on the same batch and the same random points
    sampler = WindowSampler(latents, train_starts, g.window_chunks)
    real = sampler.sample(g.batch, torch.Generator().manual_seed(1))
    fake = generator0(torch.randn(g.batch, g.noise, generator=torch.Generator().manual_seed(2))).detach()
    eps = torch.rand(g.batch, generator=torch.Generator().manual_seed(3))
    batched = gradient_penalty(critic0, real, fake, eps)
    looped = gradient_penalty_per_sample(critic0, real, fake, eps)
    penalty_diff = float(((batched - looped).abs() / looped.abs().clamp_min(1e-12)).max().detach())

    def make(name: str, data: str, penalty, gp_every: int, how: str) -> Variant:
        gen, crit = copy.deepcopy(generator0), copy.deepcopy(critic0)
        (opt_g, used), (opt_c, _) = adam(gen.parameters(), g, how), adam(crit.parameters(), g, how)
        rng = torch.Generator().manual_seed(g.seed)
        if data == "sampler":
            windows = WindowSampler(latents, train_starts, g.window_chunks)

            def next_real() -> torch.Tensor:
                return windows.sample(g.batch, rng)
        else:
            loader = torch.utils.data.DataLoader(WindowDataset(latents, train_starts, g.window_chunks),
                                                 batch_size=g.batch, shuffle=True, drop_last=True,
                                                 generator=torch.Generator().manual_seed(g.seed))
            state = {"it": iter(loader)}

            def next_real() -> torch.Tensor:
                try:
                    return next(state["it"])
                except StopIteration:
                    state["it"] = iter(loader)
                    return next(state["it"])
        if how == "fused" and used != "fused":
            name = name.replace("fused", used)
        return Variant(name, gen, crit, opt_g, opt_c, next_real, penalty, gp_every, rng)

    variants = [
        make("baseline: DataLoader + per-sample penalty + Adam", "loader", gradient_penalty_per_sample, 1, "default"),
        make("ours: WindowSampler + batched penalty + Adam", "sampler", gradient_penalty, 1, "default"),
        make("ours + gp_every=4", "sampler", gradient_penalty, 4, "default"),
        make("ours + Adam fused", "sampler", gradient_penalty, 1, "fused"),
        make("ours + gp_every=4 + Adam fused", "sampler", gradient_penalty, 4, "fused"),
    ]
    load_before = os.getloadavg()[0]
    for v in variants:  # warm-up: allocator, autograd graph, optimizer state
        for _ in range(2):
            iteration(v, g, timed=False)
    per_round: dict[str, list[float]] = {v.name: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            before = (v.seconds, v.iterations)
            for _ in range(args.iterations):
                iteration(v, g)
            rate = (v.iterations - before[1]) * g.critic_steps / (v.seconds - before[0])
            per_round[v.name].append(rate)
            print(f"round {r + 1}: {v.name}: {rate:.1f} critic steps/s", file=sys.stderr)
    load_after = os.getloadavg()[0]

    base = variants[0]
    base_rate = base.iterations * g.critic_steps / base.seconds
    rows = []
    for v in variants:
        rate = v.iterations * g.critic_steps / v.seconds
        cpu_rate = v.iterations * g.critic_steps / v.cpu_seconds
        rows.append([v.name, f"{rate:.1f}", f"{cpu_rate:.1f}", f"{statistics.median(per_round[v.name]):.1f}",
                     f"×{rate / base_rate:.2f}",
                     f"≥ {TARGET_CRITIC_STEPS_S:g} {verdict(rate >= TARGET_CRITIC_STEPS_S)}",
                     verdict(cpu_rate >= TARGET_CRITIC_STEPS_S)])
    steps = variants[0].iterations * g.critic_steps
    lines = [f"WGAN-GP on {latents.shape[0]:,} chunk latents of {corpus.root} (latent {latent_dim}, "
             f"{train_starts.size:,} training windows of {g.window_chunks} chunks); batch {g.batch}, noise {g.noise}, "
             f"channels {g.channels}, {g.critic_steps} critic steps per generator step, gp weight {g.gp_weight}; "
             f"generator {sum(p.numel() for p in generator0.parameters()):,} and critic "
             f"{sum(p.numel() for p in critic0.parameters()):,} parameters",
             f"torch {torch.__version__}, torch.set_num_threads(1) for every variant; {args.rounds} rounds × "
             f"{args.iterations} iterations per variant after 2 warm-up iterations ({steps} timed critic steps each); "
             f"{load_average(load_before, load_after)}",
             *busy_warning(load_before, load_after, "wall rates are deflated by it "
                           "(per CPU second = user + sys of this process, less so)"), ""]
    lines += table(["variant", "critic steps/s", "per CPU s", "median of rounds", "vs baseline",
                    "target (wall)", "target (CPU)"], rows)
    lines += ["", "where the time goes, ms per critic step (wall; the generator step is per generator step, i.e. "
              f"once every {g.critic_steps} critic steps):", ""]
    short = ["baseline", "ours", "ours gp4", "ours fused", "ours gp4 fused"]
    part_rows = []
    for key in PARTS:
        part_rows.append([key] + [f"{1e3 * v.parts[key] / (v.iterations * g.critic_steps):.2f}" for v in variants])
    part_rows.append(["generator step"] + [f"{1e3 * v.generator_step / v.iterations:.2f}" for v in variants])
    part_rows.append(["total per critic step (incl. 1/5 generator step)"]
                     + [f"{1e3 * v.seconds / (v.iterations * g.critic_steps):.2f}" for v in variants])
    lines += table(["part"] + short, part_rows)
    lines += ["",
              "parts: data = real windows + noise; critic forward = generator (no grad) + critic on real and fake "
              "+ WGAN loss; gradient penalty = its forward and the create_graph gradient (when applied); backward "
              "= loss.backward(), which includes the double backward through the penalty; Adam = optimizer step",
              f"batched and per-sample penalty on the same batch and random points: largest relative difference "
              f"per sample {penalty_diff:.1e}",
              "rates per round (critic steps/s): " + "; ".join(
                  f"{s}: {', '.join(f'{x:.1f}' for x in per_round[v.name])}" for s, v in zip(short, variants))]
    print("\n".join(lines))
    write_markdown(args.markdown, "# GAN training benchmark (critic steps/s)", lines, note="shared with training jobs")


if __name__ == "__main__":
    main()
