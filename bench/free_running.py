"""Exposure bias of an events model, measured: what its head draws after a real past (teacher-forced: the
transformer reads the real chunks' latents, the carry hears the real events) against the real chunks there,
and what whole free-running pieces hold against real excerpts.

  teacher-forced  for the first --chunks chunks of --excerpts real 16 s excerpts of --split, one chunk drawn
                  per real chunk; notes per chunk, mean ln note duration, and gaps between onsets within a
                  chunk (the real events put on the head's 5 ms start bins first, so the two are on one grid);
                  and the share of top-line steps of at most 2 semitones (as tsm evaluate's stepwise_share: the
                  highest key of each onset, onsets within 25 ms merged), from the real past's last top note
                  into the chunk and within it
  free-running    -n pieces of 16 s per sampling seed (--seeds); per excerpt, as tsm evaluate's
                  duration_log_mean (mean ln note duration) and note density, beside every real 16 s excerpt
                  of --split; and the duration by 4 s block of the piece (a drift within pieces shows there)
A model with ar.tonal hears the real pitch classes as well; one with ar.style is told nothing (as a continued
prompt). If the head is calibrated after a real past but free-running pieces differ, the difference comes from the
past it reads (its own chunks): exposure bias, which ar.drawn_share trains against.

    python bench/free_running.py --corpus CORPUS --model default --markdown bench/results/free_running.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
SECONDS = 16.0
GAP_EDGES_S = (0.0, 0.0049, 0.0149, 0.0249, 0.0599, 0.0999)  # 0, 5–10, 15–20, 25–55, 60–95, ≥ 100 ms on 5 ms bins
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, corpus_or_skip, table, write_markdown  # noqa: E402


def after_real_past(model, real_excerpts, chunks: int):
    """Teacher forcing, chunk by chunk: for the first `chunks` chunks of each real excerpt, what an events model's
    head hears before it when the whole past is real → yields (chunk index in its excerpt, the transformer's
    features [1, W], the real chunk [1, N], the carry with ar.carry, the pitch-class counts [1, G, 12] with
    ar.tonal, the onsets before it with ar.pulse or ar.beat_echo, the keys heard before it [1, V] with ar.register;
    None without). The transformer reads the real chunks' latents, told nothing with ar.style. Run it under
    torch.no_grad()."""
    from timestepmusic.sequence.carry import DrawnHistory
    from timestepmusic.sequence.pulse import DrawnOnsets
    from timestepmusic.sequence.register_guard import DrawnRegister
    from timestepmusic.sequence.register_heard import WINDOWS, drawn_heard
    from timestepmusic.sequence.tonal import DrawnPitchClasses

    arm, ae = model.arm, model.ae
    head = arm.generator.events
    for events in real_excerpts:
        latents, sets = ae.encode_events(events)  # [C, L], [C, N]
        c = min(chunks, latents.shape[0])
        (features,), _ = arm.generator(model.normaliser.forward(latents[:c].float())[None])  # [1, C, W]
        history = DrawnHistory(1, ae.chunk_seconds, torch.device("cpu")) if head.carry is not None else None
        heard = DrawnPitchClasses(1, torch.device("cpu")) if head.tonal is not None else None
        hears = head.pulse is not None or model.arm.settings.beat_echo > 0
        onsets = DrawnOnsets(1, ae.chunk_seconds, torch.device("cpu")) if hears else None
        register = DrawnRegister(1, max(WINDOWS), torch.device("cpu")) if head.register is not None else None
        for k in range(c):
            real = sets.take(torch.tensor([k]))  # [1, N]
            yield (k, features[:, k], real, history.carry() if history is not None else None,
                   heard.counts() if heard is not None else None,
                   (onsets.onsets(), onsets.last_note()) if onsets is not None else None,
                   drawn_heard(register) if register is not None else None)
            for past in (history, heard, onsets, register):
                if past is not None:
                    past.append(real)  # the real chunk is the past of the next


def teacher_forced_keys(head, features, real, carry, counts, register):
    """The head's key choice for each event of one real chunk after a real past (one step of `after_real_past`),
    every lean included (EventHead.key_bias: ar.intervals, ar.voices, ar.tonal, ar.register); with ar.onsets the
    key is chosen knowing whether the real event joins the latest onset. None for an empty chunk; otherwise
    (classes: (key, start, duration, intensity) [1, N] each, states [size, H], chosen [size] or None, bounds: ar.onsets'
    (limit, earliest) [size] each or None, key logits [size, 88]). Run it under torch.no_grad()."""
    from timestepmusic.midi import NUM_KEYS
    from timestepmusic.sequence.event_head import START_STEP_S
    from timestepmusic.sequence.onsets import onset_classes, teacher_forced_bounds

    classes = head.bins.to_bins(real)  # (key, start, duration, intensity) [1, N] each
    size = int(real.sizes[0])
    if size == 0:
        return None
    states = head.states(features, classes, real.sizes, carry)[0, :size]  # [size, H]
    chosen, bounds = None, None
    if head.onsets:
        limit, earliest = teacher_forced_bounds(classes[0], classes[1], head.bins.start_middle_s(classes[1]),
                                                real.mask, carry, START_STEP_S)  # [1, N + 1] each
        bounds = (limit[0, :size], earliest[0, :size])  # [size] each
        chosen = onset_classes(classes[1][0, :size], bounds[0])  # [size]
    at = (head.lean_state(states, chosen), torch.zeros(size, dtype=torch.long), torch.arange(size))  # every event
    bias, _ = head.key_bias(at, at, classes, real.mask, carry, counts, register)  # [size, 88] or None
    logits = head.choices(states, None, key_bias=bias, chosen=chosen)["key"][:, :NUM_KEYS]  # [size, 88]
    return classes, states, chosen, bounds, logits


def teacher_forced(model, real_excerpts, chunks: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Real and drawn chunk by chunk after a real past (`after_real_past`): {"real"/"drawn": {"duration_ln",
    "per_chunk", "gaps_s", "steps"}}."""
    from timestepmusic.midi import NUM_KEYS
    from timestepmusic.sequence.event_sampler import EventSampler

    head = model.arm.generator.events
    sampler, rng = EventSampler(head), torch.Generator().manual_seed(seed)
    out = {side: {"duration_ln": [], "per_chunk": [], "gaps_s": [], "steps": []} for side in ("real", "drawn")}
    with torch.no_grad():
        for k, features, real, carry, counts, onsets, register in after_real_past(model, real_excerpts, chunks):
            if k == 0:
                last_top = None  # the real past's last top-line note
            a = model.arm.settings  # the model's own sampling
            drawn = sampler.sample(features, rng, model.arm.temperature, carry, counts, onsets=onsets,
                                   start_temperature=a.start_temperature, stop_bias=a.stop_bias,
                                   empty_bias=a.empty_bias, beat_echo=a.beat_echo, cluster_guard=a.cluster_guard,
                                   velocity_temperature=a.velocity_temperature, heard_register=register,
                                   step_lean=a.step_lean)
            real = head.bins.to_sets(*head.bins.to_bins(real), real.sizes)  # on the head's bins
            tops = {}
            for side, s in (("real", real), ("drawn", drawn)):
                notes = (s.mask[0] & (s.ids[0] < NUM_KEYS)).numpy()
                out[side]["duration_ln"].append(np.log(s.duration_s[0].numpy()[notes]))
                out[side]["per_chunk"].append(np.array([notes.sum()]))
                out[side]["gaps_s"].append(np.diff(np.sort(s.offset_s[0].numpy()[notes])))
                tops[side] = top_line(s.offset_s[0].numpy()[notes], s.ids[0].numpy()[notes])
                line = tops[side] if last_top is None else np.concatenate([[last_top], tops[side]])
                out[side]["steps"].append(np.abs(np.diff(line)))
            if tops["real"].size:
                last_top = tops["real"][-1]
    return {side: {k: np.concatenate(v) for k, v in d.items()} for side, d in out.items()}


