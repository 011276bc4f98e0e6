"""Keys still sounding, so that a note is not struck on one (`ar.restrike_guard`), with no training; and how long
no note has sounded (`ar.silence_guard_s`, silence_guard.py), a note released under the damper or sostenuto ringing
on until that pedal lifts, as holds.sound_end_s hears a piece's last sound.

Why: a pianist releases a key before striking it again, so in real playing a note ends before its key's next one
starts (of the validation split's notes 0.17 % end exactly at the next onset of their key). The event head draws
each note's duration when it strikes it and does not hear every key still held (the carry holds the last 12 events),
so it strikes held keys again: 3.6 % of the default's notes were drawn on a key still sounding, and writing the
file ends such a note at the new one (MIDI's reading), a long one most often (those notes lost 43 % of their drawn
length). Over a piece the notes come out shorter than drawn, the long ones most (99th percentile 1.67 s drawn,
1.47 s written, 1.82 s real: bench/restrikes.py), and fewer sound at once.
How: the end of each key's latest note is kept (a prompt's notes, then each drawn one), and every note on a key
still sounding at its start is drawn at e^−G of its odds, the others more often in proportion: where a drawn
note's key is sounding it is kept with chance e^−G, else drawn again with those odds (event_sampler.EventSampler.
sample; exact, by rejection, as the cluster guard). Within a chunk
the ends are those of the drawn durations' bin middles, across chunks those written (so with ar.in_bins a note may
still be cut short by up to half a duration bin).
The silence: each piece's latest note end, moved on past every press of the damper or sostenuto (either taken to
hold every note, as holds.sound_end_s does) that is down there, to where none is; the presses kept are those that
end after that note's end (an earlier one can hold no later note).
Shapes: S pieces, N events per chunk, P pedal presses kept; 88 keys.
"""
from __future__ import annotations

import torch

from ..batches import SetBatch
from ..midi import DAMPER_ID, NUM_KEYS, SOSTENUTO_ID


class DrawnSounding:
    """The end of each key's latest note, and the presses of the pedals that hold a note on, on the pieces' clock (a
    prompt's chunks, then each drawn chunk)."""

    def __init__(self, pieces: int, chunk_seconds: float, device: torch.device):
        self.chunk_seconds, self.chunks = chunk_seconds, 0
        self.until_s = torch.full((pieces, NUM_KEYS), -torch.inf, dtype=torch.float64, device=device)  # [S, 88]
        self.pressed_s = torch.zeros((pieces, 0, 2), dtype=torch.float64, device=device)  # [S, P, 2]: the damper's
        # and sostenuto's presses (start, end; none: inf, −inf) that may hold a note on past the latest note's end

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N] (offsets from its start)."""
        device = self.until_s.device
        is_note = (sets.mask & (sets.ids < NUM_KEYS)).to(device)  # [S, N]
        start_s = sets.offset_s.double().to(device) + self.chunks * self.chunk_seconds  # [S, N]
        end_s = start_s + sets.duration_s.double().to(device)  # [S, N]
        keys = sets.ids.to(device).long().clamp(max=NUM_KEYS - 1)  # [S, N]
        self.until_s = self.until_s.scatter_reduce(1, keys, torch.where(is_note, end_s, -torch.inf), "amax")
        holds = (sets.mask & ((sets.ids == DAMPER_ID) | (sets.ids == SOSTENUTO_ID))).to(device)  # [S, N]
        pressed = torch.stack([torch.where(holds, start_s, torch.inf), torch.where(holds, end_s, -torch.inf)], dim=2)
        pressed_s = torch.cat([self.pressed_s, pressed], dim=1)  # [S, P + N, 2]
        latest_s = self.until_s.max(dim=1).values  # [S]
        self.pressed_s = pressed_s[:, (pressed_s[..., 1] > latest_s[:, None]).any(dim=0)]  # [S, P', 2]
        self.chunks += 1

    def skip(self, chunks: int) -> None:
        """Chunks known only by their latents (a prompt without events): heard as silence."""
        self.chunks += chunks

    def sounded_until_s(self) -> torch.Tensor:
        """When the last note heard so far stops sounding [S] (−inf: none has sounded): the latest note's end, or where
        the damper or sostenuto is down then, when it lifts, and so on (holds.sound_end_s; a lift not yet drawn: the
        end of the presses so far, at or after the next chunk's start)."""
        heard_s = self.until_s.max(dim=1).values  # [S]
        start_s, end_s = self.pressed_s.unbind(dim=2)  # [S, P] each
        while True:  # each pass moves on to the end of a press down at the time reached: at most P passes
            holding = (start_s <= heard_s[:, None]) & (heard_s[:, None] < end_s)  # [S, P]
            if not bool(holding.any()):
                return heard_s
            heard_s = torch.maximum(heard_s, torch.where(holding, end_s, -torch.inf).amax(dim=1))

    def silent_s(self) -> torch.Tensor:
        """Seconds from when the last note stopped sounding (sounded_until_s; the clock's start where no note has
        sounded) to the next chunk's start [S] (≤ 0: a note sounds on into it; ar.silence_guard_s)."""
        return self.chunks * self.chunk_seconds - self.sounded_until_s().clamp(min=0.0)

    def before(self) -> torch.Tensor:
        """Seconds from the next chunk's start until each key is free [S, 88] (≤ 0 or −inf: free already)."""
        return self.until_s - self.chunks * self.chunk_seconds
