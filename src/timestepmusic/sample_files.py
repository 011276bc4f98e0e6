"""The files `tsm generate` writes: what each MIDI file says beside its notes (its text, key signatures and tempo
map, times in seconds), its name (sample_SEED_NNN.mid), and an earlier run's files with the same seed, refused or
replaced (--overwrite)."""
from __future__ import annotations

import logging
import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from .evaluate.made_here import PNG_SIGNATURE, RIFF, WAVE
from .files import named
from .keys import sharps
from .markers import made_by_marker
from .midi import Events, FileGrid
from .midi_write import FileMeta
from .setting_names import FLAGS, SettingNames, warn
from .tempo import beat_phase_s

if TYPE_CHECKING:
    from .generate_told import Told
    from .sequence.pulse import TempoTold
    from .sequence.tonal import KeyTold

log = logging.getLogger(__name__)


def piece_meta(text: str, told: Told, events: Events, length_s: float, continuation_only: bool = False) -> FileMeta:
    """What the file of one drawn piece says beside its notes, for `tsm generate` and generate() alike: `text` (how it
    was made: heard.made_by's command, or generate()'s line), the key signatures and tempo map of what was `told` (as
    spelt; after a prompt, the prompt's own grid under it), where the continuation of a prompt starts and the waypoints
    of the paths asked (heard.shape_marks). `events` and `length_s`: the piece as written (the seconds of its chunks;
    `continuation_only`: without its prompt, as --continuation-only writes it)."""
    from .heard import shape_marks

    asked = told.asked
    marks = shape_marks(asked.key, asked.tempo, asked.ramp, told.asked_from_s, length_s)
    continued_from_s = None if continuation_only or not told.prompt_s else told.prompt_s
    return written_meta(text, asked.key, asked.tempo, told.asked_from_s, length_s, events, told.key_spellings,
                        told.prompt_grid, continued_from_s, marks)


def written_meta(text: str, key: KeyTold | None, tempo: TempoTold | None, asked_from_s: float, end_s: float,
                 played: Events | None = None, spelled: list[str] | None = None,
                 grid: FileGrid | None = None, continued_from_s: float | None = None,
                 marks: tuple[tuple[float, str], ...] = ()) -> FileMeta:
    """What a generated file says beside its notes (midi_write.FileMeta): `text` (how it was made), the key signatures of
    the `key` asked (each as `spelled` by the user where given: Gb major with flats, F# major with sharps) and the
    tempo map of the `tempo` asked, both from `asked_from_s` (after a prompt) on. A steady tempo starts with one beat
    long enough (a pickup) that its beats fall where the notes `played` fall on average (tempo.beat_phase_s), so that a
    sequencer's grid lines sit under the piece's beat; a tempo that moves is written beat by beat from
    `asked_from_s`. Before `asked_from_s`, the prompt's own `grid` (midi.read_prompt: its tempos, time and key
    signatures; the caller cuts it where the prompt ends, prompt_grid.grid_until, or times it from there, prompt_grid.grid_from),
    going on where nothing else is asked; else 120 bpm throughout without a tempo asked. A file that begins with its
    prompt marks where the continuation starts, `continued_from_s`, and one asked along a path of keys, tempos or
    styles marks its waypoints, `marks` (heard.shape_marks; `tsm plot` draws both, as `--png` does)."""
    stretches = key.stretches() if key else []
    spelled = spelled if spelled is not None and len(spelled) == len(stretches) else [None] * len(stretches)
    keys = tuple((asked_from_s + at_s, sharps(asked, as_spelled), asked.minor)
                 for (at_s, asked), as_spelled in zip(stretches, spelled)
                 if asked_from_s + at_s < end_s or at_s == 0.0)  # (one asked after a piece that ended: not written)
    if grid is not None:  # (its key signatures up to a key asked, all of them where none is)
        keys = tuple(k for k in grid.keys if key is None or k[0] < asked_from_s) + keys
    if tempo is None:
        return (FileMeta(text, keys, grid.tempos, grid.meters, continued_from_s, marks) if grid else
                FileMeta(text, keys, continued_from_s=continued_from_s, marks=marks))
    before = [] if grid is None else [(at_s, bpm) for at_s, bpm in grid.tempos if at_s < asked_from_s]  # 0 s first
    meters = () if grid is None else tuple(meter for meter in grid.meters if meter[0] < asked_from_s)
    if grid is not None and grid.meters and not meters:  # (a continuation alone: the prompt's meter, its bars from
        meters = ((asked_from_s, *grid.meters[-1][1:]),)  # the tempo asked, not the prompt's pickup)
    tempos = before or ([(0.0, 120.0)] if asked_from_s > 0 or end_s <= 0 else [])
    at_s = asked_from_s
    if not tempo.later and played is not None:  # a pickup beat, so that the beats after it fall on the notes'
        beat_s = 60.0 / tempo.bpm
        phase_s = beat_phase_s(played, beat_s, asked_from_s)
        if phase_s is not None and phase_s > 1e-3:
            pickup_s = phase_s if phase_s >= beat_s / 2 else phase_s + beat_s  # (no faster than twice the tempo)
            tempos.append((at_s, round(60.0 / pickup_s, 2)))
            at_s += pickup_s
    while at_s < end_s:  # a beat at a time: each at the tempo asked where it starts
        bpm = round(tempo.at(at_s - asked_from_s).bpm, 2)
        if not tempos or tempos[-1][1] != bpm:
            tempos.append((at_s, bpm))
        if not tempo.later:
            break
        at_s += 60.0 / bpm
    return FileMeta(text, keys, tuple(tempos), meters, continued_from_s, marks)


