"""A performance as a continuation goes on from it (tsm generate --prompt, --like): cut at a whole chunk or where its
last note ends, what rings across the cut ringing on, and how many chunks (of ae.chunk_seconds) the model hears it as.
Times in seconds from the performance's start."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .chunks import chunk_events, count_chunks
from .midi import DAMPER_ID, NUM_IDS, SOFT_ID, SOSTENUTO_ID, Events, continuation_only
from .setting_names import warn
from .waypoints import refused_time, seconds_text, typed_time

if TYPE_CHECKING:
    from .autoencoder import Autoencoder

log = logging.getLogger(__name__)
SILENT_PROMPT_S = 4.0  # a prompt that ends in a silence longer than this is named when its continuation stays silent
# how long a pedal down at a random moment of the training performances goes on at its depth, at the median (ASAP's
# training split: 843,217 damper, 67,176 una corda and only 32 sostenuto runs), in seconds: a pedal the prompt's file
# ends with down rings on so long into its continuation (`held_past_end`), as one down at a cut rings on to its run's end
GOES_ON_S = {DAMPER_ID: 0.33, SOSTENUTO_ID: 3.7, SOFT_ID: 3.8}


def like_from(like: Events, seconds: float, path: str | Path = "--like") -> Events:
    """The performance to walk (generate --like) from `seconds` on (--like-seconds), timed from there: the notes struck
    from then on and the pedals down then or pressed later (`continuation_only`)."""
    if not seconds >= 0:
        raise ValueError(refused_time("--like-seconds", seconds, "where to start in the --like file, from its start, "
                                      "must be ≥ 0", from_start=True))
    later = continuation_only(like, seconds)
    if not later.is_note.any():
        struck_s = like.start_s[like.is_note]
        last = f"its last note starts at {seconds_text(struck_s.max())}" if struck_s.size else "it holds no note"
        raise ValueError(f"{path}: --like-seconds {typed_time(seconds)}: no note starts then or later; {last}")
    return later


def cut_text(end_s: float) -> str:
    """A prompt's end as a --prompt-seconds to give: to the millisecond below it (seconds_text's, rounded up, is past
    its end, which prompt_until refuses)."""
    return seconds_text(math.floor(end_s * 1000 + 1e-6) / 1000).removesuffix(" s")


def prompt_until(prompt: Events, seconds: float, chunk_seconds: float, path: str | Path = "--prompt") -> Events:
    """The prompt cut at `seconds` rounded down to a whole chunk (generate --prompt-seconds): the events struck
    before the cut, as played (a chord or a pedal held across the cut rings on, as the model hears it in the chunk
    it starts in: a pedal to where the pianist next changed its depth, as training hears a pedal's runs; the model
    draws what follows, and a press it draws there is joined to it, piece_events.sampled_events), and nothing struck
    after it; it ends at the cut, so that the continuation's first chunk starts there."""
    if not seconds > 0:
        raise ValueError(refused_time("--prompt-seconds", seconds, "where the prompt is cut, from its start, must be > 0",
                                      from_start=True))
    if seconds > prompt.end_s:
        raise ValueError(f"{path}: --prompt-seconds {typed_time(seconds)} is past its end ({seconds_text(prompt.end_s)}); "
                         f"give at most {cut_text(prompt.end_s)}, or leave it out to continue from the end")
    cut_s = math.floor(seconds / chunk_seconds + 1e-9) * chunk_seconds
    if cut_s <= 0:
        raise ValueError(f"--prompt-seconds {typed_time(seconds)}: shorter than one chunk ({chunk_seconds:g} s), where the "
                         f"prompt is cut; give at least {chunk_seconds:g}")
    if seconds - cut_s > 1e-6:
        log.warning("--prompt-seconds %s: the prompt is cut at whole chunks of %g s: continued from %s", typed_time(seconds),
                    chunk_seconds, seconds_text(cut_s))
    at_end = ~prompt.is_note & (prompt.duration_s == 0) & (prompt.start_s <= cut_s + 1e-9)  # [E] (read_prompt's
    cut = prompt.take(np.flatnonzero((prompt.start_s < cut_s) | at_end))  # press as the file's last message, cut there)
    if not cut.is_note.any():
        struck_s = prompt.start_s[prompt.is_note]  # (where a cut after it would work: said)
        first = f"its first note starts at {seconds_text(struck_s.min())}" if struck_s.size else "it holds no note"
        raise ValueError(f"{path}: no note starts before --prompt-seconds {typed_time(seconds)} (cut at whole "
                         f"{chunk_seconds:g} s chunks: {cut_s:g} s); {first}")
    return inside_its_last_chunk(ending_at(cut, cut_s), chunk_seconds)  # (no empty chunk after the cut)


