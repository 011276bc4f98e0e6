"""How do the pieces look to a check written apart from `tsm evaluate`? The issue's outside check told the shipped
model's pieces from real ones with descriptors and a classifier of its own; this script is one such check, written
without `timestepmusic.evaluate` (no descriptor, excerpt or classifier code of the project's): it reads the MIDI
files with symusic, describes every 16 s excerpt by 42 figures of its own (the top line and the bass, chords and
their dissonance, local key clarity, the onsets' periodicity, articulation, voicing, repetition, the three pedals
at 10 ms), and trains scikit-learn's gradient-boosted trees and a logistic regression to tell each row from the
real excerpts of one split (5 folds that keep each piece whole, all its performances; classes weighed equally:
balanced accuracy).

  rows      real halves (the pieces of the split in two halves: the ceiling, near 0.5); real chunks shuffled
            (each real excerpt's 0.25 s chunks put in a random order: the floor); then each folder of generated
            MIDI given (each file one excerpt, cut to its first --seconds); each told apart with every descriptor,
            without the three probes of how this project's files are made (PROBES: onsets on its 0.25 s chunk grid,
            its pedal writer's few depths), and without those and the top line's repeated figures
  tells     for the last folder: each descriptor's trees accuracy alone and its means, real and generated

Only the split's file list is read from the prepared corpus (corpus.json); everything else from the MIDI files.

    python bench/outside_view.py --corpus /work/data/asap --split validation out/default_s0 out/default_s1 \
        --markdown bench/results/outside_view_65_validation.md
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import symusic
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402  (formatting only)

FRAME_S = 0.01  # the pedals' frames
CHORD_S = 0.03  # onsets within this of the cluster's first are one chord
GRID_S = 0.25  # the generator's chunk: a probe of onsets crowding on its grid
# descriptors that probe how this project's pieces are made (its 0.25 s chunk grid, its pedal writer's few depths),
# not what a listener hears of the music: the table also reads the rest without them
PROBES = ("grid_025_concentration", "grid_025_first_tenth", "pedal_values_distinct")
# Krumhansl–Kessler key profiles (C major, C minor)
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PROFILES = np.stack([np.roll(p, k) for p in (MAJOR, MINOR) for k in range(12)])  # [24, 12]
PROFILES = (PROFILES - PROFILES.mean(1, keepdims=True)) / PROFILES.std(1, keepdims=True)


class Excerpt:
    """One excerpt: notes (start_s, end_s, pitch, velocity [N] each, by start) and the three pedals' values at
    every 10 ms frame [3, F] (damper, sostenuto, soft; 0–127), over `seconds`."""

    def __init__(self, start_s, end_s, pitch, velocity, pedals, seconds):
        order = np.argsort(start_s, kind="stable")
        self.start_s, self.end_s = start_s[order], np.minimum(end_s[order], seconds)
        self.pitch, self.velocity = pitch[order], velocity[order]
        self.pedals, self.seconds = pedals, seconds


def read_midi(path: Path) -> tuple[np.ndarray, ...]:
    """Every non-drum note (start_s, end_s, pitch, velocity) and pedal change (time_s, number, value) of a file."""
    score = symusic.Score(str(path), ttype="second")
    notes, controls = [], []
    for track in score.tracks:
        if track.is_drum:
            continue
        n = track.notes.numpy()
        notes.append(np.stack([n["time"], n["time"] + n["duration"], n["pitch"], n["velocity"]], 1))
        c = track.controls.numpy()
        keep = np.isin(c["number"], (64, 66, 67))
        controls.append(np.stack([c["time"][keep], c["number"][keep], c["value"][keep]], 1))
    notes = np.concatenate(notes) if notes else np.zeros((0, 4))
    controls = np.concatenate(controls) if controls else np.zeros((0, 3))
    return notes, controls[np.argsort(controls[:, 0], kind="stable")]


def pedal_frames(controls: np.ndarray, begin_s: float, seconds: float) -> np.ndarray:
    """The pedals' values [3, F] at each frame of [begin_s, begin_s + seconds): the latest change at or before it."""
    frames = begin_s + np.arange(int(round(seconds / FRAME_S))) * FRAME_S
    out = np.zeros((3, frames.size))
    for row, number in enumerate((64, 66, 67)):
        mine = controls[controls[:, 1] == number]
        if len(mine) == 0:
            continue
        at = np.searchsorted(mine[:, 0], frames, side="right") - 1
        out[row] = np.where(at >= 0, mine[np.maximum(at, 0), 2], 0)
    return out


