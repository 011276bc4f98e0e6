"""The extras written beside a MIDI file that `tsm generate` / `tsm reconstruct` / `tsm plot` produce:
a piano-roll PNG (original over reconstruction when an original is given) and a WAV."""
from __future__ import annotations

from pathlib import Path

from ..markers import CONTINUATION
from ..midi import Events


def rendered_paths(midi_path: str | Path, *, png: bool = False, wav: bool = False,
                   png_path: str | Path | None = None) -> list[Path]:
    """Where `render_outputs` writes for these arguments: the roll (midi_path.with_suffix('.png'), or `png_path`)
    and the WAV beside it, of the same name."""
    roll = Path(png_path) if png_path is not None else Path(midi_path).with_suffix(".png")
    return ([roll] if png else []) + ([roll.with_suffix(".wav")] if wav else [])


def render_outputs(midi_path: str | Path, events: Events, *, png: bool = False, wav: bool = False,
                   original: Events | None = None, soundfont: str | Path | None = None,
                   png_path: str | Path | None = None, continuation_s: float | None = None,
                   marks: tuple[tuple[float, str], ...] = (), title: str | None = None,
                   span: tuple[float, float] | None = None) -> list[Path]:
    """Write midi_path.with_suffix('.png') (or `png_path`) and/or the '.wav' beside it; return the paths written. The roll
    marks `continuation_s`, where the continuation of a prompt starts, and each of `marks` (seconds, label); it is
    titled `title` (default: the file's name) and draws `span` (seconds from, to) alone where given.

    When audio is unavailable (no FluidSynth or soundfont) a warning with the install hint is logged
    (once per process) and the rest goes on: the MIDI file is already there.
    """
    midi_path = Path(midi_path)
    written: list[Path] = []
    if png:
        from .plots import plot_roll, plot_roll_pair

        (target,) = rendered_paths(midi_path, png=True, png_path=png_path)
        if original is not None:
            written.append(plot_roll_pair(original, events, target))
        else:
            labels: dict[float, list[str]] = {}  # those at one time in one label
            for mark_s, label in (((continuation_s, CONTINUATION),) if continuation_s else ()) + tuple(marks):
                labels.setdefault(mark_s, []).append(label)
            marked = tuple((mark_s, "; ".join(said)) for mark_s, said in sorted(labels.items()))
            written.append(plot_roll(events, target, title=title or midi_path.name, marks=marked, span=span))
    if wav:
        from .audio import AudioUnavailable, render_wav, warn_unavailable

        try:
            written.append(render_wav(midi_path, *rendered_paths(midi_path, wav=True, png_path=png_path), soundfont))
        except AudioUnavailable as e:
            warn_unavailable("no WAV files", e)
    return written
