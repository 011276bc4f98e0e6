"""Noise → sequence model → latents → PISA decoder → events, for every arch: a model loaded and sampled.

A model is a checkpoint folder (config.json + generator.safetensors) with its autoencoder beside it
(RUN/autoencoder) or inside it (the shipped model). `arch` in config.json names the sequence model
(sequence/), which builds itself from the checkpoint's config. The autoencoder is checked against the
hash the run recorded, so a model is never decoded by an autoencoder it was not trained with.
Long pieces are snapped and decoded block by block, in bounded memory; a piece may last at most
LONGEST_PIECE_S. Shapes: S pieces, T chunks, L latent, K codebook latents.
What a model may be asked (piece lengths, temperatures): sample_limits.py; the events of its sampled latents:
piece_events.py. Which pieces `tsm generate` keeps: draws.py; their files: sample_files.py; the Python API:
generate_api.py.
"""
from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .ar_config import CLOSING_SAMPLING, SAMPLING_SETTINGS
from .autoencoder import Autoencoder
from .checkpoint import CONFIG, autoencoder_beside, load_tensors, load_weights, read_meta
from .config import PRESETS, Config
from .critic import PieceCritic
from .devices import pick_device, rng_kept, without_onednn
from .keys import Key, check_key
from .latents import CODEBOOK, Normaliser, read_codebook, snap
from .midi import Events
from .piece_events import BLOCK_CHUNKS, sampled_events
from .sample_limits import arm_takes, check_piece_seconds, check_temperatures, piece_chunks
from .sequence import AVERAGED_GENERATOR, SequenceModel, arch_class
from .sequence.base import check_sampled, own_arm_hint
from .sequence.pulse import TempoTold
from .sequence.style_calibration import StyleCalibration
from .sequence.style_request import StyleRamp
from .sequence.tonal import HEARS_KEYS, KeyTold
from .set_assignments import assigned_key
from .setting_names import PYTHON_KEYWORDS, said_in_keywords
from .shipped import arch_said, model_said, resolve_model, shipped_name_of

