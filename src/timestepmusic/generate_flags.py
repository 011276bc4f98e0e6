"""`tsm generate`'s flags: declared in the order its --help shows them (`add_generate_parser`), the readers of their
text (--piece, --tempo), and a parser that reads them back from the command a file's marker records."""
from __future__ import annotations

import argparse
import functools
import re

from .argtypes import PIECES_LIMIT, file_arg, pieces_arg, seed_arg
from .audio_flags import add_audio_flags
from .setting_names import FLAGS, SettingNames
from .subcommands import add_shared_flags, subparsers
from .waypoints import clock_arg

PIECE_SECONDS = 16.0  # each piece's length where neither --seconds nor --max-seconds is given


def parse_tempo_path(text: str, names: SettingNames = FLAGS) -> list[tuple[float | None, float]]:
    """`--tempo` text → its waypoints (bpm, each with the seconds it is reached at: waypoints.parse_waypoints'), each
    tempo checked against the range the beat echo reaches; what is not read is a ValueError naming --tempo (or
    generate()'s tempo=: `names`)."""
    from .sequence.pulse import check_bpm
    from .waypoints import parse_waypoints

    def read_bpm(value: str) -> float:
        try:  # (as a score or a metronome marks it: '90 bpm', '♩=90')
            bpm = float(re.sub(r"^\s*♩\s*=|bpm\s*$", "", value, flags=re.IGNORECASE))
        except ValueError:
            raise ValueError(f"{names.given('tempo', repr(text))}: {value.strip()!r} is not a number of beats per minute "
                             "(e.g. 90, or an accelerando '80 > 120')") from None
        check_bpm(bpm, names)  # (one out of range)
        return bpm
    return parse_waypoints(text, read_bpm, "--tempo", "'120@20'", names)


def piece_numbers(text: str) -> list[int]:
    """--piece '3', '1,5' or '2-4' (or '003', as in the file name; '1,4-6' mixes them) → the piece numbers."""
    numbers = []
    for word in text.split(","):
        first, dash, last = word.partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give piece numbers as in the file names, e.g. 3, 1,5 or "
                                             "2-4") from None
        if low < 0 or high < low or high - low >= PIECES_LIMIT:
            raise argparse.ArgumentTypeError(f"{text!r}: {word} is no range of piece numbers (give the first, then "
                                             "the last: 2-4)")
        numbers.extend(range(low, high + 1))
    return numbers


def add_generate_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """generate's parser under `sub` (tsm's subcommands), its flags in the order its --help shows them; the caller
    sets the function it runs."""
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
    what.add_argument("--ending", action="store_true",
                      help="close each piece over its last seconds as a pianist ends one (a slower last phrase to a "
                      "final chord left to ring: 10 s for the default; --info says each model's) instead of stopping "
                      "mid-phrase at --seconds; a piece that ends itself (--max-seconds) always closes")
    what.add_argument("--seed", type=seed_arg, default=0,
                      help="random seed (default 0); the same seed, -n and model give the same files (the pieces are "
                      "drawn together: -n 2 gives other pieces than the first two of -n 8)")
    what.add_argument("--piece", type=piece_numbers, metavar="I[,J…]",
                      help="write only these of the -n pieces, numbered as their files (3: sample_SEED_003.mid; 1,5 or "
                      "2-4 for several), the same notes as in the whole run")
    what.add_argument("--model", metavar="RUN|NAME",
                      help="a shipped model's name (--list; default: 'default'), a run folder (its last checkpoint, "
                           "where training stopped; RUN/best: its best validation's, which model_export exports) or "
                           "a checkpoint folder")
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
    asked.add_argument("--like", type=file_arg, metavar="FILE.mid",
                       help="walk the loudness, density, pedalling and register of this performance (the notes are "
                       "the model's own)")
    asked.add_argument("--like-seconds", type=clock_arg, metavar="S",
                       help="with --like: from S seconds into the file (90 or 1:30)")
    asked.add_argument("--guidance", type=float, metavar="G",
                       help="how closely a piece follows what it is told: above 1 closer, at half the speed (default "
                       "2 with --style or --like, else 1; a note's key keeps the model's ar.key_guidance where that "
                       "is not 1)")
    prompt = p.add_argument_group("continue a performance (ar and events models)")
    prompt.add_argument("--prompt", type=file_arg, metavar="IN.mid",
                        help="continue this performance for --seconds; each file starts with it: its notes as in "
                             "the file, its pedals as the model reads them")
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
    output.add_argument("-q", "--quiet", action="store_true",
                        help="no line per written file, no progress bar and no table of lengths (warnings and errors "
                        "are still said)")
    add_audio_flags(output)
    output.add_argument("--overwrite", action="store_true",
                        help="replace an earlier run's files with this --seed in -o (the removed ones are named; "
                        "never a file given to --prompt or --like)")
    output.add_argument("--corpus", metavar="CORPUS",
                        help="with --max-seconds: compare the piece lengths with this corpus's (default: the training one)")
    output.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    return p


@functools.cache
def reading_parser() -> argparse.ArgumentParser:
    """A `tsm` parser holding generate alone, built once, for reading the commands that markers record (parsing
    changes no parser): generate's flags as `tsm generate` reads them, -v and --threads included."""
    parser = argparse.ArgumentParser(prog="tsm")
    parser.add_argument("-v", "--verbose", action="store_true")
    add_generate_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    add_shared_flags(parser)
    return parser


def generate_parser() -> argparse.ArgumentParser:
    """generate's own parser: its flags in the order its --help shows them."""
    return next(p for p in subparsers(reading_parser()) if p.prog.split()[-1] == "generate")
