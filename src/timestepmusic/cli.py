"""`tsm`: one entry point, a subcommand per verb; each parses flags and calls the Python API."""
from __future__ import annotations

import argparse
import contextlib
import difflib
import itertools
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .argtypes import count_arg, file_arg, pedal_bins_arg, rate_arg, seed_arg, step_seconds_arg
from .audio_flags import add_audio_flags, check_audio_flags
from .files import refuse_existing
from .flag_values import values_joined
from .said import reader_gone
from .sources import MIDI_SUFFIXES, NOT_UTF8, shown_name, utf8_name
from .subcommands import THREADED, add_shared_flags, said_left_out, subparsers

if TYPE_CHECKING:
    from .config import Config

log = logging.getLogger("timestepmusic")


def _config(args: argparse.Namespace, flags: dict[str, str], base: Config | None = None):
    """The Config from --preset NAME (else `base`, else the defaults), then --config TOML, then named flags,
    then --set section.key=value."""
    from .config import Config

    base = Config.preset(args.preset) if getattr(args, "preset", None) else base or Config()
    config = Config.from_toml(args.config, base) if getattr(args, "config", None) else base
    given = {key: attr for attr, key in flags.items() if getattr(args, attr, None) is not None}
    flagged = config.override({key: getattr(args, attr) for key, attr in given.items()})
    config = flagged.override(getattr(args, "set", None) or [])
    _refuse_flag_overridden(flagged, config, given, getattr(args, "set", None) or [])
    return config


def _refuse_flag_overridden(flagged: Config, config: Config, given: dict[str, str], assignments: list[str]) -> None:
    """A named flag (`given`: setting → the flag's attribute) that a --set of the same setting changes (`flagged`: the
    configuration before --set, `config` after): the flag would be silently ignored (`--steps 30 --set gan.steps=12`
    trained 12 steps), so both are refused in one line; the same value given twice goes on."""
    for key, _, _ in flagged.differences(config):
        if key in given:
            attr = given[key]
            flag = "--checkpoint-minutes" if attr == "checkpoint_s" else "--" + attr.replace("_", "-")
            assignment = [a for a in assignments if a.partition("=")[0].strip() == key][-1]
            raise ValueError(f"{flag} and --set {assignment} both given: give one")


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=file_arg, metavar="TOML",
                   help="read settings from this TOML file ([events], [chunks], [ae], [gan], …)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override any setting, e.g. --set ae.lr=3e-4 (repeatable; applied last)")


