"""`tsm train-ae` and `tsm train-gan`: the run folder checked (a new run's, or a resumed one's with the settings
it was trained with), then the training API called. Heavy imports happen inside each command so that `tsm --help`
stays fast."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .config_flags import config_from_flags

if TYPE_CHECKING:
    from .config import Config


def _run_folder(args: argparse.Namespace, verb: str) -> str:
    """The run folder: --resume RUN continues one; --out RUN starts one (the training verb refuses a folder that
    holds a run unless --overwrite, so an old run's `last`, `best` and metrics are never silently replaced or
    mixed, and never deletes what the new run reads: checkpoint.check_run_folder)."""
    from .checkpoint import check_run_folder

    if args.resume and args.out and Path(args.out) != Path(args.resume):
        raise ValueError(f"{verb}: give --out RUN to start a run or --resume RUN to continue one, not both")
    if args.resume:
        if args.overwrite:
            raise ValueError(f"{verb}: --overwrite starts a new run; it cannot go with --resume")
        if not Path(args.resume).is_dir():
            raise ValueError(f"--resume {args.resume}: no such folder (give the --out folder of the run to continue)")
        with _held(args.resume):  # another process training it now: said first, not what its folder holds so far
            pass
        _check_resumable(Path(args.resume))
        return args.resume
    if args.out is None:
        raise ValueError(f"{verb} needs --out RUN (or --resume RUN)")
    if Path(args.out).is_dir():  # another process training it now: said first, not what its folder holds so far
        with _held(args.out):
            pass
    check_run_folder(args.out, overwrite=args.overwrite)  # said before any loading; the verb checks again
    return args.out


def _refuse_changed_on_resume(asked: dict[str, tuple[object, object]], new_run: str = "start a new run") -> None:
    """--resume with a flag that names another value than the run was trained with: refused in one line, as --set is
    (it would be silently ignored: a resumed run trains on its saved settings). `asked`: flag → (given or None,
    saved); the run's own value, repeated, goes on. `new_run`: how the line says to start one instead."""
    for flag, (given, saved) in asked.items():
        if given is not None and given != saved:
            shown = ("on" if saved else "off") if isinstance(saved, bool) else saved
            raise ValueError(f"{flag if given is True else f'{flag} {given}'}: a resumed run keeps its saved "
                             f"{flag.lstrip('-')} ({shown}), so that it goes on exactly; {new_run} to change it")


def _refuse_changed_settings(args: argparse.Namespace, saved: Config, resume_flags: dict[str, str],
                             new_run: str, sampled: str | None = None) -> None:
    """--set and --config with --resume: they go on where every value they set is the run's own (a script that
    re-runs its first command line with --resume added), and are refused in one line naming the first setting
    they change otherwise (it would be silently ignored: a resumed run trains on its saved settings).
    `resume_flags`: setting → the flag that changes it on a resumed run (train-ae --lr); `new_run`: how the line
    says to start one instead; `sampled`: the run, where it is an ar or events model whose sampling settings
    (ar_config.SAMPLING_SETTINGS) `tsm generate --set` changes: the line says so."""
    from .ar_config import SAMPLING_SETTINGS
    from .config import Config
    from .set_assignments import split_assignment

    if not (getattr(args, "config", None) or getattr(args, "set", None)):
        return
    asked = Config.from_toml(args.config, saved) if getattr(args, "config", None) else saved
    asked = asked.override(getattr(args, "set", None) or [])
    for key, own, given in saved.differences(asked):
        by_set = [a for a in getattr(args, "set", None) or [] if split_assignment(a)[0] == key]
        source = f"--set {by_set[-1]}" if by_set else f"--config {args.config}"
        how = (f"give {resume_flags[key]} with --resume to change it from here on" if key in resume_flags
               else f"{new_run} to change it")
        if sampled and key.startswith("ar.") and key[3:] in SAMPLING_SETTINGS:  # (what only drawing pieces reads)
            how += f", or draw pieces with it: tsm generate --model {sampled} --set {key}={_setting_said(given)}"
        raise ValueError(f"{source}: a resumed run keeps its saved settings, so that it goes on exactly ({key} is "
                         f"{_setting_said(own)} in the run, {_setting_said(given)} here); {how}")


