"""`tsm generate --list` and `--info`, which draw nothing: the shipped models, and what one model is, how it was
trained and what it may be asked, in words (or its settings as JSON)."""
from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from .generate_flags import generate_parser

READ_BY = {"list": ("list", "model", "arch"), "info": ("info", "json", "model", "arch")}  # what --list and --info read,
SAID_ANYWHERE = ("verbose", "threads", "device", "help")  # besides how any command runs


def refuse_unread(args: argparse.Namespace) -> None:
    """--list and --info draw nothing: given together, --json without --info, or a flag of drawing given with them
    (-o, --seconds, --key …) would be silently ignored, so each is refused in one line."""
    if args.list and args.info:  # one would be silently ignored
        raise ValueError("--list and --info: give one (--list: the shipped models; --info: how one was trained)")
    if args.json and not args.info:
        raise ValueError("--json goes with --info (the model's settings as JSON)")
    for flag, reads in READ_BY.items():
        if not getattr(args, flag):
            continue
        unread = [action.option_strings[0] for action in generate_parser()._actions if action.option_strings
                  and action.dest not in (*reads, *SAID_ANYWHERE) and getattr(args, action.dest, None) != action.default]
        if unread:
            does = "lists the shipped models" if flag == "list" else "says how the model was trained"
            raise ValueError(f"{', '.join(unread)}: not read with --{flag}, which draws nothing (it {does}); leave "
                             f"{'it' if len(unread) == 1 else 'them'} out")


def print_list(args: argparse.Namespace) -> None:
    """--list: the shipped models (--arch KIND: those of that kind); without --arch, the shipped autoencoders and the
    composers --composer may name (the training performances of each, in --model's or the default's corpus)."""
    from .model_info import model_info
    from .shipped import shipped_of_kind

    listed = shipped_of_kind(args.arch)  # --list --arch KIND: those of that kind
    composers = model_info(args.model or "default")["composers"] if args.arch is None else None  # (a bad
    width = max(len(d["name"]) for d in listed)  # --model is told before anything is listed)
    for d in listed:
        print(f"{d['name']:<{width}}  {d['arch']:<6} {d['summary']}")
    if args.arch is None:
        from .shipped import shipped_autoencoders

        print(f"autoencoders, for --ae of reconstruct and train-gan: {', '.join(shipped_autoencoders())}")
        if isinstance(composers, dict) and composers:
            print("composers, for --composer (" + ("the default's" if args.model is None else f"{args.model}:")
                  + " training performances of each): " + ", ".join(f"{name} {count}" for name, count in
                                                                       composers.items()))


def print_info(args: argparse.Namespace) -> None:
    """--info: how --model was trained and what it may be asked (`info_words`; -v: how it came to be), or with --json
    every setting (model_info.model_info); --arch, given too, is checked against the model's."""
    from .model_info import model_info

    info = model_info(args.model)
    if args.arch is not None and info.get("arch") != args.arch:
        raise ValueError(f"--arch {args.arch}: the model {args.model} is of arch {info.get('arch')}")
    print(json.dumps(info, indent=1) if args.json else "\n".join(info_words(info, history=args.verbose)))


