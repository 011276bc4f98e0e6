"""Benchmark: is an ar model's dimwise density calibrated, and does its sampler draw from it?

The probability integral transform (PIT): u_d = F_d(x_d | x_<d, past), the CDF of each dimension's
mixture at the value taken. For draws of the sampler (temperature 1) the u_d must be uniform, or the
sampler does not draw from the density; for real latents after their real past they are uniform when the
model is calibrated. Deciles of u over all dimensions and chunks of `-n` real validation windows.

    python bench/calibration.py --corpus /work/data/asap --model runs/dimwise [-n 32] \
        --markdown bench/results/calibration.md
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402
from exposure import real_windows  # noqa: E402


def pit(head, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """features [N, W], x [N, L] → u [N, L]: each dimension's mixture CDF at x_d given x_<d."""
    logits, mean, log_sigma = head(features, x)  # [N, L, K] each
    normal_cdf = 0.5 * (1 + torch.erf((x[..., None] - mean) / (log_sigma.exp() * math.sqrt(2))))
    return (torch.softmax(logits, dim=-1) * normal_cdf).sum(-1)


def deciles(u: torch.Tensor) -> list[str]:
    return [f"{float(h):.3f}" for h in torch.histc(u.flatten(), bins=10, min=0, max=1) / u.numel()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--model", required=True, help="an ar run or checkpoint with ar.head = dimwise")
    parser.add_argument("--split", default="validation")
    parser.add_argument("-n", type=int, default=32, help="real windows (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.corpus import Corpus
    from timestepmusic.generation import GANModel

    model = GANModel.load(args.model)
    net = model.arm.generator
    if net.dimwise is None:
        raise SystemExit(f"--model {args.model}: not a dimwise model (ar.head = {model.arm.settings.head})")
    real = model.normaliser.forward(real_windows(model, Corpus.open(args.corpus), args.split, args.n, args.seed))
    with torch.no_grad():
        (features,), _ = net(real)  # [S, T, W]
        features, real = features.flatten(0, 1), real.flatten(0, 1)  # [S·T, W], [S·T, L]
        drawn = net.dimwise.sample(features, 1.0, torch.Generator().manual_seed(args.seed))  # [S·T, L]
        rows = [["draws of the sampler (temperature 1)", *deciles(pit(net.dimwise, features, drawn))],
                ["real latents after their real past", *deciles(pit(net.dimwise, features, real))]]
    lines = [f"{args.model}: {args.n} real {args.split} windows ({real.shape[0]} chunks × {real.shape[1]} dimensions); "
             "share of PIT values per decile (uniform: 0.100 each)", "",
             *table(["values", *(f"{d / 10:.1f}–{(d + 1) / 10:.1f}" for d in range(10))], rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Calibration of a dimwise density (probability integral transform)", lines)


if __name__ == "__main__":
    main()
