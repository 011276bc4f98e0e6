"""`tsm`: one entry point, a subcommand per verb; each parses flags and calls the Python API."""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import logging
import math
import os
import re
import shlex
import sys
import textwrap
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from .argtypes import pieces_arg, seed_arg, threads_arg
from .audio_flags import add_audio_flags, check_audio_flags
from .files import named, refuse_existing
from .waypoints import clock_arg

if TYPE_CHECKING:
    from .config import Config

log = logging.getLogger("timestepmusic")
PIECE_SECONDS = 16.0  # generate: each piece's length where neither --seconds nor --max-seconds is given
PROMPT_SHOWN_S = 16.0  # generate --prompt --png: a longer prompt's roll starts this long before the continuation
# (or as long as the continuation lasts), so that the seam is seen


def _config(args: argparse.Namespace, flags: dict[str, str], base: Config | None = None):
    """The Config from --preset NAME (else `base`, else the defaults), then --config TOML, then named flags,
    then --set section.key=value."""
    from .config import Config

    base = Config.preset(args.preset) if getattr(args, "preset", None) else base or Config()
    config = Config.from_toml(args.config, base) if getattr(args, "config", None) else base
    config = config.override({key: getattr(args, attr) for attr, key in flags.items() if getattr(args, attr, None) is not None})
    return config.override(getattr(args, "set", None) or [])


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="TOML", help="read settings from this TOML file ([events], [chunks], [ae], [gan], …)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override any setting, e.g. --set ae.lr=3e-4 (repeatable; applied last)")


def _positive_minutes(text: str) -> float:
    """--max-minutes: a number of minutes above 0 (0 or less would stop before training, or never)."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not minutes > 0 or minutes == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: give a time above 0 minutes (leave the flag out to train to the end)")
    return minutes


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    """The flags train-ae and train-gan share: device, time box, checkpoints, quiet, and the configuration."""
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--overwrite", action="store_true",
                   help="--out names a folder that already holds a run: delete it and start again (without this, "
                   "such a folder is refused; continue it with --resume)")
    p.add_argument("--max-minutes", type=_positive_minutes,
                   help="stop (after saving RUN/last) when this much time has passed (minutes, above 0)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model that trains (pays off on a GPU; compiling takes minutes on a CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_config_flags(p)


def cmd_prepare(args: argparse.Namespace) -> int:
    from .corpus import prepare
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
        for flag, given in (("--set", getattr(args, "set", None)), ("--config", getattr(args, "config", None))):
            if given:  # (they would be silently ignored: a resumed run trains on its saved settings)
                raise ValueError(f"{flag}: a resumed run keeps its saved settings, so that it goes on exactly; "
                                 "start a new run (--init-from RUN, for a sequence model) to change them")
        if not Path(args.resume).is_dir():
            raise ValueError(f"--resume {args.resume}: no such folder (give the --out folder of the run to continue)")
        return args.resume
    if args.out is None:
        raise ValueError(f"{verb} needs --out RUN (or --resume RUN)")
    if Path(args.out).is_dir():  # another process training it now: said first, not what its folder holds so far
        with _held(args.out):
            pass
    check_run_folder(args.out, overwrite=args.overwrite)  # said before any loading; the verb checks again
    return args.out


def said_left_out(what: str, drops) -> None:
    """One line naming the notes a file read to play from holds that are not played (midi.DropCounts'
    notes_left_out: on the drum channel, beyond the piano's keys), where it holds any."""
    left_out = drops.notes_left_out()
    if left_out:
        log.warning("%s: notes left out: %s", what, left_out)


def _held(run: str) -> contextlib.AbstractContextManager:
    """The run's lock while it trains (checkpoint.held_run), taken by one process: a distributed run's first rank."""
    from .checkpoint import held_run

    return held_run(run) if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext()


def cmd_train_ae(args: argparse.Namespace) -> int:
    from .train.ae import train_autoencoder

    if args.checkpoint_minutes is not None and args.checkpoint_minutes <= 0:
        raise ValueError(f"--checkpoint-minutes must be > 0, got {args.checkpoint_minutes:g}")
    args.checkpoint_s = checkpoint_s = args.checkpoint_minutes * 60 if args.checkpoint_minutes else None
    config = None if args.resume else _config(args, {"latent": "ae.latent", "encoding": "encoding.encoding",
                                                     "epochs": "ae.epochs", "device": "ae.device",
                                                     "batch": "ae.batch_chunks", "lr": "ae.lr", "seed": "ae.seed",
                                                     "compile": "ae.compile", "checkpoint_s": "ae.checkpoint_every_s"})
    out = _run_folder(args, "train-ae")
    with _held(out):
        result = train_autoencoder(args.corpus, out, config, resume=bool(args.resume), overwrite=args.overwrite,
                                   progress=not args.quiet,
                                   max_seconds=args.max_minutes * 60 if args.max_minutes is not None else None,
                                   epochs=args.epochs if args.resume else None, lr=args.lr if args.resume else None,
                                   compile_model=args.compile if args.resume else None,
                                   checkpoint_s=checkpoint_s if args.resume else None)
    if result:  # a resumed run already at its end trained nothing, and its log said so
        print(json.dumps(result, indent=1))
    return 0


def cmd_train_gan(args: argparse.Namespace) -> int:
    from .checkpoint import read_meta
    from .generation import checkpoint_config
    from .train.sequence import train_sequence_model, warm_start_source

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
    out = _run_folder(args, "train-gan")
    arch = read_meta(Path(out) / "last")[1].get("arch", "conv") if args.resume else new_arch
    if args.resume and (args.batch is not None or args.checkpoint_steps is not None):  # the saved ones, repeated
        saved = checkpoint_config(read_meta(Path(out) / "last")[1])
        batch = saved.ar.batch if arch in ("ar", "events") else saved.gan.batch
        if args.batch is not None and args.batch != batch:  # (it would be silently ignored: the run keeps its own)
            raise ValueError(f"--batch {args.batch}: a resumed run keeps its saved batch ({batch}), so that it resumes "
                             "exactly; start a new run (--init-from RUN) to change it")
        if args.checkpoint_steps is not None and args.checkpoint_steps != saved.gan.validate_every:
            raise ValueError(f"--checkpoint-steps {args.checkpoint_steps}: a resumed GAN run keeps its saved interval "
                             f"({saved.gan.validate_every}, gan.validate_every), so that it resumes exactly; start a "
                             "new run to change it")
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
                                      compile_model=args.compile if args.resume else None)
    if result:  # a resumed run already at its end trained nothing, and its log said so
        print(json.dumps(result, indent=1))
    return 0