def info_words(info: dict, history: bool = False) -> list[str]:
    """`--info`'s JSON (model_info.model_info) in a few lines a person reads: what the model is, how it was trained,
    what it may be asked; with `history` (--info -v), how it came to be (its description, wrapped)."""
    folder = Path(str(info.get("model", "")))
    name = f"{folder.parent.name}/{folder.name}" if folder.name in ("last", "best") else folder.name  # (a run's)
    summary = info.get("summary") or "a run of your own (a shipped model says here what it draws)"
    lines = [f"{name} ({info.get('arch')}): {summary}"]
    trained = info.get("trained") or {}
    if trained.get("steps"):
        start = info.get("initialised_from") or {}
        seconds = trained.get("seconds") or 0  # (a short run of one's own in minutes: not '0.0 h')
        took = f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"
        hours = f", {took} on {trained.get('device', '?')}" if seconds else ""
        warm = _warm_start_words(start) if start.get("model") else ""
        corpus = info.get("corpus") or {}
        on = f"; corpus: {corpus['tracks']:,} performances, {corpus['hours']:.1f} h" if corpus.get("tracks") else ""
        # (as tsm prepare counts them)
        lines.append(f"trained: {trained['steps']:,} steps of its own{hours}{warm}{on}")
    lines += _run_words(info.get("best_validation"), info.get("run"))
    ar = info.get("ar") or {}
    takes = info.get("takes") or {}  # (sample_limits.arm_takes: what tsm generate's checks let it be asked)
    asks = ["--prompt"] if takes.get("prompt") else []
    asks += [flag for flag, key in (("--key", "takes_key"), ("--tempo", "takes_tempo")) if info.get(key)]
    asks += [f"--style{' (calibrated)' if info.get('style_calibration') else ''}"] if ar.get("style") else []
    walks = ar.get("style") and ar.get("style_drawn", True) and ar.get("style_path", "none") != "none"  # a path
    composers = info.get("composers")  # (as path_walk.check_walks lets --composer and --like walk one)
    asks += [f"--composer ({len(composers)} composers)"] if walks and isinstance(composers, dict) and composers else []
    asks += ["--like"] if walks else []
    asks += ["--select (a critic)"] if isinstance(info.get("critic"), dict) else []
    closes_s = (ar.get("closing_s") or 0) + (ar.get("closing_ring_s") or 0)  # a closing, and its final chord's ring
    slows = (ar.get("final_ritard") or 1) > 1  # ar.final_ritard: slowing into the final onset
    asks += [f"--ending (its last {closes_s:g} s close{', slowing into the final chord' if slows else ''})"] if (
        ar.get("closing_s") or 0) > 0 else []
    asks += ["--max-seconds (it ends each piece itself; not --seconds)"] if takes.get("ends_always") else []
    asks += ["--max-seconds (to end each piece itself), --temperature"] if takes.get("tempered") else []
    if asks:
        lines.append("it may be asked: " + ", ".join(asks))
    if info.get("description") and history:
        lines.append(textwrap.fill("how it came to be: " + str(info["description"]), width=110))
    lines.append(("" if history or not info.get("description") else "how it came to be: --info -v; ")
                 + "every setting: --info --json" + (' ("ar": those --set ar.NAME=VALUE may change for a run)'
                                                     if ar else ""))
    return lines


def _run_words(best: dict | None, run: dict | None) -> list[str]:
    """The best validation figure and its step ('best validation: val_nll 35.93 at step 5,500'; where its step is not
    known, the step by which it was the best), and for a run that has not reached its last step, where it stands
    and how to go on."""
    lines = []
    if best:
        at = f"at step {best['step']:,}" if best.get("step") is not None else (
            f"(its run's best by step {best['by_step']:,})" if best.get("by_step") is not None else "")
        lines.append(f"best validation: {best['figure']} {best['value']:.4g} {at}".rstrip())
    if run and isinstance(run.get("step"), int) and isinstance(run.get("steps"), int) and run["step"] < run["steps"]:
        how = {"stopped": "stopped (its time or steps were up)", "interrupted": "interrupted"}.get(
            run.get("ended"), "not finished (still training, or ended without a word)")
        lines.append(f"the run {how} at step {run['step']:,} of {run['steps']:,}: tsm train-gan --resume {run['folder']} "
                     "trains on")
    return lines


def _warm_start_words(start: dict) -> str:
    """', warm-started from MODEL at its step N', and where MODEL is the shipped model of that name (it has trained
    that far: an older model's 'default' is the default of its time), how to ask it in turn."""
    from .model_info import model_info
    from .shipped import shipped_names

    said = f", warm-started from {start['model']} at its step {start['step']:,}"
    if start["model"] not in shipped_names():
        return said
    if ((model_info(start["model"]).get("trained") or {}).get("steps") or 0) < start["step"]:
        return said + f" (the {start['model']} of its time, not the one shipped now)"
    return said + f" (trained before that: --info --model {start['model']})"