def _positive_minutes(text: str, left_out: str = "train to the end") -> float:
    """--max-minutes: a number of minutes above 0 (0 or less would stop before training, or never)."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not minutes > 0 or minutes == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: give a time above 0 minutes (leave the flag out to {left_out})")
    return minutes


def _checkpoint_minutes(text: str) -> float:
    """--checkpoint-minutes: read as --max-minutes is (not argparse's 'invalid float value', nor nan as a setting)."""
    return _positive_minutes(text, "checkpoint at the default interval")


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    """The flags train-ae and train-gan share: device, time box, checkpoints, quiet, and the configuration."""
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default; with --resume: the run's own, auto unless "
                   "it was started with another)")
    p.add_argument("--overwrite", action="store_true",
                   help="--out names a folder that already holds a run: delete it and start again (without this, "
                   "such a folder is refused; continue it with --resume)")
    p.add_argument("--max-minutes", type=_positive_minutes,
                   help="stop (after saving RUN/last) when this much time has passed (minutes, above 0; default: no limit)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model that trains (pays off on a GPU; compiling takes minutes on a CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_config_flags(p)


def cmd_prepare(args: argparse.Namespace) -> int:
    from .prepare_corpus import prepare
    from .stats import corpus_stats, format_stats, hours_said

    config = _config(args, {"chunk_seconds": "chunks.chunk_seconds", "max_events": "chunks.max_events",
                            "pedal_bins": "events.pedal_bins", "workers": "corpus.workers"})
    missing = [source for source in args.sources if not Path(source).exists()]
    if missing:  # a source named on the command line, not a file found in one: a typo, said before anything is done
        raise ValueError(f"{missing[0]}: no such file or folder" + (f" (nor {', '.join(missing[1:])})"
                                                                   if len(missing) > 1 else "")
                         + "; nothing was prepared")
    report = prepare(args.sources, args.out, config, progress=not args.quiet)
    c = report.corpus
    if c.num_tracks == 0:
        for s in report.skipped:
            print(f"error: {s['file']}: {s['reason']}", file=sys.stderr)
        print(f"error: no usable performance in {', '.join(map(str, args.sources))}", file=sys.stderr)
        return 1
    for s in report.skipped:
        print(f"skipped {s['file']}: {s['reason']}", file=sys.stderr)
    hours = sum(t["duration_s"] for t in c.tracks) / 3600
    how = "reused cached corpus" if report.reused else f"parsed {report.parsed} file(s), {report.from_cache} from cache"
    print(f"{args.out}: {c.num_tracks} performances, {hours_said(hours)}, {int(c.ids.size):,} events, "
          f"{int(c.chunk_event_ptr.size - 1):,} chunks; {len(report.skipped)} skipped; {how} in {report.seconds:.2f} s")
    if not args.quiet:
        print(format_stats(corpus_stats(c)))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .corpus import Corpus
    from .stats import corpus_stats, format_stats

    stats = corpus_stats(Corpus.open(args.corpus))
    print(json.dumps(stats, indent=1) if args.json else format_stats(stats))
    return 0


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
    config = None if args.resume else _config(args, {"latent": "ae.latent", "encoding": "encoding.encoding",
                                                     "epochs": "ae.epochs", "device": "ae.device",
                                                     "batch": "ae.batch_chunks", "lr": "ae.lr", "seed": "ae.seed",
                                                     "compile": "ae.compile", "checkpoint_s": "ae.checkpoint_every_s"})
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
    from .train.sequence import check_read_settings, read_run, train_sequence_model, warm_start_source

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
    config = None if args.resume else _config(args, base=checkpoint_config(source["meta"]) if source else None, flags={
        "steps": "gan.steps", "device": "gan.device", "seed": "gan.seed",
        "batch": "ar.batch" if new_arch in ("ar", "events") else "gan.batch",  # (the transformer's: ar.batch)
        "finetune_ae": "gan.finetune_ae", "compile": "gan.compile", "checkpoint_steps": "gan.validate_every"})
    if args.resume and args.preset is not None:
        raise ValueError(f"--preset {args.preset}: a resumed run keeps its saved settings; start a new run with it")
    if not args.resume:  # (a resumed run's own settings, repeated, go on: _refuse_changed_settings)
        check_read_settings(new_arch, args.set or [], args.preset)
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
            else "the convolutional GAN trains on fixed windows: --set gan.window_chunks=N") + ")")
    if config is not None:  # --config/--set rnn.* first, then the flag
        config = config.override({"rnn.max_chunks": args.max_chunks})
    with _held(out):
        result = train_sequence_model(args.corpus, args.ae, out, config, arch=arch, resume=bool(args.resume),
                                      init_from=args.init_from, overwrite=args.overwrite,
                                      progress=not args.quiet,
                                      max_seconds=args.max_minutes * 60 if args.max_minutes is not None else None,
                                      steps=args.steps if args.resume else None,
                                      compile_model=args.compile if args.resume else None,
                                      device=args.device if args.resume else None)
    if result:  # a resumed run already at its end trained nothing, and its log said so
        print(json.dumps(result, indent=1))
    return 0


