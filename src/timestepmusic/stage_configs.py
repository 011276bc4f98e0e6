"""The settings of each stage up to the sequence model and of the two GAN arms: MIDI → events → chunks → corpus,
the encoding, augmentation, the autoencoder, the convolutional and the recurrent GAN. A frozen dataclass each,
checked on construction; config.py gathers them, with the likelihood arm's (ar_config.py), into one Config."""
from __future__ import annotations

from dataclasses import dataclass

ENCODINGS = ("pon", "ponOHE", "pnOHE", "OHE", "none")
DURATION_SCALES = ("cdf", "log")


def check_setting(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"config {key}: {message}")


@dataclass(frozen=True)
class EventsConfig:
    """MIDI → events."""

    pedal_bins: int = 4
    """Depth bins for pedal values 1–127 (0 = pedal up, never an event); 0 = no binning."""
    max_seconds: float = 4 * 3600.0
    """Longest plausible performance in seconds; a longer file is skipped (a huge tick value or an absurd tempo)."""
    max_events_per_second: float = 400.0
    """Most events that may start within one second (real piano playing: under 100); a file with more is
    skipped (an absurdly fast tempo)."""

    def __post_init__(self) -> None:
        check_setting(0 <= self.pedal_bins <= 127, "events.pedal_bins", f"must be 0–127, got {self.pedal_bins}")
        check_setting(self.max_seconds > 0, "events.max_seconds", f"must be > 0 seconds, got {self.max_seconds}")
        check_setting(self.max_events_per_second > 0, "events.max_events_per_second",
               f"must be > 0, got {self.max_events_per_second}")


@dataclass(frozen=True)
class ChunkConfig:
    """Events → chunks of equal length."""

    chunk_seconds: float = 0.25
    """Length of one time step in seconds."""
    max_events: int = 15
    """Most events in one chunk; the rest are dropped (latest start first) and counted."""

    def __post_init__(self) -> None:
        check_setting(self.chunk_seconds > 0, "chunks.chunk_seconds", f"must be > 0 seconds, got {self.chunk_seconds}")
        check_setting(self.max_events >= 1, "chunks.max_events", f"must be ≥ 1, got {self.max_events}")


@dataclass(frozen=True)
class CorpusConfig:
    """Sources → corpus on disk."""

    validation_fraction: float = 0.1
    """Share of pieces put in the validation split when the source has no split of its own."""
    test_fraction: float = 0.1
    """Share of pieces put in the test split when the source has no split of its own."""
    workers: int = 0
    """Processes that parse MIDI files; 0 = one per CPU core."""

    def __post_init__(self) -> None:
        for key in ("validation_fraction", "test_fraction"):
            value = getattr(self, key)
            check_setting(0 <= value < 1, f"corpus.{key}", f"must be in [0, 1), got {value}")
        check_setting(self.validation_fraction + self.test_fraction < 1, "corpus.test_fraction",
               "validation_fraction + test_fraction must leave a training split")
        check_setting(self.workers >= 0, "corpus.workers", f"must be ≥ 0, got {self.workers}")


@dataclass(frozen=True)
class EncodingConfig:
    """Event → vector."""

    encoding: str = "pon"
    """Id layout: pon (pedal, octave, pitch class as numbers), ponOHE, pnOHE, OHE (91-way), none."""
    durations: str = "cdf"
    """Duration scale: cdf (log-normal CDF of the training split) or log (linear in log seconds)."""
    time_weight: float = 1.0
    """Weight of the offset, duration and intensity errors beside the key's in the autoencoder's loss."""

    def __post_init__(self) -> None:
        check_setting(self.encoding in ENCODINGS, "encoding.encoding",
               f"unknown encoding {self.encoding!r}; choose one of {', '.join(ENCODINGS)}")
        check_setting(self.durations in DURATION_SCALES, "encoding.durations",
               f"unknown duration scale {self.durations!r}; choose one of {', '.join(DURATION_SCALES)}")
        check_setting(self.time_weight > 0, "encoding.time_weight", f"must be > 0, got {self.time_weight}")


@dataclass(frozen=True)
class AugmentConfig:
    """Batch-time augmentation of training chunks."""

    transpose_semitones: int = 5
    """Largest transposition either way; keys pushed off the keyboard are dropped. 0 = off."""
    tempo_range: float = 0.1
    """Largest relative tempo change either way (0.1 = ±10 %). 0 = off."""

    def __post_init__(self) -> None:
        check_setting(0 <= self.transpose_semitones <= 24, "augment.transpose_semitones",
               f"must be 0–24, got {self.transpose_semitones}")
        check_setting(0 <= self.tempo_range < 0.5, "augment.tempo_range", f"must be in [0, 0.5), got {self.tempo_range}")


