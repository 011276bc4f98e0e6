"""The draws of EventSampler.sample (sequence/event_sampler.py), moved out of it as they were: the Gumbel-max pick of
each choice (guided: the told and untold halves mixed, then made alike in both), the logits each choice is drawn
from (the next choice, a note's key with its leans, the start, the duration, the velocity), a guard's redraw of a
note, and the small helpers they share. Every function gives the same bits as the code it came from (each is run
for every event of every chunk: written in the fewest operations that give them, see the sampler's docstring).
Shapes as there: R chunk rows (2R with guidance: told, then untold), pieces the R rows of the pieces (R guided: the
told half), H head width, S start bins, B duration bins, I intensities, A the pointer's heads.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..midi import NUM_KEYS
from .clusters import joins
from .intervals import IntervalPointer, Items
from .onsets import END, next_allowed
from .sampler_tables import SamplerTables
from .voices import HeardVoices, VoiceLean


class Drawing(NamedTuple):
    """How one sample draws, the same at every event: the sampler's tables, and the guidance and temperature of
    the choices a guard's redraw makes again."""
    sampler: SamplerTables
    guided: bool  # the features come twice: told, then untold (see the sampler's docstring)
    guidance: float  # every choice's but the kind's and the key's
    key_guidance: float  # a note's key, drawn or drawn again (ar.key_guidance)
    start_temperature: float  # each start's logits ÷ it (ar.start_temperature)


class StartReads(NamedTuple):
    """What an event's start logits read (start_odds), and with them a guard's redraw of its note (redraw)."""
    at_start: torch.Tensor  # [R, H]: the start's first layer of the GRU state
    state: torch.Tensor  # [R, H]: the GRU state
    chosen: torch.Tensor | None  # [R]: with ar.onsets, the next choice (join or onset); else None
    pulse_heard: torch.Tensor | None  # [R, M]: with ar.pulse or ar.beat_echo, the onsets heard; else None
    blocked: torch.Tensor  # [R, S]: the start bins the event may not take (time order; with ar.onsets, as chosen)
    echo_lean: torch.Tensor | None  # [R, S]: ar.beat_echo's lean on a note's start; None: none (or a pedal in all)
    every_note: bool  # every row's event is a note (one piece: whenever any is)
    note_logits: torch.Tensor  # [R, 88]: a note's key's logits as drawn (tempered and leaned)


def pick(logits: torch.Tensor, noise: torch.Tensor, guided: bool, g: float | torch.Tensor,
         lean: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Logits [r, K] and Gumbel noise [pieces, K] → each row's choice [r] (guided by `g`, one for all or [K]: both
    halves alike), `lean` applied to the logits drawn from (guided: after the halves are mixed)."""
    if not guided:
        return ((lean(logits) if lean else logits) + noise).argmax(dim=1)
    mixed = guided_mix(*logits.chunk(2), g)  # [R, K]
    return twice(((lean(mixed) if lean else mixed) + noise).argmax(dim=1))


def next_odds(sampler: SamplerTables, at_next: torch.Tensor, end_bias: torch.Tensor | None,
                unsilenced: torch.Tensor | None, limit: torch.Tensor, earliest: torch.Tensor) -> torch.Tensor:
    """With ar.onsets, the next choice's first layer [R, H] → the logits [R, 3] of joining the latest onset,
    starting a new one or ending the chunk, each where it is possible (`limit` [R]: join_limit's; `earliest` [R]: the
    earliest start bin), the end's biased by `end_bias` (the stop and empty biases) and `unsilenced` [R]
    (ar.silence_guard_s), each None where none."""
    logits = F.linear(F.gelu(at_next), *sampler.second["next"])  # [R, 3]
    if end_bias is not None:
        logits[:, END] += end_bias
    if unsilenced is not None:
        logits[:, END] += unsilenced
    return logits.masked_fill(~next_allowed(limit, earliest, sampler.head.bins.starts), -torch.inf)


def note_odds(sampler: SamplerTables, at: dict[str, torch.Tensor], pointer: IntervalPointer | None,
              items: Items | None, kernels: torch.Tensor | None, heard_voices: HeardVoices | None,
              register_voice_lean: VoiceLean | None, register_heard: tuple | None,
              chunk_bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each choice's (and lean's) first layer of the GRU state `at` → the key choice's logits [R, 88 keys + 3 pedals +
    stop] and the notes' [R, 88] with the leans added in turn: with ar.intervals the pointer's attention to the events
    heard (`items`, its `kernels` [A, 88, 88]), with ar.voices the voices heard, with ar.register the register heard
    (`register_heard`: VoiceLean.sampled's), with ar.tonal the chunk's `chunk_bias` [R, 88]; each None: none."""
    key_logits = F.linear(F.gelu(at["key"]), *sampler.second["key"])  # [R, 88 keys + 3 pedals + stop]
    note_logits = key_logits[:, :NUM_KEYS]  # [R, 88]: the notes', the leans added in turn
    if pointer is not None:
        note_logits = note_logits + pointer.attend(at["query"], items, kernels=kernels)
    if heard_voices is not None:
        note_logits = note_logits + heard_voices.leaned(at["voices"])
    if register_voice_lean is not None:
        note_logits = note_logits + register_voice_lean.leaned(at["register"], *register_heard)
    if chunk_bias is not None:
        note_logits = note_logits + chunk_bias
    return key_logits, note_logits


