"""Generated against real excerpts: descriptor distributions, classifier two-sample tests, a copy
check against the training split, and a trivial baseline generator. Vectorised with numpy/scipy.

Distributions (after Yang & Lerch 2020, "On the evaluation of generative models in music",
https://doi.org/10.1007/s00521-018-3849-7): each descriptor's values in a set are smoothed with a
Gaussian KDE (Scott's bandwidth, as scipy.stats.gaussian_kde; evaluated by binning on a grid), and
the smoothed densities of the real set p and of another set q give the overlap area ∫ min(p, q)
(1 = the same distribution, 0 = disjoint) and KL(p ‖ q) in nats (0 = the same). For the pedal
descriptors a value of exactly 0 (a pedal never pressed) is a point mass, compared as one beside the
densities of the rest. Yang & Lerch apply the two figures to distributions of pairwise distances
within and between sets; here they are applied to the descriptor values themselves, which reads
more directly ("the generated note density sits where the real one does"). A set compared with two disjoint
halves of the real set (split by track, so no track is on both sides) gives the ceiling a generator
could reach with this many excerpts.

Letters: X excerpts, D features, N positions on the training chunk grid, G grid points of a KDE.
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

from ..midi import NUM_KEYS
from .descriptors import HISTOGRAM, SCALAR_DESCRIPTORS
from .excerpts import EXCERPT_SECONDS, ExcerptTable, excerpts_from_corpus, gather_ranges

log = logging.getLogger(__name__)

KDE_POINTS = 512
KL_FLOOR = 1e-10  # densities are floored here (relative to their peak) so KL stays finite
# descriptors whose 0 means "never" (a pedal never pressed, never at half depth, never changed; no chord clustered):
# compared with 0 as a point mass; elsewhere 0 is a value like any other (a stepwise share, a silence measured in
# 0.05 s steps)
POINT_MASS_AT_ZERO = ("damper_fraction", "half_pedal_share", "pedal_changes_per_s", "sostenuto_fraction",
                      "soft_fraction", "chord_cluster_share")
COPY_THRESHOLD = 0.9
TRANSPOSE_SEMITONES = 5
# the classifiers' p-value over groups (performances, generated files): every sign pattern up to this many groups,
# else this many random ones (p then no smaller than 1 / (FLIP_DRAWS + 1), below what the report writes as < 0.001)
EXACT_FLIP_GROUPS = 12
FLIP_DRAWS = 9999


# ---------------------------------------------------------------- descriptor distributions

def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return values[np.isfinite(values)]


def scott_bandwidth(samples: np.ndarray) -> float:
    """Scott's rule for one dimension, as scipy.stats.gaussian_kde uses by default: sd · n^(-1/5)."""
    return float(samples.std(ddof=1)) * samples.size ** (-0.2) if samples.size >= 2 else 0.0