log = logging.getLogger(__name__)


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
        """The model `path` names: a shipped model's name, a run or checkpoint folder (None: the shipped default), on
        `device`; a name that is neither is one line naming this call as given (`GANModel.load('defualt'): …`), or
        within generate() its keyword (model=)."""
        path = resolve_model(path, call=None if said_in_keywords() else "GANModel.load")
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
                       prompt: Events | None = None, ends: bool | None = None, ending: bool = False,
                       temperature: float | None = None, mixture_temperature: float | None = None,
                       style: dict[str, float] | StyleRamp | None = None, guidance: float | None = None,
                       key: Key | KeyTold | None = None,
                       tempo: float | TempoTold | None = None, composer: str | None = None,
                       like: Events | None = None, progress: Callable[[], None] | None = None) -> list[torch.Tensor]:
        """One latent sequence [T_s, L] per piece: `seconds` long, or for an arch that ends its pieces, at most
        that. With `snap_to_real` (and a codebook beside the model) each latent becomes its nearest real
        training-chunk latent. Arms that continue a past (`continues`: the likelihood arm, a conv arm with
        gan.past_chunks) also take a `prompt` (a performance, encoded chunk by chunk, then continued for
        `seconds`; the pieces start with it); the likelihood arm (`tempered`) `ends` (stop where the model
        ends the piece; one with ar.closing_s closes it over its last seconds), `ending` (a piece of a fixed length
        closes over its last seconds too: ar.closing_s) and sampling temperatures (`temperature` of the
        spreads, `mixture_temperature` of the mixture's weights; None: the model's ar settings). An events model
        trained with ar.style plays each piece as `style` asks (sequence/style_request.parse_style; a StyleRamp: each
        asked attribute along a line between waypoints), following its
        description as closely as `guidance` says (None: the model's ar.request_guidance with `style`,
        ar.style_guidance without); one trained with ar.tonal plays each piece in `key` (keys.parse_key's, or
        a tonal.KeyTold that says how it is told); an events model that samples with ar.beat_echo leans each note's
        start toward the beats of `tempo` (beats per minute, or a pulse.TempoTold); one that walks real performances'
        paths of descriptions (ar.style_path) walks those of `composer`'s performances alone, or the path of the
        performance `like` (its events), from its start. A `tempered` arm calls `progress` once per chunk it draws (of
        every piece at once: tsm generate's bar), which changes nothing drawn (other arms call none)."""
        check_piece_seconds(seconds)
        chunks = piece_chunks(seconds, self.ae.chunk_seconds)
        arm = self.arm
        takes = arm_takes(arm)
        continues, tempered = takes["prompt"], takes["tempered"]
        for what, given, able in (("--prompt", prompt is not None, continues),
                                  ("--temperature", temperature is not None, tempered),
                                  ("--mixture-temperature", mixture_temperature is not None, tempered),
                                  ("ending pieces", bool(ends), tempered)):
            if given and not able:
                other = "an ar model, or a conv model trained with gan.past_chunks" if what == "--prompt" else "an ar model"
                raise ValueError(f"{what}: {arch_said(self.arch)} cannot do this; use {other}"
                                 + (own_arm_hint(arm, "continues = True") if what == "--prompt" else ""))
        check_temperatures(temperature, mixture_temperature)
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
                yours = "" if shipped_name_of(self.folder) else (
                    "; a model of yours does when trained as an events model with --set ar.style=true, or from "
                    "--init-from default")
                raise ValueError(f"{flag}: {model_said(self.folder)} ({self.arch}) walks no performance's path; the "
                                 f"shipped default does (and events-onsets, events-v28){yours}")
        if style is not None and not follows:
            raise ValueError(f"--style: {model_said(self.folder)} ({self.arch}) does not follow a description; "
                             "the shipped models default and style do, as does any model trained with ar.style")
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
        if ending and not getattr(arm, "closing_chunks", 0):
            raise ValueError(f"--ending: {model_said(self.folder)} ({self.arch}) was trained without a closing "
                             "(ar.closing_s); the shipped default has one")
        if tempered:
            arm.ends, arm.closes = bool(ends), bool(ending)
            settings = arm.settings
            arm.temperature = temperature if temperature is not None else settings.temperature
            arm.mixture_temperature = (mixture_temperature if mixture_temperature is not None
                                       else settings.mixture_temperature)
        if continues:
            past, options = None, {"project": self.project} if tempered and arm.settings.project else {}
            if progress is not None and tempered:
                options["progress"] = progress
            asked = {"style": style, "guidance": guidance, "key": key, "tempo": tempo, "composer": composer, "like": like}
            options |= {name: value for name, value in asked.items() if value is not None}
            if prompt is not None:
                latents, sets = self.ae.encode_events(prompt)  # [P, L], [P, N]
                past = self.normaliser.forward(latents.float().cpu())
                if getattr(arm, "draws_events", False):  # its head may hear the prompt's events (ar.carry, ar.tonal)
                    options["prompt_sets"] = sets
            x, lengths = arm.sample(n, chunks, seed, prompt=past, **options)  # [S, P + T, L] standardised, [S]
        else:
            past = None
            x, lengths = arm.sample(n, chunks, seed)  # [S, T, L] standardised, [S]
        check_sampled(arm, x, lengths, n, chunks, len(self.normaliser.mean), 0 if past is None else past.shape[0])
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
        """`n` pieces of `seconds` drawn with `seed`, as Events (arrays ids, start_s, duration_s, intensity), written
        nowhere: the pieces `generate()` writes as files, before a file's pedal messages are sent only where their
        value changes (read a written file back with read_events for what it holds) and without generate()'s drawing
        again of a piece without a note. `options` are sample_latents' (prompt, style, key, tempo, composer, like,
        temperature, …), `prompt` and `like` also a MIDI file's path (a prompt's events are continued from their end_s as
        given, where generate() continues them from their last note: prompts.continued_prompt),
        `style`, `key` and `tempo` also their text
        ("density=6", "E minor", "80 > 120"), as generate() takes them; a name it does not take is a ValueError naming it,
        and so is a value of a kind its keyword does not take (n=-1, seconds=None, prompt=123: generate()'s lines)."""
        from .generate_api import api_keywords, api_options, check_api_options, check_arguments
        from .setting_names import keyword_messages

        check_api_options(options, "GANModel.sample()")
        check_arguments({"n": n, "seed": seed, "snap_to_real": snap_to_real} | options)  # (as generate() checks them)
        check_piece_seconds(seconds, names=PYTHON_KEYWORDS)  # (its own: generate()'s None asks a default)
        given_as_text = {name: value for name, value in options.items()  # (parsed as generate() parses them)
                         if name in ("prompt", "like", "style", "key", "tempo") and isinstance(value, (str, Path))}
        with keyword_messages(api_keywords(), options):  # (its keywords named, as generate() names them)
            options |= api_options(self, seconds, given_as_text)
            pieces = self.sample_latents(n, seconds, seed, snap_to_real, **options)
        return sampled_events(self.arm, self.ae, pieces, options.get("prompt"))