def _pisa_sha256(ae: str | Path) -> str | None:
    """The hash of the autoencoder weights that --ae names (a run's best, else its last; a checkpoint; a shipped name;
    a sequence model's own)."""
    from .autoencoder import frozen_autoencoder_folder
    from .checkpoint import read_meta

    return read_meta(frozen_autoencoder_folder(ae, "--ae"))[1].get("weights", {}).get("pisa")


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .autoencoder import load_autoencoder
    from .evaluate.fidelity import Fidelity, format_fidelity
    from .evaluate.render import render_outputs, rendered_paths
    from .midi import read_events
    from .midi_write import write_events

    check_audio_flags(args)
    output = Path(args.output)
    if not args.output.strip():
        raise ValueError("-o: an empty name; give the name of the MIDI file to write (OUT.mid)")
    if output.is_dir() or args.output.endswith(("/", "\\")):
        raise ValueError(f"-o {args.output}: a folder; give the name of the MIDI file to write (OUT.mid)")
    if output.suffix.lower() not in MIDI_SUFFIXES:
        raise ValueError(f"-o {args.output}: give the name of the MIDI file to write (OUT.mid)")
    if output.exists() and output.resolve() == Path(args.input).resolve():  # --overwrite or not: it is the input
        raise ValueError(f"-o {args.output}: the performance being reconstructed; give another name (its "
                         "reconstruction would replace it)")
    refuse_existing([output, *rendered_paths(output, png=args.png, wav=args.wav)], args.overwrite)
    ae = load_autoencoder(args.ae, args.device)
    events, drops = read_events(args.input, pedal_bins=ae.config.events.pedal_bins)
    said_left_out(args.input, drops)
    seen, rebuilt, size_accuracy = ae.reconstruct(events)
    path = write_events(rebuilt, args.output)
    fidelity = Fidelity()
    fidelity.add(seen, rebuilt, ae.config.events.pedal_bins)
    summary = fidelity.summary() | {"set_size_accuracy": size_accuracy, "chunks": int(round(events.end_s / ae.chunk_seconds))}
    print(f"wrote {path}")
    print(format_fidelity(summary))
    if args.png or args.wav:
        for extra in render_outputs(path, rebuilt, png=args.png, wav=args.wav, original=seen, soundfont=args.soundfont):
            print(extra)
    return 0


def cmd_evaluate_ae(args: argparse.Namespace) -> int:
    from .autoencoder import load_autoencoder
    from .checks import check_corpus_matches
    from .corpus import Corpus
    from .evaluate.latent_space import evaluate_autoencoder, format_evaluation
    from .files import atomic_path, refuse_existing

    if args.json_out:  # (said before the evaluation, not after it)
        out = Path(args.json_out)
        if out.is_dir():
            raise ValueError(f"--json-out {args.json_out}: a folder; give a file's name")
        if (out.parent / "config.json").is_file() and (out.name == "config.json" or out.suffix == ".safetensors"):
            raise ValueError(f"--json-out {args.json_out}: a file of the checkpoint {out.parent} (even with --overwrite, "
                             "it would no longer load); give a file outside it")
        refuse_existing([out], args.overwrite)
    ae = load_autoencoder(args.run, args.device, flag="RUN")
    corpus = Corpus.open(args.corpus)
    check_corpus_matches(ae.meta, corpus, f"autoencoder {args.run}")
    summary = evaluate_autoencoder(ae, corpus, args.split, max_tracks=args.max_tracks)
    if args.json_out:
        with atomic_path(args.json_out) as tmp:
            tmp.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary) if args.json else format_evaluation(summary))
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from .datacheck import check_data

    result = check_data(args.folder)
    print(json.dumps(result.to_dict(), indent=1) if args.json else result.format())
    return 0 if result.ok else 1


MEANT_COMMANDS = {"report": ("evaluate",), "eval": ("evaluate",), "compare": ("evaluate",),
                  "sample": ("generate",), "gen": ("generate",), "train": ("train-ae", "train-gan")}
"""A word a new user types for one of tsm's commands → the command(s) it means: `tsm report` wants `tsm evaluate`
(which writes REPORT_DIR/report.html), not prepare, the closest by spelling."""


