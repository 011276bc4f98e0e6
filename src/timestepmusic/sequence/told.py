"""What each piece the events arm draws is told (sequence/events.py, ar.style): a mixin, `Telling`, of the methods of
EventAutoregressive that decide it; `sample` sets the pieces up through them (`tell`: what each is told, how closely
it follows it, `guide`, and the pedals it keeps up, `keep_pedals_up`), `draw` and the likelihood arm's sampling loop
(`condition`) ask them at every chunk.

A request (--style) is told as calibrated (`calibrated`; a path of requests, StyleRamp: each waypoint, `waypoint_told`,
and the line between them per chunk, `ramped`, with the pedals it keeps up there, `ramp_unpressed`), the rest of the
description a real passage's near it or a continued prompt's own (`asked_described`, `prompt_described`). A piece
walking a performance's path (ar.style_path, --composer, --like: `composer_tracks`, `like_path`) is told what its
PathWalk (sequence/path_walk.py) says at each chunk (`path_told`). Every chunk reads the offset of what it is told,
with ar.closing_s beside its chunks left (`condition`, `described_offset`).
Shapes: S pieces, C chunks, D attributes, W width, P prompt chunks, T drawn chunks, N events, K tracks.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from ..autoencoder import sets_to_events
from ..batches import SetBatch
from ..midi import NUM_KEYS, Events
from ..setting_names import warn
from .closing import closing_left
from .event_generator import with_closing
from .path_walk import PathWalk, check_walks, closing_path_refused, composer_tracks, follow_gains, like_path, request_refused
from .path_walk import walked_attributes as walked_mask
from .style import AHEAD
from .style_describe import describe_passage
from .style_paths import StylePaths
from .style_request import DYNAMICS, StyleRamp, users_value

log = logging.getLogger("timestepmusic.sequence.events")  # the events arm's records, as before these moved here


class Telling:
    """EventAutoregressive's methods that decide what each drawn piece is told; they read its settings (`settings`),
    network (`generator`), `chunk_seconds`, `device`, description paths (`paths`) and calibration (`calibration`,
    `said_beyond`), and while a sample runs its `walk`, `ramp` (`ramp_asked`, `ramp_prompt`), `held` and closing
    (`closing_at`, `closing_now`); `tell` sets those of a sample's start, with `told`, `walked_from`, `unpressed`,
    `kept_up` and the network's guidance."""

    # a request (--style, a path of requests, a continued --prompt): what each piece is told of it
    def calibrated(self, style: dict[str, float], guidance: float | None) -> dict[str, float]:
        """A request → what to tell: with ar.request_calibrated, through the model's measured curves where they were
        measured at the guidance it is followed at (`guidance`, None: ar.request_guidance); otherwise as asked. Which
        it is, and what was told, is logged (`tsm generate -v`); a request beyond what the model was measured to play
        is warned of, once."""
        calibration = self.calibration
        followed_at = guidance if guidance is not None else self.settings.request_guidance
        if calibration is None:
            log.info("--style: told as asked (this model's requests are not calibrated)")
            return style
        if not self.settings.request_calibrated:
            log.info("--style: told as asked (ar.request_calibrated false)")
            return style
        if calibration.guidance is not None and abs(followed_at - calibration.guidance) > 1e-9:
            log.info("--style: told as asked; this model's requests were calibrated at guidance %g, not %g",
                     calibration.guidance, followed_at)
            return style
        told = calibration.told(style)
        log.info("--style: told %s (calibrated: what this model played when told each value, measured at guidance %g)",
                 ", ".join(f"{name}={float(users_value(name, value)):.3g}" for name, value in told.items()),
                 calibration.guidance if calibration.guidance is not None else followed_at)
        for name in calibration.beyond(style):
            if (name, style[name]) in self.said_beyond:
                continue
            self.said_beyond.add((name, style[name]))
            low, high = (float(users_value(name, calibration.curves[name].played[i])) for i in (0, -1))
            asked = float(users_value(name, style[name]))
            mark = next((f"{m}, " for m, v in DYNAMICS.items() if name == "loudness" and v == asked), "")  # (as typed)
            warn(log, "--style %s=%.3g: %sbeyond what this model was measured to play (%.3g to %.3g): told by "
                 "extrapolation, it may not reach it", name, asked, mark, low, high)
        return told

    def waypoint_told(self, at_s: float, request: dict[str, float], guidance: float | None,
                      prompted: bool) -> dict[str, float]:
        """A path of requests: the waypoint at `at_s` seconds (after the prompt where `prompted`) → what to tell there
        (`calibrated`, logged as its)."""
        log.info("--style: the waypoint at %.4g s%s:", at_s, " after the prompt" if prompted else "")
        return self.calibrated(request, guidance)

    def asked_described(self, n: int, rng: torch.Generator, request: dict[str, float],
                        prompt_sets: SetBatch | None) -> tuple[torch.Tensor, bool]:
        """n descriptions [S, D] as a `request` (told values) asks, and whether the rest is a prompt's: after a
        continued prompt (ar.prompt_told), what is not asked is its last passage's (a louder continuation keeps the
        player's register and pedalling); without one, or where that passage holds no note, a real passage's near the
        request (StyleLook.choose)."""
        look = self.generator.style
        own = (self.prompt_described(prompt_sets) if prompt_sets is not None and self.settings.prompt_told
               else None)  # [1, D] or None
        if own is None:
            return look.choose(n, rng, request), False
        return look.asked_of(own.expand(n, -1), request), True

    def prompt_described(self, prompt_sets: SetBatch) -> torch.Tensor | None:
        """The description of a prompt's last AHEAD chunks (its chunks [P, N]) [1, D], as training describes a corpus
        passage; None where they hold no note (told "no notes" for the whole continuation, a piece stays silent).
        Two known differences from training's description of the same passage: a press the prompt's cut released
        early (`prompt_until`) counts as far as the cut, and a chunk over the max_events cap has lost its latest
        events."""
        chunks = prompt_sets.sizes.shape[0]
        first_chunk = max(0, chunks - AHEAD)
        last = prompt_sets.take(slice(first_chunk, chunks))  # [P', N]
        events = sets_to_events(prompt_sets, self.chunk_seconds)  # the whole prompt, in time order
        struck = ((last.ids < NUM_KEYS) & last.mask).any(1)  # [P']: a note starts in the chunk
        if not struck.any():
            return None
        first = int(prompt_sets.sizes[:first_chunk].sum())  # the passage's first event
        described = describe_passage(*(torch.from_numpy(np.asarray(x)) for x in (events.ids, events.intensity,
                                                                                   events.duration_s)),
                                     first, struck.cpu(), self.chunk_seconds, self.settings.style_pause)  # [D]
        return described[None].to(self.device)

    def ramped(self, ramp: StyleRamp, described: torch.Tensor, chunks: int, prompt_chunks: int) -> torch.Tensor:
        """Each piece's description [S, D] → that of each of a prompt's chunks and the `chunks` drawn after them
        [S, P + T, D]: the ramp's attributes along their told lines (one first asked at a later waypoint from the
        piece's own value), the others as described."""
        columns = [self.generator.style.attributes.index(name) for name in ramp.names()]
        rows = described.cpu().double().numpy()  # [S, D]
        told = torch.from_numpy(np.stack([  # [S, P + T, A]: each piece's lines
            np.stack(list(ramp.told(chunks, self.chunk_seconds, prompt_chunks,
                                    dict(zip(ramp.names(), row[columns]))).values()), axis=-1) for row in rows]))
        lines = described[:, None].repeat(1, prompt_chunks + chunks, 1)  # [S, P + T, D]
        lines[:, :, columns] = told.to(lines)
        return lines

    def ramp_unpressed(self, chunk: int) -> torch.Tensor | None:
        """A path of requests: which pedals the pieces keep up at new chunk `chunk` [S, 3]: those told zero there, of
        those it asks (ar.pedals_as_told "given"; "all", or the rest a continued prompt's: any told zero; "none":
        None)."""
        as_told = self.settings.pedals_as_told
        if as_told == "none":
            return None
        told = self.ramp[:, self.ramp_prompt + chunk]  # [S, D]
        return self.generator.style.unpressed(told, None if as_told == "all" else self.ramp_asked)

    # a path walked (ar.style_path, --composer, --like)
    def composer_tracks(self, composer: str) -> torch.Tensor:
        """`--composer`: which tracks of the description paths [K] are that composer's; a model that cannot walk them:
        ValueError in one line."""
        if self.paths is not None:
            check_walks("--composer", self.settings.style_drawn, self.walked_attributes())
        return composer_tracks(self.paths, composer)

    def like_path(self, like: Events) -> StylePaths:
        """`--like`: the path of the performance `like` (its events) as one track; a model that cannot walk it, or a
        performance without a note: ValueError in one line."""
        if self.generator.style is None:
            raise ValueError("--like: this model was not trained with ar.style; it walks no performance's path")
        check_walks("--like", self.settings.style_drawn, self.walked_attributes())
        return like_path(like, self.generator.style, self.chunk_seconds, self.settings.style_pause)

    def walked_attributes(self) -> torch.Tensor | None:
        """ar.style_path as a mask over the description's attributes [D]; None: "none", every one held."""
        return walked_mask(self.settings.style_path, self.generator.style.attributes)

    @property
    def walking(self) -> StylePaths | None:
        """The paths the pieces being sampled walk: `paths`, or --like's (None: none, or no sample running)."""
        return None if self.walk is None else self.walk.walking

    @property
    def path_start(self) -> torch.Tensor | None:
        """Where each piece being sampled starts in the paths it walks [S] (None: none, or no sample running)."""
        return None if self.walk is None else self.walk.start

    def path_told(self, first: int, last: int) -> torch.Tensor:
        """ar.style_path: the descriptions of new chunks first … last of the pieces being sampled [S, C, D]
        (PathWalk.told; each chunk's told once per sample, read again by every later step and by the pedals kept up)."""
        return self.walk.told(first, last, self.closing_at)

    # each chunk: the offset it reads
    def condition(self, first: int, last: int) -> torch.Tensor | None:
        """With ar.style, the offset chunks first … last of the pieces being sampled read: [S, W], the same for every
        chunk, or with ar.style_path or a path of requests each chunk's own [S, C, W]; None without. With
        ar.closing_s, a piece's chunks from its closing on (`closing_at`) also read how many chunks are left."""
        described = self.described_offset(first, last)  # [S, (C,) W] or None
        self.generator.closing_told = self.closing_now = None
        if self.closing_at is None or not bool((self.closing_at <= last).any()):
            return described
        closing = self.generator.closing
        left = closing_left(self.closing_at.to(self.device), first, last, closing.chunks, closing.after)  # [S, C]
        self.generator.closing_told = self.generator.closing(left)  # [S, C, W]
        self.closing_now = left[:, -1]  # [S]: the chunk drawn next (the last position read)
        return with_closing(described, self.generator.closing_told)

    def described_offset(self, first: int, last: int) -> torch.Tensor | None:
        """With ar.style, what chunks first … last read of the pieces' descriptions ([S, W] or [S, C, W]; `condition`)."""
        if self.ramp is not None:
            told = self.ramp[:, first:last + 1]  # [S, C, D]
            return self.generator.offset(told, told.shape[0])  # [S, C, W]
        if self.walk is None:
            return self.held
        self.walk.drawing(last, self.chunk_seconds)  # (ar.register_follow: chunk `last` is drawn next)
        told = self.path_told(first, last).to(self.device)  # [S, C, D]
        return self.generator.offset(told, told.shape[0])  # [S, C, W]

    # a sample's set-up: what its pieces are told, how closely they follow it, the pedals they keep up
    def tell(self, n: int, chunks: int, seed: int, prompt: torch.Tensor | None, prompt_sets: SetBatch | None,
             style: dict[str, float] | StyleRamp | None, guidance: float | None, composer: str | None,
             like: Events | None, heard_first: int) -> None:
        """With ar.style, what each of the `n` pieces about to be sampled is told (`told`; the offset every chunk reads,
        `held`; a path's `walk`, a path of requests' `ramp`), followed as closely as `guide` sets, with the pedals
        it keeps up (`keep_pedals_up`); the arguments as EventAutoregressive.sample's, `heard_first` the prompt's
        chunks before the first drawn one. What this model cannot follow: ValueError in one line."""
        if style is not None and self.generator.style is None:
            raise ValueError("--style: this model was not trained with ar.style; it has no description to follow")
        if composer is not None or like is not None:
            request_refused(composer is not None, like is not None, style is not None, heard_first > 0)
        liked = None if like is None else self.like_path(like)  # one track
        composed = None if composer is None else self.composer_tracks(composer)  # [K] or None
        self.walk = None
        described, told_prompt = None, False  # with ar.style: each piece's character, drawn, asked or the prompt's
        look = self.generator.style
        rng = None  # (drawn from only where something is told)
        if look is not None:
            rng = torch.Generator().manual_seed(seed * 1_000_003 + 17)  # a stream apart from the chunks' draws
            if isinstance(style, StyleRamp):  # each waypoint told as calibrated, the line between them per chunk
                ramp = StyleRamp(tuple((at_s, self.waypoint_told(at_s, request, guidance, heard_first > 0))
                                       for at_s, request in style.waypoints))
                opening = ramp.told(chunks, self.chunk_seconds)  # {name: [T]}: those asked from the start
                log.info("--style: the first chunk is told %s (the line's mean over the %g s from it)", ", ".join(
                    f"{name}={float(users_value(name, line[0])):.3g}" for name, line in opening.items()),
                    AHEAD * self.chunk_seconds)
                described, told_prompt = self.asked_described(
                    n, rng, {name: float(line[0]) for name, line in opening.items()}, prompt_sets)  # [S, D]
                self.ramp = self.ramped(ramp, described, chunks, heard_first)  # [S, P + T, D]
                self.ramp_asked = None if told_prompt else dict.fromkeys(ramp.names())  # (the rest: the prompt's)
                self.ramp_prompt = heard_first
            elif style is not None:
                described, told_prompt = self.asked_described(n, rng, self.calibrated(style, guidance),
                                                              prompt_sets)  # [S, D]
            elif prompt is None and prompt_sets is None and self.settings.style_drawn:  # a prompt: heard instead
                walked = self.walked_attributes()  # [D] or None
                if walked is not None:  # a real performance's path of descriptions, from a random chunk on
                    self.walk = PathWalk.drawn(n, chunks, rng, paths=self.paths, liked=liked, composed=composed,
                                               walked=walked, style=look, path_room=self.settings.path_room,
                                               ending=self.settings.closing_path == "ending",
                                               spread_pull=self.settings.spread_pull,
                                               spread_trim=self.settings.path_spread_trim)
                    self.walked_from = self.walk.labels(self.chunk_seconds)
                    described = self.walk.first.to(self.device)
                else:
                    described = look.draw(n, rng)  # [S, D]
            elif prompt_sets is not None and self.settings.prompt_told:  # or told its own last passage
                told_prompt = True
                described = self.prompt_described(prompt_sets)  # [1, D] or None
                described = None if described is None else described.expand(n, -1).clone()  # [S, D]
            if described is None and guidance is not None:
                raise ValueError("--guidance: nothing is told to guide by (a continued --prompt whose last 16 s hold "
                                 "no note is told no description); ask a --style")
        if self.settings.closing_path == "ending" and self.walk is None:  # no path walked: it would be silently
            closing_path_refused(style is not None, heard_first > 0)  # ignored
        self.held = self.generator.offset(described, n)  # [S, W]: computed once
        self.generator.unguided()  # nothing told: nothing to guide by
        if described is not None:  # guidance: told against untold
            self.guide(guidance, style is not None or like is not None, heard_first)
        self.told = described
        self.keep_pedals_up(n, rng, described, style, told_prompt)
        if self.walk is not None:  # what training descriptions span: their tracks' paths, or the bank of passages
            gains = follow_gains(self.settings.register_follow, self.settings.density_follow)
            self.walk.follow(gains, self.paths.rows if self.paths is not None else look.bank, self.device)

    def guide(self, guidance: float | None, asked: bool, heard_first: int) -> None:
        """How closely the pieces about to be sampled follow what they are told: `guidance`, or None: as asked (a
        request, --style or --like) or not; `heard_first`: the prompt's chunks before the first drawn one."""
        a = self.settings
        # asked: a request: ar.request_guidance (--like: chosen on validation,
        # bench/results/like_follow_41_validation_g*.md); a composer's performance is followed as an unasked piece
        # follows its own, at ar.style_guidance (chosen on validation: bench/results/composer_follow_41_validation*)
        self.generator.guidance = (guidance if guidance is not None else a.request_guidance if asked
                                   else a.style_guidance)
        self.generator.pedal_guidance = self.generator.guidance if a.pedal_guidance == 1.0 else a.pedal_guidance
        # a note's key at ar.key_guidance in a drawn piece; a continued prompt's at its own guidance, where the
        # prompt's notes heard hold the register and the key guided moved it from what followed
        # (bench/results/key_guidance_57_continuation*.md)
        self.generator.key_guidance = (self.generator.guidance if a.key_guidance == 1.0 or heard_first > 0
                                       else a.key_guidance)

    def keep_pedals_up(self, n: int, rng: torch.Generator | None, described: torch.Tensor | None,
                       style: dict[str, float] | StyleRamp | None, told_prompt: bool) -> None:
        """Which pedals each of the `n` pieces about to be sampled never presses (`unpressed`, ar.pedals_as_told; with
        ar.soft_kept_up, `kept_up`, chosen from the descriptions' stream `rng`), from what it is told (`described`
        [S, D]; `style`: a request; `told_prompt`: a prompt's own description)."""
        look = self.generator.style
        self.unpressed, as_told = None, self.settings.pedals_as_told  # which descriptions keep a pedal told zero up
        if described is not None and as_told != "none":
            if as_told == "all" or told_prompt:  # (the prompt's own, where a request names no pedal)
                self.unpressed = look.unpressed(described)  # [S, 3]
            elif style is not None:  # "given": only the pedals the request names
                self.unpressed = look.unpressed(described, asked=self.ramp_asked if self.ramp is not None else style)
        kept_up = self.settings.soft_kept_up  # drawn pieces told no una corda: some never press it (a per-piece choice)
        if described is not None and kept_up > 0 and style is None and not told_prompt and as_told == "given":
            chosen = torch.rand(n, generator=rng) < kept_up  # [S], from the descriptions' stream: no chunk draw moves
            self.kept_up = chosen.to(described.device)  # (ar.style_path: told again at every chunk, `path_unpressed`)
            soft = look.unpressed(described)[:, 2] & self.kept_up  # [S]
            self.unpressed = torch.stack([torch.zeros_like(soft), torch.zeros_like(soft), soft], dim=1)  # [S, 3]