RESTRIKE_READINGS = ("cut", "drop", "join")  # ae.decode_restrikes


@dataclass(frozen=True)
class AEConfig:
    """PISA set autoencoder and its training."""

    latent: int = 20
    """Size of the latent vector of one chunk."""
    hidden: int = 256
    """Width of the hidden layers of every MLP."""
    lr: float = 1e-4
    """Adam learning rate."""
    batch_chunks: int = 100
    """Chunks per training batch."""
    epochs: int = 10
    """Passes over the training chunks."""
    size_loss_weight: float = 1.0
    """Weight of the set-size cross-entropy beside the element loss."""
    seed: int = 0
    """Seed of initialisation, batch order and augmentation."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto (cuda when present)."""
    checkpoint_every_s: float = 300.0
    """Seconds between mid-epoch `last` checkpoints (one is always written at each epoch end)."""
    log_every: int = 25
    """Write the training figures (each one's mean over the batches since the line before: batch_loss,
    batch_element_loss, batch_size_loss, batch_size_accuracy) and steps/s to metrics.jsonl every this many steps,
    and at each epoch's end beside the validation (0 = only at an epoch's end). As gan.log_every."""
    latent_noise: float = 0.0
    """Train the decoder on latents + Gaussian noise of this many × the batch's per-dimension spread, so that
    latents between real ones decode to nearby sets (0 = off; see docs/latent-space.md)."""
    decode_z_max: float = 3.25
    """Decoding only: CDF durations decode no longer than mu + this × sigma of the training fit (0 = no cap).
    Chosen on the validation split per autoencoder (bench/decode_settings.py); a trained run's value may be
    changed in its config.json without retraining."""
    decode_pedal_join_s: float = 0.1
    """Decoding only: gaps this short (s) inside a decoded pedal run are closed (0 = none). As decode_z_max."""
    decode_restrikes: str = "cut"
    """Decoding only: a key decoded as struck again while it still sounds. cut: the first note ends at the second
    strike (what MIDI does); drop: the second strike is dropped; join: dropped, and the first note lasts as long
    as the second would have. As decode_z_max."""
    bounded_values: bool = False
    """Decode offset, duration and intensity through a sigmoid onto their ranges, so that no latent (a generator's
    between real ones included) decodes to a value decoding must clip; False: linear outputs, clipped."""
    compile: bool = False
    """torch.compile the autoencoder for training (--compile; pays off on a GPU, costs minutes of compiling on a CPU)."""

    def __post_init__(self) -> None:
        for key in ("latent", "hidden", "batch_chunks", "epochs"):
            check_setting(getattr(self, key) >= 1, f"ae.{key}", f"must be ≥ 1, got {getattr(self, key)}")
        check_setting(self.lr > 0, "ae.lr", f"must be > 0, got {self.lr}")
        check_setting(self.log_every >= 0, "ae.log_every", f"must be ≥ 0, got {self.log_every}")
        check_setting(self.checkpoint_every_s > 0, "ae.checkpoint_every_s", f"must be > 0 seconds, got {self.checkpoint_every_s}")
        check_setting(self.size_loss_weight >= 0, "ae.size_loss_weight", f"must be ≥ 0, got {self.size_loss_weight}")
        check_setting(0 <= self.latent_noise <= 10, "ae.latent_noise", f"must be in [0, 10], got {self.latent_noise}")
        check_setting(self.decode_z_max >= 0, "ae.decode_z_max", f"must be ≥ 0 (0 = no cap), got {self.decode_z_max}")
        check_setting(self.decode_pedal_join_s >= 0, "ae.decode_pedal_join_s",
               f"must be ≥ 0 (0 = none), got {self.decode_pedal_join_s}")
        check_setting(self.decode_restrikes in RESTRIKE_READINGS, "ae.decode_restrikes",
               f"must be one of {', '.join(RESTRIKE_READINGS)}, got {self.decode_restrikes!r}")