def start_odds(drawing: Drawing, reads: StartReads, key: torch.Tensor,
               rows: torch.Tensor | None = None) -> torch.Tensor:
    """Each row's key [R] (or, for the rows `rows` [R'], every key [R', 88]) → the logits its start bin is drawn from
    [R, S] (or [R', 88, S]): the head's, the pulse's where it has one, the order's mask, the start temperature and,
    for a note, the echo's lean."""
    sampler = drawing.sampler
    head, key_start = sampler.head, sampler.through["key", "start"]
    many = key.dim() == 2
    of = (lambda x: x[rows][:, None]) if many else (lambda x: x)  # a row's [R, …] beside its keys
    by_key = key_start[key] if many else key_start.index_select(0, key)
    logits = F.linear(F.gelu(of(reads.at_start) + by_key), *sampler.second["start"])
    if head.pulse is not None:  # the state the start's layers read: the key's (and next choice's) added
        start_state = of(reads.state) + head.given["key"].weight[key]  # [R, (88,) H]
        if head.onsets:
            start_state = start_state + of(head.given["next"].weight[reads.chosen])
        heard = of(reads.pulse_heard).expand(-1, key.shape[1], -1) if many else reads.pulse_heard  # [R, (88,) M]
        logits = logits + head.pulse(start_state.flatten(0, -2), heard.flatten(0, -2)).view_as(logits)
    logits = logits.masked_fill(of(reads.blocked), -torch.inf) / drawing.start_temperature
    echo_lean = reads.echo_lean
    if echo_lean is not None:
        logits = logits + (of(echo_lean) if many or reads.every_note else echo_lean * (key < NUM_KEYS)[:, None])
    return logits


