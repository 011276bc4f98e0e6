"""Figures as PNG files: piano rolls with pedal lanes, descriptor densities, training curves.

Built on matplotlib's object API (`Figure` + the Agg canvas), never pyplot, so no global backend or
figure registry is touched and nothing needs a display. Every file is written to a temporary name
and renamed.
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib import colors, lines
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from ..files import atomic_path
from ..heard import KEY_NAMES
from ..midi import DAMPER_ID, LOWEST_PITCH, NUM_KEYS, SOFT_ID, SOSTENUTO_ID, Events
from .descriptors import DESCRIPTORS, SCALAR_DESCRIPTORS
from .made_here import png_metadata

log = logging.getLogger(__name__)

DPI = 100
ROLL_SIZE_IN = (12.0, 6.0)
VELOCITY_CMAP = "viridis"
PEDAL_LANES = (("damper", DAMPER_ID, "tab:blue"), ("sostenuto", SOSTENUTO_ID, "tab:orange"), ("soft", SOFT_ID, "tab:green"))
SET_COLOURS = ("black", "tab:red", "tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:olive")
SKIPPED_METRICS = {"time", "step", "epoch", "batch", "seconds", "event"}


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure as PNG atomically (files.atomic_path: a temporary name in the same folder, then rename; an
    error names `path`, not the temporary, which is removed)."""
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # a title in a script the font lacks (曲) is drawn as a box: not the user's error
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        fig.savefig(tmp, format="png", dpi=DPI, metadata=png_metadata())  # (made_here: plot --overwrite replaces it)
    return path


def _pedal_curve(events: Events, pedal_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Step curve (time_s, depth) of one pedal: depth from each event's start until its end, then 0."""
    mine = events.ids == pedal_id
    start = events.start_s[mine]
    order = np.argsort(start, kind="stable")
    start, end = start[order], (start + np.maximum(events.duration_s[mine], 0.0))[order]
    depth = events.intensity[mine][order].astype(np.float64)
    x = np.concatenate([[0.0], np.column_stack([start, end]).reshape(-1)])  # [1 + 2P]
    y = np.concatenate([[0.0], np.column_stack([depth, np.zeros_like(depth)]).reshape(-1)])
    return x, y


NOTE_MIN_WIDTH = 1 / 700  # of the time a roll draws: about 1.5 pixels of its keys' axis
LABEL_CHAR_WIDTH = 0.0055  # of the roll's width, a character of a mark's label (8 pt on the 12 in figure)


def _draw_roll(container, events: Events, title: str | None, end_s: float, norm: colors.Normalize,
               marks: tuple[tuple[float, str], ...] = (), begin_s: float = 0.0) -> None:
    """A piano roll (velocity as colour) over three pedal lanes, into a Figure or SubFigure, from `begin_s` to `end_s`
    (the keys' range that of the notes sounding there); each of `marks` (seconds, label) a dashed line with its
    label."""
    grid = container.add_gridspec(4, 2, height_ratios=(8, 1, 1, 1), width_ratios=(60, 1), hspace=0.1, wspace=0.02)
    keys = container.add_subplot(grid[0, 0])
    note = events.is_note
    pitch = events.ids[note].astype(np.float64) + LOWEST_PITCH
    start = events.start_s[note]
    # a note at least NOTE_MIN_WIDTH of the time drawn: in a long roll a short note is under a pixel, and unedged
    # polygons that thin are not drawn at all (a ballade's quick figuration would vanish)
    end = start + np.maximum(events.duration_s[note], NOTE_MIN_WIDTH * (end_s - begin_s))
    verts = np.stack([np.column_stack([start, pitch - 0.4]), np.column_stack([end, pitch - 0.4]),
                      np.column_stack([end, pitch + 0.4]), np.column_stack([start, pitch + 0.4])], axis=1)  # [K, 4, 2]
    mappable = ScalarMappable(norm=norm, cmap=VELOCITY_CMAP)
    keys.add_collection(PolyCollection(verts, facecolors=mappable.to_rgba(events.intensity[note].astype(float)),
                                       edgecolors="none"))
    shown = pitch[(end > begin_s) & (start < end_s)]  # [K']: the notes sounding in the part drawn
    low, high = (shown.min() - 2, shown.max() + 2) if shown.size else (LOWEST_PITCH, LOWEST_PITCH + NUM_KEYS - 1)
    keys.set_ylim(low, high)
    labelled = np.arange(12 * math.ceil(low / 12), high + 1, 12)  # each octave's C
    if not labelled.size:  # a part within an octave between two Cs (a melody's few bars): its white keys, named
        labelled = np.array([p for p in range(math.ceil(low), math.floor(high) + 1) if "#" not in KEY_NAMES[p % 12]])
    keys.set_yticks(labelled, [f"{KEY_NAMES[int(p) % 12]}{int(p) // 12 - 1}" for p in labelled])
    keys.set_ylabel("key")
    keys.grid(axis="y", color="0.85", linewidth=0.5)
    keys.set_xlim(begin_s, end_s)
    keys.tick_params(labelbottom=False)
    for row, (mark_s, label) in enumerate(sorted(marks)):  # a continuation's start, a shape's waypoints
        keys.axvline(mark_s, color="0.3", linestyle="--", linewidth=1.0)
        leftward = ((mark_s - begin_s) / (end_s - begin_s) + len(label) * LABEL_CHAR_WIDTH
                    > 1.0)  # it would cross the right edge: to the left
        keys.annotate(label, (mark_s, 1.0), xycoords=("data", "axes fraction"),
                      xytext=(-3 if leftward else 3, -10 - 12 * (row % 3)),  # stepped down: neighbours do not cover
                      textcoords="offset points", fontsize=8, color="0.3", ha="right" if leftward else "left",
                      bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.0})
    if title:  # (with a second line, a generated file's marker, smaller)
        keys.set_title(title, fontsize=9 if "\n" in title else None)
    container.colorbar(mappable, cax=container.add_subplot(grid[0, 1]), label="velocity")
    for row, (name, pedal_id, colour) in enumerate(PEDAL_LANES, start=1):
        lane = container.add_subplot(grid[row, 0], sharex=keys)
        x, y = _pedal_curve(events, pedal_id)
        lane.fill_between(x, y, step="post", color=colour, alpha=0.35, linewidth=0)
        lane.step(x, y, where="post", color=colour, linewidth=0.8)
        lane.set_ylim(0, 127)
        lane.set_yticks([])
        lane.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        if row < len(PEDAL_LANES):
            lane.tick_params(labelbottom=False)
    lane.set_xlabel("time (s)")


