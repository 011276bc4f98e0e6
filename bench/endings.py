"""How pieces end: the last seconds of every real performance of a split beside pieces that --model ends itself
(`tsm generate --max-seconds`), each --model given (the baseline first). Per piece, from its last note's start (the
final onset: the notes struck within 0.1 s of it):
  ring s        how long the last onset sounds on (to the piece's last sound: holds.sound_end_s, pedals counted)
  sounds s      how long the final onset's own notes sound (to their last sound, pedals counted)
  final notes   notes of the final onset
  final note s  the longest of them
  gap s         from the onset before to the final one (a pianist slows into it)
  last 2 s / s  notes a second in the last 2 s before the final onset's start, and in the 10 s before those
  before / s
  velocity      mean velocity of the final onset
  loud / median the final onset's loudest velocity over the median velocity of the piece's notes
  loud / recent the same over the median velocity of the notes of the RECENT_S (10 s) before the final onset
Medians over the pieces (quartiles beside); rows are pieces with at least 10 notes. Then the share of pieces whose
final onset is not a held chord (fifty-fifth session): held < 1 s, none of its keys held HELD_S (1 s) or longer (a
pedal's ring not counted); short & hurried, that and its last note struck less than HURRIED_S (0.5 s) after the note
before (`gap s`: a passage running into the end); sounds < 1 s, its notes silent within 1 s, pedals counted (`sounds
s`), and that, hurried; soft < 0.5×, its loudest velocity under SOFT_SHARE (0.5) of the piece's median velocity, and
under that share of the median of the 10 s before it (`loud / recent`); short & unaccented, held < 1 s and no louder
than the piece's median (a pianist's staccato final chord is loud).

    python bench/endings.py --corpus /work/data/asap --split validation --model default --model RUN -n 60 \\
        --seed 5151 --markdown bench/results/endings_51_validation.md
    python bench/endings.py --corpus /work/data/asap --settings "ar.final_hold=0.5"   # beside the model's own
    python bench/endings.py --corpus /work/data/asap --ending-seconds 20   # as `tsm generate --seconds 20 --ending`
    python bench/endings.py --corpus /work/data/asap --ending-seconds 20 --prompt-seconds 20   # --prompt continued

A row whose settings differ from the row before only in what is done to the drawn events after drawing (PLACED_AFTER:
the slowing into the final chord, its final onset held or raised) places that row's draw again rather than drawing
the same pieces twice.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import common  # noqa: E402
from common import add_corpus_arguments, corpus_or_skip, table, write_markdown  # noqa: E402

from timestepmusic.final_chord import HURRIED_S, RECENT_S  # noqa: E402 (as the sampler's rule takes them)
from timestepmusic.ritardando import ONSET_S  # noqa: E402

MEASURES = ("ring s", "sounds s", "final notes", "final note s", "gap s", "last 2 s / s", "before / s", "velocity",
            "loud / median", "loud / recent")
SHARES = ("held < 1 s", "short & hurried", "sounds < 1 s", "sounds < 1 s & hurried", "soft < 0.5×", "soft < 0.5× recent",
          "short & unaccented")
HELD_S = 1.0  # a final onset none of whose notes is held this long is not a held chord
SOFT_SHARE = 0.5  # a final onset whose loudest note is under this × the piece's median velocity is nearly silent
PLACED_AFTER = ("ar.final_ritard", "ar.final_ritard_s", "ar.final_held_s",
                "ar.final_velocity_floor")  # settings read after the draw (sampled_events)


def ending(events) -> tuple[float, ...] | None:
    """The measures of one piece's ending (MEASURES), None where it holds fewer than 10 notes."""
    from timestepmusic.holds import sound_end_s

    notes = events.is_note
    start_s, duration_s, velocity = events.start_s[notes], events.duration_s[notes], events.intensity[notes]
    if start_s.size < 10:
        return None
    last_s = float(start_s.max())
    final = start_s >= last_s - ONSET_S  # [N]
    before = start_s[~final]
    gap_s = last_s - float(before.max()) if before.size else np.nan
    tail = (start_s >= last_s - 2.0) & (start_s < last_s - ONSET_S)
    body = (start_s >= last_s - 12.0) & (start_s < last_s - 2.0)
    own = np.flatnonzero(~events.is_note | (events.start_s >= last_s - ONSET_S))  # the final onset's notes, every pedal
    return (sound_end_s(events) - last_s, sound_end_s(events.take(own)) - last_s, float(final.sum()),
            float(duration_s[final].max()), gap_s,
            tail.sum() / 2.0, body.sum() / 10.0, float(velocity[final].mean()),
            float(velocity[final].max()) / float(np.median(velocity)), loud_over_recent(velocity, start_s, final, RECENT_S))


