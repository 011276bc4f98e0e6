"""Benchmark: autoencoder training chunks/s, the current step beside the one before it, side by side.

  before   the step as it was: the element MLP decoded at all 15 positions and the loss masked to the
           true size afterwards; batch 100 (the previous default), one thread
  now      `PISA.loss` as train/ae.py calls it: the element MLP at the true-size positions only; the
           batch size and thread counts given (both cores: --threads 2)

Both run the same model (the encoding, latent and hidden size given) on the same batches of the
training split, interleaved round by round after a warm-up round. Also timed: encoding every chunk of
the corpus to latents (no gradients), as the GAN trainers' latent cache does.

    python bench/train_ae_speed.py --corpus CORPUS [--encoding OHE --latent 32 --hidden 256]
    python bench/train_ae_speed.py      # prepares ../shared/data/asap into a temporary folder first
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, busy_warning, corpus_or_skip, load_average, table, write_markdown  # noqa: E402


def full_decode_loss(model, x, sizes, encoding):
    """The step before: every position decoded, the loss masked afterwards."""
    _, x_sorted, elements, size_logits = model(x, sizes)  # elements [B, N, D]
    mask = torch.arange(x.shape[1]) < sizes[:, None]  # [B, N]
    return encoding.loss(elements, x_sorted, mask) + torch.nn.functional.cross_entropy(size_logits, sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--encoding", default="OHE")
    parser.add_argument("--durations", default="log")
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batches", default="512,2048", help="batch sizes of the current step")
    parser.add_argument("--threads", default="1,2", help="thread counts of the current step")
    parser.add_argument("--chunks-per-round", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    from timestepmusic.autoencoder import Autoencoder
    from timestepmusic.batches import ChunkGatherer, batch_generator, epoch_order
    from timestepmusic.encoding import Encoding
    from timestepmusic.pisa import PISA

    with corpus_or_skip(args, "tsm-bench-ae-speed-") as corpus:
        if corpus is None:
            return
        config = corpus.config
        gatherer = ChunkGatherer(corpus)
        encoding = Encoding(args.encoding, corpus.chunk_seconds, corpus.duration_fit, args.durations)
        tracks, chunks = (torch.from_numpy(a) for a in corpus.chunk_index("train"))
        order = epoch_order(tracks.shape[0], 0, 0)
        torch.manual_seed(0)
        model0 = PISA(features=encoding.dim, max_events=corpus.max_events, latent=args.latent, hidden=args.hidden)
        arms = [("before: all 15 positions", 100, 1, full_decode_loss)]
        arms += [(f"now: true-size positions, {t} thread{'s' * (t > 1)}", b, t,
                  lambda m, x, s, e: m.loss(x, s, e)[0])
                 for b in map(int, args.batches.split(",")) for t in map(int, args.threads.split(","))]
        state = []
        for _ in arms:
            model = PISA(features=encoding.dim, max_events=corpus.max_events, latent=args.latent, hidden=args.hidden)
            model.load_state_dict(model0.state_dict())
            state.append({"model": model, "opt": torch.optim.Adam(model.parameters(), lr=1e-3, fused=True),
                          "seconds": 0.0, "chunks": 0})
        load_before = os.getloadavg()[0]
        at = 0
        for r in range(args.rounds + 1):  # round 0 warms up
            for (_name, size, threads, loss_of), s in zip(arms, state):
                torch.set_num_threads(threads)
                for _ in range(max(1, args.chunks_per_round // size)):
                    idx = order[at % (order.shape[0] - size):][:size]
                    at += size
                    stretch, shift = gatherer.random_augmentation(size, config.augment, batch_generator(0, 0, at))
                    t0 = time.perf_counter()
                    batch = gatherer.gather(tracks[idx], chunks[idx], stretch, shift)
                    x = encoding.encode(batch.ids, batch.offset_s, batch.duration_s, batch.intensity)  # [B, N, D]
                    loss = loss_of(s["model"], x, batch.sizes, encoding)
                    s["opt"].zero_grad(set_to_none=True)
                    loss.backward()
                    s["opt"].step()
                    if r > 0:
                        s["seconds"] += time.perf_counter() - t0
                        s["chunks"] += size
            print(f"round {r}: done", file=sys.stderr)

        # encoding the whole corpus (every split) to latents, as the latent cache does
        torch.set_num_threads(max(map(int, args.threads.split(","))))
        ae = Autoencoder(model0.eval(), encoding, config, "bench", {})
        all_tracks = torch.repeat_interleave(torch.arange(len(gatherer.track_chunks)), torch.as_tensor(gatherer.track_chunks))
        all_chunks = torch.cat([torch.arange(int(n)) for n in gatherer.track_chunks])
        t0 = time.perf_counter()
        for lo in range(0, all_tracks.shape[0], 16384):
            ae.encode(gatherer.gather(all_tracks[lo:lo + 16384], all_chunks[lo:lo + 16384]))
        encode_s = time.perf_counter() - t0
        load_after = os.getloadavg()[0]

    base = state[0]["chunks"] / state[0]["seconds"]
    rows = [[name, f"{size:,}", str(threads), f"{s['chunks'] / s['seconds']:,.0f}", f"×{s['chunks'] / s['seconds'] / base:.2f}"]
            for (name, size, threads, _), s in zip(arms, state)]
    lines = [f"PISA (encoding {args.encoding}/{args.durations}, latent {args.latent}, hidden {args.hidden}, max "
             f"{corpus.max_events} events) on the training chunks of {corpus.root}; CPU, torch {torch.__version__}, "
             f"{os.cpu_count()} cores; {args.rounds} rounds of ~{args.chunks_per_round:,} chunks per path after a warm-up round",
             load_average(load_before, load_after), *busy_warning(load_before, load_after), ""]
    lines += table(["step", "batch", "threads", "training chunks/s", "vs before"], rows)
    lines += ["", f"encoding all {all_tracks.shape[0]:,} chunks of the corpus to latents: {encode_s:.1f} s "
                  f"({all_tracks.shape[0] / encode_s:,.0f} chunks/s, batch 16,384)"]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Autoencoder training speed, before and now (chunks/s, CPU)", lines,
                   note="shared with training jobs")


if __name__ == "__main__":
    main()
