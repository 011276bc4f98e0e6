"""Where pieces end, replayed: a model that ends its pieces itself (the likelihood arm, `tsm generate
--max-seconds`) stops a piece at the first chunk whose uniform falls under sigmoid(end logit + ar.end_bias
+ ar.end_rise × minutes played). The uniforms are drawn every chunk whether or not the piece may end, so one
run of -n pieces sampled to --max-seconds with their end logits and uniforms kept (`--trace-out`) gives the
exact lengths under any bias, rise and ar.end_after_s, without sampling again. Printed for each --bias, --rise
and --after:
the lengths' median, 10 % and 90 % quantiles and share at the cap beside the real remaining lengths of the
split (bench/piece_lengths.py's baseline), and the Kolmogorov–Smirnov distance between the two. A model that
closes its pieces (ar.closing_s, ar.closing_ring_s) plays its closing's chunks after the one where the end head
ends a piece: the replay adds them, as the sampler does (the trace keeps how many). A trace drawn to a shorter
--max-seconds than the pieces may run replays under that cap: its median is exact while the median is below it.

    python bench/end_calibration.py --corpus CORPUS --seed 0 -n 200 --trace-out /tmp/trace_s0.npz   # the model's bias and rise
    python bench/end_calibration.py --corpus CORPUS --traces /tmp/trace_s*.npz --bias 1.5 2.1 --rise 0 0.5 1
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, corpus_or_skip, table, write_markdown  # noqa: E402


def trace_ends(model_name: str, n: int, max_seconds: float, seed: int) -> dict[str, np.ndarray]:
    """Sample `n` pieces of `max_seconds` from the model, none ended → end logits and uniforms [n, T] and the
    chunk length, as `tsm generate --max-seconds` draws them (the same seed draws the same pieces)."""
    from timestepmusic.generation import GANModel

    model = GANModel.load(model_name)
    if not getattr(model.arm, "tempered", False):
        raise ValueError(f"--model {model_name}: a {model.arch} model does not end its pieces by an end logit")
    model.arm.end_trace = []
    model.sample_latents(n, max_seconds, seed, snap_to_real=False)
    logits, uniforms = (torch.stack(column, dim=1).numpy() for column in zip(*model.arm.end_trace))  # [n, T] each
    settings = model.arm.settings
    return {"logits": logits, "uniforms": uniforms, "chunk_seconds": np.float64(model.ae.chunk_seconds),
            "end_bias": np.float64(settings.end_bias), "end_rise": np.float64(settings.end_rise),
            "end_after_s": np.float64(settings.end_after_s), "max_seconds": np.float64(max_seconds),
            "closing_chunks": np.int64(getattr(model.arm, "closing_chunks", 0))}


def replay(trace: dict[str, np.ndarray], bias: float, rise: float, max_seconds: float,
           after_s: float | None = None) -> np.ndarray:
    """Each traced piece's length in seconds [n] where it ends at bias and rise per minute, capped: as the sampler
    decides it (sequence/autoregressive.py), in float32 with the bias of each chunk added to its logit, not before
    the trace's ar.end_after_s (or `after_s`), with the trace's closing chunks after the chunk where the head ends it."""
    c = float(trace["chunk_seconds"])
    logits, uniforms = torch.from_numpy(trace["logits"]), torch.from_numpy(trace["uniforms"])  # [n, T]
    chunks = logits.shape[1]
    shift = torch.tensor([bias + rise * (t + 1) * c / 60 for t in range(chunks)], dtype=torch.float32)  # [T]
    ends = (uniforms < torch.sigmoid(logits + shift)).numpy()  # [n, T]
    played_s = (np.arange(chunks) + 1) * c  # [T]: no end before ar.end_after_s (a trace before it: none)
    ends &= played_s[None, :] >= (float(trace.get("end_after_s", 0.0)) if after_s is None else after_s)
    closing = int(trace.get("closing_chunks", 0))  # (traces before the closing kept none: 0)
    first = np.where(ends.any(axis=1), ends.argmax(axis=1) + 1 + closing, chunks)  # [n] chunks
    return np.minimum(np.minimum(first, chunks) * c, max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--model", default="default", help="a run, checkpoint or shipped model (default: default)")
    parser.add_argument("-n", type=int, default=200, help="pieces to sample (default 200)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="longest a piece may run (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--split", default="train", choices=["train", "validation", "test"],
                        help="real lengths from this split (default train: what the model was trained on)")
    parser.add_argument("--trace-out", type=Path, help="sample, and keep the end logits and uniforms here (.npz)")
    parser.add_argument("--traces", type=Path, nargs="+", help="replay these traces instead of sampling")
    parser.add_argument("--bias", type=float, nargs="+", help="ar.end_bias values (default: the model's)")
    parser.add_argument("--rise", type=float, nargs="+", help="ar.end_rise values (default: the model's)")
    parser.add_argument("--after", type=float, nargs="+",
                        help="ar.end_after_s values: no end before this many seconds (default: the traced model's)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.gan.recurrent import real_lengths

    with corpus_or_skip(args, "tsm-bench-ends-") as corpus:
        if corpus is None:
            return
        real = real_lengths(corpus, args.max_seconds, args.split)["real_remaining"]
    lines = []
    if args.traces:
        traces = [dict(np.load(path)) for path in args.traces]
        names = [path.stem for path in args.traces]
    else:
        t0 = time.perf_counter()
        traces, names = [trace_ends(args.model, args.n, args.max_seconds, args.seed)], [f"seed {args.seed}"]
        lines.append(f"sampled {args.n} pieces of {args.max_seconds:g} s in {time.perf_counter() - t0:.0f} s on one thread")
        if args.trace_out is not None:
            part = args.trace_out.with_name(args.trace_out.name + ".part.npz")
            np.savez(part, **traces[0])
            os.replace(part, args.trace_out)
    for name, trace in zip(names, traces):
        traced_s = trace["logits"].shape[1] * float(trace["chunk_seconds"])
        if args.max_seconds > traced_s + 1e-9:
            raise SystemExit(f"{name}: traced to {traced_s:g} s; replay with --max-seconds at most that")
    biases = args.bias or [float(traces[0]["end_bias"])]
    rises = args.rise or [float(traces[0].get("end_rise", 0.0))]  # (traces of the first version kept no rise)
    afters = args.after or [float(traces[0].get("end_after_s", 0.0))]
    rows = []
    for bias, rise, after in ((b, r, a) for b in biases for r in rises for a in afters):
        runs = [replay(trace, bias, rise, args.max_seconds, after) for trace in traces]
        medians = [np.median(lengths) / np.median(real) - 1 for lengths in runs]
        pooled = np.concatenate(runs)
        rows.append([f"{bias:+.2f}", f"{rise:.2f}", f"{after:g}", f"{np.median(pooled):.1f}",
                     f"{np.quantile(pooled, 0.1):.1f}", f"{np.quantile(pooled, 0.9):.1f}",
                     f"{np.mean(pooled >= args.max_seconds - 1e-9):.2f}",
                     f"{stats.ks_2samp(pooled, real, method='asymp').statistic:.3f}", " ".join(f"{m:+.0%}" for m in medians)])
    at_cap = np.mean(real >= args.max_seconds - 1e-9)
    chunk_s = float(traces[0]["chunk_seconds"])
    closings = " / ".join(f"{k * chunk_s:g}" for k in sorted({int(t.get("closing_chunks", 0)) for t in traces}))
    lines += [f"{sum(t['logits'].shape[0] for t in traces)} pieces ({', '.join(names)}) capped at {args.max_seconds:g} s, "
              f"closing over {closings} s after the end head fires; "
              f"real remaining ({args.split} split): median {np.median(real):.1f}, 10 % {np.quantile(real, 0.1):.1f}, "
              f"90 % {np.quantile(real, 0.9):.1f}, at the cap {at_cap:.2f}", "",
              *table(["bias", "rise/min", "after s", "median", "10 %", "90 %", "at cap", "KS", "median Δ per trace"], rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Where pieces end, replayed", lines)


if __name__ == "__main__":
    main()
