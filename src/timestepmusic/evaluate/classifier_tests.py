"""Classifier two-sample tests of generated against real excerpts: can a logistic regression, or gradient-boosted
trees, tell the two sets' descriptor features apart? Cross-validated (where groups are given, the folds keep each
performance or generated file whole and the p-value counts those groups), averaged over repeated draws.
Vectorised with numpy/scipy.

Letters: X excerpts, D features, G groups (performances, generated files).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy import optimize, special, stats

# the classifiers' p-value over groups (performances, generated files): every sign pattern up to this many groups,
# else this many random ones (p then no smaller than 1 / (FLIP_DRAWS + 1), below what the report writes as < 0.001)
EXACT_FLIP_GROUPS = 12
FLIP_DRAWS = 9999


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
