"""How closely an events model trained with `ar.style` plays as `tsm generate --style` asks: for each request,
-n pieces of --seconds, and the asked attribute measured on what was written, beside the same model told
nothing but a description drawn from its bank (the baseline: what a request moves it from). Measured as the
calibration measures (evaluate/played.py): register is the notes' mean MIDI pitch; spread their
standard deviation; density notes per second; loudness the notes' mean velocity; stepwise the share of notes within
2 semitones of the one before (before the thirty-seventh session: `tsm evaluate`'s top-line stepwise_share, which
is not what is asked); damper, soft and half pedal `tsm evaluate`'s damper_fraction, soft_fraction and
half_pedal_share; pause
(a model trained with ar.style_pause; its requests are added by default) the longest time between consecutive
note starts, the piece's start and end included (the description counts whole 0.25 s chunks with no start).
A request may ask several attributes (its row is repeated for each). For a model whose requests are calibrated
(ar.request_calibrated, `python -m timestepmusic.train.style_calibration`), each request is also drawn told as
asked (the baseline), and the value it was told is shown: measure on another --seed than the calibration's (0).

    python bench/style_follow.py --model runs/style --markdown bench/results/style_follow.md
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402

REQUESTS = ("register=C3", "register=C6", "spread=5", "density=4", "density=6", "density=16", "loudness=45", "loudness=80",
            "damper=0.3", "damper=0.95", "soft=0.8", "half_pedal=0.8", "stepwise=0.5",
            "density=10,damper=0", "register=C5,density=6,damper=0.9")
PAUSE_REQUESTS = ("pause=0.25", "pause=1", "pause=4")  # for a model trained with ar.style_pause


MEASURED = ("register", "spread", "density", "loudness", "damper", "soft", "half_pedal", "stepwise", "pause")


def measured(pieces, seconds: float) -> dict[str, np.ndarray]:
    """Each attribute of each written piece [S] in its users' units (NaN where undefined), as the calibration
    measures it (evaluate/played.py)."""
    from timestepmusic.evaluate.played import longest_pause_s, played
    from timestepmusic.sequence.style import ATTRIBUTES
    from timestepmusic.sequence.style_request import users_value

    held = played(pieces, seconds, ATTRIBUTES)  # [S, 8] as descriptions hold them
    out = {name: users_value(name, held[:, i]) for i, name in enumerate(ATTRIBUTES)}
    return out | {"pause": np.array([longest_pause_s(piece, seconds) for piece in pieces])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="an events run or model trained with ar.style")
    parser.add_argument("-n", type=int, default=50, help="pieces per request")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--requests", nargs="+", metavar="ATTR=VALUE",
                        help="default: one per attribute the model follows (the pause's with ar.style_pause)")
    parser.add_argument("--guidance", type=float,
                        help="ar.request_guidance and ar.style_guidance: how closely the asked and the drawn "
                        "descriptions are followed (default: the model's)")
    parser.add_argument("--set", action="append", default=[], metavar="ar.NAME=VALUE",
                        help="sample with these ar settings, as `tsm generate --set` takes them (repeatable), e.g. "
                        "--set ar.pedals_as_told=none")
    parser.add_argument("--also", nargs="+", default=[], metavar="ATTR",
                        help="also measure these attributes of each request's pieces, beside what the pieces were "
                        "told of them (for an attribute not asked: the bank passages near the request), e.g. density")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.sequence.style_request import parse_style, users_value

    model = GANModel.load(args.model)
    try:  # as `tsm generate --set` takes them: sampling settings only
        set_sampling(model, args.set)  # before --guidance: it rebuilds the settings from the model's own
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if args.guidance is not None:
        model.arm.settings = dataclasses.replace(model.arm.settings, style_guidance=args.guidance,
                                                 request_guidance=args.guidance)
    guidance = (f"guidance {model.arm.settings.request_guidance:g} asked, {model.arm.settings.style_guidance:g} drawn; "
                f"pedals as told: {model.arm.settings.pedals_as_told}")
    follows = model.arm.generator.style.attributes if model.arm.generator.style is not None else ()
    for other in args.also:  # before any sampling: each must be told and measured
        if other not in follows or other not in MEASURED:
            raise SystemExit(f"--also {other}: give one of {', '.join(a for a in follows if a in MEASURED)}")
    calibration = getattr(model.arm, "calibration", None)
    calibrated = calibration is not None and model.arm.settings.request_calibrated
    if calibrated and calibration.measured.get("seed") == args.seed:
        print(f"warning: seed {args.seed} is the one the calibration was measured on: in-sample; give another --seed",
              file=sys.stderr)
    if calibrated and calibration.guidance != model.arm.settings.request_guidance:
        print(f"note: calibrated at guidance {calibration.guidance:g}; at "
              f"{model.arm.settings.request_guidance:g} requests are told as asked", file=sys.stderr)
        calibrated = False
    settings = model.arm.settings
    started = time.perf_counter()
    untold = measured(model.sample(args.n, args.seconds, seed=args.seed), args.seconds)
    rows, misses = [], []  # misses: per asked attribute, |written − asked| ÷ the drawn pieces' spread (calibrated, as asked)
    for request in args.requests or list(REQUESTS) + list(PAUSE_REQUESTS if "pause" in follows else ()):
        style = parse_style(request)  # refuses a bad request before sampling
        got = measured(model.sample(args.n, args.seconds, seed=args.seed, style=style), args.seconds)
        told = model.arm.told.cpu().numpy()  # [S, D]: what each piece was told
        if calibrated:  # the baseline: told as asked
            model.arm.settings = dataclasses.replace(settings, request_calibrated=False)
            as_asked = measured(model.sample(args.n, args.seconds, seed=args.seed, style=style), args.seconds)
            model.arm.settings = settings
        for name, value in style.items():
            said = float(users_value(name, told[0, follows.index(name)]))  # the same for every piece
            scale, asked = np.nanstd(untold[name]), float(users_value(name, value))
            if not (name in ("damper", "soft") and value == 0):  # (a pedal asked at 0 is kept up, not followed)
                misses.append([abs(np.nanmean(x[name]) - asked) / scale
                               for x in ((got, as_asked) if calibrated else (got,))])
            rows.append([request if len(style) == 1 else f"{request} ({name})", f"{float(users_value(name, value)):g}",
                         f"{np.nanmean(got[name]):.2f} ± {np.nanstd(got[name]):.2f}"]
                        + ([f"{said:.2f}", f"{np.nanmean(as_asked[name]):.2f} ± {np.nanstd(as_asked[name]):.2f}"]
                           if calibrated else [])
                        + [f"{np.nanmean(untold[name]):.2f} ± {np.nanstd(untold[name]):.2f}"])
            for other in args.also:
                said_other = users_value(other, told[:, follows.index(other)])  # [S]
                rows[-1].append(f"{np.nanmean(got[other]):.2f} / {np.nanmean(said_other):.2f}")
    also = [f"{other}: written / told" for other in args.also]
    header = ["asked", "value", f"written ({args.n} pieces, mean ± std)"]
    if calibrated:
        header += ["told (calibrated)", "written told as asked"]
    lines = table(header + ["told a drawn description", *also], rows)
    miss = np.nanmean(misses, axis=0)
    lines.append(f"mean |written − asked| over the {len(misses)} rows that ask a value to follow (a pedal asked at 0 "
                 "is kept up), in units of the drawn pieces' spread: "
                 + (f"{miss[0]:.3f} calibrated, {miss[1]:.3f} told as asked" if calibrated else f"{miss[0]:.3f}"))
    lines.append(f"{args.seconds:g} s pieces, seed {args.seed}, {guidance}, "
                 f"{'calibrated' if calibrated else 'told as asked'}, {time.perf_counter() - started:.0f} s")
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following `--style`: the model `{args.model}`", lines, note="beside one other job")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