def ending_at(events: Events, end_s: float) -> Events:
    """`events` as a performance that ends at `end_s`, though what it holds may ring on past it (a prompt cut where
    its pedal or chord is still down: the continuation's first chunk starts there). Set after construction, which
    would end it after its last sound."""
    ended = Events(events.ids, events.start_s, events.duration_s, events.intensity)
    ended.end_s = end_s
    return ended


def continued_prompt(prompt: Events, ae: Autoencoder, seconds: float | None = None,
                     path: str | Path = "--prompt", held_ids: tuple[int, ...] = ()) -> Events:
    """What a continuation of `prompt` goes on from: the prompt cut at `seconds` (--prompt-seconds: `prompt_until`;
    said where its last note before the cut ends SILENT_PROMPT_S or more before it), else ended where its last note
    ends (a file that runs on silent, to a controller, a pedal held or pressed again, or its end a minute later, is
    not waited out; said where it runs on more than a second; a pedal down then, or pressed as it ends, rings on to its
    run's end, but not long past where the continuation starts: the pianist's pedalling in the silence is not the
    continuation's). A pedal of `held_ids` still down at the file's end (read_prompt's: never lifted, a recording
    stopped with it held) rings on into the continuation, not lifted where the file ends (`held_past_end`). Said too
    where a 0.25 s chunk holds more events than the model hears (ae.max_events): the file keeps them all, as played."""
    file_end_s = prompt.end_s
    if seconds is not None:
        prompt = prompt_until(prompt, seconds, ae.chunk_seconds, path)
    last_s = float((prompt.start_s + prompt.duration_s)[prompt.is_note].max(initial=0.0))  # its last note's end
    silent = seconds is None and prompt.end_s - last_s > 1.0
    if seconds is not None and prompt.end_s - last_s >= SILENT_PROMPT_S:
        warn(log, "%s: its last note before the cut at %s ends at %s: the continuation starts after %.0f s of "
             "silence", path, seconds_text(prompt.end_s), seconds_text(last_s), prompt.end_s - last_s)
    elif silent:
        warn(log, "%s: its last note ends at %s and the file runs on to %s with no key held: continued from its "
             "last note (--prompt-seconds %s continues after all of it)", path, seconds_text(last_s),
             seconds_text(prompt.end_s), cut_text(prompt.end_s))
        # (a pedal down then, or pressed as the last note ends, rings on to its run's end, or held_past_end's; one
        # pressed after it is left out)
        kept = (prompt.start_s < last_s) | (~prompt.is_note & (prompt.start_s <= last_s))  # [E]
        prompt = ending_at(prompt.take(np.flatnonzero(kept)), last_s)
    prompt = inside_its_last_chunk(prompt, ae.chunk_seconds)
    prompt = held_past_end(prompt, ae.chunk_seconds, file_end_s, held_ids, silence_left_out=silent)
    unheard = chunk_events(prompt, ae.chunk_seconds, ae.max_events).dropped
    if unheard:
        warn(log, "%s: %d of its %d events fall in %g s chunks of more than %d, of which the model hears the first "
             "%d; the file keeps them all", path, unheard, len(prompt.ids), ae.chunk_seconds, ae.max_events,
             ae.max_events)
    return prompt


