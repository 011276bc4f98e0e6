"""A sense of key for the event head (`ar.tonal`): the pitch classes struck in the last seconds before a chunk,
read relative to each candidate key, lean every key choice in the chunk towards or away from that key.

Why: the head hears the past through the chunk latents the transformer reads and, with ar.carry, the last 12
events; what key a passage is in is spread over seconds of notes, and the head has to decode it per absolute key.
Pieces drawn that way wander: the pitch classes of one half of a 16 s excerpt match the other half's less than a
pianist's do (key steadiness 0.42 against 0.51 real, docs/quality.md, ninth session). Here the counts of each
pitch class among the notes struck in the last WINDOWS chunks (2 s, 8 s and 60 s: the last reaches past the
transformer's 16 s context, so a long piece can keep to a key it left), as shares, are rotated to each
candidate pitch class c (share of the class j semitones above c, j = 0 … 11) and a small MLP scores c from them:
the same function for every key, so it learns templates ("c is in the scale of what was played") rather than keys.
The scores are not centred over the classes, so they may also move the odds of a note against a pedal or the
chunk's end (as the interval pointer's do). The last layer starts at zero, so a head warm-started with it is at
first exactly the head it was. The windows fix the MLP's input size: a model saved with other windows does not
load.
The same counts serve training (`TonalGatherer`, over the corpus's notes before each chunk) and sampling
(`DrawnPitchClasses`, over a prompt's chunks and those drawn so far); both count the notes whose onsets fall in
the window of whole chunks before the chunk, and neither counts the events of a chunk past its max_events cap
(which no prompted or drawn chunk holds).
A key asked of a piece (`tsm generate --key`, `KeyTold`) is heard the same way: every window's counts are told in
the shares of the key's Krumhansl–Kessler profile raised to a power (the scale's notes, the tonic and the fifth
most), as many notes as the window struck but at least a floor per chunk of it, so that a piece starts in the key
(as if it had been playing in it) and every note drawn leans into it; nothing forces a logit. A path of keys
(`--key "C > G@20"`) tells each chunk the key asked of it.
Shapes: R chunk rows, S pieces, E corpus events, C = 12 pitch classes, G = len(WINDOWS), K = 88 keys.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..batches import ChunkGatherer, SetBatch
from ..keys import CLASSES, Key, check_key, profile, timed_path
from ..midi import LOWEST_PITCH, NUM_KEYS
from ..setting_names import FLAGS, SettingNames
from ..waypoints import check_changes

HEARS_KEYS = ("the shipped default does (and events-onsets, events-pause, events-v12, events-v28), or any events model "
              "trained with ar.tonal")
WINDOWS = (8, 32, 240)  # chunks before the chunk (2 s, 8 s and 60 s of 0.25 s chunks)


def pitch_class(ids: torch.Tensor) -> torch.Tensor:
    """Key ids [...] (0: A0, MIDI 21) → pitch classes 0 (C) … 11 [...] (meaningless for pedal ids: mask them)."""
    return (ids + LOWEST_PITCH) % CLASSES


class TonalPrior(nn.Module):
    """Pitch-class counts before a chunk → a change to each key's logit, the same function of the counts relative
    to the key for every key (one MLP over each of the 12 rotations; `hidden` units: a few templates)."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        features = len(WINDOWS) * (CLASSES + 1)  # each window's rotated shares and its note count
        self.score = nn.Sequential(nn.Linear(features, hidden), nn.GELU(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.score[2].weight)
        nn.init.zeros_(self.score[2].bias)
        rotate = (torch.arange(CLASSES)[:, None] + torch.arange(CLASSES)[None]) % CLASSES  # [c, j] → (c + j) % 12
        self.register_buffer("rotate", rotate, persistent=False)
        self.register_buffer("key_class", pitch_class(torch.arange(NUM_KEYS)), persistent=False)  # [K]

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        """Pitch-class counts [R, G, C] of each window → the change to each key's logit [R, K]."""
        r = counts.shape[0]
        total = counts.sum(-1, keepdim=True)  # [R, G, 1]
        shares = counts / total.clamp(min=1)  # [R, G, C]
        rotated = shares[:, :, self.rotate]  # [R, G, C (c), C (j)]
        loudness = torch.log1p(total)[:, :, None].expand(r, len(WINDOWS), CLASSES, 1)  # [R, G, C, 1]
        features = torch.cat([rotated, loudness], -1).permute(0, 2, 1, 3).reshape(r, CLASSES, -1)  # [R, C, G·(C+1)]
        per_class = self.score(features).squeeze(-1)  # [R, C]
        return per_class[:, self.key_class]  # [R, K]


class TonalGatherer:
    """The counts before real chunks in training, from a ChunkGatherer's corpus tensors: a running count of each
    pitch class along the corpus's events (those within their chunk's cap), differenced at the window's ends."""

    def __init__(self, gatherer: ChunkGatherer):
        self.g = gatherer
        ids = gatherer.ids.long()
        chunk = torch.floor(gatherer.key / gatherer.chunk_seconds)  # [E]: a chunk id unique across tracks, sorted
        rank = torch.arange(chunk.shape[0], device=chunk.device) - torch.searchsorted(chunk, chunk)  # [E]: in chunk
        counted = (ids < NUM_KEYS) & (rank < gatherer.max_events)  # [E]
        notes = F.one_hot(pitch_class(ids), CLASSES).to(torch.int32) * counted[:, None]  # [E, C]
        self.running = F.pad(notes.cumsum(0, dtype=torch.int32), (0, 0, 1, 0))  # [E + 1, C]: counts before each

    def counts(self, track: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """Chunk `chunk` [R] of track `track` [R] → the pitch-class counts of each window before it [R, G, C]."""
        end = self.g.first_event_at(track, chunk)  # [R]: the first event at the chunk
        windows = []
        for span in WINDOWS:
            begin = self.g.first_event_at(track, (chunk - span).clamp(min=0))  # [R]
            windows.append(self.running[end] - self.running[begin])  # [R, C]
        return torch.stack(windows, dim=1).float()  # [R, G, C]


@dataclass(frozen=True)
class KeyTold:
    """A key asked of the pieces being drawn (`tsm generate --key`), and how it is told (the module's docstring):
    its profile to the power `sharpness`, of at least `least_per_chunk` notes per chunk of each window (half a real
    passage's 2.4). Both chosen on sampling seeds 0–1 (bench/key_follow.py; docs/quality.md, thirty-eighth session).
    `later`: a path of keys (`--key "C > G@20"`): each (seconds from the first drawn chunk, key) asked from then on,
    in time order. Every window before a chunk is told in the key asked of that chunk, as if the piece had always
    been in it: the change is heard at once (told the mean of the keys asked of each window's chunks, as a listener
    would have heard them, the pieces were slow to take it up: docs/quality.md, fortieth session)."""

    key: Key
    sharpness: float = 4.0
    least_per_chunk: float = 1.2
    later: tuple[tuple[float, Key], ...] = ()

    def __post_init__(self):
        check_changes([at_s for at_s, _ in self.later], "a path of keys changes")
        for _, key in self.later:
            check_key(key)

    @classmethod
    def timed(cls, path: list[tuple[float | None, Key]], seconds: float, names: SettingNames = FLAGS) -> "KeyTold":
        """A parsed path of keys (keys.parse_key_path's) over a piece of `seconds`, timed from the first drawn chunk
        (keys.timed_path), as pulse.TempoTold.timed times a path of tempos; times it cannot keep are a ValueError
        naming --key (or generate()'s key: `names`)."""
        first, later = timed_path(path, seconds, names)
        return cls(first, later=later)

    def shares(self, key: Key | None = None) -> torch.Tensor:
        """The pitch-class shares the pieces are told they have heard in `key` (None: the first) [C] (sum 1)."""
        weights = torch.from_numpy(profile(self.key if key is None else key)).float() ** self.sharpness  # [C]
        return weights / weights.sum()

    def stretches(self) -> list[tuple[float, Key]]:
        """Every key asked with the seconds from which it is asked (the first from 0 s), in time order."""
        return [(0.0, self.key), *self.later]

    def asked_at(self, at_s: float) -> int:
        """Which of `stretches()` is asked at `at_s` seconds from the first drawn chunk (before it: the first)."""
        return sum(at_s >= change_s for change_s, _ in self.later)


class DrawnPitchClasses:
    """The counts of pieces being sampled: the pitch classes of each chunk (a prompt's, then each drawn), kept for
    the longest window; with `key` asked, told as that key's (see the module's docstring), or along its path of
    keys, timed from the first chunk after the `prompt_chunks` chunks of a prompt (of `chunk_seconds` each)."""

    def __init__(self, pieces: int, device: torch.device, key: KeyTold | None = None, chunk_seconds: float = 0.25,
                 prompt_chunks: int = 0):
        self.per_chunk = torch.zeros(pieces, 0, CLASSES, device=device)  # [S, chunks kept, C]
        self.asked = key  # a key, or a path of them
        self.asked_shares = (None if key is None else  # the shares of each key asked [K, C]
                             torch.stack([key.shares(asked) for _, asked in key.stretches()]).to(device))
        self.chunk_seconds = chunk_seconds
        self.next_chunk = -prompt_chunks  # the chunk the counts are asked before (0: the first drawn)
        least = 0.0 if key is None else key.least_per_chunk
        self.least_heard = torch.tensor([[least * span] for span in WINDOWS], device=device)  # [G, 1]

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N]."""
        is_note = sets.mask & (sets.ids < NUM_KEYS)  # [S, N]
        counts = torch.zeros(is_note.shape[0], CLASSES, dtype=torch.long, device=is_note.device)  # [S, C]
        counts.scatter_add_(1, pitch_class(sets.ids.long()), is_note.long())  # each note to its class
        self._keep(counts.float()[:, None])  # [S, 1, C]

    def skip(self, chunks: int) -> None:
        """Chunks known only by their latents (a prompt without events): heard as silence."""
        self._keep(torch.zeros(self.per_chunk.shape[0], chunks, CLASSES))

    def _keep(self, chunks: torch.Tensor) -> None:
        """Per-chunk counts [S, T, C] after those kept, then only the longest window's last chunks."""
        self.per_chunk = torch.cat([self.per_chunk, chunks.to(self.per_chunk.device)], 1)[:, -max(WINDOWS):]
        self.next_chunk += chunks.shape[1]

    def counts(self) -> torch.Tensor:
        """The counts of each window before the next chunk [S, G, C]; with a key asked, as many notes in its shares
        (along a path of keys, the key asked of the next chunk)."""
        counts = torch.stack([self.per_chunk[:, -span:].sum(1) for span in WINDOWS], dim=1)  # [S, G, C]
        if self.asked is None:
            return counts
        struck = counts.sum(-1, keepdim=True).clamp(min=self.least_heard)  # [S, G, 1]
        told = self.asked_shares[self.asked.asked_at(self.next_chunk * self.chunk_seconds)]  # [C]
        return struck * told  # [S, G, 1] × [C] → [S, G, C]