@dataclass(frozen=True)
class GANConfig:
    """Convolutional WGAN-GP over windows of chunk latents."""

    window_chunks: int = 64
    """Chunks in one training window (64 × 0.25 s = 16 s)."""
    past_chunks: int = 0
    """Conv arm: each window is generated given the P chunks before it (a multiple of 16; the critic judges the
    P + window_chunks together, so it hears the seam), so that a longer piece keeps going where its last window
    stopped and a prompt can be continued; 0 = independent windows (the seed design)."""
    pastless_share: float = 0.25
    """Conv arm with past_chunks: the share of training windows given no past (how a piece's first window is
    made); a quarter of the rest get a shorter past, its last 1 … P chunks (how a short prompt is continued)."""
    noise: int = 50
    """Size of the generator's noise vector."""
    channels: int = 128
    """Channels of the generator's widest convolution (and the critic's, when gan.critic_channels = 0)."""
    critic_channels: int = 128
    """Channels of the critic's widest convolution; 0 = gan.channels (the seed design: one width for both).
    128 with the two dilated layers: ~53 windows/s at batch 32 on one busy CPU thread; 256: ~23."""
    critic_depth: int = 2
    """Convolutions (kernel 3, dilations 1, 2, 4, …) over the critic's coarsest resolution, after its four
    strided ones: with 2 every feature hears the whole 64-chunk window, not 46 of its chunks (0 = the seed's
    critic, strided convolutions straight to the score; conv arm)."""
    minibatch_std: bool = True
    """Give the critic the spread of its features across a group of windows (StyleGAN's minibatch standard
    deviation), so that a generator that plays one phrase for every noise is told apart (conv and rnn arms)."""
    minibatch_group: int = 4
    """Windows per minibatch-std group: consecutive windows of one batch, never across torchrun ranks (each
    rank's slice of gan.batch must hold whole groups); where it does not divide gan.batch, its largest divisor."""
    ema: float = 0.999
    """Decay of an exponential moving average of the generator's weights, which samples and checkpoints use
    (warmed up as min(ema, (1 + step) / (10 + step)); 0 = off, sample from the trained weights; conv and rnn arms)."""
    lr: float = 1e-4
    """Adam learning rate of the generator (and of the critic, when gan.critic_lr = 0)."""
    critic_lr: float = 4e-4
    """Adam learning rate of the critic (conv and rnn arms; two time-scale update rule, Heusel et al. 2017,
    https://arxiv.org/abs/1706.08500); 0 = gan.lr."""
    betas: tuple[float, float] = (0.5, 0.9)
    """Adam betas of both networks."""
    batch: int = 32
    """Windows per batch (also the rnn arm's). 32 for the conv arm: 1.24× the windows/s of 16 on a CPU, where 64
    adds only 1.12× more at half the generator steps/s (bench/results/conv_gan_batch.md)."""
    critic_steps: int = 5
    """Critic updates per generator update."""
    gp_weight: float = 10.0
    """Gradient-penalty weight: WGAN-GP's 10. The seed design used 0.1 (`--preset seed`), which its small strided
    critic over the latent-20 autoencoder tolerated; the dilated critic with its own learning rate runs away
    with it over the latent-32 autoencoder (Wasserstein estimate 5,600 within 250 steps, against 50–100 at 10:
    docs/quality.md)."""
    gp_every: int = 1
    """Lazy regularisation: apply the penalty every k-th critic step, scaled by k (1 = every step)."""
    fm_weight: float = 0.1
    """Feature-matching weight between mean critic features of real and generated batches."""
    steps: int = 2000
    """Generator steps to train."""
    sample_every: int = 500
    """Write MIDI samples from fixed noise every this many generator steps (0 = never)."""
    validate_every: int = 250
    """Held-out Wasserstein estimate every this many generator steps."""
    log_every: int = 25
    """Write the training figures (each one's mean over the steps since the line before) and steps/s to
    metrics.jsonl every this many generator steps, and at each validation (0 = only at validation)."""
    seed: int = 0
    """Seed of initialisation, window order and noise."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto."""
    finetune_ae: bool = False
    """Fine-tune the autoencoder jointly with the GAN (real latents encoded on the fly; --finetune-ae)."""
    ae_weight: float = 1.0
    """Weight of the autoencoder's reconstruction loss in the joint objective (keeps its latent space in place)."""
    ae_lr: float = 1e-4
    """Adam learning rate of the autoencoder while fine-tuning."""
    ae_gan_weight: float = 0.1
    """Weight of the adversarial signal into the fine-tuned encoder: the gradient of log(feature matching)
    through the real latents (log, so that the convolutional critic's features, ~1000× the recurrent
    critic's, do not swamp the reconstruction term; 0 = reconstruction only)."""
    compile: bool = False
    """torch.compile the generator (--compile); the critic stays eager, its penalty needs a double backward."""

    def __post_init__(self) -> None:
        for key in ("window_chunks", "noise", "channels", "batch", "critic_steps", "gp_every", "steps",
                    "minibatch_group", "validate_every"):
            check_setting(getattr(self, key) >= 1, f"gan.{key}", f"must be ≥ 1, got {getattr(self, key)}")
        for key in ("critic_channels", "critic_depth", "log_every"):
            check_setting(getattr(self, key) >= 0, f"gan.{key}", f"must be ≥ 0, got {getattr(self, key)}")
        check_setting(0 <= self.ema < 1, "gan.ema", f"must be in [0, 1), got {self.ema}")
        check_setting(self.critic_lr >= 0, "gan.critic_lr", f"must be ≥ 0 (0 = gan.lr), got {self.critic_lr}")
        check_setting(self.window_chunks % 16 == 0, "gan.window_chunks",
               f"must be a multiple of 16 (four ×2 upsamplings), got {self.window_chunks}")
        check_setting(self.past_chunks >= 0 and self.past_chunks % 16 == 0, "gan.past_chunks",
               f"must be 0 or a multiple of 16 (the critic's four ×2 strides), got {self.past_chunks}")
        check_setting(self.past_chunks <= self.window_chunks, "gan.past_chunks",
               f"must be at most gan.window_chunks ({self.window_chunks}), so that each window's past is known "
               f"whole once the first is made; got {self.past_chunks}")
        check_setting(0 < self.pastless_share < 1 or not self.past_chunks, "gan.pastless_share",
               f"must be in (0, 1) with gan.past_chunks: a piece's first window is made without a past; "
               f"got {self.pastless_share}")
        check_setting(self.gp_weight >= 0, "gan.gp_weight", f"must be ≥ 0, got {self.gp_weight}")
        check_setting(self.lr > 0, "gan.lr", f"must be > 0, got {self.lr}")
        check_setting(self.ae_weight >= 0, "gan.ae_weight", f"must be ≥ 0, got {self.ae_weight}")
        check_setting(self.ae_lr > 0, "gan.ae_lr", f"must be > 0, got {self.ae_lr}")
        check_setting(self.ae_gan_weight >= 0, "gan.ae_gan_weight", f"must be ≥ 0, got {self.ae_gan_weight}")
        check_setting(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "gan.betas",
               f"must be two numbers in [0, 1), got {self.betas}")


