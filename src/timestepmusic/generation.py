"""Noise → sequence model → latents → PISA decoder → events → MIDI files, for every arch.

A model is a checkpoint folder (config.json + generator.safetensors) with its autoencoder beside it
(RUN/autoencoder) or inside it (the shipped model). `arch` in config.json names the sequence model
(sequence/), which builds itself from the checkpoint's config. The autoencoder is checked against the
hash the run recorded, so a model is never decoded by an autoencoder it was not trained with.
Long pieces are snapped and decoded block by block, in bounded memory; a piece may last at most
LONGEST_PIECE_S. Shapes: S pieces, T chunks, L latent, K codebook latents.
"""
from __future__ import annotations

import difflib
import json
import logging
import math
import re
import shutil
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .argtypes import PIECES_LIMIT, SEED_LIMIT
from .autoencoder import Autoencoder
from .checkpoint import CONFIG, autoencoder_beside, checkpoint_dir, load_tensors, load_weights, read_meta
from .chunks import chunk_events
from .config import PRESETS, SAMPLING_SETTINGS, Config
from .critic import CRITIC, PieceCritic
from .devices import pick_device, rng_kept, without_onednn
from .files import atomic_path, held_folder, named
from .heard import made_version
from .keys import Key, check_key, sharps
from .latents import CODEBOOK, Normaliser, read_codebook, snap
from .midi import Events, FileGrid, FileMeta, continuation_only, join_pedal_runs, made_by_marker, release_by, write_events
from .sequence import AVERAGED_GENERATOR, SequenceModel, arch_class
from .sequence.pulse import TempoTold
from .sequence.style import StylePaths, StyleRamp
from .sequence.style_calibration import StyleCalibration
from .sequence.tonal import HEARS_KEYS, KeyTold
from .shipped import model_said, resolve_model, shipped_name_of
from .tempo import beat_phase_s
from .waypoints import clock_text

log = logging.getLogger(__name__)
RELEASE_S = 2.0  # how long a generated piece may ring on after its last chunk
LONGEST_PIECE_S = 3600.0  # one hour: the recurrent generator's attention over its past grows with the piece
BLOCK_CHUNKS = 4096  # chunks snapped and decoded at once (the codebook distances of a block: 4096 × K floats)
SILENT_REDRAWS = 3  # a written piece without a note is drawn again (a new seed) at most this many times
REDRAW_SEED_STEP = 1_000_003  # redraw k uses seed + k × this (far from the seeds a user gives)
BATCH_PIECES = 256  # tsm generate draws at most this many pieces at once (its memory grows with them) …
BATCH_SEED_STEP = 1_000_000_007  # … batch b with seed + b × this (clear of its redraws' and critic rounds' seeds)
SILENT_PROMPT_S = 4.0  # a prompt that ends in a silence longer than this is named when its continuation stays silent
SELECT_ROUNDS = 8  # with a critic: draws of candidates at most, before the best scored of those passed over fill in
SELECT_SEED_STEP = 7_000_003  # round k of candidates uses seed + k × this (apart from REDRAW_SEED_STEP's)
SELECT_MARGIN = 1.25  # each round draws this many times the candidates its critic's kept share should need …
SELECT_MOST = 4, 16  # … but at most 4 × n + 16 at once (a critic that keeps few would otherwise ask for millions)


def default_model_path() -> Path:
    return resolve_model(None)


def checkpoint_config(meta: dict) -> Config:
    """The one configuration a checkpoint is rebuilt from. A [gan] setting that a checkpoint lacks did not exist
    when it was written: its run was trained with the seed design's value (PRESETS["seed"]), not today's default.
    Recurrent runs written before the `rnn` section was the only home of their settings kept them under
    `recurrent`; those win there. Recurrent runs written before `rnn.gan_mends` existed trained without the
    [gan] mends that their config may nonetheless list (the arm ignored them then). Likelihood (ar) runs written
    before `ar.mixture_temperature` and `ar.slide_stride` sampled with the mixture at ar.temperature and the
    window re-run for every chunk: they still do, so that a seed gives the same files; those written before
    `ar.head` have the mixture head. Events runs written before `ar.pedal_join_s` existed wrote their pedal runs
    as drawn (today's default joins lifts of up to 20 ms). Conv runs written before `gan.past_chunks` made
    independent windows (the seed preset says so)."""
    saved = meta["config"].get("gan", {})
    config = Config.from_dict(meta["config"]).override(
        {key: value for key, value in PRESETS["seed"].items() if key.partition(".")[2] not in saved})
    if "recurrent" in meta:
        config = config.override({f"rnn.{k}": v for k, v in meta["recurrent"].items()})
    if meta.get("arch") == "rnn" and "gan_mends" not in meta["config"].get("rnn", {}) | meta.get("recurrent", {}):
        config = config.override({"rnn.gan_mends": False})  # trained before the arm read those [gan] settings
    saved_ar = meta["config"].get("ar", {})
    if meta.get("arch") == "ar" and saved_ar:
        config = config.override({"ar.mixture_temperature": saved_ar.get("mixture_temperature", config.ar.temperature),
                                  "ar.slide_stride": saved_ar.get("slide_stride", 1),
                                  "ar.head": saved_ar.get("head", "mixture")})
    if meta.get("arch") == "events" and saved_ar and "pedal_join_s" not in saved_ar:
        config = config.override({"ar.pedal_join_s": 0.0})
    return config


def check_piece_seconds(seconds: float, flag: str = "seconds") -> None:
    """A clear error, naming the flag, for a piece length that is not positive or longer than the limit."""
    if not seconds > 0:
        raise ValueError(f"--{flag} must be > 0, got {seconds:g}")
    if seconds > LONGEST_PIECE_S:
        raise ValueError(f"--{flag} {seconds:g}: a piece may last at most {LONGEST_PIECE_S:g} s "
                         f"({LONGEST_PIECE_S / 3600:g} h); ask for more pieces (-n) instead")


def piece_chunks(seconds: float, chunk_seconds: float) -> int:
    """How many chunks a piece asked to last `seconds` is drawn with: the nearest whole number, at least one."""
    return max(1, round(seconds / chunk_seconds))


