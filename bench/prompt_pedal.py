"""How a continuation pedals where its prompt is cut with the damper down: the prompt's press rings on to where the
pianist next changed its depth (as shipped since the fiftieth session: as training hears a pedal's runs), beside the
baseline before it, the press held to the pianist's next full lift as one press at its first depth (`held_to_lift`
below, the forty-fifth to forty-ninth sessions' prompts.held_on).

Prompts: --prompts cuts of the --split's tracks (one per track, at a random place at least 17 s in) where the damper
is down and the pianist does not lift it fully for more than a second after, each the file from 16 s before the cut
on as a user's file (prompts.prompt_until), continued --seconds by --model. Over the first 2 s, 4 s and --seconds:
the damper-down share, full lifts a second, changes of depth a second and the share at depth ≥ 64 (what an on/off
synthesizer holds), beside what the pianist played there; how often the first press drawn after the cut is joined to
the prompt's; and, at random cuts of the split where the damper is down, how far the press reaches past the cut in
each way. (The pianist's row is chosen for holding the damper: its lifts are few in the first seconds by
construction.)

    python bench/prompt_pedal.py --corpus /work/data/asap --split validation --seed 0 \
        --markdown bench/results/prompt_pedal_50_s0.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, corpus_or_skip, table, write_markdown  # noqa: E402

WINDOWS_S = (2.0, 4.0)  # and --seconds
STEP_S = 0.01  # the grid the damper's depth is read on


def held_to_lift(events, at_s: float, join_s: float = 2e-3):
    """The baseline: each pedal down at `at_s` held on through the changes of depth after it to its next lift."""
    from timestepmusic.midi import Events

    duration = events.duration_s.copy()
    ends_s = events.start_s + events.duration_s  # [E]
    for i in np.flatnonzero(~events.is_note & (events.start_s < at_s) & (ends_s >= at_s)):
        end_s, same = ends_s[i], np.flatnonzero(events.ids == events.ids[i])  # [K]: that pedal's presses
        for j in same[np.argsort(events.start_s[same], kind="stable")]:
            if end_s - join_s <= events.start_s[j] <= end_s + join_s:
                end_s = max(end_s, ends_s[j])
        duration[i] = end_s - events.start_s[i]
    return Events(events.ids, events.start_s, duration, events.intensity, events.end_s)


def passage(events, start_s: float, seconds: float):
    """What sounds in [start_s, start_s + seconds), timed from start_s, released at its end."""
    from timestepmusic.holds import release_by
    from timestepmusic.midi import continuation_only

    after = continuation_only(events, start_s)
    return release_by(after.take(np.flatnonzero(after.start_s < seconds)), seconds)


def damper_figures(events, seconds: float) -> list[float]:
    """Damper-down share, full lifts a second, changes of depth a second, share at depth ≥ 64, over `seconds`."""
    from timestepmusic.midi import DAMPER_ID

    grid = np.arange(0.0, seconds, STEP_S)  # [G]
    depth = np.zeros_like(grid)
    damper = events.ids == DAMPER_ID
    for start, duration, level in zip(events.start_s[damper], events.duration_s[damper], events.intensity[damper]):
        inside = (grid >= start) & (grid < start + duration)
        depth[inside] = np.maximum(depth[inside], level)
    down = depth > 0
    return [down.mean(), np.sum(down[:-1] & ~down[1:]) / seconds, np.sum(depth[1:] != depth[:-1]) / seconds,
            (depth >= 64).mean()]


def pedal_reach(corpus, split: str, rng: np.random.Generator) -> dict:
    """At 20 random cuts of each track of `split` where the damper is down: how far past the cut its press reaches,
    to its own run's end and held to the pianist's next lift (median and 90th percentile, seconds)."""
    from timestepmusic.midi import DAMPER_ID

    run_s, lift_s = [], []
    for track in corpus.tracks_in(split):
        events = corpus.track_events(int(track))
        for cut_s in rng.uniform(5.0, events.end_s - 5.0, 20):
            down = np.flatnonzero((events.ids == DAMPER_ID) & (events.start_s < cut_s)
                                  & (events.start_s + events.duration_s > cut_s))
            if down.size:
                i = down[0]
                run_s.append(events.start_s[i] + events.duration_s[i] - cut_s)
                held = held_to_lift(events, cut_s)
                lift_s.append(held.start_s[i] + held.duration_s[i] - cut_s)
    run_s, lift_s = np.array(run_s), np.array(lift_s)
    return {"cuts": run_s.size, "run": np.percentile(run_s, [50, 90]), "lift": np.percentile(lift_s, [50, 90]),
            "lift_over_8_s": float(np.mean(lift_s > 8.0))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_arguments(parser)
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--model", default="default")
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=8.0, help="each continuation's length (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="picks the cuts and seeds the sampling")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with corpus_or_skip(args, "tsm-bench-prompt-pedal-") as corpus:
        if corpus is not None:
            report(args, corpus)


def report(args: argparse.Namespace, corpus) -> None:
    """The tables of `main`'s arguments over `corpus`, printed and written."""
    import timestepmusic.prompts as prompts
    from timestepmusic.generation import GANModel
    from timestepmusic.midi import DAMPER_ID, continuation_only

    model = GANModel.load(args.model)
    rng = np.random.default_rng(args.seed)
    cuts = []
    for track in rng.permutation(corpus.tracks_in(args.split)):
        events = corpus.track_events(int(track))
        if events.end_s - args.seconds - 2.0 <= 17.0:  # (too short for a 16 s prompt and the continuation after it)
            continue
        for cut_s in rng.uniform(17.0, events.end_s - args.seconds - 2.0, 6):
            down = np.flatnonzero((events.ids == DAMPER_ID) & (events.start_s < cut_s)
                                  & (events.start_s + events.duration_s > cut_s))
            held = held_to_lift(events, cut_s)
            if down.size and held.start_s[down[0]] + held.duration_s[down[0]] - cut_s > 1.0:
                cuts.append((int(track), cut_s))
                break
        if len(cuts) == args.prompts:
            break
    reach = pedal_reach(corpus, args.split, np.random.default_rng(args.seed + 10_000))
    windows = WINDOWS_S + (args.seconds,)
    first_press_s = []  # as played: from the prompt's press's end to the first damper press drawn after the cut
    rows = {"what the pianist played next": [], "as played (shipped)": [], "held to the lift (before)": []}
    for k, (track, cut_s) in enumerate(cuts):
        events = corpus.track_events(track)
        rows["what the pianist played next"].append([damper_figures(passage(events, cut_s, w), w) for w in windows])
        whole = continuation_only(events, cut_s - 16.0)  # the file from 16 s before the cut on
        for name, before in (("as played (shipped)", None), ("held to the lift (before)", held_to_lift)):
            prompt = prompts.prompt_until(before(whole, 16.0) if before else whole, 16.0, corpus.chunk_seconds)
            span_s = prompts.prompt_span_s(model.ae, prompt)
            piece = model.sample(1, args.seconds, seed=1000 + k, snap_to_real=False, prompt=prompt)[0]
            rows[name].append([damper_figures(passage(piece, span_s, w), w) for w in windows])
            if before is None:
                crossing = (prompt.ids == DAMPER_ID) & (prompt.start_s + prompt.duration_s > 16.0 - 1e-6)
                drawn = piece.start_s[(piece.ids == DAMPER_ID) & (piece.start_s >= 16.0 - 1e-6)]  # [P]
                first_press_s.append((drawn.min() if drawn.size else np.inf)
                                     - (prompt.start_s + prompt.duration_s)[crossing].max())
    header = ["row"] + [f"first {w:g} s" for w in windows]
    body = [[name] + [" / ".join(f"{x:.2f}" for x in np.mean(figures, axis=0)[j]) for j in range(len(windows))]
            for name, figures in rows.items()]
    lines = [f"{len(cuts)} prompts of 16 s ({args.split} split of {corpus.root}), each cut where the damper is down and "
             f"not fully lifted for over 1 s after, continued {args.seconds:g} s by --model {args.model}; seed "
             f"{args.seed}", "each cell: damper-down share / full lifts a second / changes of depth a second / share "
             "at depth >= 64", ""] + table(header, body)
    gap = np.array(first_press_s)
    lines += ["", f"as played: the first damper press drawn after the cut starts within 20 ms of the prompt's press's "
              f"end in {np.mean(gap <= 0.02):.3f} of the prompts (joined to it), later in "
              f"{np.mean(np.isfinite(gap) & (gap > 0.02)):.3f}; none in {args.seconds:g} s in {np.mean(~np.isfinite(gap)):.3f}",
              f"a press down at {reach['cuts']:,} random cuts of the split's tracks (20 a track) reaches past the cut: to "
              f"its own run's end (as played) {reach['run'][0]:.2f} s at the median, {reach['run'][1]:.2f} s at the 90th "
              f"percentile; to the pianist's next lift (before) {reach['lift'][0]:.2f} s / {reach['lift'][1]:.2f} s, "
              f"over 8 s at {reach['lift_over_8_s']:.3f} of the cuts"]
    print("\n".join(lines))
    write_markdown(args.markdown, "# A prompt cut with the damper down: how the continuation pedals", lines)


if __name__ == "__main__":
    main()
