"""Benchmark: training throughput on a GPU (or any --device) for the issue's two targets on one H100.

  PISA      train/ae.py's step (gather on the device, encode, PISA.loss, backward, fused Adam) at
            batch 4096 (default 20-dim latent, hidden 256), in bf16 autocast (ours on CUDA) beside
            float32 (the baseline), optionally compiled; chunks/s. Target ≥ 1,000,000 chunks/s.
  GAN       train/gan.py itself (conv, frozen autoencoder) for --gan-steps generator steps at two
            batch sizes; critic steps/s from its metrics, and the time one epoch over the training
            windows would take (every window once as real data in a critic step). Target < 10 min.
  events    the shipped default's own training (events arm, warm-started from it, its settings) at
            --events-batches windows per step; steps/s and windows/s from its metrics.

Timed after warm-up steps, with the device synchronised around each timed block. Without CUDA and
without --device it says so and exits 0 (nothing to measure); `--device cpu` runs the same
measurements on the CPU (a smoke run of the script, not a GPU figure).

    python bench/gpu.py --corpus /path/to/corpus --markdown bench/results/gpu.md
    python bench/gpu.py --device cpu --batch 256 --steps 3 --gan-steps 4      # smoke run on a CPU
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
PISA_TARGET = 1_000_000  # chunks/s at batch 4096
EPOCH_TARGET_S = 600.0
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, machine, open_corpus, print_skipped, table, verdict, write_markdown  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pisa_rate(corpus, device: torch.device, batch: int, steps: int, bf16: bool, compile_: bool) -> float:
    """Chunks/s of train/ae.py's training step (augmentation off) over `steps` timed steps."""
    from timestepmusic.batches import ChunkGatherer
    from timestepmusic.encoding import Encoding
    from timestepmusic.pisa import PISA
    from timestepmusic.stage_configs import AEConfig

    ae = AEConfig()
    gatherer = ChunkGatherer(corpus, device=device)
    encoding = Encoding("pon", corpus.chunk_seconds, corpus.duration_fit)
    tracks, chunks = (torch.from_numpy(a).to(device) for a in corpus.chunk_index("train"))
    torch.manual_seed(0)
    model = PISA(features=encoding.dim, max_events=corpus.max_events, latent=ae.latent, hidden=ae.hidden,
                 bounded=ae.bounded_values).to(device)
    if compile_:
        model.compile()
    optimizer = torch.optim.Adam(model.parameters(), lr=ae.lr, fused=True)
    order = torch.randperm(tracks.shape[0], device=device)

    def step(i: int) -> None:
        idx = order[(i * batch) % (order.numel() - batch):][:batch]
        sets = gatherer.gather(tracks[idx], chunks[idx])
        x = encoding.encode(sets.ids, sets.offset_s, sets.duration_s, sets.intensity)  # [B, N, D]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss, _ = model.loss(x, sets.sizes, encoding, ae.size_loss_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for i in range(3):  # warm-up (and compilation)
        step(i)
    synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i + 3)
    synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def gan_rate(corpus, ae_dir: Path, device: str, batch: int, steps: int, tmp: Path) -> float:
    """Critic steps/s of train/gan.py: the median over the intervals after the first (warm-up)."""
    from timestepmusic.config import Config
    from timestepmusic.train.sequence import train_sequence_model as train_gan

    run = tmp / f"gan-{batch}"
    config = Config().override({"gan.device": device, "gan.batch": batch, "gan.sample_every": 0,
                                "gan.validate_every": steps, "gan.steps": 3 * steps})
    train_gan(corpus.root, ae_dir, run, config, progress=False)
    return logged_rate(run) * config.gan.critic_steps  # the loop logs generator steps/s; each is that many critic steps


def logged_rate(run: Path) -> float:
    """A run's steps/s as its training loop logged them: the median over the intervals after the first (warm-up)."""
    from timestepmusic.train.log import read_metrics

    return statistics.median([r["steps_per_s"] for r in read_metrics(run / "metrics.jsonl") if "steps_per_s" in r][1:])


