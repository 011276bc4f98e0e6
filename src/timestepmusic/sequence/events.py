"""The events arm: the likelihood arm's causal transformer reads the latents of the chunks before, and the next
chunk is drawn as events (sequence/event_head.py), not as a latent for the autoencoder to decode.

Each drawn chunk is encoded by the autoencoder's encoder before the piece goes on, so the transformer always reads
what a real chunk with those events encodes to; the decoder is never used, and what is written is what was drawn.
Training is teacher-forced on real windows exactly as the likelihood arm's (sequence/autoregressive.py), with the
chunk's events' negative log-likelihood (nats per chunk) in place of the latent's; the end head, windows, prompt
continuation, sliding past the context and `ends` are the same. `ar.temperature` divides the logits of
which key a note strikes, `ar.start_temperature` those of its start, and `ar.stop_bias` and `ar.empty_bias` move the
chunk's end (event_sampler.EventSampler.sample); `ar.pedal_join_s` and `ar.pedal_join_share` close short
gaps inside a pedal's drawn runs. With `ar.carry` the head also hears the events before each chunk exactly
(sequence/carry.py): in training the corpus's, in sampling a prompt's and those drawn so far; with `ar.tonal`
it hears the pitch classes of the seconds before each chunk the same way (sequence/tonal.py), and with
`ar.register` the highest and lowest keys of the seconds before it (sequence/register_heard.py). With ar.style a
drawn piece may walk the description path of a real performance (ar.style_path, --composer, --like), chunk by chunk
(sequence/path_walk.py: one PathWalk per sample, `walk`).
The network, the transformer and the event head, is EventGenerator (sequence/event_generator.py); what each drawn
piece is told (a request, a prompt's own description, a path's, its chunks left to its closing), and how closely it
follows it, is decided by the methods the arm inherits from Telling (sequence/told.py: `tell` sets a sample's pieces
up), and what a drawn piece is written as (its events, slowed into its final chord) by those from Written
(sequence/written.py); this module trains the arm and draws with it, what the head hears of the music before each
chunk set up by `hear_from_start`.
Settings: the `ar` section (ar.head_hidden: the event head's width).
Shapes: B windows (b on this rank), T ≤ context steps, L latent, W width, S pieces, V valid chunks, N events.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..autoencoder import Autoencoder
from ..batches import ChunkGatherer, SetBatch
from ..config import Config
from ..latents import Normaliser
from ..midi import Events
from .autoregressive import Autoregressive
from .base import LatentData, register
from .carry import CarryGatherer, DrawnHistory, carry_items
from .closing import NOT_CLOSING, Closing, TrackEnds, closing_chunks
from .event_generator import EventGenerator
from .event_head import EventHead
from .event_sampler import EventSampler
from .figures import DrawnFigures
from .path_walk import PathWalk
from .pulse import DrawnOnsets, OnsetGatherer, TempoTold
from .register_guard import DrawnRegister
from .register_heard import WINDOWS as REGISTER_WINDOWS
from .register_heard import RegisterGatherer, drawn_heard
from .sounding import DrawnSounding
from .style import PieceStyle
from .style_calibration import StyleCalibration
from .style_describe import StyleGatherer
from .style_paths import StylePaths
from .style_request import StyleRamp
from .told import Telling
from .tonal import HEARS_KEYS, DrawnPitchClasses, KeyTold, TonalGatherer
from .transformer_net import LatentTransformer
from .windows import RealBatch
from .written import Written


@register
class EventAutoregressive(Telling, Written, Autoregressive):
    arch = "events"
    draws_events = True  # sample() keeps the events it drew: generation writes those (drawn_events)
    KEPT = ("style_paths",)  # what a checkpoint may keep beside the weights (`kept`, `use_kept`)

    def __init__(self, config: Config, latent: int, device: torch.device, training: bool = True):
        self.settings, self.steps, self.device = config.ar, config.gan.steps, device
        self.ae_weight = config.gan.ae_weight
        a = self.settings
        trunk = LatentTransformer(latent=latent, context=a.context, width=a.width, layers=a.layers, heads=a.heads,
                                  mixture=1, dropout=a.dropout, head="features")
        self.chunk_seconds = config.chunks.chunk_seconds
        head = EventHead(width=a.width, hidden=a.head_hidden, max_events=config.chunks.max_events,
                         chunk_seconds=self.chunk_seconds, carry=a.carry, intervals=a.intervals, tonal=a.tonal,
                         voices=a.voices, onsets=a.onsets, onsets_leans=a.onsets_leans, pulse=a.pulse,
                         register=a.register)
        style = PieceStyle(a.width, a.style_pause) if a.style else None
        told, after = closing_chunks(a.closing_s, self.chunk_seconds), closing_chunks(a.closing_ring_s, self.chunk_seconds)
        self.closing_chunks = told + after if told else 0  # ar.closing_s and ar.closing_ring_s: K + R, the chunks a
        self.closing_after = after if told else 0  # piece closes over, R of them after its final chord
        closing = Closing(told, a.width, after) if told else None
        self.generator = EventGenerator(trunk, head, style, closing).to(device)
        self.track_ends: TrackEnds | None = None  # training, ar.closing_s: where each track ends
        self.closing_now: torch.Tensor | None = None  # sampling, ar.closing_s: each piece's chunks left at the chunk
        # drawn next [S] (closing.NOT_CLOSING: none), set by `condition`
        self.temperature, self.mixture_temperature, self.ends = a.temperature, a.mixture_temperature, False
        # use_autoencoder sets both: the sets' latents (given the encoder's keys, or None) and those keys
        self.encode_sets: Callable[..., torch.Tensor] | None = None
        self.encoder_keys: Callable[[], torch.Tensor] | None = None
        self.drawn_keys: torch.Tensor | None = None  # the encoder's keys while a sample runs (they stay as they are)
        self.drawn: list[SetBatch] = []  # the sets of each drawn step of the last sample ([S, N] each)
        self.final_chunks: torch.Tensor | None = None  # ar.closing_s: each piece's drawn step told 1 chunk left (its
        # final chord's) in the last sample [S]; −1: none (the piece did not close)
        self.told: torch.Tensor | None = None  # with ar.style: what the last sample's pieces were told [S, D] (a path: its first)
        self.held: torch.Tensor | None = None  # with ar.style: the offset every chunk of the pieces being sampled
        # reads [S, W]
        self.paths: StylePaths | None = None  # with ar.style: the training tracks' descriptions (ar.style_path)
        self.calibration: StyleCalibration | None = None  # with ar.style: what to tell for a request (measured)
        self.said_beyond: set[tuple[str, float]] = set()  # the requests said to be beyond its measured playing (once
        # each: a run draws its pieces in batches, and a piece without a note again)
        self.walk: PathWalk | None = None  # ar.style_path: the path the pieces being sampled walk (None: none)
        self.walked_from: list[str] | None = None  # the last sample's pieces: which training performance each walked
        self.ramp: torch.Tensor | None = None  # a path of requests (StyleRamp): each chunk's description [S, P + T, D]
        self.ramp_asked: dict | None = None  # … and the attributes it names (None: the rest is a prompt's, told too)
        self.ramp_prompt = 0  # … and the prompt's chunks before its first drawn one
        self.kept_up: torch.Tensor | None = None  # ar.soft_kept_up: the pieces that keep the una corda up where told none
        self.unpressed: torch.Tensor | None = None  # ar.pedals_as_told: the pedals each piece never draws [S, 3]
        self.history: DrawnHistory | None = None  # with ar.carry: the events so far of the pieces being sampled
        self.pitch_classes: DrawnPitchClasses | None = None  # with ar.tonal: their pitch classes so far
        self.drawn_onsets: DrawnOnsets | None = None  # with ar.pulse, ar.beat_echo or ar.empty_ramp_s: their onsets so far
        self.tempo: TempoTold | None = None  # a tempo asked of the pieces being drawn
        # with ar.register_guard or ar.register: the keys they struck lately, for the guard's last `guard_chunks`
        # and for the head's kernels (register_heard.WINDOWS)
        self.register: DrawnRegister | None = None
        self.guard_chunks = 0
        self.figures: DrawnFigures | None = None  # with ar.figure_echo: the keys of the last notes struck
        self.sounding: DrawnSounding | None = None  # with ar.restrike_guard or ar.silence_guard_s: when each key's
        # latest note ends
        self.sampler: EventSampler | None = None  # the head arranged for drawing, while a sample runs

    def param_groups(self) -> list[dict]:
        """As the likelihood arm's; with ar.onsets the weights of the choice it adds (its layers and embedding), and
        with ar.pulse its kernels' layer, each in a group of their own at ar.onsets_lr_scale and ar.pulse_lr_scale ×
        the learning rate (a warm start adds them untrained beside a network trained for hours)."""
        head, a = self.generator.events, self.settings
        if a.closing_only:  # the closing's offsets alone; every other weight as warm-started
            closing = list(self.generator.closing.parameters())
            for weight in self.generator.parameters():
                weight.requires_grad_(any(weight is mine for mine in closing))
            return [{"params": closing}]
        own = []  # (the weights of an addition, their learning rate's scale)
        if head.onsets:
            own.append(([p for module in (head.given["next"], head.out["next"]) for p in module.parameters()],
                        a.onsets_lr_scale))
        if head.pulse is not None:
            own.append((list(head.pulse.parameters()), a.pulse_lr_scale))
        if not own:
            return super().param_groups()
        own_ids = {id(p) for weights, _ in own for p in weights}
        rest = [p for p in self.generator.parameters() if id(p) not in own_ids]
        return [{"params": rest}] + [{"params": weights, "lr_scale": scale} for weights, scale in own]

    def use_autoencoder(self, ae: Autoencoder, normaliser: Normaliser) -> None:
        """The encoder (and normaliser) that turns each drawn chunk into the latent the transformer reads next;
        sampling hands it the encoder's keys (Autoencoder.encoder_keys), computed once per sample."""
        self.encode_sets = lambda sets, keys=None: normaliser.forward(ae.encode(sets, keys).float().cpu()).to(
            self.device)
        self.encoder_keys = ae.encoder_keys

    def attach(self, data: LatentData) -> None:
        super().attach(data)
        self.gatherer = ChunkGatherer(data.corpus, max_events=self.generator.events.max_events, device=self.device)
        self.carries = CarryGatherer(self.gatherer) if self.settings.carry else None
        self.tonal_counts = TonalGatherer(self.gatherer) if self.settings.tonal else None
        self.onset_times = OnsetGatherer(self.gatherer) if self.settings.pulse else None
        self.register_keys = RegisterGatherer(self.gatherer) if self.settings.register else None
        self.styles = StyleGatherer(self.gatherer, self.settings.style_pause) if self.settings.style else None
        if self.styles is not None:  # the bank sampling draws from: fixed by the corpus (a resume reloads the same)
            bank = self.styles.bank(self.train_windows, self.data.real.locate, torch.Generator().manual_seed(4))
            self.generator.style.fill_bank(bank.to(self.device))
            self.paths = self.styles.paths(self.train_windows, self.data.real.locate, self.generator.style.mean.cpu())
        self.use_autoencoder(data.real.ae, data.real.normaliser)
        self.track_ends = TrackEnds(data.corpus, self.settings.closing_to) if self.generator.closing is not None else None

    def chunks_left(self, real: RealBatch) -> torch.Tensor | None:
        """With ar.closing_s, each step of the windows of `real` its chunks left to its track's end [b, T]
        (closing.TrackEnds); None without."""
        return self.track_ends.left(real.rows, real.mask) if self.track_ends is not None else None

    def ending_share(self) -> float:
        """With ar.closing_only every window reaches a track's end (only there is anything told); else ar.ending_share."""
        return 1.0 if self.settings.closing_only else self.settings.ending_share

    def kept(self) -> dict[str, nn.Module]:
        """What a checkpoint keeps beside the weights, fixed by the corpus (`KEPT`): the description paths (ar.style)."""
        return {"style_paths": self.paths} if self.paths is not None else {}

    def use_kept(self, key: str, tensors: dict[str, torch.Tensor], path) -> None:
        """Take what `kept` saved under `key` (read from `path`); not what it should be: ValueError in one line."""
        try:
            paths = StylePaths.from_state(tensors)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        style = self.generator.style
        if style is None or paths.rows.shape[1] != len(style.attributes):
            raise ValueError(f"{path}: description paths of {paths.rows.shape[1]} attributes, but this model's "
                             f"descriptions hold {0 if style is None else len(style.attributes)}")
        self.paths = paths

    def losses(self, x: torch.Tensor, real: RealBatch, steps_total: float,
               read: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed event NLL and end cross-entropy of windows x [b, T, L] (weighted, masked) ÷ the global step
        count; the transformer reads `read` where given, and the events of each window's chunks are predicted."""
        described = self.describe(real)  # with ar.style: [b, T, D]
        if described is not None and self.generator.training:
            described = self.generator.style.drop(described)
        left = self.chunks_left(real)  # [b, T] or None
        (features,), end_logit = self.generator(x if read is None else read, described, left)  # [b, T, W], [b, T]
        weight = real.mask * real.weight[:, None]  # [b, T]
        valid = real.mask > 0.5  # [b, T]
        track, chunk = self.data.real.locate(real.rows[valid])  # [V] each
        sets = self.gatherer.gather(track, chunk)  # [V, N]
        carry = carry_items(*self.carries.history(track, chunk)) if self.carries else None  # [V, M]
        tonal = self.tonal_counts.counts(track, chunk) if self.tonal_counts else None  # [V, G, 12]
        onsets = self.onset_times.onsets(track, chunk) if self.onset_times else None  # [V, M'], [V]
        heard = self.register_keys.heard(track, chunk) if self.register_keys else None  # [V, 4]
        features = self.generator.head_features(features[valid], None if left is None else left[valid])  # [V, W]
        nll = self.generator.events.nll(features, sets.to(self.device), carry, tonal, onsets, heard)
        nll = (nll * weight[valid]).sum() / steps_total
        end = F.binary_cross_entropy_with_logits(end_logit, real.end, reduction="none")  # [b, T]
        return nll, (end * weight).sum() / steps_total

    def describe(self, real: RealBatch) -> torch.Tensor | None:
        """With ar.style, what each step of the windows of `real` is told of the passage from it on [b, T, D];
        None without."""
        return self.styles.ahead(real.rows, self.data.real.locate).to(self.device) if self.styles else None

    def reading(self, x: torch.Tensor, real: RealBatch) -> torch.Tensor:
        """As the likelihood arm's; with ar.drawn_share, that share of the valid chunks of x [b, T, L] first
        replaced by the encoding of a chunk the head draws there (all at once, from the teacher-forced features
        of the network as it samples, without dropout), so that the transformer learns to read a past as its
        own samples make it. The head's carry (and with ar.pulse its onsets, with ar.register its register) still hears
        the real events before each chunk (a known difference from sampling, where it hears the drawn ones)."""
        share = self.settings.drawn_share
        if share <= 0:
            return super().reading(x, real)
        rng = torch.Generator().manual_seed(int(torch.randint(2 ** 62, (1,))))  # global RNG, seeded for the step
        swap = (real.mask > 0.5) & (torch.rand(real.mask.shape, generator=rng) < share).to(x.device)  # [b, T]
        if swap.any():
            with torch.no_grad():
                self.generator.eval()
                left = self.chunks_left(real)  # [b, T] or None
                (features,), _ = self.generator(x, self.describe(real), left)  # [b, T, W]
                features = self.generator.head_features(features, left)
                self.generator.train()
                track, chunk = self.data.real.locate(real.rows[swap])  # [V'] each
                carry = carry_items(*self.carries.history(track, chunk)) if self.carries else None  # [V', M]
                tonal = self.tonal_counts.counts(track, chunk) if self.tonal_counts else None  # [V', G, 12]
                onsets = self.onset_times.onsets(track, chunk) if self.onset_times else None  # [V', M'], [V']
                heard = self.register_keys.heard(track, chunk) if self.register_keys else None  # [V', 4]
                sets = EventSampler(self.generator.events).sample(features[swap], rng, 1.0, carry, tonal,
                                                                  onsets=onsets, heard_register=heard)  # [V', N]
                drawn = self.encode_sets(sets).to(x.dtype)  # [V', L]
            x = x.index_put((swap,), drawn)  # out of place: no gradient reaches x where it was not read
        return super().reading(x, real)

    def draw(self, density: tuple[torch.Tensor, ...], rng: torch.Generator) -> torch.Tensor:
        """One chunk of events per piece from the step's features [S, W] (guided: [2S, W], told, then untold),
        kept in `drawn`; → their standardised latents [S, L], which the transformer reads next."""
        if self.encode_sets is None:
            raise RuntimeError("the events arm samples with an autoencoder: call use_autoencoder first")
        features = density[0]  # [S, W] (guided: [2S, W])
        if self.closing_now is not None:  # ar.closing_s: the pieces closing at this chunk (both halves, guided)
            features = self.generator.head_features(
                features, self.closing_now.repeat(features.shape[0] // self.closing_now.shape[0]))
        carry = self.history.carry() if self.history is not None else None  # [S, M]
        tonal = self.pitch_classes.counts() if self.pitch_classes is not None else None  # [S, G, 12]
        heard = self.drawn_onsets  # ar.pulse, ar.beat_echo, ar.empty_ramp_s: the onsets before the chunk [S, M'], the
        # latest note's start [S]
        onsets = (heard.onsets(), heard.last_note()) if heard is not None else None
        if self.walk is not None:  # by the description told there
            told = self.path_told(len(self.drawn), len(self.drawn))[:, 0].to(self.device)  # [S, D]
            self.unpressed = self.walk.unpressed(told, self.settings.pedals_as_told, self.kept_up)
        elif self.ramp is not None:
            self.unpressed = self.ramp_unpressed(len(self.drawn))
        sets = self.sampler.sample(features, rng, self.temperature, carry, tonal, self.generator.guidance,
                                   self.unpressed, self.generator.pedal_guidance, self.generator.key_guidance, onsets,
                                   start_temperature=self.settings.start_temperature,
                                   stop_bias=self.settings.stop_bias,
                                   empty_bias=self.settings.empty_bias,
                                   empty_ramp_s=self.settings.empty_ramp_s,
                                   beat_echo=self.settings.beat_echo,
                                   echo_recency_s=self.settings.echo_recency_s,
                                   tempo=None if self.tempo is None else self.tempo.at(
                                       (len(self.drawn) + 0.5) * self.chunk_seconds),  # (a path: the chunk's)
                                   cluster_guard=self.settings.cluster_guard,
                                   velocity_temperature=self.settings.velocity_temperature,
                                   register=self.register.bounds(last=self.guard_chunks) if self.guard_chunks else None,
                                   register_guard=self.settings.register_guard,
                                   register_margin=self.settings.register_margin,
                                   register_min_p=self.settings.register_min_p,
                                   damper_bias=self.settings.damper_bias,
                                   soft_bias=self.settings.soft_bias,
                                   step_lean=self.settings.step_lean,
                                   join_bias=self.settings.join_bias,
                                   heard_register=drawn_heard(self.register) if self.settings.register else None,
                                   sounding=self.sounding.before() if self.settings.restrike_guard > 0 else None,
                                   restrike_guard=self.settings.restrike_guard,
                                   duration_tilt=self.duration_tilt(),
                                   noteless=None if self.closing_now is None else self.closing_now < NOT_CLOSING,
                                   silent_s=self.sounding.silent_s() if self.settings.silence_guard_s > 0 else None,
                                   silence_guard_s=self.settings.silence_guard_s,
                                   figures=self.figures.keys if self.figures is not None else None,
                                   figure_echo=self.settings.figure_echo)  # [S, N]
        if self.closing_now is not None and self.final_chunks is not None:
            self.final_chunks[(self.closing_now == 1).cpu()] = len(self.drawn)  # ar.final_ritard slows into it
        self.drawn.append(sets)
        for past in (self.history, self.pitch_classes, self.drawn_onsets, self.register, self.sounding, self.figures):
            if past is not None:
                past.append(sets)
        if self.walk is not None:
            self.walk.heard(sets)
        return self.encode_sets(sets, self.drawn_keys)

    def duration_tilt(self) -> float | torch.Tensor:
        """ar.duration_tilt, or with ar.final_hold each piece's own [S]: ar.duration_tilt + ar.final_hold in the chunk
        of its closing's final chord (told 1 chunk left), ar.duration_tilt elsewhere (added, not put in its place: a
        final hold above 0 holds the final chord longer than the other chunks whatever ar.duration_tilt is)."""
        tilt, hold = self.settings.duration_tilt, self.settings.final_hold
        if self.closing_now is None or hold == 0.0 or not bool((self.closing_now == 1).any()):
            return tilt
        return torch.where(self.closing_now == 1, tilt + hold, tilt).float()  # [S]

    @torch.no_grad()
    def sample(self, n: int, chunks: int, seed: int, prompt: torch.Tensor | None = None,
               project: Callable[[torch.Tensor], torch.Tensor] | None = None,
               prompt_sets: SetBatch | None = None, style: dict[str, float] | StyleRamp | None = None,
               guidance: float | None = None, key: KeyTold | None = None,
               tempo: TempoTold | None = None, composer: str | None = None,
               like: Events | None = None,
               progress: Callable[[], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """As the likelihood arm's (`progress`: called once per chunk drawn); the drawn events are kept in `drawn` (one
        [S, N] set per new chunk). With ar.carry, `prompt_sets` [P, N] are the prompt's chunks as events (the head
        hears them; without them it hears a silent prompt; with ar.tonal, likewise its pitch classes). With
        ar.style, each piece is told a
        description drawn from the bank (none with ar.style_drawn false), or one as `style` asks
        (style_request.parse_style; a style_request.StyleRamp: each chunk told its line's mean over the AHEAD chunks from it, the
        waypoints calibrated, a prompt's chunks told its first), followed as closely as `guidance` says (None:
        ar.request_guidance for an asked one, ar.style_guidance for a drawn one); a prompt without `style` is told
        its own last AHEAD chunks' description (ar.prompt_told; false: heard, not told). With ar.tonal, a `key` is
        asked of every piece: the head hears the notes so far as if in that key (tonal.KeyTold); with
        ar.beat_echo, a `tempo`: each note's start leans toward its beats (pulse.TempoTold). With ar.style_path, a
        `composer`: each piece walks the path of one of that composer's training performances (StylePaths.tracks_of;
        another for each piece while there are such, with room for the whole piece where there is), followed as an
        unasked piece follows its own (None `guidance`: ar.style_guidance); `walked_from` names them. With
        ar.style_path, a performance to walk `like` (its events): every piece walks its path from its start
        (style_describe.performance_path), followed as an asked style is."""
        self.tempo = tempo  # (the sampler refuses it without the beat echo: pulse.TEMPO_NEEDS_ECHO)
        if key is not None and not self.settings.tonal:
            raise ValueError(f"--key: this model does not hear keys (trained without ar.tonal); {HEARS_KEYS}")
        self.drawn, self.history, self.pitch_classes, self.walked_from = [], None, None, None
        self.final_chunks = torch.full((n,), -1, dtype=torch.long)  # [S]: none closed yet
        self.sampler = EventSampler(self.generator.events, self.settings.in_bins)
        self.drawn_keys = self.encoder_keys() if self.encoder_keys is not None else None
        heard_first = (prompt_sets.sizes.shape[0] if prompt_sets is not None  # chunks before the first drawn
                       else 0 if prompt is None else prompt.shape[0])
        self.tell(n, chunks, seed, prompt, prompt_sets, style, guidance, composer, like, heard_first)
        self.hear_from_start(n, key, prompt, prompt_sets, heard_first)
        try:
            return super().sample(n, chunks, seed, prompt, progress=progress)
        finally:
            self.history, self.pitch_classes, self.drawn_onsets, self.sampler = None, None, None, None
            self.drawn_keys = None
            self.register, self.guard_chunks, self.sounding, self.walk = None, 0, None, None
            self.held, self.unpressed, self.figures = None, None, None
            self.generator.unguided()
            self.kept_up, self.tempo = None, None
            self.closing_at, self.generator.closing_told, self.closing_now = None, None, None
            self.ramp, self.ramp_asked, self.ramp_prompt = None, None, 0

    def hear_from_start(self, n: int, key: KeyTold | None, prompt: torch.Tensor | None, prompt_sets: SetBatch | None,
                        heard_first: int) -> None:
        """What the head of each of the `n` pieces about to be sampled hears of the music before each chunk (its
        events, pitch classes in `key`, onsets, register, the keys sounding), set up for the arm's settings and
        given the prompt's chunks (`prompt_sets`; a prompt of latents alone: heard as silence); `heard_first`: the
        prompt's chunks before the first drawn one."""
        if self.settings.carry:
            self.history = DrawnHistory(n, self.chunk_seconds, self.device)
        if self.settings.tonal:
            self.pitch_classes = DrawnPitchClasses(n, self.device, key, self.chunk_seconds, heard_first)
        if self.settings.pulse or self.settings.beat_echo > 0 or self.settings.empty_ramp_s > 0:
            self.drawn_onsets = DrawnOnsets(n, self.chunk_seconds, self.device)
        if self.settings.register_guard > 0 or self.settings.register_min_p > 0:
            self.guard_chunks = max(1, round(self.settings.register_window_s / self.chunk_seconds))
        kept = max(self.guard_chunks, max(REGISTER_WINDOWS) if self.settings.register else 0)  # chunks
        if kept:
            self.register = DrawnRegister(n, kept, self.device)
        if self.settings.restrike_guard > 0 or self.settings.silence_guard_s > 0:
            self.sounding = DrawnSounding(n, self.chunk_seconds, self.device)
        self.figures = DrawnFigures(n, self.device) if self.settings.figure_echo > 0 else None
        if prompt is not None and prompt_sets is None:  # a prompt known only by its latents: heard as silence
            if self.history is not None:
                self.history.chunks = prompt.shape[0]
            for heard in (self.pitch_classes, self.drawn_onsets, self.register, self.sounding, self.figures):
                if heard is not None:
                    heard.skip(prompt.shape[0])
        for i in range(0 if prompt_sets is None else prompt_sets.sizes.shape[0]):
            chunk = prompt_sets.take(torch.full((n,), i))  # chunk i for every piece: [S, N]
            for heard in (self.history, self.pitch_classes, self.drawn_onsets, self.register, self.sounding,
                          self.figures):
                if heard is not None:
                    heard.append(chunk)
