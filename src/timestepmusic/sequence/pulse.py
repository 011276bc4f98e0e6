"""A sense of pulse for the event head (`ar.pulse`): each start choice leans by a kernel over the time since the
onsets heard before it, a kernel the head's state chooses.

Why: real playing has a beat. The onsets of a real 16 s excerpt repeat at a period (the autocorrelation of its
onset train peaks at a lag between 0.2 and 1.5 s), and the drawn ones hardly do (median peak 0.16 against 0.28
real on the validation split, docs/quality.md, twentieth session): a listener hears notes placed at random
moments. The head hears the past through the chunk latents (which blur exact times) and the carry's 12 events
(under a second); nothing gave it the onsets of the last seconds in a form where "one beat after an onset" is
easy to say. Here the latest ONSETS onsets before the choice (a note that starts more than ONSET_S after the note
before it; among the notes before the chunk and those drawn before it in the chunk) each add, to every start
bin's logit, the kernel at the lag from that onset to the bin: a kernel peaked at the beat's period favours the
bins one period after an onset, and every onset heard votes for the same grid. The kernel comes from the state
(after the key is chosen), so it can follow the tempo and say "with the beat" or "off it". Its layer starts at
zero, so a head warm-started with it is at first exactly the head it was.
The same onsets serve training (`OnsetGatherer`, over the corpus's notes before each chunk) and sampling
(`DrawnOnsets`, over a prompt's chunks and those drawn so far); the chunk's own notes are heard at their 5 ms start
bins' middles, as drawn ones are. One known difference, as the carry's (sequence/carry.py): training reads the
corpus uncapped, so after a chunk over the max_events cap it hears onsets that a prompted or drawn chunk, capped,
does not hold.
`BeatEcho` (ar.beat_echo) leans the starts by the same onsets with no training: toward the intervals heard between
them, after them; or, with a tempo asked (`tsm generate --tempo`, `TempoTold`), toward the asked beats after them.
Shapes: R chunk rows, N events per chunk, M = ONSETS, Q queries (start choices), S start bins, L lag bins.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..batches import ChunkGatherer, SetBatch
from ..midi import NUM_KEYS
from ..setting_names import FLAGS, SettingNames
from ..waypoints import check_changes, spaced

ONSETS = 24  # onsets heard before each start choice
ONSET_S = 0.025  # a note within this of the note before it joins that note's onset (as tsm evaluate's top line)
LAG_STEP_S, REACH_S = 0.01, 3.0  # the kernel's lags: 10 ms steps up to 3 s; onsets further back are not heard
LAGS = round(REACH_S / LAG_STEP_S)


def latest(times_s: torch.Tensor, count: int = ONSETS) -> torch.Tensor:
    """The latest `count` of each row's times [R, I] (−inf: none) → [R, count], latest first (−inf padded)."""
    if times_s.shape[1] < count:
        times_s = torch.cat([times_s, times_s.new_full((times_s.shape[0], count - times_s.shape[1]), -torch.inf)], 1)
    return times_s.topk(count, dim=1).values


