"""What each piece `tsm generate` draws is told, from its flags: the model's options (temperatures, guidance, style,
composer, a performance to walk, tempo, key, a prompt), each read as the model takes it, and what each file's line
compares the piece with (heard.Asked); a request a listener may not hear as asked is said."""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .setting_names import warn
from .subcommands import said_left_out
from .waypoints import typed_time

if TYPE_CHECKING:
    from .generation import GANModel
    from .heard import Asked

log = logging.getLogger("timestepmusic")

LONG_SLOWING_SHARE = 0.25  # ar.final_ritard set to play a closing piece longer than this share of it is said …
LONG_SLOWING_S = 5.0  # … and longer by more than this many seconds too


@dataclass(frozen=True)
class Told:
    """What each piece is told, as the model draws it and as each file's line compares the piece with it."""

    options: dict  # drawn_in_batches' keywords: temperatures, guidance, style, composer, like, tempo, key, prompt
    asked: Asked  # the key, tempo, style and performance walked that each file's line compares the piece with
    key_spellings: list[str] | None  # each key of --key's path as typed (its signature spelled so), or None
    prompt_s: float  # where the continuation starts in each piece drawn (0 without --prompt)
    asked_from_s: float  # where what was asked starts in each file written (0 with --continuation-only)
    prompt_grid: object | None  # the prompt's tempos, time and key signatures (midi.FileGrid), written under it: cut at
    # its end (prompt_grid.grid_until), or with --continuation-only timed from there (prompt_grid.grid_from)


def pieces_told(args: argparse.Namespace, gan: GANModel, seconds: float, ends_itself: bool, key_path: list | None,
                tempo_path: list | None) -> Told:
    """What each piece is told (the model refuses what it cannot follow, in GANModel.sample_latents), each request
    read as the model takes it (`key_path` and `tempo_path`: --key's and --tempo's waypoints, as read before the model
    loaded) and, where a listener may not hear it as asked, said."""
    from .heard import Asked
    from .prompts import prompt_span_s

    options = {}
    if getattr(gan.arm, "tempered", False):
        options = {"ends": ends_itself, "temperature": args.temperature,
                   "mixture_temperature": args.mixture_temperature}
    if args.ending:  # a model without a closing refuses it (GANModel.sample_latents)
        options["ending"] = True
        if not ends_itself:
            say_closing_all_through(gan, seconds)
        else:
            say_ending_implied(gan)
    if ends_itself:
        say_cap_within_closing(gan, seconds)
    if args.guidance is not None:  # a model that follows no description refuses it (GANModel.sample_latents)
        options["guidance"] = args.guidance
        say_unfollowed(args.guidance, args.style, args.like, args.composer)
    ramp = None  # a path of requests
    if args.style is not None:
        options["style"], ramp = style_told(args.style, seconds, gan.ae.chunk_seconds)
    if args.composer is not None:  # a model that walks no performance's path refuses it (GANModel.sample_latents)
        options["composer"] = args.composer
        follows = getattr(getattr(gan.arm, "generator", None), "style", None) is not None  # (a model without ar.style:
        if follows and hasattr(gan.arm, "composer_tracks"):  # sample_latents says it walks no path) a name it does
            gan.arm.composer_tracks(args.composer)  # not know: said now, before what -o holds is
    walked_like, like_name = None, ""  # --like: the performance walked, from its first note, and its name
    if args.like is not None:
        options["like"], walked_like, like_name = _like_told(args, gan, seconds)
    asked_tempo = None
    if tempo_path is not None:  # a model that draws no starts, or samples without the beat echo, refuses it
        asked_tempo = options["tempo"] = _tempo_told(args, tempo_path, seconds, ends_itself)
    asked_key, key_spellings = None, None  # (each key of a path as typed: its signature spelled so)
    if key_path is not None:  # a model that hears no key refuses it (GANModel.sample_latents)
        asked_key, key_spellings = _key_told(args, key_path, seconds)
        options["key"] = asked_key
    prompt_grid = None  # the prompt's tempos, time and key signatures, written under it
    if getattr(gan.arm, "continues", False) and args.prompt:
        options["prompt"], prompt_grid = _prompt_told(args, gan)
    prompt_s = prompt_span_s(gan.ae, options.get("prompt"))
    asked_from_s = 0.0 if args.continuation_only else prompt_s  # where what was asked starts in each file
    if prompt_grid is not None:  # its bars going on after it (alone: timed from its end)
        from .prompt_grid import grid_from, grid_until

        prompt_grid = (grid_from if args.continuation_only else grid_until)(prompt_grid, prompt_s)
    asked = Asked(asked_key, args.key, asked_tempo, ramp, options.get("style") if ramp is None else None, walked_like,
                  like_name)
    return Told(options, asked, key_spellings, prompt_s, asked_from_s, prompt_grid)


