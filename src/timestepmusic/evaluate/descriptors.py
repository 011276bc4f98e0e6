"""Musical descriptors of many short excerpts at once, vectorised over every event of every excerpt.

An excerpt table holds X excerpts: their events concatenated and sorted by (excerpt, start_s, id),
each event tagged with its excerpt, its start in seconds from the *excerpt's* start. An excerpt
holds the events that start inside it (durations may run past its end; they are clipped where time
is measured). This is how the corpus cuts chunks too (an event belongs to the chunk it starts in),
so a generator trained on chunk windows never sees a pedal carried in from before its window
either: real and generated excerpts are cut the same way.

Letters: E events, X excerpts, G points of the 50 ms time grid, P pitch classes (12).

Descriptors, each [X] (the pitch-class histogram [X, 12]); NaN where an excerpt has nothing to
measure (no notes, fewer than two onsets, no damper-down time):
  note_density           notes per second
  polyphony_mean / _max  keys held down at once, sampled every 50 ms (key-down only: notes the
                         damper sustains after release are not counted)
  pitch_range            highest minus lowest pitch, semitones
  pitch_class_entropy    Shannon entropy of the pitch-class histogram, bits (0 … log2 12 = 3.58)
  velocity_mean / _std   note velocities 1–127 (population std)
  ioi_mean / ioi_std     seconds between consecutive distinct onsets; onsets closer than 25 ms are
                         one onset (chord asynchrony in performance is mostly under ~30 ms)
  melodic_step_mean      mean absolute step in semitones of the top line: the highest key of each
                         distinct onset (as for ioi_*), to the next onset's highest key. The top
                         line, not every note in onset order: chord tones struck a few ms apart
                         would otherwise count as steps, and their order is asynchrony, not melody
  stepwise_share         share of those top-line steps of at most 2 semitones (repeats included):
                         conjunct against leaping motion
  figure_repeats         share of the top line's figures (4 onsets: its 3 signed steps, as for
                         melodic_step_mean, in semitones) that were played before in the excerpt, at any
                         pitch: 1 − distinct figures / figures. Scales, arpeggios, trills, an Alberti bass
                         and a returning motif repeat their steps (real ASAP 16 s excerpts: mean 0.16 on
                         the validation split, 0.20 on the test split; the default's pieces 0.03–0.05);
                         figuration that wanders repeats none. NaN with fewer than 2 figures (5 onsets)
  chord_cluster_share    share of the neighbouring keys of a chord (the notes of one distinct onset, as
                         for ioi_*, by pitch) at most 2 semitones apart: seconds and unisons struck
                         together, heard as smudged or wrong notes; real chords are mostly thirds and
                         wider (real ASAP 16 s excerpts: 4 % of the pairs). NaN without a chord
  key_steadiness         Pearson correlation over the 12 pitch classes of the note counts of the
                         excerpt's first and second half (by onset time): 1 = the same pitch classes
                         in the same proportions, < 0 = a far modulation (C to F♯ major: -5/7), ~0 =
                         no shared key (chromatic, or flat histograms); NaN unless both halves hold
                         notes of more than one count. Correlation, not the cosine of the raw counts:
                         pieces glued from chunks of many keys have flat histograms in both halves,
                         which a cosine scores as steady (0.85 for shuffled real chunks against 0.79
                         for real ASAP excerpts)
  pulse_clarity          how strongly the onsets repeat at a period: the distinct onsets (as for
                         ioi_*) as a train of 10 ms cells, blurred by a Gaussian of 20 ms (timing
                         is played, not quantised), its mean removed; the highest value of its
                         autocorrelation (1 at lag 0) at lags of 0.2–1.5 s, the beats of music
                         (40–300 per minute). A pianist's onsets fall on a beat and its
                         subdivisions (real ASAP excerpts: median 0.28); onsets at random moments
                         score near 0.1. NaN with fewer than 4 onsets or under 0.4 s
  duration_log_mean      mean of ln(note duration in seconds), durations floored at 1 ms
  longest_note_s         longest note duration, s (not clipped at the excerpt's end)
  longest_silence_s      longest stretch of the excerpt with no key held, s: the longest run of 50 ms
                         cells that no note overlaps (an excerpt without notes is silent throughout;
                         strings the damper lets ring count as silent). A generator that stalls on
                         the empty chunk writes seconds without a key, which the means above hardly show
  damper_fraction        share of the excerpt's time with the damper down at any depth (any
                         damper event: depth ≥ 1, since an event is never pedal-up)
  half_pedal_share       share of damper-down time at half depth: covered only by damper events of
                         intensity ≤ 96 (below the top quarter of the pedal's travel: with the
                         default 4 depth bins, every bin but the deepest)
  pedal_changes_per_s    pedal events per second, all three pedals (each event is a press or a
                         change of depth bin)
  sostenuto_fraction     share of time with the sostenuto pedal down
  soft_fraction          share of time with the soft pedal down
"""
from __future__ import annotations

