"""Measure how an events model trained with ar.style plays what it is told, so that `--style` requests are played as
asked (sequence/style_calibration.py): `python -m timestepmusic.train.style_calibration MODEL` tells the model, one
attribute at a time, each of --points values spanning its bank's played passages (2nd to 98th percentile), draws
-n pieces of --seconds for each, measures what was written (the notes as training describes a passage, the
pedals' shares of the time as `tsm evaluate` hears them), and keeps the curves (made non-decreasing) in
MODEL/config.json under style_calibration (a run folder: RUN/last's). Nothing else in MODEL changes; a model
calibrated already is measured again only with --overwrite; deleting the style_calibration entry removes it. No
corpus is needed: the bank is in the weights. A shipped model is not changed in place: copy its folder first
(`tsm generate --list` names them; they live in the package's models/ folder). The curves apply to requests at the
guidance they were measured at (`tsm generate --guidance`; at any other, requests are told as asked). With -n 96, as
the shipped models were measured, it draws 96 pieces for each of up to 72 told values: about a quarter of an hour on one core.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from sklearn.isotonic import IsotonicRegression
from tqdm import tqdm

from ..ar_config import STYLE_ATTRIBUTES
from ..autoencoder import Autoencoder
from ..checkpoint import CONFIG, autoencoder_beside, read_meta
from ..evaluate.played import played
from ..files import atomic_path
from ..generation import GANModel
from ..script_errors import said_errors
from ..sequence.style_calibration import META_KEY, Curve, StyleCalibration
from ..shipped import model_to_change

QUANTILES = (0.02, 0.98)  # the told values span this much of the bank's played passages


def told_points(bank: np.ndarray, points: int) -> np.ndarray:
    """One attribute of the bank's played passages [P] → `points` values to tell, at evenly spaced quantiles
    within QUANTILES (distinct, increasing)."""
    return np.unique(np.quantile(bank, np.linspace(*QUANTILES, points)))


def measure(model: GANModel, pieces: int, points: int, seconds: float, seed: int, guidance: float | None,
            attributes: tuple[str, ...] | None = None, progress: bool = True) -> StyleCalibration:
    """The curves of `attributes` (default: every attribute the model follows but the pause, which a written
    piece's description here does not hold): for each, the model told each of
    `points` values (asked alone, as `--style` asks; the same seed for every value, so the curves compare like
    with like) and the mean of that attribute over `pieces` written pieces."""
    look = model.generator.style
    followed = tuple(look.attributes)
    attributes = tuple(a for a in followed if a in STYLE_ATTRIBUTES) if attributes is None else attributes
    bank = look.bank[look.played()].cpu().numpy()  # [P, D]
    jobs = [(name, value) for name in attributes for value in told_points(bank[:, followed.index(name)], points)]
    measured_at: dict[str, list[tuple[float, float, int]]] = {name: [] for name in attributes}  # (told, mean, n)
    kept, model.arm.calibration = model.arm.calibration, None  # what the model plays as told, not as calibrated
    try:
        for name, value in tqdm(jobs, desc="calibrating", unit="value", disable=not progress):
            written = model.sample(pieces, seconds, seed, snap_to_real=False, style={name: float(value)},
                                   guidance=guidance)
            column = played(written, seconds, (name,))[:, 0]  # [S]
            defined = column[~np.isnan(column)]
            measured_at[name].append((float(value), float(defined.mean()) if defined.size else np.nan, int(defined.size)))
    finally:
        model.arm.calibration = kept
    curves, means = {}, {}
    for name, rows in measured_at.items():
        told, mean, count = (np.array(x) for x in zip(*rows))
        means[name] = [None if np.isnan(m) else round(float(m), 6) for m in mean]  # (JSON has no NaN)
        valid = count > 0
        if valid.sum() < 2:
            continue  # an attribute hardly ever defined in what was played: told as asked
        fitted = IsotonicRegression(increasing=True).fit_transform(told[valid], mean[valid], sample_weight=count[valid])
        if fitted[-1] - fitted[0] <= 1e-9 * max(1.0, abs(fitted[-1])):
            continue  # an attribute the model does not follow: no curve to invert, told as asked
        curves[name] = Curve(told[valid], fitted)
    measured = {"guidance": guidance if guidance is not None else model.arm.settings.request_guidance,
                "pieces": pieces, "seconds": seconds, "seed": seed, "means": means}
    return StyleCalibration(curves, measured)


def calibrate(model_path: str | Path, pieces: int = 48, points: int = 9, seconds: float = 16.0, seed: int = 0,
              guidance: float | None = None, overwrite: bool = False,
              progress: bool = True) -> tuple[StyleCalibration, Path]:
    """Measure MODEL's curves (`measure`) and keep them in MODEL's config.json; → them and that file. A model that
    follows no description, or one calibrated already without `overwrite`: ValueError in one line."""
    folder, meta = read_meta(model_to_change(model_path, "calibrate the copy"))
    if META_KEY in meta and not overwrite:
        raise ValueError(f"{folder}: calibrated already (style_calibration in {CONFIG}); --overwrite to measure again")
    uncalibrated = {k: v for k, v in meta.items() if k != META_KEY}  # (an earlier calibration, even a broken one, unread)
    if uncalibrated.get("kind") != "gan" or uncalibrated.get("arch") != "events":
        raise ValueError(f"{folder}: not an events model trained with ar.style; it follows no description")
    model = GANModel.with_autoencoder(folder, uncalibrated, Autoencoder.load(autoencoder_beside(folder)))
    if getattr(model.generator, "style", None) is None:
        raise ValueError(f"{folder}: not an events model trained with ar.style; it follows no description")
    calibration = measure(model, pieces, points, seconds, seed, guidance, progress=progress)
    meta[META_KEY] = calibration.to_dict()
    with atomic_path(folder / CONFIG) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return calibration, folder / CONFIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m timestepmusic.train.style_calibration", description=__doc__)
    parser.add_argument("model", help="an events model folder trained with ar.style (a run folder: its last checkpoint)")
    parser.add_argument("-n", "--pieces", type=int, default=48,
                        help="pieces drawn per told value (default 48; the shipped models': 96)")
    parser.add_argument("--points", type=int, default=9, help="told values per attribute (default 9)")
    parser.add_argument("--seconds", type=float, default=16.0, help="length of each piece (default 16: a description's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="sampling seed of every told value's pieces (default 0; measure how well requests are "
                        "followed on another: bench/style_follow.py --seed)")
    parser.add_argument("--guidance", type=float, help="as `tsm generate --guidance` (default: the model's ar.request_guidance)")
    parser.add_argument("--overwrite", action="store_true", help="measure a calibrated model again")
    args = parser.parse_args(argv)
    for flag, value, least in (("-n", args.pieces, 1), ("--points", args.points, 2)):
        if value < least:
            parser.error(f"{flag} must be at least {least}, got {value}")
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        parser.error(f"--seconds must be a positive number, got {args.seconds}")
    if args.guidance is not None and not (math.isfinite(args.guidance) and args.guidance > 0):
        parser.error(f"--guidance must be a positive number, got {args.guidance}")
    if args.pieces < 32 or args.seconds != 16.0:
        print(f"WARNING: -n {args.pieces}, --seconds {args.seconds:g}: curves from fewer than 32 pieces per value, or "
              "from pieces other than 16 s (what a description covers), are rough", file=sys.stderr)
    calibrated = said_errors(lambda: calibrate(args.model, args.pieces, args.points, args.seconds, args.seed,
                                               args.guidance, args.overwrite), args.model, "the calibration")
    if calibrated is None:
        return 1
    calibration, written = calibrated
    print(f"calibrated {', '.join(calibration.curves) or 'nothing'} in {written}")
    unfollowed = [name for name in calibration.measured["means"] if name not in calibration.curves]
    if unfollowed:
        print(f"told as asked (the model's playing did not move with what it was told): {', '.join(unfollowed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