def say_closing_all_through(gan: GANModel, seconds: float) -> None:
    """--ending of a piece of `seconds` no longer than the model's closing: said, as closing all through."""
    closing_s = _closing_s(gan)
    if 0 < seconds < closing_s:
        warn(log, "--ending: this model closes a piece over its last %g s; a piece of %g s is closing all through "
             "(a slower, thinner passage to a final chord)", closing_s, seconds)


def say_ending_implied(gan: GANModel) -> None:
    """--ending with --max-seconds: allowed, said as changing nothing (a piece that ends itself always closes,
    AutoregressiveArm.sample_latents: --ending closes a piece of --seconds). A model without a closing refuses --ending
    (GANModel.sample_latents), so nothing is said of it here."""
    if _closing_s(gan) > 0:
        warn(log, "--ending is implied by --max-seconds: a piece that ends itself always closes (--ending closes a "
             "piece of --seconds)")


def say_unfollowed(guidance: float, style: object, like: object, composer: object) -> None:
    """--guidance 0 with a description asked (--style, --like, --composer: None where not): allowed (the untold piece,
    for listening beside the told one), said as not followed."""
    asked_of = [flag for flag, given in (("--style", style), ("--like", like), ("--composer", composer))
                if given is not None]
    if guidance == 0 and asked_of:
        warn(log, "--guidance 0: each choice is drawn at the odds of a piece told nothing, so %s is not followed (1 "
             "follows it loosely, 2 closely)", " and ".join(asked_of))


def _closing_s(gan: GANModel) -> float:
    """The seconds a model closes a piece over (its closing and ring: K + R chunks; 0 without a closing)."""
    return getattr(gan.arm, "closing_chunks", 0) * gan.ae.chunk_seconds


def say_long_slowing(gan: GANModel, seconds: float, flag: str) -> None:
    """ar.final_ritard and ar.final_ritard_s, as --set, that play a closing piece of `seconds` (`flag`: --seconds or
    --max-seconds) much longer than drawn, said in one line with how much longer at most: more than LONG_SLOWING_SHARE
    of it or LONG_SLOWING_S (`--set ar.final_ritard=10 --set ar.final_ritard_s=30` played a 16 s piece for 80 s, said
    nothing). The span is at most the drawn time before the final chord (its ring after it: ar.closing_ring_s)."""
    from .ritardando import added_s
    from .sample_limits import piece_chunks
    from .sequence.closing import closing_chunks

    settings, chunk_s = getattr(gan.arm, "settings", None), gan.ae.chunk_seconds
    if not _closing_s(gan) or settings is None or settings.final_ritard == 1.0:
        return
    drawn_s = piece_chunks(seconds, chunk_s) * chunk_s  # (as drawn)
    before_final_s = max(drawn_s - closing_chunks(settings.closing_ring_s, chunk_s) * chunk_s, chunk_s)
    span_s = min(settings.final_ritard_s, before_final_s)
    longer_s = added_s(span_s, settings.final_ritard)
    if longer_s > LONG_SLOWING_S or longer_s > LONG_SLOWING_SHARE * drawn_s:
        log.warning("ar.final_ritard %g over ar.final_ritard_s %g: a closing piece slows into its final chord over up "
                    "to %.3g s, playing it up to %.3g s longer than the %s%g s drawn (%s %s; the slowing adds "
                    "(ar.final_ritard − 1) × the span / 2)", settings.final_ritard, settings.final_ritard_s, span_s,
                    longer_s, "" if flag == "--seconds" else "at most ", drawn_s, flag, typed_time(seconds))


