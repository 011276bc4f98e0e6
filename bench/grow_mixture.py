"""Experiment helper: a copy of a likelihood (ar) model whose mixture head has m times the components, each
component split into m copies of itself (weights ÷ m, means nudged apart by --jitter × their median spreads), so
that the new model starts with exactly the density of the old one (up to the nudge) and training can pull the
copies apart. Train it on with `tsm train-gan CORPUS --init-from OUT` (every tensor fits, nothing starts fresh).

    python bench/grow_mixture.py --model default --corpus CORPUS --times 8 --out runs/default-m64
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from exposure import real_windows  # noqa: E402


def typical_spreads(model, corpus, windows: int = 64) -> torch.Tensor:
    """The model's median component spreads over real training windows [K, L]."""
    real = real_windows(model, corpus, "train", windows, seed=0)  # [S, T, L]
    with torch.no_grad():
        (_, _, log_sigma), _ = model.arm.generator(model.normaliser.forward(real))  # [S, T, K, L]
    return log_sigma.flatten(0, 1).exp().median(0).values


def grow(weight: torch.Tensor, bias: torch.Tensor, k: int, dims: int, times: int, jitter: torch.Tensor,
         generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The mixture head's Linear (rows: K logits, K·L means, K·L log spreads, 1 end logit) → the same with
    K·times components, component c of the new head a copy of c // times of the old one."""
    def split(rows: torch.Tensor) -> torch.Tensor:  # [K·L, …] → [K·times·L, …]
        grouped = rows.view(k, dims, *rows.shape[1:])  # [K, L, …]
        return grouped.repeat_interleave(times, dim=0).reshape(k * times * dims, *rows.shape[1:])

    logits = slice(0, k)
    means, spreads = slice(k, k + k * dims), slice(k + k * dims, k + 2 * k * dims)
    new_weight = torch.cat([weight[logits].repeat_interleave(times, 0), split(weight[means]),
                            split(weight[spreads]), weight[-1:]])
    new_mean_bias = split(bias[means][:, None])[:, 0]
    nudge = split(jitter.reshape(k * dims, 1))[:, 0]  # [K·times·L]
    new_mean_bias = new_mean_bias + nudge * torch.randn(new_mean_bias.shape, generator=generator)
    new_bias = torch.cat([bias[logits].repeat_interleave(times) - math.log(times), new_mean_bias,
                          split(bias[spreads][:, None])[:, 0], bias[-1:]])
    return new_weight, new_bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="an ar run, checkpoint or shipped model (mixture head)")
    parser.add_argument("--times", type=int, default=8)
    parser.add_argument("--jitter", type=float, default=0.05, help="nudge of the copies' means (× their median spreads)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", required=True, help="the prepared corpus the model was trained on")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    from timestepmusic.checkpoint import autoencoder_beside, read_meta
    from timestepmusic.corpus import Corpus
    from timestepmusic.generation import GANModel
    from timestepmusic.shipped import resolve_model

    folder, meta = read_meta(resolve_model(args.model))
    ar = meta["config"]["ar"]
    if meta.get("arch") != "ar" or ar.get("head", "mixture") != "mixture":
        raise SystemExit(f"{args.model}: not an ar model with a mixture head")
    state = load_file(str(folder / "generator.safetensors"))
    k, dims = ar["mixture"], len(meta["normaliser"]["mean"])
    jitter = args.jitter * typical_spreads(GANModel.load(folder), Corpus.open(args.corpus))  # [K, L]
    state["head.weight"], state["head.bias"] = grow(state["head.weight"], state["head.bias"], k, dims, args.times,
                                                    jitter, torch.Generator().manual_seed(args.seed))
    args.out.mkdir(parents=True, exist_ok=False)
    shutil.copytree(autoencoder_beside(folder), args.out / "autoencoder")
    save_file(state, str(args.out / "generator.safetensors"))
    meta["config"]["ar"]["mixture"] = k * args.times
    meta["weights"] = {"generator": hashlib.sha256((args.out / "generator.safetensors").read_bytes()).hexdigest()}
    meta.pop("optimizers", None)
    meta["grown_from"] = {"model": str(args.model), "mixture": k, "times": args.times, "jitter": args.jitter}
    (args.out / "config.json").write_text(json.dumps(meta, indent=1))
    print(f"{args.out}: mixture {k} → {k * args.times}")


if __name__ == "__main__":
    main()