def redraw(drawing: Drawing, reads: StartReads, rows: torch.Tensor, region: torch.Tensor, penalised: torch.Tensor,
           strength: float, redraw_noise: tuple[torch.Tensor, torch.Tensor],
           busy: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The note of each row `rows` [R'] (guided: its pieces' told rows, then their untold ones) drawn again among
    those whose start lies in `region` [R, S] (the cluster guard: the bins that join the onset; the step lean: those
    that start a new one; the restrike guard: every bin), the keys `penalised` [R, 88] at e^−strength of their odds
    (clusters.py, steps.py), or the notes `busy` [R, 88, S] (a key at a start: the restrike guard, sounding.py) →
    key and start [R'] each."""
    guided = drawing.guided
    every = drawing.sampler.keys.expand(rows.shape[0], -1)  # [R', 88]
    odds = start_odds(drawing, reads, every, rows)  # [R', 88, S]
    inside = region[rows][:, None, :]  # [R', 1, S]
    drawn_odds = odds  # the start odds each key would be drawn at: guided, the halves mixed as pick mixes them
    if guided:
        drawn_odds = twice(guided_mix(*odds.chunk(2), drawing.guidance))  # [R', 88, S]
    log_p = torch.log_softmax(drawn_odds, dim=-1)  # [R', 88, S]: each key's starts
    penalty = None if busy is None else strength * busy[rows]  # [R', 88, S]: each note on a sounding key
    if penalty is not None:
        log_p = log_p - penalty
    log_p_inside = log_p.masked_fill(~inside, -torch.inf).logsumexp(-1)
    # [R', 88], the same in both halves: pick's mixing of the key then adds it once, as it should
    logits = reads.note_logits[rows] + log_p_inside - strength * penalised[rows]  # [R', 88]
    pieces_of = rows[: rows.shape[0] // 2] if guided else rows  # [R'/2 or R']: each redrawn piece
    key_noise, start_noise = (noise[pieces_of] for noise in redraw_noise)
    new_key = pick(logits, key_noise, guided, drawing.key_guidance)  # [R']
    each = torch.arange(rows.shape[0], device=rows.device)
    start_logits = odds[each, new_key] if penalty is None else odds[each, new_key] - penalty[each, new_key]
    # (both halves alike: pick's mixing of them keeps the penalty as it is)
    new_start = pick(start_logits.masked_fill(~inside[:, 0], -torch.inf), start_noise, guided, drawing.guidance)
    return new_key, new_start  # [R'] each


def rows_redrawn(caught: torch.Tensor, coin: torch.Tensor, strength: float, guided: bool) -> torch.Tensor | None:
    """The rows whose note a guard catches [R] (bool) and its coin (Gumbel noise [pieces, 1]) → the rows [R'] whose
    note is drawn again (guided: told rows, then untold: both halves), each caught one kept at e^−strength; None
    where none is."""
    if not any_of(caught):
        return None
    kept = uniform(coin) < math.exp(-strength)  # [pieces]
    redo = caught & (twice(kept) if guided else kept).logical_not()  # [R]
    if not any_of(redo):
        return None
    return torch.nonzero(redo).squeeze(1)  # [R']


def read_note(start_middles_s: torch.Tensor, key: torch.Tensor, start: torch.Tensor, every_note: bool,
              latest_s: torch.Tensor, guards: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Each row's drawn event [R] each → what the guards and the notes heard read of its note: its start bin's middle
    [R] (s; `start_middles_s` [S]), its key as a key [R] (a pedal's clamped: read nowhere) and with a guard, whether
    it joins the latest onset, heard at `latest_s` [R] (join_bins at its start bin; all of them for a redraw); read
    again after a redraw."""
    start_s = start_middles_s.index_select(0, start)
    return (start_s, key if every_note else key.clamp(max=NUM_KEYS - 1),
            joins(start_s, latest_s) if guards else None)


def duration_odds(sampler: SamplerTables, at_duration: torch.Tensor, key: torch.Tensor,
                    start: torch.Tensor) -> torch.Tensor:
    """The duration's first layer [R, H] and each row's key and start [R] → the duration's logits [R, B] (each
    table's row by index_select: the same row, read in fewer instructions than by indexing)."""
    through = sampler.through
    return F.linear(F.gelu(at_duration + through["key", "duration"].index_select(0, key)
                           + through["start", "duration"].index_select(0, start)), *sampler.second["duration"])


def tilted(logits: torch.Tensor, notes: torch.Tensor, beta: float | torch.Tensor,
           log_durations: torch.Tensor) -> torch.Tensor:
    """A duration's logits [R (R/2 guided), B] → a note's held longer (β > 0) or shorter by β × ln(its seconds)
    (`log_durations` [B]; `notes` [R]: which rows' events are notes); a pedal's press at the model's odds."""
    return torch.where(notes[:logits.shape[0], None], logits + beta * log_durations, logits)


def intensity_odds(sampler: SamplerTables, at_intensity: torch.Tensor, key: torch.Tensor, start: torch.Tensor,
                     duration: torch.Tensor) -> torch.Tensor:
    """The intensity's first layer [R, H] and each row's key, start and duration [R] → the intensity's logits [R, I]
    (intensity 0 never drawn)."""
    through = sampler.through
    return F.linear(F.gelu(at_intensity + through["key", "intensity"].index_select(0, key)
                           + through["start", "intensity"].index_select(0, start)
                           + through["duration", "intensity"].index_select(0, duration)),
                    *sampler.second["intensity"])


def summed_rows(table: torch.Tensor, rows: torch.Tensor, r: int) -> torch.Tensor:
    """A table [T, H] and rows [r·C] (C ≤ 4 per row, in order) → each row's C table rows summed [r, H], bit for bit
    the adds x₁ + x₂ + … one after another (torch's sum over so few accumulates them in turn; over 5 or more, at
    some widths, it keeps 4 partial sums: another order). tests/test_event_sampler.py pins it."""
    return table.index_select(0, rows).view(r, -1, table.shape[-1]).sum(dim=1)  # [r, C, H] → [r, H]


def all_stopped(going: torch.Tensor, chosen: torch.Tensor, end: int, alone: bool = False) -> bool:
    """The rows still going [R] (bool; updated in place: a row choosing `end` stops) and each row's choice [R] →
    whether every row has stopped. One row, or the rows of one piece (`alone`: guided, its two halves, which choose
    alike): its choice read directly, `going` left True until it stops."""
    if going.numel() == 1:
        return int(chosen) == end
    if alone:
        return int(chosen[0]) == end
    going &= chosen != end
    return not bool(going.any())


def any_of(mask: torch.Tensor) -> bool:
    """Whether any of a mask [R] is set: one row's read directly, without a reduction first (one piece alone)."""
    return bool(mask) if mask.numel() == 1 else bool(mask.any())


def uniform(gumbel: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise [R, 1] → uniform on (0, 1) [R]: exp(−exp(−g))."""
    return gumbel[:, 0].neg().exp().neg().exp()


def guided_mix(told: torch.Tensor, untold: torch.Tensor, g: float | torch.Tensor) -> torch.Tensor:
    """The guided logits of a choice, untold + g × (told − untold), each [R, …] (g one for all or per column); a choice
    masked in either half stays masked (ar.register_min_p masks each half by its own odds: one masked in the untold
    half alone mixed to −inf + inf = NaN, which argmax drew for every row). Written in the fewest operations that give
    the same bits, as it runs for every choice of every event: at g = 1 the difference is added unscaled (1 × x is x
    exactly), −inf is found by isneginf and set by masked_fill (`== −inf` and torch.where with −inf first make the
    number a tensor, a copy each)."""
    spread = told - untold
    if isinstance(g, torch.Tensor) or g != 1.0:
        spread = g * spread
    masked = torch.isneginf(told) | torch.isneginf(untold)
    return (untold + spread).masked_fill(masked, -torch.inf)


def twice(x: torch.Tensor | None) -> torch.Tensor | None:
    """Rows [R, …] → the same rows twice [2R, …] (None stays None): x.repeat(2, …), in one operation where repeat
    launches several (a guided choice is made twice, once per half, at every draw)."""
    return None if x is None else torch.cat([x, x])


def lean_to_join(next_logits: torch.Tensor, bias: float) -> torch.Tensor:
    """The next choice's logits [R, 3] (−inf: not allowed) → `bias` added to the log-odds of joining the latest
    onset against starting a new one, their sum of odds (so the chunk's end's odds) kept; a row where either is not
    allowed is unchanged."""
    pair = next_logits[:, :END]  # [R, 2]: join, onset
    leaned = pair + pair.new_tensor([bias, 0.0])  # (JOIN, ONSET) = (0, 1)
    leaned = leaned - leaned.logsumexp(1, keepdim=True) + pair.logsumexp(1, keepdim=True)  # [R, 2]
    both = (pair > -torch.inf).all(dim=1, keepdim=True)  # [R, 1]
    return torch.cat([torch.where(both, leaned, pair), next_logits[:, END:]], dim=1)  # [R, 3]