def _meant_commands(value: str, choices) -> list[str]:
    """The commands among `choices` that `value` means (MEANT_COMMANDS, the case ignored), else the closest by spelling
    (difflib); [] where none is."""
    meant = [command for command in MEANT_COMMANDS.get(value.lower(), ()) if command in choices]
    return meant or difflib.get_close_matches(value, [str(c) for c in choices], n=1)


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors (a flag unknown, a value of the wrong kind, an argument missing) are one
    line of the shape every other error of tsm's has, 'error: WHAT: WHY' (_main), then where to read the command's
    flags: not the whole usage block above 'tsm CMD: error: argument --flag: …', a second style beside ours. Exit
    status 2, as argparse's (and as tsm's own refusals)."""

    def error(self, message: str):
        self.exit(2, f"error: {message.removeprefix('argument ')} (see {self.prog} --help)\n")

    def _check_value(self, action: argparse.Action, value) -> None:
        """argparse's check of a value against its choices (a subcommand, --split), naming the closest where one is
        close (difflib): `tsm genrate` → 'invalid choice: 'genrate' (choose from …); did you mean generate?', or the
        command a word means (_meant_commands): `tsm report` → '…; did you mean evaluate?'."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as e:
            meant = _meant_commands(value, action.choices) if isinstance(value, str) else []
            if not meant:
                raise
            raise argparse.ArgumentError(action, f"{e.message}; did you mean {' or '.join(meant)}?") from None


