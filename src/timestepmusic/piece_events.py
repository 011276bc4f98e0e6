"""The events of sampled pieces, as they are written: a sequence model's latents (or the events its arm drew) → Events,
a prompt's own events first, every note and pedal released by RELEASE_S after the last chunk; long pieces decoded block
by block (BLOCK_CHUNKS), in bounded memory. Shapes: T chunks, L latent. The pieces themselves are sampled by
generation.py (GANModel.sample_latents).
"""
from __future__ import annotations

import numpy as np
import torch

from .autoencoder import Autoencoder
from .flams import flams_joined
from .holds import join_pedal_runs, release_by
from .midi import Events
from .prompts import prompt_chunks
from .sequence import SequenceModel
from .soft_runs import soft_held

RELEASE_S = 2.0  # how long a generated piece may ring on after its last chunk
BLOCK_CHUNKS = 4096  # chunks snapped and decoded at once (the codebook distances of a block: 4096 × K floats)


def sampled_events(arm: SequenceModel, ae: Autoencoder, pieces: list[torch.Tensor],
                   prompt: Events | None = None) -> list[Events]:
    """The events of the pieces the arm just sampled (latents [T_s, L] each, a prompt's chunks first): a prompt's
    own events, as played (every note, though the arm hears at most ae.max_events a chunk), followed by what the arm
    drew after it: for an arm that draws events (`draws_events`) those events, for another the autoencoder's decode
    of its latents from the prompt's end; each key struck twice within 40 ms in what was drawn written once
    (flams.py), the una corda held in passages, not flickers (soft_runs.py: ar.soft_join_s, ar.soft_shortest_s), and a
    closed piece placed and held as heard (the arm's `closed_as_heard`: ar.final_ritard,
    ar.final_held_s, ar.final_velocity_floor)."""
    c = ae.chunk_seconds
    first = prompt_chunks(ae, prompt)
    draws_events = getattr(arm, "draws_events", False)
    if draws_events:
        drawn = [arm.drawn_events(i, piece.shape[0] - first, c, first) for i, piece in enumerate(pieces)]
    else:
        drawn = [decode_piece(ae, latent) for latent in pieces]
        if prompt is None:
            return [flams_joined(events) for events in drawn]  # no key struck twice in 40 ms
        drawn = [piece.take(np.flatnonzero(piece.start_s >= first * c - 1e-9)) for piece in drawn]
    given = [] if prompt is None else [prompt]
    # a lift between a prompt's pedal held past its end and a press drawn just after it closed as drawn ones are
    join_s = 0.0 if prompt is None else arm.settings.pedal_join_s if draws_events else ae.pedal_join_s
    heard = [release_by(join_pedal_runs(Events.concatenate(given + [new]), join_s, from_s=first * c - 1e-9),
                        piece.shape[0] * c + RELEASE_S, after_sound=True) for new, piece in zip(drawn, pieces)]
    heard = [flams_joined(events, from_s=first * c - 1e-9) for events in heard]  # no key struck twice in 40 ms
    if draws_events:  # the una corda held in passages, not flickers (soft_runs.py)
        heard = [soft_held(events, arm.settings.soft_join_s, arm.settings.soft_shortest_s, from_s=first * c - 1e-9,
                           quiet=arm.settings.soft_quiet)
                 for events in heard]
    if hasattr(arm, "closed_as_heard"):  # a closed piece slows into its final chord (ar.final_ritard), which is held
        # where hurried and raised where much softer than the music before it (ar.final_held_s, ar.final_velocity_floor)
        heard = [arm.closed_as_heard(i, events, first, piece.shape[0] * c + RELEASE_S)
                 for i, (events, piece) in enumerate(zip(heard, pieces))]
    return heard


def decode_piece(ae: Autoencoder, latent: torch.Tensor) -> Events:
    """One piece's latents [T, L] → events, block by block, every note and pedal released by RELEASE_S after
    its last chunk, and every pedal by the time its notes stop sounding. (A pedal run or a restruck key that
    crosses a block boundary is not joined across it: one place in 17 min.)"""
    blocks = [ae.decode_events(latent[lo:lo + BLOCK_CHUNKS], start_chunk=lo)
              for lo in range(0, latent.shape[0], BLOCK_CHUNKS)]
    events = blocks[0] if len(blocks) == 1 else Events.concatenate(blocks)
    return release_by(events, latent.shape[0] * ae.chunk_seconds + RELEASE_S, after_sound=True)
