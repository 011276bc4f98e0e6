"""Benchmark: do long pieces keep going where the last window stopped? Two measures at window boundaries
against the same measure inside windows: the step between consecutive chunk latents (standardised,
Euclidean), and the register jump: the mean pitch of the notes struck in the 2 s after a point minus that
of the 2 s before it (absolute, semitones; points with no note on either side skipped).

A model that glues independent windows together jumps at every boundary: its seam steps are as large as
the step between two random chunks. One that continues its last window steps across a boundary as it
does inside one. Rows: each model's pieces (no snapping; the boundaries are every gan.window_chunks chunks
for a conv model, every ar.slide_stride past the context for an ar model), beside real latent sequences
of the split (every step an inside step) and random pairs of real chunks (the jump of a glued seam).

    python bench/seams.py --corpus /work/data/asap --split validation --model conv=runs/conv \
        --model conv-past16=runs/conv-past16 [--pieces 100 --seconds 64] --markdown bench/results/seams.md
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, write_markdown  # noqa: E402


def boundaries(model, chunks: int) -> list[int]:
    """The chunk indices t where a new window starts (the step x[t−1] → x[t] crosses a seam)."""
    arm = model.arm
    if model.arch == "conv":
        window = arm.generator.window
        return list(range(window, chunks, window))
    if model.arch == "ar":  # the first slide happens at the context, then every stride
        context, stride = arm.generator.context, max(1, min(arm.settings.slide_stride, arm.generator.context - 1))
        return list(range(context, chunks, stride))
    return []


REGISTER_S = 2.0


def register_jump(events, at_s: float) -> float | None:
    """|mean pitch of notes struck in [at, at + 2 s) − in [at − 2 s, at)|, None where one side has no note."""
    notes = events.is_note
    pitch, start = events.ids[notes].astype(float), events.start_s[notes]
    before = pitch[(start >= at_s - REGISTER_S) & (start < at_s)]
    after = pitch[(start >= at_s) & (start < at_s + REGISTER_S)]
    return abs(after.mean() - before.mean()) if before.size and after.size else None


def mean_jump(pieces, points_s: list[float]) -> str:
    jumps = [j for events in pieces for at in points_s if (j := register_jump(events, at)) is not None]
    return f"{sum(jumps) / len(jumps):.2f} ({len(jumps)})" if jumps else "—"


def steps_of(x: torch.Tensor) -> torch.Tensor:
    """Standardised latents [S, T, L] → the step at each t ≥ 1, [S, T − 1]."""
    return (x[:, 1:] - x[:, :-1]).norm(dim=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--model", action="append", required=True, metavar="NAME=RUN")
    parser.add_argument("--pieces", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=64.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.corpus import Corpus
    from timestepmusic.generation import GANModel
    from timestepmusic.latents import cached_latents, split_rows
    from timestepmusic.piece_events import decode_piece

    corpus = Corpus.open(args.corpus)
    rows, real, registers = [], None, []
    for spec in args.model:
        name, _, run = spec.partition("=")
        model = GANModel.load(run)
        if real is None:  # the real rows, through the first model's autoencoder and normaliser
            run_folder = Path(model.folder).parent  # a run keeps the corpus latents; a shipped model does not
            cache = run_folder if any(run_folder.glob("latents-*.npy")) else Path(tempfile.mkdtemp())
            latents = torch.from_numpy(cached_latents(model.ae, corpus, cache)).float()  # [C, L]
            chunks = torch.from_numpy(split_rows(corpus, args.split))  # [C_split]
            track = torch.from_numpy(corpus.chunk_index(args.split)[0])  # [C_split]
            x = model.normaliser.forward(latents[chunks])  # [C_split, L]
            same_track = track[1:] == track[:-1]
            inside = (x[1:] - x[:-1]).norm(dim=-1)[same_track]
            g = torch.Generator().manual_seed(args.seed)
            a, b = torch.randint(len(x), (2, 20_000), generator=g)
            tracks = corpus.tracks_in(args.split)
            real_events = [corpus.track_events(int(t)) for t in tracks]
            every_16 = [16.0 * k for k in range(1, 8)]  # the same points a 64 s conv piece has its seams at, and more
            registers.append(["real performances (every point inside)", mean_jump(real_events, every_16), "—"])
            real = [["real sequences (every step inside)", f"{inside.mean():.2f}", "—", "—"],
                    ["random pairs of real chunks (a glued seam)", "—", f"{(x[a] - x[b]).norm(dim=-1).mean():.2f}", "—"]]
        pieces = model.sample_latents(args.pieces, args.seconds, args.seed, snap_to_real=False)  # [T, L] each
        x = model.normaliser.forward(torch.stack(pieces))  # [S, T, L]
        step = steps_of(x)  # [S, T − 1]: step[:, t − 1] is x[t − 1] → x[t]
        seams = boundaries(model, x.shape[1])
        at_seam = torch.zeros(step.shape[1], dtype=torch.bool)
        at_seam[[t - 1 for t in seams]] = True
        seam = f"{step[:, at_seam].mean():.2f}" if seams else "—"
        ratio = f"{step[:, at_seam].mean() / step[:, ~at_seam].mean():.2f}" if seams else "—"
        rows.append([f"{name} ({model.arch}, {len(seams)} seams a piece)", f"{step[:, ~at_seam].mean():.2f}", seam, ratio])
        chunk_s = model.ae.chunk_seconds
        events = [decode_piece(model.ae, piece) for piece in pieces]
        seam_s = [t * chunk_s for t in seams]
        inside_s = [t * chunk_s for t in range(32, x.shape[1] - 8, 64) if t not in seams]  # 8 s into each 16 s
        registers.append([name, mean_jump(events, inside_s), mean_jump(events, seam_s)])
    lines = [f"{corpus.root}, {args.split} split; {args.pieces} pieces of {args.seconds:g} s per model (seed {args.seed}, "
             "no snapping); mean Euclidean step between consecutive standardised chunk latents", "",
             *table(["row", "inside a window", "across a seam", "seam / inside"], rows + real), "",
             f"register jump: |mean pitch of the notes struck in the {REGISTER_S:g} s after a point − in the "
             f"{REGISTER_S:g} s before| (semitones; points counted), inside windows (8 s into each 16 s) and at seams", "",
             *table(["row", "inside a window", "across a seam"], registers)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Seams: do long pieces continue their last window?", lines)


if __name__ == "__main__":
    main()
