"""Checkpoints: a folder with config.json, safetensors weights, optimizer and RNG state.

Written to a temporary folder and renamed, so a crash never leaves half a checkpoint: at worst the
previous one survives as `.NAME.old`, which `checkpoint_dir` falls back to. Nothing is unpickled:
tensors come from safetensors, everything else from JSON.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, load_file
from torch import nn

from .files import held_lock, named, save_tensors
from .shipped import checkpoint_places

log = logging.getLogger(__name__)

CONFIG = "config.json"
UNREADABLE = (OSError, RuntimeError, SafetensorError)  # what a missing or damaged safetensors file raises


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in list(tensors.items()) + list(meta["scalars"].items()):
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def write_checkpoint(run: str | Path, name: str, meta: dict, models: dict[str, nn.Module],
                     optimizers: dict[str, torch.optim.Optimizer] | None = None,
                     rng: dict[str, torch.Tensor] | None = None) -> Path:
    """Write RUN/NAME atomically, its files on disk before it takes the old one's place (a power cut leaves the old
    or the new, whole). `meta` must be JSON-serialisable. A write that fails (a full disk) leaves no half-written
    folder and names the checkpoint (OSError)."""
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    final, tmp = run / name, run / f".{name}.tmp"
    try:
        _write_checkpoint_files(tmp, meta, models, optimizers, rng)
    except (OSError, SafetensorError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(getattr(e, "errno", None), f"cannot write the checkpoint ({getattr(e, 'strerror', None) or e})",
                      str(final)) from e
    old = run / f".{name}.old"
    try:
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)  # (refused where RUN/NAME may not be moved: a folder not writable, a mount point)
        tmp.rename(final)
    except OSError as e:  # the old checkpoint stays; the new one, written whole, is not left beside it
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():  # (moved aside, the new one refused its place: the old one back)
            with contextlib.suppress(OSError):
                old.rename(final)
        raise OSError(e.errno, f"cannot replace the checkpoint ({e.strerror or e})", str(final)) from e
    _synced(run)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _write_checkpoint_files(tmp: Path, meta: dict, models: dict[str, nn.Module],
                            optimizers: dict[str, torch.optim.Optimizer] | None,
                            rng: dict[str, torch.Tensor] | None) -> None:
    """A checkpoint's files in the folder `tmp` (made anew), each on disk."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    meta = dict(meta)
    meta["weights"] = {}
    for key, model in models.items():
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_tensors(state, tmp / f"{key}.safetensors")
        meta["weights"][key] = hashlib.sha256((tmp / f"{key}.safetensors").read_bytes()).hexdigest()
    meta["optimizers"] = {}
    for key, optimizer in (optimizers or {}).items():
        tensors, extra = _optimizer_tensors(optimizer)
        save_tensors(tensors, tmp / f"{key}.optim.safetensors")
        meta["optimizers"][key] = extra
    if rng:
        save_tensors({k: v.contiguous() for k, v in rng.items()}, tmp / "rng.safetensors")
    (tmp / CONFIG).write_text(json.dumps(meta, indent=1))
    for written in tmp.iterdir():
        _synced(written)
    _synced(tmp)


def _synced(path: Path) -> None:
    """`path` (a file, or a folder's list of names) written through to the disk (fsync; a folder's where the system
    opens folders: not Windows, whose renames need none)."""
    if path.is_dir() and os.name == "nt":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def checkpoint_dir(path: str | Path) -> Path:
    """A checkpoint folder from a run folder (its `last`), a checkpoint folder, or a leftover `.old`."""
    path = Path(path)
    for candidate in checkpoint_places(path):
        if (candidate / CONFIG).is_file():
            return candidate
    if not path.exists():  # (a mistyped folder: said as the commands that resolve a model name say it)
        raise ValueError(f"{path}: no such folder")
    raise ValueError(f"{path}: no checkpoint here (expected {CONFIG} in it or in {path / 'last'})")


META_NEEDS = {"autoencoder": {"model": dict, "encoding": dict, "config": dict, "weights": dict},
              "gan": {"config": dict, "normaliser": dict, "autoencoder": dict, "weights": dict}}  # what loading reads