def sample_name(seed: int, i: int, n: int) -> str:
    """The file name of piece `i` of `n` drawn with `seed`: numbered with as many digits as the largest needs (at
    least 3), so that a sorted listing keeps the pieces in order."""
    return f"sample_{seed}_{i:0{max(3, len(str(n - 1)))}d}.mid"


def seed_lock(seed: int) -> str:
    """The lock file (in the folder written into) that one process holds while it writes `seed`'s pieces there: the
    same for tsm generate and generate(), so that each refuses to mix its files with the other's."""
    return f".generate-seed{seed}.lock"


def earlier_samples(out: Path, seed: int, overwrite: bool, inputs: dict[str, str | Path | None] | None = None,
                    writes: Collection[Path] = (), only: list[Path] | None = None,
                    names: SettingNames = FLAGS) -> list[Path]:
    """The files an earlier run with this seed wrote into `out` (any -n, any kind: MIDI, PNG, WAV, named exactly as
    this tool names them: `sample_name`'s, a .png or .wav beside one), refused in one line unless `overwrite` (then the
    caller deletes them once the new pieces are drawn): nothing an earlier run wrote is silently replaced or mixed
    with this one, and nothing else is touched (a user's sample_0_000_edit.mid, a folder). A file this run reads
    (`inputs`: flag → path, e.g. the --prompt) among them is refused even so: --overwrite never deletes what it was
    given. A name this run `writes` that is a folder is refused before anything is drawn or deleted. With `only` (the
    files of the pieces written alone: --piece), the earlier files are only those among them: a piece's roll or audio
    that this run does not write again stays. Its messages name the command's flags, or generate()'s keywords (`names`).
    """
    ours = re.compile(rf"sample_{seed}_\d{{3,}}\.(mid|png|wav)")
    kept_to = None if only is None else set(only)
    taken = sorted(p for p in out.iterdir() if ours.fullmatch(p.name) and p.is_file()
                   and (kept_to is None or p in kept_to)) if out.is_dir() else []
    marked = {path for path in taken if path.suffix == ".mid" and made_by_marker(path) is not None}  # (read once)
    another = f"{names.name('out')} or {names.name('seed')}"
    for path in taken:  # --overwrite replaces what this tool wrote, never a file of the user's under its name
        if not written_here(path, marked):
            why = ("no marker of this tool's in it: a file of yours, or of a version before the markers"
                   if path.suffix == ".mid" else
                   f"not a {path.suffix[1:].upper()} file beside a MIDI file this tool wrote")
            raise ValueError(f"{path} is there already and is not a file tsm generate wrote ({why}): it is never "
                             f"replaced, with {names.name('overwrite')} or without; move it, or give another {another}")
    if taken and not overwrite:
        raise ValueError(f"{taken[0]} is there already ({len(taken)} file(s) of an earlier run with "
                         f"{names.given('seed', seed)}); give another {another}, or {names.name('overwrite')} to "
                         "replace them")
    resolved = {path.resolve() for path in taken}
    for flag, given in (inputs or {}).items():
        if given is not None and Path(given).resolve() in resolved:
            raise ValueError(f"{flag} {given}: a file of the earlier run with {names.given('seed', seed)} in {out}, "
                             f"which {names.name('overwrite')} would replace; copy it elsewhere first, or give another "
                             f"{another}")
    folders = {path for path in out.iterdir() if path.is_dir()} if out.is_dir() else set()  # (one listing, not a
    in_the_way = sorted(folders.intersection(writes))  # look at each name: a large -n writes many)
    if in_the_way:
        raise ValueError(f"{in_the_way[0]}: a folder where this run would write a file; move it, or give another "
                         f"{another}")
    return taken