def _setting_said(value: object) -> str:
    """A setting's value as --set and TOML write it (true, not True)."""
    return json.dumps(value) if isinstance(value, (bool, str)) else str(value)


def _check_resumable(run: Path) -> None:
    """A --resume folder that holds no checkpoint to go on from, said as what it is (a checkpoint folder, a run
    stopped before its first checkpoint, no run), not as a missing RUN/last/last."""
    from .checkpoint import RESUMED_FROM, RUN_ENTRIES

    if any((run / name / "config.json").is_file() for name in RESUMED_FROM):
        return
    if (run / "config.json").is_file():
        raise ValueError(f"--resume {run}: a checkpoint, not a run folder; give the run's folder (--resume {run.parent})")
    if (run / "best" / "config.json").is_file():  # killed between writing its first best and its first last
        raise ValueError(f"--resume {run}: the run holds its best checkpoint but no last to go on from (it stopped "
                         f"between writing them); keep {run / 'best'} as a model, or start again with --out {run} "
                         "--overwrite (deletes it)")
    if any((run / name).exists() for name in RUN_ENTRIES):
        raise ValueError(f"--resume {run}: the run stopped before its first checkpoint (nothing to resume); start it "
                         f"again with --out {run} --overwrite")
    raise ValueError(f"--resume {run}: holds no run (no {run / 'last'}); give the --out folder of the run to continue")


def _held(run: str) -> contextlib.AbstractContextManager:
    """The run's lock while it trains (checkpoint.held_run), taken by one process: a distributed run's first rank."""
    from .checkpoint import held_run

    return held_run(run) if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext()


def cmd_train_ae(args: argparse.Namespace) -> int:
    from .train.ae import read_run, train_autoencoder

    args.checkpoint_s = checkpoint_s = args.checkpoint_minutes * 60 if args.checkpoint_minutes else None
    config = None if args.resume else config_from_flags(args, {
        "latent": "ae.latent", "encoding": "encoding.encoding", "epochs": "ae.epochs", "device": "ae.device",
        "batch": "ae.batch_chunks", "lr": "ae.lr", "seed": "ae.seed", "compile": "ae.compile",
        "checkpoint_s": "ae.checkpoint_every_s"})
    out = _run_folder(args, "train-ae")
    if args.resume:  # (a run of another kind said as one first)
        from .config import Config

        saved = Config.from_dict(read_run(Path(out))["config"])
        _refuse_changed_settings(args, saved, {"ae.lr": "--lr", "ae.epochs": "--epochs", "ae.device": "--device",
                                               "ae.compile": "--compile", "ae.checkpoint_every_s": "--checkpoint-minutes"},
                                 new_run="start a new run (--out RUN)")
        _refuse_changed_on_resume({"--latent": (args.latent, saved.ae.latent),
                                   "--encoding": (args.encoding, saved.encoding.encoding),
                                   "--batch": (args.batch, saved.ae.batch_chunks), "--seed": (args.seed, saved.ae.seed)})
    with _held(out):
        result = train_autoencoder(args.corpus, out, config, resume=bool(args.resume), overwrite=args.overwrite,
                                   progress=not args.quiet,
                                   max_seconds=args.max_minutes * 60 if args.max_minutes is not None else None,
                                   epochs=args.epochs if args.resume else None, lr=args.lr if args.resume else None,
                                   compile_model=args.compile if args.resume else None,
                                   checkpoint_s=checkpoint_s if args.resume else None,
                                   device=args.device if args.resume else None)
    if result:  # a resumed run already at its end trained nothing, and its log said so
        print(json.dumps(result, indent=1))
    return 0