def say_cap_within_closing(gan: GANModel, seconds: float) -> None:
    """--max-seconds no longer than a piece plays before it may end itself (ar.end_after_s) and closes after (its
    closing, ar.closing_s and ar.closing_ring_s): every piece runs to the cap, said in one line as --ending's piece
    shorter than its closing is."""
    from .sample_limits import piece_chunks

    end_after_s = getattr(getattr(gan.arm, "settings", None), "end_after_s", None)  # (rnn models: no such floor)
    if end_after_s is None:
        return
    chunk_s = gan.ae.chunk_seconds
    cap_s = piece_chunks(seconds, chunk_s) * chunk_s  # as drawn
    closing_s = _closing_s(gan)
    if cap_s > end_after_s + closing_s + 1e-9:  # a piece may end itself before the cap
        return
    closes = f"closes a piece over its last {closing_s:g} s and " if closing_s else ""
    how = ("closing all through (a slower, thinner passage to a final chord)" if cap_s < closing_s - 1e-9 else
           f"the cap (more than {end_after_s + closing_s:g} s lets the model end them)")
    warn(log, "--max-seconds %s: this model %sends none itself before %g s (ar.end_after_s); every piece is %g s, %s",
         typed_time(seconds), closes, end_after_s, cap_s, how)


def style_told(style: str, seconds: float, chunk_seconds: float) -> tuple[object, object | None]:
    """--style: one request, or a path of them (StyleRamp: each attribute in a line between them), and the path
    (None for one request); a shape too short to be told in full is said."""
    from .sequence.style import AHEAD
    from .sequence.style_request import FLATTENED, StyleRamp, asked_style

    told = asked_style(style, seconds)
    ramp = told if isinstance(told, StyleRamp) else None
    flat = [] if ramp is None else ramp.flattened(round(seconds / chunk_seconds), chunk_seconds)
    if flat:  # each chunk is told the passage ahead: a short shape is told only part of its range
        warn(log, "--style: each chunk is told the %g s ahead, so the shape of %s over %g s is told less than %.0f%% "
             "of its range; give it longer (--seconds, or later waypoints)", AHEAD * chunk_seconds, " and ".join(flat),
             seconds, 100 * FLATTENED)
    return told, ramp


def _like_told(args: argparse.Namespace, gan: GANModel, seconds: float) -> tuple[object, object | None, str]:
    """--like, read as a prompt is (from --like-seconds on): the performance, its walk from its first note (None for
    one without a note: the arm refuses it) and its name; a performance shorter than the pieces is said."""
    from .midi import read_events
    from .prompts import like_from
    from .waypoints import seconds_text

    try:
        like, drops = read_events(args.like, pedal_bins=gan.ae.config.events.pedal_bins)
    except ValueError as e:
        raise ValueError(f"--like {e}") from None  # (--like FILE: why, as for one not there)
    said_left_out(f"--like {args.like}", drops)
    like_name = Path(args.like).name
    if args.like_seconds is not None:  # the inside of a long recording: from a time on, timed from there
        like = like_from(like, args.like_seconds, args.like)
        like_name += f" from {seconds_text(args.like_seconds)}"
    return like, walked_like_of(like, like_name, seconds, gan.ae.chunk_seconds), like_name


def walked_like_of(like: object, like_name: str, seconds: float, chunk_seconds: float) -> object | None:
    """The walk of --like's performance (its events), from its first note (None for one without a note: the arm
    refuses it); one shorter than the pieces of `seconds` is said."""
    from .midi import NUM_KEYS
    from .sequence.path_walk import from_first_note
    from .sequence.style import AHEAD

    walked_like = from_first_note(like) if (like.ids < NUM_KEYS).any() else None
    like_s = 0.0 if walked_like is None else walked_like.end_s
    if 0 < like_s < seconds:
        warn(log, "--like: %s lasts %.1f s from its first note, the pieces %g s: past its end they hold its last "
             "passage (up to %g s)", like_name, like_s, seconds, AHEAD * chunk_seconds)
    return walked_like


