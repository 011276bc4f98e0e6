"""A trained run exported as a model folder: what generation needs (the generator, its autoencoder, codebook,
description paths, what else its arm keeps beside its weights, and any piece critic for `--select`), without the
training critic or the optimizers' state.
`python -m timestepmusic.model_export RUN DEST` writes DEST, a folder to share or keep, which `tsm generate --model
DEST` samples."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from .checkpoint import CONFIG, checkpoint_dir, read_meta
from .critic import CRITIC
from .files import atomic_path, named
from .latents import CODEBOOK
from .script_errors import said_errors
from .sequence import AVERAGED_GENERATOR
from .sequence.style_calibration import META_KEY as CALIBRATION


def export_model(run: str | Path, dest: str | Path, description: str = "", overwrite: bool = False,
                 sampling_from: str | Path | None = None) -> Path:
    """Copy what generation needs (generator + its autoencoder and piece critic, no training critic or optimizer) into
    `dest`: a new or empty folder, or, with `overwrite`, one an earlier export wrote (replaced whole); an earlier export
    without it, or any other folder (the run itself, a user's folder), is refused in one line, not deleted. With
    `sampling_from` (a model of the same arm: a shipped one's name, or a checkpoint) the export samples with that
    model's sampling settings (with_sampling_of)."""
    weights = ("generator", AVERAGED_GENERATOR, "autoencoder", "codebook", "style_paths")  # (+ a fine-tuned autoencoder)
    exported = {f"{key}.safetensors" for key in weights} | {CODEBOOK, CONFIG, CRITIC, "autoencoder", ".DS_Store"}
    if Path(dest).exists():
        exported |= {f"{key}.safetensors" for key in _weights_named(Path(dest))}  # (an arm's own kept tensors)
        foreign = sorted(p.name for p in Path(dest).iterdir() if p.name not in exported) if Path(dest).is_dir() else []
        if not Path(dest).is_dir() or foreign:
            raise ValueError(f"{dest}: " + (f"holds {named(foreign, 1)}, which no export wrote (replacing the folder "
                                            "would delete it)" if foreign else "not a folder")
                             + "; give a new or empty folder to export into")
        if not overwrite and any(p.name != ".DS_Store" for p in Path(dest).iterdir()):
            raise ValueError(f"{dest} holds an earlier export already; give another folder, or --overwrite to replace it")
    folder, meta = read_meta(run if not (Path(run) / "best").is_dir() else Path(run) / "best")
    if meta.get("kind") != "gan":  # (an autoencoder run: --ae reads it as it is)
        what = "an autoencoder's checkpoint" if meta.get("kind") == "autoencoder" else "no generator's checkpoint"
        raise ValueError(f"{run}: {what}, not train-gan's; give the run tsm generate --model reads")
    if sampling_from is not None:
        meta = with_sampling_of(meta, sampling_from)
    with atomic_path(dest) as tmp:
        tmp.mkdir()
        # the generator, and what no optimizer trains: its weight average and what the arm keeps beside its weights
        # (`kept`, read back by its `use_kept`: an events arm's style_paths, and any of an arm of one's own)
        kept = [key for key in meta["weights"] if key in weights or key not in meta.get("optimizers", {})]
        for key in kept:
            shutil.copy(folder / f"{key}.safetensors", tmp / f"{key}.safetensors")
        if (folder / CRITIC).is_file():  # (a piece critic trained on this checkpoint: `tsm generate --select`)
            shutil.copy(folder / CRITIC, tmp / CRITIC)
        if "codebook" not in kept and (folder.parent / CODEBOOK).is_file():
            shutil.copy(folder.parent / CODEBOOK, tmp / CODEBOOK)
        ae_src = checkpoint_dir(folder.parent / "autoencoder")
        (tmp / "autoencoder").mkdir()
        shutil.copy(ae_src / "pisa.safetensors", tmp / "autoencoder" / "pisa.safetensors")
        ae_meta = json.loads((ae_src / "config.json").read_text())
        ae_meta["optimizers"] = {}
        (tmp / "autoencoder" / "config.json").write_text(json.dumps(ae_meta, indent=1))
        meta = dict(meta, optimizers={}, description=description)
        meta["weights"] = {key: meta["weights"][key] for key in kept}
        (tmp / "config.json").write_text(json.dumps(meta, indent=1))
    return Path(dest)


def with_sampling_of(meta: dict, model: str | Path) -> dict:
    """An ar or events checkpoint's `meta` with the sampling settings (ar_config.SAMPLING_SETTINGS: what `tsm generate
    --set ar.NAME=VALUE` changes) of `model`, a model of the same arm (a run reproduced from docs/training.md given the
    shipped default's, chosen on its validation split since it was trained), each its arm reads and `model` reads too (a
    style or closing setting of a model trained without one was never chosen); the others, and every trained setting,
    as they were. Its sampling settings are recorded as taken from `model` ("sampling_from")."""
    from .generation import checkpoint_config, readable_sampling
    from .shipped import arch_said, resolve_model

    arch = meta.get("arch", "conv")
    _, source = read_meta(resolve_model(model, flag="--sampling-from"))
    if arch not in ("ar", "events") or source.get("kind") != "gan" or source.get("arch", "conv") != arch:
        theirs = arch_said(source.get("arch", "conv")) if source.get("kind") == "gan" else "not a generator"
        raise ValueError(f"--sampling-from {model}: {theirs}; the sampling settings of an ar or events model go to a "
                         f"model of the same arm, and this is {arch_said(arch)}")
    config, source_config = checkpoint_config(meta), checkpoint_config(source)
    given = source_config.ar
    theirs = set(readable_sampling(arch, source_config))  # (one MODEL never read, its value unchosen: kept)
    names = [name for name in readable_sampling(arch, config)
             if name in theirs and getattr(config.ar, name) != getattr(given, name)]
    settings = {f"ar.{name}": getattr(given, name) for name in names}
    checked = config.override(settings)  # (checked as training's --set checks them: ValueError naming the setting)
    ar = dict(meta["config"].get("ar", {}), **{name: getattr(checked.ar, name) for name in names})
    return dict(meta, config=dict(meta["config"], ar=ar), sampling_from={"model": str(model), "changed": names})


def left_in_last(run: str | Path) -> list[tuple[str, str]]:
    """What a tool added to RUN/last after training and RUN/best lacks, where an export of the run folder takes
    RUN/best: (what it is, the module that makes one) for train.critic's piece critic and train.style_calibration's
    curves; none for a checkpoint given as itself, or a run without a best. Each was made for last's weights, so the
    export leaves it out."""
    last, best = Path(run) / "last", Path(run) / "best"
    if not (last.is_dir() and best.is_dir()):
        return []
    left = [("piece critic", "train.critic")] if (last / CRITIC).is_file() and not (best / CRITIC).is_file() else []
    if CALIBRATION in _config(last) and CALIBRATION not in _config(best):
        left.append(("style calibration", "train.style_calibration"))
    return left


def _config(folder: Path) -> dict:
    """A checkpoint's config.json (empty where it cannot be read: read_meta says why where it is read)."""
    try:
        meta = json.loads((folder / CONFIG).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _weights_named(folder: Path) -> list[str]:
    """The weights an earlier export's config.json names (none where it has none, or one that cannot be read)."""
    return list(_config(folder).get("weights", {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m timestepmusic.model_export", description=__doc__)
    parser.add_argument("run", help="a train-gan run folder (its best checkpoint, else its last) or one of its "
                        "checkpoints (RUN/last, RUN/best)")
    parser.add_argument("dest", help="the model folder to write: new or empty (an earlier export: with --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace the earlier export in DEST")
    parser.add_argument("--description", default="", help="what the model is (tsm generate --model DEST --info -v shows it)")
    parser.add_argument("--sampling-from", metavar="MODEL",
                        help="sample with MODEL's sampling settings (the ar settings tsm generate --set changes), MODEL a "
                             "model of the same arm: e.g. default, for a run reproduced from docs/training.md")
    args = parser.parse_args(argv)
    dest = said_errors(lambda: export_model(args.run, args.dest, args.description, args.overwrite, args.sampling_from),
                       args.dest, "the model")
    if dest is None:
        return 1
    print(f"wrote {dest}: tsm generate --model {dest}")
    if args.sampling_from is not None:
        exported = _config(Path(dest))
        changed = exported["sampling_from"]["changed"]
        print(f"  sampling as {args.sampling_from}: {len(changed)} setting(s) changed"
              + (f" ({', '.join('ar.' + name for name in changed)})" if changed else ""))
        made = ([("piece critic", "train.critic")] if (Path(dest) / CRITIC).is_file() else []) + (
            [("style calibration", "train.style_calibration")] if CALIBRATION in exported else [])
        for what, module in made if changed else []:  # (each measured on pieces drawn as the run sampled them)
            print(f"WARNING: {dest}'s {what} was made with the run's own sampling settings, not these: make it again "
                  f"(python -m timestepmusic.{module} {dest} … --overwrite)", file=sys.stderr)
    for what, module in left_in_last(args.run):  # (train.critic and train.style_calibration write into RUN/last)
        print(f"WARNING: {Path(args.run) / 'last'}'s {what} is not in {dest}: the export takes {Path(args.run) / 'best'}, "
              f"and the {what} was made for last's weights; export {Path(args.run) / 'last'} to keep it, or make one "
              f"for the export (python -m timestepmusic.{module} {dest} …)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
