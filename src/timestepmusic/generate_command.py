"""`tsm generate`: check the request, load the model, draw the pieces and write each as MIDI (with its roll and
audio where asked). Thin over the API (generation.py); heavy imports happen inside the command so that `tsm --help`
stays fast."""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

from .audio_flags import check_audio_flags
from .files import named
from .generate_flags import PIECE_SECONDS, generate_parser, parse_tempo_path
from .generate_info import info_words
from .requests import comparable, drawn_alike, request_from, request_words, same_request
from .subcommands import said_left_out

log = logging.getLogger("timestepmusic")
PROMPT_SHOWN_S = 16.0  # --prompt --png: a longer prompt's roll starts this long before the continuation (or as long as
# the continuation lasts), so that the seam is seen


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
        unread = [action.option_strings[0] for action in generate_parser()._actions if action.option_strings
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
    asked = request_from(vars(args))  # (before --arch names the model)
    request = request_words(asked)  # each file's marker: made_by
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
        print(json.dumps(info, indent=1) if args.json else "\n".join(info_words(info, history=args.verbose)))
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
            if not same_request(earlier, now):
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
    alike = comparable(asked) if others and args.piece is None else None  # (its files resolved once)
    unlike = [p for p in others if not drawn_alike(p, alike)] if alike is not None else []
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

