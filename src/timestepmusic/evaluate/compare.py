"""Generated against real excerpts: descriptor distributions. Vectorised with numpy/scipy. The classifier
two-sample tests are in classifier_tests.py, the copy check against the training split in near_copies.py,
and a trivial baseline generator (with the training split's own excerpts) in baseline_excerpts.py.

Distributions (after Yang & Lerch 2020, "On the evaluation of generative models in music",
https://doi.org/10.1007/s00521-018-3849-7): each descriptor's values in a set are smoothed with a
Gaussian KDE (Scott's bandwidth, as scipy.stats.gaussian_kde; evaluated by binning on a grid), and
the smoothed densities of the real set p and of another set q give the overlap area ∫ min(p, q)
(1 = the same distribution, 0 = disjoint) and KL(p ‖ q) in nats (0 = the same). For the pedal
descriptors a value of exactly 0 (a pedal never pressed) is a point mass, compared as one beside the
densities of the rest. Yang & Lerch apply the two figures to distributions of pairwise distances
within and between sets; here they are applied to the descriptor values themselves, which reads
more directly ("the generated note density sits where the real one does"). A set compared with two disjoint
halves of the real set (split by piece or by track, so that none is on both sides) gives the ceiling a
generator could reach with this many excerpts.

Letters: X excerpts, D features, G grid points of a KDE.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy import stats

from .descriptors import HISTOGRAM, SCALAR_DESCRIPTORS
from .excerpts import ExcerptTable

log = logging.getLogger(__name__)

KDE_POINTS = 512
KL_FLOOR = 1e-10  # densities are floored here (relative to their peak) so KL stays finite
# descriptors whose 0 means "never" (a pedal never pressed, never at half depth, never changed; no chord clustered; no
# figure played again): compared with 0 as a point mass; elsewhere 0 is a value like any other (a stepwise share, a
# silence measured in 0.05 s steps)
POINT_MASS_AT_ZERO = ("damper_fraction", "half_pedal_share", "pedal_changes_per_s", "sostenuto_fraction",
                      "soft_fraction", "chord_cluster_share", "figure_repeats")


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


def split_halves(table: ExcerptTable, seed: int = 0, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Excerpt indices of two disjoint halves of a table, split by `groups` [X] (default the table's own: its
    tracks; comparison.fold_groups: its pieces) so that no group is in both; groups are shuffled and dealt until half
    the excerpts are on the first side."""
    of = table.group if groups is None else np.asarray(groups)  # [X]
    groups, counts = np.unique(of, return_counts=True)
    if groups.size < 2:
        order = np.random.default_rng(seed).permutation(table.num_excerpts)
        half = table.num_excerpts // 2
        return np.sort(order[:half]), np.sort(order[half:])
    order = np.random.default_rng(seed).permutation(groups.size)
    filled = np.cumsum(counts[order])
    first = order[: max(1, min(groups.size - 1, int(np.searchsorted(filled, filled[-1] / 2)) + 1))]
    in_first = np.isin(of, groups[first])
    return np.flatnonzero(in_first), np.flatnonzero(~in_first)


def descriptor_features(desc: dict[str, np.ndarray], names=SCALAR_DESCRIPTORS) -> np.ndarray:
    """Scalar descriptors and the pitch-class histogram side by side: [X, D]."""
    columns = [np.asarray(desc[n], dtype=np.float64)[:, None] for n in names]
    if HISTOGRAM in desc:
        columns.append(np.asarray(desc[HISTOGRAM], dtype=np.float64))
    return np.concatenate(columns, axis=1)