def onsets_among(note_s: torch.Tensor, last_note_s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Notes' starts [R, N] (time order; −inf: not a note) and the start of the latest note before them [R] → the
    starts of those that begin an onset (more than ONSET_S after the latest note before) [R, N], −inf elsewhere,
    and the start of the latest note after them [R]. Training and sampling chunk by chunk decide an onset here;
    sampling event by event by the same rule for one note (`onset_of`)."""
    before = torch.cat([last_note_s[:, None], note_s], dim=1).cummax(dim=1).values  # [R, N + 1]
    return torch.where(note_s - before[:, :-1] > ONSET_S, note_s, -torch.inf), before[:, -1]


def onset_of(note_s: torch.Tensor, last_note_s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`onsets_among` for one note per row, in fewer operations (a sampler, note by note): a note's start [R]
    (−inf: not a note) and the start of the latest note before it [R] → whether it begins an onset [R] (bool; its
    start is then the onset's) and the start of the latest note after it [R]."""
    return note_s - last_note_s > ONSET_S, torch.maximum(last_note_s, note_s)


class OnsetGatherer:
    """The onsets before real chunks in training, from a ChunkGatherer's corpus tensors: which notes start an onset
    is decided once over the corpus, as sampling decides it note by note (a track's first note starts one)."""

    def __init__(self, gatherer: ChunkGatherer):
        self.g = gatherer
        self.note_positions = torch.nonzero(gatherer.ids < NUM_KEYS).squeeze(1)  # [E_notes], sorted
        note_s = gatherer.start_s[self.note_positions].double()  # [E_notes]
        track = torch.div(gatherer.key[self.note_positions], gatherer.stride_s, rounding_mode="floor")  # [E_notes]
        first_of_track = torch.ones_like(self.note_positions, dtype=torch.bool)  # no note before it in its track
        first_of_track[1:] = track[1:] != track[:-1]
        previous_s = torch.cat([note_s.new_full((1,), -torch.inf), note_s[:-1]])  # [E_notes]
        starts = first_of_track | (note_s - previous_s > ONSET_S)
        self.onset_positions = self.note_positions[starts]  # [E_onsets], sorted

    def onsets(self, track: torch.Tensor, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Chunk `chunk` [R] of track `track` [R] → the latest ONSETS onsets before it, seconds from its start
        (negative) [R, M], latest first (−inf: none; the track's first note starts an onset), and the start of the
        latest note before it [R]."""
        g = self.g
        first = g.first_event_at(track, torch.zeros_like(chunk))  # [R]: the track's first event
        end = g.first_event_at(track, chunk)  # [R]
        chunk_start_s = chunk.double() * g.chunk_seconds  # [R]

        def before(positions: torch.Tensor, count: int) -> torch.Tensor:
            """The starts of the last `count` of these corpus positions before each chunk in its track, seconds
            from the chunk's start [R, count], latest first (−inf: none)."""
            j = torch.searchsorted(positions, end)[:, None] - 1 - torch.arange(count, device=g.device)  # [R, count]
            pos = positions[j.clamp(min=0)] if positions.numel() else torch.zeros_like(j)
            valid = (j >= 0) & (pos >= first[:, None])
            return torch.where(valid, g.start_s[pos].double() - chunk_start_s[:, None], -torch.inf)
        return before(self.onset_positions, ONSETS), before(self.note_positions, 1)[:, 0]


class DrawnOnsets:
    """The onsets of pieces being sampled: a prompt's chunks, then each chunk drawn, appended as it comes."""

    def __init__(self, pieces: int, chunk_seconds: float, device: torch.device):
        self.chunk_seconds, self.chunks = chunk_seconds, 0
        self.kept = torch.full((pieces, ONSETS), -torch.inf, dtype=torch.float64, device=device)  # [S, M], piece clock
        self.last_note_s = torch.full((pieces,), -torch.inf, dtype=torch.float64, device=device)  # [S]

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N] (offsets from its start, in time order)."""
        device = self.kept.device
        is_note = (sets.mask & (sets.ids < NUM_KEYS)).to(device)  # [S, N]
        note_s = torch.where(is_note, sets.offset_s.double().to(device) + self.chunks * self.chunk_seconds,
                             -torch.inf)  # [S, N]
        onset_s, self.last_note_s = onsets_among(note_s, self.last_note_s)  # [S, N], [S]
        self.kept = latest(torch.cat([self.kept, onset_s], dim=1))
        self.chunks += 1

    def skip(self, chunks: int) -> None:
        """Chunks known only by their latents (a prompt without events): heard as silence."""
        self.chunks += chunks

    def onsets(self) -> torch.Tensor:
        """The latest onsets before the next chunk, seconds from its start [S, M] (−inf: none)."""
        return self.kept - self.chunks * self.chunk_seconds

    def last_note(self) -> torch.Tensor:
        """The start of the latest note before the next chunk, seconds from its start [S] (−inf: none)."""
        return self.last_note_s - self.chunks * self.chunk_seconds


def heard_in_chunk(before: torch.Tensor, last_note_s: torch.Tensor, key: torch.Tensor, start_s: torch.Tensor,
                   event: torch.Tensor) -> torch.Tensor:
    """Teacher-forced: the onsets each event's start choice hears. The onsets before the chunks [R, M] and the
    latest note before each [R], the chunks' keys [R, N], starts (s from the chunk's start) [R, N] and mask
    [R, N] → at each position p (the events before it heard) the latest ONSETS onsets [R, N, M]."""
    note_s = torch.where(event & (key < NUM_KEYS), start_s.double(), -torch.inf)  # [R, N]
    chunk_onsets, _ = onsets_among(note_s, last_note_s)  # [R, N]
    n = key.shape[1]
    hears = torch.arange(n, device=key.device)[None, :] < torch.arange(n, device=key.device)[:, None]  # [N(p), N]
    in_chunk = torch.where(hears[None], chunk_onsets[:, None, :], -torch.inf)  # [R, N, N]
    return latest(torch.cat([before[:, None, :].expand(-1, n, -1), in_chunk], dim=2).flatten(0, 1)).view(
        key.shape[0], n, ONSETS)  # [R, N, M]


class PulseLean(nn.Module):
    """GRU states [Q, H] and the onsets each hears [Q, M] (s from the chunk's start; −inf: none) → the change to
    the start bins' logits [Q, S]: for each onset within REACH_S, a kernel over the lag from it, chosen by the
    state."""

    def __init__(self, hidden: int, start_middles_s: torch.Tensor):
        super().__init__()
        self.kernels = nn.Linear(hidden, LAGS)
        nn.init.zeros_(self.kernels.weight)
        nn.init.zeros_(self.kernels.bias)
        self.register_buffer("starts_s", start_middles_s.double(), persistent=False)  # [S]

    def forward(self, state: torch.Tensor, onsets_s: torch.Tensor) -> torch.Tensor:
        kernels = self.kernels(state)  # [Q, L]
        lag_s = self.starts_s[None, None, :] - onsets_s[:, :, None]  # [Q, M, S] (+inf: no onset)
        heard = (lag_s >= 0) & (lag_s < REACH_S)  # [Q, M, S]: onsets too far back, none, or after the bin: nothing
        index = (lag_s / LAG_STEP_S + 1e-6).clamp(0, LAGS - 1).long()  # [Q, M, S]; a lag on a step is that step's
        lean = kernels.gather(1, index.flatten(1)).view_as(lag_s)  # [Q, M, S]
        return (lean * heard).sum(dim=1)  # [Q, S]


ECHO_LAGS_S = (0.05, 1.6)  # the intervals between heard onsets that recur: a beat's and its subdivisions'
ECHO_BLUR_S = 0.02  # played timing is not on a grid (as tsm evaluate's pulse_clarity)
ECHO_REACH = round(3 * ECHO_BLUR_S / LAG_STEP_S)  # the blur's half width, in lag cells
ECHO_KERNEL = torch.exp(-0.5 * ((torch.arange(-ECHO_REACH, ECHO_REACH + 1, dtype=torch.float64) * LAG_STEP_S)
                                / ECHO_BLUR_S) ** 2)  # [2·reach + 1]: the blur, the same for every chunk
ECHO_FLOOR = 0.25  # a start bin no interval points to keeps this share of the average bin's weight


TEMPO_NEEDS_ECHO = ("--tempo leans each note's start toward the asked beats through the beat echo, which this model "
                    "samples without (ar.beat_echo 0): add --set ar.beat_echo=3 (the default's), or use the default, "
                    "events-onsets or events-v28")
TEMPO_RANGE_BPM = (40.0, 240.0)  # beats of 1.5 s to 0.25 s: within the echo's lags, as a pianist's beats are


def check_bpm(bpm: float, names: SettingNames = FLAGS) -> None:
    """A tempo the beat echo cannot reach (outside TEMPO_RANGE_BPM, or not finite) → a ValueError naming --tempo (or
    generate()'s tempo=: `names`)."""
    lo, hi = TEMPO_RANGE_BPM
    if not (math.isfinite(bpm) and lo <= bpm <= hi):
        raise ValueError(f"{names.given('tempo', f'{bpm:g}')}: give beats per minute from {lo:g} to {hi:g}")


@dataclass(frozen=True)
class TempoTold:
    """A tempo asked of the pieces being drawn (`tsm generate --tempo`), in beats per minute: the beat echo's profile
    over lags becomes a comb at every beat (and, at `half_beat_weight` of a beat's, every half-beat) within
    ECHO_LAGS_S, blurred as heard intervals are, in place of the intervals between the onsets heard; the onsets heard
    still place the beat. Beats alone (weight 0) were chosen on sampling seeds 0–1 over half-beats at 0.5 and 1
    (bench/tempo_follow.py; docs/quality.md, thirty-eighth session). `later`: a path of tempos (`--tempo "80 >
    120"`, an accelerando): each (seconds from the first drawn chunk, bpm) reached then, in time order; between them
    the tempo moves in a straight line (held after the last), and each chunk leans toward the beats of the tempo at
    its middle (`at`)."""

    bpm: float
    half_beat_weight: float = 0.0
    later: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        for bpm in [self.bpm] + [bpm for _, bpm in self.later]:
            check_bpm(bpm)
        check_changes([at_s for at_s, _ in self.later], "a path of tempos reaches them")

    @classmethod
    def timed(cls, path: list[tuple[float | None, float]], seconds: float, names: SettingNames = FLAGS) -> "TempoTold":
        """A parsed path of tempos (cli.parse_tempo_path's waypoints) over a piece of `seconds`: the first at 0 s, an
        untimed last one at the piece's end, the untimed ones between spaced evenly (waypoints.spaced); times it cannot
        keep are a ValueError naming --tempo (or generate()'s tempo: `names`)."""
        times = spaced([at_s for at_s, _ in path], "--tempo", seconds, last_at_end=True, names=names)
        return cls(path[0][1], later=tuple((at_s, bpm) for at_s, (_, bpm) in zip(times[1:], path[1:])))

    def waypoints(self) -> list[tuple[float, float]]:
        """Every tempo asked with the seconds at which it is reached (the first at 0 s), in time order."""
        return [(0.0, self.bpm), *self.later]

    def at(self, at_s: float) -> "TempoTold":
        """The tempo asked at `at_s` seconds from the first drawn chunk, as one held there."""
        if not self.later:
            return self
        times, bpms = zip(*self.waypoints())
        return TempoTold(float(np.interp(at_s, times, bpms)), self.half_beat_weight)

    def profile(self, lags: int) -> torch.Tensor:
        """The comb over `lags` lag cells of LAG_STEP_S [L] (float64)."""
        beat_s = 60.0 / self.bpm
        lag_s = torch.arange(lags, dtype=torch.float64) * LAG_STEP_S  # [L]
        comb = torch.zeros(lags, dtype=torch.float64)
        lo, hi = ECHO_LAGS_S
        for halves in range(1, math.floor(hi / beat_s * 2) + 1):  # every half-beat within the echo's lags
            at_s, weight = halves * beat_s / 2, 1.0 if halves % 2 == 0 else self.half_beat_weight
            if at_s >= lo:
                comb += weight * torch.exp(-0.5 * ((lag_s - at_s) / ECHO_BLUR_S) ** 2)
        return comb


class BeatEcho:
    """A lean on the start bins that needs no training (`ar.beat_echo`): the intervals between the onsets heard
    before a chunk recur after them. The intervals between every two of the latest ONSETS onsets (within
    ECHO_LAGS_S) make a profile over lags, blurred by ECHO_BLUR_S; each start bin's weight is that profile summed at
    the lags from every onset heard (those drawn earlier in the chunk too) to the bin, over its mean among the
    bins; the lean is `strength` × ln(ECHO_FLOOR + that weight). A bin one beat, or one subdivision, after the
    onsets heard is favoured; where no two onsets heard lie within ECHO_LAGS_S of each other, or no lag from an
    onset heard to a bin reaches the profile, every bin leans alike. The weight is relative: two or three sparse
    onsets sway a start as far as a long steady run of them (the strength was chosen so, on validation).
    Shapes: R rows, M onsets heard, S start bins, L lag cells of LAG_STEP_S."""

    def __init__(self, before_s: torch.Tensor, start_middles_s: torch.Tensor, strength: float,
                 tempo: TempoTold | None = None, recency_s: float = 0.0):
        """before_s [R, M]: the onsets heard before the chunk, seconds from its start, latest first (−inf: none);
        start_middles_s [S] (float64): the start bins' middles; `tempo`: an asked tempo's comb replaces the profile of
        the intervals heard. `recency_s` τ > 0 (ar.echo_recency_s): each onset heard votes for a bin at e^(−lag/τ) of
        its weight, the lag from it to the bin, so that the onsets nearest a start place it and the next beat after
        the latest onsets leans harder than the one after it."""
        self.starts_s, self.strength, self.recency_s = start_middles_s[None, None, :], strength, recency_s  # [1, 1, S]
        if tempo is not None:  # the asked beats' comb, the same for every row
            self.profile = tempo.profile(LAGS).to(before_s.device).expand(before_s.shape[0], LAGS)  # [L] → [R, L]
            return
        lag_s = before_s[:, :, None] - before_s[:, None, :]  # [R, M, M]: onset i after onset j by this
        lo, hi = ECHO_LAGS_S
        paired = (lag_s >= lo) & (lag_s <= hi)  # (−inf − −inf is NaN: never paired)
        index = (lag_s / LAG_STEP_S).nan_to_num(0.0).round().clamp(0, LAGS - 1).long()  # [R, M, M]
        counts = torch.zeros(before_s.shape[0], LAGS, dtype=torch.float64, device=before_s.device)  # [R, L]
        counts.scatter_add_(1, index.flatten(1), paired.flatten(1).double())
        blur = ECHO_KERNEL.to(before_s.device)  # [2·reach + 1]
        self.profile = nn.functional.conv1d(counts[:, None], blur[None, None], padding=ECHO_REACH)[:, 0]  # [R, L]

    def __call__(self, heard_s: torch.Tensor) -> torch.Tensor:
        """The onsets heard before a start choice, seconds from the chunk's start [R, M] (−inf: none) → the lean
        on its start bins [R, S] (float32)."""
        lag_s = self.starts_s - heard_s[:, :, None]  # [R, M, S] (+inf: no onset)
        heard = (lag_s > 0) & (lag_s < REACH_S)
        index = (lag_s / LAG_STEP_S).nan_to_num(0.0).round().clamp(0, self.profile.shape[1] - 1).long()
        votes = self.profile.gather(1, index.flatten(1)).view_as(lag_s) * heard  # [R, M, S]
        if self.recency_s > 0:  # ar.echo_recency_s: each vote fades with its lag, so the nearest onsets place a start
            votes = votes * torch.exp(lag_s.clamp(0.0, REACH_S) / -self.recency_s)  # (−a / τ = a / −τ, exactly)
        weight = votes.sum(dim=1)  # [R, S]
        mean = weight.mean(dim=1, keepdim=True)  # [R, 1]
        relative = torch.where(mean > 0, weight / mean.clamp(min=1e-12), 1.0)  # [R, S]
        return (self.strength * torch.log(ECHO_FLOOR + relative)).float()