def gaussian_kde_on_grid(samples: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian KDE of `samples` evaluated on an evenly spaced `grid` [G]: the samples are linearly
    binned onto the grid and convolved with the kernel, O(G · kernel) however many samples there are.
    With bandwidth ≥ one grid step this agrees with scipy.stats.gaussian_kde to about 1 %."""
    step = float(grid[1] - grid[0])
    position = (samples - grid[0]) / step
    left = np.clip(np.floor(position).astype(np.int64), 0, grid.size - 2)
    right_weight = np.clip(position - left, 0.0, 1.0)
    counts = (np.bincount(left, 1.0 - right_weight, minlength=grid.size)
              + np.bincount(left + 1, right_weight, minlength=grid.size))  # [G]
    half = min(int(np.ceil(5.0 * bandwidth / step)), grid.size)
    kernel = stats.norm.pdf(np.arange(-half, half + 1) * step, scale=bandwidth)  # [2·half + 1]
    return np.convolve(counts, kernel)[half:half + grid.size] / samples.size


def kde_on_grid(sets: list[np.ndarray], num: int = KDE_POINTS) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Densities of several samples on one shared grid [G], each normalised to integrate to 1 there;
    None for a set with no finite value. Bandwidths follow Scott's rule, but never below two grid
    steps (so a narrow set is still resolved) nor below 0.1 % of the values' spread (so a constant set,
    where Scott's rule gives 0, becomes a narrow bump instead of failing)."""
    finite = [_finite(s) for s in sets]
    pooled = np.concatenate([s for s in finite if s.size] or [np.zeros(1)])
    spread = float(np.ptp(pooled))
    floor = max(1e-3 * spread, 1e-3 * float(np.abs(pooled).max(initial=0.0)), 1e-6)
    scott = [max(scott_bandwidth(s), floor) for s in finite]
    pad = 3.0 * max(scott)
    grid = np.linspace(pooled.min() - pad, pooled.max() + pad, num)
    step = float(grid[1] - grid[0])
    densities: list[np.ndarray | None] = []
    for s, bandwidth in zip(finite, scott):
        if s.size == 0:
            densities.append(None)
            continue
        d = gaussian_kde_on_grid(s, grid, max(bandwidth, 2.0 * step))
        densities.append(d / np.trapezoid(d, grid))
    return grid, densities


def zeros_apart(values, apart: bool = True) -> tuple[float, np.ndarray]:
    """A sample's finite values → (the share that is exactly 0, the other values): a point mass and the values a
    density is smoothed from (a pedal never pressed is 0, not a value near 0); with `apart` false, (0, all of
    them): a descriptor whose 0 is a value like any other."""
    values = _finite(values)
    if not apart:
        return 0.0, values
    return (float(np.mean(values == 0)) if values.size else float("nan")), values[values != 0]


def overlap_kl(reference, other, zero_mass: bool = False) -> tuple[float, float]:
    """(overlap area, KL(reference ‖ other) in nats) of two samples' distributions; NaN when either is empty.
    With `zero_mass` (a descriptor whose 0 means "never": a pedal never pressed, POINT_MASS_AT_ZERO), a value of
    exactly 0 is a point mass, compared as one: each set's share of zeros, and KDEs of the other values, each
    weighted by its share. (A KDE of the values with their zeros smears the point mass by a width set by the other
    values: two sets that never press the sostenuto, but for one real excerpt of 683, read 0.59 alike.) A share
    the other set lacks is floored at half a sample (KL stays finite and steady). Without zeros in either set, the
    KDEs alone, as without `zero_mass`."""
    reference, other = _finite(reference), _finite(other)
    if not reference.size or not other.size:
        return float("nan"), float("nan")
    (p0, rest_p), (q0, rest_q) = zeros_apart(reference, zero_mass), zeros_apart(other, zero_mass)  # at 0, the rest
    grid, (p, q) = kde_on_grid([rest_p, rest_q])
    p = np.zeros_like(grid) if p is None else p * (1 - p0)  # [G]: the rest, weighted by its share
    q = np.zeros_like(grid) if q is None else q * (1 - q0)
    overlap = min(p0, q0) + float(np.trapezoid(np.minimum(p, q), grid))
    floor = KL_FLOOR * max(float(p.max()), float(q.max()), 1.0 / (grid[-1] - grid[0]))
    half_sample = 0.5 / other.size
    kl = p0 * np.log(p0 / max(q0, half_sample)) if p0 > 0 else 0.0
    if p0 < 1:
        p_, q_ = np.maximum(p, floor), np.maximum(q, floor)
        p_ = p_ / np.trapezoid(p_, grid) * (1 - p0)
        q_ = q_ / np.trapezoid(q_, grid) * max(1 - q0, half_sample)
        kl += float(np.trapezoid(p_ * np.log(p_ / q_), grid))
    return min(overlap, 1.0), max(float(kl), 0.0)


def summarise(values) -> dict:
    v = _finite(values)
    return {"mean": float(v.mean()) if v.size else float("nan"),
            "std": float(v.std()) if v.size else float("nan"), "n": int(v.size)}


def compare_descriptors(real: dict[str, np.ndarray], others: dict[str, dict[str, np.ndarray]],
                        names=SCALAR_DESCRIPTORS) -> dict:
    """name → {"real": summary, "rows": {set: summary + overlap + kl}} for every scalar descriptor."""
    result = {}
    for name in names:
        rows = {}
        for row, desc in others.items():
            overlap, kl = overlap_kl(real[name], desc[name], zero_mass=name in POINT_MASS_AT_ZERO)
            rows[row] = summarise(desc[name]) | {"overlap": overlap, "kl": kl}
        result[name] = {"real": summarise(real[name]), "rows": rows}
    return result


def split_halves(table: ExcerptTable, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Excerpt indices of two disjoint halves of a table, split by group (track) so that no track
    is in both; groups are shuffled and dealt until half the excerpts are on the first side."""
    groups, counts = np.unique(table.group, return_counts=True)
    if groups.size < 2:
        order = np.random.default_rng(seed).permutation(table.num_excerpts)
        half = table.num_excerpts // 2
        return np.sort(order[:half]), np.sort(order[half:])
    order = np.random.default_rng(seed).permutation(groups.size)
    filled = np.cumsum(counts[order])
    first = order[: max(1, min(groups.size - 1, int(np.searchsorted(filled, filled[-1] / 2)) + 1))]
    in_first = np.isin(table.group, groups[first])
    return np.flatnonzero(in_first), np.flatnonzero(~in_first)


def descriptor_features(desc: dict[str, np.ndarray], names=SCALAR_DESCRIPTORS) -> np.ndarray:
    """Scalar descriptors and the pitch-class histogram side by side: [X, D]."""
    columns = [np.asarray(desc[n], dtype=np.float64)[:, None] for n in names]
    if HISTOGRAM in desc:
        columns.append(np.asarray(desc[HISTOGRAM], dtype=np.float64))
    return np.concatenate(columns, axis=1)


# ---------------------------------------------------------------- classifier two-sample test

def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, weight: np.ndarray | None = None) -> np.ndarray:
    """L2-regularised logistic regression by L-BFGS; x [X, D] (a bias column included), y [X] in {0, 1}, weight [X]
    (mean 1; None: all 1)."""
    def loss(w):
        z = x @ w
        if weight is None:
            value = np.mean(np.logaddexp(0.0, z) - y * z) + l2 * np.sum(w[:-1] ** 2)
            grad = x.T @ (special.expit(z) - y) / y.size
        else:
            value = np.mean(weight * (np.logaddexp(0.0, z) - y * z)) + l2 * np.sum(w[:-1] ** 2)
            grad = x.T @ (weight * (special.expit(z) - y)) / y.size
        grad[:-1] += 2 * l2 * w[:-1]
        return value, grad

    return optimize.minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B").x


def _balanced_folds(a: np.ndarray, b: np.ndarray, folds: int, seed: int | list[int],
                    groups: tuple[np.ndarray, np.ndarray] | None = None):
    """Sets a [Xa, D] and b [Xb, D] balanced by subsampling the larger to n each → (x [2n, D], y [2n] in
    {0, 1}, fold [2n], n, folds, grouped, kept: the rows of a [n] and of b [n] kept); folds are stratified
    (n/folds of each class per fold), capped at n.
    `seed`: an int, or a list of ints for numpy's SeedSequence (a repeat's [seed, r]). `groups` ([Xa], [Xb]: the
    performance or file each excerpt comes from): every excerpt of one group falls in one fold, so that none is
    tested by a model that trained on its siblings (grouped: True); the folds then hold unequal numbers of the two
    classes (a performance of 80 excerpts against pieces of one), which the classifiers' training weighs out
    (_class_weights). Where a class keeps fewer groups than folds, there are as many folds as it has groups (3
    performances: 3 folds; before the forty-ninth session such folds were drawn ungrouped, with the leak); where it
    keeps one, the folds are drawn ungrouped (grouped: False)."""
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))
    kept_a, kept_b = rng.permutation(len(a))[:n], rng.permutation(len(b))[:n]
    x = np.concatenate([np.asarray(a, dtype=np.float64)[kept_a], np.asarray(b, dtype=np.float64)[kept_b]])  # [2n, D]
    y = np.concatenate([np.zeros(n), np.ones(n)])
    folds = min(folds, n)
    if not folds:
        return x, y, np.zeros(0, int), n, folds, False, (kept_a, kept_b)
    kept_groups = None if groups is None else [np.asarray(g)[kept] for g, kept in zip(groups, (kept_a, kept_b))]
    fewest = None if kept_groups is None else min(np.unique(g).size for g in kept_groups)
    if fewest is not None and fewest >= 2:  # as many folds as the class with the fewest groups fills, up to `folds`
        folds = min(folds, fewest)
        fold = np.concatenate([_group_folds(g, folds, rng) for g in kept_groups])
        return x, y, fold, n, folds, True, (kept_a, kept_b)
    fold = np.concatenate([rng.permutation(n) % folds, rng.permutation(n) % folds])
    return x, y, fold, n, folds, False, (kept_a, kept_b)


def group_sign_flip_p(correct: np.ndarray, tested: np.ndarray, seed: int = 0, folds: int | None = None) -> float:
    """One-sided p-value of a classifier's accuracy > 0.5 that counts groups, not excerpts: `correct` [G] and
    `tested` [G] are how many of each group's excerpts were told right, of how many tested. Excerpts of one
    performance share its tempo, register and pedalling, so they are right or wrong together, and a binomial test
    over excerpts counts one performance many times (two halves of the real test split, told apart at 0.57 by
    chance, got p = 8e-9; forty-eighth session). Here each group's excess over chance (correct − tested/2) is a
    unit whose sign is as likely either way under the null (a randomisation test, Fisher; Good 2005, §3.4): p is the
    share of sign patterns whose sum reaches the one observed — all 2^G where G ≤ EXACT_FLIP_GROUPS, else
    FLIP_DRAWS random ones beside the observed. The groups are not independent (each trains the models that test
    the others), which alone made the test lenient (of 600 null draws, 0.09–0.10 under 0.05); with the `folds` of
    the cross-validation the observed sum is divided by √(1 + 1/(folds − 1)), the variance that the models' shared
    training adds (the corrected resampled test of Nadeau & Bengio 2003, "Inference for the generalization error":
    1 + n_test / n_train), which brings the level near its nominal one (bench/p_value_null.py). A p near 0.05 is
    weak; p ≤ 1e-3 stands."""
    excess = np.asarray(correct, dtype=np.float64) - 0.5 * np.asarray(tested, dtype=np.float64)  # [G]
    excess = excess[excess != 0]  # (a group at exactly half flips to itself)
    if not excess.size:
        return 1.0
    shared = math.sqrt(1 + 1 / (folds - 1)) if folds is not None and folds >= 2 else 1.0  # (Nadeau & Bengio)
    observed, slack = float(excess.sum()) / shared, 1e-9 * float(np.abs(excess).sum())
    if excess.size <= EXACT_FLIP_GROUPS:
        patterns = np.arange(2 ** excess.size)[:, None] >> np.arange(excess.size) & 1  # [2^G, G] in {0, 1}
        return float(np.mean((1 - 2 * patterns) @ excess >= observed - slack))
    rng, reached = np.random.default_rng(seed), 0
    for start in range(0, FLIP_DRAWS, 1000):  # in blocks: [1000, G] signs at a time
        signs = rng.integers(0, 2, size=(min(1000, FLIP_DRAWS - start), excess.size)) * 2 - 1
        reached += int(np.sum(signs @ excess >= observed - slack))
    return (1 + reached) / (FLIP_DRAWS + 1)


def _group_folds(group: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Each excerpt's group [n] → its fold [n]: the groups in a random order, each dealt to the fold that holds
    the fewest excerpts so far (dealt in turn, a fold could get several long performances and another none: the
    folds' sizes, and so the balance of the classes in each, would swing with the draw)."""
    names, index = np.unique(group, return_inverse=True)  # [G], [n]
    sizes = np.bincount(index, minlength=names.size)  # [G]
    fold_of, filled = np.empty(names.size, dtype=np.int64), np.zeros(folds, dtype=np.int64)
    for g in rng.permutation(names.size):
        k = int(np.argmin(filled))
        fold_of[g], filled[k] = k, filled[k] + sizes[g]
    return fold_of[index]


def _class_weights(y: np.ndarray) -> np.ndarray | None:
    """Training weights [X] (mean 1) that give the two classes of y equal weight; None where they are equal in
    number already (ungrouped folds always are). Grouped folds are not: a training fold with more real excerpts
    than generated would tilt the classifier towards "real", which its test fold, short of real excerpts by as many,
    would count against it — two sets of one population were told apart below 0.5 (real excerpts of the ASAP test
    split, iid noise for features, grouped folds: logistic 0.476, trees 0.485 where ungrouped folds give 0.500)."""
    ones = int(y.sum())
    if 2 * ones == y.size or ones in (0, y.size):
        return None
    return np.where(y == 1, y.size / (2 * ones), y.size / (2 * (y.size - ones)))


def _cross_validated(x: np.ndarray, y: np.ndarray, fold: np.ndarray, n: int, folds: int,
                     fit_predict) -> np.ndarray | None:
    """Which of the 2n excerpts fit_predict(x_train, y_train, x_test) → predicted labels gets right ([2n] bool),
    each tested once by a model that did not see it (None: fewer than 2 folds)."""
    if folds < 2:
        return None
    right = np.zeros(y.size, dtype=bool)  # [2n]
    for k in range(folds):
        train, test = fold != k, fold == k
        right[test] = fit_predict(x[train], y[train], x[test]) == y[test]
    return right


def _no_accuracy(n: int, folds: int, repeats: int) -> dict:
    """A classifier test's figures where no accuracy can be had (fewer than 2 folds; trees that cannot split)."""
    return {"accuracy": float("nan"), "p_value": float("nan"), "n_per_class": int(n), "folds": int(folds),
            "repeats": int(repeats), "accuracy_sd": float("nan"), "accuracies": []}


def _repeated(a: np.ndarray, b: np.ndarray, folds: int, seed: int, repeats: int, fit_predict,
              groups: tuple[np.ndarray, np.ndarray] | None = None, progress: Callable[[], None] | None = None) -> dict:
    """The cross-validated accuracy of fit_predict, averaged over `repeats` draws of the balancing subsample and
    the folds (the first is `seed`'s alone, so repeats=1 is one draw), with each draw's, their spread and the
    p-value of accuracy > 0.5: over `groups` where given (group_sign_flip_p; p_groups: how many it counted), else
    the binomial one that the mean accuracy would have as one test of 2n excerpts. `progress` is called once per
    draw done (tsm evaluate's bar: the trees take seconds a draw).
    Why repeats: where one set is larger (683 real 60 s excerpts against 200 generated), which 200 real excerpts
    a single draw keeps and how the folds fall move the accuracy by ±0.02 on the same files (ASAP validation,
    twenty-sixth session), as much as two sampling seeds differ."""
    if repeats < 1:
        raise ValueError(f"classifier repeats must be ≥ 1, got {repeats}")
    accuracies, grouped, fewest_folds = [], True, folds
    if groups is not None:  # one integer code per group, b's after a's (a name in both sets is two groups)
        names_a, code_a = np.unique(np.asarray(groups[0]), return_inverse=True)  # [Ga], [Xa]
        names_b, code_b = np.unique(np.asarray(groups[1]), return_inverse=True)  # [Gb], [Xb]
        right_by_group = np.zeros(names_a.size + names_b.size)  # [Ga + Gb], summed over the draws
        tested_by_group = np.zeros(names_a.size + names_b.size)
    for r in range(repeats):
        x, y, fold, n, used_folds, grouped_here, kept = _balanced_folds(a, b, folds, seed if r == 0 else [seed, r],
                                                                        groups)
        right = _cross_validated(x, y, fold, n, used_folds, fit_predict)  # [2n]
        if right is None:  # (said as the trees say theirs: a bare — on the console read as a figure lost)
            return _no_accuracy(n, used_folds, repeats) | {
                "why": f"too few excerpts to cross-validate ({n} a side: two folds need 2)"}
        accuracies.append(int(right.sum()) / (2 * n))
        if progress is not None:
            progress()
        grouped, fewest_folds = grouped and grouped_here, min(fewest_folds, used_folds)
        if groups is not None:
            group = np.concatenate([code_a[kept[0]], code_b[kept[1]] + names_a.size])  # [2n]
            right_by_group += np.bincount(group, weights=right, minlength=right_by_group.size)
            tested_by_group += np.bincount(group, minlength=tested_by_group.size)
    accuracy = float(np.mean(accuracies))
    figures = {"accuracy": accuracy, "n_per_class": int(n), "folds": int(fewest_folds), "repeats": int(repeats),
               "accuracy_sd": float(np.std(accuracies)), "accuracies": accuracies,
               "folds_grouped": bool(grouped and groups is not None)}
    if groups is None:  # each excerpt its own: the binomial test of the mean accuracy as one test of 2n excerpts
        p_value = stats.binomtest(int(round(accuracy * 2 * n)), 2 * n, 0.5, alternative="greater").pvalue
        return figures | {"p_value": float(p_value)}
    tested = tested_by_group > 0
    return figures | {"p_value": group_sign_flip_p(right_by_group[tested], tested_by_group[tested], seed, fewest_folds),
                      "p_groups": int(tested.sum())}


def classifier_test(a: np.ndarray, b: np.ndarray, *, folds: int = 5, l2: float = 1e-2, seed: int = 0,
                    repeats: int = 1, groups: tuple[np.ndarray, np.ndarray] | None = None,
                    progress: Callable[[], None] | None = None) -> dict:
    """Classifier two-sample test (Lopez-Paz & Oquab 2017, https://arxiv.org/abs/1610.06545): can a
    logistic regression on standardised features [X, D] tell set a from set b? Classes are balanced
    by subsampling the larger; accuracy is cross-validated over `folds` folds, and averaged over `repeats`
    draws of the subsample and the folds (accuracy_sd: their spread). 0.5 = indistinguishable, 1.0 = always told
    apart; p_value: of accuracy > 0.5, over the groups where given (group_sign_flip_p), else a binomial test over
    the excerpts. NaN features take the median. `groups` (the performance or
    file of each excerpt of a and of b): the folds keep each group whole (folds_grouped), since excerpts of one
    performance share its tempo, register and pedalling, and one tested beside its siblings in training is told by
    them, not by what sets a and b apart (ASAP test split, 16 s: 0.01–0.02 of accuracy; forty-eighth session).
    `progress`: called once per draw done (_repeated)."""
    def fit_predict(x_train, y_train, x_test):
        with warnings.catch_warnings():  # a column that is NaN throughout the fold is filled with 0
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(x_train, axis=0)
        median = np.where(np.isfinite(median), median, 0.0)
        train, test = (np.where(np.isfinite(v), v, median) for v in (x_train, x_test))
        mean, std = train.mean(axis=0), train.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        z_train, z_test = (np.concatenate([(v - mean) / std, np.ones((len(v), 1))], axis=1)  # bias column last
                           for v in (train, test))
        w = _fit_logistic(z_train, y_train, l2, _class_weights(y_train))
        return (z_test @ w > 0).astype(np.float64)

    return _repeated(a, b, folds, seed, repeats, fit_predict, groups, progress)


# gradient-boosted trees for the second test: shallow and shrunk, since a few hundred excerpts per class is all
# a report has; fixed rounds (no early stopping, whose validation split would take data and add randomness)
TREES_PARAMS = {"learning_rate": 0.1, "max_iter": 100, "max_depth": 3, "min_samples_leaf": 10,
                "l2_regularization": 1.0, "early_stopping": False}


def trees_classifier_test(a: np.ndarray, b: np.ndarray, *, folds: int = 5, seed: int = 0, repeats: int = 1,
                          groups: tuple[np.ndarray, np.ndarray] | None = None,
                          progress: Callable[[], None] | None = None) -> dict:
    """The classifier two-sample test of `classifier_test` (same balancing, folds and repeats for the same seed)
    with gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier, TREES_PARAMS) in place of
    the logistic regression: it also finds what no linear boundary shows (a set right in its means but
    wrong in how two descriptors go together, or only in a band of one). NaN features are left to the
    trees, which send them down a learned side of each split; a column NaN throughout the training fold is
    dropped (it carries nothing, and scikit-learn's binning fails on it). `progress`: called once per draw done."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    def fit_predict(x_train, y_train, x_test):
        x_train, x_test = (np.where(np.isinf(v), np.nan, v) for v in (x_train, x_test))  # ±inf: missing, as NaN
        seen = np.isfinite(x_train).any(axis=0)  # [D]
        if not seen.any():
            return np.zeros(len(x_test))  # nothing to learn from: a guess, right half the time
        model = HistGradientBoostingClassifier(**TREES_PARAMS, random_state=seed)
        return model.fit(x_train[:, seen], y_train, sample_weight=_class_weights(y_train)).predict(x_test[:, seen])

    n = min(len(a), len(b))  # per class, once balanced; the fewest folds of any draw (fewer where groups are few)
    used_folds = min(_balanced_folds(a, b, folds, seed if r == 0 else [seed, r], groups)[4] for r in range(repeats))
    leaf = TREES_PARAMS["min_samples_leaf"]
    if 2 * n * (used_folds - 1) // max(used_folds, 1) < 2 * leaf:  # no split fits a training fold: every guess 0.5,
        return _no_accuracy(n, used_folds, repeats) | {  # which tells nothing
            "why": f"too few excerpts for the trees ({n} a side: a split needs {2 * leaf} in a training fold)"}
    return _repeated(a, b, folds, seed, repeats, fit_predict, groups, progress)


# ---------------------------------------------------------------- baseline: shuffled real chunks

def shuffled_chunks(corpus, split: str, num_excerpts: int, seconds: float = EXCERPT_SECONDS,
                    seed: int = 0, flag: str | None = "--train-split") -> ExcerptTable:
    """A trivial generator: each excerpt is `seconds` of real chunks drawn at random from the split
    (capped at the corpus's max_events, as a model sees them), laid side by side in random order. `flag`: what
    chooses the split, said where it holds no track (Corpus.empty_split)."""
    track_of, within = corpus.chunk_index(split)  # [C_split]
    if track_of.size == 0:
        raise ValueError(corpus.empty_split(split, flag, " for the shuffled-chunks baseline"))
    cs = corpus.chunk_seconds
    per_excerpt = max(1, int(round(seconds / cs)))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, track_of.size, size=(num_excerpts, per_excerpt)).reshape(-1)  # [X·T]
    chunk = np.asarray(corpus.track_chunk_ptr)[track_of[pick]] + within[pick]  # global chunk index
    ptr = np.asarray(corpus.chunk_event_ptr)
    lo = ptr[chunk]
    hi = np.minimum(ptr[chunk + 1], lo + corpus.max_events)
    events = gather_ranges(lo, hi)
    slot = np.repeat(np.arange(pick.size), hi - lo)  # [E] which (excerpt, position) slot
    offset_in_chunk = np.asarray(corpus.start_s)[events] - within[pick][slot] * cs
    start = (slot % per_excerpt) * cs + offset_in_chunk
    return ExcerptTable(slot // per_excerpt, np.asarray(corpus.ids)[events], start,
                        np.asarray(corpus.duration_s)[events], np.asarray(corpus.intensity)[events],
                        np.full(num_excerpts, per_excerpt * cs), sources=["shuffled chunks"] * num_excerpts)


def training_excerpts(corpus, split: str, num_excerpts: int, seconds: float = EXCERPT_SECONDS,
                      seed: int = 0, flag: str | None = "--train-split") -> ExcerptTable:
    """`num_excerpts` real excerpts of the training `split`, picked at random: what a model that had learnt that
    split exactly would score against another (where the splits' repertoire differs, above 0.5: ASAP's test split
    at 60 s, 0.725 / 0.815, where the default scores 0.808 / 0.903; forty-eighth session)."""
    table = excerpts_from_corpus(corpus, split, seconds)
    if table.num_excerpts == 0:
        raise ValueError(corpus.empty_split(split, flag, " for the training excerpts' row"))
    rng = np.random.default_rng(seed)
    return table.take(np.sort(rng.choice(table.num_excerpts, min(num_excerpts, table.num_excerpts), replace=False)))


# ---------------------------------------------------------------- copy check

def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2's default hash-based unique is ~10× slower on millions of int64)."""
    values = np.sort(values)
    keep = np.ones(values.size, dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


class TrainingOnsets:
    """Binary onset rolls (88 keys × chunks) of a corpus split, laid end to end on one grid of N
    positions (each track followed by T empty positions, so no window reaches into the next track)
    and indexed by key, to find for an excerpt the most similar chunk-aligned window of any track of
    the split. Similarity = cosine of the two binary rolls (the excerpt's T chunks × 88 keys against
    the window of T chunks at each shift s). Computed as a sparse correlation: every onset of the
    excerpt (key k, column c) votes for shift p - c of every training onset (k, p), so the cost is
    the number of matching pairs, not windows × roll size — every shift is searched, not a hop grid."""

    def __init__(self, corpus, split: str, seconds: float = EXCERPT_SECONDS, flag: str | None = "--train-split"):
        self.corpus = corpus
        self.chunk_seconds = corpus.chunk_seconds
        self.columns = max(1, int(round(seconds / self.chunk_seconds)))  # T
        self.tracks = corpus.tracks_in(split)  # [S] corpus track indices
        if self.tracks.size == 0:
            raise ValueError(corpus.empty_split(split, flag, " for the copy check"))
        event_ptr, chunk_ptr = np.asarray(corpus.track_event_ptr), np.asarray(corpus.track_chunk_ptr)
        chunks = chunk_ptr[self.tracks + 1] - chunk_ptr[self.tracks]  # [S]
        self.base = np.concatenate([[0], np.cumsum(chunks + self.columns)])  # [S+1] where each track starts
        self.num_positions = int(self.base[-1])  # N
        events = gather_ranges(event_ptr[self.tracks], event_ptr[self.tracks + 1])
        rank_of_event = np.repeat(np.arange(self.tracks.size), event_ptr[self.tracks + 1] - event_ptr[self.tracks])
        ids = np.asarray(corpus.ids)[events].astype(np.int64)
        note = ids < NUM_KEYS
        column = np.floor(np.asarray(corpus.start_s)[events][note] / self.chunk_seconds + 1e-9).astype(np.int64)
        rank = rank_of_event[note]
        position = self.base[rank] + np.minimum(column, chunks[rank] - 1)
        cell = _sorted_unique(ids[note] * self.num_positions + position)  # binary roll, sorted by key then position
        self.position = cell % self.num_positions  # [cells]
        self.key_ptr = np.searchsorted(cell // self.num_positions, np.arange(NUM_KEYS + 1))  # [89]
        cum = np.concatenate([[0], np.cumsum(np.bincount(self.position, minlength=self.num_positions))])
        ends = np.minimum(np.arange(self.num_positions) + self.columns, self.num_positions)
        self.window_onsets = (cum[ends] - cum[:-1]).astype(np.float64)  # [N] onsets in the window at each shift
        self.valid = np.zeros(self.num_positions, dtype=bool)  # shifts whose window starts inside a track
        self.valid[gather_ranges(self.base[:-1], self.base[:-1] + np.maximum(chunks - self.columns + 1, 1))] = True

    def votes(self, key: np.ndarray, column: np.ndarray) -> np.ndarray:
        """Roll cells (key, column) of one excerpt, sorted by key → shared onsets with the window at
        every shift [N]. One outer difference per key present (≤ 88), no gather per onset."""
        first = np.flatnonzero(np.diff(key, prepend=-1))  # first cell of each key
        bounds = np.append(first, key.size)
        keys = key[first]
        sizes = (self.key_ptr[keys + 1] - self.key_ptr[keys]) * np.diff(bounds)  # votes per key
        ends = np.cumsum(sizes)
        shifted = np.empty(int(ends[-1]) if ends.size else 0, dtype=np.int64)  # shift + columns, never < 0
        for j, k in enumerate(keys):
            positions = self.position[self.key_ptr[k]:self.key_ptr[k + 1]]
            back = self.columns - column[bounds[j]:bounds[j + 1]]
            np.add(positions[:, None], back[None, :],
                   out=shifted[ends[j] - sizes[j]:ends[j]].reshape(positions.size, back.size))
        return np.bincount(shifted, minlength=self.num_positions + self.columns)[self.columns:]

    def nearest(self, table: ExcerptTable, transpose: bool = False) -> dict[str, np.ndarray]:
        """For each excerpt: the best cosine similarity [X], its corpus track, start in seconds and transposition."""
        x_count = table.num_excerpts
        best = np.zeros(x_count)
        where = np.zeros(x_count, dtype=np.int64)
        shift_by = np.zeros(x_count, dtype=np.int64)
        note = table.ids < NUM_KEYS
        column = np.floor(table.start_s[note] / self.chunk_seconds + 1e-9).astype(np.int64)
        inside = column < self.columns
        cells = _sorted_unique((table.excerpt[note][inside] * NUM_KEYS + table.ids[note][inside]) * self.columns
                          + column[inside])  # binary roll of every excerpt, sorted by excerpt
        cell_excerpt = cells // (NUM_KEYS * self.columns)
        bounds = np.searchsorted(cell_excerpt, np.arange(x_count + 1))
        transpositions = range(-TRANSPOSE_SEMITONES, TRANSPOSE_SEMITONES + 1) if transpose else (0,)
        for x in range(x_count):  # one excerpt at a time: its votes span every position N
            mine = cells[bounds[x]:bounds[x + 1]]
            key, col = (mine // self.columns) % NUM_KEYS, mine % self.columns
            for semitones in transpositions:
                k = key + semitones
                ok = (k >= 0) & (k < NUM_KEYS)
                if not ok.any():
                    continue
                votes = self.votes(k[ok], col[ok])  # [N]
                with np.errstate(invalid="ignore", divide="ignore"):
                    cosine = votes / np.sqrt(ok.sum() * self.window_onsets)
                cosine = np.where(self.valid & (self.window_onsets > 0), cosine, 0.0)
                s = int(np.argmax(cosine))
                if cosine[s] > best[x]:
                    best[x], where[x], shift_by[x] = cosine[s], s, semitones
        rank = np.searchsorted(self.base, where, side="right") - 1
        start_s = (where - self.base[rank]) * self.chunk_seconds
        return {"similarity": best, "track": self.tracks[rank], "start_s": start_s, "transpose": shift_by}


def copy_check(table: ExcerptTable, onsets: TrainingOnsets, threshold: float = COPY_THRESHOLD,
               transpose: bool = False) -> list[dict]:
    """Per excerpt: its nearest training window and whether it is a near copy (similarity ≥ threshold)."""
    found = onsets.nearest(table, transpose)
    tracks = [onsets.corpus.tracks[t] for t in found["track"]]
    return [{"excerpt": table.label(x), "similarity": float(found["similarity"][x]),
             "nearest": f"{t.get('composer', '')} {t.get('title', '')} ({Path(t['path']).name})".strip(),
             "nearest_path": t["path"], "nearest_start_s": float(found["start_s"][x]),
             "transpose": int(found["transpose"][x]), "flagged": bool(found["similarity"][x] >= threshold)}
            for x, t in enumerate(tracks)]