def build_parser() -> argparse.ArgumentParser:
    from .config import PRESETS, Config

    parser = OneLineParser(prog="tsm", description="TimeStepMusic: expressive piano performances "
                                     "(timing, dynamics, damper/sostenuto/soft pedal) from a set autoencoder and a "
                                     "sequence model.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (also accepted after the command)")
    parser.add_argument("--version", action="version", version=f"tsm {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="MIDI performances → chunked corpus on disk",
                       description="Turn performances into a chunked corpus. SOURCE: a MAESTRO v3.0.0 folder (its csv "
                       "gives splits), an ASAP-style folder with metadata.csv (split by piece), any folder of .mid/.midi "
                       "(recursive; split by hashing the parent folder), or single files. Bad files are skipped and listed.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("-o", "--out", required=True, metavar="CORPUS", help="corpus folder (created; reused when up to date)")
    p.add_argument("--chunk-seconds", type=step_seconds_arg, help="time step in seconds (default 0.25)")
    p.add_argument("--max-events", type=count_arg, help="most events per chunk; more are dropped and counted (default 15)")
    p.add_argument("--pedal-bins", type=pedal_bins_arg,
                   help="pedal depth bins, 1-127, 0 = keep every CC value (default 4)")
    p.add_argument("--workers", type=count_arg, help="parsing processes (default: one per core)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or statistics table")
    _add_config_flags(p)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("stats", help="statistics of a prepared corpus",
                       description="Files and hours per split, notes, pedal events per pedal and depth bin, events per "
                       "chunk, overflow at this and other caps, skipped files and why.")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_stats)

    ae, gan = Config().ae, Config().gan
    p = sub.add_parser("train-ae", help="train the PISA set autoencoder (or --resume a run)",
                       description="Train PISA on the corpus's training split, validating each epoch; writes RUN/last, "
                       "RUN/best and RUN/metrics.jsonl. --resume RUN continues exactly where it stopped.")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("-o", "--out", metavar="RUN", help="run folder")
    p.add_argument("--resume", metavar="RUN", help="continue this run (its saved config is used)")
    p.add_argument("--latent", type=count_arg, help="latent size per chunk (default 20; 75 is near-lossless)")
    p.add_argument("--encoding", help="pon (default), ponOHE, pnOHE, OHE or none")
    p.add_argument("--epochs", type=count_arg, help=f"epochs to train (default {ae.epochs}; with --resume: the new total)")
    p.add_argument("--batch", type=count_arg, help=f"chunks per batch (default {ae.batch_chunks})")
    p.add_argument("--lr", type=rate_arg, help=f"Adam learning rate (default {ae.lr:.0e}, safe for a run left alone; the "
                   "shipped autoencoders started at 1e-3 and were lowered by hand with --resume --lr; with --resume: "
                   "from here on)")
    p.add_argument("--checkpoint-minutes", type=_checkpoint_minutes,
                   help=f"minutes between RUN/last checkpoints within an epoch (default {ae.checkpoint_every_s / 60:g}; "
                   "one is always written at each epoch's end)")
    p.add_argument("--seed", type=seed_arg, help=f"seed of initialisation, order and augmentation (default {ae.seed})")
    _add_training_flags(p)
    p.set_defaults(func=cmd_train_ae)

    p = sub.add_parser("train-gan", help="train a sequence model (conv WGAN-GP, --arch rnn, ar or events) on autoencoder latents",
                       description="Encode the corpus once with the autoencoder (cached in RUN), then train the GAN; "
                       "writes RUN/last, RUN/best, RUN/metrics.jsonl and, every gan.sample_every steps (0: never, as the shipped "
                       "models' settings), RUN/samples/step_*/ MIDI from fixed noise.")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("--ae", metavar="AE_RUN", help="trained autoencoder run (its best checkpoint is used), a shipped one "
                   "(ae-latent75), or a sequence model's run or name: the autoencoder it was trained over")
    p.add_argument("-o", "--out", metavar="RUN", help="run folder")
    p.add_argument("--resume", metavar="RUN", help="continue this run (its architecture and settings are kept)")
    p.add_argument("--init-from", metavar="MODEL",
                   help="warm start a new run from this run, checkpoint or shipped model's name (its settings, "
                   "weights wherever names and shapes still fit after --set, normaliser and autoencoder), e.g. to "
                   "fine-tune the default on your own corpus or to try another head on a trained network")
    p.add_argument("--arch", metavar="{conv,rnn,ar,events}",
                   help="conv: convolutional GAN over fixed 16 s windows (default, or --init-from's); rnn: recurrent "
                   "attention GAN over variable-length sequences that learns where pieces end; ar: causal transformer trained by "
                   "likelihood (settings in [ar]), which continues prompts and ends pieces; events: the same transformer drawing "
                   "each chunk as events (key, start, duration, intensity) instead of a latent to decode; or an arm of your "
                   "own, registered by its name in a file or module named in $TSM_ARMS (docs/design.md, adding an arm)")
    p.add_argument("--finetune-ae", action="store_true", default=None,
                   help="keep training the autoencoder with the GAN (its reconstruction loss, weight gan.ae_weight, "
                   "as an anchor); the tuned autoencoder is saved with the run and decodes its samples")
    p.add_argument("--max-chunks", type=count_arg, help="rnn only: longest training sequence in chunks (default 64)")
    p.add_argument("--steps", type=count_arg, help=f"generator steps (default {gan.steps}, or --init-from's; with --resume: "
                   "the new total)")
    p.add_argument("--batch", type=count_arg, help=f"windows per batch (default {gan.batch}; ar and events: "
                   f"{Config().ar.batch}; or --init-from's)")
    p.add_argument("--checkpoint-steps", type=count_arg, metavar="STEPS",
                   help=f"validate and write RUN/last (and RUN/best) every this many generator steps (default "
                   f"{gan.validate_every}, or --init-from's)")
    p.add_argument("--seed", type=seed_arg,
                   help=f"seed of initialisation, window order and noise (default {gan.seed}, or --init-from's)")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="start from a named set of settings before --config and --set; seed: the convolutional "
                   "GAN as first designed (batch 10, one lr 1e-4, the strided critic, no weight average, no "
                   "minibatch std)")
    _add_training_flags(p)
    p.set_defaults(func=cmd_train_gan)

    from .generate_command import cmd_generate
    from .generate_flags import add_generate_parser

    add_generate_parser(sub).set_defaults(func=cmd_generate)

    p = sub.add_parser("reconstruct", help="a MIDI file through the autoencoder and back, to hear what it keeps",
                       description="MIDI → chunks → latents → decoded events → MIDI, with fidelity figures.")
    p.add_argument("input", metavar="IN.mid", help="MIDI performance to pass through the autoencoder")
    p.add_argument("--ae", metavar="RUN", help="autoencoder run or checkpoint, or a GAN run or model folder "
                   "(its autoencoder, fine-tuned where the GAN tuned it), or a shipped name: a model's, or "
                   "ae-latent75, the most faithful autoencoder measured (default: the shipped default model's, which is "
                   "ae-latent75)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mid", help="MIDI file to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.mid (and its PNG, WAV) if there (default: refuse)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--png", action="store_true", help="also write original-over-reconstruction piano rolls")
    add_audio_flags(p)
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("evaluate-ae", help="autoencoder fidelity on a split (note/pedal F1, velocity, set size)",
                       description="Encode and decode every chunk of a split of CORPUS with the autoencoder and "
                       "compare the result with the original: note and pedal F1, velocity error, set-size accuracy.")
    p.add_argument("run", metavar="RUN", help="autoencoder run (its best checkpoint is used) or checkpoint folder, "
                   "or a GAN run or model folder (its autoencoder)")
    p.add_argument("--corpus", required=True, metavar="CORPUS",
                   help="prepared corpus, chunked as the autoencoder was trained")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                   help="which split to evaluate (default test)")
    p.add_argument("--max-tracks", type=count_arg, help="evaluate only the first N tracks of the split")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--json-out", metavar="FILE", help="also write the figures as JSON to FILE")
    p.add_argument("--overwrite", action="store_true", help="replace --json-out's FILE where it is there already")
    p.set_defaults(func=cmd_evaluate_ae)

    p = sub.add_parser("data", help="check downloaded data before preparing it")
    data = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("check", help="verify a MAESTRO v3.0.0, an ASAP or a plain folder of MIDI files",
                        description="Verify a downloaded, unzipped MAESTRO v3.0.0 folder (its csv/json; the counts per "
                        "split against the release's), an ASAP folder (its metadata.csv; counted per split as prepare "
                        "splits it, by piece) or any folder of MIDI files (split as prepare splits it): every MIDI "
                        "file is present and readable.")
    p.add_argument("folder", metavar="FOLDER", help="a MAESTRO v3.0.0 folder, an ASAP folder (with metadata.csv) or "
                   "any folder of MIDI files, as tsm prepare reads them")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_data_check)

    from .evaluate import cli_commands

    cli_commands.add_commands(sub)
    add_shared_flags(parser)  # -v after the command too; --threads for those that run torch
    return parser