def written_here(path: Path, marked: set[Path]) -> bool:
    """Whether a file named as generate names its files is one it writes: a MIDI file with its marker (made_by: those
    `marked`); a PNG or WAV file (by its first bytes, as evaluate.made_here reads them) beside such a MIDI file of its
    name (rolls and audio written before they carried made_here's mark are taken by that: one of the user's alone is
    theirs)."""
    if path.suffix == ".mid":
        return path in marked
    with open(path, "rb") as file:
        start = file.read(12)
    kind = start.startswith(PNG_SIGNATURE) if path.suffix == ".png" else start[:4] == RIFF and start[8:] == WAVE
    return kind and path.with_suffix(".mid") in marked


def replace_earlier(taken: list[Path], rewritten: set[Path], seed: int, names: SettingNames = FLAGS) -> dict[Path, str]:
    """--overwrite, once the new pieces' first are drawn: remove the earlier run's files `taken` (`earlier_samples`; a
    PNG or WAV of it would otherwise sit beside a new MIDI file), but a MIDI file this run writes again (`rewritten`),
    which its new one replaces in one step (a write that fails, on a full disk, leaves the old one), and name those
    this run does not write again. A report of `tsm evaluate` that describes any removed (there, or written elsewhere
    and recorded there) is marked out of date first, and said (evaluate.stale.mark_stale): kept, not removed, and not
    left to describe files that are gone. Returns each MIDI file written again → the SHA-1 of its earlier bytes, for
    mark_rewritten once the run has written it (the same seed and settings write the same bytes: a report of them
    stays as it is). The line names the command's flags, or generate()'s keywords (`names`)."""
    from .evaluate.stale import mark_stale, midi_sha1s

    again = [old for old in taken if old in rewritten and old.suffix == ".mid"]
    if taken:
        mark_stale(taken[0].parent, midi_sha1s([old for old in taken if old not in again]))
    sha1s = midi_sha1s(again)
    earlier = {old: sha1s[old.name] for old in again if old.name in sha1s}
    for old in taken:
        if old not in rewritten or old.suffix != ".mid":
            old.unlink()
    removed = [old for old in taken if old not in rewritten]
    if removed:
        warn(log, "%s: removed %d file(s) of the earlier run with %s that this run did not write again: %s",
             names.name("overwrite"), len(removed), names.given("seed", seed), named([path.name for path in removed]))
    return earlier


def mark_rewritten(earlier: dict[Path, str]) -> None:
    """Once a run has written its files (or stopped): a report of `tsm evaluate` that describes a file it wrote again
    with other bytes than `earlier`'s (replace_earlier's) marked out of date (evaluate.stale.mark_stale); one whose
    files were written again byte for byte (the same seed and settings), or not yet, is left as it is."""
    from .evaluate.stale import mark_stale, midi_sha1s

    now = midi_sha1s(list(earlier))
    changed = {path.name: sha1 for path, sha1 in earlier.items() if now.get(path.name) != sha1}
    if changed:
        mark_stale(next(iter(earlier)).parent, changed)
