"""A density over one chunk's set of events, given the chunk transformer's features: the events in time order,
one after another, each as four categorical choices (key or pedal, start within the chunk, duration, intensity),
and a stop choice after the last (the head of sequence/events.py; drawn from by sequence/event_sampler.py).

Why categorical events rather than a latent: a drawn latent between real ones decodes to whatever the autoencoder
makes of that place (scattered keys, held notes: docs/quality.md, fourth session); a drawn event is always one a
pianist could play, and its likelihood is exact. The chunk's events are read by a GRU (one step per event, the
step before as its input); at each step the key logits come from the GRU's state, the start's from the state and
the chosen key, the duration's from those and the start, the intensity's from all three. The key logits may also
lean by relative pitch from notes the head attends to (ar.intervals, sequence/intervals.py), by intervals from
the latest onsets' highest and lowest keys (ar.voices, sequence/voices.py), by intervals from the highest and
lowest keys of the seconds before the chunk (ar.register, sequence/register_heard.py) and towards the key of the
last minute (ar.tonal, sequence/tonal.py). With ar.onsets each step first chooses whether the next event joins the latest
onset, starts a new one or ends the chunk (the stop, otherwise a key class), and the key and start follow knowing
which (sequence/onsets.py).

Bins (`EventBins`): starts in 5 ms steps over the chunk, durations on a log scale from 5 ms to 32 s
(each bin ~10 % wide), intensities exact (1–127). A drawn start or duration is written at its bin's middle, or
with ar.in_bins placed uniformly inside its bin (on the bin's scale: the density the bins stand for, piecewise
constant): at the middles every drawn duration is one of 96 values, a grid no played performance is on.
Shapes: R chunk rows (any batch of chunks), N events per chunk (max_events), W feature width, H head width,
K events in the batch, R' chunks that end with a stop choice, I notes heard (ar.voices), V voices.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..batches import SetBatch
from ..midi import NUM_IDS
from .carry import Carry, CarryReader
from .intervals import IntervalPointer
from .onsets import END, NEXT_CLASSES, next_allowed, onset_classes, start_allowed, teacher_forced_bounds
from .pulse import PulseLean, heard_in_chunk
from .register_heard import HEARD
from .tonal import TonalPrior
from .voices import VoiceLean, voice_items, voice_keys

STOP = NUM_IDS  # the key choice that ends a chunk's events
START_STEP_S = 0.005
DURATION_BINS, SHORTEST_S, LONGEST_S = 96, 0.005, 32.0
INTENSITIES = 128  # class = MIDI velocity or pedal depth, 1–127 (0 unused)


def duration_s_at(duration: torch.Tensor, place: float | torch.Tensor = 0.5) -> torch.Tensor:
    """Duration bins [...] → the seconds at `place` inside each (0.5: its middle) on the bins' log scale [...]
    (float64, unclamped)."""
    return SHORTEST_S * (LONGEST_S / SHORTEST_S) ** ((duration.double() + place - 0.5) / (DURATION_BINS - 1))


@dataclass(frozen=True)
class EventBins:
    """Seconds ⇄ bins for one chunk length."""

    chunk_seconds: float

    @property
    def starts(self) -> int:
        return math.ceil(self.chunk_seconds / START_STEP_S - 1e-9)

    def to_bins(self, sets: SetBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded sets [R, N] → (key, start, duration, intensity) classes [R, N] each (long)."""
        start = (sets.offset_s / START_STEP_S).floor().long().clamp(0, self.starts - 1)
        log_ratio = torch.log(sets.duration_s.clamp(SHORTEST_S, LONGEST_S) / SHORTEST_S)
        duration = (log_ratio / math.log(LONGEST_S / SHORTEST_S) * (DURATION_BINS - 1)).round().long()
        return sets.ids.long(), start, duration.clamp(0, DURATION_BINS - 1), sets.intensity.long().clamp(1, 127)

    @staticmethod
    def start_middle_s(start: torch.Tensor) -> torch.Tensor:
        """Start bins [...] → the seconds of their middles from the chunk's start [...] (float64)."""
        return (start.double() + 0.5) * START_STEP_S

    def to_sets(self, key: torch.Tensor, start: torch.Tensor, duration: torch.Tensor, intensity: torch.Tensor,
                sizes: torch.Tensor, within: torch.Tensor | None = None) -> SetBatch:
        """Classes [R, N] each and sizes [R] → padded sets in seconds: each start and duration at its bin's middle
        on its scale, or with `within` [R, N, 2] (uniform in [0, 1)) at that place inside its bin, so that drawn
        times are continuous as played ones are, not on the bins' grid; the starts of a chunk stay in time order
        (those in one bin sorted: the sampler draws start bins in time order, so sorting only reorders places
        within one bin) and `to_bins` gives back the same classes."""
        if within is None:
            offset_s, duration_place = self.start_middle_s(start), 0.5  # [R, N]; the bins' middles
        else:
            place = within.double().clamp(0.0005, 0.9995)  # [R, N, 2]: (start, duration) inside the bin
            offset_s = (start.double() + place[..., 0]) * START_STEP_S  # [R, N]
            valid = torch.arange(start.shape[1], device=start.device) < sizes[:, None]  # [R, N]
            # the chunk's starts in order: bins are, and in a bin the places sorted
            offset_s = torch.where(valid, offset_s.masked_fill(~valid, torch.inf).sort(dim=1).values, offset_s)
            edge = place[..., 1] / 2  # the first and last duration bins reach only half a bin past their middles
            duration_place = torch.where(duration == 0, 0.5 + edge,
                                         torch.where(duration == DURATION_BINS - 1, edge, place[..., 1]))  # [R, N]
        duration_s = duration_s_at(duration, duration_place)  # [R, N]
        return SetBatch(key.long(), offset_s, duration_s.clamp(SHORTEST_S, LONGEST_S), intensity.long(), sizes.long())