# settings of the ar section that only one of its two arms reads (model_info leaves out the other arm's)
EVENTS_ONLY = ("head_hidden", "pedal_join_s", "pedal_join_share", "carry", "drawn_share", "intervals", "tonal", "style",
               "voices", "pulse", "pulse_lr_scale", "onsets", "onsets_leans", "onsets_lr_scale", "in_bins", "style_drawn",
               "style_pause", "style_guidance", "request_guidance", "pedal_guidance", "key_guidance", "pedals_as_told",
               "prompt_told", "start_temperature", "stop_bias", "empty_bias", "empty_ramp_s", "beat_echo",
               "echo_recency_s", "cluster_guard", "soft_kept_up",
               "velocity_temperature", "style_path", "register_guard", "register_margin", "register_window_s",
               "register_min_p", "damper_bias", "register", "step_lean", "join_bias", "restrike_guard",
               "request_calibrated", "duration_tilt", "closing_s", "closing_to", "closing_ring_s", "closing_only", "final_hold",
               "final_ritard", "final_ritard_s", "closing_path", "silence_guard_s", "final_held_s", "final_velocity_floor",
               "soft_join_s", "soft_shortest_s", "soft_bias", "soft_quiet", "register_follow",
               "density_follow", "spread_pull", "path_spread_trim", "figure_echo")
LATENTS_ONLY = ("mixture", "head", "mixture_temperature", "project")
# sampling settings an events model takes only where it was trained with another (ar_config.py refuses them without it)
TRAINED_WITH = {**dict.fromkeys(CLOSING_SAMPLING, "closing_s"), "join_bias": "onsets", "style_path": "style",
                "register_follow": "style", "density_follow": "style", "spread_pull": "style", "path_spread_trim": "style"}


def readable_sampling(arch: str, config: Config) -> list[str]:
    """The sampling settings (ar_config.SAMPLING_SETTINGS) that a model of the arm `arch` (ar or events) trained with
    `config` reads and takes (events-v28, trained without a closing: none of the closing's)."""
    unread = LATENTS_ONLY if arch == "events" else EVENTS_ONLY
    return [name for name in SAMPLING_SETTINGS
            if name not in unread and (name not in TRAINED_WITH or getattr(config.ar, TRAINED_WITH[name]))]


def set_sampling(gan: GANModel, assignments: list[str]) -> set[str]:
    """`tsm generate --set ar.NAME=VALUE …`: sample with these settings of an ar or events model, each one that only
    sampling reads (ar_config.SAMPLING_SETTINGS), checked as training's --set checks them; anything else refused in one
    line. → the keys set ("ar.NAME")."""
    if not assignments:
        return set()
    if not getattr(gan.arm, "tempered", False):
        raise ValueError(f"--set: {model_said(gan.folder)} is {arch_said(gan.arch)}; --set changes sampling settings of "
                         "ar and events models")
    unread = LATENTS_ONLY if gan.arch == "events" else EVENTS_ONLY
    config = checkpoint_config(gan.meta)
    readable = readable_sampling(gan.arch, config)
    for assignment in assignments:
        key = assigned_key(assignment)
        section, _, name = key.partition(".")
        if section != "ar" or name not in SAMPLING_SETTINGS:
            wanted = name if "." in key else key  # ('beat_echo=3': its ar. left out)
            near = difflib.get_close_matches(wanted, readable, n=1) if section == "ar" or "." not in key else []
            hint = f" (did you mean ar.{near[0]}?)" if near else ""
            raise ValueError(f"--set {assignment}: {key or 'that'} is not a setting generate changes{hint}; give "
                             f"ar.NAME=VALUE with one of this {gan.arch} model's sampling settings: "
                             f"{', '.join('ar.' + n for n in readable)}")
        if name in unread:
            raise ValueError(f"--set {assignment}: an {gan.arch} model does not read ar.{name}")
    gan.arm.settings = config.override(assignments).ar
    return {assigned_key(assignment) for assignment in assignments}