def _tempo_told(args: argparse.Namespace, tempo_path: list, seconds: float, ends_itself: bool) -> object:
    """--tempo as the model is told it (pulse.TempoTold, timed over the pieces' `seconds`); waypoints closer than
    the beat is heard over are said."""
    from .sequence.pulse import TempoTold

    asked_tempo = TempoTold.timed(tempo_path, seconds)
    say_close_waypoints(asked_tempo, seconds, ends_itself)
    log.info("--tempo: each note's start leans toward the beats of %s after the notes already played", " → ".join(
        f"{bpm:g} bpm" + (f" at {at_s:.4g} s" + (" after the prompt" if args.prompt else "") if at_s else "")
        for at_s, bpm in asked_tempo.waypoints()))
    return asked_tempo


def say_close_waypoints(asked_tempo: object, seconds: float, ends_itself: bool) -> None:
    """A path of tempos (pulse.TempoTold) over pieces of `seconds` whose waypoints are closer than the beat is heard
    over: said (they share what is heard)."""
    from .heard import TEMPO_HEARD_S

    at_s = [at for at, _ in asked_tempo.waypoints()]  # (each waypoint's line hears the beat of the s around it)
    if asked_tempo.later and (min(b - a for a, b in zip(at_s, at_s[1:])) < TEMPO_HEARD_S
                              or seconds < 2 * TEMPO_HEARD_S):  # (the windows kept inside the piece overlap)
        warn(log, "--tempo: each waypoint's beat is heard over the %g s around it, so waypoints closer than that "
             "share what is heard; give the shape longer (%s, or waypoints further apart)", TEMPO_HEARD_S,
             "--max-seconds" if ends_itself else "--seconds")


def say_nothing_to_snap(gan: GANModel) -> None:
    """--no-snap of a model without a codebook of real chunks: nothing to snap, said as ignored."""
    from .shipped import model_said

    if gan.codebook is None:
        warn(log, "--no-snap: %s has no codebook of real chunks (%s model); nothing to snap, ignored",
             model_said(gan.folder), gan.arch)


def _key_told(args: argparse.Namespace, key_path: list, seconds: float) -> tuple[object, list[str]]:
    """--key as the model is told it (tonal.KeyTold, from the first drawn chunk, after a prompt) and each key of
    the path as typed (its signature spelled so)."""
    from .keys import key_name, typed_keys
    from .sequence.tonal import KeyTold

    asked_key = KeyTold.timed(key_path, seconds)  # (from the first drawn chunk, after a prompt)
    key_spellings = typed_keys(args.key)
    log.info("--key: every piece hears the notes so far as if in %s", ", then ".join(
        key_name(key, typed) + (f" from {at_s:.4g} s" + (" after the prompt" if args.prompt else "") if at_s else "")
        for (at_s, key), typed in zip(asked_key.stretches(), key_spellings)))
    return asked_key, key_spellings


def _prompt_told(args: argparse.Namespace, gan: GANModel) -> tuple[object, object]:
    """--prompt as the model continues it (from --prompt-seconds on, prompts.continued_prompt), and its grid: its
    tempos, time and key signatures (midi.read_prompt)."""
    from .midi import read_prompt
    from .prompts import continued_prompt

    try:
        prompt, drops, grid, held = read_prompt(args.prompt, pedal_bins=gan.ae.config.events.pedal_bins)
    except ValueError as e:
        raise ValueError(f"--prompt {e}") from None  # (--prompt FILE: why, as for one not there)
    said_left_out(f"--prompt {args.prompt}", drops)
    return continued_prompt(prompt, gan.ae, args.prompt_seconds, args.prompt, held), grid