def read_meta(path: str | Path) -> tuple[Path, dict]:
    """A checkpoint's folder and its config.json, checked to hold what loading it reads (META_NEEDS: a damaged or
    hand-edited file is one line naming it, not a KeyError)."""
    folder = checkpoint_dir(path)
    try:
        meta = json.loads((folder / CONFIG).read_text())
    except ValueError as e:
        raise ValueError(f"{folder / CONFIG}: corrupt checkpoint config ({e})") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{folder / CONFIG}: corrupt checkpoint config (a JSON {type(meta).__name__}, not an object)")
    for key, kind in META_NEEDS.get(meta.get("kind"), {}).items():
        if not isinstance(meta.get(key), kind):
            raise ValueError(f"{folder / CONFIG}: corrupt checkpoint config ({key!r} missing or not a "
                             f"{kind.__name__})")
    return folder, meta


def autoencoder_beside(folder: Path) -> Path:
    """The autoencoder a sequence-model checkpoint decodes with: FOLDER/autoencoder (an exported or shipped
    model) or, for RUN/last and RUN/best, RUN/autoencoder."""
    places = (folder / "autoencoder", folder.parent / "autoencoder")
    found = next((p for p in places if (p / CONFIG).is_file()), None)
    if found is None:
        raise ValueError(f"{folder}: its autoencoder is missing (looked in {places[0]} and {places[1]})")
    return found


def _recorded_sha256(folder: Path, key: str) -> str | None:
    """The hash `write_checkpoint` recorded in config.json for KEY.safetensors (None where none was)."""
    try:
        return json.loads((folder / CONFIG).read_text()).get("weights", {}).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def _misfit(state: dict[str, torch.Tensor], model: nn.Module) -> str | None:
    """How a state dict differs from a model's, in one line; None when every name and shape fits."""
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in state.items()}
    shapes = [k for k in mine.keys() & theirs.keys() if mine[k] != theirs[k]]
    missing, extra = sorted(mine.keys() - theirs.keys()), sorted(theirs.keys() - mine.keys())
    parts = []
    if shapes:
        first = sorted(shapes)[0]
        parts.append(f"{len(shapes)} tensor(s) of another shape, e.g. {first} is {list(theirs[first])} in the file "
                     f"but {list(mine[first])} in the model")
    if missing:
        parts.append(f"{len(missing)} missing, e.g. {missing[0]}")
    if extra:
        parts.append(f"{len(extra)} unexpected, e.g. {extra[0]}")
    return "; ".join(parts) or None


def _read_weights(folder: Path, key: str) -> tuple[bytes, dict[str, torch.Tensor]]:
    """The bytes of folder/KEY.safetensors and the tensors they hold; unreadable: one clear error."""
    try:
        data = (folder / f"{key}.safetensors").read_bytes()
        return data, load(data)
    except UNREADABLE as e:
        raise ValueError(f"{folder}: cannot read weights {key}.safetensors ({e})") from e


def load_tensors(folder: Path, key: str) -> dict[str, torch.Tensor]:
    """The tensors of KEY.safetensors, after checking its bytes against the sha256 in config.json, so weights
    swapped or damaged after saving are refused rather than used."""
    path = folder / f"{key}.safetensors"
    data, state = _read_weights(folder, key)
    recorded = _recorded_sha256(folder, key)
    actual = hashlib.sha256(data).hexdigest()
    if recorded is not None and recorded != actual:
        raise ValueError(f"{path}: these are not the weights config.json was saved with (sha256 {actual[:12]}…, "
                         f"expected {recorded[:12]}…); the file was replaced or damaged")
    return state


def load_weights(folder: Path, key: str, model: nn.Module) -> None:
    """Load KEY.safetensors into `model` (checked as `load_tensors` checks it)."""
    path = folder / f"{key}.safetensors"
    state = load_tensors(folder, key)
    misfit = _misfit(state, model)
    if misfit:
        raise ValueError(f"{path}: weights do not fit the model described in config.json ({misfit})")
    broken = next((name for name, tensor in state.items()
                   if tensor.is_floating_point() and not torch.isfinite(tensor).all()), None)
    if broken is not None:  # (a run that diverged, or a damaged copy: it would write noise without a word)
        raise ValueError(f"{path}: its weights hold NaN or infinite values ({broken}); a run that diverged, or a "
                         "damaged copy")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the model described in config.json "
                         f"({str(e).splitlines()[0]})") from e


