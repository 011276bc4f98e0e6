"""MIDI → WAV with the FluidSynth command line and a General MIDI soundfont (acoustic grand piano).

FluidSynth is an optional system tool, not a Python dependency: when it or the soundfont is
missing, `render_wav` raises `AudioUnavailable` saying how to install them, and callers that only
want audio as an extra (`render_outputs`, the report) log that and go on.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from ..files import atomic_path
from .made_here import mark_wav

log = logging.getLogger(__name__)

SOUNDFONT_ENV = "TSM_SOUNDFONT"  # a soundfont to use instead of the default
DEFAULT_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
                      "/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/soundfonts/default.sf2")
INSTALL_HINT = ("install FluidSynth and a General MIDI soundfont, e.g. `apt-get install fluidsynth fluid-soundfont-gm` "
                "(Debian/Ubuntu) or `brew install fluid-synth` plus a .sf2 file given by --soundfont or $TSM_SOUNDFONT")
SAMPLE_RATE = 44100
RENDER_TIMEOUT_S = 600.0


class AudioUnavailable(RuntimeError):
    """FluidSynth or a soundfont is not installed; the message says how to get them."""


_warned: set[str] = set()


def warn_unavailable(what: str, error: AudioUnavailable) -> None:
    """Log why there is no audio (`what`: what goes without it) once per process and reason: a batch of files
    would otherwise repeat the same install hint for each."""
    message = f"{what}: {error}"
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


def is_soundfont(path: str | Path) -> bool:
    """Whether a file begins as a SoundFont (.sf2, .sf3: RIFF … sfbk) or a DLS file (RIFF … DLS) does; FluidSynth given
    anything else plays its own soundfont, unsaid."""
    with Path(path).open("rb") as f:
        head = f.read(12)
    return head[:4] == b"RIFF" and head[8:] in (b"sfbk", b"DLS ")


def find_soundfont(soundfont: str | Path | None = None) -> Path:
    """The soundfont to use: the one given, else $TSM_SOUNDFONT, else the first Debian default found."""
    if soundfont is not None:
        path = Path(soundfont)
        given = f"given by --soundfont or ${SOUNDFONT_ENV}"
        if not path.is_file():
            raise AudioUnavailable(f"{path}: no such soundfont ({given}); give a .sf2 file that is there, or leave it out "
                                   "for the General MIDI soundfont installed with FluidSynth")
        if not is_soundfont(path):
            raise AudioUnavailable(f"{path}: not a SoundFont (.sf2, .sf3) or DLS file ({given}); give one, or leave it "
                                   "out for the General MIDI soundfont installed with FluidSynth")
        return path
    if os.environ.get(SOUNDFONT_ENV):
        return find_soundfont(os.environ[SOUNDFONT_ENV])
    for candidate in DEFAULT_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise AudioUnavailable(f"no General MIDI soundfont found (looked for {', '.join(DEFAULT_SOUNDFONTS)}); {INSTALL_HINT}")


def find_fluidsynth() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise AudioUnavailable(f"the `fluidsynth` program is not on PATH; {INSTALL_HINT}")
    return exe


def audio_unavailable_reason(soundfont: str | Path | None = None) -> str | None:
    """None when WAVs can be rendered, else why not (with the install hint)."""
    try:
        find_fluidsynth()
        find_soundfont(soundfont)
    except AudioUnavailable as e:
        return str(e)
    return None


def render_wav(midi_path: str | Path, wav_path: str | Path, soundfont: str | Path | None = None, *,
               sample_rate: int = SAMPLE_RATE, gain: float = 0.8) -> Path:
    """Render a MIDI file to a 16-bit WAV with FluidSynth (no audio device needed), atomically.

    Raises AudioUnavailable when FluidSynth or the soundfont is missing, ValueError naming the file
    when the MIDI file is missing or FluidSynth fails on it.
    """
    midi_path, wav_path = Path(midi_path), Path(wav_path)
    exe = find_fluidsynth()
    font = find_soundfont(soundfont)
    if not midi_path.is_file():
        raise ValueError(f"{midi_path}: no such MIDI file to render")
    with atomic_path(wav_path) as tmp:  # (Ctrl-C, or another process rendering it too: no half WAV left, none mixed)
        command = [exe, "-ni", "-q", "-g", str(gain), "-r", str(sample_rate), "-T", "wav", "-F", str(tmp), str(font),
                   str(midi_path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as e:
            raise ValueError(f"{midi_path}: fluidsynth did not finish within {RENDER_TIMEOUT_S:.0f} s") from e
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ValueError(f"{midi_path}: fluidsynth failed (exit {done.returncode}): "
                             f"{' / '.join(detail) or 'no output'}")
        mark_wav(tmp)  # (made_here: plot --overwrite replaces it, never a recording of the user's)
    log.info("rendered %s", wav_path)
    return wav_path
