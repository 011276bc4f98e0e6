"""Which pieces `tsm generate` writes: drawn BATCH_PIECES at a time, a piece without a note drawn again, and with
--select those the model's critic keeps (critic.py). Shapes: latents [T_s, L] per piece (T_s chunks, L latent)."""
from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np
import torch

from .critic import CRITIC
from .generation import GANModel
from .midi import Events
from .piece_events import sampled_events
from .prompts import SILENT_PROMPT_S, prompt_span_s
from .setting_names import said_in_keywords, warn
from .shipped import model_said, shipped_name_of

log = logging.getLogger(__name__)
SILENT_REDRAWS = 3  # a written piece without a note is drawn again (a new seed) at most this many times
REDRAW_SEED_STEP = 1_000_003  # redraw k uses seed + k × this (far from the seeds a user gives)
BATCH_PIECES = 256  # tsm generate draws at most this many pieces at once (its memory grows with them) …
BATCH_SEED_STEP = 1_000_000_007  # … batch b with seed + b × this (clear of its redraws' and critic rounds' seeds)
SELECT_ROUNDS = 8  # with a critic: draws of candidates at most, before the best scored of those passed over fill in
SELECT_SEED_STEP = 7_000_003  # round k of candidates uses seed + k × this (apart from REDRAW_SEED_STEP's)
SELECT_MARGIN = 1.25  # each round draws this many times the candidates its critic's kept share should need …
SELECT_MOST = 4, 16  # … but at most 4 × n + 16 at once (a critic that keeps few would otherwise ask for millions)


def written_pieces(gan: GANModel, n: int, seconds: float, seed: int, snap_to_real: bool = True, select: bool = False,
                   **options) -> tuple[list[torch.Tensor], list[Events]]:
    """The pieces `tsm generate` writes: their latents ([T_s, L] each, a prompt's chunks first) and events
    (GANModel.sample_latents, then `sampled_events`; with `select`, those the model's critic keeps:
    `selected_pieces`; a model without a critic, or a `prompt`, refuses it in one line). A piece without a single
    note (a model may stall in silence: 1 % of the shipped default's 16 s pieces) is drawn again with another seed,
    at most SILENT_REDRAWS times (with a prompt: a continuation without a note of its own); the same seed still gives
    the same pieces. (The benches sample without this, so their figures count such pieces.) Where each piece walked a
    training performance's path (ar.style_path), `gan.walked` names it, piece by piece (None with `select`)."""
    prompt = options.get("prompt")

    def draw(count: int, seed: int) -> tuple[list[torch.Tensor], list[Events]]:
        if select:
            return selected_pieces(gan, count, seconds, seed, snap_to_real, **options)
        latents = gan.sample_latents(count, seconds, seed, snap_to_real, **options)
        return latents, sampled_events(gan.arm, gan.ae, latents, prompt)

    latents, events = draw(n, seed)
    walked = None if select else getattr(gan.arm, "walked_from", None)  # (the critic's rounds: not kept track of)
    walked = None if walked is None else list(walked)
    new_from_s = prompt_span_s(gan.ae, prompt)

    def silent() -> list[int]:  # the pieces without a note of their own (a prompt's notes do not count)
        return [i for i, piece in enumerate(events) if not (piece.is_note & (piece.start_s >= new_from_s - 1e-9)).any()]

    for redraw in range(1, SILENT_REDRAWS + 1):
        if not (quiet := silent()):
            break
        log.info("%d of %d pieces without a new note: drawn again", len(quiet), n)
        for j, (i, latent, piece) in enumerate(zip(quiet, *draw(len(quiet), seed + redraw * REDRAW_SEED_STEP))):
            latents[i], events[i] = latent, piece
            if walked is not None:
                walked[i] = gan.arm.walked_from[j]
    if quiet := silent():
        why = ""
        if prompt is not None:
            last_note_s = float(prompt.start_s[prompt.is_note].max(initial=0.0))
            if new_from_s - last_note_s > SILENT_PROMPT_S:  # the model continues the silence it hears
                cut = ("pass it cut where its music ends, e.g. midi.window(events, 0, SECONDS)" if said_in_keywords()
                       else "cut it with --prompt-seconds")  # (generate() has no prompt_seconds=)
                why = (f" (the prompt's last note starts at {last_note_s:.1f} s and it runs on silent to "
                       f"{new_from_s:.1f} s: {cut})")
        warn(log, "%d of %d pieces have no new note after %d draws; written as they are%s", len(quiet), n,
             SILENT_REDRAWS + 1, why)
    gan.walked = walked
    return latents, events