def cut(notes: np.ndarray, controls: np.ndarray, begin_s: float, seconds: float) -> Excerpt:
    inside = (notes[:, 0] >= begin_s) & (notes[:, 0] < begin_s + seconds)
    n = notes[inside]
    return Excerpt(n[:, 0] - begin_s, n[:, 1] - begin_s, n[:, 2].astype(int), n[:, 3],
                   pedal_frames(controls, begin_s, seconds), seconds)


def real_excerpts(corpus: Path, split: str, seconds: float) -> tuple[list[Excerpt], list[int]]:
    """Every track of `split` (the prepared corpus's list) cut into consecutive `seconds` windows; groups: pieces (a
    piece's performances play the same notes: folds that test one while training on another learn the piece)."""
    tracks = json.loads((corpus / "corpus.json").read_text())["tracks"]
    excerpts, groups, pieces = [], [], {}
    for index, track in enumerate(tracks):
        if track["split"] != split:
            continue
        path = Path(track["path"])
        if not path.is_absolute():
            path = (BENCH.parent / path).resolve()
        notes, controls = read_midi(path)
        length_s = max(float(notes[:, 1].max()) if len(notes) else 0.0, seconds)
        for k in range(max(1, int(length_s // seconds))):
            excerpts.append(cut(notes, controls, k * seconds, seconds))
            groups.append(pieces.setdefault(track.get("piece", str(index)), len(pieces)))
    return excerpts, groups


def shuffled(excerpt: Excerpt, rng: np.random.Generator) -> Excerpt:
    """The excerpt's 0.25 s chunks in a random order: each note keeps its place in its chunk, the pedals theirs."""
    chunks = int(round(excerpt.seconds / GRID_S))
    order = rng.permutation(chunks)  # new place of chunk c: where[c]
    where = np.empty(chunks, dtype=int)
    where[order] = np.arange(chunks)
    chunk = np.minimum((excerpt.start_s // GRID_S).astype(int), chunks - 1)
    shift = (where[chunk] - chunk) * GRID_S
    per = int(round(GRID_S / FRAME_S))
    pedals = excerpt.pedals[:, :chunks * per].reshape(3, chunks, per)[:, order].reshape(3, -1)  # [3, C, P] → [3, F]
    return Excerpt(excerpt.start_s + shift, excerpt.end_s + shift, excerpt.pitch, excerpt.velocity, pedals,
                   excerpt.seconds)


def chords(e: Excerpt) -> list[np.ndarray]:
    """The notes' indices grouped into chords: onsets within CHORD_S of the chord's first."""
    out, begin = [], 0
    for i in range(1, len(e.start_s) + 1):
        if i == len(e.start_s) or e.start_s[i] - e.start_s[begin] > CHORD_S:
            out.append(np.arange(begin, i))
            begin = i
    return out


def key_clarity(pitch: np.ndarray, weight: np.ndarray) -> float:
    """The best correlation of the weighted pitch-class histogram with the 24 key profiles."""
    hist = np.bincount(pitch % 12, weights=weight, minlength=12)
    if hist.std() == 0:
        return 0.0
    hist = (hist - hist.mean()) / hist.std()
    return float((PROFILES @ hist).max() / 12)


def describe(e: Excerpt) -> dict[str, float]:
    """The excerpt's figures (NaN-free: where a figure has no notes to read, a neutral value)."""
    f: dict[str, float] = {}
    n = len(e.pitch)
    s = e.seconds
    dur = np.maximum(e.end_s - e.start_s, 1e-3)
    f["notes_per_s"] = n / s
    if n < 2:
        pitch = np.array([60, 60]) if n == 0 else np.repeat(e.pitch, 2)
    else:
        pitch = e.pitch
    f["pitch_mean"] = float(pitch.mean())
    f["pitch_sd"] = float(pitch.std())
    f["pitch_span_p5_p95"] = float(np.percentile(pitch, 95) - np.percentile(pitch, 5))
    groups = chords(e) if n else []
    tops = np.array([e.pitch[g].max() for g in groups]) if groups else np.array([60])
    bass = np.array([e.pitch[g].min() for g in groups]) if groups else np.array([60])
    onsets = np.array([e.start_s[g[0]] for g in groups]) if groups else np.array([0.0])
    sizes = np.array([len(g) for g in groups]) if groups else np.array([0])
    top_steps = np.diff(tops) if len(tops) > 1 else np.zeros(1)
    f["top_step_abs_mean"] = float(np.abs(top_steps).mean())
    f["top_step_share_le2"] = float((np.abs(top_steps) <= 2).mean())
    f["top_leap_share_gt7"] = float((np.abs(top_steps) > 7).mean())
    turns = np.sign(top_steps[top_steps != 0])
    f["top_turn_share"] = float((turns[1:] != turns[:-1]).mean()) if len(turns) > 1 else 0.0
    f["bass_step_abs_mean"] = float(np.abs(np.diff(bass)).mean()) if len(bass) > 1 else 0.0
    f["chord_size_mean"] = float(sizes.mean())
    f["single_note_share"] = float((sizes == 1).mean())
    f["chords_3plus_share"] = float((sizes >= 3).mean())
    ioi = np.diff(onsets) if len(onsets) > 1 else np.full(1, s)
    f["ioi_median_s"] = float(np.median(ioi))
    f["ioi_cv"] = float(ioi.std() / max(ioi.mean(), 1e-3))
    f["npvi"] = float(np.mean(np.abs(np.diff(ioi)) / ((ioi[1:] + ioi[:-1]) / 2))) if len(ioi) > 1 else 0.0
    hist, _ = np.histogram(np.log2(np.clip(ioi, 0.02, 4.0)), bins=12, range=(np.log2(0.02), 2))
    p = hist[hist > 0] / hist.sum()
    f["ioi_entropy"] = float(-(p * np.log2(p)).sum())
    # onsets' periodicity: the strongest autocorrelation of the 10 ms onset train at lags of 0.2–1.5 s
    train = np.bincount(np.minimum((onsets / FRAME_S).astype(int), int(s / FRAME_S) - 1), minlength=int(s / FRAME_S))
    train = np.convolve(train.astype(float), np.ones(3), "same")
    train -= train.mean()
    ac = np.correlate(train, train, "full")[train.size - 1:]
    ac = ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)
    f["onset_periodicity"] = float(ac[20:150].max())
    phase = np.exp(2j * np.pi * onsets / GRID_S)
    f["grid_025_concentration"] = float(np.abs(phase.mean()))  # probe: onsets on the generator's chunk grid
    f["grid_025_first_tenth"] = float(((onsets % GRID_S) < GRID_S / 10).mean())
    # articulation along the top line: how long each top note lasts against the gap to the next chord
    top_index = np.array([g[np.argmax(e.pitch[g])] for g in groups]) if groups else np.zeros(0, int)
    if len(top_index) > 1:
        f["top_legato_ratio"] = float(np.median(dur[top_index[:-1]] / np.maximum(np.diff(onsets), 1e-3)))
    else:
        f["top_legato_ratio"] = 1.0
    f["duration_log_median"] = float(np.median(np.log(dur))) if n else 0.0
    f["duration_max_s"] = float(dur.max()) if n else 0.0
    f["long_note_share_2s"] = float((dur > 2).mean()) if n else 0.0
    vel = e.velocity if n else np.array([64.0])
    f["velocity_mean"] = float(vel.mean())
    f["velocity_sd"] = float(vel.std())
    voiced = [g for g in groups if len(g) >= 2]
    f["top_voice_louder"] = float(np.mean([e.velocity[g[np.argmax(e.pitch[g])]] - np.delete(e.velocity[g],
                                           np.argmax(e.pitch[g])).mean() for g in voiced])) if voiced else 0.0
    top_vel = e.velocity[top_index] if len(top_index) > 2 else np.array([64.0, 64.0, 64.0])
    f["top_velocity_lag1"] = float(np.corrcoef(top_vel[:-1], top_vel[1:])[0, 1]) if top_vel.std() > 0 else 0.0
    if not np.isfinite(f["top_velocity_lag1"]):
        f["top_velocity_lag1"] = 0.0
    # harmony: key clarity over the excerpt and over 2 s windows, dissonance among notes sounding together
    pitch_all = e.pitch if n else np.array([60])
    f["key_clarity"] = key_clarity(pitch_all, dur if n else np.ones(1))
    local = [key_clarity(e.pitch[m], dur[m]) for k in range(int(s // 2))
             if (m := (e.start_s >= 2 * k) & (e.start_s < 2 * k + 2)).sum() >= 3]
    f["key_clarity_2s"] = float(np.mean(local)) if local else 0.0
    dissonant, pairs = 0, 0
    for g in groups:  # the notes sounding at each chord's onset
        t = e.start_s[g[0]]
        sounding = e.pitch[(e.start_s <= t + CHORD_S) & (e.end_s > t)]
        if len(sounding) >= 2:
            d = np.abs(sounding[:, None] - sounding[None, :])[np.triu_indices(len(sounding), 1)] % 12
            dissonant += int(np.isin(d, (1, 2, 6, 10, 11)).sum())
            pairs += len(d)
    f["dissonant_pair_share"] = dissonant / pairs if pairs else 0.0
    sounding_count = np.zeros(int(s / FRAME_S))
    for a, b in zip((e.start_s / FRAME_S).astype(int), (e.end_s / FRAME_S).astype(int)):
        sounding_count[a:max(b, a + 1)] += 1
    f["polyphony_mean"] = float(sounding_count.mean())
    silent = np.concatenate([[0], (sounding_count == 0).astype(int), [0]])
    edges = np.flatnonzero(np.diff(silent))
    f["longest_gap_s"] = float((edges[1::2] - edges[::2]).max() * FRAME_S) if len(edges) else 0.0
    # repetition: the first half's chroma against the second's; repeated 4-note figures in the top line
    half = e.start_s < s / 2
    a = np.bincount(pitch_all[half[:len(pitch_all)]] % 12, minlength=12) if n else np.zeros(12)
    b = np.bincount(pitch_all[~half[:len(pitch_all)]] % 12, minlength=12) if n else np.zeros(12)
    f["halves_chroma_cosine"] = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) if a.any() and b.any() else 0.0
    grams = [tuple(top_steps[i:i + 3]) for i in range(len(top_steps) - 2)]
    f["top_figure_repeats"] = 1.0 - len(set(grams)) / len(grams) if grams else 0.0
    # pedals
    damper, sost, soft = e.pedals
    f["damper_down_share"] = float((damper >= 64).mean())
    f["damper_half_share"] = float(((damper > 10) & (damper < 100)).mean())
    presses = np.flatnonzero(np.diff((damper >= 64).astype(int)) == 1)
    f["damper_presses_per_s"] = len(presses) / s
    lifts = np.flatnonzero(np.diff((damper >= 64).astype(int)) == -1)
    gaps = [presses[presses > x][0] - x for x in lifts if (presses > x).any()]  # lifts pressed again in the excerpt
    f["damper_lift_median_s"] = float(np.median(gaps) * FRAME_S) if gaps else 0.0
    bass_onsets = onsets[np.r_[True, np.diff(bass) != 0]] if len(bass) > 1 else onsets
    press_s = (presses + 1) * FRAME_S
    f["press_after_bass_share"] = float(np.mean([((press_s - t > 0) & (press_s - t < 0.4)).any()
                                                 for t in bass_onsets])) if len(press_s) else 0.0
    f["soft_down_share"] = float((soft >= 64).mean())
    f["sostenuto_down_share"] = float((sost >= 64).mean())
    f["pedal_values_distinct"] = float(len(np.unique(damper)))
    return f


def matrix(excerpts: list[Excerpt]) -> tuple[np.ndarray, list[str]]:
    described = [describe(e) for e in excerpts]
    names = list(described[0])
    return np.array([[d[k] for k in names] for d in described]), names


def accuracy(real: np.ndarray, other: np.ndarray, real_groups: np.ndarray, other_groups: np.ndarray,
             model: str, seed: int = 0) -> float:
    """Balanced accuracy of telling `other` from `real` over 5 folds that keep each group whole."""
    x = np.concatenate([real, other])
    y = np.r_[np.zeros(len(real)), np.ones(len(other))]
    groups = np.r_[real_groups, other_groups]
    weight = np.where(y == 1, len(y) / (2 * len(other)), len(y) / (2 * len(real)))
    correct = np.zeros(2)
    for train, test in StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(x, y, groups):
        if model == "trees":
            clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
            clf.fit(x[train], y[train], sample_weight=weight[train])
        else:
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
            clf.fit(x[train], y[train], logisticregression__sample_weight=weight[train])
        hit = clf.predict(x[test]) == y[test]
        correct += [hit[y[test] == 0].sum(), hit[y[test] == 1].sum()]
    return float((correct[0] / len(real) + correct[1] / len(other)) / 2)


def generated(folder: Path, seconds: float) -> list[Excerpt]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if not files:
        raise SystemExit(f"{folder}: no MIDI files")
    out = []
    for path in files:
        notes, controls = read_midi(path)
        out.append(cut(notes, controls, 0.0, seconds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="folders of generated MIDI, one row each")
    parser.add_argument("--corpus", type=Path, required=True, help="a prepared corpus (its corpus.json lists the split)")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    real, groups = real_excerpts(args.corpus, args.split, args.seconds)
    groups = np.array(groups)
    x_real, names = matrix(real)
    rows = []

    kept = {"all": np.arange(len(names))}  # the descriptors each pair of columns reads
    kept["no probes"] = np.array([k for k, name in enumerate(names) if name not in PROBES])
    kept["no probes, no repeats"] = np.array([k for k in kept["no probes"] if names[k] != "top_figure_repeats"])

    def row(name: str, x_other: np.ndarray, real_rows: np.ndarray, other_groups: np.ndarray) -> None:
        cells = [name, str(len(x_other))]
        for columns in kept.values():
            for model in ("logistic", "trees"):
                told = accuracy(x_real[real_rows][:, columns], x_other[:, columns], groups[real_rows], other_groups,
                                model, args.seed)
                cells.append(f"{told:.3f}")
        rows.append(cells)

    pieces = np.unique(groups)
    half = np.isin(groups, rng.permutation(pieces)[: len(pieces) // 2])
    row("real halves (ceiling)", x_real[half], ~half, groups[half])
    x_shuffled, _ = matrix([shuffled(e, rng) for e in real])
    every = np.ones(len(real), bool)
    row("real chunks shuffled (floor)", x_shuffled, every, groups)  # each in its source's fold: no twin across folds
    for folder in args.folders:
        x_gen, _ = matrix(generated(folder, args.seconds))
        row(str(folder), x_gen, every, np.arange(len(x_gen)) + 2 * 10**6)
    lines = [f"{len(real)} real {args.seconds:g} s excerpts ({args.split}); {len(names)} descriptors written apart from "
             "tsm evaluate; balanced accuracy, 5 folds keeping each piece whole (all its performances)", "",
             "columns: every descriptor; without the three probes of how this project writes files (" + ", ".join(PROBES)
             + "); without them and top_figure_repeats", "",
             *table(["row", "excerpts", "logistic", "trees", "logistic", "trees", "logistic", "trees"], rows), ""]
    x_all = np.concatenate([matrix(generated(folder, args.seconds))[0] for folder in args.folders])
    tells = []
    for k, name in enumerate(names):
        alone = accuracy(x_real[:, [k]], x_all[:, [k]], groups, np.arange(len(x_all)) + 2 * 10**6, "trees", args.seed)
        tells.append((alone, [name, f"{alone:.3f}", f"{np.median(x_real[:, k]):.3f}", f"{np.median(x_all[:, k]):.3f}",
                              f"{np.percentile(x_real[:, k], 25):.3f}–{np.percentile(x_real[:, k], 75):.3f}",
                              f"{np.percentile(x_all[:, k], 25):.3f}–{np.percentile(x_all[:, k], 75):.3f}"]))
    tells.sort(key=lambda t: -t[0])
    lines += [f"each descriptor alone (trees), every folder given together ({len(x_all)} pieces):", "",
              *table(["descriptor", "trees alone", "real median", "generated median", "real quartiles",
                      "generated quartiles"], [t[1] for t in tells])]
    print("\n".join(lines))
    write_markdown(args.markdown, "# How the pieces look to a check written apart from tsm evaluate", lines)


if __name__ == "__main__":
    main()
