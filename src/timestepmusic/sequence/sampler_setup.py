"""What EventSampler.sample (sequence/event_sampler.py) sets up before a chunk's first event and makes of its drawn
events after the last, moved out of it as it was: the past both halves of a guided sample hear, the biases added to
the kind of each event and to the chunk's end, and the padded sets it returns.
Shapes as there: R chunk rows (2R with guidance: told, then untold), N events per chunk, M onsets heard, G tonal
groups, V voices.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..batches import SetBatch
from .carry import Carry
from .event_head import EventHead
from .sampler_draws import any_of, twice
from .sampler_tables import KINDS
from .silence_guard import silence_bias


def heard_twice(carry: Carry | None, tonal: torch.Tensor | None, unpressed: torch.Tensor | None,
                noteless: torch.Tensor | None, onsets: tuple[torch.Tensor, torch.Tensor] | None,
                register: tuple[torch.Tensor, torch.Tensor] | None, heard_register: torch.Tensor | None,
                sounding: torch.Tensor | None, silent_s: torch.Tensor | None) -> tuple:
    """What the R pieces hear before a guided chunk, each as EventSampler.sample takes it → the same for both
    halves (told, then untold: each row twice, [2R, …]; None stays None), in the same order."""
    carry = None if carry is None else Carry(*(twice(getattr(carry, f.name)) for f in dataclasses.fields(carry)))
    tonal = twice(tonal)  # [2R, G, 12]
    unpressed = twice(unpressed)  # [2R, 3]
    noteless = twice(noteless)  # [2R]
    onsets = None if onsets is None else (twice(onsets[0]), twice(onsets[1]))  # [2R, M], [2R]
    register = None if register is None else (twice(register[0]), twice(register[1]))  # [2R] each
    heard_register = twice(heard_register)  # [2R, V]
    sounding = twice(sounding)  # [2R, 88]
    silent_s = twice(silent_s)  # [2R]
    return carry, tonal, unpressed, noteless, onsets, register, heard_register, sounding, silent_s


def kind_biases(head: EventHead, r: int, device: torch.device, damper_bias: float, soft_bias: float,
                empty_bias: float, stop_bias: float, empty_ramp_s: float,
                onsets: tuple[torch.Tensor, torch.Tensor] | None, unpressed: torch.Tensor | None,
                noteless: torch.Tensor | None) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """The biases of a chunk's events (see EventSampler.sample's arguments) → what is added to the logits of a note
    (column 0: the notes' logsumexp), each pedal and the stop, at the chunk's first event and after it [5] (or
    [R, 5]) each, and with ar.onsets what is added to the next choice's end at each ([] or [R] each; else None).
    Only a row still going is drawn for, and one still going after the first event holds one (sizes > 0), so the
    first event's end is biased by empty_bias and every later one's by stop_bias."""
    kind_bias = [torch.tensor([0.0, damper_bias, 0.0, soft_bias, -torch.inf if head.onsets else end], device=device)
                 for end in (empty_bias, stop_bias)]  # (with ar.onsets the stop was the next choice's)
    if empty_ramp_s > 0:  # ar.empty_ramp_s: the empty bias of each row by the seconds since its latest note [R]
        if onsets is None:
            raise ValueError("ar.empty_ramp_s: pass the onsets before the chunk (onsets)")
        ramp = (-onsets[1].to(device) / empty_ramp_s).clamp(0.0, 1.0).float()  # [R] (no note yet: all of it)
        empty_bias = empty_bias * ramp  # [R]
        if not head.onsets:  # (with ar.onsets the stop is the next choice's: end_biases below)
            kind_bias[0] = kind_bias[0].repeat(r, 1)  # [R, 5]
            kind_bias[0][:, -1] = empty_bias
    if unpressed is not None or noteless is not None:  # the kinds a row never draws: their bias −inf [R, 5]
        never = torch.zeros(r, KINDS, dtype=torch.bool, device=device)
        if unpressed is not None:  # the pedals it leaves up
            never[:, 1:KINDS - 1] = unpressed.to(device, torch.bool)
        if noteless is not None:  # a note
            never[:, 0] = noteless.to(device, torch.bool)
        kind_bias = [bias.masked_fill(never, -torch.inf) for bias in kind_bias]  # (the logits are finite)
    end_biases = ([torch.as_tensor(end, device=device) for end in (empty_bias, stop_bias)] if head.onsets
                  else None)  # ar.onsets: on the next choice's end instead
    return kind_bias, end_biases


def silence_unbiased(silence_guard_s: float, silent_s: torch.Tensor | None, noteless: torch.Tensor | None,
                     device: torch.device) -> torch.Tensor | None:
    """ar.silence_guard_s: what is added to the stop's logit (with ar.onsets the next choice's end) of each row
    until it strikes a note [R], from the seconds without a key sounding before the chunk `silent_s` [R] (a
    `noteless` row [R] strikes none: nothing to hasten); None where no row has been silent long enough (drawn as
    without it)."""
    if silence_guard_s <= 0:
        return None
    if silent_s is None:
        raise ValueError("ar.silence_guard_s: pass the seconds without a key sounding before the chunk (silent_s)")
    unsilenced = silence_bias(silent_s.to(device), silence_guard_s)  # [R]
    if noteless is not None:
        unsilenced = unsilenced.masked_fill(noteless.to(device, torch.bool), 0.0)
    return unsilenced if any_of(unsilenced < 0) else None


def drawn_sets(head: EventHead, drawn: list[torch.Tensor], sizes: torch.Tensor, pieces: int, guided: bool,
               rng: torch.Generator, in_bins: bool, device: torch.device) -> SetBatch:
    """Each event's (key, start, duration, intensity) [R, 4] as drawn and each row's events [R] → the pieces' padded
    sets [pieces, N] (guided: the told half's; the untold one drew the same), with in_bins each start and duration at
    a uniform place inside its bin (else at the middles)."""
    n = head.max_events
    if drawn:
        classes = torch.stack(drawn, dim=1).unbind(2)  # [R, events drawn] each
        if guided:  # the told half (the untold one drew the same)
            classes = [x[:pieces] for x in classes]
    else:
        classes = [torch.zeros(pieces, 0, dtype=torch.long, device=device)] * 4
    sizes = sizes[:pieces]  # (guided: the told half; the untold one drew the same)
    classes = [F.pad(x, (0, n - x.shape[1]), value=fill) for x, fill in zip(classes, (0, 0, 0, 1))]  # [R, N] each
    if pieces > 1:  # a row's events drawn on after it stopped → the padding's (one piece draws none past its stop)
        inside = torch.arange(n, device=device) < sizes[:, None]  # [R, N]
        classes = [torch.where(inside, x, fill) for x, fill in zip(classes, (0, 0, 0, 1))]
    key, start, duration, intensity = classes
    # with in_bins, each start and duration at a uniform place inside its bin: [R, N, 2]; else at the middles
    within = torch.rand(pieces, n, 2, generator=rng).to(device) if in_bins else None
    return head.bins.to_sets(key, start, duration, intensity, sizes, within)