def top_line(offset_s: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """A chunk's notes (offsets, keys) → the highest key of each onset in time order (onsets closer than 25 ms
    merged, as tsm evaluate's melodic descriptors)."""
    from timestepmusic.evaluate.descriptors import ONSET_MERGE_S

    order = np.argsort(offset_s, kind="stable")
    offset_s, keys = offset_s[order], keys[order].astype(np.int64)
    if not keys.size:
        return keys
    new = np.ones(keys.size, dtype=bool)
    new[1:] = np.diff(offset_s) > ONSET_MERGE_S
    return np.maximum.reduceat(keys, np.flatnonzero(new))


def per_excerpt(performances) -> dict[str, np.ndarray]:
    """Per excerpt of SECONDS: mean ln note duration, notes per second, the share of top-line steps of at most 2
    semitones, mean ln duration in each 4 s block."""
    from timestepmusic.midi import NUM_KEYS

    duration, density, stepwise, blocks = [], [], [], [[] for _ in range(4)]
    for e in performances:
        notes = e.ids < NUM_KEYS
        ln = np.log(np.maximum(e.duration_s[notes], 1e-3))
        start = e.start_s[notes] - (e.start_s.min() if e.start_s.size else 0.0)
        steps = np.abs(np.diff(top_line(start, e.ids[notes])))
        if steps.size:
            stepwise.append((steps <= 2).mean())
        if ln.size:
            duration.append(ln.mean())
        density.append(ln.size / SECONDS)
        for b in range(4):
            inside = ln[(start >= 4 * b) & (start < 4 * b + 4)]
            if inside.size:
                blocks[b].append(inside.mean())
    return {"duration_ln": np.array(duration), "density": np.array(density), "stepwise": np.array(stepwise),
            **{f"block_{b}": np.array(v) for b, v in enumerate(blocks)}}


def mean_se(x: np.ndarray) -> str:
    return f"{x.mean():.3f} ± {x.std() / np.sqrt(max(1, x.size)):.3f}"


def gap_shares(gaps: np.ndarray) -> list[str]:
    counts = np.histogram(gaps, [*GAP_EDGES_S, np.inf])[0]
    return [f"{c / max(1, counts.sum()):.3f}" for c in counts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--model", default="default", help="an events run, checkpoint or shipped model")
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--excerpts", type=int, default=60, help="real excerpts drawn after (default 60)")
    parser.add_argument("--chunks", type=int, default=64, help="chunks of each excerpt (default 64: 16 s)")
    parser.add_argument("-n", type=int, default=100, help="free-running pieces per sampling seed (default 100)")
    parser.add_argument("--seeds", default="5,6,7,8", help="sampling seeds, comma-separated (default 5,6,7,8)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus
    from timestepmusic.generation import GANModel

    with corpus_or_skip(args, "tsm-bench-free-") as corpus:
        if corpus is None:
            return
        model = GANModel.load(args.model)
        if not getattr(model.arm, "draws_events", False):
            raise SystemExit(f"--model {args.model}: a {model.arch} model; this measures an events model's head")
        real_table = excerpts_from_corpus(corpus, args.split, SECONDS)
        real = [real_table.events(x) for x in range(real_table.num_excerpts)]
        picked = np.linspace(0, len(real) - 1, min(args.excerpts, len(real))).round().astype(int)
        forced = teacher_forced(model, [real[i] for i in picked], args.chunks, seed=0)
        seeds = [int(s) for s in args.seeds.split(",")]
        free = per_excerpt([e for s in seeds for e in model.sample(args.n, SECONDS, s, snap_to_real=False)])
        truth = per_excerpt(real)

    rows = [[side, f"{forced[side]['per_chunk'].mean():.3f}", f"{forced[side]['duration_ln'].mean():.3f}",
             *gap_shares(forced[side]["gaps_s"]), f"{(forced[side]['steps'] <= 2).mean():.3f}"]
            for side in ("real", "drawn")]
    free_rows = [[name, str(d["duration_ln"].size), mean_se(d["duration_ln"]), mean_se(d["density"]),
                  mean_se(d["stepwise"]),
                  *[f"{d[f'block_{b}'].mean():.3f}" for b in range(4)]]
                 for name, d in ((f"real {args.split} excerpts", truth), ("free-running pieces", free))]
    lines = [f"--model {args.model}; {args.split} split of {corpus.root}",
             f"teacher-forced: the first {args.chunks} chunks of {len(picked)} real excerpts, one draw per chunk "
             f"after the real past (key temperature {model.arm.temperature:g})", "",
             *table(["chunks after a real past", "notes / chunk", "mean ln duration", "gap 0 ms", "5–10",
                     "15–20", "25–55", "60–95", "≥ 100 ms", "steps ≤ 2"], rows), "",
             f"free-running: {args.n} pieces of {SECONDS:g} s × sampling seeds {args.seeds}; per excerpt (± standard "
             f"error), as tsm evaluate's duration_log_mean and note density", "",
             *table(["excerpts", "n", "mean ln duration", "notes / s", "steps ≤ 2", "0–4 s", "4–8 s", "8–12 s", "12–16 s"],
                    free_rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Exposure bias of an events model: after a real past, and free-running", lines)


if __name__ == "__main__":
    main()