@dataclass
class GANModel:
    """A trained sequence model of any arch with its (possibly fine-tuned) autoencoder; `sample` decodes."""

    arm: SequenceModel
    normaliser: Normaliser
    ae: Autoencoder
    meta: dict
    folder: Path
    codebook: torch.Tensor | None = None  # [K, L] real training-chunk latents, for snapped decoding
    critic: PieceCritic | None = None  # which drawn pieces to keep (critic.py), where the model has one
    critic_error: str | None = None  # why a critic file beside the model could not be read
    walked: list[str] | None = None  # which training performance each piece `written_pieces` wrote last walked

    def __post_init__(self) -> None:
        self.codebook_std = None if self.codebook is None else self.normaliser.forward(self.codebook)

    @property
    def arch(self) -> str:
        return self.arm.arch

    @property
    def generator(self) -> torch.nn.Module:
        return self.arm.generator

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu") -> "GANModel":
        path = resolve_model(path)
        folder, meta = read_meta(path)
        if meta.get("kind") != "gan":
            raise ValueError(f"{shipped_name_of(folder) or folder}: not a GAN checkpoint (kind={meta.get('kind')!r}); "
                             "an autoencoder run cannot generate by itself")
        ae = Autoencoder.load(autoencoder_beside(folder), pick_device(device))
        return cls.with_autoencoder(folder, meta, ae, device)

    @classmethod
    @rng_kept  # (the arm is built, its initial weights drawn, before the trained ones are loaded over them)
    def with_autoencoder(cls, folder: Path, meta: dict, ae: Autoencoder, device: str = "cpu") -> "GANModel":
        """The base autoencoder must be the one the run started from; a fine-tuned copy saved with the run
        is then loaded over it, and the codebook saved with that checkpoint is preferred to the run's."""
        ae = ae.for_gan(folder, meta)
        arm_class = arch_class(meta.get("arch", "conv"))
        arm = arm_class(checkpoint_config(meta), ae.model.latent, pick_device(device), training=False)
        normaliser = Normaliser.from_dict(meta["normaliser"])
        if getattr(arm, "draws_events", False):  # it encodes each chunk it draws
            arm.use_autoencoder(ae, normaliser)
        # the generator's weight average (gan.ema) samples where the run kept one
        load_weights(folder, AVERAGED_GENERATOR if AVERAGED_GENERATOR in meta.get("weights", {}) else "generator",
                     arm.generator)
        arm.generator.eval()
        for key in set(meta.get("weights", {})) & set(getattr(arm, "KEPT", ())):  # what it keeps beside its weights
            arm.use_kept(key, load_tensors(folder, key), folder / f"{key}.safetensors")
        if hasattr(arm, "calibration"):  # measured after training (ar.request_calibrated)
            arm.calibration = StyleCalibration.of_model(meta, folder / CONFIG)
        books = [p / CODEBOOK for p in (folder, folder.parent) if (p / CODEBOOK).is_file()] if arm.snaps else []
        codebook = read_codebook(books[0]).to(pick_device(device)) if books else None
        try:  # read only by --select: a damaged one does not stop the model from drawing
            critic, critic_error = PieceCritic.load(folder), None
        except ValueError as e:
            critic, critic_error = None, str(e)
            log.warning("%s", critic_error)
        return cls(arm, normaliser, ae, meta, folder, codebook, critic, critic_error)

    @without_onednn
    @torch.inference_mode()
    def sample_latents(self, n: int, seconds: float, seed: int, snap_to_real: bool = True, *,
                       prompt: Events | None = None, ends: bool | None = None,
                       temperature: float | None = None, mixture_temperature: float | None = None,
                       style: dict[str, float] | StyleRamp | None = None, guidance: float | None = None,
                       key: Key | KeyTold | None = None,
                       tempo: float | TempoTold | None = None, composer: str | None = None,
                       like: Events | None = None) -> list[torch.Tensor]:
        """One latent sequence [T_s, L] per piece: `seconds` long, or for an arch that ends its pieces, at most
        that. With `snap_to_real` (and a codebook beside the model) each latent becomes its nearest real
        training-chunk latent. Arms that continue a past (`continues`: the likelihood arm, a conv arm with
        gan.past_chunks) also take a `prompt` (a performance, encoded chunk by chunk, then continued for
        `seconds`; the pieces start with it); the likelihood arm (`tempered`) `ends` (stop where the model
        ends the piece) and sampling temperatures (`temperature` of the
        spreads, `mixture_temperature` of the mixture's weights; None: the model's ar settings). An events model
        trained with ar.style plays each piece as `style` asks (sequence/style.parse_style; a style.StyleRamp: each
        asked attribute along a line between waypoints), following its
        description as closely as `guidance` says (None: the model's ar.request_guidance with `style`,
        ar.style_guidance without); one trained with ar.tonal plays each piece in `key` (keys.parse_key's, or
        a tonal.KeyTold that says how it is told); an events model that samples with ar.beat_echo leans each note's
        start toward the beats of `tempo` (beats per minute, or a pulse.TempoTold); one that walks real performances'
        paths of descriptions (ar.style_path) walks those of `composer`'s performances alone, or the path of the
        performance `like` (its events), from its start."""
        check_piece_seconds(seconds)
        chunks = piece_chunks(seconds, self.ae.chunk_seconds)
        arm = self.arm
        continues = getattr(arm, "continues", False)  # the likelihood arm; a conv arm with gan.past_chunks
        tempered = getattr(arm, "tempered", False)  # the likelihood arm
        for what, given, able in (("--prompt", prompt is not None, continues),
                                  ("--temperature", temperature is not None, tempered),
                                  ("--mixture-temperature", mixture_temperature is not None, tempered),
                                  ("ending pieces", bool(ends), tempered)):
            if given and not able:
                other = "an ar model, or a conv model trained with gan.past_chunks" if what == "--prompt" else "an ar model"
                raise ValueError(f"{what}: a {self.arch} model cannot do this; use {other}")
        for flag, value in (("temperature", temperature), ("mixture-temperature", mixture_temperature)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"--{flag} must be > 0 and finite, got {value:g}")
        if key is not None:
            key = key if isinstance(key, KeyTold) else KeyTold(check_key(key))
            if not (getattr(arm, "draws_events", False) and arm.settings.tonal):
                raise ValueError(f"--key: {model_said(self.folder)} ({self.arch}) does not hear keys; {HEARS_KEYS}")
        if tempo is not None:
            tempo = tempo if isinstance(tempo, TempoTold) else TempoTold(float(tempo))
            if not getattr(arm, "draws_events", False):
                raise ValueError(f"--tempo: {model_said(self.folder)} ({self.arch}) draws no note starts; the shipped "
                                 "default does (and events-onsets, events-v28)")
        follows = getattr(getattr(arm, "generator", None), "style", None) is not None  # a description (ar.style)
        walks = follows and getattr(arm, "draws_events", False)  # a path of descriptions (stored paths: the arm checks)
        for flag, given in (("--composer", composer), ("--like", like)):
            if given is not None and not walks:
                raise ValueError(f"{flag}: {model_said(self.folder)} ({self.arch}) walks no performance's path; the "
                                 "shipped default does (and events-onsets, events-v28)")
        if style is not None and not follows:
            raise ValueError(f"--style: {model_said(self.folder)} ({self.arch}) does not follow a description; "
                             "the shipped default does (and `style`), or any model trained with ar.style")
        if guidance is not None:
            if not follows:
                raise ValueError(f"--guidance: {model_said(self.folder)} ({self.arch}) does not follow a description; "
                                 "the shipped default does, or any model trained with ar.style")
            if prompt is not None and style is None and not arm.settings.prompt_told:
                raise ValueError("--guidance: a continued --prompt is heard, not told a description (ar.prompt_told "
                                 "false); ask a --style to guide it by")
            if style is None and prompt is None and not arm.settings.style_drawn:
                raise ValueError(f"--guidance: {model_said(self.folder)} is set to tell its pieces no description "
                                 "(ar.style_drawn false); ask a --style to guide them by")
            if not (math.isfinite(guidance) and guidance >= 0):
                raise ValueError(f"--guidance must be ≥ 0 and finite, got {guidance:g}")
        if mixture_temperature is not None and getattr(arm, "draws_events", False):
            raise ValueError("--mixture-temperature: an events model has no mixture; its --temperature is the key's")
        if tempered:
            arm.ends = bool(ends)
            settings = arm.settings
            arm.temperature = temperature if temperature is not None else settings.temperature
            arm.mixture_temperature = (mixture_temperature if mixture_temperature is not None
                                       else settings.mixture_temperature)
        if continues:
            past, options = None, {"project": self.project} if tempered and arm.settings.project else {}
            if style is not None:
                options["style"] = style
            if guidance is not None:
                options["guidance"] = guidance
            if key is not None:
                options["key"] = key
            if tempo is not None:
                options["tempo"] = tempo
            if composer is not None:
                options["composer"] = composer
            if like is not None:
                options["like"] = like
            if prompt is not None:
                latents, sets = self.ae.encode_events(prompt)  # [P, L], [P, N]
                past = self.normaliser.forward(latents.float().cpu())
                if getattr(arm, "draws_events", False):  # its head may hear the prompt's events (ar.carry, ar.tonal)
                    options["prompt_sets"] = sets
            x, lengths = arm.sample(n, chunks, seed, prompt=past, **options)  # [S, P + T, L] standardised, [S]
        else:
            x, lengths = arm.sample(n, chunks, seed)  # [S, T, L] standardised, [S]
        x = self.normaliser.inverse(x)
        pieces = [x[i, :int(length)] for i, length in enumerate(lengths.tolist())]
        if snap_to_real and self.codebook is not None:  # the generated chunks; a prompt stays as it was encoded
            first = 0 if prompt is None else x.shape[1] - chunks
            pieces = [torch.cat([piece[:first]] + [snap(piece[lo:lo + BLOCK_CHUNKS], self.codebook_std, self.codebook,
                                                        self.normaliser)
                                                   for lo in range(first, piece.shape[0], BLOCK_CHUNKS)])
                      for piece in pieces]
        return pieces

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised latents [S, L] → those of the sets they decode to, standardised (ar.project)."""
        return self.normaliser.forward(self.ae.project(self.normaliser.inverse(x)).to(x.device))

    def sample(self, n: int = 1, seconds: float = 16.0, seed: int = 0, snap_to_real: bool = True, **options) -> list[Events]:
        pieces = self.sample_latents(n, seconds, seed, snap_to_real, **options)
        return sampled_events(self.arm, self.ae, pieces, options.get("prompt"))


def sampled_events(arm: SequenceModel, ae: Autoencoder, pieces: list[torch.Tensor],
                   prompt: Events | None = None) -> list[Events]:
    """The events of the pieces the arm just sampled (latents [T_s, L] each, a prompt's chunks first): a prompt's
    own events, as played (every note, though the arm hears at most ae.max_events a chunk), followed by what the arm
    drew after it: for an arm that draws events (`draws_events`) those events, for another the autoencoder's decode
    of its latents from the prompt's end."""
    c = ae.chunk_seconds
    first = prompt_chunks(ae, prompt)
    if getattr(arm, "draws_events", False):
        drawn = [arm.drawn_events(i, piece.shape[0] - first, c, first) for i, piece in enumerate(pieces)]
    else:
        drawn = [decode_piece(ae, latent) for latent in pieces]
        if prompt is None:
            return drawn
        drawn = [piece.take(np.flatnonzero(piece.start_s >= first * c - 1e-9)) for piece in drawn]
    given = [] if prompt is None else [prompt]
    # a lift between a prompt's pedal held past its end and a press drawn just after it closed as drawn ones are
    join_s = (0.0 if prompt is None else arm.settings.pedal_join_s if getattr(arm, "draws_events", False)
              else ae.pedal_join_s)
    return [release_by(join_pedal_runs(Events.concatenate(given + [new]), join_s, from_s=first * c - 1e-9),
                       piece.shape[0] * c + RELEASE_S, after_sound=True) for new, piece in zip(drawn, pieces)]


def decode_piece(ae: Autoencoder, latent: torch.Tensor) -> Events:
    """One piece's latents [T, L] → events, block by block, every note and pedal released by RELEASE_S after
    its last chunk, and every pedal by the time its notes stop sounding. (A pedal run or a restruck key that
    crosses a block boundary is not joined across it: one place in 17 min.)"""
    blocks = [ae.decode_events(latent[lo:lo + BLOCK_CHUNKS], start_chunk=lo)
              for lo in range(0, latent.shape[0], BLOCK_CHUNKS)]
    events = blocks[0] if len(blocks) == 1 else Events.concatenate(blocks)
    return release_by(events, latent.shape[0] * ae.chunk_seconds + RELEASE_S, after_sound=True)


def written_meta(text: str, key: KeyTold | None, tempo: TempoTold | None, asked_from_s: float, end_s: float,
                 played: Events | None = None, spelled: list[str] | None = None,
                 grid: FileGrid | None = None) -> FileMeta:
    """What a generated file says beside its notes (midi.FileMeta): `text` (how it was made), the key signatures of
    the `key` asked (each as `spelled` by the user where given: Gb major with flats, F# major with sharps) and the
    tempo map of the `tempo` asked, both from `asked_from_s` (after a prompt) on. A steady tempo starts with one beat
    long enough (a pickup) that its beats fall where the notes `played` fall on average (tempo.beat_phase_s), so that a
    sequencer's grid lines sit under the piece's beat; a tempo that moves is written beat by beat from
    `asked_from_s`. Before `asked_from_s`, the prompt's own `grid` (midi.read_prompt: its tempos, time and key
    signatures; the caller cuts it where the prompt ends, midi.grid_until, or times it from there, midi.grid_from),
    going on where nothing else is asked; else 120 bpm throughout without a tempo asked."""
    stretches = key.stretches() if key else []
    spelled = spelled if spelled is not None and len(spelled) == len(stretches) else [None] * len(stretches)
    keys = tuple((asked_from_s + at_s, sharps(asked, as_spelled), asked.minor)
                 for (at_s, asked), as_spelled in zip(stretches, spelled)
                 if asked_from_s + at_s < end_s or at_s == 0.0)  # (one asked after a piece that ended: not written)
    if grid is not None:  # (its key signatures up to a key asked, all of them where none is)
        keys = tuple(k for k in grid.keys if key is None or k[0] < asked_from_s) + keys
    if tempo is None:
        return FileMeta(text, keys, grid.tempos, grid.meters) if grid else FileMeta(text, keys)
    before = [] if grid is None else [(at_s, bpm) for at_s, bpm in grid.tempos if at_s < asked_from_s]  # 0 s first
    meters = () if grid is None else tuple(meter for meter in grid.meters if meter[0] < asked_from_s)
    if grid is not None and grid.meters and not meters:  # (a continuation alone: the prompt's meter, its bars from
        meters = ((asked_from_s, *grid.meters[-1][1:]),)  # the tempo asked, not the prompt's pickup)
    tempos = before or ([(0.0, 120.0)] if asked_from_s > 0 or end_s <= 0 else [])
    at_s = asked_from_s
    if not tempo.later and played is not None:  # a pickup beat, so that the beats after it fall on the notes'
        beat_s = 60.0 / tempo.bpm
        phase_s = beat_phase_s(played, beat_s, asked_from_s)
        if phase_s is not None and phase_s > 1e-3:
            pickup_s = phase_s if phase_s >= beat_s / 2 else phase_s + beat_s  # (no faster than twice the tempo)
            tempos.append((at_s, round(60.0 / pickup_s, 2)))
            at_s += pickup_s
    while at_s < end_s:  # a beat at a time: each at the tempo asked where it starts
        bpm = round(tempo.at(at_s - asked_from_s).bpm, 2)
        if not tempos or tempos[-1][1] != bpm:
            tempos.append((at_s, bpm))
        if not tempo.later:
            break
        at_s += 60.0 / bpm
    return FileMeta(text, keys, tuple(tempos), meters)


def like_from(like: Events, seconds: float, path: str | Path = "--like") -> Events:
    """The performance to walk (generate --like) from `seconds` on (--like-seconds), timed from there: the notes struck
    from then on and the pedals down then or pressed later (`continuation_only`)."""
    if not seconds >= 0:
        raise ValueError(f"--like-seconds must be ≥ 0, got {seconds:g}")
    later = continuation_only(like, seconds)
    if not later.is_note.any():
        struck_s = like.start_s[like.is_note]
        last = (f"its last note starts at {clock_text(struck_s.max())} ({struck_s.max():.1f} s)" if struck_s.size
                else "it holds no note")
        raise ValueError(f"{path}: --like-seconds {clock_text(seconds)}: no note starts then or later; {last}")
    return later


def prompt_until(prompt: Events, seconds: float, chunk_seconds: float, path: str | Path = "--prompt") -> Events:
    """The prompt cut at `seconds` rounded down to a whole chunk (generate --prompt-seconds): the events struck
    before the cut, as played (a chord or a pedal held across the cut rings on, as the model hears it in the chunk
    it starts in), and nothing struck after it; it ends at the cut, so that the continuation's first chunk starts
    there."""
    if not seconds > 0:
        raise ValueError(f"--prompt-seconds must be > 0, got {seconds:g}")
    if seconds > prompt.end_s:
        raise ValueError(f"{path}: --prompt-seconds {clock_text(seconds)} is past its end ({clock_text(prompt.end_s)}); "
                         "give at most that, or leave it out to continue from the end")
    cut_s = math.floor(seconds / chunk_seconds + 1e-9) * chunk_seconds
    if cut_s <= 0:
        raise ValueError(f"--prompt-seconds {seconds:g}: shorter than one chunk ({chunk_seconds:g} s), where the "
                         f"prompt is cut; give at least {chunk_seconds:g}")
    if seconds - cut_s > 1e-6:
        log.warning("--prompt-seconds %s: the prompt is cut at whole chunks of %g s: continued from %s", clock_text(seconds),
                    chunk_seconds, clock_text(cut_s))
    cut = held_on(prompt, cut_s).take(np.flatnonzero(prompt.start_s < cut_s))  # (a pedal down at the cut held on)
    if not cut.is_note.any():
        raise ValueError(f"{path}: no note starts before --prompt-seconds {seconds:g} (cut at whole "
                         f"{chunk_seconds:g} s chunks: {cut_s:g} s)")
    return ending_at(cut, cut_s - 1e-6)  # (just inside the last chunk before the cut: no empty chunk after it)


def ending_at(events: Events, end_s: float) -> Events:
    """`events` as a performance that ends at `end_s`, though what it holds may ring on past it (a prompt cut where
    its pedal or chord is still down: the continuation's first chunk starts there). Set after construction, which
    would end it after its last sound."""
    ended = Events(events.ids, events.start_s, events.duration_s, events.intensity)
    ended.end_s = end_s
    return ended


def continued_prompt(prompt: Events, ae: Autoencoder, seconds: float | None = None,
                     path: str | Path = "--prompt") -> Events:
    """What a continuation of `prompt` goes on from: the prompt cut at `seconds` (--prompt-seconds: `prompt_until`;
    said where its last note before the cut ends SILENT_PROMPT_S or more before it), else ended where its last note
    ends (a file that runs on silent, to a controller, a pedal held or pressed again, or its end a minute later, is
    not waited out; said where it runs on more than a second; a pedal down then rings on into the continuation).
    Said too where a 0.25 s chunk holds more events than the model hears (ae.max_events): the file keeps them all,
    as played."""
    if seconds is not None:
        prompt = prompt_until(prompt, seconds, ae.chunk_seconds, path)
    last_s = float((prompt.start_s + prompt.duration_s)[prompt.is_note].max(initial=0.0))  # its last note's end
    if seconds is not None and prompt.end_s - last_s >= SILENT_PROMPT_S:
        log.warning("%s: its last note before the cut at %s ends at %s: the continuation starts after %.0f s of "
                    "silence", path, clock_text(prompt.end_s), clock_text(last_s), prompt.end_s - last_s)
    elif seconds is None and prompt.end_s - last_s > 1.0:
        log.warning("%s: its last note ends at %s and the file runs on without one to %s: continued from its last "
                    "note", path, clock_text(last_s), clock_text(prompt.end_s))
        held = held_on(prompt, last_s)  # (a pedal down then rings on; one pressed after it is left out)
        prompt = ending_at(held.take(np.flatnonzero(prompt.start_s < last_s)), last_s)
    unheard = chunk_events(prompt, ae.chunk_seconds, ae.max_events).dropped
    if unheard:
        log.warning("%s: %d of its %d events fall in %g s chunks of more than %d, of which the model hears the first "
                    "%d; the file keeps them all", path, unheard, len(prompt.ids), ae.chunk_seconds, ae.max_events,
                    ae.max_events)
    return prompt


def held_on(events: Events, at_s: float, join_s: float = 2e-3) -> Events:
    """`events` with each pedal down at `at_s` held on through the changes of depth that follow it without a lift
    (each a press of its own, starting where the one before ends within `join_s`), as one press: cut at `at_s`, the
    pedal is not lifted where its depth changed after it."""
    duration = events.duration_s.copy()
    ends_s = events.start_s + events.duration_s  # [E]
    for i in np.flatnonzero(~events.is_note & (events.start_s < at_s) & (ends_s >= at_s)):  # (one changing at it too)
        end_s, same = ends_s[i], np.flatnonzero(events.ids == events.ids[i])  # [K]: that pedal's presses
        for j in same[np.argsort(events.start_s[same], kind="stable")]:
            if end_s - join_s <= events.start_s[j] <= end_s + join_s:
                end_s = max(end_s, ends_s[j])
        duration[i] = end_s - events.start_s[i]
    return Events(events.ids, events.start_s, duration, events.intensity, events.end_s)


def prompt_chunks(ae: Autoencoder, prompt: Events | None) -> int:
    """How many chunks the model hears `prompt` as (0 without one)."""
    return 0 if prompt is None else chunk_events(prompt, ae.chunk_seconds, ae.max_events).num_chunks


def prompt_span_s(ae: Autoencoder, prompt: Events | None) -> float:
    """Where a continuation of `prompt` starts: the span of its chunks as the model hears them (0 without one)."""
    return prompt_chunks(ae, prompt) * ae.chunk_seconds


def written_pieces(gan: GANModel, n: int, seconds: float, seed: int, snap_to_real: bool = True, select: bool = False,
                   **options) -> tuple[list[torch.Tensor], list[Events]]:
    """The pieces `tsm generate` writes: their latents ([T_s, L] each, a prompt's chunks first) and events
    (GANModel.sample_latents, then `sampled_events`; with `select`, those the model's critic keeps:
    `selected_pieces`; a model without a critic, or a `prompt`, refuses it in one line). A piece without a single
    note (a model may stall in silence: 1 % of the shipped default's 16 s pieces) is drawn again with another seed,
    at most SILENT_REDRAWS times (with a prompt: a continuation without a note of its own); the same seed still gives
    the same pieces. (The benches sample without this, so their figures count such pieces.) Where each piece walked a
    training performance's path (ar.style_path), `gan.walked` names it, piece by piece (None with `select`)."""
    prompt = options.get("prompt")

    def draw(count: int, seed: int) -> tuple[list[torch.Tensor], list[Events]]:
        if select:
            return selected_pieces(gan, count, seconds, seed, snap_to_real, **options)
        latents = gan.sample_latents(count, seconds, seed, snap_to_real, **options)
        return latents, sampled_events(gan.arm, gan.ae, latents, prompt)

    latents, events = draw(n, seed)
    walked = None if select else getattr(gan.arm, "walked_from", None)  # (the critic's rounds: not kept track of)
    walked = None if walked is None else list(walked)
    new_from_s = prompt_span_s(gan.ae, prompt)

    def silent() -> list[int]:  # the pieces without a note of their own (a prompt's notes do not count)
        return [i for i, piece in enumerate(events) if not (piece.is_note & (piece.start_s >= new_from_s - 1e-9)).any()]

    for redraw in range(1, SILENT_REDRAWS + 1):
        if not (quiet := silent()):
            break
        log.info("%d of %d pieces without a new note: drawn again", len(quiet), n)
        for j, (i, latent, piece) in enumerate(zip(quiet, *draw(len(quiet), seed + redraw * REDRAW_SEED_STEP))):
            latents[i], events[i] = latent, piece
            if walked is not None:
                walked[i] = gan.arm.walked_from[j]
    if quiet := silent():
        why = ""
        if prompt is not None:
            last_note_s = float(prompt.start_s[prompt.is_note].max(initial=0.0))
            if new_from_s - last_note_s > SILENT_PROMPT_S:  # the model continues the silence it hears
                why = (f" (the prompt's last note starts at {last_note_s:.1f} s and it runs on silent to "
                       f"{new_from_s:.1f} s: cut it with --prompt-seconds)")
        log.warning("%d of %d pieces have no new note after %d draws; written as they are%s", len(quiet), n,
                    SILENT_REDRAWS + 1, why)
    gan.walked = walked
    return latents, events


def drawn_in_batches(gan: GANModel, n: int, seconds: float, seed: int, snap_to_real: bool = True,
                     select: bool = False, only: Collection[int] | None = None,
                     **options) -> Iterator[tuple[int, list[torch.Tensor], list[Events]]]:
    """`written_pieces` of n pieces, BATCH_PIECES at a time, so that a large -n is written as it is drawn rather than
    held whole: (the index of the batch's first piece, its latents, its events) per batch. Batch b draws with seed +
    b × BATCH_SEED_STEP, so up to BATCH_PIECES pieces are drawn together, as before, and the same seed and n still
    give the same pieces. With `only` (indices of pieces), the batches holding none of them are not drawn: each piece
    is drawn with those drawn together with it, so that it is the same piece as in the whole run."""
    for first in range(0, n, BATCH_PIECES):
        count = min(BATCH_PIECES, n - first)
        if only is not None and not any(first <= i < first + count for i in only):
            continue
        yield first, *written_pieces(gan, count, seconds, seed + first // BATCH_PIECES * BATCH_SEED_STEP,
                                     snap_to_real, select, **options)


SELECT_NO_PROMPT = ("--select cannot be used with --prompt: the critic judges whole pieces the model drew, not the "
                    "continuation of a performance you bring")


def critic_hint(gan: GANModel) -> str:
    """How a model without a critic gets one: the command that trains it into the very folder the model was read
    from, with the corpus it was trained on where that is still there, ready to paste; a shipped model is not changed
    in place (train.critic), so for one of those, a copy."""
    import shlex

    if shipped_name_of(gan.folder):
        return ("the shipped default has one; or copy this model's folder and train the copy's: python -m "
                "timestepmusic.train.critic COPY --corpus CORPUS")
    root = (gan.meta.get("corpus") or {}).get("root")
    corpus = shlex.quote(str(root)) if root and Path(root).is_dir() else "CORPUS"  # (where it was trained, if still there)
    return f"train one with: python -m timestepmusic.train.critic {shlex.quote(str(gan.folder))} --corpus {corpus}"


def check_selectable(gan: GANModel, seconds: float, **options) -> None:
    """`--select` needs a readable critic beside the model and pieces of the model's own, at least one critic window
    long and as long as asked; otherwise ValueError in one line."""
    if gan.critic is None:
        raise ValueError(f"--select: {gan.critic_error}" if gan.critic_error else
                         f"--select: {model_said(gan.folder)} has no critic ({CRITIC}); {critic_hint(gan)}")
    if options.get("prompt") is not None:
        raise ValueError(SELECT_NO_PROMPT)
    if options.get("ends"):
        raise ValueError("--select: pieces that end themselves (--max-seconds) are written as drawn (the critic "
                         "judges pieces of one length: it would keep short ones for their silence); give --seconds")
    if seconds < gan.critic.window_s:
        raise ValueError(f"--select: the critic judges windows of {gan.critic.window_s:g} s; give --seconds of at "
                         f"least that (got {seconds:g})")


def selected_pieces(gan: GANModel, n: int, seconds: float, seed: int, snap_to_real: bool = True,
                    **options) -> tuple[list[torch.Tensor], list[Events]]:
    """`n` pieces its critic keeps (critic.py: each drawn piece kept with probability min(1, exp(score − shift)), the
    shift keeping the critic's kept share of each draw on average), in the order drawn: candidates are drawn in
    rounds (round k at seed + k × SELECT_SEED_STEP, as many as the critic's kept share should need, × SELECT_MARGIN,
    at most SELECT_MOST), until n are kept or SELECT_ROUNDS have been drawn, when the best scored of those passed
    over fill the rest (said in the log). The same seed and n give the same pieces. What `check_selectable` refuses:
    ValueError in one line."""
    check_selectable(gan, seconds, **options)
    critic = gan.critic
    rng = np.random.default_rng([seed, 1])  # whether each candidate is kept
    kept: list[tuple[torch.Tensor, Events]] = []
    passed: list[tuple[float, torch.Tensor, Events]] = []  # (score, latents, events) of those not kept
    drawn = 0
    for round_ in range(SELECT_ROUNDS):
        count = min(math.ceil((n - len(kept)) / critic.kept_share * SELECT_MARGIN), SELECT_MOST[0] * n + SELECT_MOST[1])
        latents = gan.sample_latents(count, seconds, seed + round_ * SELECT_SEED_STEP, snap_to_real, **options)
        events = sampled_events(gan.arm, gan.ae, latents)
        scores = critic.scores(events, [latent.shape[0] * gan.ae.chunk_seconds for latent in latents])  # [count]
        keep = critic.kept(scores, rng)  # [count]
        drawn += count
        for score, latent, piece, chosen in zip(scores.tolist(), latents, events, keep.tolist()):
            if chosen and len(kept) < n:
                kept.append((latent, piece))
            else:
                passed.append((score, latent, piece))
        if len(kept) == n:
            log.info("the critic kept %d of %d pieces drawn", n, drawn)
            break
        passed = sorted(passed, key=lambda x: -x[0])[:n - len(kept)]  # (only the best scored may still fill in)
    else:
        log.warning("the critic kept %d of %d pieces drawn; the best scored %d of the others fill in", len(kept), drawn,
                    n - len(kept))
        kept += [(latent, piece) for _, latent, piece in passed[:n - len(kept)]]
    return [latent for latent, _ in kept], [piece for _, piece in kept]


def sample_name(seed: int, i: int, n: int) -> str:
    """The file name of piece `i` of `n` drawn with `seed`: numbered with as many digits as the largest needs (at
    least 3), so that a sorted listing keeps the pieces in order."""
    return f"sample_{seed}_{i:0{max(3, len(str(n - 1)))}d}.mid"


def earlier_samples(out: Path, seed: int, overwrite: bool, inputs: dict[str, str | Path | None] | None = None,
                    writes: Collection[Path] = (), only: list[Path] | None = None) -> list[Path]:
    """The files an earlier run with this seed wrote into `out` (any -n, any kind: MIDI, PNG, WAV, named exactly as
    this tool names them: `sample_name`'s, a .png or .wav beside one), refused in one line unless `overwrite` (then the
    caller deletes them once the new pieces are drawn): nothing an earlier run wrote is silently replaced or mixed
    with this one, and nothing else is touched (a user's sample_0_000_edit.mid, a folder). A file this run reads
    (`inputs`: flag → path, e.g. the --prompt) among them is refused even so: --overwrite never deletes what it was
    given. A name this run `writes` that is a folder is refused before anything is drawn or deleted. With `only` (the
    files of the pieces written alone: --piece), the earlier files are only those among them: a piece's roll or audio
    that this run does not write again stays.
    """
    ours = re.compile(rf"sample_{seed}_\d{{3,}}\.(mid|png|wav)")
    kept_to = None if only is None else set(only)
    taken = sorted(p for p in out.iterdir() if ours.fullmatch(p.name) and p.is_file()
                   and (kept_to is None or p in kept_to)) if out.is_dir() else []
    marked = {path for path in taken if path.suffix == ".mid" and made_by_marker(path) is not None}  # (read once)
    for path in taken:  # --overwrite replaces what this tool wrote, never a file of the user's under its name
        if not written_here(path, marked):
            why = ("no marker of this tool's in it: a file of yours, or of a version before the markers"
                   if path.suffix == ".mid" else
                   f"not a {path.suffix[1:].upper()} file beside a MIDI file this tool wrote")
            raise ValueError(f"{path} is there already and is not a file tsm generate wrote ({why}), so "
                             "--overwrite leaves it; move it, or give another -o or --seed")
    if taken and not overwrite:
        raise ValueError(f"{taken[0]} is there already ({len(taken)} file(s) of an earlier run with --seed "
                         f"{seed}); give another -o or --seed, or --overwrite to replace them")
    resolved = {path.resolve() for path in taken}
    for flag, given in (inputs or {}).items():
        if given is not None and Path(given).resolve() in resolved:
            raise ValueError(f"{flag} {given}: a file of the earlier run with --seed {seed} in {out}, which "
                             "--overwrite would replace; copy it elsewhere first, or give another -o or --seed")
    folders = {path for path in out.iterdir() if path.is_dir()} if out.is_dir() else set()  # (one listing, not a
    in_the_way = sorted(folders.intersection(writes))  # look at each name: a large -n writes many)
    if in_the_way:
        raise ValueError(f"{in_the_way[0]}: a folder where this run would write a file; move it, or give another -o or "
                         "--seed")
    return taken


PNG_START, WAV_START = b"\x89PNG\r\n\x1a\n", b"RIFF"  # how the rolls and the audio this tool writes begin


def written_here(path: Path, marked: set[Path]) -> bool:
    """Whether a file named as generate names its files is one it writes: a MIDI file with its marker (made_by: those
    `marked`); a PNG or WAV file (by its first bytes) beside such a MIDI file of its name (rolls and audio carry no
    marker: one of the user's alone is theirs)."""
    if path.suffix == ".mid":
        return path in marked
    with open(path, "rb") as file:
        start = file.read(12)
    kind = start.startswith(PNG_START) if path.suffix == ".png" else start.startswith(WAV_START) and start[8:] == b"WAVE"
    return kind and path.with_suffix(".mid") in marked


def replace_earlier(taken: list[Path], rewritten: set[Path], seed: int) -> None:
    """--overwrite, once the new pieces' first are drawn: remove the earlier run's files `taken` (`earlier_samples`; a
    PNG or WAV of it would otherwise sit beside a new MIDI file), but a MIDI file this run writes again (`rewritten`),
    which its new one replaces in one step (a write that fails, on a full disk, leaves the old one), and name those
    this run does not write again."""
    for old in taken:
        if old not in rewritten or old.suffix != ".mid":
            old.unlink()
    removed = [old for old in taken if old not in rewritten]
    if removed:
        log.warning("--overwrite: removed %d file(s) of the earlier run with --seed %d that this run did not write "
                    "again: %s", len(removed), seed, named([path.name for path in removed]))


def generate(out: str | Path, *, model: str | Path | None = None, n: int = 8, seconds: float = 16.0, seed: int = 0,
             device: str = "cpu", snap_to_real: bool = True, overwrite: bool = False,
             pieces: Sequence[int] | None = None, **options) -> list[Path]:
    """Write `n` MIDI files into `out` from a model of any arch; the same seed gives the same files. `seconds`
    is each piece's length, or for an arch that ends its pieces itself, the longest one may run. `options`
    (likelihood arm): prompt=Events or a MIDI file, ends=bool, temperature=float, mixture_temperature=float, and
    for the default style="density=6", key="E minor", tempo=90, composer="Bach", like=a MIDI file (`api_options`;
    GANModel.sample_latents); a piece without a note is drawn again (`written_pieces`). Files of an earlier
    run with the same seed in `out` are refused unless `overwrite` (`earlier_samples`), and so is a second generate
    writing the same seed into `out` meanwhile (the command's lock). `pieces`: write only these
    of the n (numbered as their files, from 0), the same notes as in the whole run (`drawn_in_batches`); an earlier
    run's other files are then neither refused nor removed."""
    if not whole(n):
        raise ValueError(f"-n must be a whole number from 1 to {PIECES_LIMIT:,}, got {n!r}")
    if not 1 <= n <= PIECES_LIMIT:
        raise ValueError(f"-n must be from 1 to {PIECES_LIMIT:,}, got {n:,}")
    if not (whole(seed) and 0 <= seed <= SEED_LIMIT):  # (as --seed: the sampler's streams are derived from it)
        raise ValueError(f"seed must be a whole number from 0 to {SEED_LIMIT}, got {seed!r}")
    check_piece_seconds(seconds)
    with held_folder(out, f".generate-seed{seed}.lock", f"{out}: another generate is writing seed {seed}'s pieces "
                     "into it now; wait for it to end, or give another folder or seed"):  # (the command's lock)
        return _generated(Path(out), model, n, seconds, seed, device, snap_to_real, overwrite, pieces, options)


def whole(number) -> bool:
    """Whether `number` is a whole number (an int or numpy integer; not a bool, a float or a string)."""
    return isinstance(number, (int, np.integer)) and not isinstance(number, bool)


def _generated(out: Path, model: str | Path | None, n: int, seconds: float, seed: int, device: str, snap_to_real: bool,
               overwrite: bool, pieces: Sequence[int] | None, options: dict) -> list[Path]:
    """`generate` within its folder's lock."""
    chosen = chosen_pieces(pieces, n)
    names = {i: out / sample_name(seed, i, n) for i in chosen}
    taken = earlier_samples(out, seed, overwrite, writes=list(names.values()),  # (a prompt here is events, not a file)
                            only=None if pieces is None else list(names.values()))
    check_api_options(options)  # (a misspelled one, before the model loads)
    gan = GANModel.load(model, device)
    options = api_options(gan, seconds, options)
    if options.get("prompt") is not None:  # (continued from its last sound, as by the CLI)
        options["prompt"] = continued_prompt(options["prompt"], gan.ae, path="prompt")
    replaced = False
    for first, _, drawn in drawn_in_batches(gan, n, seconds, seed, snap_to_real,
                                            only=None if pieces is None else chosen, **options):
        if not replaced:  # (once the first pieces are drawn)
            replace_earlier(taken, set(names.values()), seed)
            replaced = True
        for j, events in enumerate(drawn):
            if first + j in names:  # (a marker, so that --overwrite knows the file for this tool's)
                write_events(events, names[first + j], FileMeta(f"{made_version()}: generate() in Python, seed "
                                                                 f"{seed}, piece {first + j} of {n}"))
    return list(names.values())


def check_api_options(options: dict) -> None:
    """generate()'s `options`: a name GANModel.sample_latents does not take is a ValueError naming it (and the
    nearest it takes)."""
    import inspect

    known = [name for name, p in inspect.signature(GANModel.sample_latents).parameters.items()
             if p.kind is p.KEYWORD_ONLY]
    for name in options:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            raise ValueError(f"generate(): no option {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                             + f"; it takes {', '.join(known)}")


def api_options(gan: GANModel, seconds: float, options: dict) -> dict:
    """generate()'s `options` as the CLI's flags read them: `prompt` and `like` a MIDI file's path or events, `style`
    and `key` their text (`"density=6"`, `"loudness=45 > loudness=80"`, `"E minor > G@20"`) or parsed values."""
    from .keys import parse_key_path
    from .midi import read_events
    from .sequence.style import asked_style

    options = dict(options)
    for name in ("prompt", "like"):
        if isinstance(options.get(name), (str, Path)):
            options[name], _ = read_events(options[name], pedal_bins=gan.ae.config.events.pedal_bins)
    if isinstance(options.get("style"), str):
        options["style"] = asked_style(options["style"], seconds)
    if isinstance(options.get("key"), str):
        options["key"] = KeyTold.timed(parse_key_path(options["key"]), seconds)
    return options


def chosen_pieces(pieces: Sequence[int] | None, n: int) -> Sequence[int]:
    """The pieces of n to write (--piece): all of them (a range, not a list of n), or those given, each once and in
    order; one outside 0 … n − 1 is refused in one line."""
    if pieces is None:
        return range(n)
    outside = [i for i in pieces if not 0 <= i < n]
    if outside or not pieces:
        shown = (f"{outside[0]} is" if len(outside) == 1 else f"{min(outside)} … {max(outside)} are" if outside
                 else "none is")
        raise ValueError(f"--piece: {shown} not among the pieces of -n {n}, numbered 0 to {n - 1} as their files "
                         f"(sample_SEED_{0:03d}.mid …)")
    return sorted(set(pieces))


# settings of the ar section that only one of its two arms reads (model_info leaves out the other arm's)
EVENTS_ONLY = ("head_hidden", "pedal_join_s", "pedal_join_share", "carry", "drawn_share", "intervals", "tonal", "style",
               "voices", "pulse", "pulse_lr_scale", "onsets", "onsets_leans", "onsets_lr_scale", "in_bins", "style_drawn",
               "style_pause", "style_guidance", "request_guidance", "pedal_guidance", "pedals_as_told", "prompt_told",
               "start_temperature", "stop_bias", "empty_bias", "empty_ramp_s", "beat_echo",
               "echo_recency_s", "cluster_guard", "soft_kept_up",
               "velocity_temperature", "style_path", "register_guard", "register_margin", "register_window_s",
               "register_min_p", "damper_bias", "register", "step_lean", "join_bias", "restrike_guard",
               "request_calibrated")
LATENTS_ONLY = ("mixture", "head", "mixture_temperature", "project")


def set_sampling(gan: GANModel, assignments: list[str]) -> set[str]:
    """`tsm generate --set ar.NAME=VALUE …`: sample with these settings of an ar or events model, each one that only
    sampling reads (config.SAMPLING_SETTINGS), checked as training's --set checks them; anything else refused in one
    line. → the keys set ("ar.NAME")."""
    if not assignments:
        return set()
    if not getattr(gan.arm, "tempered", False):
        raise ValueError(f"--set: {model_said(gan.folder)} is a GAN ({gan.arch}); --set changes sampling settings of "
                         "ar and events models")
    unread = LATENTS_ONLY if gan.arch == "events" else EVENTS_ONLY
    readable = [name for name in SAMPLING_SETTINGS if name not in unread]  # what this model's arm reads
    for assignment in assignments:
        key = assignment.partition("=")[0].strip()
        section, _, name = key.partition(".")
        if section != "ar" or name not in SAMPLING_SETTINGS:
            near = difflib.get_close_matches(name, readable, n=1) if section == "ar" else []
            hint = f" (did you mean ar.{near[0]}?)" if near else ""
            raise ValueError(f"--set {assignment}: {key or 'that'} is not a setting generate changes{hint}; give "
                             f"ar.NAME=VALUE with one of this {gan.arch} model's sampling settings: "
                             f"{', '.join('ar.' + n for n in readable)}")
        if name in unread:
            raise ValueError(f"--set {assignment}: an {gan.arch} model does not read ar.{name}")
    gan.arm.settings = checkpoint_config(gan.meta).override(assignments).ar
    return {assignment.partition("=")[0].strip() for assignment in assignments}


def model_info(model: str | Path | None = None) -> dict:
    """How a model was trained and samples, for `tsm generate --info`. `trained` and `step` are those of the run
    that wrote the weights; a warm-started run names where it started (`initialised_from`), and a shipped
    model's description tells its whole history."""
    path = resolve_model(model)
    folder, meta = read_meta(path)
    if meta.get("kind") == "autoencoder":  # (its config reads as a conv model's: said, not described as one)
        raise ValueError(f"{model}: an autoencoder (for --ae of reconstruct and train-gan), not a model that "
                         "generates; --list names those")
    config = checkpoint_config(meta)
    arch = meta.get("arch", "conv")
    likelihood = arch in ("ar", "events")  # trained by gan.steps and gan.seed, otherwise by the ar section
    gan = meta["config"]["gan"]
    ar = config.to_dict()["ar"] if likelihood else None
    if ar is not None:
        other = set(LATENTS_ONLY if arch == "events" else EVENTS_ONLY)
        if arch == "ar" and ar["head"] == "dimwise":
            other.discard("head_hidden")  # the dimwise head's width too
        ar = {k: v for k, v in ar.items() if k not in other}
    trained = meta.get("trained")
    if trained is not None and meta.get("initialised_from"):
        trained = trained | {"note": "this run's own training, after its warm start (initialised_from); the "
                                     "description tells the whole history"}
    return {"model": str(folder), "arch": arch, "summary": meta.get("summary"), "trained": trained,
            "initialised_from": meta.get("initialised_from"),
            "corpus": meta.get("corpus"), "step": meta.get("step"),
            "gan": {k: gan[k] for k in ("steps", "seed", "validate_every") if k in gan} if likelihood else gan,
            "ar": ar,
            "chunks": meta["config"]["chunks"], "encoding": meta["config"]["encoding"]["encoding"],
            "latent": config.ae.latent, "recurrent": config.to_dict()["rnn"] if arch == "rnn" else None,
            "autoencoder_finetuned": "finetuned_sha256" in meta.get("autoencoder", {}),
            "description": meta.get("description"), "style_calibration": calibration_summary(meta, folder),
            "takes_key": arch == "events" and bool(ar["tonal"]),  # tsm generate --key: an events model with ar.tonal
            "takes_tempo": arch == "events" and ar["beat_echo"] > 0,  # --tempo: one sampled with the beat echo
            "critic": critic_summary(folder), "composers": composers_summary(folder, meta)}


def composers_summary(folder: Path, meta: dict) -> dict[str, int] | str | None:
    """For `--info`: how many training performances of each composer a model's description paths walk (what
    `tsm generate --composer` takes); None where it keeps no paths, {} where they name no composers, and a line where
    they were written before they named any, or cannot be read."""
    if "style_paths" not in meta.get("weights", {}):
        return None
    try:
        paths = StylePaths.from_state(load_tensors(folder, "style_paths"))
    except ValueError as e:
        return f"error: {e}"
    if paths.labels is None:
        return ("unknown: written before paths named their performances; `python -m timestepmusic.train.style_paths "
                "MODEL CORPUS --relabel`")
    return paths.composers()


def critic_summary(folder: Path) -> dict | None:
    """What a model's critic (critic.py) keeps and how it was trained, for `--info`; None where it has none, and
    what is wrong with a damaged one."""
    try:
        critic = PieceCritic.load(folder)
    except ValueError as e:
        return {"error": str(e)}
    if critic is None:
        return None
    return {"kept_share": critic.kept_share, "window_s": critic.window_s, "temperature": round(critic.temperature, 4),
            "trained": critic.trained,
            "note": "with tsm generate --select, each drawn piece kept with probability min(1, exp(score - shift)), the "
                    "shift keeping kept_share of each draw on average"}


def calibration_summary(meta: dict, folder: Path) -> dict | None:
    """How a model's `--style` requests were calibrated (ar.request_calibrated), for `--info`: the attributes and how
    they were measured; None where they were not; a broken calibration: ValueError in one line."""
    calibration = StyleCalibration.of_model(meta, folder / CONFIG)
    if calibration is None:
        return None
    measured = {k: v for k, v in calibration.measured.items() if k != "means"}
    return {"attributes": sorted(calibration.curves), **measured,
            "note": "a --style request for these attributes, at this guidance, is told what played the asked value "
                    "when measured (pieces per told value, their seconds and sampling seed as given); the curves are "
                    "in config.json"}


def export_model(run: str | Path, dest: str | Path, description: str = "") -> Path:
    """Copy what generation needs (generator + its autoencoder, no critic or optimizer) into `dest`: a new or empty
    folder, or one an earlier export wrote (replaced whole); any other (the run itself, a user's folder) is refused in
    one line, not deleted."""
    weights = ("generator", AVERAGED_GENERATOR, "autoencoder", "codebook", "style_paths")  # (+ a fine-tuned autoencoder)
    exported = {f"{key}.safetensors" for key in weights} | {CODEBOOK, CONFIG, "autoencoder", ".DS_Store"}
    if Path(dest).exists():
        foreign = sorted(p.name for p in Path(dest).iterdir() if p.name not in exported) if Path(dest).is_dir() else []
        if not Path(dest).is_dir() or foreign:
            raise ValueError(f"{dest}: " + (f"holds {named(foreign, 1)}, which no export wrote (replacing the folder "
                                            "would delete it)" if foreign else "not a folder")
                             + "; give a new or empty folder to export into")
    folder, meta = read_meta(run if not (Path(run) / "best").is_dir() else Path(run) / "best")
    with atomic_path(dest) as tmp:
        tmp.mkdir()
        kept = [key for key in weights if key in meta["weights"]]  # (style_paths: an events arm with ar.style's)
        for key in kept:
            shutil.copy(folder / f"{key}.safetensors", tmp / f"{key}.safetensors")
        if "codebook" not in kept and (folder.parent / CODEBOOK).is_file():
            shutil.copy(folder.parent / CODEBOOK, tmp / CODEBOOK)
        ae_src = checkpoint_dir(folder.parent / "autoencoder")
        (tmp / "autoencoder").mkdir()
        shutil.copy(ae_src / "pisa.safetensors", tmp / "autoencoder" / "pisa.safetensors")
        ae_meta = json.loads((ae_src / "config.json").read_text())
        ae_meta["optimizers"] = {}
        (tmp / "autoencoder" / "config.json").write_text(json.dumps(ae_meta, indent=1))
        meta = dict(meta, optimizers={}, description=description)
        meta["weights"] = {key: meta["weights"][key] for key in kept}
        (tmp / "config.json").write_text(json.dumps(meta, indent=1))
    return Path(dest)
