"""Benchmark: encode every chunk of a corpus into latents with `latents.encode_corpus`, beside a
per-chunk Python loop.

  ours      `encode_corpus(ae, corpus)`: tensor gathers of ENCODE_BATCH chunks at a time, the
            encoding and the PISA encoder batched. Timed on the whole corpus (after a one-batch
            warm-up), `--repeat` times; the median is shown.
  baseline  one chunk at a time: slice its events from the corpus arrays (chunk_event_ptr), pad
            them into [1, N] tensors, encode, run the PISA encoder. Timed on every k-th chunk
            (`--baseline-chunks` of them) and extrapolated to all chunks; its latents are
            compared with ours for the same chunks.
  parts     where our time goes, on `--parts-chunks` chunks spread evenly over the corpus: gather, encoding, and the
            PISA encoder split into rank-sort, value MLP (on real elements only) and the rest
            (scatter into [B, N, L], key product, sum, size embedding). The split re-runs the
            steps of `PISA.encode` here and checks the result equals the real call.
  batch     chunks/s of the same loop as encode_corpus on those chunks at other batch sizes, and at
            the fastest of them with the value MLP under bfloat16 autocast (a probe for a src/
            change; its largest latent difference from float32 is reported).

Both paths run with torch.set_num_threads(1), back to back in one process; besides wall seconds,
CPU seconds (user + sys of this process) are shown, which other jobs on the machine inflate less.
Target (from the issue): the whole corpus in ≤ 3 s.

    python bench/encode.py --corpus /root/work/asap --ae /root/work/ae20 --markdown bench/results/encode.md
    python bench/encode.py      # prepares ../shared/data/asap and trains a tiny autoencoder first
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
TARGET_S = 3.0
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

# ---------------------------------------------------------------- the two paths


@torch.inference_mode()
def baseline_encode(ae, corpus, rows: np.ndarray, within: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Latents [K, L] of global chunks `rows`, one chunk at a time; wall and CPU seconds."""
    n, c = ae.max_events, ae.chunk_seconds
    ptr, start_s, duration_s = corpus.chunk_event_ptr, corpus.start_s, corpus.duration_s
    ids_all, intensity_all = corpus.ids, corpus.intensity
    out = np.empty((rows.size, ae.model.latent), dtype=np.float32)
    cpu, started = time.process_time(), time.perf_counter()
    for i, (k, w) in enumerate(zip(rows, within)):
        lo = int(ptr[k])
        hi = min(int(ptr[k + 1]), lo + n)  # the cap keeps the earliest-starting events
        size = hi - lo
        ids = torch.zeros(1, n, dtype=torch.long)
        offset = torch.zeros(1, n, dtype=torch.float64)
        duration = torch.zeros(1, n, dtype=torch.float64)
        intensity = torch.ones(1, n, dtype=torch.long)
        ids[0, :size] = torch.from_numpy(ids_all[lo:hi].astype(np.int64))
        offset[0, :size] = torch.from_numpy(start_s[lo:hi] - w * c)
        duration[0, :size] = torch.from_numpy(duration_s[lo:hi].astype(np.float64))
        intensity[0, :size] = torch.from_numpy(intensity_all[lo:hi].astype(np.int64))
        x = ae.encoding.encode(ids, offset, duration, intensity)  # [1, N, D]
        latent, _ = ae.model.encode(x, torch.tensor([size]))
        out[i] = latent[0].numpy()
    return out, time.perf_counter() - started, time.process_time() - cpu


def time_ours(ae, corpus) -> tuple[np.ndarray, float, float]:
    """Latents [C, L], wall seconds and CPU seconds (user + sys of this process) of encode_corpus."""
    from timestepmusic.latents import encode_corpus

    cpu, started = time.process_time(), time.perf_counter()
    latents = encode_corpus(ae, corpus)
    return latents, time.perf_counter() - started, time.process_time() - cpu


@torch.inference_mode()
def parts(ae, gatherer, tracks: torch.Tensor, chunks: torch.Tensor, batch: int) -> dict[str, float]:
    """Seconds spent in each step of encode_corpus's loop over these chunks (see the module docstring)."""
    model = ae.model
    spent = dict.fromkeys(("gather", "encoding", "PISA rank-sort", "PISA value MLP", "PISA scatter+key+sum"), 0.0)
    for lo in range(0, tracks.shape[0], batch):
        t0 = time.perf_counter()
        sets = gatherer.gather(tracks[lo:lo + batch], chunks[lo:lo + batch])
        t1 = time.perf_counter()
        x = ae.features(sets)  # [B, N, D]
        t2 = time.perf_counter()
        mask = sets.mask  # [B, N]
        x_sorted, score = model.sort(x, mask)
        gate = (1 + score - score.detach())[..., None]  # [B, N, 1]
        t3 = time.perf_counter()
        real_values = model.encoder_value(x_sorted[mask])  # [E_real, L]
        t4 = time.perf_counter()
        values = x_sorted.new_zeros(*mask.shape, model.latent).masked_scatter(mask[..., None], real_values)
        values = values * gate * model.encoder_key(model.positions)[None]  # [B, N, L]
        latent = values.sum(1) + model.size_embedding(sets.sizes)  # [B, L]
        t5 = time.perf_counter()
        if lo == 0:  # the split must compute what PISA.encode computes
            expected, _ = model.encode(x, sets.sizes)
            torch.testing.assert_close(latent, expected)
        for key, dt in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            spent[key] += dt
    return spent