def events_rate(corpus, device: str, batch: int, steps: int, tmp: Path) -> float:
    """Steps/s of the shipped default's training (warm-started from it): the median after the first interval."""
    from timestepmusic.checkpoint import read_meta
    from timestepmusic.generation import checkpoint_config
    from timestepmusic.shipped import resolve_model
    from timestepmusic.train.sequence import train_sequence_model as train_sequence

    run = tmp / f"events-{batch}"
    config = checkpoint_config(read_meta(resolve_model("default", flag="--init-from"))[1]).override(
        {"gan.device": device, "ar.batch": batch, "gan.sample_every": 0, "gan.validate_every": steps})
    train_sequence(corpus.root, None, run, config, init_from="default", progress=False, steps=3 * steps)
    return logged_rate(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--ae", type=Path, help="autoencoder run for the GAN (default: train a tiny one)")
    parser.add_argument("--device", help="cuda (default when present), cuda:N or cpu")
    parser.add_argument("--batch", type=int, default=4096, help="PISA chunks per batch")
    parser.add_argument("--steps", type=int, default=50, help="timed PISA steps per variant")
    parser.add_argument("--gan-steps", type=int, default=50, help="generator steps per timed GAN interval")
    parser.add_argument("--gan-batches", default="10,256", help="GAN batch sizes, comma-separated")
    parser.add_argument("--events-batches", default="16,128",
                        help="windows per step for the default's (events arm's) training, comma-separated; '' skips it")
    parser.add_argument("--events-steps", type=int, default=50, help="steps per timed interval of the events arm")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.device is None and not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (give --device cpu for a smoke run)")
        return
    device = torch.device(args.device or "cuda")
    with tempfile.TemporaryDirectory(prefix="tsm-bench-gpu-") as name:
        tmp = Path(name)
        corpus = open_corpus(args, tmp)
        if corpus is None:
            print_skipped(args.data)
            return
        from common import load_autoencoder

        from timestepmusic.latents import window_starts

        ae_dir = tmp / "ae"
        load_autoencoder(args, corpus, tmp)  # copies --ae (or trains a tiny one) into tmp/ae
        rows = []
        variants = [("float32 (baseline)", False, False), ("bf16 autocast (ours on CUDA)", True, False)]
        if not args.no_compile:
            variants.append(("bf16 autocast + torch.compile", True, True))
        base = None
        for name_, bf16, compile_ in variants:
            rate = pisa_rate(corpus, device, args.batch, args.steps, bf16, compile_)
            base = base or rate
            rows.append([name_, f"{rate:,.0f}", f"×{rate / base:.2f}",
                         f"≥ {PISA_TARGET:,}: {verdict(rate >= PISA_TARGET)}" if bf16 else ""])
            print(json.dumps({"pisa": name_, "chunks_per_s": rate}), file=sys.stderr)
        windows = window_starts(corpus, "train", 64).size
        gan_rows = []
        for batch in (int(b) for b in args.gan_batches.split(",")):
            rate = gan_rate(corpus, ae_dir, str(device), batch, args.gan_steps, tmp)
            epoch_s = windows / (batch * rate)
            gan_rows.append([f"{batch}", f"{rate:,.1f}", f"{epoch_s / 60:,.1f} min",
                             f"< {EPOCH_TARGET_S / 60:g} min: {verdict(epoch_s < EPOCH_TARGET_S)}"])
            print(json.dumps({"gan_batch": batch, "critic_steps_per_s": rate, "epoch_s": epoch_s}), file=sys.stderr)
        events_rows = []
        for batch in (int(b) for b in args.events_batches.split(",") if b):
            rate = events_rate(corpus, str(device), batch, args.events_steps, tmp)
            events_rows.append([f"{batch}", f"{rate:,.1f}", f"{rate * batch:,.0f}"])
            print(json.dumps({"events_batch": batch, "steps_per_s": rate}), file=sys.stderr)
    report = [f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else machine()}), "
              f"torch {torch.__version__}", "",
              f"PISA training at batch {args.batch} ({args.steps} timed steps after 3 warm-up steps; "
              "gather on the device, pon encoding, latent 20, hidden 256, fused Adam):", ""]
    report += table(["variant", "chunks/s", "vs float32", "target"], rows)
    report += ["", f"Convolutional GAN (train/gan.py, default sizes, 5 critic steps per generator step): one epoch "
               f"= {windows:,} training windows of 64 chunks, each once as real data in a critic step:", ""]
    report += table(["batch", "critic steps/s", "epoch", "target"], gan_rows)
    if events_rows:
        report += ["", "The shipped default's training (events arm, warm-started from it, 64-chunk windows; "
                   f"median of 2 intervals of {args.events_steps} steps):", ""]
        report += table(["windows per step", "steps/s", "windows/s"], events_rows)
    print("\n".join(report))
    write_markdown(args.markdown, "GPU training throughput", report)


if __name__ == "__main__":
    main()