class EventHead(nn.Module):
    def __init__(self, *, width: int, hidden: int, max_events: int, chunk_seconds: float, carry: bool = False,
                 intervals: int = 0, tonal: bool = False, voices: bool = False, onsets: bool = False,
                 onsets_leans: bool = False, pulse: bool = False, register: bool = False):
        super().__init__()
        self.bins, self.max_events, self.hidden = EventBins(chunk_seconds), max_events, hidden
        sizes = {"key": NUM_IDS + 1, "start": self.bins.starts, "duration": DURATION_BINS, "intensity": INTENSITIES}
        # with ar.onsets, each step first chooses: join the latest onset, start a new one, or end (sequence/onsets.py)
        self.onsets = onsets
        self.onsets_leans = onsets and onsets_leans  # the key's leans also read that choice (ar.onsets_leans)
        choices = {"next": NEXT_CLASSES, **sizes} if onsets else sizes
        # the previous event as the GRU's input: the sum of its four embeddings (a learned one before the first)
        self.read = nn.ModuleDict({name: nn.Embedding(n, hidden) for name, n in sizes.items()})
        self.first = nn.Parameter(torch.zeros(hidden))
        self.condition = nn.Linear(width, 2 * hidden)  # the chunk's features → the GRU's first state and every input
        # with ar.carry, the events before the chunk change that conditioning (from zero at first)
        self.carry = CarryReader(hidden // 2, 2 * hidden) if carry else None
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        # each choice after the key also reads the choices made before it in the same event
        self.given = nn.ModuleDict({name: nn.Embedding(choices[name], hidden) for name in list(choices)[:-1]})
        self.out = nn.ModuleDict({name: nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, n))
                                  for name, n in choices.items()})
        if onsets:  # the next choice's embedding starts at zero: a warm start's key and later choices are unchanged;
            nn.init.zeros_(self.given["next"].weight)  # and the choice itself at fixed odds: end 1 step in 6
            nn.init.zeros_(self.out["next"][-1].weight)
            self.out["next"][-1].bias.data = torch.tensor([0.0, 0.0, -math.log(2.5)])
        # with ar.intervals, each key choice also leans towards keys at learned intervals from notes it attends to
        self.intervals = IntervalPointer(hidden, intervals, max_events, DURATION_BINS, carry) if intervals else None
        # with ar.tonal, the pitch classes of the seconds before the chunk lean each key choice towards a key
        self.tonal = TonalPrior() if tonal else None
        # with ar.voices, each key choice leans by intervals from the latest onsets' highest and lowest keys
        self.voices = VoiceLean(hidden) if voices else None
        # with ar.register, each key choice leans by intervals from the register of the seconds before the chunk
        self.register = VoiceLean(hidden, HEARD) if register else None
        # with ar.pulse, each start choice leans by a kernel over the time since the onsets heard before it
        start_middles_s = self.bins.start_middle_s(torch.arange(self.bins.starts))  # [S]
        self.pulse = PulseLean(hidden, start_middles_s) if pulse else None

    def conditioning(self, features: torch.Tensor, carry: Carry | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The GRU's first state (before tanh) and the bias of its every input, [R, H] each, from the chunk's
        features [R, W] (and with ar.carry, the events before it)."""
        condition = self.condition(features)  # [R, 2H]
        if self.carry is not None:
            if carry is None:
                raise ValueError("this event head hears the events before each chunk (ar.carry): pass them")
            condition = condition + self.carry(carry)
        h0, bias = condition.chunk(2, dim=-1)
        return h0, bias

    def states(self, features: torch.Tensor, events: tuple[torch.Tensor, ...], sizes: torch.Tensor,
               carry: Carry | None = None) -> torch.Tensor:
        """Teacher-forced GRU states: features [R, W], the events' classes [R, N] each, sizes [R] → the state at
        each event position and at the stop after the last, [R, N + 1, H] (zero past a chunk's size + 1)."""
        r = features.shape[0]
        h0, bias = self.conditioning(features, carry)  # [R, H] each
        previous = sum(self.read[name](x) for name, x in zip(self.read, events))  # [R, N, H]
        inputs = torch.cat([self.first.expand(r, 1, -1), previous], dim=1) + bias[:, None]  # [R, N + 1, H]
        steps = (sizes + 1).clamp(max=self.max_events).cpu()  # a full chunk has no stop position to read
        packed = pack_padded_sequence(inputs, steps, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed, torch.tanh(h0)[None].contiguous())
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=self.max_events)  # [R, N, H]
        return F.pad(states, (0, 0, 0, 1))  # [R, N + 1, H]

    def choices(self, state: torch.Tensor, key: torch.Tensor | None, start: torch.Tensor | None = None,
                duration: torch.Tensor | None = None, key_bias: torch.Tensor | None = None,
                chosen: torch.Tensor | None = None, next_mask: torch.Tensor | None = None,
                start_mask: torch.Tensor | None = None, onsets_heard: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """Logits of each choice at states [K, H] given the choices before it in the event ([K] each; a choice
        whose givens are None is skipped) → {name: [K, classes]}; `key_bias` [K, 88 keys] is added to the notes'
        key logits (ar.intervals, ar.voices, ar.tonal). With ar.onsets the step first chooses JOIN, ONSET or END
        ("next", the classes `next_mask` [K, 3] allows), and the key is chosen given that choice `chosen` [K] (None:
        only the next choice's logits), never the stop; the start only among the bins `start_mask` [K, S] allows.
        With ar.pulse, `onsets_heard` [K, M] are the onsets each start choice hears (sequence/pulse.py)."""
        logits = {}
        if self.onsets:
            logits["next"] = self.out["next"](state)
            if next_mask is not None:
                logits["next"] = logits["next"].masked_fill(~next_mask, -torch.inf)
            if chosen is None:
                return logits
            state = state + self.given["next"](chosen)
        logits["key"] = self.out["key"](state)
        if key_bias is not None:
            logits["key"] = logits["key"] + F.pad(key_bias, (0, logits["key"].shape[1] - key_bias.shape[1]))
        if self.onsets:  # the stop was chosen at the next choice
            logits["key"] = logits["key"].index_fill(1, torch.tensor([STOP], device=state.device), -torch.inf)
        if key is None:
            return logits
        state = state + self.given["key"](key)
        logits["start"] = self.out["start"](state)
        if self.pulse is not None:
            if onsets_heard is None:
                raise ValueError("this event head hears the onsets before each start (ar.pulse): pass them")
            logits["start"] = logits["start"] + self.pulse(state, onsets_heard)
        if start_mask is not None:
            logits["start"] = logits["start"].masked_fill(~start_mask, -torch.inf)
        if start is None:
            return logits
        state = state + self.given["start"](start)
        logits["duration"] = self.out["duration"](state)
        if duration is None:
            return logits
        logits["intensity"] = self.out["intensity"](state + self.given["duration"](duration))
        return logits

    def lean_state(self, state: torch.Tensor, chosen: torch.Tensor | None) -> torch.Tensor:
        """The state [K, H] the key's leans (ar.intervals, ar.voices) read at a step that chose `chosen` [K] (JOIN
        or ONSET; None: not known): with ar.onsets_leans, as the key's own layers read it, the choice added."""
        if not self.onsets_leans or chosen is None:
            return state
        return state + self.given["next"](chosen)

    def tonal_bias(self, tonal: torch.Tensor | None) -> torch.Tensor | None:
        """With ar.tonal, the change to each chunk's key logits [R, 88] from its pitch-class counts [R, G, 12]
        (sequence/tonal.py); None without."""
        if self.tonal is None:
            return None
        if tonal is None:
            raise ValueError("this event head hears the pitch classes before each chunk (ar.tonal): pass them")
        return self.tonal(tonal)

    def key_bias(self, at_events: tuple[torch.Tensor, ...], at_stops: tuple[torch.Tensor, ...] | None,
                 events: tuple[torch.Tensor, ...], event: torch.Tensor, carry: Carry | None,
                 tonal: torch.Tensor | None,
                 register: torch.Tensor | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Teacher-forced: the change to the 88 keys' logits that ar.intervals, ar.voices, ar.register and ar.tonal
        make at each event (states [K, H], its row and position [K] each) and at each stop (states [R', H], row and
        position [R'] each; None: not wanted), given the chunks' classes [R, N] each and mask [R, N] (and with
        ar.register the keys heard before each chunk [R, V], register_heard's) → ([K, 88], [R', 88]); None for each
        without any."""
        key, start, duration, intensity = events
        places = [at_events] if at_stops is None else [at_events, at_stops]
        leans = []  # per lean, its change at each place
        if self.intervals is not None:
            items = self.intervals.items(key.shape[0], carry, (key, duration, intensity))
            leans.append([self.intervals(state, items, row, position) for state, row, position in places])
        if self.voices is not None:
            time_s, keys = voice_items(carry, key, self.bins.start_middle_s(start), event)  # [R, I] each
            carried = time_s.shape[1] - key.shape[1]  # the carry's items, heard at every position
            voices = voice_keys(time_s, keys, carried + torch.arange(key.shape[1] + 1, device=key.device))  # [R, N + 1, V]
            leans.append([self.voices(state, voices[row, position]) for state, row, position in places])
        if self.register is not None:
            if register is None:
                raise ValueError("this event head hears the register before each chunk (ar.register): pass it")
            leans.append([self.register(state, register[row]) for state, row, _ in places])
        chunk_bias = self.tonal_bias(tonal)  # [R, 88] or None
        if chunk_bias is not None:
            leans.append([chunk_bias[row] for _, row, _ in places])
        if not leans:
            return None, None
        total = [sum(lean[i] for lean in leans) for i in range(len(places))]
        return total[0], total[1] if at_stops is not None else None

    def nll(self, features: torch.Tensor, sets: SetBatch, carry: Carry | None = None,
            tonal: torch.Tensor | None = None,
            onsets: tuple[torch.Tensor, torch.Tensor] | None = None,
            register: torch.Tensor | None = None) -> torch.Tensor:
        """−log p(chunk's events) per chunk (nats): features [R, W], padded sets [R, N] in time order (and with
        ar.carry, the carry [R, M] of the events before each chunk; with ar.tonal, the pitch-class counts
        [R, G, 12] before it; with ar.pulse, the onsets before it [R, M'] and its latest note's start [R],
        pulse.OnsetGatherer's; with ar.register, the keys heard before it [R, V], register_heard's) → [R]."""
        key, start, duration, intensity = self.bins.to_bins(sets)  # [R, N] each
        states = self.states(features, (key, start, duration, intensity), sets.sizes, carry)  # [R, N + 1, H]
        n = self.max_events
        event = sets.mask  # [R, N]
        rows, positions = event.nonzero(as_tuple=True)  # [K] each: every event
        picked = (key[rows, positions], start[rows, positions], duration[rows, positions])
        stops = torch.nonzero(sets.sizes < n).squeeze(1)  # chunks below the cap end with a stop choice
        at_event, at_stop = states[rows, positions], states[stops, sets.sizes[stops]]  # [K, H], [R', H]
        at_stops = None if self.onsets else (at_stop, stops, sets.sizes[stops])  # with onsets the stop is no key
        chosen = None
        if self.onsets:  # each event's JOIN or ONSET, and what each step allows (sequence/onsets.py)
            limit, earliest = teacher_forced_bounds(key, start, self.bins.start_middle_s(start), event, carry,
                                                    START_STEP_S)  # [R, N + 1] each
            chosen = onset_classes(start, limit[:, :n])[rows, positions]  # [K]: JOIN or ONSET
        event_bias, stop_bias = self.key_bias((self.lean_state(at_event, chosen), rows, positions), at_stops,
                                              (key, start, duration, intensity), sets.mask, carry, tonal,
                                              register)
        heard = None  # with ar.pulse: the onsets each event's start choice hears, [K, M']
        if self.pulse is not None:
            if onsets is None:
                raise ValueError("this event head hears the onsets before each start (ar.pulse): pass them")
            heard = heard_in_chunk(*onsets, key, self.bins.start_middle_s(start), event)[rows, positions]
        targets = {"key": picked[0], "start": picked[1], "duration": picked[2], "intensity": intensity[rows, positions]}
        if self.onsets:
            at = (limit[rows, positions], earliest[rows, positions])
            logits = self.choices(at_event, *picked, key_bias=event_bias, chosen=chosen,
                                  next_mask=next_allowed(*at, self.bins.starts),
                                  start_mask=start_allowed(chosen, *at, self.bins.starts), onsets_heard=heard)
            targets["next"] = chosen
            stop_mask = next_allowed(limit[stops, sets.sizes[stops]], earliest[stops, sets.sizes[stops]],
                                     self.bins.starts)
            stop_logits, stop_class = self.choices(at_stop, None, next_mask=stop_mask)["next"], END
        else:
            logits = self.choices(at_event, *picked, key_bias=event_bias, onsets_heard=heard)
            stop_logits, stop_class = self.choices(at_stop, None, key_bias=stop_bias)["key"], STOP
        per_event = sum(F.cross_entropy(logits[name].float(), targets[name], reduction="none") for name in targets)
        total = torch.zeros(features.shape[0], device=features.device).index_add(0, rows, per_event)  # [R]
        stop_nll = F.cross_entropy(stop_logits.float(), torch.full_like(stops, stop_class), reduction="none")
        return total.index_add(0, stops, stop_nll)
