"""Benchmark: PISA training throughput (chunks/s) on CPU at batch 100 and 1024, loading batches with
`ChunkGatherer.gather` (+ augmentation) beside a per-chunk Python loop, and the loading alone.

  ours      train/ae.py's step: `gatherer.random_augmentation` + `gatherer.gather` of the batch's
            chunks in the epoch order, then encoding, `PISA.loss`, backward, Adam
  baseline  the same step, but the padded sets are built one chunk at a time in Python: look up
            the chunk's time span (stretched by the same tempo factor), slice its events from the
            corpus arrays, transpose (dropping keys pushed off the keyboard), cap, pad, stack
  + fused   ours with torch.optim.Adam(fused=True) (train/ae.py uses Adam's defaults: a for-loop on CPU)
  loading   gathers alone (no model): batches/s and chunks/s of both ways of building a batch,
            and the share of a training step that loading takes

The baseline is checked to build the same sets as the gather for a batch. All paths run with
torch.set_num_threads(1), interleaved (a few batches of each, round after round), after warm-up.

    python bench/train_ae.py --corpus /root/work/asap --markdown bench/results/train_ae.md
    python bench/train_ae.py      # prepares ../shared/data/asap into a temporary folder first
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
STEP_PARTS = ("loading", "encoding", "forward + loss", "backward", "Adam")
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, busy_warning, corpus_or_skip, load_average, table, write_markdown  # noqa: E402


class LoopLoader:
    """The baseline: padded sets built one chunk at a time from the corpus arrays."""

    def __init__(self, corpus, max_events: int):
        from timestepmusic.midi import NUM_KEYS

        self.num_keys, self.n, self.c = NUM_KEYS, max_events, corpus.chunk_seconds
        self.corpus = corpus
        self.event_ptr = corpus.track_event_ptr

    def gather(self, tracks: torch.Tensor, chunks: torch.Tensor, stretch: torch.Tensor, shift: torch.Tensor):
        from timestepmusic.batches import SetBatch

        b, n, c = tracks.shape[0], self.n, self.c
        ids = np.zeros((b, n), np.int64)
        offset = np.zeros((b, n), np.float64)
        duration = np.zeros((b, n), np.float64)
        intensity = np.ones((b, n), np.int64)
        sizes = np.zeros(b, np.int64)
        corpus = self.corpus
        for i, (t, k, r, s) in enumerate(zip(tracks.tolist(), chunks.tolist(), stretch.tolist(), shift.tolist())):
            lo_e, hi_e = int(self.event_ptr[t]), int(self.event_ptr[t + 1])
            lo, hi = lo_e + np.searchsorted(corpus.start_s[lo_e:hi_e], [k * c / r, (k + 1) * c / r])  # its time span
            chunk_ids = corpus.ids[lo:hi].astype(np.int64)
            is_key = chunk_ids < self.num_keys
            chunk_ids[is_key] += s
            keep = np.flatnonzero(~is_key | ((chunk_ids >= 0) & (chunk_ids < self.num_keys)))[:n]  # transpose, cap
            size = keep.size
            ids[i, :size] = chunk_ids[keep]
            offset[i, :size] = corpus.start_s[lo:hi][keep] * r - k * c
            duration[i, :size] = corpus.duration_s[lo:hi][keep].astype(np.float64) * r
            intensity[i, :size] = corpus.intensity[lo:hi][keep]
            sizes[i] = size
        return SetBatch(*(torch.from_numpy(a) for a in (ids, offset, duration, intensity, sizes)))


def check_same(ours, theirs) -> str:
    """'' when two SetBatches hold the same sets, else what differs."""
    same_sizes = bool((ours.sizes == theirs.sizes).all())
    mask = ours.mask
    same_ids = bool((ours.ids[mask] == theirs.ids[mask]).all()) if same_sizes else False
    offset = float((ours.offset_s - theirs.offset_s).abs().max()) if same_sizes else float("inf")
    if same_sizes and same_ids and offset < 1e-9:
        return ""
    return (f"sizes differ in {int((ours.sizes != theirs.sizes).sum())} chunks" if not same_sizes
            else f"ids equal: {same_ids}, largest offset difference {offset:.2g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--batches", default="100,1024", help="batch sizes in chunks, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each runs every path in turn")
    parser.add_argument("--chunks-per-round", type=int, default=6144,
                        help="chunks each path trains on per round and batch size")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.batches import ChunkGatherer, batch_generator, epoch_order
    from timestepmusic.encoding import Encoding
    from timestepmusic.pisa import PISA

    with corpus_or_skip(args, "tsm-bench-ae-") as corpus:
        if corpus is None:
            return
        config = corpus.config
        ae, augment = config.ae, config.augment
        gatherer = ChunkGatherer(corpus)
        loop = LoopLoader(corpus, corpus.max_events)
        encoding = Encoding(config.encoding.encoding, corpus.chunk_seconds, corpus.duration_fit)
        train_tracks, train_chunks = (torch.from_numpy(a) for a in corpus.chunk_index("train"))
        n_train = train_tracks.shape[0]
        order = epoch_order(n_train, ae.seed, 0)
        torch.manual_seed(ae.seed)
        model0 = PISA(features=encoding.dim, max_events=corpus.max_events, latent=ae.latent, hidden=ae.hidden,
                 bounded=ae.bounded_values)
        load_before = os.getloadavg()[0]

        def batch_args(size: int, b: int):
            """(tracks, chunks, stretch, shift) of batch b of the epoch, as train/ae.py draws them."""
            idx = order[(b * size) % (n_train - size):][:size]
            stretch, shift = gatherer.random_augmentation(size, augment, batch_generator(ae.seed, 0, b))
            return train_tracks[idx], train_chunks[idx], stretch, shift

        mismatch = check_same(gatherer.gather(*batch_args(1024, 7)), loop.gather(*batch_args(1024, 7)))
        results = {}
        for size in map(int, args.batches.split(",")):
            per_round = max(1, args.chunks_per_round // size)
            paths = {"ours": gatherer.gather, "ours + Adam fused": gatherer.gather, "baseline": loop.gather}
            state = {}
            for name in paths:
                model = PISA(features=encoding.dim, max_events=corpus.max_events, latent=ae.latent, hidden=ae.hidden,
                             bounded=ae.bounded_values)
                model.load_state_dict(model0.state_dict())
                fused = {"fused": True} if "fused" in name else {}
                state[name] = {"model": model, "opt": torch.optim.Adam(model.parameters(), lr=ae.lr, **fused),
                               "parts": dict.fromkeys(STEP_PARTS, 0.0), "batches": 0, "load_only": 0.0,
                               "load_batches": 0}
            b = 0
            for r in range(args.rounds + 1):  # round 0 is the warm-up
                for name, load in paths.items():
                    s = state[name]
                    for _ in range(per_round):
                        batch_in = batch_args(size, b)
                        b += 1
                        t0 = time.perf_counter()
                        batch = load(*batch_in)
                        t1 = time.perf_counter()
                        x = encoding.encode(batch.ids, batch.offset_s, batch.duration_s, batch.intensity)  # [B, N, D]
                        t2 = time.perf_counter()
                        loss, _ = s["model"].loss(x, batch.sizes, encoding, ae.size_loss_weight)
                        t3 = time.perf_counter()
                        s["opt"].zero_grad(set_to_none=True)
                        loss.backward()
                        t4 = time.perf_counter()
                        s["opt"].step()
                        t5 = time.perf_counter()
                        if r > 0:
                            for key, dt in zip(STEP_PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                                s["parts"][key] += dt
                            s["batches"] += 1
                    for _ in range(per_round):  # loading alone, on other batches
                        batch_in = batch_args(size, b)
                        b += 1
                        t0 = time.perf_counter()
                        load(*batch_in)
                        if r > 0:
                            s["load_only"] += time.perf_counter() - t0
                            s["load_batches"] += 1
                print(f"batch {size}, round {r}: done", file=sys.stderr)
            results[size] = state
        load_after = os.getloadavg()[0]

    rows, part_rows = [], []
    for size, state in results.items():
        def rate(name: str, state=state, size=size) -> float:
            s = state[name]
            return s["batches"] * size / sum(s["parts"].values())
        labels = {"ours": "ours: gather + augmentation", "ours + Adam fused": "ours + Adam(fused=True)",
                  "baseline": "baseline: per-chunk Python loop"}
        for name in state:
            s = state[name]
            step = sum(s["parts"].values()) / s["batches"]
            load_rate = s["load_batches"] / s["load_only"]
            rows.append([labels[name],
                         f"{size:,}", f"{rate(name):,.0f}", f"×{rate(name) / rate('baseline'):.2f}",
                         f"{load_rate:,.1f}", f"{load_rate * size:,.0f}",
                         f"×{load_rate / (state['baseline']['load_batches'] / state['baseline']['load_only']):.1f}",
                         f"{100 * s['parts']['loading'] / s['batches'] / step:.1f} %",
                         f"{n_train / rate(name) / 60:.1f}"])
            part_rows.append([f"{name}, batch {size:,}"] + [f"{1e3 * s['parts'][k] / s['batches']:.2f}"
                                                             for k in STEP_PARTS] + [f"{1e3 * step:.2f}"])
    lines = [f"PISA (latent {ae.latent}, hidden {ae.hidden}, encoding {config.encoding.encoding}, max {corpus.max_events} "
             f"events) trained on the {n_train:,} training chunks of {corpus.root}, augmentation ±"
             f"{augment.transpose_semitones} semitones / ±{100 * augment.tempo_range:g} % tempo; CPU, torch "
             f"{torch.__version__}, torch.set_num_threads(1) for every path; {args.rounds} rounds of "
             f"~{args.chunks_per_round:,} chunks per path and batch size after a warm-up round (and as many chunks loaded alone)",
             load_average(load_before, load_after), *busy_warning(load_before, load_after), ""]
    lines += table(["data loading", "batch", "training chunks/s", "vs baseline", "loading only: batches/s",
                    "chunks/s", "vs baseline", "loading share of a step", "epoch (min)"], rows)
    lines += ["", "ms per training batch:", ""]
    lines += table(["path"] + list(STEP_PARTS) + ["step"], part_rows)
    lines += ["", "epoch (min): the training chunks of one epoch at the measured training rate (no validation)",
              "the per-chunk loop builds the same sets as ChunkGatherer.gather for a batch of 1,024 augmented chunks: "
              + ("yes" if not mismatch else f"NO ({mismatch})")]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Autoencoder training benchmark (chunks/s, CPU)", lines,
                   note="shared with training jobs")


if __name__ == "__main__":
    main()