import logging

import numpy as np

from ..midi import DAMPER_ID, LOWEST_PITCH, NUM_KEYS, SOFT_ID, SOSTENUTO_ID
from .excerpts import EPS, GRID_STEP_S, ExcerptTable

log = logging.getLogger(__name__)

ONSET_MERGE_S = 0.025  # onsets closer than this are one onset for the inter-onset intervals
HALF_PEDAL_MAX = 96  # damper intensity at or below this is a half pedal
MIN_DURATION_S = 1e-3
FIGURE_STEPS = 3  # a figure of figure_repeats: this many top-line steps (4 onsets)
PULSE_STEP_S, PULSE_BLUR_S, PULSE_LAGS_S = 0.01, 0.02, (0.2, 1.5)  # pulse_clarity's cells, blur and beat periods
PULSE_BLOCK = 256  # excerpts per block of pulse_clarity's transforms (memory: block × cells)

# name → (label, unit); the order in which reports list them
DESCRIPTORS: dict[str, tuple[str, str]] = {
    "note_density": ("note density", "notes/s"),
    "polyphony_mean": ("polyphony, mean", "keys"),
    "polyphony_max": ("polyphony, max", "keys"),
    "pitch_range": ("pitch range", "semitones"),
    "pitch_class_entropy": ("pitch-class entropy", "bits"),
    "velocity_mean": ("velocity, mean", "1–127"),
    "velocity_std": ("velocity, std", "1–127"),
    "ioi_mean": ("inter-onset interval, mean", "s"),
    "ioi_std": ("inter-onset interval, std", "s"),
    "melodic_step_mean": ("top-line step, mean", "semitones"),
    "stepwise_share": ("top-line steps ≤ 2 semitones", "share of steps"),
    "figure_repeats": ("top-line figures played again", "share of figures"),
    "chord_cluster_share": ("chord neighbours ≤ 2 semitones apart", "share of pairs"),
    "key_steadiness": ("key steadiness, half to half", "correlation"),
    "pulse_clarity": ("pulse clarity", "autocorrelation"),
    "duration_log_mean": ("note duration, mean of ln", "ln s"),
    "longest_note_s": ("longest note", "s"),
    "longest_silence_s": ("longest silence", "s"),
    "damper_fraction": ("damper down", "share of time"),
    "half_pedal_share": ("half pedal", "share of damper time"),
    "pedal_changes_per_s": ("pedal changes", "events/s"),
    "sostenuto_fraction": ("sostenuto down", "share of time"),
    "soft_fraction": ("soft pedal down", "share of time"),
}
SCALAR_DESCRIPTORS = tuple(DESCRIPTORS)
# each descriptor in plain words, for the report's readers (musicians more than statisticians): what it measures
# in one excerpt, and what a higher value sounds like; the module docstring has the exact definitions
DESCRIPTOR_MEANING: dict[str, str] = {
    "note_density": "notes struck per second: higher is busier",
    "polyphony_mean": "keys held down at once, on average (not the notes the damper keeps ringing)",
    "polyphony_max": "the most keys held down at once",
    "pitch_range": "lowest to highest note, in semitones (an octave is 12): higher spans more of the keyboard",
    "pitch_class_entropy": "how evenly the 12 pitch classes are used: higher is more chromatic (3.58 = all twelve "
                           "equally), lower keeps to a few notes of a key",
    "velocity_mean": "how hard the keys are struck, on MIDI's 1–127 scale (about 33 pp, 80 mf, 112 ff)",
    "velocity_std": "how much the loudness of the notes varies: higher is more contrast",
    "ioi_mean": "time between one onset and the next (a chord counts once): lower is faster",
    "ioi_std": "how much that time varies: higher is less even rhythm",
    "melodic_step_mean": "the top line (the highest note of each onset): its mean step to the next, in semitones",
    "stepwise_share": "share of the top line's steps of at most a whole tone (repeats included): higher is more "
                      "conjunct, lower more leaping",
    "figure_repeats": "share of the top line's four-note figures (their steps, at any pitch) played earlier in the "
                      "excerpt: higher comes back to its scales, arpeggios and motifs, 0 wanders without repeating",
    "chord_cluster_share": "share of neighbouring notes in a chord at most a whole tone apart (seconds, unisons): "
                           "higher sounds smudged; real chords are mostly thirds and wider",
    "key_steadiness": "how alike the pitch classes of the excerpt's two halves are: 1 = the same key throughout, "
                      "near 0 = no shared key, below 0 = a far modulation",
    "pulse_clarity": "how strongly the onsets fall on a regular beat: higher is a clearer pulse (onsets at random "
                     "moments score near 0.1)",
    "duration_log_mean": "typical note length, as the mean of its natural log (−2.3 ≈ 0.1 s, −0.7 ≈ 0.5 s, 0 = 1 s)",
    "longest_note_s": "the longest note, in seconds",
    "longest_silence_s": "the longest stretch with no key held, in seconds (strings the damper lets ring count as "
                         "silent)",
    "damper_fraction": "share of the time the damper (sustain) pedal is down, at any depth",
    "half_pedal_share": "share of that damper time at part depth (half pedalling) rather than fully down",
    "pedal_changes_per_s": "pedal presses and changes of depth per second, all three pedals",
    "sostenuto_fraction": "share of the time the sostenuto (middle) pedal is down",
    "soft_fraction": "share of the time the soft (una corda) pedal is down",
}
HISTOGRAM = "pitch_class_histogram"