def parse_tempo_path(text: str) -> list[tuple[float | None, float]]:
    """`--tempo` text → its waypoints (bpm, each with the seconds it is reached at: waypoints.parse_waypoints'), each
    tempo checked against the range the beat echo reaches."""
    from .sequence.pulse import TempoTold
    from .waypoints import parse_waypoints

    def read_bpm(value: str) -> float:
        try:
            bpm = float(value)
        except ValueError:
            raise ValueError(f"--tempo {text!r}: {value.strip()!r} is not a number of beats per minute (e.g. 90, or "
                             "an accelerando '80 > 120')") from None
        return TempoTold(bpm).bpm  # (refuses one out of range)
    return parse_waypoints(text, read_bpm, "--tempo", "'120@20'")


def piece_numbers(text: str) -> list[int]:
    """--piece '3' or '1,5' (or '003', as in the file name) → the piece numbers."""
    try:
        return [int(word) for word in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give piece numbers as in the file names, e.g. 3 or 1,5") from None


UNHEARD = ("out", "soundfont", "threads", "overwrite", "png", "wav", "verbose", "corpus")  # generate's settings that
# change no note: where the pieces go, what goes beside them, how fast they are drawn, what lengths are shown beside


@functools.cache
def _reading_parser() -> argparse.ArgumentParser:
    """One parser, built once, for reading the commands that markers record (parsing changes no parser)."""
    return build_parser()


def _generate_parser() -> argparse.ArgumentParser:
    """generate's own parser: its flags in the order its --help shows them."""
    return next(p for p in _subparsers(_reading_parser()) if p.prog.split()[-1] == "generate")


def _request(read: dict) -> dict:
    """What a generate command asks (`read`: its flags as parsed), setting by setting: each of generate's settings but
    UNHEARD, with one value however it was said: a default given or not (--model default, and --seconds 16 without
    --max-seconds, as not given: None), each --set NAME once (its last value, which sampling reads), by NAME; the
    files it reads (--prompt, --like, a --model folder; not a shipped model's name) as typed ('./mine.mid' as
    'mine.mid'; '..' kept, which a link may need), not made absolute: a file shared says nothing of the folders it was
    made in, and its command draws it again from where it was typed. Two requests are compared by `_comparable`."""
    from .shipped import recorded_model

    request = {action.dest: read.get(action.dest, action.default) for action in _generate_parser()._actions
               if action.option_strings and action.dest not in (*UNHEARD, "help")}
    request["model"] = recorded_model(request["model"])
    for name in ("prompt", "like"):
        if request[name]:
            request[name] = str(PurePath(request[name]))
    if request["seconds"] == PIECE_SECONDS and request["max_seconds"] is None:
        request["seconds"] = None
    if request["set"]:
        last = {assignment.partition("=")[0].strip(): assignment for assignment in request["set"]}
        request["set"] = [_set_said(last[name]) for name in sorted(last)]
    return request


def _set_said(assignment: str) -> str:
    """A --set assignment said one way: NAME=VALUE, a number or true/false read as the config reads it (a TOML
    literal; true and false in any case) and written back shortest: 'ar.temperature = 0.70' is 'ar.temperature=0.7';
    any other value (a word, a quoted string, a list) as typed, less the spaces around it."""
    from .config import split_assignment

    name, value = split_assignment(assignment)
    text = assignment.partition("=")[2].strip()  # (a list, a table or a quoted string: as typed)
    if isinstance(value, str) and value == text and text.lower() in ("true", "false"):  # (a bare word, any case)
        value = text.lower() == "true"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = f"{value:g}" if float(f"{value:g}") == value else repr(value)
    elif isinstance(value, int):
        text = str(value)
    return f"{name}={text}"


def _request_words(request: dict) -> list[str]:
    """A request (`_request`'s) as the command that makes it, after 'tsm': generate and each setting not at its
    default, in the order of generate's --help, each flag spelled out ('--flag VALUE'; '--flag=VALUE' where the value
    starts with '-', which would read as a flag), a number in its shortest form (16, not 16.0). The piece is left to
    heard.made_by."""
    words = ["generate"]
    for action in _generate_parser()._actions:
        value = request.get(action.dest, action.default)
        if action.dest not in request or action.dest == "piece" or value == action.default:
            continue
        flag = max(action.option_strings, key=len)  # (the long name; -n has none)
        if isinstance(action, argparse._StoreTrueAction):
            words.append(flag)
            continue
        for one in value if isinstance(action, argparse._AppendAction) else [value]:
            text = str(one)
            if isinstance(one, float):
                text = f"{one:g}" if float(f"{one:g}") == one else repr(one)
            words += ([f"{flag}={text}" if flag.startswith("--") else flag + text] if text.startswith("-")
                      else [flag, text])
    return words


def _same_request(earlier: str | None, now: str) -> bool:
    """Whether two files' markers (heard.made_by's) name the same version and the same request (`_request`): the same
    flags and values as generate reads them, in any order and form, a default given or not (None, a file of no
    request of this tool's: False). An earlier version's marker, '… (piece I of N)', reads as '… --piece I−1'."""
    if earlier is None or earlier.partition(": ")[0] != now.partition(": ")[0]:
        return False
    return ((read := _marker_request(earlier)) is not None and (asked := _marker_request(now)) is not None
            and _comparable(read) == _comparable(asked))


def _comparable(request: dict) -> dict:
    """A request (`_request`'s) with the files it reads where they lie (resolved from the working directory): the
    same file typed otherwise, or by an earlier version's absolute path, is the same request; the same words typed
    in another folder are not."""
    from .shipped import is_shipped_name

    files = {name: str(Path(request[name]).resolve()) for name in ("prompt", "like") if request[name]}
    if request["model"] is not None and not is_shipped_name(request["model"]):
        files["model"] = str(Path(request["model"]).resolve())
    return request | files


def _marker_request(marker: str) -> dict | None:
    """The request (`_request`) a file's marker names; None for a marker of no generate command this version reads.
    An earlier version's marker, '… (piece I of N)', reads as '… --piece I−1'."""
    command = marker.partition(": ")[2]
    if (old := re.fullmatch(r"(.*) \(piece (\d+) of (\d+)\)", command)) is not None:
        command = old[1] + (f" --piece {int(old[2]) - 1}" if int(old[3]) > 1 else "")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            read = vars(_reading_parser().parse_args(shlex.split(command)[1:]))  # (after "tsm")
        return _request(read) if read.get("command") == "generate" else None
    except (SystemExit, ValueError):  # (a marker a later version may word otherwise)
        return None


def _drawn_alike(path: Path, asked: dict) -> bool:
    """Whether the MIDI file `path` was drawn by this version and the request `asked` (`_comparable`'s) but for its
    seed and how many pieces were drawn and written: another seed's pieces of the same model and settings, which
    `tsm evaluate` counts as one set rightly."""
    from .heard import made_version
    from .midi import made_by_marker

    marker = made_by_marker(path)
    if marker is None or marker.partition(": ")[0] != made_version():
        return False
    read = _marker_request(marker)
    if read is None:
        return False
    read = _comparable(read)
    return all(read[name] == value for name, value in asked.items() if name not in ("seed", "n", "piece"))


def _info_words(info: dict, history: bool = False) -> list[str]:
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


def cmd_generate(args: argparse.Namespace) -> int:
    """`tsm generate`, one process at a time writing a seed's pieces into a folder: a second one is refused in one
    line (a lock in the folder: files.held_folder), not mixed in; other seeds may be written there meanwhile."""
    from .files import held_folder

    if args.list or args.info or not args.out.strip() or Path(args.out).suffix.lower() in (".mid", ".midi"):
        return _generate(args)  # (nothing written, or refused: a file's name)
    with held_folder(args.out, f".generate-seed{args.seed}.lock", f"-o {args.out}: another tsm generate is writing "
                     f"--seed {args.seed}'s pieces into it now; wait for it to end, or give another -o or --seed"):
        return _generate(args)


READ_BY = {"list": ("list", "model", "arch"), "info": ("info", "json", "model", "arch")}  # what --list and --info read,
SAID_ANYWHERE = ("verbose", "threads", "device", "help")  # besides how any command runs


def _refuse_unread(args: argparse.Namespace) -> None:
    """--list and --info draw nothing: a flag of drawing given with them (-o, --seconds, --key …) would be silently
    ignored, so it is refused in one line, as --json without --info is."""
    for flag, reads in READ_BY.items():
        if not getattr(args, flag):
            continue
        unread = [action.option_strings[0] for action in _generate_parser()._actions if action.option_strings
                  and action.dest not in (*reads, *SAID_ANYWHERE) and getattr(args, action.dest, None) != action.default]
        if unread:
            does = "lists the shipped models" if flag == "list" else "says how the model was trained"
            raise ValueError(f"{', '.join(unread)}: not read with --{flag}, which draws nothing (it {does}); leave "
                             f"{'it' if len(unread) == 1 else 'them'} out")


def _generate(args: argparse.Namespace) -> int:
    from .evaluate.render import rendered_paths
    from .generation import (
        GANModel,
        check_piece_seconds,
        chosen_pieces,
        continued_prompt,
        drawn_in_batches,
        earlier_samples,
        like_from,
        model_info,
        piece_chunks,
        prompt_span_s,
        replace_earlier,
        sample_name,
        set_sampling,
        written_meta,
    )
    from .heard import TEMPO_HEARD_S, Asked, heard_line, made_by, shape_marks
    from .keys import key_name, parse_key_path, typed_keys
    from .midi import continuation_only
    from .waypoints import clock_text

    if args.list and args.info:  # one would be silently ignored
        raise ValueError("--list and --info: give one (--list: the shipped models; --info: how one was trained)")
    if args.json and not args.info:
        raise ValueError("--json goes with --info (the model's settings as JSON)")
    _refuse_unread(args)
    asked = _request(vars(args))  # (before --arch names the model)
    request = _request_words(asked)  # each file's marker: made_by
    key_path = parse_key_path(args.key) if args.key is not None else None  # a typo is told before the model loads …
    tempo_path = parse_tempo_path(args.tempo) if args.tempo is not None else None  # … and a tempo out of reach
    if args.composer is not None or args.like is not None:  # … and what a path to walk cannot go with (the arm says
        from .sequence.events import request_refused  # it again, for the API)

        request_refused(args.composer is not None, args.like is not None, args.style is not None, bool(args.prompt))
    if args.like_seconds is not None and args.like is None:
        raise ValueError("--like-seconds: give the performance to walk with --like")

    if args.select and args.prompt:  # (said before anything the prompt's reading would warn of)
        from .generation import SELECT_NO_PROMPT

        raise ValueError(SELECT_NO_PROMPT)
    if not args.out.strip():
        raise ValueError("-o: an empty name; give the folder to write into (default out/)")
    if (Path(args.out).suffix.lower() in (".mid", ".midi") and not Path(args.out).is_dir()
            and not args.out.endswith(("/", os.sep))):  # (outs/piano.mid/: a folder, as the slash says)
        raise ValueError(f"-o {args.out}: the folder to write into (each piece is named sample_SEED_NNN.mid); give a "
                         "folder's name")
    for flag, given in (("--prompt", args.prompt), ("--like", args.like)):  # (before what is in the way of -o)
        if given and not Path(given).is_file():
            raise ValueError(f"{flag} {given}: " + ("not a file" if Path(given).exists() else "no such file"))
    if args.list:
        from .generation import model_info
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
        return 0
    if args.model is None and args.arch is not None:  # the shipped model of that kind
        from .shipped import shipped_of_arch

        args.model = shipped_of_arch(args.arch)
    if args.info:
        info = model_info(args.model)
        if args.arch is not None and info.get("arch") != args.arch:
            raise ValueError(f"--arch {args.arch}: the model {args.model} is of arch {info.get('arch')}")
        print(json.dumps(info, indent=1) if args.json else "\n".join(_info_words(info, history=args.verbose)))
        return 0
    check_audio_flags(args)
    from .midi import write_events
    from .shipped import model_said, resolve_model

    if args.model is not None and not Path(args.model).exists():
        resolve_model(args.model)  # (a model not there is named before what is in the way of -o)
    out = Path(args.out)
    names = {i: out / sample_name(args.seed, i, args.n) for i in chosen_pieces(args.piece, args.n)}  # every file this
    rewritten = {extra for name in names.values() for extra in rendered_paths(name, png=args.png, wav=args.wav)}  # …
    rewritten |= set(names.values())  # … run writes
    taken = earlier_samples(out, args.seed, args.overwrite, {"--prompt": args.prompt, "--like": args.like},
                            rewritten, only=None if args.piece is None else sorted(rewritten))
    if args.piece is not None:  # a piece written again replaces the same piece only, not one another request drew
        from .midi import made_by_marker

        for i, name in names.items():
            if name not in taken:
                continue
            earlier, now = made_by_marker(name), made_by(request, i, args.n)
            if not _same_request(earlier, now):
                raise ValueError(f"--piece {i}: {name} says it was drawn by " + (f"'{earlier}'" if earlier else
                                                                               "no request of this tool") +
                                 f", not by this one ('{now}'): another request draws another piece in its place; "
                                 "give that request's flags, or another -o")
    gan = GANModel.load(args.model, args.device)
    if args.arch is not None and args.arch != gan.arch:
        raise ValueError(f"--arch {args.arch}: {model_said(gan.folder)} is of arch {gan.arch}")
    set_names = set_sampling(gan, args.set or [])  # the keys given, "ar.NAME"
    continues, tempered = getattr(gan.arm, "continues", False), getattr(gan.arm, "tempered", False)
    ends_itself = gan.arch == "rnn" or (tempered and args.max_seconds is not None)
    for flag, name in (("--temperature", "temperature"), ("--mixture-temperature", "mixture_temperature")):
        if getattr(args, name) is not None and f"ar.{name}" in set_names:  # one would be silently ignored
            raise ValueError(f"{flag} and --set ar.{name} both given: give one")
    for name in ("ar.end_bias", "ar.end_rise"):
        if name in set_names and not ends_itself:
            raise ValueError(f"--set {name} moves where a piece ends itself; give --max-seconds too (with --seconds "
                             "every piece runs exactly that long)")
    if not tempered and (args.temperature is not None or args.mixture_temperature is not None):
        raise ValueError(f"the temperatures are for ar and events models; {model_said(gan.folder)} is a GAN "
                         f"({gan.arch})")
    if not continues and args.prompt:
        raise ValueError(f"--prompt is for ar and events models and conv models trained with gan.past_chunks; "
                         f"{model_said(gan.folder)} is a GAN ({gan.arch}) that cannot continue a past")
    for flag, value in (("temperature", args.temperature), ("mixture-temperature", args.mixture_temperature)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(f"--{flag} must be > 0 and finite, got {value:g}")
    if ends_itself:
        if args.seconds is not None:
            raise ValueError(f"--seconds and --max-seconds: give one (--seconds S: every piece S long; --max-seconds "
                             f"S: this {gan.arch} model ends each piece itself, at most S long)" if tempered else
                             f"--seconds: this {gan.arch} model ends each piece itself; give --max-seconds (the longest "
                             "a piece may run)")
        seconds = args.max_seconds if args.max_seconds is not None else 120.0
        check_piece_seconds(seconds, "max-seconds")
        if args.no_snap and not tempered:
            raise ValueError("--no-snap is for convolutional models; recurrent models decode their latents as they are")
    elif args.max_seconds is not None:
        raise ValueError("--max-seconds is for models that end pieces themselves (rnn, ar, events); "
                         "a convolutional model writes exactly --seconds")
    elif args.corpus is not None:  # it would be silently ignored
        raise ValueError("--corpus is the corpus whose piece lengths are shown beside pieces that end themselves "
                         "(rnn models; ar and events models with --max-seconds)")
    else:
        seconds = args.seconds if args.seconds is not None else PIECE_SECONDS
        check_piece_seconds(seconds)
        whole_s = piece_chunks(seconds, gan.ae.chunk_seconds) * gan.ae.chunk_seconds  # as sample_latents draws
        if abs(whole_s - seconds) > 1e-6:
            log.warning("--seconds %g: pieces are whole chunks of %g s; each will last %g s", seconds,
                        gan.ae.chunk_seconds, whole_s)
    if args.no_snap and gan.codebook is None:
        log.warning("--no-snap: %s has no codebook of real chunks (%s model); nothing to snap, ignored",
                    model_said(gan.folder), gan.arch)
    for flag, given in (("--prompt-seconds", args.prompt_seconds is not None), ("--continuation-only",
                                                                                args.continuation_only)):
        if given and not args.prompt:
            raise ValueError(f"{flag}: give the performance to continue with --prompt")
    options = {}
    if tempered:
        options = {"ends": ends_itself, "temperature": args.temperature,
                   "mixture_temperature": args.mixture_temperature}
    if args.guidance is not None:  # a model that follows no description refuses it (GANModel.sample_latents)
        options["guidance"] = args.guidance
        asked_of = [flag for flag, given in (("--style", args.style), ("--like", args.like),
                                             ("--composer", args.composer)) if given is not None]
        if args.guidance == 0 and asked_of:  # (allowed: the untold piece, for listening beside the told one)
            log.warning("--guidance 0: each choice is drawn at the odds of a piece told nothing, so %s is not "
                        "followed (1 follows it loosely, 2 closely)", " and ".join(asked_of))
    ramp = None  # a path of requests
    if args.style is not None:  # one request, or a path of them (StyleRamp: each attribute in a line between them)
        from .sequence.style import AHEAD, FLATTENED, StyleRamp, asked_style

        options["style"] = asked_style(args.style, seconds)
        ramp = options["style"] if isinstance(options["style"], StyleRamp) else None
        c = gan.ae.chunk_seconds
        flat = [] if ramp is None else ramp.flattened(round(seconds / c), c)
        if flat:  # each chunk is told the passage ahead: a short shape is told only part of its range
            log.warning("--style: each chunk is told the %g s ahead, so the shape of %s over %g s is told less than "
                        "%.0f%% of its range; give it longer (--seconds, or later waypoints)", AHEAD * c,
                        " and ".join(flat), seconds, 100 * FLATTENED)
    if args.composer is not None:  # a model that walks no performance's path refuses it (GANModel.sample_latents)
        options["composer"] = args.composer
    walked_like, like_name = None, ""  # --like: the performance walked, from its first note, and its name
    if args.like is not None:  # read as a prompt is
        from .midi import NUM_KEYS, read_events
        from .sequence.events import from_first_note
        from .sequence.style import AHEAD

        try:
            options["like"], drops = read_events(args.like, pedal_bins=gan.ae.config.events.pedal_bins)
        except ValueError as e:
            raise ValueError(f"--like {e}") from None  # (--like FILE: why, as for one not there)
        said_left_out(f"--like {args.like}", drops)
        like_name = Path(args.like).name
        if args.like_seconds is not None:  # the inside of a long recording: from a time on, timed from there
            options["like"] = like_from(options["like"], args.like_seconds, args.like)
            like_name += f" from {clock_text(args.like_seconds)}"
        walked_like = from_first_note(options["like"]) if (options["like"].ids < NUM_KEYS).any() else None
        like_s = 0.0 if walked_like is None else walked_like.end_s  # (a file without a note: the arm refuses it)
        if 0 < like_s < seconds:
            log.warning("--like: %s lasts %.1f s from its first note, the pieces %g s: past its end they hold its last "
                        "passage (up to %g s)", like_name, like_s, seconds, AHEAD * gan.ae.chunk_seconds)
    asked_tempo = None
    if tempo_path is not None:  # a model that draws no starts, or samples without the beat echo, refuses it
        from .sequence.pulse import TempoTold

        asked_tempo = options["tempo"] = TempoTold.timed(tempo_path, seconds)
        at_s = [at for at, _ in asked_tempo.waypoints()]  # (each waypoint's line hears the beat of the s around it)
        if asked_tempo.later and (min(b - a for a, b in zip(at_s, at_s[1:])) < TEMPO_HEARD_S
                                  or seconds < 2 * TEMPO_HEARD_S):  # (the windows kept inside the piece overlap)
            log.warning("--tempo: each waypoint's beat is heard over the %g s around it, so waypoints closer than that "
                        "share what is heard; give the shape longer (%s, or waypoints further apart)",
                        TEMPO_HEARD_S, "--max-seconds" if ends_itself else "--seconds")
        log.info("--tempo: each note's start leans toward the beats of %s after the notes already played", " → ".join(
            f"{bpm:g} bpm" + (f" at {at_s:.4g} s" + (" after the prompt" if args.prompt else "") if at_s else "")
            for at_s, bpm in asked_tempo.waypoints()))
    asked_key, key_spellings = None, None  # (each key of a path as typed: its signature spelled so)
    if key_path is not None:  # a model that hears no key refuses it (GANModel.sample_latents)
        from .sequence.tonal import KeyTold

        asked_key = options["key"] = KeyTold.timed(key_path, seconds)  # (from the first drawn chunk, after a prompt)
        key_spellings = typed_keys(args.key)
        log.info("--key: every piece hears the notes so far as if in %s", ", then ".join(
            key_name(key, typed) + (f" from {at_s:.4g} s" + (" after the prompt" if args.prompt else "") if at_s else "")
            for (at_s, key), typed in zip(asked_key.stretches(), key_spellings)))
    prompt_grid = None  # the prompt's tempos, time and key signatures, written under it
    if continues:
        if args.prompt:
            from .midi import read_prompt

            try:
                options["prompt"], drops, prompt_grid = read_prompt(args.prompt,
                                                                    pedal_bins=gan.ae.config.events.pedal_bins)
            except ValueError as e:
                raise ValueError(f"--prompt {e}") from None  # (--prompt FILE: why, as for one not there)
            said_left_out(f"--prompt {args.prompt}", drops)
            options["prompt"] = continued_prompt(options["prompt"], gan.ae, args.prompt_seconds, args.prompt)
    others = [p for p in out.glob("*.mid*") if p not in taken and p not in rewritten] if out.is_dir() else []
    alike = _comparable(asked) if others and args.piece is None else None  # (its files resolved once)
    unlike = [p for p in others if not _drawn_alike(p, alike)] if alike is not None else []
    if unlike:  # allowed, but said: `tsm evaluate OUT` reads every MIDI file there (other seeds of this request, or
        # with --piece the run it was one of, are rightly counted with these)
        log.warning("%s already holds %d MIDI file(s) not drawn by this request (e.g. %s: another model or settings, or "
                    "not this tool's); `tsm evaluate %s` would count them as generated too", out, len(unlike),
                    unlike[0].name, out)
    gan.arm.progress = True  # a bar over the chunks drawn (ar, events), where stderr is a terminal
    if args.select and gan.critic is not None:
        log.info("--select: each piece kept by the model's critic, which keeps about %.0f%% of those drawn",
                 100 * gan.critic.kept_share)
    c = gan.ae.chunk_seconds
    prompt_s = prompt_span_s(gan.ae, options.get("prompt"))
    asked_from_s = 0.0 if args.continuation_only else prompt_s  # where what was asked starts in each file
    if prompt_grid is not None:  # its bars going on after it (alone: timed from its end)
        from .midi import grid_from, grid_until

        prompt_grid = (grid_from if args.continuation_only else grid_until)(prompt_grid, prompt_s)
    asked = Asked(asked_key, args.key, asked_tempo, ramp, options.get("style") if ramp is None else None, walked_like,
                  like_name)
    new_s = []  # … and the new music's length of each piece
    replaced = False
    written = []  # the MIDI files written so far
    try:
        for first, pieces, samples in drawn_in_batches(gan, args.n, seconds, args.seed, not args.no_snap, args.select,
                                                       only=None if args.piece is None else list(names),
                                                       **options):  # [T_s, L] each
            if not replaced:  # --overwrite: the earlier run's files go once the first pieces are drawn
                replace_earlier(taken, rewritten, args.seed)
                replaced = True
            if args.n > len(samples) and args.piece is None:  # (a large -n: drawn and written a batch at a time)
                print(f"pieces {first + 1}–{first + len(samples)} of {args.n}:", file=sys.stderr)
            for j, events in enumerate(samples):
                if first + j not in names:  # (--piece: drawn with the pieces asked, not written)
                    continue
                length_s = pieces[j].shape[0] * c  # the chunks written (a prompt included)
                new_s.append(length_s - prompt_s)
                where = f"; the continuation from {prompt_s:.2f} s" if prompt_s else ""
                if args.continuation_only:
                    events, length_s, where = continuation_only(events, prompt_s), length_s - prompt_s, "; the continuation only"
                walked = gan.walked[j] if args.composer is not None and gan.walked is not None else None
                meta = written_meta(made_by(request, first + j, args.n), asked_key, asked_tempo, asked_from_s,
                                    length_s, events, key_spellings, prompt_grid)
                path = write_events(events, names[first + j], meta)
                written.append(path)
                notes, pedals = int(events.is_note.sum()), int((~events.is_note).sum())
                heard = heard_line(events, length_s, asked_from_s, asked, walked)
                print(f"{path}  {notes} note{'s' * (notes != 1)}, {pedals} pedal event{'s' * (pedals != 1)}, "
                      f"{length_s:g} s (last sound ends at {events.end_s:.1f} s{where}{heard})")
                if args.png or args.wav:
                    from .evaluate.render import render_outputs

                    lead_s = max(length_s - prompt_s, PROMPT_SHOWN_S)  # a long prompt: the roll from as long before
                    from_s = prompt_s - lead_s if prompt_s > lead_s and not args.continuation_only else 0.0  # the seam
                    for extra in render_outputs(path, events, png=args.png, wav=args.wav, soundfont=args.soundfont,
                                                title=f"{path.name}" + (f" from {clock_text(from_s)}" if from_s else "")
                                                + f"\n{meta.text}",  # (the command, under the name)
                                                continuation_s=None if args.continuation_only else prompt_s or None,
                                                marks=shape_marks(asked_key, asked_tempo, ramp, asked_from_s, length_s),
                                                span=(from_s, length_s) if from_s else None):
                        print(f"{extra}")
    except BaseException as stopped:  # Ctrl-C or an error after files were written or replaced: what is there now,
        # said (a rerun is refused for the files there, which --overwrite replaces)
        if written or replaced:
            earlier = [path.name for path in taken if path.suffix == ".mid" and path.exists() and path not in written]
            how = "interrupted" if isinstance(stopped, KeyboardInterrupt) else "stopped"
            print(f"{how} after writing {len(written)} of {len(names)} MIDI file(s)"
                  + (f", the last {written[-1]}" if written else "")
                  + (f"; still the earlier run's: {named(earlier)}" if earlier else "")
                  + ("; the same command with --overwrite writes them all again"
                     if isinstance(stopped, (KeyboardInterrupt, OSError)) else ""), file=sys.stderr)
        raise
    if ends_itself:
        _print_lengths(gan, args, seconds, new_s)  # new music only
    return 0


def _print_lengths(gan, args: argparse.Namespace, seconds: float, generated_s: list[float]) -> None:
    """The generated pieces' lengths beside the real ones of --corpus (default: the training corpus, if still there)."""
    import numpy as np

    from .corpus import Corpus
    from .gan.recurrent import length_table, real_lengths

    lengths = {"generated": np.minimum(np.array(generated_s), seconds)}
    root = args.corpus or gan.meta.get("corpus", {}).get("root")
    try:
        lengths |= real_lengths(Corpus.open(root), seconds) if root else {}
    except ValueError as e:
        hint = "" if args.corpus else "; pass --corpus CORPUS (a prepared corpus) to compare"
        log.warning("piece lengths: no real ones beside them (%s)%s", e, hint)
    print(f"piece lengths, capped at --max-seconds {seconds:g} (real remaining: from a random chunk of a "
          "training track to its end, what the model was trained on):")
    print("\n".join(length_table(lengths, seconds)))


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .autoencoder import load_autoencoder
    from .evaluate.fidelity import Fidelity, format_fidelity
    from .evaluate.render import render_outputs, rendered_paths
    from .midi import read_events, write_events

    check_audio_flags(args)
    output = Path(args.output)
    if not args.output.strip():
        raise ValueError("-o: an empty name; give the name of the MIDI file to write (OUT.mid)")
    if output.is_dir() or args.output.endswith(("/", "\\")):
        raise ValueError(f"-o {args.output}: a folder; give the name of the MIDI file to write (OUT.mid)")
    if output.suffix.lower() not in (".mid", ".midi"):
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
        if Path(args.json_out).is_dir():
            raise ValueError(f"--json-out {args.json_out}: a folder; give a file's name")
        refuse_existing([Path(args.json_out)], args.overwrite)
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


def build_parser() -> argparse.ArgumentParser:
    from .config import PRESETS, Config

    parser = argparse.ArgumentParser(prog="tsm", description="TimeStepMusic: expressive piano performances "
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
    p.add_argument("--out", required=True, metavar="CORPUS", help="corpus folder (created; reused when up to date)")
    p.add_argument("--chunk-seconds", type=float, help="time step in seconds (default 0.25)")
    p.add_argument("--max-events", type=int, help="most events per chunk; more are dropped and counted (default 15)")
    p.add_argument("--pedal-bins", type=int, help="pedal depth bins, 0 = keep every CC value (default 4)")
    p.add_argument("--workers", type=int, help="parsing processes (default: one per core)")
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
    p.add_argument("--out", metavar="RUN", help="run folder")
    p.add_argument("--resume", metavar="RUN", help="continue this run (its saved config is used)")
    p.add_argument("--latent", type=int, help="latent size per chunk (default 20; 75 is near-lossless)")
    p.add_argument("--encoding", help="pon (default), ponOHE, pnOHE, OHE or none")
    p.add_argument("--epochs", type=int, help=f"epochs to train (default {ae.epochs}; with --resume: the new total)")
    p.add_argument("--batch", type=int, help=f"chunks per batch (default {ae.batch_chunks})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default {ae.lr:.0e}, safe for a run left alone; the "
                   "shipped autoencoders started at 1e-3 and were lowered by hand with --resume --lr; with --resume: "
                   "from here on)")
    p.add_argument("--checkpoint-minutes", type=float,
                   help=f"minutes between RUN/last checkpoints within an epoch (default {ae.checkpoint_every_s / 60:g}; "
                   "one is always written at each epoch's end)")
    p.add_argument("--seed", type=seed_arg, help="seed of initialisation, order and augmentation")
    _add_training_flags(p)
    p.set_defaults(func=cmd_train_ae)

    p = sub.add_parser("train-gan", help="train a sequence model (conv WGAN-GP, --arch rnn, ar or events) on autoencoder latents",
                       description="Encode the corpus once with the autoencoder (cached in RUN), then train the GAN; "
                       "writes RUN/last, RUN/best, RUN/metrics.jsonl and, every gan.sample_every steps (0: never, as the shipped "
                       "models' settings), RUN/samples/step_*/ MIDI from fixed noise.")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("--ae", metavar="AE_RUN", help="trained autoencoder run (its best checkpoint is used)")
    p.add_argument("--out", metavar="RUN", help="run folder")
    p.add_argument("--resume", metavar="RUN", help="continue this run (its architecture and settings are kept)")
    p.add_argument("--init-from", metavar="MODEL",
                   help="warm start a new run from this run, checkpoint or shipped model's name (its settings, "
                   "weights wherever names and shapes still fit after --set, normaliser and autoencoder), e.g. to "
                   "fine-tune the default on your own corpus or to try another head on a trained network")
    p.add_argument("--arch", choices=["conv", "rnn", "ar", "events"],
                   help="conv: convolutional GAN over fixed 16 s windows (default, or --init-from's); rnn: recurrent "
                   "attention GAN over variable-length sequences that learns where pieces end; ar: causal transformer trained by "
                   "likelihood (settings in [ar]), which continues prompts and ends pieces; events: the same transformer drawing "
                   "each chunk as events (key, start, duration, intensity) instead of a latent to decode")
    p.add_argument("--finetune-ae", action="store_true", default=None,
                   help="keep training the autoencoder with the GAN (its reconstruction loss, weight gan.ae_weight, "
                   "as an anchor); the tuned autoencoder is saved with the run and decodes its samples")
    p.add_argument("--max-chunks", type=int, help="rnn only: longest training sequence in chunks (default 64)")
    p.add_argument("--steps", type=int, help=f"generator steps (default {gan.steps}, or --init-from's; with --resume: "
                   "the new total)")
    p.add_argument("--batch", type=int, help=f"windows per batch (default {gan.batch}; ar and events: "
                   f"{Config().ar.batch}; or --init-from's)")
    p.add_argument("--checkpoint-steps", type=int, metavar="STEPS",
                   help=f"validate and write RUN/last (and RUN/best) every this many generator steps (default "
                   f"{gan.validate_every}, or --init-from's)")
    p.add_argument("--seed", type=seed_arg, help="seed")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="start from a named set of settings before --config and --set; seed: the convolutional "
                   "GAN as first designed (batch 10, one lr 1e-4, the strided critic, no weight average, no "
                   "minibatch std)")
    _add_training_flags(p)
    p.set_defaults(func=cmd_train_gan)

    p = sub.add_parser("generate", help="write new performances as MIDI (the shipped model by default)",
                       allow_abbrev=False,  # (each flag spelled out, as each file's marker spells it: made_by)
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Sample performances from a trained model; the same --seed and -n give the same files.",
                       epilog="examples:\n"
                       "  tsm generate -o out/ --png                        8 pieces of 16 s, with piano rolls\n"
                       "  tsm generate --key 'E minor' --tempo 90 -o out/   in a key, at a tempo\n"
                       "  tsm generate --style 'loudness=45 > loudness=90' --seconds 40 -o out/   a crescendo\n"
                       "  tsm generate --prompt mine.mid --seconds 30 -o out/   continue your playing\n"
                       "  tsm generate --piece 3 --wav --overwrite -o out/   piece 3 of the first again, with audio\n"
                       "recipes: docs/guide.md; what each request is measured to do: docs/measured.md")
    what = p.add_argument_group("what to draw")
    what.add_argument("-n", type=pieces_arg, default=8, help="how many pieces (default 8)")
    what.add_argument("--seconds", type=clock_arg, help="each piece's length: 90 or 1:30 (default 16; after any --prompt)")
    what.add_argument("--max-seconds", type=clock_arg,
                      help="let each piece end where the model ends it, within this (rnn, ar, events models; rnn: "
                      "default 120)")
    what.add_argument("--seed", type=seed_arg, default=0,
                      help="random seed (default 0); the same seed, -n and model give the same files (the pieces are "
                      "drawn together: -n 2 gives other pieces than the first two of -n 8)")
    what.add_argument("--piece", type=piece_numbers, metavar="I[,J…]",
                      help="write only these of the -n pieces, numbered as their files (3: sample_SEED_003.mid), the "
                      "same notes as in the whole run")
    what.add_argument("--model", metavar="RUN|NAME",
                      help="a shipped model's name (--list; default: 'default') or a run or checkpoint folder")
    what.add_argument("--arch", choices=["conv", "rnn", "ar", "events"],
                      help="without --model: the shipped model of this kind; with it: check the model is of this kind")
    what.add_argument("--list", action="store_true", help="list the shipped models and exit")
    what.add_argument("--info", action="store_true", help="say how the model was trained and what it may be asked, "
                      "and exit (--json: every setting, as JSON)")
    what.add_argument("--json", action="store_true", help="with --info: the model's settings and history as JSON, "
                      "for scripts")
    asked = p.add_argument_group("ask for music (the default model; each file's line says how the piece followed)")
    asked.add_argument("--style", metavar="ATTR=VALUE[,…]",
                       help="how to play, e.g. damper=0.9,register=C5,density=6 (register, spread, density, loudness, "
                       "stepwise, damper, half_pedal, soft); a shape over time: 'loudness=45 > loudness=80@20'")
    asked.add_argument("--key", metavar="KEY",
                       help="lean the notes toward this key: 'E minor', Bb, 'F# major', c#m, Fis-Dur, 'ré mineur'; a "
                       "path: 'C > G@20 > Am'")
    asked.add_argument("--tempo", metavar="BPM",
                       help="lean the notes toward the beats of this tempo (40-240); a path: '80 > 120'")
    asked.add_argument("--composer", metavar="NAME",
                       help="walk the loudness, density and pedalling of one of this composer's training performances "
                       "(--list names them)")
    asked.add_argument("--like", metavar="FILE.mid",
                       help="walk the loudness, density, pedalling and register of this performance (the notes are "
                       "the model's own)")
    asked.add_argument("--like-seconds", type=clock_arg, metavar="S",
                       help="with --like: from S seconds into the file (90 or 1:30)")
    asked.add_argument("--guidance", type=float, metavar="G",
                       help="how closely a piece follows what it is told: above 1 closer, at half the speed (default "
                       "2 with --style or --like, else 1)")
    prompt = p.add_argument_group("continue a performance (ar and events models)")
    prompt.add_argument("--prompt", metavar="IN.mid",
                        help="continue this performance for --seconds; each file starts with it as the model heard it")
    prompt.add_argument("--prompt-seconds", type=clock_arg, metavar="S",
                        help="continue from S seconds into it (90 or 1:30), not from its end")
    prompt.add_argument("--continuation-only", action="store_true",
                        help="write only what follows the prompt, timed from 0")
    sampling = p.add_argument_group("sampling")
    sampling.add_argument("--temperature", type=float,
                          help="lower is tamer (events models: which key a note strikes; default: the model's)")
    sampling.add_argument("--mixture-temperature", type=float,
                          help="ar models: the temperature of the mixture's weights (default: the model's)")
    sampling.add_argument("--set", action="append", metavar="ar.NAME=VALUE",
                          help="change a setting that only sampling reads (repeatable), e.g. --set ar.beat_echo=0; "
                          "the model's values: --info --json; what each does: the README's table, in full in docs/measured.md")
    sampling.add_argument("--select", action="store_true",
                          help="keep the pieces the model's critic judges most like real playing (about 2.5 drawn per "
                          "piece kept; --seconds 16 or more, not with --prompt or --max-seconds)")
    sampling.add_argument("--no-snap", action="store_true",
                          help="conv models: decode the latents as drawn, not snapped to the nearest real chunk")
    output = p.add_argument_group("output")
    output.add_argument("-o", "--out", default="out", metavar="DIR", help="output folder (default out/)")
    output.add_argument("--png", action="store_true", help="also write a piano roll PNG per file")
    add_audio_flags(output)
    output.add_argument("--overwrite", action="store_true",
                        help="replace an earlier run's files with this --seed in -o (the removed ones are named; "
                        "never a file given to --prompt or --like)")
    output.add_argument("--corpus", metavar="CORPUS",
                        help="with --max-seconds: compare the piece lengths with this corpus's (default: the training one)")
    output.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("reconstruct", help="a MIDI file through the autoencoder and back, to hear what it keeps",
                       description="MIDI → chunks → latents → decoded events → MIDI, with fidelity figures.")
    p.add_argument("input", metavar="IN.mid", help="MIDI performance to pass through the autoencoder")
    p.add_argument("--ae", metavar="RUN", help="autoencoder run or checkpoint, or a GAN run or model folder "
                   "(its autoencoder, fine-tuned where the GAN tuned it), or a shipped name: a model's, or "
                   "ae-latent75, the most faithful autoencoder measured (default: the shipped default model's, which is "
                   "ae-latent75)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mid", help="MIDI file to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.mid (and its PNG, WAV) if there (default: refuse)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
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
    p.add_argument("--max-tracks", type=int, help="evaluate only the first N tracks of the split")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
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
    for command in _subparsers(parser):  # -v after the command too; SUPPRESS keeps one given before it
        if not any("-v" in a.option_strings for a in command._actions):
            command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                 help="log details")
        if command.prog.split()[-1] in THREADED:
            command.add_argument("--threads", type=threads_arg, metavar="N",
                                 help="CPU threads for the model's arithmetic (default 1, or OMP_NUM_THREADS where "
                                 "set: more help only on a machine with cores to spare; beside other jobs they "
                                 "wait on each other and run many times slower)")
    return parser


THREADED = ("train-ae", "train-gan", "generate", "reconstruct", "evaluate-ae", "evaluate", "plot")  # use torch


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


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every (nested) subcommand parser under `parser`."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("timestepmusic")
    except PackageNotFoundError:
        return "unknown"


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse; an unknown flag is reported with the usage of the subcommand it was given to, not tsm's."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = parser
        for name in (getattr(args, "command", None), getattr(args, "data_command", None)):
            children = {c.prog.split()[-1]: c for c in _subparsers(command)}
            if name in children:
                command = children[name]
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _os_error(e: OSError) -> str:
    """One line for an OSError: the path, then what is wrong with it in words."""
    import errno

    what = {errno.EEXIST: "exists and is a file, not a folder", errno.ENOTDIR: "a part of this path is a file, "
            "not a folder", errno.EISDIR: "is a folder, not a file", errno.EACCES: "permission denied",
            errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system"}.get(e.errno)
    path = e.filename if e.filename is not None else ""
    return f"{path}: cannot write or read here: {what or e.strerror or e}" if path else f"{e.strerror or e}"


def _stdout_closed() -> bool:
    """Whether the reader of our standard output has gone (a pipe closed early: poll reports an error on it)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (AttributeError, ValueError, OSError):  # no poll here, or no real file behind stdout
        return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # a bare `tsm`: what it can do, not a missing-argument error
        parser.print_help()
        return 0
    args = _parse(parser, argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if args.command in THREADED:
        _use_threads(args.threads)
    try:
        code = args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError as e:
        if _stdout_closed():  # `tsm generate --info | head`: the reader left; nothing more to say
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (so that the exit's flush does not fail again)
            return 0
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # an output path that is a file, a folder where a file goes, no permission, a full disk
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if "torch.distributed" in sys.modules:  # a process group exists only where torch was loaded
        from .train.distributed import end_rank, leave_process_group
        if leave_process_group(wait=True):  # the ranks finish together
            end_rank(code or 0)
    return code


if __name__ == "__main__":
    sys.exit(main())