def encode_bf16_values(model, x: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """PISA.encode with only the value MLP under bfloat16 autocast (the rank sort stays float32: in
    bfloat16 near-tied rank scores swap places and move elements to other position keys)."""
    mask = torch.arange(x.shape[1]) < sizes[:, None]  # [B, N]
    x_sorted, _ = model.sort(x, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        real_values = model.encoder_value(x_sorted[mask])  # [E_real, L]
    values = x_sorted.new_zeros(*mask.shape, model.latent).masked_scatter(mask[..., None], real_values.float())
    return (values * model.encoder_key(model.positions)[None]).sum(1) + model.size_embedding(sizes)  # [B, L]


@torch.inference_mode()
def loop_rate(ae, gatherer, tracks: torch.Tensor, chunks: torch.Tensor, batch: int,
              bf16_values: bool = False) -> tuple[float, float, float, torch.Tensor]:
    """(chunks/s, user CPU s, system CPU s, latents of the first batch) of encode_corpus's loop body at another batch
    size; with `bf16_values`, the value MLP runs under bfloat16 autocast (see encode_bf16_values)."""
    before, started = os.times(), time.perf_counter()
    first = None
    for lo in range(0, tracks.shape[0], batch):
        sets = gatherer.gather(tracks[lo:lo + batch], chunks[lo:lo + batch])
        latent = encode_bf16_values(ae.model, ae.features(sets), sets.sizes) if bf16_values else ae.encode(sets)
        first = latent if first is None else first
    after = os.times()
    return (tracks.shape[0] / (time.perf_counter() - started), after.user - before.user,
            after.system - before.system, first)


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--ae", type=Path, help="autoencoder run or checkpoint (default: train a tiny one)")
    parser.add_argument("--repeat", type=int, default=2, help="whole-corpus runs of our path; the median is shown")
    parser.add_argument("--baseline-chunks", type=int, default=3000, help="chunks the per-chunk loop encodes")
    parser.add_argument("--parts-chunks", type=int, default=131072, help="chunks for the breakdown and batch sweep")
    parser.add_argument("--sweep", default="16384,4096,1024", help="batch sizes for the sweep, comma-separated")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.batches import ChunkGatherer
    from timestepmusic.latents import ENCODE_BATCH

    with scratch_corpus(args, "tsm-bench-encode-") as (tmp, corpus):
        if corpus is None:
            return
        ae = load_autoencoder(args, corpus, tmp)
        load_before = os.getloadavg()[0]
        tracks_np, within_np = corpus.chunk_index(None)
        total = tracks_np.size
        tracks, within = torch.from_numpy(tracks_np), torch.from_numpy(within_np)
        gatherer = ChunkGatherer(corpus, max_events=ae.max_events)
        loop_rate(ae, gatherer, tracks[:ENCODE_BATCH], within[:ENCODE_BATCH], ENCODE_BATCH)  # warm-up

        step = max(1, total // args.baseline_chunks)
        rows = np.arange(0, total, step)[:args.baseline_chunks]
        baseline_encode(ae, corpus, rows[:50], within_np[rows[:50]])  # warm-up
        ours_runs = []  # (wall s, CPU s)
        for r in range(args.repeat):  # ours, baseline, ours, ...
            latents, wall, cpu = time_ours(ae, corpus)
            ours_runs.append((wall, cpu))
            print(f"encode_corpus: {wall:.2f} s ({cpu:.2f} CPU s)", file=sys.stderr)
            if r == 0:
                base_latents, base_wall, base_cpu = baseline_encode(ae, corpus, rows, within_np[rows])
                print(f"baseline on {rows.size} chunks: {base_wall:.2f} s", file=sys.stderr)
        diff = np.abs(base_latents - latents[rows]).max(axis=1)
        agree = int((diff <= 1e-4 * np.maximum(1, np.abs(latents[rows]).max(axis=1))).sum())

        subset = np.arange(0, total, max(1, total // args.parts_chunks))[:args.parts_chunks]  # spread over tracks
        n_parts, sub_tracks, sub_within = subset.size, tracks[subset], within[subset]
        spent = parts(ae, gatherer, sub_tracks, sub_within, ENCODE_BATCH)
        sweep = {f"{b:,}": loop_rate(ae, gatherer, sub_tracks, sub_within, b) for b in map(int, args.sweep.split(","))}
        best = max(map(int, args.sweep.split(",")), key=lambda b: sweep[f"{b:,}"][0])
        bf16_key = f"{best:,}, value MLP in bfloat16"
        sweep[bf16_key] = loop_rate(ae, gatherer, sub_tracks, sub_within, best, bf16_values=True)
        reference = torch.from_numpy(latents[subset[:best]])
        bf16_error = float((sweep[bf16_key][3] - reference).abs().max() / reference.abs().max())
        sizes = np.minimum(np.diff(corpus.chunk_event_ptr), ae.max_events)
        load_after = os.getloadavg()[0]

    ours, ours_cpu = (statistics.median(r[i] for r in ours_runs) for i in (0, 1))
    base_rate = rows.size / base_wall
    base_total, base_total_cpu = total / base_rate, base_cpu * total / rows.size
    m = ae.model
    mlp_flop = 2 * (m.features * m.hidden + m.hidden * m.hidden + m.hidden * m.latent)  # per real element
    parts_events = int(sizes[subset].sum())
    lines = [f"encode {total:,} chunks ({int(sizes.sum()):,} events after the cap of {ae.max_events}, "
             f"{sizes.mean():.2f} per chunk) of {corpus.root} with a PISA of latent {m.latent}, "
             f"hidden {m.hidden}; torch {torch.__version__}, torch.set_num_threads(1) for every path; "
             f"{load_average(load_before, load_after)}",
             *busy_warning(load_before, load_after, "wall seconds are inflated by it "
                           "(CPU seconds = user + sys of this process, less so)"), ""]
    lines += table(
        ["path", "seconds (whole corpus)", "CPU s", "chunks/s", "speed-up vs baseline", "target"],
        [[f"ours: encode_corpus, batch {ENCODE_BATCH} (median of {len(ours_runs)})", f"{ours:.2f}",
          f"{ours_cpu:.2f}", f"{total / ours:,.0f}", f"×{base_total / ours:,.1f}",
          f"≤ {TARGET_S:g} s {verdict(ours <= TARGET_S)}"],
         [f"baseline: per-chunk loop (EXTRAPOLATED from {rows.size:,} chunks)", f"{base_total:,.0f}",
          f"{base_total_cpu:,.0f}", f"{base_rate:,.0f}", "×1.0", ""]])
    lines += ["", f"where our time goes ({n_parts:,} chunks spread over the corpus, {parts_events:,} events, "
              f"batch {ENCODE_BATCH}):",
              ""]
    whole = sum(spent.values())
    lines += table(["step", "ms per 1,000 chunks", "share", "whole corpus at this rate (s)"],
                   [[k, f"{1000 * v / n_parts * 1000:.2f}", f"{100 * v / whole:.0f} %", f"{v / n_parts * total:.2f}"]
                    for k, v in spent.items()]
                   + [["total", f"{1000 * whole / n_parts * 1000:.2f}", "100 %", f"{whole / n_parts * total:.2f}"]])
    lines += [f"PISA value MLP: {mlp_flop / 1e3:.0f} kFLOP per real element ({m.features}→{m.hidden}→{m.hidden}→"
              f"{m.latent}), {mlp_flop * sizes.sum() / 1e12:.2f} TFLOP for the whole corpus; measured "
              f"{mlp_flop * parts_events / spent['PISA value MLP'] / 1e9:.0f} GFLOP/s on one thread (incl. bias, SiLU "
              f"and selecting the real elements)"]
    lines += ["", f"the same loop at other batch sizes (the same {n_parts:,} chunks):", ""]
    ref = sweep[f"{ENCODE_BATCH:,}"][0] if f"{ENCODE_BATCH:,}" in sweep else None
    lines += table(["batch", "chunks/s", "user CPU s", "system CPU s", "whole corpus at this rate (s)",
                    f"vs batch {ENCODE_BATCH:,}"],
                   [[b, f"{r:,.0f}", f"{user:.2f}", f"{system:.2f}", f"{total / r:.2f}", f"×{r / ref:.2f}" if ref else ""]
                    for b, (r, user, system, _) in sweep.items()])
    lines += [f"value MLP in bfloat16 (autocast; a probe for a src/ change, encode_corpus itself runs float32): "
              f"largest latent difference {100 * bf16_error:.2f} % of the largest latent on {best:,} chunks",
              "", "runs of encode_corpus (wall s / CPU s): "
              + ", ".join(f"{w:.2f} / {c:.2f}" for w, c in ours_runs)
              + f"; baseline: {rows.size:,} chunks (every {step}th) in {base_wall:.2f} s, scaled to {total:,} chunks "
              "(extrapolated, not measured)",
              f"baseline and encode_corpus latents agree (max abs diff ≤ 1e-4 relative) on {agree}/{rows.size} "
              f"chunks" + (f"; largest difference {diff.max():.3g}" if agree < rows.size else "")]
    print("\n".join(lines))
    write_markdown(args.markdown, "# `encode_corpus` benchmark", lines, note="shared with training jobs")


if __name__ == "__main__":
    main()