def cmd_train_gan(args: argparse.Namespace) -> int:
    from .generation import checkpoint_config
    from .train.arm_settings import check_preset
    from .train.run_sources import read_run, warm_start_source
    from .train.sequence import train_sequence_model

    if args.arch is not None:  # the built-in arms, and any registered beside them (sequence.register)
        from .sequence import arch_class

        try:
            arch_class(args.arch)
        except ValueError as e:
            raise ValueError(f"--arch {args.arch}: {e}") from e
    if args.resume and args.init_from:
        raise ValueError(f"--init-from {args.init_from}: a resumed run continues its own weights; start a new run with it")
    source = warm_start_source(args.init_from, args.arch) if args.init_from else None  # its settings are the base
    new_arch = args.arch or (source["meta"].get("arch", "conv") if source else "conv")  # train_sequence_model agrees
    config = None if args.resume else config_from_flags(args, base=checkpoint_config(source["meta"]) if source else None, flags={
        "steps": "gan.steps", "device": "gan.device", "seed": "gan.seed",
        "batch": "ar.batch" if new_arch in ("ar", "events") else "gan.batch",  # (the transformer's: ar.batch)
        "finetune_ae": "gan.finetune_ae", "compile": "gan.compile", "checkpoint_steps": "gan.validate_every",
        **({"max_chunks": "rnn.max_chunks"} if new_arch == "rnn" else {})})  # (another arm's --max-chunks: refused below)
    if args.resume and args.preset is not None:
        raise ValueError(f"--preset {args.preset}: a resumed run keeps its saved settings; start a new run with it")
    if not args.resume:  # (a resumed run's own settings, repeated, go on: _refuse_changed_settings)
        check_preset(new_arch, args.preset)
    out = _run_folder(args, "train-gan")
    resumed = read_run(Path(out)) if args.resume else None  # (a run of another kind said as one first)
    arch = resumed["arch"] if resumed else new_arch
    saved = checkpoint_config(resumed) if resumed else None
    if resumed:
        _refuse_changed_on_resume({"--arch": (args.arch, arch)})  # (--init-from warm-starts a model of its own arch)
        _refuse_changed_settings(args, saved, {"gan.steps": "--steps", "gan.device": "--device", "gan.compile": "--compile"},
                                 new_run="start a new run (--init-from RUN: from its weights)",
                                 sampled=args.resume if arch in ("ar", "events") else None)
        _refuse_changed_on_resume({"--seed": (args.seed, saved.gan.seed),
                                   "--batch": (args.batch, saved.ar.batch if arch in ("ar", "events") else saved.gan.batch),
                                   "--checkpoint-steps": (args.checkpoint_steps, saved.gan.validate_every),
                                   "--finetune-ae": (args.finetune_ae or None, saved.gan.finetune_ae),
                                   "--max-chunks": (args.max_chunks if arch == "rnn" else None, saved.rnn.max_chunks)},
                                  new_run="start a new run (--init-from RUN: from its weights)")
        if args.ae is not None and _pisa_sha256(args.ae) != _pisa_sha256(Path(out) / "autoencoder"):
            raise ValueError(f"--ae {args.ae}: a resumed run trains over its own autoencoder ({Path(out) / 'autoencoder'}"
                             "), not another; leave out --ae, or start a new run to change it")
    if args.max_chunks and arch != "rnn":
        raise ValueError("--max-chunks needs --arch rnn (" + (
            f"an {arch} model reads the chunks before each one, up to --set ar.context=N" if arch in ("ar", "events")
            else "the convolutional GAN trains on fixed windows: --set gan.window_chunks=N" if arch == "conv"
            else f"the {arch} arm chooses its own windows") + ")")
    with _held(out):
        result = train_sequence_model(args.corpus, args.ae, out, config, arch=arch, resume=bool(args.resume),
                                      init_from=args.init_from, overwrite=args.overwrite,
                                      progress=not args.quiet,
                                      max_seconds=args.max_minutes * 60 if args.max_minutes is not None else None,
                                      steps=args.steps if args.resume else None,
                                      compile_model=args.compile if args.resume else None,
                                      device=args.device if args.resume else None,
                                      settings_given=None if args.resume else args.set)  # (warned of once it is not refused)
    if result:  # a resumed run already at its end trained nothing, and its log said so
        print(json.dumps(result, indent=1))
    return 0


def _pisa_sha256(ae: str | Path) -> str | None:
    """The hash of the autoencoder weights that --ae names (a run's best, else its last; a checkpoint; a shipped name;
    a sequence model's own)."""
    from .autoencoder import frozen_autoencoder_folder
    from .checkpoint import read_meta

    return read_meta(frozen_autoencoder_folder(ae, "--ae"))[1].get("weights", {}).get("pisa")