def _coverage(excerpt: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, points_in: np.ndarray,
              num_points: int, step_s: float, cells: bool = False) -> np.ndarray:
    """How many of the given spans cover each grid point t = g·step_s of their excerpt: int [X, G]; with
    `cells`, how many overlap each cell [g·step_s, (g+1)·step_s) (a span shorter than a step still counts).
    Spans are clipped to their excerpt's points_in [X], so points past an excerpt's end stay 0."""
    num_excerpts = points_in.size
    limit = points_in[excerpt]
    first_point = np.floor(start_s / step_s + EPS) if cells else np.ceil(start_s / step_s - EPS)
    first = np.minimum(np.maximum(first_point, 0).astype(np.int64), limit)
    stop = np.minimum(np.maximum(np.ceil(end_s / step_s - EPS), 0).astype(np.int64), limit)
    stop = np.maximum(stop, first)
    row = excerpt * (num_points + 1)
    size = num_excerpts * (num_points + 1)
    delta = np.bincount(row + first, minlength=size) - np.bincount(row + stop, minlength=size)
    return np.cumsum(delta.reshape(num_excerpts, num_points + 1), axis=1)[:, :num_points]  # [X, G]


def _group_mean_std(values: np.ndarray, group: np.ndarray, num: int, min_count: int = 1):
    """Per-group mean and population std of `values`; NaN where a group has fewer than min_count values."""
    n = np.bincount(group, minlength=num).astype(np.float64)
    total = np.bincount(group, weights=values, minlength=num)
    total_sq = np.bincount(group, weights=values * values, minlength=num)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        std = np.sqrt(np.maximum(total_sq / n - mean * mean, 0.0))
    mean[n < min_count] = np.nan
    std[n < max(min_count, 2)] = np.nan
    return mean, std


def _longest_run(flags: np.ndarray) -> np.ndarray:
    """Longest run of True in each row: flags [X, G] → [X] (0 for a row without any)."""
    index = np.arange(flags.shape[1])
    last_false = np.maximum.accumulate(np.where(flags, -1, index), axis=1)  # [X, G] last False at or before
    return np.where(flags, index - last_false, 0).max(axis=1, initial=0).astype(np.float64)


