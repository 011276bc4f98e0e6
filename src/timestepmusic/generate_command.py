"""`tsm generate`: check the request, load the model, draw the pieces and write each as MIDI (with its roll and
audio where asked). Thin over the API (generation.py, draws.py, sample_files.py); heavy imports happen inside the
steps so that `tsm --help` stays fast."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .ar_config import CLOSING_SAMPLING
from .audio_flags import check_audio_flags
from .chunk_bar import ChunkBar
from .files import named
from .generate_flags import parse_tempo_path
from .generate_info import print_info, print_list, refuse_unread
from .generate_told import Told, pieces_told, say_long_slowing, say_nothing_to_snap
from .performance import MIDI_SUFFIXES
from .requests import comparable, drawn_alike, request_from, request_words, same_request
from .said import say
from .waypoints import typed_time

if TYPE_CHECKING:
    from .generation import GANModel

log = logging.getLogger("timestepmusic")
PROMPT_SHOWN_S = 16.0  # --prompt --png: a longer prompt's roll starts this long before the continuation (or as long
# as the continuation lasts), so that the seam is seen


@dataclass(frozen=True)
class Request:
    """What the command asks, read and checked before any model loads."""

    settings: dict  # requests.request_from's: each setting that changes a note, said one way
    words: list[str]  # the command that makes it (requests.request_words), which each file's marker names
    key_path: list | None  # --key's waypoints (keys.parse_key_path), or None
    tempo_path: list[tuple[float | None, float]] | None  # --tempo's waypoints (parse_tempo_path), or None


@dataclass(frozen=True)
class Files:
    """The files this run writes into -o, and those an earlier run with this seed wrote there."""

    out: Path  # the folder (-o)
    names: dict[int, Path]  # each piece written (its number of -n) → its MIDI file
    rewritten: set[Path]  # every file this run writes: the MIDI files, their PNG and WAV where asked
    taken: list[Path]  # the earlier run's files (sample_files.earlier_samples), which --overwrite replaces


def cmd_generate(args: argparse.Namespace) -> int:
    """`tsm generate`, one process at a time writing a seed's pieces into a folder: a second one is refused in one
    line (a lock in the folder: files.held_folder), not mixed in; other seeds may be written there meanwhile."""
    from .files import held_folder
    from .sample_files import seed_lock

    if args.list or args.info or not args.out.strip() or _names_a_file(args.out):
        return _generate(args)  # (nothing written, or refused: a file's name)
    with held_folder(args.out, seed_lock(args.seed), f"-o {args.out}: another tsm generate is writing "
                     f"--seed {args.seed}'s pieces into it now; wait for it to end, or give another -o or --seed"):
        return _generate(args)


def _generate(args: argparse.Namespace) -> int:
    """The steps of `tsm generate` in the order they run; each refuses what it cannot do in one line, before anything
    later is loaded or written."""
    request = _checked_request(args)
    if args.list:
        print_list(args)
        return 0
    if args.model is None and args.arch is not None:  # the shipped model of that kind
        from .shipped import shipped_of_arch

        args.model = shipped_of_arch(args.arch)
    if args.info:
        print_info(args)
        return 0
    check_audio_flags(args)
    files = _files_to_write(args, request)
    if args.wav:  # no FluidSynth: said now, not once the first batch is drawn (once: render_outputs' word is the same)
        from .evaluate.audio import AudioUnavailable, audio_unavailable_reason, warn_unavailable

        if (why := audio_unavailable_reason(args.soundfont)) is not None:
            warn_unavailable("no WAV files", AudioUnavailable(why))
    gan = _loaded_model(args)
    seconds, ends_itself = _checked_against_model(args, gan)
    told = pieces_told(args, gan, seconds, ends_itself, request.key_path, request.tempo_path)
    _warn_of_others(args, files, request)
    new_s = _draw_and_write(args, gan, request, files, told, seconds)
    if ends_itself and not args.quiet:
        _print_lengths(gan, args, seconds, new_s)  # new music only
    return 0


def _checked_request(args: argparse.Namespace) -> Request:
    """The request, read and checked before any model loads: flags that cannot go together, a key or tempo that cannot
    be read, the folder to write into and the files to read from."""
    from .keys import parse_key_path

    refuse_unread(args)  # (--list and --info)
    settings = request_from(vars(args))  # (before --arch names the model)
    words = request_words(settings)  # each file's marker: made_by
    key_path = parse_key_path(args.key) if args.key is not None else None  # a typo is told before the model loads …
    tempo_path = parse_tempo_path(args.tempo) if args.tempo is not None else None  # … and a tempo out of reach …
    _check_read_alone(args)
    if args.composer is not None or args.like is not None:  # … and what a path to walk cannot go with (the arm says
        from .sequence.path_walk import request_refused  # it again, for the API)

        request_refused(args.composer is not None, args.like is not None, args.style is not None, bool(args.prompt))
    if args.like_seconds is not None and args.like is None:
        raise ValueError("--like-seconds: give the performance to walk with --like")

    if args.select and args.prompt:  # (said before anything the prompt's reading would warn of)
        from .draws import SELECT_NO_PROMPT

        raise ValueError(SELECT_NO_PROMPT)
    if not args.out.strip():
        raise ValueError("-o: an empty name; give the folder to write into (default out/)")
    if _names_a_file(args.out):
        named = "(each piece is named sample_SEED_NNN.mid)"
        raise ValueError(f"-o {args.out}: a file; give the folder to write into {named}" if Path(args.out).exists()
                         else f"-o {args.out}: the folder to write into {named}; give a folder's name")
    for flag, given in (("--prompt", args.prompt), ("--like", args.like)):  # (before what is in the way of -o)
        if given and not Path(given).is_file():
            raise ValueError(f"{flag} {given}: " + ("not a file" if Path(given).exists() else "no such file"))
    return Request(settings, words, key_path, tempo_path)


def _check_read_alone(args: argparse.Namespace) -> None:
    """A --style that cannot be read and a temperature that cannot be, refused before what -o holds is (a rerun into
    its own folder with a typo was told only that its files are there, then, given --overwrite, of the typo); what a
    model follows of them is checked once it is loaded."""
    if args.style is not None:
        from .sequence.style_request import parse_style_path

        parse_style_path(args.style)
    if args.temperature is not None or args.mixture_temperature is not None:
        from .sample_limits import check_temperatures

        check_temperatures(args.temperature, args.mixture_temperature)


def _names_a_file(out: str) -> bool:
    """Whether -o names a file rather than the folder to write into: a MIDI file (outs/piano.mid/: a folder, as the
    slash says, held and made as any other), or any file that is there (a roll, a WAV)."""
    there = Path(out).exists() and not Path(out).is_dir()
    return there or (Path(out).suffix.lower() in MIDI_SUFFIXES and not Path(out).is_dir()
                     and not out.endswith(("/", os.sep)))


def _files_to_write(args: argparse.Namespace, request: Request) -> Files:
    """The files this run writes, and the earlier run's with this seed that they would replace: refused in one line
    unless --overwrite (sample_files.earlier_samples), and with --piece where another request drew them."""
    from .evaluate.render import rendered_paths
    from .generate_api import chosen_pieces
    from .heard import made_by
    from .markers import made_by_marker
    from .sample_files import earlier_samples, sample_name
    from .shipped import resolve_model

    if args.model is not None and not Path(args.model).exists():
        resolve_model(args.model)  # (a model not there is named before what is in the way of -o)
    out = Path(args.out)
    names = {i: out / sample_name(args.seed, i, args.n) for i in chosen_pieces(args.piece, args.n)}  # every file this
    rewritten = {extra for name in names.values() for extra in rendered_paths(name, png=args.png, wav=args.wav)}  # …
    rewritten |= set(names.values())  # … run writes
    taken = earlier_samples(out, args.seed, args.overwrite, {"--prompt": args.prompt, "--like": args.like},
                            rewritten, only=None if args.piece is None else sorted(rewritten))
    if args.piece is not None:  # a piece written again replaces the same piece only, not one another request drew
        for i, name in names.items():
            if name not in taken:
                continue
            earlier, now = made_by_marker(name), made_by(request.words, i, args.n)
            if not same_request(earlier, now):
                raise ValueError(f"--piece {i}: {name} says it was drawn by " + (f"'{earlier}'" if earlier else
                                                                               "no request of this tool") +
                                 f", not by this one ('{now}'): another request draws another piece in its place; "
                                 "give that request's flags, or another -o")
    return Files(out, names, rewritten, taken)


def _loaded_model(args: argparse.Namespace) -> GANModel:
    """--model (a shipped name, a run or a checkpoint) on --device, checked to be of --arch where given."""
    from .generation import GANModel
    from .shipped import model_said, resolve_model

    gan = GANModel.load(resolve_model(args.model), args.device)  # (a name neither shipped nor a folder: --model's line)
    if args.arch is not None and args.arch != gan.arch:
        raise ValueError(f"--arch {args.arch}: {model_said(gan.folder)} is of arch {gan.arch}")
    return gan


def _checked_against_model(args: argparse.Namespace, gan: GANModel) -> tuple[float, bool]:
    """--set applied to the model's sampling, and the flags of drawing checked against what the model does: each one
    it cannot follow, or would silently ignore, refused in one line. Returns each piece's length (s; for a model that
    ends its pieces itself, the longest it may run) and whether the model ends them itself."""
    from .generation import set_sampling
    from .piece_length import ends_itself as model_ends
    from .sample_limits import arm_takes, check_temperatures
    from .sequence.base import own_arm_hint
    from .shipped import arch_said, model_said

    set_names = set_sampling(gan, args.set or [])  # the keys given, "ar.NAME"
    takes = arm_takes(gan.arm)  # (--info says the same: model_info)
    continues, tempered = takes["prompt"], takes["tempered"]
    ends_itself = model_ends(gan, args.max_seconds)  # (as generate() decides it)
    for flag, name in (("--temperature", "temperature"), ("--mixture-temperature", "mixture_temperature")):
        if getattr(args, name) is not None and f"ar.{name}" in set_names:  # one would be silently ignored
            raise ValueError(f"{flag} and --set ar.{name} both given: give one")
    for name in ("ar.end_bias", "ar.end_rise", "ar.end_after_s"):
        if name in set_names and not ends_itself:
            raise ValueError(f"--set {name} moves where a piece ends itself; give --max-seconds too (with --seconds "
                             "every piece runs exactly that long)")
    for name in (f"ar.{closing}" for closing in CLOSING_SAMPLING):
        if name in set_names and not (ends_itself or args.ending):  # it would be silently ignored
            raise ValueError(f"--set {name} shapes how a closing piece ends; give --ending (or --max-seconds) too "
                             "(without them a piece of --seconds stops where its time is up, and does not close)")
    if "ar.closing_path" in set_names and gan.arm.settings.closing_path == "ending" and (args.style or args.prompt):
        from .sequence.path_walk import closing_path_refused

        closing_path_refused(args.style is not None, bool(args.prompt))  # (the arm says it again, for the API)
    _check_walk_settings(args, gan, set_names)
    if not tempered and (args.temperature is not None or args.mixture_temperature is not None):
        raise ValueError(f"the temperatures are for ar and events models; {model_said(gan.folder)} is "
                         f"{arch_said(gan.arch)}")
    if not continues and args.prompt:
        raise ValueError(f"--prompt is for ar and events models and conv models trained with gan.past_chunks; "
                         f"{model_said(gan.folder)} is {arch_said(gan.arch)} that cannot continue a past"
                         + own_arm_hint(gan.arm, "continues = True"))
    check_temperatures(args.temperature, args.mixture_temperature)
    seconds = _piece_seconds(args, gan, ends_itself, tempered)
    if {"ar.final_ritard", "ar.final_ritard_s"} & set_names:  # (closing: refused above where it does not)
        say_long_slowing(gan, seconds, "--max-seconds" if ends_itself else "--seconds")
    if args.no_snap:
        say_nothing_to_snap(gan)
    for flag, given in (("--prompt-seconds", args.prompt_seconds is not None), ("--continuation-only",
                                                                                args.continuation_only)):
        if given and not args.prompt:
            raise ValueError(f"{flag}: give the performance to continue with --prompt")
    return seconds, ends_itself


def _check_walk_settings(args: argparse.Namespace, gan: GANModel, set_names: set[str]) -> None:
    """--set of a setting that acts on a walked path (path_walk.WALK_SETTINGS: ar.register_follow, ar.density_follow,
    ar.spread_pull, ar.path_spread_trim) above 0 where the pieces walk no path it acts on (--style, --prompt, a model
    set to walk none; --like's file for those it ignores), which would silently ignore it: refused in one line. Only
    where --set gave it: a model whose own settings hold one draws a --style or a --prompt as told."""
    from .sequence.path_walk import WALK_SETTINGS, walk_setting_refused

    if not {f"ar.{name}" for name in WALK_SETTINGS} & set_names:  # (another arch's settings hold none)
        return
    settings = gan.arm.settings
    walks = settings.style_drawn and settings.style_path != "none"
    for name, (_, like_ignores) in WALK_SETTINGS.items():
        value, liked = getattr(settings, name), like_ignores and args.like is not None
        if f"ar.{name}" in set_names and value > 0 and (args.style or args.prompt or liked or not walks):
            walk_setting_refused(name, value, args.style is not None, bool(args.prompt), liked)


def _piece_seconds(args: argparse.Namespace, gan: GANModel, ends_itself: bool, tempered: bool) -> float:
    """Each piece's length (s): --max-seconds (default 120) for a model that ends its pieces itself, else --seconds
    (default PIECE_SECONDS), as generate() reads seconds= and max_seconds= (piece_length.piece_seconds); a length that
    is not whole chunks is said, and the flags that only one kind reads refused where given to the other."""
    from .piece_length import piece_seconds, say_whole_chunks

    seconds = piece_seconds(gan, args.seconds, args.max_seconds)
    if ends_itself:
        say_whole_chunks("--max-seconds", seconds, gan, at_most=True)
        if args.no_snap and not tempered:
            raise ValueError("--no-snap is for convolutional models; recurrent models decode their latents as they are")
    elif args.corpus is not None:  # it would be silently ignored
        raise ValueError("--corpus is the corpus whose piece lengths are shown beside pieces that end themselves "
                         "(rnn models; ar and events models with --max-seconds)")
    else:
        say_whole_chunks("--seconds", seconds, gan, at_most=False)
    return seconds


def _warn_of_others(args: argparse.Namespace, files: Files, request: Request) -> None:
    """MIDI files in -o that this request did not draw are allowed, but said: `tsm evaluate OUT` reads every MIDI file
    there (other seeds of this request, or with --piece the run it was one of, are rightly counted with these)."""
    out = files.out
    others = [p for p in out.glob("*.mid*") if p not in files.taken and p not in files.rewritten] if out.is_dir() else []
    alike = comparable(request.settings) if others and args.piece is None else None  # (its files resolved once)
    unlike = [p for p in others if not drawn_alike(p, alike)] if alike is not None else []
    if unlike:
        log.warning("%s already holds %d MIDI file(s) not drawn by this request (e.g. %s: another model or settings, or "
                    "not this tool's); `tsm evaluate %s` would count them as generated too", out, len(unlike),
                    unlike[0].name, out)


def _draw_and_write(args: argparse.Namespace, gan: GANModel, request: Request, files: Files, told: Told,
                    seconds: float) -> list[float]:
    """The pieces drawn a batch at a time and each asked written as it comes (--overwrite: the earlier run's files
    replaced once the first are drawn); an error or Ctrl-C after files were written or replaced says what is there
    now. Returns the new music's length of each piece written (s, after any prompt)."""
    from .draws import drawn_in_batches
    from .heard import made_by
    from .midi import continuation_only
    from .midi_write import write_held
    from .sample_files import mark_rewritten, piece_meta, replace_earlier
    from .sample_limits import piece_chunks

    bar = ChunkBar(piece_chunks(seconds, gan.ae.chunk_seconds), shown=not args.quiet)  # (ar and events models)
    if args.select and gan.critic is not None:
        log.info("--select: each piece kept by the model's critic, which keeps about %.0f%% of those drawn",
                 100 * gan.critic.kept_share)
    new_s = []  # the new music's length of each piece
    replaced = False
    earlier = {}  # the earlier run's MIDI files this run writes again → the SHA-1 of their bytes (replace_earlier's)
    written = []  # the MIDI files written so far
    try:
        for first, pieces, samples in drawn_in_batches(gan, args.n, seconds, args.seed, not args.no_snap, args.select,
                                                       only=None if args.piece is None else list(files.names),
                                                       progress=bar, **told.options):  # [T_s, L] each
            bar.close()  # (the batch is drawn: its files' lines follow)
            if not replaced:  # --overwrite: the earlier run's files go once the first pieces are drawn
                earlier = replace_earlier(files.taken, files.rewritten, args.seed)
                replaced = True
            if args.n > len(samples) and args.piece is None and not args.quiet:  # (a large -n: a batch at a time)
                say(f"pieces {first + 1}–{first + len(samples)} of {args.n}:", sys.stderr)
            for j, events in enumerate(samples):
                if first + j not in files.names:  # (--piece: drawn with the pieces asked, not written)
                    continue
                length_s = pieces[j].shape[0] * gan.ae.chunk_seconds  # the chunks written (a prompt included)
                new_s.append(length_s - told.prompt_s)
                if args.continuation_only:
                    events, length_s = continuation_only(events, told.prompt_s), length_s - told.prompt_s
                walked = gan.walked[j] if args.composer is not None and gan.walked is not None else None
                meta = piece_meta(made_by(request.words, first + j, args.n), told, events, length_s, args.continuation_only)
                path, events = write_held(events, files.names[first + j], meta)  # (as the file holds them: its line's)
                written.append(path)
                _say_written(args, written[-1], events, meta, length_s, told, walked)
    except BaseException as stopped:  # Ctrl-C or an error after files were written or replaced: what is there now,
        # said (a rerun is refused for the files there, which --overwrite replaces)
        bar.close()
        if written or replaced:
            _say_stopped(stopped, written, files)
        raise
    finally:
        mark_rewritten(earlier)  # (a report of a file written again with other bytes: out of date)
    return new_s


def _say_written(args: argparse.Namespace, path: Path, events, meta, length_s: float, told: Told,
                 walked: str | None) -> None:
    """A written file's line (its notes, its pedal presses, length to its last sound and the seconds drawn; what a
    listener hears of what was asked, and the performance it `walked`), and its roll and audio beside it where asked
    (--png, --wav), each named."""
    from .heard import heard_line
    from .holds import pedal_presses
    from .waypoints import clock_text

    prompt_s = told.prompt_s
    drawn = (f"{length_s:g} s drawn; the continuation only, after the prompt's {prompt_s:.2f} s"  # (where to paste it)
             if args.continuation_only else
             f"{length_s - prompt_s:g} s drawn after the prompt's {prompt_s:.2f} s" if prompt_s else f"{length_s:g} s drawn")
    notes, presses = int(events.is_note.sum()), pedal_presses(events)
    heard = heard_line(events, length_s, told.asked_from_s, told.asked, walked)
    if not args.quiet:  # its length as heard, to its last sound (a closing's slowing and ring run on past the chunks
        # drawn; a release past them too; a piece fallen silent ends sooner), beside the seconds drawn
        say(f"{path}  {notes} note{'s' * (notes != 1)}, {presses} pedal press{'es' * (presses != 1)}, "
            f"{events.end_s:.1f} s long ({drawn}{heard})")
    if args.png or args.wav:
        from .evaluate.render import render_outputs

        lead_s = max(length_s - prompt_s, PROMPT_SHOWN_S)  # a long prompt: the roll from as long before
        from_s = prompt_s - lead_s if prompt_s > lead_s and not args.continuation_only else 0.0  # the seam
        for extra in render_outputs(path, events, png=args.png, wav=args.wav, soundfont=args.soundfont,
                                    title=f"{path.name}" + (f" from {clock_text(from_s)}" if from_s else "")
                                    + f"\n{meta.text}",  # (the command, under the name)
                                    continuation_s=None if args.continuation_only else prompt_s or None,
                                    marks=meta.marks,  # (the waypoints asked, as the file's markers say them)
                                    span=(from_s, length_s) if from_s else None):
            if not args.quiet:
                say(f"{extra}")


def _say_stopped(stopped: BaseException, written: list[Path], files: Files) -> None:
    """After an error or Ctrl-C (`stopped`) once files were written or replaced: how many were written, the last, the
    earlier run's still there, and how to write them all again."""
    earlier = [path.name for path in files.taken if path.suffix == ".mid" and path.exists() and path not in written]
    how = "interrupted" if isinstance(stopped, KeyboardInterrupt) else "stopped"
    print(f"{how} after writing {len(written)} of {len(files.names)} MIDI file(s)"
          + (f", the last {written[-1]}" if written else "")
          + (f"; still the earlier run's: {named(earlier)}" if earlier else "")
          + ("; the same command with --overwrite writes them all again"
             if isinstance(stopped, (KeyboardInterrupt, OSError)) else ""), file=sys.stderr)
    stopped.said = True  # (Ctrl-C: this line says it; cli.main adds no bare 'interrupted' under it)


def _print_lengths(gan, args: argparse.Namespace, seconds: float, generated_s: list[float]) -> None:
    """The generated pieces' lengths beside the real ones of --corpus (default: the training corpus, if still there)."""
    import numpy as np

    from .corpus import Corpus
    from .gan.recurrent import length_table, real_lengths
    from .piece_length import whole_seconds

    cap_s = whole_seconds(seconds, gan)  # the cap as drawn (--max-seconds 10.1: 10 s)
    lengths = {"generated": np.minimum(np.array(generated_s), cap_s)}
    root = args.corpus or gan.meta.get("corpus", {}).get("root")
    try:
        lengths |= real_lengths(Corpus.open(root), cap_s) if root else {}
    except ValueError as e:
        hint = "" if args.corpus else "; pass --corpus CORPUS (a prepared corpus) to compare"
        log.warning("piece lengths: no real ones beside them (%s)%s", e, hint)
    say(f"piece lengths, capped at --max-seconds {typed_time(seconds)} (real remaining: from a random chunk of a "
        "training track to its end, what the model was trained on):")
    say("\n".join(length_table(lengths, cap_s)))