def _end_s(*performances: Events) -> float:
    ends = [max(p.end_s, float(np.max(p.start_s + p.duration_s, initial=0.0))) for p in performances]
    return max(ends + [1.0])


def plot_roll(events: Events, path: str | Path, title: str | None = None,
              marks: tuple[tuple[float, str], ...] = (), span: tuple[float, float] | None = None) -> Path:
    """A piano roll PNG of one performance: keys by time with velocity as colour, and damper, sostenuto
    and soft pedal depth (0–127) in lanes underneath; `marks`: (seconds, label), each a labelled dashed line; `span`
    (seconds from, to): that part alone, on the performance's own time axis, with the marks that fall in it."""
    fig = Figure(figsize=ROLL_SIZE_IN, dpi=DPI, layout="none")
    fig.subplots_adjust(left=0.08, right=0.94, top=0.93, bottom=0.09)
    begin_s, end_s = span if span is not None else (0.0, max([_end_s(events)] + [mark_s for mark_s, _ in marks]))
    marks = tuple((mark_s, label) for mark_s, label in marks if begin_s <= mark_s <= end_s)
    _draw_roll(fig, events, title, end_s, colors.Normalize(1, 127), marks, begin_s)  # (a mark past the sound shows)
    return save_figure(fig, path)


def plot_roll_pair(original: Events, reconstruction: Events, path: str | Path,
                   titles: tuple[str, str] = ("original", "reconstruction")) -> Path:
    """Two piano rolls one above the other, on the same time axis and velocity scale."""
    fig = Figure(figsize=(ROLL_SIZE_IN[0], 2 * ROLL_SIZE_IN[1]), dpi=DPI)
    end_s, norm = _end_s(original, reconstruction), colors.Normalize(1, 127)
    for sub, events, title in zip(fig.subfigures(2, 1), (original, reconstruction), titles):
        sub.subplots_adjust(left=0.08, right=0.94, top=0.92, bottom=0.09)
        _draw_roll(sub, events, title, end_s, norm)
    return save_figure(fig, path)


ALMOST_ALL_ZERO = 0.98  # a descriptor this often exactly 0 in every set is shown by its shares at 0 alone


def _set_line(k: int) -> dict:
    """The line of the k-th set in the density panels and their legend."""
    return {"color": SET_COLOURS[k % len(SET_COLOURS)], "linewidth": 1.2,
            "linestyle": "-" if k < len(SET_COLOURS) else "--"}


def _share_text(share: float) -> str:
    return "—" if np.isnan(share) else "<1%" if 0 < share < 0.01 else ">99%" if 0.99 < share < 1 else f"{share:.0%}"


