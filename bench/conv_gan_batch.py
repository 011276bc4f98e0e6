"""Benchmark: windows per second of the convolutional WGAN-GP's training step at a few batch sizes, today's
design beside the seed design (`--preset seed`), to choose `gan.batch` for a CPU.

One step = what `tsm train-gan` runs per generator step: the arm's own `updates` (gan.critic_steps critic
updates with the gradient penalty, one generator update with feature matching, the weight average) applied
by the training loop's `apply`. Real windows come from random standardised latents (the cost of a step does
not depend on their values), so no corpus or autoencoder is needed. Each batch runs under both designs, beside
the seed design at its own batch of 10. Variants run interleaved, round after round, after two warm-up steps
each. The figure to compare is windows/s = batch × generator steps/s (each window is seen by
gan.critic_steps + 1 critic passes).

Threads (--threads, default 1): on an idle machine, one per core (2 here) is what training uses; on a machine
that other jobs keep busy, two threads that wait for each other at every operation ran 3–6× slower than one
(2026-12 on this 2-core machine at load 8: seed design 11 vs 66 windows/s), so compare under one.

    python bench/conv_gan_batch.py --markdown bench/results/conv_gan_batch.md
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import busy_warning, load_average, table, write_markdown  # noqa: E402

LATENT = 20  # the shipped autoencoder's latent size
CHUNKS = 20_000  # random standardised chunk latents to draw windows from


def make_arm(overrides: dict, preset: str | None):
    """A conv arm under the given settings, wired to random latents as the training loop would wire it."""
    from timestepmusic.config import Config
    from timestepmusic.sequence import LatentData
    from timestepmusic.sequence.conv_gan import ConvGAN, WindowSampler
    from timestepmusic.train.distributed import Dist

    config = (Config.preset(preset) if preset else Config()).override(overrides)
    g = config.gan
    torch.manual_seed(g.seed)
    arm = ConvGAN(config, LATENT, torch.device("cpu"))
    latents = torch.randn(CHUNKS, LATENT, generator=torch.Generator().manual_seed(1))  # [C, L]
    arm.data = LatentData(corpus=None, real=lambda rows: latents[rows], ranks=Dist(), device=torch.device("cpu"),
                          finetune=False)
    arm.train_windows = WindowSampler(None, np.arange(CHUNKS - g.window_chunks), g.window_chunks)
    return arm, g


class Variant:
    def __init__(self, name: str, overrides: dict, preset: str | None = None):
        from timestepmusic.train.distributed import Dist
        from timestepmusic.train.sequence import apply

        self.name = name
        self.arm, self.g = make_arm(overrides, preset)
        self.trained, self.optimizers = self.arm.trained(), self.arm.optimizers()
        self.rng = torch.Generator().manual_seed(0)
        self.apply = lambda update: apply(update, self.trained, self.optimizers, Dist())
        self.step, self.seconds, self.rounds = 0, 0.0, []

    def run(self, steps: int, timed: bool = True) -> None:
        start = time.perf_counter()
        for _ in range(steps):
            for update in self.arm.updates(self.step, self.rng):
                self.apply(update)
            self.step += 1
        if timed:
            elapsed = time.perf_counter() - start
            self.seconds += elapsed
            self.rounds.append(steps * self.g.batch / elapsed)

    @property
    def timed_steps(self) -> int:
        return self.step - 2  # after the warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64],
                        help="batch sizes (multiples of gan.minibatch_group) run under both designs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: see above)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs every variant in turn")
    parser.add_argument("--steps", type=int, default=2, help="timed generator steps per variant per round")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    variants = [Variant("seed design, batch 10", {}, preset="seed")]
    for b in args.batches:
        variants += [Variant(f"seed design, batch {b}", {"gan.batch": b}, preset="seed"),
                     Variant(f"today's design, batch {b}", {"gan.batch": b})]
    load_before = os.getloadavg()[0]
    for v in variants:  # warm-up: allocator, autograd graph, optimizer state
        v.run(2, timed=False)
    for r in range(args.rounds):
        for v in variants:
            v.run(args.steps)
            print(f"round {r + 1}: {v.name}: {v.rounds[-1]:.1f} windows/s", file=sys.stderr)
    load_after = os.getloadavg()[0]

    base = variants[0]
    base_rate = base.timed_steps * base.g.batch / base.seconds
    rows = []
    for v in variants:
        rate = v.timed_steps * v.g.batch / v.seconds
        rows.append([v.name, f"{sum(p.numel() for p in v.arm.critic.parameters()):,}",
                     f"{v.timed_steps / v.seconds:.2f}", f"{rate:.1f}", f"{statistics.median(v.rounds):.1f}",
                     f"×{rate / base_rate:.2f}"])
    g = variants[-1].g
    lines = [f"conv WGAN-GP training steps on random latents (latent {LATENT}, windows of {g.window_chunks} chunks); "
             f"today's design: critic_channels {g.critic_channels}, critic_depth {g.critic_depth}, minibatch_std "
             f"{g.minibatch_std} (group {g.minibatch_group}), ema {g.ema}, {g.critic_steps} critic steps per "
             f"generator step, gp_every {g.gp_every}",
             f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.rounds} rounds × {args.steps} "
             f"generator steps per variant after 2 warm-up steps; {load_average(load_before, load_after)}",
             *busy_warning(load_before, load_after, "every rate is deflated by it, the ratios less so"), ""]
    lines += table(["variant", "critic params", "generator steps/s", "windows/s", "median of rounds",
                    "vs seed"], rows)
    print("\n".join(lines))
    write_markdown(args.markdown, "# Conv GAN batch size (windows/s)", lines, note="shared with training jobs")


if __name__ == "__main__":
    main()