def _use_threads(threads: int | None) -> None:
    """torch's CPU threads for this command: `threads` (--threads), else OMP_NUM_THREADS where the user set it, else
    one. The models' steps are small: on one thread sampling is as fast as on several, and several threads beside
    another job each wait for the others at every step (a 16 s piece: 1.4 s on one thread, up to 86 s on two beside
    a busy core)."""
    if threads is None and os.environ.get("OMP_NUM_THREADS"):
        if os.environ["OMP_NUM_THREADS"].strip().isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
            return  # (torch reads it when imported)
        log.warning("OMP_NUM_THREADS=%s is not a number of threads: one thread", os.environ["OMP_NUM_THREADS"])
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        log.warning("--threads %d: this machine has %d cores; more threads than cores only wait for each other", threads,
                    cores)
    threads = threads or 1
    if "torch" in sys.modules:  # (imported already: a test, or a caller of main())
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("timestepmusic")
    except PackageNotFoundError:
        return "unknown"


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse; an unknown flag is reported with the usage of the subcommand it was given to, not tsm's."""
    argv = values_joined(parser, list(sys.argv[1:] if argv is None else argv))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = parser
        for name in (getattr(args, "command", None), getattr(args, "data_command", None)):
            children = {c.prog.split()[-1]: c for c in subparsers(command)}
            if name in children:
                command = children[name]
        command.error(f"unrecognized arguments: {' '.join(unknown)}{_near_flags(command, unknown)}"
                      f"{_unknown_hint(args, unknown, argv)}")
    return args