def plot_densities(sets: dict[str, dict[str, np.ndarray]], path: str | Path, names=SCALAR_DESCRIPTORS,
                   columns: int = 4) -> Path:
    """One panel per descriptor: the KDE of its values in each set (label → descriptors), on a shared grid; a
    pedal descriptor's value of exactly 0 (never pressed) is a point mass, as tsm evaluate's overlap reads it: the
    curves are of the other values, each scaled by its share, and each set's share at 0 is written in the panel."""
    from .compare import POINT_MASS_AT_ZERO, kde_on_grid, zeros_apart

    rows = math.ceil(len(names) / columns)
    height_in = 2.4 * rows + 0.6  # the legend gets the last 0.6 in
    fig = Figure(figsize=(3.2 * columns, height_in), dpi=DPI)
    # a fixed layout: constrained layout costs about a second per figure of this many panels
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.3 / height_in, bottom=1.0 / height_in, hspace=0.75, wspace=0.12)
    axes = fig.subplots(rows, columns, squeeze=False).reshape(-1)
    labels = list(sets)
    for ax, name in zip(axes, names):
        parts = [zeros_apart(sets[label][name], name in POINT_MASS_AT_ZERO) for label in labels]  # (at 0, the rest)
        grid, densities = kde_on_grid([rest for _, rest in parts])
        zero = [at_zero for at_zero, _ in parts]
        almost_all = all(share >= ALMOST_ALL_ZERO for share in zero)  # then a curve of the rest says nothing
        for k, (label, density, at_zero) in enumerate(zip(labels, densities, zero)):
            if density is not None and not almost_all:
                ax.plot(grid, density * (1 - at_zero), label=label, **_set_line(k))
        if almost_all:
            ax.set_xticks([])
        if any(share > 0 for share in zero):  # the point masses, in the sets' order
            ax.text(0.98, 0.95, "at 0: " + " / ".join(_share_text(share) for share in zero), transform=ax.transAxes,
                    ha="right", va="top", fontsize=7)
        if min(np.nanmin(sets[label][name], initial=np.inf) for label in labels) >= 0:  # a count, a share: not below 0
            ax.set_xlim(left=max(0.0, float(grid[0])))
        label, unit = DESCRIPTORS.get(name, (name, ""))
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[len(names):]:
        ax.set_axis_off()
    handles = [lines.Line2D([], [], **_set_line(k)) for k in range(len(labels))]
    fig.legend(handles, labels, loc="lower center", ncols=max(1, len(labels)), fontsize=9, frameon=False)
    return save_figure(fig, path)


METRIC_PANELS: dict[str, Callable[[str], bool]] = {  # a panel's name → whether a metric's name belongs in it
    "negative log-likelihood": lambda k: "nll" in k, "loss": lambda k: "loss" in k,
    "Wasserstein estimate": lambda k: "wasserstein" in k, "learning rate": lambda k: k == "lr" or k.endswith("_lr"),
    "other": lambda k: True}


def metric_panels(records: list[dict]) -> dict[str, list[str]]:
    """Numeric metrics grouped into panels of one scale each: losses, negative log-likelihoods (the ar and events
    arms' nll, tens of nats beside an end loss under 1), Wasserstein estimates, learning rates (1e-4 beside them: a
    flat line at 0), the rest (speeds left out)."""
    keys = []
    for r in records:
        keys += [k for k, v in r.items() if k not in keys and k not in SKIPPED_METRICS and not k.endswith("_per_s")
                 and isinstance(v, (int, float)) and not isinstance(v, bool)]
    panels: dict[str, list[str]] = {name: [] for name in METRIC_PANELS}
    for k in keys:  # each in the first panel whose test it passes
        panels[next(name for name, holds in METRIC_PANELS.items() if holds(k))].append(k)
    return {name: ks for name, ks in panels.items() if ks}


def plot_training_curves(metrics_path: str | Path, path: str | Path, title: str | None = None) -> Path:
    """Curves of every numeric metric in a metrics.jsonl (one JSON record per line) against step (or
    epoch, or record number), in panels of one scale each (`metric_panels`)."""
    from ..train.log import read_metrics

    records = [r for r in read_metrics(metrics_path) if "event" not in r]
    panels = metric_panels(records)
    if not panels:
        raise ValueError(f"{metrics_path}: no numeric training metrics to plot")
    x_key = "step" if any("step" in r for r in records) else "epoch" if any("epoch" in r for r in records) else None
    fig = Figure(figsize=(5.0 * len(panels), 3.4), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (panel, keys) in zip(axes, panels.items()):
        for k, key in enumerate(keys):
            rows = [(r.get(x_key, i) if x_key else i, r[key]) for i, r in enumerate(records)
                    if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
            if rows:
                x, y = np.array(rows, dtype=np.float64).T
                ax.plot(x, y, color=SET_COLOURS[(k + 1) % len(SET_COLOURS)], linewidth=1.2,
                        marker="o" if len(rows) < 30 else None, markersize=3, label=key)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(x_key or "record")
        ax.legend(fontsize=8)
        ax.grid(color="0.9")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