@dataclass(frozen=True)
class RecurrentConfig:
    """The recurrent GAN (`gan.*` supplies lr, betas, batch, critic_steps, gp_weight, gp_every,
    fm_weight, steps, sample_every, validate_every, seed, device, fine-tuning and the sequence noise size)."""

    max_chunks: int = 64
    """Longest training sequence in chunks (64 × 0.25 s = 16 s); shorter ones end at a track's end."""
    hidden: int = 256
    """GRU hidden size of the generator."""
    attention: int = 64
    """Key/value size of the generator's attention over its past steps."""
    step_noise: int = 16
    """Fresh noise fed to the generator at every step."""
    critic_width: int = 64
    """Width of the critic's self-attention blocks (its cost dominates a training step on a CPU)."""
    critic_layers: int = 2
    """Self-attention blocks in the critic."""
    critic_heads: int = 4
    """Heads per critic block (must divide critic_width)."""
    ending_share: float = 0.25
    """Share of each real batch drawn among sequences that reach a track's end (importance-weighted back)."""
    end_weight: float = 1.0
    """Weight of the end head's cross-entropy on teacher-forced real sequences in the generator's loss."""
    free_end_weight: float = 1.0
    """Weight of a cross-entropy that pulls the end head, on the generator's own free-running sequences,
    towards the real per-step end hazard (teacher forcing alone never shows the head the generator's
    own output, where it may fire far too early)."""
    sample_seconds: float = 32.0
    """Longest MIDI sample written every gan.sample_every steps."""
    gan_mends: bool = True
    """Apply gan.minibatch_std, gan.ema and gan.critic_lr to this arm, as to the conv arm. False: the arm as
    first written (plain critic, no weight average, gan.lr for both networks), which is how rnn checkpoints
    written before this setting existed were trained (generation.checkpoint_config)."""

    def __post_init__(self) -> None:
        for key in ("max_chunks", "hidden", "attention", "step_noise", "critic_width", "critic_layers", "critic_heads"):
            if getattr(self, key) < 1:
                raise ValueError(f"config rnn.{key}: must be ≥ 1, got {getattr(self, key)}")
        if self.critic_width % self.critic_heads:
            raise ValueError(f"config rnn.critic_heads: must divide rnn.critic_width ({self.critic_width}), "
                             f"got {self.critic_heads}")
        if not 0 <= self.ending_share < 1:
            raise ValueError(f"config rnn.ending_share: must be in [0, 1), got {self.ending_share}")
        if self.end_weight <= 0:
            raise ValueError(f"config rnn.end_weight: must be > 0 (it is how the model learns to end), "
                             f"got {self.end_weight}")
        if self.free_end_weight < 0:
            raise ValueError(f"config rnn.free_end_weight: must be ≥ 0, got {self.free_end_weight}")
        if self.sample_seconds <= 0:
            raise ValueError(f"config rnn.sample_seconds: must be > 0, got {self.sample_seconds}")
