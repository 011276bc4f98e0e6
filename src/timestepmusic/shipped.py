"""The models shipped inside the package (src/timestepmusic/models/NAME), found by name.

`--model` takes a run or checkpoint folder, or the name of a shipped model; nothing given means the default.
Imports nothing of ours, so that the autoencoder and generation modules can both use it.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

DEFAULT_MODEL = "default"


def models_dir() -> Path:
    return Path(str(resources.files("timestepmusic") / "models"))


def _shipped(kind_is_autoencoder: bool) -> list[str]:
    folders = [p for p in models_dir().iterdir() if (p / "config.json").is_file()]
    names = sorted(p.name for p in folders
                   if (json.loads((p / "config.json").read_text()).get("kind") == "autoencoder") == kind_is_autoencoder)
    return sorted(names, key=lambda name: name != DEFAULT_MODEL)


def shipped_names() -> list[str]:
    """Names of the shipped generators (what `tsm generate --list` lists), the default first."""
    return _shipped(False)


def shipped_autoencoders() -> list[str]:
    """Names of the autoencoders shipped on their own (`tsm reconstruct --ae NAME`, `train-gan --ae NAME`)."""
    return _shipped(True)


def shipped_description(name: str) -> dict:
    meta = json.loads((models_dir() / name / "config.json").read_text())
    return {"name": name, "arch": meta.get("arch", "conv"), "description": meta.get("description", "")}


def shipped_of_arch(arch: str) -> str:
    """The first shipped model (the default first) of this architecture, for `tsm generate --arch ARCH`."""
    for name in shipped_names():
        if shipped_description(name)["arch"] == arch:
            return name
    shipped = ", ".join(f"{name} ({shipped_description(name)['arch']})" for name in shipped_names()) or "none"
    raise ValueError(f"--arch {arch}: no shipped model is of this kind (shipped: {shipped}); give --model RUN")


def resolve_model(model: str | Path | None, flag: str = "--model") -> Path:
    """A folder given (an existing path) as it is; a shipped model's name → its folder; None → the default."""
    if model is None:
        model = DEFAULT_MODEL
    path = Path(model)
    if path.exists():
        return path
    if isinstance(model, str) and "/" not in model and (models_dir() / model / "config.json").is_file():
        return models_dir() / model
    generators, autoencoders = ", ".join(shipped_names()) or "none", ", ".join(shipped_autoencoders()) or "none"
    raise ValueError(f"{flag} {model}: no such folder, and not a shipped model (generators: {generators}; "
                     f"autoencoders, for --ae: {autoencoders})")