def loud_over_recent(velocity: np.ndarray, start_s: np.ndarray, final: np.ndarray, recent_s: float) -> float:
    """The final onset's loudest velocity over the median of the notes struck in the `recent_s` before it (NaN:
    none); velocity, start_s, final [N] (final: the final onset's notes)."""
    recent = ~final & (start_s >= start_s[final].min() - recent_s)  # [N]
    return float(velocity[final].max()) / float(np.median(velocity[recent])) if recent.any() else np.nan


def shares(rows: np.ndarray) -> list[float]:
    """The SHARES (%) of the pieces' endings `rows` [P, M] (MEASURES each)."""
    held_s, loud = rows[:, MEASURES.index("final note s")], rows[:, MEASURES.index("loud / median")]  # [P] each
    gap_s, recent = rows[:, MEASURES.index("gap s")], rows[:, MEASURES.index("loud / recent")]  # [P] each
    fades = rows[:, MEASURES.index("sounds s")] < HELD_S  # [P]
    short = held_s < HELD_S
    hurried = ~(gap_s >= HURRIED_S)  # (no onset before: hurried, as final_chord.held_if_hurried takes it)
    return [100.0 * float(np.mean(flags)) for flags in (short, short & hurried, fades, fades & hurried, loud < SOFT_SHARE,
                                                        recent < SOFT_SHARE, short & (loud <= 1.0))]


