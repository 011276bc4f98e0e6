"""`tsm evaluate` (generated files against real music → HTML report) and `tsm plot` (a piano roll).

Thin over the API: each command parses flags and calls a function; heavy imports happen inside the
command so that `tsm --help` stays fast.
"""
from __future__ import annotations

import argparse
import errno
import logging
import math
import os
import stat
import sys
from pathlib import Path

from ..argtypes import file_arg, pedal_bins_arg, seed_arg
from ..audio_flags import add_audio_flags, check_audio_flags
from ..files import held_folder, refuse_existing
from ..said import say
from ..setting_names import FLAGS
from ..subcommands import said_left_out
from ..usage_errors import OneFlagOfSeveralNames
from ..waypoints import clock_arg, refused_time, typed_time
from . import CLASSIFIER_REPEATS, FOLDS_BY, MIN_EXCERPTS
from .report_folder import check_report_folder, refuse_a_file, remove_left_behind

log = logging.getLogger(__name__)

NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)  # a folder plot may not write its rolls into


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`tsm evaluate`, one process at a time writing a report into a folder: a second one is refused in one line (a
    lock in the folder: files.held_folder), not left to replace the first's report unasked and mix their figures."""
    if not args.generated.strip():  # (Path(''): the working folder's files, evaluated where a variable was empty)
        raise ValueError("GENERATED_DIR: an empty name; give the folder of generated MIDI files ('.' for the working "
                         "folder)")
    if args.out == "":  # (Path(''): the working folder, its report said as 'wrote report.html', nowhere named)
        raise ValueError("-o: an empty name; give the folder to write the report into")
    refuse_a_file(args.out, FLAGS)  # (said as the flag's, not as the system's error)
    with held_folder(args.out, ".evaluate.lock", f"-o {args.out}: another tsm evaluate is writing a report into it now; "
                     "wait for it to end, or give another -o"):
        return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    from .comparison import BASELINE, CEILING, TRAINING, folds_unit
    from .report import evaluate_generated

    check_audio_flags(args)
    if not math.isfinite(args.seconds) or args.seconds <= 0:
        raise ValueError(refused_time("--seconds", args.seconds, "an excerpt's length must be > 0"))
    if args.repeats < 1:  # (evaluate_generated checks it too, before its minutes of descriptors)
        raise ValueError(f"--repeats must be ≥ 1, got {args.repeats}")
    if not 0 < args.copy_threshold <= 1:
        raise ValueError(f"--copy-threshold must be in (0, 1], got {args.copy_threshold}")
    for run in args.run or []:  # (before the minutes of descriptors: a typo is named at once)
        metrics = Path(run) / "metrics.jsonl" if Path(run).is_dir() else Path(run)
        if not metrics.is_file():
            why = "no metrics.jsonl in this folder" if Path(run).is_dir() else "no such run folder or metrics log"
            raise ValueError(f"--run {run}: {why}")
    earlier = check_report_folder(args.out, args.overwrite, FLAGS)  # (--overwrite: the earlier report's rolls, audio)
    if args.wav:  # no FluidSynth: said now, not after the minutes of comparing (once: the report's own word is the same)
        from .audio import AudioUnavailable, audio_unavailable_reason, warn_unavailable

        if (why := audio_unavailable_reason(args.soundfont)) is not None:
            warn_unavailable("no audio in the report", AudioUnavailable(why))
    report = evaluate_generated(args.generated, args.real, args.out, split=args.split, train_split=args.train_split,
                                runs=args.run, wav=args.wav, seconds=args.seconds, seed=args.seed,
                                copy_threshold=args.copy_threshold, transpose=args.transpose,
                                max_real_excerpts=args.max_real_excerpts, soundfont=args.soundfont,
                                link_audio=args.link_audio, repeats=args.repeats, train_row=args.train_row,
                                folds_by=args.folds_by,
                                progress=True)  # (a bar where stderr is a terminal: minutes without a word, before)
    remove_left_behind(args.out, earlier)  # (once the new report is there)
    for bad in report["files"]["bad"]:
        print(f"skipped {bad['file']}: {bad['reason']}")
    for file in report["files"]["left_out"]:  # (read, but not all of it: drums or a bass beside the piano)
        print(f"{file['file']}: notes left out: {file['notes']}")
    unit = folds_unit(report)  # (what the folds kept whole on the real side: piece or performance)
    print(f"{report['files']['read']} file(s), {report['excerpts']['generated']} excerpts of {report['seconds']:g} s, "
          f"against {report['excerpts'][f'real ({args.split})']} real excerpts of the {args.split} split")
    def accuracy(c: dict) -> str:
        if c["accuracy"] is None or not math.isfinite(c["accuracy"]):
            return "—" + (f" ({c['why']})" if c.get("why") else "")
        spread = f" ± {c['accuracy_sd']:.3f}" if c.get("repeats", 1) > 1 and c.get("accuracy_sd") is not None else ""
        few = c.get("n_per_class") is not None and c["n_per_class"] < MIN_EXCERPTS  # (told at 0.5 as at 0.9: rough)
        p_value = c.get("p_value")
        said = "p < 0.001" if p_value is not None and p_value < 0.001 else f"p = {p_value:.3f}"
        over = f", over {c['p_groups']} {unit}s and files" if c.get("p_groups") else ""  # (what p counts)
        rough = f" ({said} from {c['n_per_class']} excerpts a side{over}: rough)" if few and p_value is not None \
            and math.isfinite(p_value) else ""
        return f"{c['accuracy']:.3f}{spread}{rough}"

    said_rows = ""
    for row, c in report["classifier"].items():
        pair = row if row.startswith("real ") else f"real vs {row}"  # (the ceiling's row names its own pair)
        said_rows += f"  classifier accuracy, {pair}: {accuracy(c)} logistic, " \
                     f"{accuracy(report['classifier_trees'][row])} boosted trees\n"
    print(said_rows, end="")
    overlaps = [f"{value:.3f} {row}" for row, value in report["mean_overlap"].items() if value is not None]
    if overlaps:  # (report.html's last row, the README's "mean descriptor overlap")
        print(f"  mean descriptor overlap with real: {', '.join(overlaps)}")
    print("  (accuracy: how often a classifier tells the two sets' excerpts apart, 0.5 it cannot, the aim, 1.0 always; "
          "overlap: how alike their descriptors' spreads are, 1.0 the same, the aim"
          + ("; shuffled chunks: the floor, a trivial generator any model should beat" if BASELINE in
             report["classifier"] else "")
          + ("; real A vs real B: the ceiling, two halves of the real excerpts" if CEILING in report["classifier"]
             else "")
          + ("; training excerpts: what a model that had learnt the training split exactly would score" if TRAINING in
             report["classifier"] else "")
          + ("; p: how likely so high an accuracy were the two sets alike" if " (p " in said_rows else "")
          + "; each descriptor in report.html)")
    ungrouped = [row for row, c in report["classifier"].items() if c.get("folds_grouped") is False]
    print(f"  (the classifiers' folds keep each real {unit}"
          + (" (all its performances)" if unit == "piece" else "") + " and each generated file whole"
          + (f"; except in the row{'s' * (len(ungrouped) > 1)} {' and '.join(repr(r) for r in ungrouped)}, where one "
             f"side is a single {unit} or file, whose excerpts are dealt to the folds one by one)"
             if ungrouped else ")"))
    if "flagged" in report["copies"]:
        print(f"  near copies of training excerpts: {report['copies']['flagged']}")
    print(f"wrote {Path(args.out) / 'report.html'} and {Path(args.out) / 'report.json'}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ..midi import read_events
    from .made_here import made_here
    from .render import rendered_paths

    check_audio_flags(args)
    inputs, seen = [], set()  # a file named twice (or by two paths) is drawn once
    for path in midi_files(args.input):
        if (resolved := Path(path).resolve()) not in seen:
            seen.add(resolved)
            inputs.append(path)
    many, output = len(inputs) > 1, args.output or None  # (-o "": beside each MIDI file, as without -o)
    folder = output is not None and (Path(output).is_dir() or output.endswith("/"))
    if output is not None and not folder:
        if many:
            raise ValueError(f"-o {output}: several MIDI files draw several rolls; give a folder for them (ending "
                             "in /: made if missing)")
        if Path(output).suffix.lower() != ".png":
            raise ValueError(f"-o {output}: a piano roll is written as PNG; give a name ending in .png or a "
                             "folder (ending in /)")
    span = plot_span(args.from_s, args.seconds)  # a part of each file: (from, to or None) in seconds
    targets = {}  # each MIDI file → its roll
    for midi in inputs:
        roll = Path(midi).with_suffix(".png").name
        if span is not None:  # a part: named by its times, so that rolls of other parts sit beside it
            roll = f"{Path(midi).stem}_{span[0]:g}-{'end' if span[1] is None else f'{span[1]:g}s'}.png"
        targets[midi] = (Path(output) / roll if folder else Path(output) if output
                         else Path(midi).with_name(roll))
    failed = 0
    for midi, roll in list(targets.items()):  # (a roll or WAV given for its MIDI file: told so, not "there already")
        if Path(midi).resolve() in {Path(p).resolve() for p in rendered_paths(midi, png=True, wav=args.wav,
                                                                              png_path=roll)}:
            why = f"{midi}: not a MIDI file (what plot would write for it has its name); give the .mid file it was drawn from"
            if not many:
                raise ValueError(why)
            print(f"skipped {why}", file=sys.stderr)
            failed += 1
            del targets[midi]
    rolls = list(targets.values())
    if len(set(rolls)) < len(rolls):
        twice = next(roll for roll in rolls if rolls.count(roll) > 1)
        both = [midi for midi, roll in targets.items() if roll == twice]
        raise ValueError(f"{twice}: {' and '.join(map(str, both[:2]))}{' and more' if len(both) > 2 else ''} would draw "
                         "to this one roll (the same name but for the folder or extension); plot them into separate "
                         "folders")
    written = [p for midi, roll in targets.items() for p in rendered_paths(midi, png=True, wav=args.wav, png_path=roll)]
    refuse_existing(written, args.overwrite, "give another name" if output is not None and not folder else  # (a
                    "give another -o folder" if folder else  # roll beside each file: no name was given to change)
                    "give -o FOLDER/ to draw elsewhere" if many else "give -o ROLL.png or -o FOLDER/ to draw elsewhere")
    named = Path(output) if output is not None and not folder else None  # (-o FILE.png: the name asked, replaced)
    for path in (p for p in written if p != named and p.exists() and not made_here(p)):  # (--overwrite: its own)
        what = "a roll" if path.suffix == ".png" else "audio"
        raise ValueError(f"{path} is there already and is not {what} this tool wrote (a file of yours, or of a "
                         f"version before its mark): it is never replaced, with --overwrite or without; move it, or "
                         "give -o FOLDER/ to draw elsewhere")
    if output is None:  # beside each MIDI file: not into a folder marked read-only, which root could write all the same
        _refuse_read_only_beside(targets)
    for midi, roll in targets.items():
        try:  # a bad file (or a part past its end) among several is reported and skipped; alone, the command's error
            events, drops = read_events(midi, pedal_bins=args.pedal_bins, pedals_alone=True)  # (pedalling alone: drawn)
            said_left_out(str(midi), drops)  # (drums, a layered voice, notes beyond the keys: not drawn)
            written = render_part(midi, events, roll, span, args.wav, args.soundfont)
        except ValueError as e:
            if not many:
                raise
            print(f"skipped {e}", file=sys.stderr)
            failed += 1
            continue
        except OSError as e:  # beside a file in a read-only dataset (or the installed package): said where else
            if output is None and e.errno in NOT_WRITABLE and e.filename is not None and Path(e.filename) in \
                    rendered_paths(midi, png=True, wav=args.wav, png_path=roll):
                raise ValueError(f"{e.filename}: cannot write beside {midi} ({os.strerror(e.errno).lower()}); give "
                                 "-o FOLDER/ to put the rolls elsewhere") from e
            raise
        for path in written:
            say(str(path))
    if failed and failed == len(inputs):  # nothing drawn: an error (as prepare's of no usable file), said with
        from ..sources import midi_below  # where the usable files may be

        deeper = sum(len(midi_below(Path(given))) for given in args.input if Path(given).is_dir())
        print(f"error: nothing drawn: all {failed} MIDI file(s) were skipped" + (
            f"; {deeper} more {'is' if deeper == 1 else 'are'} in subfolders, which plot does not read (give them: "
            "plot FOLDER/SUB)" if deeper else ""), file=sys.stderr)
        return 1
    return 0  # (some skipped, each said: the others drawn, as prepare and evaluate go on past a bad file)


def _refuse_read_only_beside(targets: dict[str, Path]) -> None:
    """A roll (MIDI file → PNG) to be written beside its MIDI file in a folder whose mode lets no one write (a dataset
    unpacked read-only): refused in one line, as the system refuses it to a user who is not root, since root (a
    container's user) may write there all the same and leave rolls in the data."""
    for midi, roll in targets.items():
        folder = roll.parent
        if folder.is_dir() and not folder.stat().st_mode & 0o222:
            raise ValueError(f"{roll}: cannot write beside {midi} (its folder is read-only, mode "
                             f"{stat.filemode(folder.stat().st_mode)}); give -o FOLDER/ to put the rolls elsewhere")


def midi_files(given: list[str]) -> list[str]:
    """`tsm plot`'s inputs: each MIDI file as given, a folder as the .mid/.midi files directly in it (sorted; those in
    its subfolders are said, not drawn, as evaluate says them); an empty name, or a folder without one: ValueError in
    one line."""
    from ..sources import midi_below, midi_in

    files, folders = [], {}  # (each folder given → how many files directly in it)
    for path in given:
        if not path.strip():
            raise ValueError("FILE.mid: an empty name; give a MIDI file or a folder of them")
        if Path(path).is_dir():
            inside = [str(p) for p in midi_in(Path(path))]
            if not inside:
                deeper = midi_below(Path(path))
                raise ValueError(f"{path}: a folder without .mid or .midi files in it" + (
                    f" (plot reads the folder itself, not its subfolders: {deeper[0].relative_to(path)} is in one)"
                    if deeper else ""))
            files += inside
            folders[path] = len(inside)
        else:
            files.append(path)
    drawn = {Path(file).resolve() for file in files}  # (a subfolder's file given too, or its subfolder: not said)
    for folder, inside in folders.items():
        said_below(Path(folder), inside, drawn)  # (and adds those it says: one below two folders given is said once)
    return files


def said_below(folder: Path, inside: int, drawn: set[Path]) -> None:
    """Say the MIDI files in the subfolders of a folder given to plot, which it does not draw (those in `drawn`,
    resolved, given otherwise, are; those said are added to it, so that a folder given after this one does not say
    them again): a user's folder of folders (a recital in a subfolder) drew the files at its top alone, without a word
    of the rest."""
    from ..sources import midi_below

    deeper = [p for p in midi_below(folder) if p.resolve() not in drawn]
    drawn.update(p.resolve() for p in deeper)
    if deeper:
        log.warning("%s: %d more MIDI file%s in its subfolders, which plot does not read (%s%s): only the %d directly "
                    "in it %s read; give a subfolder to plot it", folder, len(deeper), "s are" if len(deeper) > 1
                    else " is", deeper[0].relative_to(folder), ", …" if len(deeper) > 1 else "", inside,
                    "are" if inside > 1 else "is")


def plot_span(from_s: float | None, seconds: float | None) -> tuple[float, float | None] | None:
    """`tsm plot --from T --seconds S` → the part to draw (from, to; to None: the file's end), or None (the whole
    file); a part that cannot be: ValueError in one line."""
    if from_s is None and seconds is None:
        return None
    from_s = 0.0 if from_s is None else from_s
    if not from_s >= 0:
        raise ValueError(refused_time("--from", from_s, "where to start drawing, from the file's start, must be ≥ 0",
                                      from_start=True))
    if seconds is not None and not seconds > 0:
        raise ValueError(refused_time("--seconds", seconds, "how long to draw must be > 0"))
    return from_s, None if seconds is None else from_s + seconds


def render_part(midi: str, events, roll: Path, span: tuple[float, float | None] | None, wav: bool,
                soundfont: str | None) -> list[Path]:
    """`tsm plot`: the roll of `midi`'s `events` (a `span` of it, on the file's own time axis) and, with `wav`, its
    audio: of the span alone, rendered from a MIDI file of that part timed from its start (the notes struck in it
    and the pedals down in it, at every depth the file gives, each released by the span's end). A file `tsm generate
    --prompt` wrote whole has where its continuation starts marked, and one asked along a path of keys, tempos or
    styles its waypoints, as generate --png marks them, where they are drawn."""
    import tempfile

    from ..holds import release_by
    from ..markers import MADE_BY, asked_marks, continuation_marker_s, generated_markers
    from ..midi import read_events, window
    from ..midi_write import write_events
    from ..waypoints import clock_text
    from .render import render_outputs

    markers = generated_markers(midi)  # (none for a file of another making): read once for all three
    made = next((text for _, text in markers if text.startswith(MADE_BY)), None)  # the command that drew it
    seam_s = continuation_marker_s(markers)  # (None for another file)
    marks = asked_marks(markers)  # the waypoints asked (none for another file)
    if span is None:
        return render_outputs(midi, events, png=True, wav=wav, png_path=roll, soundfont=soundfont,
                              title=None if made is None else f"{Path(midi).name}\n{made}", continuation_s=seam_s,
                              marks=marks)
    last_s = float(events.end_s)
    if span[0] >= last_s:
        raise ValueError(f"{midi}: --from {typed_time(span[0])} is past its end ({clock_text(last_s)})")
    to_s = last_s if span[1] is None else min(span[1], last_s)  # (not past the file's end)
    title = f"{Path(midi).name}, {clock_text(span[0])}–{clock_text(to_s)}" + ("" if made is None else f"\n{made}")
    written = render_outputs(midi, events, png=True, png_path=roll, title=title, span=(span[0], to_s),
                             continuation_s=seam_s, marks=marks)  # (those in the span drawn: plots.plot_roll)
    if wav:
        every_depth, _ = read_events(midi, pedal_bins=0, pedals_alone=True)  # (as the whole file's audio plays its pedals)
        part = release_by(window(every_depth, span[0], to_s), to_s - span[0])
        with tempfile.TemporaryDirectory() as tmp:
            part_midi = write_events(part, Path(tmp) / Path(midi).name)
            written += render_outputs(part_midi, part, wav=True, png_path=roll, soundfont=soundfont)
    return written


def add_commands(sub) -> None:
    p = sub.add_parser("evaluate", help="compare generated MIDI files with real music; write an HTML report",
                       description="Describe every .mid/.midi in GENERATED_DIR and the real excerpts of a corpus split "
                       "(note density, polyphony, pitch range and entropy, velocity, inter-onset intervals, top-line "
                       "steps, key steadiness, durations, pedalling), compare the distributions (overlap, KL, a logistic "
                       "and a boosted-trees classifier test) beside a shuffled-chunks baseline and a real-vs-real ceiling, "
                       "look for near copies of training excerpts, and write REPORT_DIR/report.html (self-contained) and "
                       "report.json. Unreadable files are listed, not fatal.")
    p.add_argument("generated", metavar="GENERATED_DIR",
                   help="folder of generated .mid/.midi files (its subfolders are not read), each cut into excerpts of "
                   f"--seconds; under {MIN_EXCERPTS} excerpts the figures are rough: 200 pieces (tsm generate -n 200) "
                   "for a verdict")
    # (--corpus: as generate's, evaluate-ae's and the benches' name it; the two given different values are refused)
    p.add_argument("--real", "--corpus", dest="real", required=True, metavar="CORPUS", action=OneFlagOfSeveralNames,
                   help="prepared corpus (from `tsm prepare`) of real music")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                   help="split of the corpus whose real excerpts the files are compared with (default test: held out "
                   "from training and from choosing settings)")
    p.add_argument("--train-split", default="train", choices=["train", "validation", "test"],
                   help="split the copy check and the shuffled-chunks baseline draw from (default train)")
    p.add_argument("-o", "--out", required=True, metavar="REPORT_DIR", help="folder for report.html, report.json, figures")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in REPORT_DIR (default: refuse)")
    p.add_argument("--run", action="append", type=file_arg, metavar="RUN",
                   help="training run folder (or metrics.jsonl) whose curves to include (repeatable)")
    add_audio_flags(p, "render audio of the shown samples with FluidSynth into the report")
    p.add_argument("--link-audio", action="store_true",
                   help="link the WAV files (REPORT_DIR/audio/) from report.html instead of embedding them: a small "
                   "page, but keep the folder together")
    p.add_argument("--seconds", type=clock_arg, default=16.0, help="excerpt length in seconds (default 16)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the baseline, the halves and the classifier folds (default 0)")
    p.add_argument("--repeats", type=int, default=CLASSIFIER_REPEATS,
                   help="how many times the classifiers are run, each on another draw of the real excerpts that balance "
                   "the generated ones and of the folds; each accuracy is their mean ± spread (default "
                   f"{CLASSIFIER_REPEATS}: one draw moves an accuracy by about ±0.02; more: steadier, slower)")
    p.add_argument("--folds-by", choices=FOLDS_BY, default=FOLDS_BY[0],
                   help="what the classifiers' folds and the ceiling's two real halves keep whole: each real piece, all "
                   "its performances (default: a classifier that trained on one performance of the notes it tests "
                   "learns the piece), or each performance (reports before this choice)")
    p.add_argument("--train-row", action="store_true",
                   help="also compare as many real excerpts of --train-split as there are generated ones: what a model "
                   "that had learnt the training split exactly would score here (where the splits' music differs, "
                   "above the ceiling's 0.5)")
    p.add_argument("--copy-threshold", type=float, default=0.9,
                   help="onset-roll cosine similarity at which a sample counts as a near copy (default 0.9)")
    p.add_argument("--transpose", action="store_true", help="copy check also under transpositions up to ±5 semitones")
    p.add_argument("--max-real-excerpts", type=int, metavar="N", help="use at most N real excerpts, evenly spaced")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("plot", help="piano roll PNG (with pedal lanes) of a MIDI file, optionally a WAV",
                       description="Draw keys by time with velocity as colour and damper, sostenuto and soft pedal "
                       "depth underneath.")
    p.add_argument("input", metavar="FILE.mid", nargs="+",
                   help="MIDI file(s) to draw, or folders: the .mid/.midi files in each")
    p.add_argument("-o", "--out", "--output", dest="output", metavar="ROLL.png", action=OneFlagOfSeveralNames,
                   help="PNG to write, or a folder to write FILE.png into (made if missing when the name ends in /; "
                   "default: FILE.png beside each MIDI file, which a read-only dataset refuses)")
    add_audio_flags(p, "also render the audio with FluidSynth, as a .wav beside each roll")
    p.add_argument("--overwrite", action="store_true", help="replace the PNG (and WAV) if there (default: refuse)")
    p.add_argument("--pedal-bins", type=pedal_bins_arg, default=4,
                   help="pedal depth bins when reading the file (1-127, default 4; 0 = every value)")
    p.add_argument("--from", dest="from_s", type=clock_arg, metavar="T",
                   help="draw from this time in the file on (90 or 1:30; the axis keeps the file's time); the roll is "
                   "named FILE_90-110s.png (FILE_90-end.png) unless -o names it, and --wav renders that part alone")
    p.add_argument("--seconds", type=clock_arg, metavar="S",
                   help="draw this many seconds (from --from, else from the start; default: to the file's end)")
    p.set_defaults(func=cmd_plot)
