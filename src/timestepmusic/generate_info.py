"""`tsm generate --info` in words: what a model is, how it was trained, what it may be asked."""
from __future__ import annotations

import textwrap
from pathlib import Path


def info_words(info: dict, history: bool = False) -> list[str]:
    """`--info`'s JSON (generation.model_info) in a few lines a person reads: what the model is, how it was trained,
    what it may be asked; with `history` (--info -v), how it came to be (its description, wrapped)."""
    folder = Path(str(info.get("model", "")))
    name = f"{folder.parent.name}/{folder.name}" if folder.name in ("last", "best") else folder.name  # (a run's)
    lines = [f"{name} ({info.get('arch')}): {info.get('summary') or 'no summary'}"]
    trained = info.get("trained") or {}
    if trained.get("steps"):
        start = info.get("initialised_from") or {}
        hours = f", {trained['seconds'] / 3600:.1f} h on {trained.get('device', '?')}" if trained.get("seconds") else ""
        warm = _warm_start_words(start) if start.get("model") else ""
        corpus = info.get("corpus") or {}
        on = f"; corpus: {corpus['tracks']:,} tracks, {corpus['hours']:.1f} h" if corpus.get("tracks") else ""
        lines.append(f"trained: {trained['steps']:,} steps of its own{hours}{warm}{on}")
    ar = info.get("ar") or {}
    asks = ["--prompt"] if info.get("arch") in ("ar", "events") else []
    asks += [flag for flag, key in (("--key", "takes_key"), ("--tempo", "takes_tempo")) if info.get(key)]
    asks += [f"--style{' (calibrated)' if info.get('style_calibration') else ''}"] if ar.get("style") else []
    composers = info.get("composers")
    asks += [f"--composer ({len(composers)} composers)"] if isinstance(composers, dict) and composers else []
    asks += ["--like"] if ar.get("style") and ar.get("style_path", "none") != "none" else []
    asks += ["--select (a critic)"] if isinstance(info.get("critic"), dict) else []
    if asks:
        lines.append("it may be asked: " + ", ".join(asks))
    if info.get("description") and history:
        lines.append(textwrap.fill("how it came to be: " + str(info["description"]), width=110))
    lines.append(("" if history or not info.get("description") else "how it came to be: --info -v; ")
                 + "every setting: --info --json" + (' ("ar": those --set ar.NAME=VALUE may change for a run)'
                                                     if ar else ""))
    return lines


def _warm_start_words(start: dict) -> str:
    """', warm-started from MODEL at its step N', and where MODEL is the shipped model of that name (it has trained
    that far: an older model's 'default' is the default of its time), how to ask it in turn."""
    from .generation import model_info
    from .shipped import shipped_names

    said = f", warm-started from {start['model']} at its step {start['step']:,}"
    if start["model"] not in shipped_names():
        return said
    if ((model_info(start["model"]).get("trained") or {}).get("steps") or 0) < start["step"]:
        return said + f" (the {start['model']} of its time, not the one shipped now)"
    return said + f" (trained before that: --info --model {start['model']})"

