"""The `--wav` and `--soundfont` flags every command that renders audio takes (generate, reconstruct, evaluate,
plot), with one help text and one check. Standard library only (evaluate.audio too): the CLI imports it before any
command runs."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from .argtypes import file_arg

SOUNDFONT_HELP = "soundfont for --wav (default: $TSM_SOUNDFONT, else FluidR3_GM from fluid-soundfont-gm)"


def add_audio_flags(p: argparse.ArgumentParser, wav_help: str = "also render WAV audio with FluidSynth") -> None:
    p.add_argument("--wav", action="store_true", help=wav_help)
    p.add_argument("--soundfont", type=file_arg, metavar="SF2", help=SOUNDFONT_HELP)


def check_audio_flags(args: argparse.Namespace) -> None:
    """A --soundfont without --wav is a mistake worth one clear line, not a silent no-op; so is one that is not
    there, or is no soundfont, given by --soundfont or, with --wav alone, by $TSM_SOUNDFONT (said before anything is
    drawn, not as a warning after it all)."""
    from .evaluate.audio import SOUNDFONT_ENV, is_soundfont

    if args.soundfont and not args.wav:
        raise ValueError("--soundfont is the soundfont of --wav: add --wav to render audio")
    given = args.soundfont or (os.environ.get(SOUNDFONT_ENV) if args.wav else None)
    said = f"--soundfont {given}" if args.soundfont else f"${SOUNDFONT_ENV} {given}"
    if given and not Path(given).is_file():
        raise ValueError(f"{said}: " + ("not a file" if Path(given).exists() else "no such file"))
    if given and not is_soundfont(given):
        raise ValueError(f"{said}: not a SoundFont (.sf2, .sf3) or DLS file; give one, or leave "
                         "it out for the General MIDI soundfont installed with FluidSynth")
