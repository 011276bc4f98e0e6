"""The models shipped inside the package (src/timestepmusic/models/NAME), found by name.

`--model` takes a run or checkpoint folder, or the name of a shipped model; nothing given means the default.
Imports nothing of ours, so that the autoencoder and generation modules can both use it.
"""
from __future__ import annotations

import difflib
import json
import logging
import os
from importlib import resources
from pathlib import Path, PurePath

from .setting_names import said_in_keywords

log = logging.getLogger(__name__)

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
    """A shipped model's name, arch, one-line summary (what `--list` prints) and full description (`--info`)."""
    meta = json.loads((models_dir() / name / "config.json").read_text())
    description = meta.get("description", "")
    return {"name": name, "arch": meta.get("arch", "conv"), "description": description,
            "summary": meta.get("summary") or description.split(". ")[0]}


def shipped_of_kind(arch: str | None) -> list[dict]:
    """The descriptions of the shipped models of this architecture (every one for None), the default first;
    ValueError in one line, naming those shipped, where none is of it."""
    shipped = [shipped_description(name) for name in shipped_names()]
    of_kind = [d for d in shipped if arch in (None, d["arch"])]
    if not of_kind:
        there = ", ".join(f"{d['name']} ({d['arch']})" for d in shipped) or "none"
        raise ValueError(f"--arch {arch}: no shipped model is of this kind (shipped: {there}); give --model RUN")
    return of_kind


def shipped_of_arch(arch: str) -> str:
    """The first shipped model (the default first) of this architecture, for `tsm generate --arch ARCH`."""
    return shipped_of_kind(arch)[0]["name"]


def resolve_model(model: str | Path | None, flag: str = "--model", call: str | None = None) -> Path:
    """A folder given (an existing path) as it is; a shipped model's name → its folder; None → the default. A
    folder in the working directory that holds no checkpoint (an output folder called `style`, say) does not
    hide the shipped model of its name; nothing given is always the shipped default. A name that is neither is refused
    in one line naming the command's `flag` (`--model defualt: …`), or with `call`, the Python call given it as
    Python says it (`GANModel.load('defualt'): …`; generators alone listed: such a call loads no autoencoder)."""
    if model is None:
        return models_dir() / DEFAULT_MODEL
    subject = f"{flag} {model}" if call is None else f"{call}({str(model)!r})"  # (a Path said as the text it holds)
    if str(model) == "":  # (Path(''): the working folder, said as '.: no checkpoint here')
        said = f"{flag} ''" if call is None else subject
        raise ValueError(f"{said}: an empty name; give a shipped model's name ({DEFAULT_MODEL}, …) or a run folder"
                         + ("" if call is None else " (None: the default)"))
    path = Path(model)
    shipped = _shipped_name(path)
    if path.exists() and not (shipped and not _holds_checkpoint(path)):
        return path
    if shipped:
        if path.exists():
            log.warning("%s: this folder holds no model; using the shipped %s", path, path.name)
        return models_dir() / path.name
    if path.name == "best" and (path.parent / "last").is_dir():  # a run that has not validated yet
        raise ValueError(f"{subject}: no such folder: the run {path.parent} has no best checkpoint yet (it comes "
                         f"with its first validation that scores); its latest is {path.parent / 'last'} (give the run "
                         f"folder: {path.parent})")
    generators = shipped_names()  # (generate()'s model= takes no autoencoder, nor has it an --ae to give one to)
    python = said_in_keywords() or call is not None
    autoencoders = [] if python else shipped_autoencoders()
    names = {name.casefold(): name for name in generators + autoencoders}
    near = difflib.get_close_matches(str(model).casefold(), list(names), n=1, cutoff=0.7)
    said = f"; did you mean {names[near[0]]}?" if near else ""
    listed = "" if python else f"; autoencoders, for --ae: {', '.join(autoencoders) or 'none'}"
    raise ValueError(f"{subject}: no such folder, and not a shipped model{said} (generators: "
                     f"{', '.join(generators) or 'none'}{listed})")


def shipped_name_of(folder: str | Path) -> str | None:
    """The name of the shipped model whose folder (or a folder inside it: its autoencoder) `folder` is; None for any
    other folder."""
    try:
        inside = Path(folder).resolve().relative_to(models_dir().resolve())
    except ValueError:
        return None
    return inside.parts[0] if inside.parts else None


def model_said(folder: str | Path) -> str:
    """A model as a message names it: a shipped one by its name ("the shipped model conv-v1"), never by where the
    package is installed; any other by its folder as given ("the model in runs/mine/last")."""
    name = shipped_name_of(folder)
    return f"the shipped model {name}" if name else f"the model in {folder}"


def arch_said(arch: str) -> str:
    """A kind of model with its article, as a message says it: "a conv model", "an events model" (ar, events and rnn
    are said from a vowel: "an ar", "an R-N-N")."""
    return f"{'an' if arch in ('ar', 'events', 'rnn') else 'a'} {arch} model"


def model_to_change(model_path: str | Path, then: str) -> Path:
    """A model folder a tool writes into (train.critic its critic, train.style_calibration its curves), as given; one
    that is not there, or a shipped model (never changed in place), refused in one line that says to copy it first
    and `then` (what to do with the copy, e.g. "calibrate the copy")."""
    path = Path(model_path)
    if not path.is_dir():
        raise ValueError(f"{path}: the shipped model {path} is not changed in place; copy its folder "
                         f"({models_dir() / str(path)}) and {then}" if is_shipped_name(str(path)) else
                         f"{path}: no such model folder")
    if path.resolve().is_relative_to(models_dir().resolve()):
        raise ValueError(f"{path}: a shipped model, not changed in place; copy its folder and {then}")
    return path


def recorded_model(model: str | None) -> str | None:
    """`--model` as a generated file's marker records it: a shipped model's name as its name (None for the default's,
    as when none is given), a folder as typed, not made absolute (a file shared says nothing of the folders it was
    made in)."""
    if model is None:
        return None
    path = Path(model)
    if _shipped_name(path) and not (path.exists() and _holds_checkpoint(path)):  # (as resolve_model tells them)
        return None if path.name == DEFAULT_MODEL else path.name
    typed = str(PurePath(model))  # ('./runs/x' as 'runs/x'; '..' kept: through a link it is not the folder above)
    return f".{os.sep}{typed}" if _shipped_name(Path(typed)) else typed  # (./style: the folder, not the name)


def is_shipped_name(recorded: str) -> bool:
    """Whether a marker's --model (`recorded_model`'s) names a shipped model, not a folder."""
    return recorded == Path(recorded).name and _shipped_name(Path(recorded))


def _shipped_name(path: Path) -> bool:
    """Whether `path` is a shipped model's name (a folder of the working directory may have it too)."""
    return len(path.parts) == 1 and (models_dir() / path.name / "config.json").is_file()


def checkpoint_places(path: Path) -> tuple[Path, ...]:
    """Where a checkpoint given as `path` may be, in the order looked at: the folder itself, a run's `last`, and a
    leftover of an interrupted save (checkpoint.checkpoint_dir reads them; kept here, where nothing imports torch,
    which `tsm --help` must not)."""
    return path, path / "last", path / ".last.old", path.parent / f".{path.name}.old"


def _holds_checkpoint(path: Path) -> bool:
    """Whether a folder is a checkpoint or a run with one (also one with only `best`)."""
    return any((folder / "config.json").is_file() for folder in (*checkpoint_places(path), path / "best"))