def _near_flags(command: argparse.ArgumentParser, unknown: list[str]) -> str:
    """'; did you mean --seconds?' for an unknown long option close to one of `command`'s own (difflib's closest, as
    for a subcommand: OneLineParser), each named where several are; '' where none is close."""
    own = [flag[2:] for action in command._actions for flag in action.option_strings if flag.startswith("--")]
    near = [(word, close[0]) for word in (word.partition("=")[0] for word in unknown if word.startswith("--"))
            if (close := difflib.get_close_matches(word[2:], own, n=1))]  # (the dashes of each made no name closer)
    if len(near) == 1:
        return f"; did you mean --{near[0][1]}?"
    return "; did you mean " + ", ".join(f"--{flag} for {word}" for word, flag in near) + "?" if near else ""


def _unknown_hint(args: argparse.Namespace, unknown: list[str], argv: list[str] | None) -> str:
    """What a pianist's unrecognized words to `generate` likely meant: a key's mode left out of quotes (--key E
    minor), or a performance given without its flag (tsm generate mine.mid); '' otherwise."""
    if getattr(args, "command", None) != "generate":
        return ""
    from .keys import LATER_WORDS

    given = list(sys.argv[1:] if argv is None else argv)
    at = max((i for i, word in enumerate(given) if word == "--key" or word.startswith("--key=")), default=None)
    after = given[at + 1 + (given[at] == "--key"):] if at is not None else []  # the words after the key's value …
    words = list(itertools.takewhile(lambda word: not word.startswith("-"), after))  # … before another flag
    if getattr(args, "key", None) and any(word.lower() in LATER_WORDS for word in words):
        return f"; a key of several words goes in quotes: --key '{args.key} {' '.join(words)}'"
    performance = next((word for word in unknown if word.lower().endswith(MIDI_SUFFIXES)), None)
    if performance is not None:
        return f"; to continue {performance}, give --prompt {performance} (to walk its shape: --like {performance})"
    return ""


def _os_error(e: OSError) -> str:
    """One line for an OSError: the path, then what is wrong with it in words."""
    import errno

    what = {errno.EEXIST: "exists and is a file, not a folder", errno.ENOTDIR: "a part of this path is a file, "
            "not a folder", errno.EISDIR: "is a folder, not a file", errno.EACCES: "permission denied",
            errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system"}.get(e.errno)
    path = e.filename if e.filename is not None else ""
    return f"{path}: cannot write or read here: {what or e.strerror or e}" if path else f"{e.strerror or e}"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt as e:  # (while its arguments were read, its modules loaded, or the command ran)
        if not getattr(e, "said", False):  # (generate says what it wrote before Ctrl-C in a line of its own)
            print("interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    given = sys.argv[1:] if argv is None else argv
    if not given:  # a bare `tsm`: what it can do, not a missing-argument error
        parser.print_help()
        return 0
    args = _parse(parser, argv)
    unnamed = next((arg for arg in given if not utf8_name(arg)), None)
    if unnamed is not None:  # (a name of bytes that are not UTF-8 could be neither printed nor written into a file)
        print(f"error: {shown_name(unnamed)}: {NOT_UTF8}: rename it", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if args.command in THREADED:
        _use_threads(args.threads)
    try:
        code = args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError as e:
        if reader_gone(sys.stdout):  # `tsm generate --info | head`: the reader left; nothing more to say
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (so that the exit's flush does not fail again)
            return 0
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # an output path that is a file, a folder where a file goes, no permission, a full disk
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return 2
    if "torch.distributed" in sys.modules:  # a process group exists only where torch was loaded
        from .train.distributed import end_rank, leave_process_group
        if leave_process_group(wait=True):  # the ranks finish together
            end_rank(code or 0)
    return code


if __name__ == "__main__":
    sys.exit(main())