def _onset_autocorrelations(onset_s: np.ndarray, onset_ex: np.ndarray, length_s: np.ndarray, x_count: int):
    """Distinct onsets' times [O] (from their excerpt's start) and excerpts [O], excerpt lengths [X] → for each block
    of the excerpts that hold a period twice (4 onsets or more, at least twice the shortest lag long): their indices
    [b] and the autocorrelation of each one's blurred onset train at lags of 0 … PULSE_LAGS_S[1] [b, hi + 1]."""
    cells_in = np.maximum(np.ceil(length_s / PULSE_STEP_S - EPS).astype(np.int64), 1)  # [X]
    counts = np.bincount(onset_ex, minlength=x_count)  # [X]
    hi = round(PULSE_LAGS_S[1] / PULSE_STEP_S)
    cell = np.minimum((onset_s / PULSE_STEP_S).astype(np.int64), cells_in[onset_ex] - 1)  # [O]
    measured = np.flatnonzero((counts >= 4) & (length_s >= 2 * PULSE_LAGS_S[0]))  # a period heard twice
    for block in np.array_split(measured, max(1, -(-measured.size // PULSE_BLOCK))):
        if block.size == 0:
            continue
        cells = int(cells_in[block].max())
        row = np.full(x_count, -1, dtype=np.int64)
        row[block] = np.arange(block.size)
        mine = row[onset_ex] >= 0
        train = np.zeros((block.size, cells))  # [b, C]
        train[row[onset_ex[mine]], cell[mine]] = 1.0
        inside = np.arange(cells) < cells_in[block, None]  # [b, C]
        train = np.where(inside, train - train.sum(axis=1, keepdims=True) / cells_in[block, None], 0.0)
        n = 2 * cells + hi + 1  # zero-padded: no lag read wraps round to a negative one, nor does the blur's reach
        frequency = np.fft.rfftfreq(n, PULSE_STEP_S)  # [n/2 + 1]
        blur = np.exp(-(2 * np.pi * frequency * PULSE_BLUR_S) ** 2)  # a Gaussian's |transform|², blurring once
        power = np.abs(np.fft.rfft(train, n, axis=1)) ** 2 * blur  # [b, n/2 + 1]
        yield block, np.fft.irfft(power, n, axis=1)[:, :hi + 1]  # [b], [b, hi + 1]


def _pulse_clarity(onset_s: np.ndarray, onset_ex: np.ndarray, length_s: np.ndarray, x_count: int) -> np.ndarray:
    """Distinct onsets' times [O] and excerpts [O], excerpt lengths [X] → the peak of each excerpt's blurred onset
    train's autocorrelation at lags PULSE_LAGS_S [X] (the module docstring)."""
    out = np.full(x_count, np.nan)
    lo = round(PULSE_LAGS_S[0] / PULSE_STEP_S)
    for block, autocorrelation in _onset_autocorrelations(onset_s, onset_ex, length_s, x_count):
        with np.errstate(invalid="ignore", divide="ignore"):
            peak = autocorrelation[:, lo:].max(axis=1) / autocorrelation[:, 0]
        out[block] = np.where(autocorrelation[:, 0] > 0, peak, np.nan)
    return out


def _figure_repeats(step: np.ndarray, step_ex: np.ndarray, x_count: int) -> np.ndarray:
    """The top line's signed steps [S] and their excerpts [S], in order → each excerpt's share of figures (FIGURE_STEPS
    consecutive steps) that repeat an earlier one of its own [X]: 1 − distinct / figures; NaN under 2 figures."""
    span = FIGURE_STEPS - 1
    if step.size <= span:
        return np.full(x_count, np.nan)
    whole = step_ex[span:] == step_ex[:-span]  # [S − span]: the figure's steps all lie in one excerpt
    code = step_ex[:-span].astype(np.int64)  # [S − span] one integer per (excerpt, steps)
    for k in range(FIGURE_STEPS):  # a step lies in −87 … 87: base 2 · NUM_KEYS digits
        code = code * (2 * NUM_KEYS) + step[k:step.size - span + k] + NUM_KEYS
    figures = np.bincount(step_ex[:-span][whole], minlength=x_count).astype(np.float64)  # [X]
    distinct = np.bincount(np.unique(code[whole]) // (2 * NUM_KEYS) ** FIGURE_STEPS, minlength=x_count)  # [X]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(figures >= 2, 1.0 - distinct / figures, np.nan)


def _onset_starts(n_start: np.ndarray, n_ex: np.ndarray) -> np.ndarray:
    """Notes' starts [N] and excerpts [N], in (excerpt, start) order → whether each note starts a distinct onset [N]:
    where the excerpt changes or the gap exceeds ONSET_MERGE_S."""
    new = np.ones(n_start.size, dtype=bool)
    new[1:] = (n_ex[1:] != n_ex[:-1]) | (np.diff(n_start) > ONSET_MERGE_S)
    return new


def pulse_periods_s(table: ExcerptTable) -> np.ndarray:
    """Each excerpt's beat as heard [X]: the lag of the highest peak of its blurred onset train's autocorrelation
    within PULSE_LAGS_S (the pulse_clarity's train; a peak, not the range's edge, where the autocorrelation may still
    rise); NaN where no peak lies inside, or too few onsets are heard."""
    note = table.ids < NUM_KEYS
    n_start, n_ex = table.start_s[note], table.excerpt[note]
    new = _onset_starts(n_start, n_ex)
    onset, onset_ex = n_start[new], n_ex[new]
    out = np.full(table.num_excerpts, np.nan)
    lo = round(PULSE_LAGS_S[0] / PULSE_STEP_S)
    for block, autocorrelation in _onset_autocorrelations(onset, onset_ex, table.length_s, table.num_excerpts):
        inner = autocorrelation[:, lo:]  # [b, lags from the shortest]
        peak = (inner[:, 1:-1] > inner[:, :-2]) & (inner[:, 1:-1] >= inner[:, 2:])  # [b, lags − 2]: local maxima
        best = np.where(peak, inner[:, 1:-1], -np.inf).argmax(axis=1)  # [b]
        heard = peak.any(axis=1) & (autocorrelation[:, 0] > 0)
        out[block] = np.where(heard, (lo + 1 + best) * PULSE_STEP_S, np.nan)
    return out


def describe(table: ExcerptTable, step_s: float = GRID_STEP_S) -> dict[str, np.ndarray]:
    """Descriptors of every excerpt (see the module docstring): name → [X], pitch_class_histogram → [X, 12]."""
    x_count = table.num_excerpts
    ex, ids = table.excerpt, table.ids.astype(np.int64)
    start = table.start_s
    end = start + np.maximum(table.duration_s, 0.0)
    level = table.intensity.astype(np.float64)
    length = table.length_s
    points_in = np.ceil(length / step_s - EPS).astype(np.int64)  # [X] grid points inside each excerpt
    num_points = int(points_in.max(initial=1))
    out: dict[str, np.ndarray] = {}

    note = ids < NUM_KEYS
    n_ex, n_start, n_key = ex[note], start[note], ids[note]
    n_notes = np.bincount(n_ex, minlength=x_count).astype(np.float64)  # [X]
    none = n_notes == 0
    out["note_density"] = n_notes / length

    held = _coverage(n_ex, n_start, end[note], points_in, num_points, step_s)  # [X, G]
    out["polyphony_mean"] = held.sum(axis=1) / points_in
    out["polyphony_max"] = held.max(axis=1, initial=0).astype(np.float64)
    sounding = _coverage(n_ex, n_start, end[note], points_in, num_points, step_s, cells=True) > 0  # [X, G]
    inside = np.arange(num_points) < points_in[:, None]  # [X, G]
    out["longest_silence_s"] = _longest_run(~sounding & inside) * step_s

    struck = np.bincount(n_ex * NUM_KEYS + n_key, minlength=x_count * NUM_KEYS).reshape(x_count, NUM_KEYS) > 0
    lowest = np.argmax(struck, axis=1)  # [X] first key struck
    highest = NUM_KEYS - 1 - np.argmax(struck[:, ::-1], axis=1)
    out["pitch_range"] = np.where(none, np.nan, (highest - lowest).astype(np.float64))

    counts = np.bincount(n_ex * 12 + (n_key + LOWEST_PITCH) % 12, minlength=x_count * 12).reshape(x_count, 12)  # [X, P]
    with np.errstate(invalid="ignore", divide="ignore"):
        histogram = counts / n_notes[:, None]
        plogp = np.where(counts > 0, histogram * np.log2(np.where(counts > 0, histogram, 1.0)), 0.0)
    out["pitch_class_entropy"] = np.where(none, np.nan, -plogp.sum(axis=1))
    out[HISTOGRAM] = histogram

    out["velocity_mean"], out["velocity_std"] = _group_mean_std(level[note], n_ex, x_count)

    new = _onset_starts(n_start, n_ex)  # distinct onsets
    onset, onset_ex = n_start[new], n_ex[new]
    same = onset_ex[1:] == onset_ex[:-1]
    out["ioi_mean"], out["ioi_std"] = _group_mean_std(np.diff(onset)[same], onset_ex[1:][same], x_count)
    top = np.maximum.reduceat(n_key, np.flatnonzero(new)) if new.size else n_key  # [onsets] highest key of each
    signed_step = np.diff(top)[same]  # top-line steps within an excerpt, semitones, up positive
    step = np.abs(signed_step).astype(np.float64)
    out["melodic_step_mean"], _ = _group_mean_std(step, onset_ex[1:][same], x_count)
    out["stepwise_share"], _ = _group_mean_std((step <= 2).astype(np.float64), onset_ex[1:][same], x_count)
    out["figure_repeats"] = _figure_repeats(signed_step, onset_ex[1:][same], x_count)
    onset_of = np.cumsum(new) - 1  # [notes]: the distinct onset each note is in
    by_pitch = np.lexsort((n_key, onset_of))  # each onset's notes, low to high
    chord_key, chord_of = n_key[by_pitch], onset_of[by_pitch]
    pair = chord_of[1:] == chord_of[:-1]  # neighbouring keys of one chord
    out["chord_cluster_share"], _ = _group_mean_std((np.diff(chord_key)[pair] <= 2).astype(np.float64),
                                                    n_ex[by_pitch][1:][pair], x_count)

    second = (n_start >= length[n_ex] / 2).astype(np.int64)  # which half of its excerpt each note starts in
    halves = np.bincount((n_ex * 2 + second) * 12 + (n_key + LOWEST_PITCH) % 12,
                         minlength=x_count * 24).reshape(x_count, 2, 12).astype(np.float64)  # [X, 2, P]
    centred = halves - halves.mean(axis=2, keepdims=True)  # [X, 2, P]
    norms = np.linalg.norm(centred, axis=2)  # [X, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["key_steadiness"] = (centred[:, 0] * centred[:, 1]).sum(axis=1) / (norms[:, 0] * norms[:, 1])

    out["pulse_clarity"] = _pulse_clarity(onset, onset_ex, length, x_count)

    log_duration = np.log(np.maximum(table.duration_s[note], MIN_DURATION_S))
    out["duration_log_mean"], _ = _group_mean_std(log_duration, n_ex, x_count)
    longest = np.full(x_count, -np.inf)
    np.maximum.at(longest, n_ex, table.duration_s[note])
    out["longest_note_s"] = np.where(none, np.nan, longest)

    def down(which: np.ndarray) -> np.ndarray:  # [X, G] grid points covered by any of these pedal events
        return _coverage(ex[which], start[which], end[which], points_in, num_points, step_s) > 0

    damper = ids == DAMPER_ID
    damper_down = down(damper)
    full_down = down(damper & (level > HALF_PEDAL_MAX))
    down_points = damper_down.sum(axis=1)
    out["damper_fraction"] = down_points / points_in
    with np.errstate(invalid="ignore", divide="ignore"):
        out["half_pedal_share"] = np.where(down_points > 0, (damper_down & ~full_down).sum(axis=1) / down_points,
                                           np.nan)
    out["pedal_changes_per_s"] = np.bincount(ex[ids >= DAMPER_ID], minlength=x_count) / length
    for name, pedal in (("sostenuto_fraction", SOSTENUTO_ID), ("soft_fraction", SOFT_ID)):
        out[name] = down(ids == pedal).sum(axis=1) / points_in
    return {name: out[name] for name in (*SCALAR_DESCRIPTORS, HISTOGRAM)}
