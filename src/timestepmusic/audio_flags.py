"""The `--wav` and `--soundfont` flags every command that renders audio takes (generate, reconstruct, evaluate,
plot), with one help text and one check. Standard library only (evaluate.audio too): the CLI imports it before any
command runs."""
from __future__ import annotations

import argparse
from pathlib import Path

SOUNDFONT_HELP = "soundfont for --wav (default: $TSM_SOUNDFONT, else FluidR3_GM from fluid-soundfont-gm)"


def add_audio_flags(p: argparse.ArgumentParser, wav_help: str = "also render WAV audio with FluidSynth") -> None:
    p.add_argument("--wav", action="store_true", help=wav_help)
    p.add_argument("--soundfont", metavar="SF2", help=SOUNDFONT_HELP)


def check_audio_flags(args: argparse.Namespace) -> None:
    """A --soundfont without --wav is a mistake worth one clear line, not a silent no-op; so is one that is not
    there, or is no soundfont (said before anything is drawn, not as a warning after it all)."""
    from .evaluate.audio import is_soundfont

    if args.soundfont and not args.wav:
        raise ValueError("--soundfont is the soundfont of --wav: add --wav to render audio")
    if args.soundfont and not Path(args.soundfont).is_file():
        raise ValueError(f"--soundfont {args.soundfont}: no such file")
    if args.soundfont and not is_soundfont(args.soundfont):
        raise ValueError(f"--soundfont {args.soundfont}: not a SoundFont (.sf2, .sf3) or DLS file; give one, or leave "
                         "it out for the General MIDI soundfont installed with FluidSynth")