def grow_positions(theirs: torch.Tensor, mine: torch.Tensor) -> torch.Tensor:
    """A learned position table [P, W] warm-started into a longer context [Q, W], Q > P: its P rows, then its last
    row again for each position beyond (read as "a window already full", which is what the last position meant);
    any other pair of shapes: `theirs` as it is."""
    if theirs.dim() != 2 or mine.dim() != 2 or theirs.shape[1] != mine.shape[1] or mine.shape[0] <= theirs.shape[0]:
        return theirs
    beyond = theirs[-1:].expand(mine.shape[0] - theirs.shape[0], -1)  # [Q − P, W]
    return torch.cat([theirs, beyond])  # [Q, W]


def growing_tables(model: nn.Module) -> list[str]:
    """The state-dict names of the position tables a warm start may grow: those of the modules that say so
    (`grows_positions`, the causal transformer's), not any other table called `position`."""
    return [f"{name}.position.weight" if name else "position.weight"
            for name, module in model.named_modules() if getattr(module, "grows_positions", False)]


def load_matching(folder: Path, models: dict[str, nn.Module]) -> tuple[int, list[str]]:
    """Warm start: copy into each model the tensors of folder/KEY.safetensors (where that file exists) whose
    names and shapes match; the rest keep their fresh initialisation. Each file is checked as `load_tensors` checks
    it (a warm start from weights replaced or damaged after saving is refused). The causal transformer's learned
    positions from a shorter context (ar.context grown) are copied too, and the last repeated (`grow_positions`;
    logged). → (tensors copied, names left fresh)."""
    copied, fresh = 0, []
    for key, model in models.items():
        if not (folder / f"{key}.safetensors").is_file():
            continue
        theirs = load_tensors(folder, key)
        mine = model.state_dict()
        for name in (n for n in growing_tables(model) if n in theirs and n in mine):
            grown = grow_positions(theirs[name], mine[name])
            if grown is not theirs[name]:
                log.info("warm start: %s.%s grown from %d to %d positions, the last repeated beyond", key, name,
                         theirs[name].shape[0], grown.shape[0])
                theirs[name] = grown
        fitting = {k: v for k, v in theirs.items() if k in mine and mine[k].shape == v.shape}
        model.load_state_dict(fitting, strict=False)
        copied += len(fitting)
        fresh += [f"{key}.{k}" for k in mine if k not in fitting]
    return copied, fresh


def load_optimizer(folder: Path, key: str, meta: dict, optimizer: torch.optim.Optimizer) -> None:
    try:
        tensors = load_file(str(folder / f"{key}.optim.safetensors"))
        optimizer.load_state_dict(_optimizer_state(tensors, meta["optimizers"][key]))
    except (*UNREADABLE, KeyError, ValueError) as e:
        raise ValueError(f"{folder}: cannot restore optimizer {key}.optim.safetensors ({e})") from e


def restore_training(folder: Path, meta: dict, models: dict[str, nn.Module],
                     optimizers: dict[str, torch.optim.Optimizer]) -> None:
    """Load what `write_checkpoint` wrote for these models and optimizers, to resume a run."""
    folder = checkpoint_dir(folder)  # RUN/last, or RUN/.last.old where a crash fell between its two renames
    for key, model in models.items():
        load_weights(folder, key, model)
    for key, optimizer in optimizers.items():
        load_optimizer(folder, key, meta, optimizer)


def load_rng(folder: Path) -> dict[str, torch.Tensor]:
    path = checkpoint_dir(folder) / "rng.safetensors"
    try:
        return load_file(str(path)) if path.is_file() else {}
    except UNREADABLE as e:
        raise ValueError(f"{path}: cannot read the saved random state ({e})") from e


CHECKPOINT_ENTRIES = ("last", "best", ".last.old", ".last.tmp")  # a run's checkpoints (and a write's halves)
RESUMED_FROM = ("last", ".last.old")  # what --resume goes on from (a .last.tmp alone is a first write cut short)
RUN_ENTRIES = CHECKPOINT_ENTRIES + ("autoencoder", "metrics.jsonl")  # what marks a run folder
RUN_CACHE = "latents-*.npy"  # a run's cache of the encoded corpus (a bench may seed it): not a run by itself
RUN_WRITES = RUN_ENTRIES + tuple(f".{name}.{half}" for name in ("best", "autoencoder") for half in ("old", "tmp")) + (
    "samples", "codebook.safetensors", RUN_CACHE, ".DS_Store")  # all a run writes at its top, halves of a checkpoint's