def summary(name: str, pieces: list) -> tuple[list[str], list[str]]:
    """A set's row of MEASURES (median and quartiles) and its row of SHARES (%)."""
    rows = np.array([r for r in map(ending, pieces) if r is not None], dtype=float)  # [P, M]
    q25, q50, q75 = np.nanpercentile(rows, [25, 50, 75], axis=0)
    return ([name, str(len(rows))] + [f"{m:.2f} ({lo:.2f}–{hi:.2f})" for m, lo, hi in zip(q50, q25, q75)],
            [name, str(len(rows))] + [f"{share:.0f}%" for share in shares(rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--model", action="append", help="a model that ends its pieces (repeatable; default: default)")
    parser.add_argument("-n", type=int, default=60, help="pieces per model (default 60)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="the cap, as tsm generate's (default 600)")
    parser.add_argument("--ending-seconds", type=float,
                        help="pieces of this length closed over their last seconds (tsm generate --seconds S --ending) "
                             "instead of pieces that end themselves")
    parser.add_argument("--prompt-seconds", type=float,
                        help="with --ending-seconds: each piece continues the first this many seconds of one of the "
                             "split's performances (spread over them; tsm generate --prompt FILE --ending), sampling "
                             "seed --seed + its number")
    parser.add_argument("--seed", type=int, default=5151)
    parser.add_argument("--markdown", type=Path)
    common.add_settings_argument(parser)
    parser.add_argument("--settings-only", action="store_true",
                        help="only the --settings rows, not each model's own (the same seed draws the same as measured before)")
    args = parser.parse_args()
    if args.settings_only and not args.settings:
        parser.error("--settings-only draws only the --settings rows: give at least one --settings")
    if args.ending_seconds is not None and not 0 < args.ending_seconds <= args.max_seconds:
        parser.error(f"--ending-seconds must be in (0, --max-seconds {args.max_seconds:g}], got {args.ending_seconds:g}")
    if args.prompt_seconds is not None and (args.ending_seconds is None or not args.prompt_seconds > 0):
        parser.error("--prompt-seconds needs --ending-seconds (a continued prompt closes as --ending asks) and must be > 0")
    torch.set_num_threads(1)
    with corpus_or_skip(args, "tsm-bench-endings-") as corpus:
        if corpus is not None:
            report(args, corpus)


def draw(gan, args: argparse.Namespace) -> list:
    """The latents of `args.n` pieces of `gan` that end themselves, or with --ending-seconds, of that length closed."""
    if args.ending_seconds is None:
        return gan.sample_latents(args.n, args.max_seconds, args.seed, ends=True)
    return gan.sample_latents(args.n, args.ending_seconds, args.seed, ending=True)


def continued(gan, args: argparse.Namespace, prompts: list) -> list:
    """Each of `prompts` (events) continued --ending-seconds and closed, as heard (a continuation is placed as it is
    drawn: the arm keeps only its last sample's events)."""
    from timestepmusic.piece_events import sampled_events

    return [sampled_events(gan.arm, gan.ae, gan.sample_latents(1, args.ending_seconds, args.seed + i, prompt=prompt,
                                                               ending=True), prompt)[0]
            for i, prompt in enumerate(prompts)]


def report(args: argparse.Namespace, corpus) -> None:
    """The table of `main`'s arguments over `corpus`, printed and written."""
    from timestepmusic.generation import GANModel
    from timestepmusic.piece_events import sampled_events
    from timestepmusic.prompts import ending_at

    tracks = corpus.tracks_in(args.split)
    real = [corpus.track_events(int(t)) for t in tracks]
    prompts = None if args.prompt_seconds is None else [  # --n of the split's performances, spread over it
        ending_at(real[i], args.prompt_seconds) for i in np.linspace(0, len(real) - 1, min(args.n, len(real))).astype(int)]
    body = [summary(f"real ({args.split})", real)]
    for name in args.model or ["default"]:
        gan = GANModel.load(name)
        groups, own = common.settings_groups(gan, args.settings)  # each checked before the minutes of drawing
        latents, drawn_with = None, None  # the last draw, and the settings that shaped it
        for group in groups[1:] if args.settings_only else groups:
            common.use_settings(gan, group, own)
            if prompts is not None:
                body.append(summary(f"{name}{''.join(f', {a}' for a in group)}, seed {args.seed}", continued(gan, args, prompts)))
                continue
            shaping = [a for a in group if a.partition("=")[0].strip() not in PLACED_AFTER]
            if latents is None or shaping != drawn_with:
                latents, drawn_with = draw(gan, args), shaping
            drawn = sampled_events(gan.arm, gan.ae, latents)
            body.append(summary(f"{name}{''.join(f', {a}' for a in group)}, seed {args.seed}", drawn))
    drawn_said = (f"that end themselves (at most {args.max_seconds:g} s)" if args.ending_seconds is None
                  else f"of {args.ending_seconds:g} s closed over their last seconds (--ending)")
    if prompts is not None:
        drawn_said += f" after the first {args.prompt_seconds:g} s of one of its performances (--prompt)"
    pieces = args.n if prompts is None else len(prompts)
    lines = [f"endings: the {len(real)} performances of the {args.split} split of {corpus.root}, and {pieces} pieces "
             f"per model {drawn_said}; median (quartiles)", ""]
    lines += table(["set", "pieces", *MEASURES], [measured for measured, _ in body])
    lines += ["", f"final onsets that are not a held chord (% of pieces): no key held ≥ {HELD_S:g} s; that, struck less "
              f"than {HURRIED_S:g} s after the onset before; none sounding {HELD_S:g} s, pedals counted; that, hurried; "
              f"loudest under {SOFT_SHARE:g}× the piece's median velocity, and under {SOFT_SHARE:g}× that of the 10 s "
              "before; short and no louder than the piece's median", ""]
    lines += table(["set", "pieces", *SHARES], [shared for _, shared in body])
    print("\n".join(lines))
    write_markdown(args.markdown, "# How pieces end", lines)


if __name__ == "__main__":
    main()