def inside_its_last_chunk(prompt: Events, chunk_seconds: float) -> Events:
    """`prompt` ended just inside the chunk its end closes, where it ends on a chunk's boundary (a notated file's last
    note released on the beat: at 120 bpm every beat is one), as `prompt_until` ends every cut: a performance's chunks
    (count_chunks) run one past an end on a boundary, so the continuation started a silent chunk (0.25 s) after the
    file's last sound, one the pianist never played. Elsewhere `prompt` as it is."""
    boundary_s = round(prompt.end_s / chunk_seconds) * chunk_seconds
    if boundary_s > 0 and abs(prompt.end_s - boundary_s) < 1e-6:  # (not the start's: no chunk would be left)
        return ending_at(prompt, boundary_s - 1e-6)
    return prompt


def held_past_end(prompt: Events, chunk_seconds: float, file_end_s: float, held_ids: tuple[int, ...],
                  silence_left_out: bool = False) -> Events:
    """`prompt` (ended where its continuation's first chunk starts: the seam) with each press of a pedal of `held_ids`
    that reaches `file_end_s` (never lifted in the file, which the reader lifted there) held on past the seam for as
    long as a pedal goes on at its depth (GOES_ON_S), as a pedal down at a cut rings on to its run's end, and the
    model pedals from there. With `silence_left_out` (a prompt continued from its last note, its silent end not waited
    out), every pedal down at the seam is held on so, and not past it: not to its end in the silence."""
    seam_s = count_chunks(prompt.end_s, chunk_seconds) * chunk_seconds  # (as prompt_span_s: the prompt's chunks)
    goes_on_s = np.zeros(NUM_IDS)
    goes_on_s[list(GOES_ON_S)] = list(GOES_ON_S.values())
    reach_s = seam_s + goes_on_s[prompt.ids]  # [E]: where a pedal down at the seam is held to
    ends_s = prompt.start_s + prompt.duration_s  # [E]
    # a press where the prompt ends (as the file's last message, read_prompt's of no length; or as its last note ends,
    # where the file runs on) is heard in the prompt's last chunk, where it ends on the seam too (inside_its_last_chunk
    # has ended it just before)
    starts_s = np.where(~prompt.is_note, np.minimum(prompt.start_s, prompt.end_s), prompt.start_s)  # [E]
    pedal = ~prompt.is_note & (starts_s < seam_s)  # [E]
    held = pedal & np.isin(prompt.ids, held_ids) & (ends_s >= file_end_s - 1e-6)  # [E]
    latest_s = np.full(NUM_IDS, -np.inf)
    np.maximum.at(latest_s, prompt.ids[held], starts_s[held])
    held &= starts_s >= latest_s[prompt.ids]  # (its depth changed at the end: the run before it ends there)
    if silence_left_out:
        ends_s = np.where(held, reach_s, np.where(pedal & (ends_s > seam_s), np.minimum(ends_s, reach_s), ends_s))
    else:
        ends_s = np.where(held, np.maximum(ends_s, reach_s), ends_s)
    return ending_at(Events(prompt.ids, starts_s, ends_s - starts_s, prompt.intensity), prompt.end_s)


def prompt_chunks(ae: Autoencoder, prompt: Events | None) -> int:
    """How many chunks the model hears `prompt` as (0 without one)."""
    return 0 if prompt is None else chunk_events(prompt, ae.chunk_seconds, ae.max_events).num_chunks


def prompt_span_s(ae: Autoencoder, prompt: Events | None) -> float:
    """Where a continuation of `prompt` starts: the span of its chunks as the model hears them (0 without one)."""
    return prompt_chunks(ae, prompt) * ae.chunk_seconds
