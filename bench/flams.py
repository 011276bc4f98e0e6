"""Keys struck twice in quick succession: the share of notes that follow a strike of their key by less than 30, 40,
50 and 80 ms, in real performances (raw MIDI files, as recorded) and in a model's pieces as written, with and
without flams.py's join (strikes under MIN_REPEAT_S apart written as one note).

    python bench/flams.py --data ../shared/data/asap --files 300 -n 100 --markdown bench/results/flams_55.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402

LIMITS_MS = (30, 40, 50, 80)


def repeat_gaps_s(events) -> np.ndarray:
    """The time from each note's strike back to the strike before it on its key [N'] (notes after their key's first)."""
    note = np.flatnonzero(events.is_note)
    order = note[np.lexsort((events.start_s[note], events.ids[note]))]
    same = events.ids[order][1:] == events.ids[order][:-1]
    return np.diff(events.start_s[order])[same]


def row(name: str, pieces: list) -> list[str]:
    gaps = np.concatenate([repeat_gaps_s(p) for p in pieces])
    notes = sum(int(p.is_note.sum()) for p in pieces)
    return [name, str(len(pieces)), f"{notes:,}"] + [f"{np.sum(gaps < ms / 1000):,} ({np.sum(gaps < ms / 1000) / notes:.3%})"
                                                     for ms in LIMITS_MS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=BENCH.parent.parent / "shared" / "data" / "asap",
                        help="a folder of real performances (default ../shared/data/asap)")
    parser.add_argument("--files", type=int, default=300, help="real files read, in sorted order (default 300)")
    parser.add_argument("--model", default="default")
    parser.add_argument("-n", type=int, default=100, help="pieces drawn (default 100)")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    import timestepmusic.generation as generation
    import timestepmusic.piece_events as piece_events
    from timestepmusic.flams import MIN_REPEAT_S, flams_joined
    from timestepmusic.midi import read_events

    real = [read_events(path)[0] for path in sorted(args.data.rglob("*.mid"))[:args.files]]
    gan = generation.GANModel.load(args.model)
    joined = gan.sample(args.n, args.seconds, args.seed)
    piece_events.flams_joined = lambda events, from_s=0.0: events  # the same draw, written as before the join
    try:
        unjoined = gan.sample(args.n, args.seconds, args.seed)
    finally:
        piece_events.flams_joined = flams_joined
    header = ["pieces", "files", "notes"] + [f"under {ms} ms" for ms in LIMITS_MS]
    lines = [f"notes that follow a strike of their key by less than … (the join: under {MIN_REPEAT_S * 1000:g} ms); "
             f"{args.n} pieces of {args.seconds:g} s at sampling seed {args.seed}", ""]
    lines += table(header, [row(f"real ({args.data.name}, first {len(real)} files)", real),
                            row(f"{args.model}, no join", unjoined), row(f"{args.model}, as written", joined)])
    print("\n".join(lines))
    write_markdown(args.markdown, "Keys struck twice in quick succession (fifty-fifth session)", lines)


if __name__ == "__main__":
    main()
