"""Where a closing's final chord falls: for `-n` pieces that --model ends itself, the chunks from each piece's last
note's chunk to its last drawn chunk. With a ring of R chunks (ar.closing_ring_s), R is the chunk told 1 (the final
chord's, as in every training track), fewer means notes started in the ring, more that the last note came before
the chunk told 1. No corpus is read.

    python bench/ring_notes.py --model default -n 60 --seed 5151 --markdown bench/results/ring_notes.md
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import write_markdown  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("-n", type=int, default=60, help="pieces (default 60)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="the cap, as tsm generate's (default 600)")
    parser.add_argument("--seed", type=int, default=5151)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel
    from timestepmusic.midi import NUM_KEYS

    model = GANModel.load(args.model)
    pieces = model.sample_latents(args.n, args.max_seconds, args.seed, snap_to_real=False, ends=True)
    drawn = model.arm.drawn  # per new chunk: sets [S, N]
    after = []
    for s, piece in enumerate(pieces):
        chunks = piece.shape[0]
        with_notes = [t for t in range(min(chunks, len(drawn)))
                      if bool((drawn[t].ids[s, :int(drawn[t].sizes[s])] < NUM_KEYS).any())]
        if with_notes:
            after.append(chunks - 1 - max(with_notes))
    ring = getattr(model.arm, "closing_after", 0)
    counts = sorted(Counter(after).items())
    lines = [f"ring notes: --model {args.model}, {args.n} pieces that end themselves, seed {args.seed}; a ring of {ring} "
             "chunks", "",
             "chunks from the last note's chunk to the last chunk: pieces",
             ", ".join(f"{k}: {v}" for k, v in counts), "",
             f"last note in the ring (fewer than {ring}): {sum(v for k, v in counts if k < ring)}; in the chunk told 1: "
             f"{sum(v for k, v in counts if k == ring)}; earlier: {sum(v for k, v in counts if k > ring)}"]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Where a closing's final chord falls", lines)


if __name__ == "__main__":
    main()
