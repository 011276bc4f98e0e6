"""The events arm's piece as written (sequence/events.py): a mixin, `Written`, of the methods of EventAutoregressive
that shape what the last sample drew into what generation writes (generation.py): its events, pedal runs joined
(`drawn_events`), and a piece that closed slowed into its final chord (`slowed_into_final_chord`), that chord held
and raised where it needs it (`closed_as_heard`).
Shapes: N events.
"""
from __future__ import annotations

import numpy as np
import torch

from ..autoencoder import sets_to_events
from ..batches import SetBatch
from ..final_chord import floored_velocity, held_if_hurried
from ..holds import join_pedal_runs
from ..midi import Events
from ..ritardando import final_onset_s, slow_into


class Written:
    """EventAutoregressive's methods that shape a drawn piece as written; they read its settings (`settings`),
    `chunk_seconds`, and of the last sample the sets it drew (`drawn`) and where each piece closed (`final_chunks`)."""

    def drawn_events(self, piece: int, chunks: int, chunk_seconds: float, start_chunk: int = 0) -> Events:
        """The events piece `piece` of the last sample drew in its first `chunks` new chunks, placed from chunk
        `start_chunk` on (after a prompt of that many chunks); gaps of at most ar.pedal_join_s (or
        ar.pedal_join_share of the press before) inside a pedal's runs closed."""
        rows = [s.take(slice(piece, piece + 1)) for s in self.drawn[:chunks]]
        if not rows:
            return Events(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8))
        sets = SetBatch(*(torch.cat(parts) for parts in zip(*((r.ids, r.offset_s, r.duration_s, r.intensity, r.sizes)
                                                                for r in rows))))  # [chunks, N]
        a = self.settings
        return join_pedal_runs(sets_to_events(sets, chunk_seconds, start_chunk), a.pedal_join_s, a.pedal_join_share)

    def slowed_into_final_chord(self, piece: int, events: Events, start_chunk: int = 0) -> Events:
        """Piece `piece` of the last sample as heard (`events`, its drawn chunks from `start_chunk` on, after a
        prompt of that many), slowed into its closing's final onset (its last note's, with those struck just before
        it: ritardando.final_onset_s) by ar.final_ritard over ar.final_ritard_s (ritardando.slow_into; never into a
        prompt); as it is where the piece did not close or nothing slows."""
        a, c = self.settings, self.chunk_seconds
        closed = self.final_chunks is not None and int(self.final_chunks[piece]) >= 0
        final_s = final_onset_s(events) if closed and a.final_ritard != 1.0 else None  # (no note starts in its ring)
        if final_s is None:
            return events
        span_s = min(a.final_ritard_s, final_s - start_chunk * c)  # (a piece shorter than the span: all of it)
        return slow_into(events, final_s, span_s, a.final_ritard)

    def closed_as_heard(self, piece: int, events: Events, start_chunk: int, end_s: float) -> Events:
        """Piece `piece` of the last sample as heard (`events`, its drawn chunks from `start_chunk` on, after a
        prompt of that many; `end_s`: where it ends), slowed into its closing's final onset (slowed_into_final_chord),
        then that onset held where it is hurried (ar.final_held_s) and raised where it is much softer than the music
        before it (ar.final_velocity_floor; final_chord.py), never a prompt's notes; as it is where the piece did
        not close."""
        slowed = self.slowed_into_final_chord(piece, events, start_chunk)
        a = self.settings
        closed = self.final_chunks is not None and int(self.final_chunks[piece]) >= 0
        if not closed or (a.final_held_s == 0.0 and a.final_velocity_floor == 0.0):
            return slowed
        final_s = final_onset_s(slowed)
        if final_s is None or final_s < start_chunk * self.chunk_seconds:  # (a prompt's final onset: as played)
            return slowed
        end_s += final_s - final_onset_s(events)  # the slowing moves the final onset and all after it alike
        held = held_if_hurried(slowed, final_s, a.final_held_s, end_s)
        return floored_velocity(held, final_s, a.final_velocity_floor)