# write included, and a file browser's (--overwrite deletes these and an atomic write's halves, nothing else)
ATOMIC_HALF = re.compile(r"\..+\.\d+\.tmp(\..+)?")  # files.atomic_path's temporary: .NAME.PID.tmp[.SUFFIX]


def held_run(run: str | Path) -> contextlib.AbstractContextManager:
    """While a process trains into `run`: a lock beside it (`.NAME.lock` in its parent folder, which a new run's
    --overwrite leaves; files.held_lock), so that a second training process on the same run is refused in one line,
    not mixed in."""
    run = Path(run)
    where = run.resolve()  # (one lock whatever the path names it by: a link, ./, an absolute path)
    return held_lock(where.parent / f".{where.name}.lock", f"{run}: another process is training this run now; wait "
                     "for it to end, or give another --out", where=str(run))


def check_run_folder(run: str | Path, *, overwrite: bool = False,
                     reads: dict[str, str | Path | None] | None = None) -> list[Path]:
    """What starting a new run in `run` deletes ([] for a missing or empty folder, or one holding only the
    encoded-corpus cache), or ValueError (one line) where a run may not start there: a folder that holds a run
    unless `overwrite`, one that holds anything else always, and with `overwrite` one that holds what the new
    run reads (`reads`: {what: folder}, as loaded), so that it never deletes what it starts from. No side
    effects, so that every rank of a distributed run may check (`start_run_folder` deletes)."""
    run = Path(run)
    for above in Path(os.path.abspath(run)).parents:  # a run's own folders are rewritten whole as it goes on
        if ((above / "metrics.jsonl").is_file() or (above / "last" / CONFIG).is_file()
                or (above / CONFIG).is_file() and any(above.glob("*.safetensors"))):
            raise ValueError(f"{run}: inside {above}, which holds a run or a checkpoint (its files are replaced as "
                             "it is resumed); choose an output folder outside it")
    if not run.exists():
        return []
    if not run.is_dir():
        raise ValueError(f"{run}: exists and is not a folder; choose another output folder")
    entries = list(run.iterdir())
    if all(entry.match(RUN_CACHE) for entry in entries):
        return []
    if not any((run / name).exists() for name in RUN_ENTRIES):
        raise ValueError(f"{run}: folder is not empty and holds no run; choose another output folder")
    if not overwrite:
        if not any((run / name).exists() for name in RESUMED_FROM):  # (as --resume would say: not "continue it")
            if (run / "best").exists():
                raise ValueError(f"{run} holds a run that stopped between writing its first best and last checkpoints "
                                 f"(nothing to resume); keep {run / 'best'} as a model, or start it again there with "
                                 "--overwrite")
            raise ValueError(f"{run} holds a run that stopped before its first checkpoint (nothing to resume); start "
                             "it again there with --overwrite")
        try:
            where = f" (step {read_meta(run / 'last')[1].get('step')})"
        except ValueError:
            where = ""
        raise ValueError(f"{run} already holds a run{where}; continue it with --resume {run}, "
                         "or start a new one there with --overwrite (deletes the old one)")
    for what, path in (reads or {}).items():
        if path is not None and Path(path).exists() and Path(path).resolve().is_relative_to(run.resolve()):
            raise ValueError(f"{run}: the new run reads {what} {path} from this folder, which --overwrite would "
                             "delete; choose another output folder")
    foreign = sorted(entry.name for entry in entries
                     if not any(entry.match(name) for name in RUN_WRITES) and not ATOMIC_HALF.fullmatch(entry.name))
    if foreign:  # a user's notes or favourite pieces kept in the run's folder: never deleted
        raise ValueError(f"{run}: --overwrite deletes only what a run wrote, and this folder holds {named(foreign, 1)}, "
                         "which no run wrote; move it out, or give another --out")
    return entries


def start_run_folder(run: str | Path, *, overwrite: bool = False,
                     reads: dict[str, str | Path | None] | None = None, ranks=None) -> None:
    """`check_run_folder`, then delete what it allows. With `ranks` (a distributed run's `Dist`), every rank
    checks alike before anything is written, and rank 0 deletes after the others have checked."""
    doomed = check_run_folder(run, overwrite=overwrite, reads=reads)
    if ranks is not None:
        ranks.barrier()
        if not ranks.main:
            return
    for entry in doomed:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
