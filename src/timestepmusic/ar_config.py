"""The likelihood arm's settings (`[ar]`, `--arch ar`): AutoregressiveConfig, checked on construction, and the names
and bounds its settings use (the style attributes, the settings only sampling reads, the closing's)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .stage_configs import check_setting

PEDALS_AS_TOLD = ("none", "given", "all")  # ar.pedals_as_told
# what ar.style's description holds (sequence/style.py), and with ar.style_pause after them the longest pause
STYLE_ATTRIBUTES = ("register", "spread", "density", "loudness", "stepwise", "damper", "half_pedal", "soft")
STYLE_PAUSE = "pause"  # the longest stretch of chunks with no note starting
# the ar settings that only sampling reads: `tsm generate --set ar.NAME=VALUE` may change them for one run
SAMPLING_SETTINGS = ("temperature", "mixture_temperature", "end_bias", "end_rise", "end_after_s", "project",
                     "pedal_join_s", "pedal_join_share", "in_bins", "style_drawn", "style_guidance",
                     "request_guidance", "pedal_guidance", "key_guidance", "prompt_told", "pedals_as_told", "slide_stride",
                     "start_temperature", "stop_bias", "empty_bias", "empty_ramp_s", "beat_echo",
                     "echo_recency_s", "cluster_guard", "soft_kept_up", "velocity_temperature", "style_path",
                     "register_guard", "register_margin", "register_window_s", "register_min_p", "damper_bias",
                     "step_lean", "join_bias", "restrike_guard", "request_calibrated", "path_room", "duration_tilt",
                     "final_hold", "final_ritard", "final_ritard_s", "closing_path", "silence_guard_s", "final_held_s",
                     "final_velocity_floor", "soft_join_s", "soft_shortest_s", "soft_bias",
                     "soft_quiet", "register_follow", "density_follow", "spread_pull",
                     "path_spread_trim", "figure_echo")


# the sampling settings that shape how a closing piece ends: each needs a model trained with ar.closing_s, and a piece
# that closes (--ending, --max-seconds)
CLOSING_SAMPLING = ("final_hold", "final_ritard", "final_ritard_s", "final_held_s", "final_velocity_floor", "closing_path")

MAX_FINAL_RITARD = 10.0  # ar.final_ritard: the last moment before the final onset at most 10× as slow
MAX_FINAL_RITARD_S = 30.0  # ar.final_ritard_s: at most the last 30 s slow (a closing is 10 s)
MAX_FINAL_HELD_S = 10.0  # ar.final_held_s: a hurried final onset held at most 10 s


def style_path_names(text: str) -> list[str]:
    """ar.style_path as the attribute names it lists ("none" and "all" as themselves)."""
    return [name.strip() for name in text.split(",") if name.strip()]


@dataclass(frozen=True)
class AutoregressiveConfig:
    """The likelihood arm (`--arch ar`): a causal transformer over chunk latents with a mixture-of-Gaussians
    head for the next latent and an end-of-piece probability. `gan.*` supplies steps, seed, device,
    validate_every, sample_every and fine-tuning; `gan.batch` is ignored (`ar.batch` is used)."""

    context: int = 64
    """Chunks the transformer sees (64 × 0.25 s = 16 s); longer pieces slide this window along."""
    width: int = 128
    """Model width (128: ~0.8 M parameters at 4 layers, ~0.3 s a step on one CPU thread at batch 16)."""
    layers: int = 4
    """Transformer blocks."""
    heads: int = 4
    """Attention heads per block (must divide width)."""
    mixture: int = 8
    """Gaussian components of the next-latent density (of each dimension's, with head = dimwise)."""
    head: str = "mixture"
    """The next-latent density: mixture (K Gaussians with diagonal spreads over the whole latent) or dimwise
    (each dimension a mixture of K 1-D Gaussians given the dimensions before it, from a masked MLP: the
    latent's dimensions may depend on each other; sampling draws them one after another)."""
    head_hidden: int = 256
    """Hidden units of each of the dimwise head's two masked layers."""
    dropout: float = 0.1
    """Dropout inside the blocks while training."""
    batch: int = 16
    """Windows per batch."""
    lr: float = 1e-3
    """AdamW learning rate (cosine decay to 10 % over gan.steps after 200 warm-up steps)."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    end_weight: float = 1.0
    """Weight of the end-of-piece cross-entropy beside the latent negative log-likelihood."""
    ending_share: float = 0.25
    """Share of each batch drawn among windows that reach a track's end (importance-weighted back)."""
    input_noise: float = 0.0
    """Training only: Gaussian noise of this many standard deviations on the latents the transformer reads
    (the predicted ones stay clean), so that it learns to continue pasts as imperfect as its own samples
    (exposure bias: without it, free-running samples drift to notes half as long as teacher-forced ones)."""
    drawn_share: float = 0.0
    """Events arm, training only: this share of the chunks the transformer reads are not the real ones but
    chunks the head drew for that place (from the teacher-forced features, all at once, then encoded), while
    the targets stay real: parallel scheduled sampling (Duckworth et al. 2019) against exposure bias (the
    head draws notes as long as real ones after a real past, ~10 % shorter in free-running pieces:
    docs/quality.md, eighth session)."""
    temperature: float = 0.6
    """Sampling temperature of the component spreads: each draw's spread × τ (generate --temperature)."""
    mixture_temperature: float = 1.0
    """Sampling temperature of the mixture's weights: logits ÷ τ. Below 1 the likeliest component wins more
    often, and in silence that is the empty chunk's: at 0.7 a fifth of 16 s pieces held a silence of 4 s or
    more (real: 0.6 % of windows); at 1.0, 2 % (docs/quality.md). Runs before this setting sampled with
    τ = ar.temperature."""
    sample_seconds: float = 32.0
    """Longest MIDI sample written every gan.sample_every steps."""
    end_bias: float = 0.0
    """Sampling only: added to the end-of-piece logit (log-odds) where a piece ends itself (generate
    --max-seconds); above 0 pieces end sooner. A calibration of the sampler, chosen against the real lengths the
    model was trained on (bench/end_calibration.py fits it with ar.end_rise; bench/piece_lengths.py --end-bias
    samples under one; the shipped default's on the training split, the older models' on validation)."""
    end_rise: float = 0.0
    """Sampling only: added to the end-of-piece logit for every minute a piece has played (its new chunks: a
    prompt's do not count), where a piece ends itself; above 0 a piece grows likelier to end the longer it runs,
    so fewer run on to --max-seconds. With ar.end_bias a calibration of the lengths against the real ones the
    model was trained on (bench/end_calibration.py replays both without sampling again)."""
    end_after_s: float = 10.0
    """Sampling only: where a piece ends itself, it does not end before it has played this many seconds (its new
    chunks), so that no piece is a fragment of a second or two (the shortest ASAP performance lasts 45 s). 0: it may
    end after its first chunk."""
    project: bool = False
    """Sampling only: each drawn latent is decoded to its set of events and encoded again before the piece
    goes on, so that the transformer reads (and the piece holds) what a real chunk with those events encodes
    to, not a point off the autoencoder's manifold (generate --project)."""
    pedal_join_s: float = 0.02
    """Events arm, sampling only: a gap of at most this many seconds between consecutive drawn events of one
    pedal is closed (the earlier held to the later's start), as the decoder's ae.decode_pedal_join_s does. A
    held pedal that changes depth is a run of abutting events; a drawn duration is a bin about 10 % wide, so
    drawn runs end a little early or late and lift the pedal for a moment between them, which no foot does and a
    synthesizer plays as every held note dropped. 0: as drawn. Chosen on the validation split (bench/pedal_join.py):
    20 ms closes those lifts and keeps a pianist's, which last longer."""
    pedal_join_share: float = 0.0
    """Events arm, sampling only: as ar.pedal_join_s, for a gap of at most this share of the earlier event's
    duration, below 1 (a drawn duration errs in proportion to its length; a pianist's lift between presses does
    not)."""
    soft_join_s: float = 0.0
    """Events arm, sampling only: a lift of the soft pedal (una corda) of at most this many seconds between drawn
    presses is closed, the press before held to the next one's start (soft_runs.py). Each soft event is drawn on its
    own, and a held una corda came out as presses a moment apart, which a pianist shifting the keyboard for a passage
    does not play. 0: as drawn."""
    soft_shortest_s: float = 0.0
    """Events arm, sampling only: a drawn run of the soft pedal (after ar.soft_join_s) that holds it less than this
    many seconds is dropped (soft_runs.py): a shift of the keyboard for a tenth of a second is not heard as a colour.
    0: every run kept."""
    soft_quiet: bool = False
    """Events arm, sampling only: a drawn run of the una corda whose notes are on average no quieter than the piece's
    notes outside every run of it is dropped (soft_runs.py; the runs after ar.soft_join_s, judged beside the runs
    ar.soft_shortest_s drops, whose notes are not counted outside): a pianist shifts the keyboard for quiet playing
    (in the validation split's minutes the notes under it are 14.2 velocity quieter than the rest, in the default's
    6.6: bench/pedal_runs.py). false: every run kept."""
    carry: bool = False
    """Events arm: the event head also hears the events before each chunk exactly (the last 12 struck, and the
    latest press of each pedal: when each started and when it lifts; sequence/carry.py), not only through the
    chunk latents the transformer reads. Off in models trained before it; a warm start turns it on with the
    head unchanged at first."""
    intervals: int = 0
    """Events arm: heads of relative pitch (sequence/intervals.py): each key choice attends to the notes of the
    carry (with ar.carry: those struck before the chunk) and those drawn before it in the chunk, and adds, to each
    key's logit, a learned kernel at the interval from the notes attended to; 0: none. Its kernels start at zero,
    so a warm start is at first the model it started from."""
    tonal: bool = False
    """Events arm: the event head also hears the pitch classes of the notes struck in the 2 s, 8 s and 60 s before each
    chunk, read relative to each candidate key, and leans every key choice in the chunk towards what fits them
    (sequence/tonal.py). Off in models trained before it; a warm start turns it on with the head unchanged at
    first."""
    voices: bool = False
    """Events arm: each key choice also hears the highest and lowest keys of the latest onset and the highest of
    the onset before (among the carry's notes and those drawn before it in the chunk), and leans each key's logit
    by a kernel over the interval from each that the head's state chooses (sequence/voices.py). Its kernels start
    at zero, so a warm start is at first the model it started from."""
    register: bool = False
    """Events arm: each key choice also hears the highest and lowest keys struck in the 8 and the 32 chunks before
    the chunk (2 s and 8 s of 0.25 s chunks), and leans each key's logit by a kernel over the interval from each
    that the head's state chooses (sequence/register_heard.py). Its kernels start at zero, so a warm start is at
    first the model it started from."""
    pulse: bool = False
    """Events arm: each start choice also hears the latest 24 onsets before it (among the notes before the chunk
    and those drawn before it in the chunk) and leans each start bin's logit by a kernel over the time since each
    (10 ms steps up to 3 s) that the head's state chooses (sequence/pulse.py): a beat is one period after an
    onset. Its kernels start at zero, so a warm start is at first the model it started from."""
    pulse_lr_scale: float = 1.0
    """Events arm with ar.pulse: its kernels' layer trains at this multiple of ar.lr (a warm start adds it at zero
    beside a network trained for hours, at a learning rate chosen for that network: at 1× its kernels moved by
    about 0.02 in 500 steps, twentieth session)."""
    onsets: bool = False
    """Events arm: each step of the event head first chooses whether the next event joins the latest onset (starts
    within 25 ms of the latest note), starts a new one, or ends the chunk, and then its key knowing which; its start
    is drawn among the bins that choice allows (sequence/onsets.py). A warm start keeps every other choice as it
    was at first; the stop moves from the key to this choice, which is learned anew."""
    onsets_leans: bool = False
    """Events arm with ar.onsets: the key's leans by relative pitch (ar.intervals' attention, ar.voices' kernels)
    also hear whether the note joins the latest onset or starts a new one, as the key's own layers do (without it
    they read the GRU state alone, so the same intervals lean chord notes and line notes alike)."""
    onsets_lr_scale: float = 1.0
    """Events arm with ar.onsets: the weights of the choice it adds train at this multiple of ar.lr (a warm start
    adds them untrained beside a network trained for hours, at a learning rate chosen for that network)."""
    in_bins: bool = False
    """Events arm, sampling only: each drawn start and duration is placed uniformly inside its bin (5 ms starts, log
    duration bins ~10 % wide) rather than at its middle, so that drawn times are not on a grid (at the middles
    every duration is one of 96 values, which a classifier finds). Measured (docs/quality.md, eleventh session):
    no better at 16 s, worse at 60 s on validation, so off by default; the `style` model was measured with it."""
    style: bool = False
    """Events arm: at every chunk the transformer also reads a description of the 16 s from it on (register, spread,
    density, loudness, stepwise motion, damper, half pedal, soft pedal); sampling draws one per piece from real
    training passages kept in the model and holds it, or takes one from `tsm generate --style` (sequence/style.py).
    Off in models trained before it; a warm start turns it on with the network unchanged at first."""
    style_drawn: bool = True
    """Events arm with ar.style, sampling only: each piece is told a description drawn from the model's bank of
    training passages and held (true), or told none and plays as it was trained to untold, as after a prompt
    (false). `--style` tells the asked one either way."""
    style_path: str = "none"
    """Events arm with ar.style, sampling only: which attributes of a drawn piece's description move as a real
    training performance's do, chunk by chunk from a random point of it on: "none" (one passage's description held
    for the whole piece), "all", or a comma-separated list of them (e.g. "loudness,density"); the others are held
    at that performance's first description. Reads the paths a model keeps beside its weights
    (style_paths.safetensors: every training track's description each 4 s, written by training with ar.style;
    `python -m timestepmusic.train.style_paths` adds them to an older model)."""
    path_room: bool = False
    """Events arm with ar.style_path, sampling only: an unasked piece starts its walk only where the performance it
    walks lasts the whole piece beyond it (where it has such a point), as `--composer`'s pieces do; false: from any
    point, so that a piece drawn near a performance's end holds its last 16 s for the rest of the piece."""
    style_pause: bool = False
    """Events arm with ar.style: the description also holds its passage's longest pause (the longest stretch of
    chunks in which no note starts, stored as ln(1 + seconds)), so that a piece told a passage played throughout
    does not stall in silence for seconds. Its own projection starts at zero: a warm start turns it on with the
    network unchanged at first (exactly so on the corpus it was trained on: the bank and its statistics are made
    anew from the corpus)."""
    style_guidance: float = 1.0
    """Events arm with ar.style, sampling only: how closely a piece follows the description drawn for it. Every
    choice of every event is drawn from the untold logits + this × (told − untold) (classifier-free guidance: the
    network was trained told and, for a tenth of its windows, untold); 1 reads the told logits alone, above 1
    follows the description more closely; any value but 1 reads each piece twice (docs/quality.md, seventeenth
    session: on validation, at 2 the logistic regression tells 16 s drawn pieces apart less often, the trees do not,
    and the pieces are denser than real)."""
    prompt_told: bool = True
    """Events arm with ar.style, sampling only: a continued `--prompt` (without `--style`) is told the description
    of its own last 16 s (register, density, loudness, pedalling …), as a drawn piece is told a training passage's
    (docs/quality.md, eighteenth session: continuations closer to what the pianist played next in register,
    loudness and the pedals; density and key either way); false: the prompt is
    only heard, read as context (the network plays as it learnt to without a description)."""
    pedals_as_told: str = "given"
    """Events arm with ar.style, sampling only: which told descriptions keep a pedal up for the whole piece where
    they give it a zero share of the time (the damper or the soft pedal): "given" (those a user gives: a pedal a
    `tsm generate --style` request names at zero, so that `--style soft=0` plays no una corda; and a pedal a
    continued `--prompt` never presses in its last 16 s, told as its description, ar.prompt_told), "all" (every told
    description: drawn ones too, and all of an asked one, also the attributes it takes from a bank passage) or
    "none". The network, told a zero share, still presses the pedal now and then. Measured (docs/quality.md,
    eighteenth session): a continuation keeping up the pedal its prompt did not press is closer in soft pedal to
    what was played next; held over a whole drawn piece, a 16 s passage's "no soft pedal" leaves too many pieces
    without one, so "all" is not the default."""
    request_calibrated: bool = True
    """Events arm with ar.style, sampling only: a `--style` request is told what the model's measured curves say it
    must be told to play what was asked (sequence/style_calibration.py; measured by `python -m
    timestepmusic.train.style_calibration MODEL`, kept in its config.json; a model without them is told the request
    as asked). false: told as asked."""
    soft_kept_up: float = 0.0
    """Events arm with ar.style, sampling only: the share of the drawn pieces told a description without the una
    corda (a training passage that never presses it) that keep it up for the whole piece, chosen once per piece. 0:
    none (the network, told no soft pedal, still presses it now and then, so over a minute nearly every piece
    touches it: 10 % never do against 26 % of real minutes); 1: all (as ar.pedals_as_told "all" for the soft
    pedal). A per-piece choice whether to use the una corda at all, which a pianist makes and the network, deciding
    chunk by chunk, does not. Read with ar.pedals_as_told "given" (its default) only: "all" keeps the soft pedal up in
    every such piece, "none" in none; a piece told a request or continuing a prompt follows ar.pedals_as_told. With
    ar.style_path the description is read again at every chunk: a chosen piece keeps the una corda up wherever its
    path holds none (and ar.pedals_as_told "all" keeps each pedal up wherever the path gives it a zero share)."""
    request_guidance: float = 2.0
    """As ar.style_guidance, for a description asked with `tsm generate --style` (measured with
    bench/style_follow.py: at 2 an asked damper share of 0.3 is played at 0.30, at 1 at 0.53)."""
    pedal_guidance: float = 1.0
    """Events arm with ar.style, sampling only: guidance for the pedal choices alone (whether an event is the
    damper, the sostenuto or the una corda, against a note or the chunk's end): the network presses the una corda
    too little where told to and now and then where told not to. 1: as the piece's own guidance
    (ar.style_guidance, ar.request_guidance, --guidance); any other value: the pedal choices at it, everything else
    at the piece's, each piece read twice (docs/quality.md, nineteenth session: at 2 on drawn pieces, the pedalling
    nearer the description, and more stalls)."""
    key_guidance: float = 1.0
    """Events arm with ar.style, sampling only: guidance for a note's key alone (which of the 88 keys, once the event
    is a note), as ar.pedal_guidance is for the pedal choices: the told register and spread pulled on harder than the
    rest of the description. 1: as the piece's own guidance; any other value: the key choices at it whatever
    --guidance says, everything else at the piece's, each piece read twice (a piece told nothing: unguided). A
    continued prompt's keys keep its own guidance (guided, they moved further from what the pianist played next:
    bench/results/key_guidance_57_continuation*.md)."""
    velocity_temperature: float = 1.0
    """Events arm, sampling only: each note's velocity is drawn with its logits ÷ this (1: at the model's own
    odds; above 1 the velocities spread wider; a pedal's depth keeps the model's odds)."""
    duration_tilt: float = 0.0
    """Events arm, sampling only: each note's duration is drawn with this × ln(its seconds) added to its logits (an
    exponential tilt of the model's odds: above 0 notes held longer, below 0 shorter; a pedal's press keeps the
    model's odds). 0: at the model's own odds."""
    start_temperature: float = 1.0
    """Events arm, sampling only: each note's and pedal's start bin is drawn with its logits ÷ this (1: at the
    model's own odds; below 1 each start keeps nearer the time the head finds likeliest)."""
    stop_bias: float = 0.0
    """Events arm, sampling only: added to the logit of ending the chunk after its first event (log-odds; an empty
    chunk stays at the model's odds, so a piece falls no more silent): above 0 chunks hold fewer events. A
    calibration of the sampler's density, as ar.end_bias is of its lengths."""
    empty_bias: float = 0.0
    """Events arm, sampling only: added to the logit of ending a chunk before its first event, an empty chunk
    (log-odds): below 0 fewer chunks are empty, and a piece stalls in silence less often."""
    empty_ramp_s: float = 0.0
    """Events arm, sampling only: ar.empty_bias grows from none at the latest note's start to all of it this many
    seconds later, so that a pause keeps the network's odds of an empty chunk and a long silence is still cut short.
    0: all of it at every chunk."""
    silence_guard_s: float = 0.0
    """Events arm, sampling only: once no note has sounded for more than this many seconds (since the latest note
    stopped sounding: at its release, or where the damper or sostenuto was down then, when it lifted; or since the
    piece began), the logit of ending a chunk before it strikes a note is lowered by
    silence_guard.NATS_PER_S per second of silence beyond it, so that a stall is cut short (sequence/silence_guard.py).
    0: off, every draw as without it. Needs no training: any events model takes it."""
    beat_echo: float = 0.0
    """Events arm, sampling only: how strongly each note's start leans toward the times at which the intervals
    between the onsets heard before it recur after those onsets, so that the notes keep a beat (sequence/pulse.py,
    BeatEcho; the lean is this × ln(a floor + the bin's relative weight), in log-odds, added after
    ar.start_temperature; a pedal's start does not lean). 0: none; larger pulls the notes harder onto the beat (the
    default's 3 was chosen on validation among 1–5; above 5 unmeasured). Needs no training: any events model takes
    it, and a continued prompt's onsets are heard, so its beat carries on."""
    echo_recency_s: float = 0.0
    """Events arm, sampling only, with ar.beat_echo: each onset heard votes for the start bins at e^(−lag / this) of
    its weight, the lag from it to the bin in seconds, so that a start leans most toward an interval heard after the
    latest onsets (a run keeps its pace). 0: every onset heard votes alike."""
    cluster_guard: float = 0.0
    """Events arm, sampling only: among the notes that join the chord being struck, one within 2 semitones of one
    of its notes (a second or a unison inside the chord) is drawn at e^−this of its odds, the other chord notes
    more often in proportion (sequence/clusters.py; exact, by rejection: how often a note joins a chord keeps the
    network's odds; the notes before the chunk are heard where the model has ar.carry). 0: the network's odds;
    larger: fewer clusters. Needs no training: any events model takes it."""
    step_lean: float = 0.0
    """Events arm, sampling only: among the notes that start a new onset, one within 2 semitones of the note before
    is drawn at e^this times the odds of the others (sequence/steps.py; exact, by rejection, as ar.cluster_guard: how
    often a note starts an onset keeps the network's odds). 0: the network's odds; larger: more steps where a line
    moves. Needs no training: any events model takes it."""
    figure_echo: float = 0.0
    """Events arm, sampling only: where the steps between the last 4 notes struck (the intervals, from any key) were
    played before (among the last 48 notes), the key that goes on as they went on then is drawn at e^this times its
    odds, so that figures come back as a pianist's do (sequence/figures.py). 0: the network's odds. Needs no
    training: any events model takes it. Measured on validation at 1 and 2, not used: the top line's figures did not
    come back (docs/measured.md)."""
    restrike_guard: float = 0.0
    """Events arm, sampling only: every note on a key whose note before is still sounding at its start (as drawn:
    writing the file would cut that one short) is drawn at e^−this of its odds, the other notes more often in
    proportion (sequence/sounding.py; exact, by rejection, as ar.cluster_guard). 0: the network's odds; larger:
    fewer notes cut short. Needs no training: any events model takes it."""
    join_bias: float = 0.0
    """Events arm with ar.onsets, sampling only: added to the log-odds of the next event joining the latest onset
    rather than starting a new one (where both may follow; ending the chunk keeps its odds at each choice): above 0
    more notes join chords, fewer start onsets of their own, and the pieces still grow denser (docs/quality.md,
    thirty-third session). A model without ar.onsets refuses any value but 0."""
    damper_bias: float = 0.0
    """Events arm, sampling only: added to the logit of an event being a damper press or a change of its depth
    (log-odds; the notes, the other pedals and the chunk's end keep their odds between them): below 0 fewer damper
    events."""
    soft_bias: float = 0.0
    """Events arm, sampling only: added to the logit of an event being an una corda (soft pedal) press or a change
    of its depth (log-odds; the notes, the other pedals and the chunk's end keep their odds between them): above 0
    more una corda, below 0 less. A piece that keeps the una corda up (ar.soft_kept_up, ar.pedals_as_told) still
    never presses it."""
    register_follow: float = 0.0
    """Events arm with ar.style, sampling only, a drawn piece walking a path (ar.style_path, --composer, --like): each
    chunk is told its register and spread moved by this × (what the path asked of the last 16 s − what their notes
    played), weighted by how many notes those are (sequence/register_follow.py): a piece that drifts from the
    register it was told, or plays it narrower or wider, is told to come back. 0: told as drawn. Needs no training:
    any model trained with ar.style takes it. `tsm generate --set` refuses it where no path is walked (--style,
    --prompt, ar.style_path none), where it would be silently ignored."""
    density_follow: float = 0.0
    """Events arm with ar.style, sampling only, a drawn piece walking a path (ar.style_path, --composer, --like): each
    chunk is told its density moved by this × (what the path asked of the last 16 s − what they played), as
    ln(1 + notes per second), weighted by how long that is (sequence/register_follow.py): a piece that grows denser
    or sparser than told is told to come back. 0: told as drawn. Needs no training: any model trained with ar.style
    takes it. Refused where no path is walked, as ar.register_follow is."""
    spread_pull: float = 0.0
    """Events arm with ar.style, sampling only, a drawn piece walking a training performance's path (ar.style_path,
    --composer; not --like): the spread it is told moved this share of the way to the mean of the training passages'
    (0: as the passage plays, 1: every piece told the mean). The key guidance plays a told narrow spread narrower and
    a wide one wider, so the drawn pieces' pitch ranges vary more than a pianist's; this tells them a little nearer
    the middle. Needs no training: any model trained with ar.style takes it. `tsm generate --set` refuses it where no
    training performance's path is walked (--style, --prompt, --like, ar.style_path none), where it would be silently
    ignored."""
    path_spread_trim: float = 0.0
    """Events arm with ar.style, sampling only, drawn pieces walking training performances' paths (ar.style_path,
    --composer): no piece starts from a passage whose spread lies in this share of the narrowest, or of the widest,
    of the passages it could start from (0: any; below 0.5). Each piece is still told a real passage, its attributes
    together as played, from the middle of the spreads. Needs no training: any model trained with ar.style takes it.
    Refused where no training performance's path is walked, as ar.spread_pull is."""
    register_guard: float = 0.0
    """Events arm, sampling only: a note's key more than ar.register_margin semitones above the highest key struck
    in the last ar.register_window_s seconds (or below the lowest) is drawn with its logit lowered by this per
    semitone beyond (sequence/register_guard.py): fewer stray notes far from the register being played. 0: the network's
    odds. Whether the event is a note keeps the network's odds. Needs no training: any events model takes it."""
    register_min_p: float = 0.0
    """Events arm, sampling only: a note's key beyond ar.register_margin semitones of the register heard (as
    ar.register_guard's) is drawn only where its odds are at least this × the likeliest key's: the leaps the
    network is sure of are kept, its long tail of unlikely far keys cut. 0: none (the keys within the margin are
    never cut)."""
    register_margin: float = 3.0
    """Events arm, sampling only (with ar.register_guard or ar.register_min_p): how many semitones beyond the register
    heard are free."""
    register_window_s: float = 4.0
    """Events arm, sampling only (with ar.register_guard or ar.register_min_p): the seconds before each chunk whose
    notes make the register heard (whole chunks, at least one), with the notes drawn in the chunk so far."""
    closing_s: float = 0.0
    """Events arm: the last this many seconds of each track's chunks are told how many chunks are left (a learned
    offset to each one's input, sequence/closing.py; zero at first, so a warm start is at first the model it
    started from), and a piece that ends itself plays its closing: where the end head ends it (or this many seconds
    before --max-seconds), the next chunks are told the closing and the piece ends after them. 0: none (the
    piece stops where the end head says)."""
    closing_to: str = "end"
    """Events arm with ar.closing_s, training only: what each track's closing counts down to: "end", its last chunk
    (the fifty-first session's), or "last_onset", the chunk that holds its last note's start, so that the chunk a
    closing is told 1 in is the final chord (and the piece ends when it has rung out)."""
    closing_ring_s: float = 0.0
    """Events arm with ar.closing_to=last_onset: the chunks after each track's last onset, up to this many seconds,
    are told too (chunks after: -1, -2, …), and a piece that ends itself plays them after its closing, its final
    chord ringing out. 0: none (a piece ends with the chunk of its final chord)."""
    final_hold: float = 0.0
    """Events arm with ar.closing_s, sampling only: in a closing's final chord (the chunk told 1 chunk left), each
    note's duration is drawn with this × ln(its seconds) added to its logits, on top of ar.duration_tilt's, which
    every chunk has (above 0: the final chord held longer; a pedal's press keeps the model's odds). 0: drawn as every
    other chunk."""
    final_ritard: float = 1.0
    """Events arm with ar.closing_s, sampling only: a piece that closes slows into its final chord, the time of the
    ar.final_ritard_s seconds before the chord stretched by a factor growing from 1 to this at the chord (the chord
    itself and its ring as drawn, that much later: ritardando.py). 1: no slowing."""
    final_ritard_s: float = 1.0
    """Events arm with ar.final_ritard: the seconds of drawn time before the final chord that slow (all of a piece
    shorter than this; never a prompt's). 1: the span chosen with ar.final_ritard 3 for the shipped default (fifty-fourth
    session), so that a model trained with a closing and asked only ar.final_ritard slows as the default does."""
    closing_path: str = "walked"
    """Events arm with ar.closing_s, sampling only: what a piece walking a performance's path of descriptions
    (ar.style_path; --like) is told from its closing on: "walked", the path on where it is (a loud, busy passage
    mid-performance, where a closing may not close), or "ending", the walked performance's own last passage's
    description (as training tells a track's last chunks: the description of its last AHEAD chunks), so that a
    piece closes into an ending's character. "ending" for a piece that walks no path (--style, --prompt, a model with
    ar.style_path none) is refused in one line (path_walk.closing_path_refused), where it was silently ignored."""
    final_held_s: float = 0.0
    """Events arm with ar.closing_s, sampling only: a piece that closes and whose final onset (its last note's, with
    those struck just before it) is struck less than 0.5 s after the note before it, as heard (a passage running into
    the end, which pianists seldom play: final_chord.py), has that onset's notes held at least this many seconds
    (never past the piece's end). Applied after drawing: a piece draws as without it. 0: as drawn."""
    final_velocity_floor: float = 0.0
    """Events arm with ar.closing_s, sampling only: a piece that closes and whose final onset's loudest note is under
    this × the median velocity of the notes of the 10 s before it has that onset's notes played louder, all by one
    factor, up to that (final_chord.py; after drawing). 0: as drawn."""
    closing_only: bool = False
    """Events arm with ar.closing_s, training only: only the closing's offsets learn (every other weight kept as
    warm-started, so that a piece sounds exactly as before until it closes), on windows that all reach a track's
    end."""
    slide_stride: int = 16
    """Sampling past the context: the window slides this many chunks at a time (at most context − 1), re-reading
    its last context − stride chunks in one pass; 1 re-runs the whole window for every chunk (bench/ar_slide.py)."""

    def __post_init__(self) -> None:
        for key in ("context", "width", "layers", "heads", "mixture", "head_hidden", "batch", "slide_stride"):
            check_setting(getattr(self, key) >= 1, f"ar.{key}", f"must be ≥ 1, got {getattr(self, key)}")
        check_setting(self.head in ("mixture", "dimwise"), "ar.head", f"must be mixture or dimwise, got {self.head!r}")
        check_setting(self.width % self.heads == 0, "ar.heads", f"must divide ar.width ({self.width}), got {self.heads}")
        check_setting(0 <= self.dropout < 1, "ar.dropout", f"must be in [0, 1), got {self.dropout}")
        check_setting(self.input_noise >= 0, "ar.input_noise", f"must be ≥ 0, got {self.input_noise}")
        check_setting(0 <= self.drawn_share <= 1, "ar.drawn_share", f"must be in [0, 1], got {self.drawn_share}")
        check_setting(self.lr > 0, "ar.lr", f"must be > 0, got {self.lr}")
        check_setting(self.weight_decay >= 0, "ar.weight_decay", f"must be ≥ 0, got {self.weight_decay}")
        check_setting(self.end_weight >= 0, "ar.end_weight", f"must be ≥ 0, got {self.end_weight}")
        check_setting(0 <= self.ending_share < 1, "ar.ending_share", f"must be in [0, 1), got {self.ending_share}")
        check_setting(math.isfinite(self.closing_s) and self.closing_s >= 0, "ar.closing_s",
               f"must be ≥ 0 and finite (0 = none), got {self.closing_s}")
        check_setting(self.closing_s > 0 or not self.closing_only, "ar.closing_only", "needs ar.closing_s")
        check_setting(self.closing_to in ("end", "last_onset"), "ar.closing_to",
               f"must be end or last_onset, got {self.closing_to!r}")
        check_setting(math.isfinite(self.closing_ring_s) and self.closing_ring_s >= 0, "ar.closing_ring_s",
               f"must be ≥ 0 and finite (0 = none), got {self.closing_ring_s}")
        check_setting(self.closing_ring_s == 0 or self.closing_to == "last_onset", "ar.closing_ring_s",
               "needs ar.closing_to=last_onset (after a track's end nothing is left to tell)")
        check_setting(self.closing_path in ("walked", "ending"), "ar.closing_path",
               f"must be walked or ending, got {self.closing_path!r}")
        for name in ("closing_to", "closing_ring_s") + CLOSING_SAMPLING:  # given: not its default
            given = getattr(self, name) != getattr(AutoregressiveConfig, name)
            check_setting(self.closing_s > 0 or not given, f"ar.{name}", "needs ar.closing_s (without it nothing closes)")
        check_setting(1 <= self.final_ritard <= MAX_FINAL_RITARD, "ar.final_ritard",
               f"must be in [1, {MAX_FINAL_RITARD:g}] (1 = no slowing), got {self.final_ritard}")
        check_setting(0 < self.final_ritard_s <= MAX_FINAL_RITARD_S, "ar.final_ritard_s",
               f"must be in (0, {MAX_FINAL_RITARD_S:g}] seconds, got {self.final_ritard_s}")
        check_setting(0 <= self.final_held_s <= MAX_FINAL_HELD_S, "ar.final_held_s",
               f"must be in [0, {MAX_FINAL_HELD_S:g}] seconds (0 = as drawn), got {self.final_held_s}")
        check_setting(0 <= self.final_velocity_floor <= 1, "ar.final_velocity_floor",
               f"must be in [0, 1] (a share of the median velocity before the final onset; 0 = as drawn), got "
               f"{self.final_velocity_floor}")
        check_setting(self.pedal_join_s >= 0, "ar.pedal_join_s", f"must be ≥ 0 (0 = none), got {self.pedal_join_s}")
        check_setting(0 <= self.pedal_join_share < 1, "ar.pedal_join_share",
               f"must be in [0, 1) (0 = none), got {self.pedal_join_share}")
        check_setting(self.onsets or not self.onsets_leans, "ar.onsets_leans", "needs ar.onsets")
        check_setting(self.style or not self.style_pause, "ar.style_pause", "needs ar.style")
        check_setting(self.style or self.style_path == "none", "ar.style_path", "needs ar.style")
        check_setting(self.style or self.register_follow == 0, "ar.register_follow", "needs ar.style")
        check_setting(self.style or self.density_follow == 0, "ar.density_follow", "needs ar.style")
        check_setting(self.style or self.spread_pull == 0, "ar.spread_pull", "needs ar.style")
        check_setting(self.style or self.path_spread_trim == 0, "ar.path_spread_trim", "needs ar.style")
        check_setting(0 <= self.path_spread_trim < 0.5, "ar.path_spread_trim",
               f"must be in [0, 0.5) (0 = any passage), got {self.path_spread_trim}")
        check_setting(0 <= self.spread_pull <= 1, "ar.spread_pull",
               f"must be in [0, 1] (0 = as the passage plays, 1 = training's mean), got {self.spread_pull}")
        walked, names = style_path_names(self.style_path), STYLE_ATTRIBUTES + ((STYLE_PAUSE,) if self.style_pause else ())
        check_setting(self.style_path in ("none", "all") or (walked and all(n in names for n in walked)), "ar.style_path",
               f'must be none, all or a comma-separated list of {", ".join(names)}; got {self.style_path!r}')
        check_setting(self.pedals_as_told in PEDALS_AS_TOLD, "ar.pedals_as_told",
               f"must be one of {', '.join(PEDALS_AS_TOLD)}, got {self.pedals_as_told!r}")
        check_setting(0 <= self.soft_kept_up <= 1, "ar.soft_kept_up", f"must be in [0, 1], got {self.soft_kept_up}")
        for key in ("style_guidance", "request_guidance", "pedal_guidance", "key_guidance"):
            value = getattr(self, key)
            check_setting(math.isfinite(value) and value >= 0, f"ar.{key}", f"must be ≥ 0 and finite, got {value}")
        check_setting(self.onsets_lr_scale > 0, "ar.onsets_lr_scale", f"must be > 0, got {self.onsets_lr_scale}")
        check_setting(self.pulse_lr_scale > 0, "ar.pulse_lr_scale", f"must be > 0, got {self.pulse_lr_scale}")
        check_setting(self.intervals >= 0, "ar.intervals", f"must be ≥ 0 (0 = none), got {self.intervals}")
        check_setting(self.temperature > 0, "ar.temperature", f"must be > 0, got {self.temperature}")
        check_setting(self.mixture_temperature > 0, "ar.mixture_temperature", f"must be > 0, got {self.mixture_temperature}")
        check_setting(self.start_temperature > 0, "ar.start_temperature", f"must be > 0, got {self.start_temperature}")
        check_setting(self.velocity_temperature > 0, "ar.velocity_temperature", f"must be > 0, got {self.velocity_temperature}")
        check_setting(self.sample_seconds > 0, "ar.sample_seconds", f"must be > 0, got {self.sample_seconds}")
        check_setting(0 <= self.register_min_p < 1, "ar.register_min_p", f"must be in [0, 1), got {self.register_min_p}")
        check_setting(self.register_window_s > 0, "ar.register_window_s", f"must be > 0, got {self.register_window_s}")
        # (not value < 0: NaN is caught below, as not finite)
        for key in ("beat_echo", "echo_recency_s", "empty_ramp_s", "cluster_guard", "end_rise",
                    "end_after_s", "register_guard", "register_margin", "step_lean", "restrike_guard", "final_hold",
                    "silence_guard_s", "soft_join_s", "soft_shortest_s", "register_follow",
                    "density_follow", "figure_echo"):
            check_setting(not getattr(self, key) < 0, f"ar.{key}", f"must be ≥ 0 (0 = none), got {getattr(self, key)}")
        for key in ("end_bias", "end_rise", "end_after_s", "temperature", "mixture_temperature", "sample_seconds", "pedal_join_s",
                    "start_temperature", "velocity_temperature", "stop_bias", "empty_bias",
                    "empty_ramp_s", "beat_echo", "echo_recency_s", "cluster_guard",
                    "register_guard", "register_margin", "register_window_s", "damper_bias",
                    "step_lean", "join_bias", "restrike_guard", "duration_tilt", "final_hold", "silence_guard_s",
                    "soft_join_s", "soft_shortest_s", "soft_bias", "register_follow",
                    "density_follow", "figure_echo"):
            value = getattr(self, key)  # (NaN already fails the bounds above; ±inf would pass them)
            check_setting(math.isfinite(value), f"ar.{key}", f"must be finite, got {value}")
