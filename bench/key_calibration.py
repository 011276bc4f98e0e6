"""Is an events model's key choice calibrated on melodic steps? After a real past (teacher-forced: the
transformer reads the real chunks, the carry and the head hear the real events, each chunk's events given one
after another), for every real note: the head's probability, given that a note comes, that it lies within
2 semitones of the note before it (in event order; the carry's last note for a chunk's first), against how
often the real note does (with ar.tonal the head hears the real pitch classes too; with ar.style the network is
told nothing, as for a continued prompt); for all notes, and apart for those that start an onset and those that
join a chord (the head chooses a note's key before its start, so it cannot know which it draws; with ar.onsets it
first chooses whether the note joins the latest onset, and here it is told the real note's). Equal means
the key marginal is right on average, and a line missing from the drawn pieces (bench/free_running.py's top-line
steps) is lost in how the notes are arranged, not in it.

    python bench/key_calibration.py --corpus CORPUS --model default --markdown bench/results/key_calibration.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
SECONDS, STEP = 16.0, 2
sys.path.insert(0, str(BENCH))
from common import add_head_calibration_arguments, corpus_or_skip, evenly_spaced_excerpts, table, write_markdown  # noqa: E402
from free_running import after_real_past, teacher_forced_keys  # noqa: E402


def step_calibration(model, excerpts, chunks: int) -> dict[str, np.ndarray]:
    """Per real note after the first, after a real past (free_running.after_real_past): {"mass": the head's
    probability of a key within STEP of the note before, "tempered": the same at the model's key temperature (as
    it draws), "real": whether the real one is, "entropy": the key choice's entropy given a note (nats), "onset":
    whether the note starts a new onset (more than ONSET_MERGE_S, 25 ms, after the note before, as tsm evaluate
    merges onsets) rather than joining a chord; with ar.onsets, per note, "join_odds": the head's probability that
    it joins the latest onset, given that an event comes, and "joins": whether it does (ar.onsets' own rule)}.
    The key logits carry every lean the head has (ar.intervals, ar.voices, ar.tonal: EventHead.key_bias)."""
    from timestepmusic.evaluate.descriptors import ONSET_MERGE_S
    from timestepmusic.midi import NUM_KEYS
    from timestepmusic.sequence.onsets import END, JOIN, next_allowed

    head = model.arm.generator.events
    chunk_s = model.ae.chunk_seconds
    out = {"mass": [], "tempered": [], "real": [], "entropy": [], "onset": [], "join_odds": [], "joins": []}
    with torch.no_grad():
        for k, features, real, carry, counts, _, register in after_real_past(model, excerpts, chunks):
            if k == 0:
                before, before_s = None, None  # the note before, in event order, and when it started
            choice = teacher_forced_keys(head, features, real, carry, counts, register)
            if choice is None:
                continue
            classes, states, chosen, bounds, logits = choice
            size = logits.shape[0]
            if head.onsets:  # the head first chooses whether the next event joins the latest onset
                next_odds = head.choices(states, None, next_mask=next_allowed(*bounds, head.bins.starts)
                                         )["next"].softmax(-1)  # [size, 3]
                notes = classes[0][0, :size] < NUM_KEYS
                out["join_odds"] += (next_odds[:, JOIN] / next_odds[:, :END].sum(-1))[notes].tolist()
                out["joins"] += (chosen == JOIN)[notes].tolist()
            odds = torch.softmax(logits, -1)  # given that a note comes
            odds_tempered = torch.softmax(logits / model.arm.temperature, -1)
            for j in range(size):
                key = int(classes[0][0, j])
                if key >= NUM_KEYS:  # a pedal
                    continue
                p, tempered = odds[j], odds_tempered[j]
                out["entropy"].append(float(-(p * p.clamp_min(1e-12).log()).sum()))
                start_s = k * chunk_s + float(real.offset_s[0, j])
                if before is not None:
                    near = slice(max(0, before - STEP), before + STEP + 1)
                    out["mass"].append(float(p[near].sum()))
                    out["tempered"].append(float(tempered[near].sum()))
                    out["real"].append(abs(key - before) <= STEP)
                    out["onset"].append(start_s - before_s > ONSET_MERGE_S)
                before, before_s = key, start_s
    return {name: np.array(values, dtype=np.float64) for name, values in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_head_calibration_arguments(parser)
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.evaluate.descriptors import ONSET_MERGE_S
    from timestepmusic.generation import GANModel

    with corpus_or_skip(args, "tsm-bench-calibration-") as corpus:
        if corpus is None:
            return
        excerpts = evenly_spaced_excerpts(corpus, args.split, SECONDS, args.excerpts)
        rows, joins = [], []
        for name in args.model or ["default"]:
            model = GANModel.load(name)
            head = getattr(model.arm.generator, "events", None)
            if head is None or head.carry is None:
                raise SystemExit(f"--model {name}: this measures an events model with ar.carry")
            m = step_calibration(model, excerpts, int(SECONDS / corpus.chunk_seconds))
            for notes, where in (("all", m["onset"] >= 0), ("starting an onset", m["onset"] > 0),
                                 ("joining a chord", m["onset"] == 0)):
                rows.append([name, notes, str(int(where.sum())), f"{m['real'][where].mean():.3f}",
                             f"{m['mass'][where].mean():.3f}",
                             f"{m['tempered'][where].mean():.3f} ({model.arm.temperature:g})",
                             f"{m['entropy'].mean():.2f}" if notes == "all" else ""])
            if head.onsets:
                joins.append(f"{name}: {len(m['joins'])} notes, {m['joins'].mean():.3f} join the latest onset; the "
                             f"head's probability of joining, given that an event comes: {m['join_odds'].mean():.3f}")
    lines = [f"{args.split} split of {corpus.root}: the notes of {len(excerpts)} real {SECONDS:g} s excerpts, after "
             f"their real past", "",
             f"a note starts an onset when it starts more than {ONSET_MERGE_S * 1e3:g} ms after the note before (as "
             "tsm evaluate merges onsets)", "",
             *table(["model", "notes", "n", f"real: within {STEP} st of the note before", "head's probability there",
                     "at its key temperature", "key entropy (nats)"], rows),
             *(["", "models with ar.onsets choose first whether the next event joins the latest onset (within 25 ms "
                "of the latest note's start, on the 5 ms start bins); after the real past:", "",
                *(f"- {line}" for line in joins)] if joins else [])]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Is the key choice calibrated on melodic steps?", lines)


if __name__ == "__main__":
    main()
