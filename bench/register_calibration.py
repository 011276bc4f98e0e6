"""Is an events model's key choice calibrated at the edges of the register? After a real past (teacher-forced, as
bench/key_calibration.py: the transformer reads the real chunks, the carry and the head hear the real events), for
every real note: the head's probability, given that a note comes, of a key more than M semitones above the highest
or below the lowest key struck in the last W seconds (whole chunks before the note's chunk), against how often the
real note lies there. More mass than real there is what draws the stray notes at a drawn minute's edges
(docs/quality.md, twenty-ninth session); notes whose window holds no note are left out.

    python bench/register_calibration.py --corpus CORPUS --model default --markdown bench/results/register_calibration.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
SECONDS = 16.0
WINDOWS_S = (2.0, 4.0)
MARGINS = (3, 5, 7, 12)
sys.path.insert(0, str(BENCH))
from common import add_head_calibration_arguments, corpus_or_skip, evenly_spaced_excerpts, table, write_markdown  # noqa: E402
from free_running import after_real_past, teacher_forced_keys  # noqa: E402


def edge_calibration(model, excerpts, chunks: int) -> dict[tuple[float, int], tuple[np.ndarray, np.ndarray]]:
    """Per (window s, margin): per real note whose window struck a note, (the head's probability beyond the margin,
    given that a note comes, whether the real note is beyond it). The key logits carry every lean the head has; with
    ar.onsets the key is chosen knowing whether the real note joins the latest onset (as bench/key_calibration.py)."""
    from timestepmusic.midi import NUM_KEYS
    from timestepmusic.sequence.register_guard import DrawnRegister

    head = model.arm.generator.events
    spans = {w: round(w / model.ae.chunk_seconds) for w in WINDOWS_S}
    keys = torch.arange(NUM_KEYS)
    out = {(w, m): ([], []) for w in WINDOWS_S for m in MARGINS}
    with torch.no_grad():
        for k, features, real, carry, counts, _, register in after_real_past(model, excerpts, chunks):
            if k == 0:
                struck = DrawnRegister(1, max(spans.values()), torch.device("cpu"))
            choice = teacher_forced_keys(head, features, real, carry, counts, register)
            if choice is not None:
                classes, _, _, _, logits = choice
                size = logits.shape[0]
                odds = logits.softmax(-1)  # [size, 88], given that a note comes
                note = classes[0][0, :size] < NUM_KEYS  # [size]
                for w, span in spans.items():
                    highest, lowest = struck.bounds(last=span)  # [1] each
                    if not torch.isfinite(highest[0]):
                        continue
                    for m in MARGINS:
                        beyond = (keys > highest[0] + m) | (keys < lowest[0] - m)  # [88]
                        mass, real_beyond = out[w, m]
                        mass.append((odds[note] * beyond).sum(-1).numpy())
                        real_beyond.append(beyond[classes[0][0, :size][note]].numpy())
            struck.append(real)
    return {key: (np.concatenate(mass), np.concatenate(real_beyond)) for key, (mass, real_beyond) in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_head_calibration_arguments(parser)
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel

    with corpus_or_skip(args, "tsm-bench-register-") as corpus:
        if corpus is None:
            return
        excerpts = evenly_spaced_excerpts(corpus, args.split, SECONDS, args.excerpts)
        rows = []
        for name in args.model or ["default"]:
            model = GANModel.load(name)
            if getattr(model.arm.generator, "events", None) is None:
                raise SystemExit(f"--model {name}: this measures an events model")
            found = edge_calibration(model, excerpts, int(SECONDS / corpus.chunk_seconds))
            for (w, m), (mass, real_beyond) in found.items():
                rows.append([name, f"{w:g} s", f"{m}", str(mass.size), f"{real_beyond.mean():.4f}",
                             f"{mass.mean():.4f}", f"{mass.mean() / max(real_beyond.mean(), 1e-9):.2f}"])
    lines = [f"{args.split} split of {corpus.root}: the notes of {len(excerpts)} real {SECONDS:g} s excerpts, after "
             "their real past (notes whose window struck no note left out)", "",
             *table(["model", "window", "margin (semitones)", "notes", "real: beyond", "head's probability there",
                     "ratio"], rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Is the key choice calibrated at the edges of the register?", lines)


if __name__ == "__main__":
    main()