def drawn_in_batches(gan: GANModel, n: int, seconds: float, seed: int, snap_to_real: bool = True,
                     select: bool = False, only: Collection[int] | None = None,
                     **options) -> Iterator[tuple[int, list[torch.Tensor], list[Events]]]:
    """`written_pieces` of n pieces, BATCH_PIECES at a time, so that a large -n is written as it is drawn rather than
    held whole: (the index of the batch's first piece, its latents, its events) per batch. Batch b draws with seed +
    b × BATCH_SEED_STEP, so up to BATCH_PIECES pieces are drawn together, as before, and the same seed and n still
    give the same pieces. With `only` (indices of pieces), the batches holding none of them are not drawn: each piece
    is drawn with those drawn together with it, so that it is the same piece as in the whole run. A `progress`
    among the options (GANModel.sample_latents') is called once per chunk of every draw: a batch's, then any piece's
    drawn again and each --select round's."""
    for first in range(0, n, BATCH_PIECES):
        count = min(BATCH_PIECES, n - first)
        if only is not None and not any(first <= i < first + count for i in only):
            continue
        yield first, *written_pieces(gan, count, seconds, seed + first // BATCH_PIECES * BATCH_SEED_STEP,
                                     snap_to_real, select, **options)


SELECT_NO_PROMPT = ("--select cannot be used with --prompt: the critic judges whole pieces the model drew, not the "
                    "continuation of a performance you bring")


def critic_hint(gan: GANModel) -> str:
    """How a model without a critic gets one: the command that trains it into the very folder the model was read
    from, with the corpus it was trained on where that is still there, ready to paste; a shipped model is not changed
    in place (train.critic), so for one of those, a copy."""
    import shlex

    if shipped_name_of(gan.folder):
        return ("the shipped default has one; or copy this model's folder and train the copy's: python -m "
                "timestepmusic.train.critic COPY --corpus CORPUS")
    root = (gan.meta.get("corpus") or {}).get("root")
    corpus = shlex.quote(str(root)) if root and Path(root).is_dir() else "CORPUS"  # (where it was trained, if still there)
    return f"train one with: python -m timestepmusic.train.critic {shlex.quote(str(gan.folder))} --corpus {corpus}"


def check_selectable(gan: GANModel, seconds: float, **options) -> None:
    """`--select` needs a readable critic beside the model and pieces of the model's own, at least one critic window
    long and as long as asked; otherwise ValueError in one line."""
    if gan.critic is None:
        raise ValueError(f"--select: {gan.critic_error}" if gan.critic_error else
                         f"--select: {model_said(gan.folder)} has no critic ({CRITIC}); {critic_hint(gan)}")
    if options.get("prompt") is not None:
        raise ValueError(SELECT_NO_PROMPT)
    if options.get("ends"):
        raise ValueError("--select: pieces that end themselves (--max-seconds) are written as drawn (the critic "
                         "judges pieces of one length: it would keep short ones for their silence); give --seconds")
    if seconds < gan.critic.window_s:
        raise ValueError(f"--select: the critic judges windows of {gan.critic.window_s:g} s; give --seconds of at "
                         f"least that (got {seconds:g})")


def selected_pieces(gan: GANModel, n: int, seconds: float, seed: int, snap_to_real: bool = True,
                    **options) -> tuple[list[torch.Tensor], list[Events]]:
    """`n` pieces its critic keeps (critic.py: each drawn piece kept with probability min(1, exp(score − shift)), the
    shift keeping the critic's kept share of each draw on average), in the order drawn: candidates are drawn in
    rounds (round k at seed + k × SELECT_SEED_STEP, as many as the critic's kept share should need, × SELECT_MARGIN,
    at most SELECT_MOST), until n are kept or SELECT_ROUNDS have been drawn, when the best scored of those passed
    over fill the rest (said in the log). The same seed and n give the same pieces. What `check_selectable` refuses:
    ValueError in one line."""
    check_selectable(gan, seconds, **options)
    critic = gan.critic
    rng = np.random.default_rng([seed, 1])  # whether each candidate is kept
    kept: list[tuple[torch.Tensor, Events]] = []
    passed: list[tuple[float, torch.Tensor, Events]] = []  # (score, latents, events) of those not kept
    drawn = 0
    for round_ in range(SELECT_ROUNDS):
        count = min(math.ceil((n - len(kept)) / critic.kept_share * SELECT_MARGIN), SELECT_MOST[0] * n + SELECT_MOST[1])
        latents = gan.sample_latents(count, seconds, seed + round_ * SELECT_SEED_STEP, snap_to_real, **options)
        events = sampled_events(gan.arm, gan.ae, latents)
        scores = critic.scores(events, [latent.shape[0] * gan.ae.chunk_seconds for latent in latents])  # [count]
        keep = critic.kept(scores, rng)  # [count]
        drawn += count
        for score, latent, piece, chosen in zip(scores.tolist(), latents, events, keep.tolist()):
            if chosen and len(kept) < n:
                kept.append((latent, piece))
            else:
                passed.append((score, latent, piece))
        if len(kept) == n:
            log.info("the critic kept %d of %d pieces drawn", n, drawn)
            break
        passed = sorted(passed, key=lambda x: -x[0])[:n - len(kept)]  # (only the best scored may still fill in)
    else:
        log.warning("the critic kept %d of %d pieces drawn; the best scored %d of the others fill in", len(kept), drawn,
                    n - len(kept))
        kept += [(latent, piece) for _, latent, piece in passed[:n - len(kept)]]
    return [latent for latent, _ in kept], [piece for _, piece in kept]
