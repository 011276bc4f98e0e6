"""`generate()`, the Python API of `tsm generate` (timestepmusic.generate): its arguments checked as the CLI's flags
are, the pieces drawn (draws.py) and written as MIDI files (sample_files.py) under the folder's lock."""
from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from .argtypes import PIECES_LIMIT, SEED_LIMIT, real, whole
from .devices import pick_device
from .draws import drawn_in_batches
from .files import held_folder
from .generate_told import Told
from .generation import GANModel
from .heard import made_version
from .midi import Events, FileGrid
from .midi_write import write_events
from .prompts import continued_prompt
from .sample_files import earlier_samples, mark_rewritten, piece_meta, replace_earlier, sample_name, seed_lock
from .sample_limits import arm_takes, check_piece_seconds
from .sequence.pulse import TempoTold
from .sequence.style_request import StyleRamp, check_held_request
from .sequence.tonal import KeyTold
from .setting_names import FLAGS, PYTHON_KEYWORDS, SettingNames, keyword_messages


def generate(out: str | Path, *, model: str | Path | GANModel | None = None, n: int = 8, seconds: float | None = None,
             seed: int = 0, device: str | None = None, snap_to_real: bool = True, overwrite: bool = False,
             pieces: Sequence[int] | None = None, max_seconds: float | None = None, **options) -> list[Path]:
    """Write `n` MIDI files into `out` from a model of any arch; the same `seed` gives the same files. `model`: a
    shipped model's name, a run folder, or a GANModel loaded already (one whose sampling settings
    generation.set_sampling changed, as `tsm generate --set ar.NAME=VALUE`; None: the default). `device`: where the
    model is loaded and draws ('cpu', 'cuda', 'cuda:N', 'auto'; None: 'cpu', or for a GANModel given, where it is
    loaded; another than that is refused: `check_loaded_device`). `seconds`
    is each piece's length (default 16), or for an arch that ends every piece itself (rnn), the longest one may run
    (default 120, as `max_seconds`); `max_seconds` (as --max-seconds): let each piece end where the model ends it,
    within this (rnn, ar, events models; ends=True). The same seed and settings draw the pieces `tsm generate` does
    (piece_length.py). `options`
    (likelihood arm): prompt=Events or a MIDI file, ends=bool, ending=bool (a model with ar.closing_s: a piece of
    `seconds` closes over its last seconds), temperature=float, mixture_temperature=float, and
    for the default style="density=6" (a dict is parse_style's: {"density": math.log1p(6)}), key="E minor",
    tempo=90 or "80 > 120", composer="Bach", like=a MIDI file, guidance=float (how closely style, like or composer is
    followed; None: the model's own) (`api_options`; GANModel.sample_latents); progress=a function, called with no
    arguments once per chunk drawn (of all the pieces drawn together at once: the chunks of a batch of up to
    draws.BATCH_PIECES, then of any piece drawn again), as `tsm generate`'s bar is fed; it changes nothing drawn, and
    only a model that draws chunk by chunk (ar, events) calls it. A piece without a note is drawn again
    (`written_pieces`). Files of an earlier run with the same seed in `out` are refused unless `overwrite`
    (`earlier_samples`), and so is a second generate writing the same seed into `out` meanwhile (the command's lock).
    `pieces`: write only these of the n (numbered as their files, from 0), the same notes as in the whole run
    (`drawn_in_batches`); an earlier run's other files are then neither refused nor removed. What `tsm generate` warns
    of (a length not whole chunks, a shape too short to be told, a piece without a note …) is a
    timestepmusic.GenerateWarning here, naming keywords; a keyword given a value of a kind it does not take
    (prompt=123, snap_to_real='no') is a ValueError naming it, before the model loads (`check_arguments`)."""
    check_api_options(options)  # (a misspelled one, before the model loads)
    check_arguments({"out": out, "model": model, "n": n, "seconds": seconds, "seed": seed, "device": device,
                     "snap_to_real": snap_to_real, "overwrite": overwrite, "max_seconds": max_seconds} | options)
    # (pieces=5: a TypeError; [1.5]: a format code's ValueError; an array: its truth's; []: 'none is not among the pieces')
    if pieces is not None:
        listed = list(pieces) if isinstance(pieces, Iterable) and not isinstance(pieces, (str, bytes)) else None
        if not listed or not all(whole(i) for i in listed):
            raise ValueError(f"pieces= must be a list of the pieces' numbers (whole numbers from 0), got {pieces!r}")
        pieces = [int(i) for i in listed]
    if max_seconds is not None and options.get("ends") is False:
        raise ValueError("max_seconds= lets each piece end where the model ends it; ends=False asks that none does: "
                         "give one")
    with held_folder(out, seed_lock(seed), f"{out}: another generate is writing seed {seed}'s pieces "
                     "into it now; wait for it to end, or give another folder or seed"):  # (the command's lock)
        with keyword_messages(api_keywords(), {"out": out, "model": model} | options):  # (what the shared code says: in
            # keywords, the paths given said as given)
            return _generated(Path(out), model, n, (seconds, max_seconds), seed, device, snap_to_real, overwrite,
                              pieces, options)


def check_loaded_device(gan: GANModel, device: str | torch.device | None) -> None:
    """generate(model=a GANModel, device=…): a device other than the one the model is loaded on is refused in one line
    (it was ignored, the pieces drawn where the model was). The model is not moved: it is the caller's, perhaps in
    use elsewhere, and its arm keeps its device beyond its weights (the device it was built for, its codebook and kept
    tensors), so that a move is not one safe step; loading it on the device is."""
    if device is None:
        return
    on = gan.ae.device
    asked = pick_device(str(device))  # (auto; a name that is not a device, or CUDA where there is none: its line, as
    # for a model loaded by name, not a call to load this one where it cannot be)
    if asked.type != on.type or asked.index not in (None, on.index):  # ('cuda' is the model's cuda:N)
        raise ValueError(f"device={str(device)!r}: the model given is already loaded on {on}; load it on the device "
                         f"asked (GANModel.load(NAME, device={str(device)!r})) or leave device out to draw where it is")


def api_keywords() -> list[str]:
    """generate()'s keyword arguments: its own and its options (GANModel.sample_latents'), each the name of one of
    `tsm generate`'s flags (setting_names.FLAGS)."""
    import inspect

    own = [name for name, p in inspect.signature(generate).parameters.items() if p.kind is p.KEYWORD_ONLY]
    return own + [name for name, p in inspect.signature(GANModel.sample_latents).parameters.items()
                  if p.kind is p.KEYWORD_ONLY and name != "progress"]


def check_arguments(given: Mapping[str, object]) -> None:
    """generate()'s arguments (or GANModel.sample()'s), keyword → value as given, refused in one line naming the
    keyword before the model loads: a count, seed or length the command would refuse as a flag (n=1.5, seed=-1,
    seconds='16'), and a value of a kind the keyword does not take (`TAKES`: prompt=123, composer=3, device=0),
    which was an AttributeError or TypeError from deep inside, or was taken for True (snap_to_real='no')."""
    if given.get("out") == "":  # (Path(''): the working folder, where the command refuses -o '')
        raise ValueError("out='': an empty name; give the folder to write into ('.' for the working folder)")
    for name in ("prompt", "like"):  # (Path(''): the working folder, 'cannot read: a folder'; the command refuses '')
        if given.get(name) == "":
            raise ValueError(f"{name}='': an empty name; give a MIDI file's path, or None")
    if "n" in given and not whole(given["n"]):
        raise ValueError(f"n must be a whole number from 1 to {PIECES_LIMIT:,}, got {given['n']!r}")
    if "n" in given and not 1 <= given["n"] <= PIECES_LIMIT:
        raise ValueError(f"n must be from 1 to {PIECES_LIMIT:,}, got {given['n']:,}")
    seed = given.get("seed", 0)
    if not (whole(seed) and 0 <= seed <= SEED_LIMIT):  # (as --seed: the sampler's streams are derived from it)
        raise ValueError(f"seed must be a whole number from 0 to {SEED_LIMIT}, got {seed!r}")
    for setting in ("seconds", "max_seconds"):
        if given.get(setting) is not None:
            check_piece_seconds(given[setting], setting, names=PYTHON_KEYWORDS)
    for name, value in given.items():
        if name in TAKES and not TAKES[name][0](value):
            raise ValueError(f"{name}= must be {TAKES[name][1]}, got {value!r}")
    if isinstance(given.get("style"), dict):  # (its attributes and their ranges: else the model's line, once drawing)
        check_held_request(given["style"], f"style={given['style']!r}")


def truth(value) -> bool:
    """Whether `value` is True or False (a bool or numpy's; not 0, 'no' or None)."""
    return isinstance(value, (bool, np.bool_))


def optional(*kinds: type, number: bool = False) -> Callable[[object], bool]:
    """Whether a value is None or of one of `kinds` (or with `number`, a number: `real`)."""
    return lambda value: value is None or isinstance(value, kinds) or (number and real(value))


def style_request(value) -> bool:
    """Whether `value` is a style generate() takes: text, a StyleRamp, or a request (a dict that is not empty: {} was
    an IndexError of torch's once drawing; its attributes and values: style_request.check_held_request), or None."""
    return bool(value) if isinstance(value, dict) else optional(str, StyleRamp)(value)


TAKES: dict[str, tuple[Callable[[object], bool], str]] = {  # keyword: (whether a value is of a kind it takes, that kind)
    "out": (lambda value: isinstance(value, (str, PathLike)), "a folder's path"),
    "model": (optional(str, PathLike, GANModel), "a shipped model's name, a run folder or a GANModel (None: the default)"),
    "device": (optional(str, torch.device), "a device's name ('cpu', 'cuda', 'cuda:N', 'auto'; None: cpu, or a GANModel's own)"),
    "snap_to_real": (truth, "True or False"),
    "overwrite": (truth, "True or False"),
    "prompt": (optional(str, PathLike, Events), "a MIDI file's path or Events"),
    "like": (optional(str, PathLike, Events), "a MIDI file's path or Events"),
    "ends": (lambda value: value is None or truth(value), "True, False or None (as the model does)"),
    "ending": (truth, "True or False"),
    "temperature": (optional(number=True), "a number (None: the model's own)"),
    "mixture_temperature": (optional(number=True), "a number (None: the model's own)"),
    "guidance": (optional(number=True), "a number (None: the model's own)"),
    "style": (style_request, "text ('density=6', 'loudness=45 > loudness=80'), a request as style_request.parse_style holds "
                             "it (attribute → number) or a StyleRamp"),
    "key": (optional(str, tuple, KeyTold), "a key as text ('E minor', 'C > G@8'), keys.parse_key's (tonic, minor) "
                                           "or a KeyTold"),
    "tempo": (optional(str, TempoTold, number=True), "beats per minute (90), a path as text ('80 > 120') or a TempoTold"),
    "composer": (optional(str), "a composer's name as text ('Bach')"),
    "progress": (lambda value: value is None or callable(value), "a function called with no arguments once per chunk "
                                                                 "drawn, or None"),
}


def _generated(out: Path, model: str | Path | GANModel | None, n: int, lengths: tuple[float | None, float | None],
               seed: int, device: str | None, snap_to_real: bool, overwrite: bool, pieces: Sequence[int] | None,
               options: dict) -> list[Path]:
    """`generate` within its folder's lock (`lengths`: its seconds and max_seconds, as given)."""
    chosen = chosen_pieces(pieces, n, PYTHON_KEYWORDS)
    names = {i: out / sample_name(seed, i, n) for i in chosen}
    taken = earlier_samples(out, seed, overwrite, writes=list(names.values()),  # (a prompt here is events, not a file)
                            only=None if pieces is None else list(names.values()), names=PYTHON_KEYWORDS)
    from .generate_told import say_nothing_to_snap

    if isinstance(model, GANModel):  # (a loaded one: not read again, nor moved)
        check_loaded_device(model, device)
    gan = model if isinstance(model, GANModel) else GANModel.load(model, device or "cpu")
    if not snap_to_real:
        say_nothing_to_snap(gan)
    seconds, options = api_length(gan, *lengths, options)
    told = api_told(gan, seconds, options)
    replaced, earlier = False, {}  # (earlier: replace_earlier's, the MIDI files written again → their old SHA-1)
    try:
        for first, latents, drawn in drawn_in_batches(gan, n, seconds, seed, snap_to_real,
                                                      only=None if pieces is None else chosen, **told.options):  # [T_s, L]
            if not replaced:  # (once the first pieces are drawn)
                earlier = replace_earlier(taken, set(names.values()), seed, PYTHON_KEYWORDS)
                replaced = True
            for j, events in enumerate(drawn):
                if first + j in names:  # (its made-by marker, so that overwrite= knows the file for this tool's)
                    length_s = latents[j].shape[0] * gan.ae.chunk_seconds  # the chunks written (a prompt included)
                    made = f"{made_version()}: generate() in Python, seed {seed}, piece {first + j} of {n}"
                    write_events(events, names[first + j], piece_meta(made, told, events, length_s))
    finally:
        mark_rewritten(earlier)  # (a report of a file written again with other bytes: out of date)
    return list(names.values())


def api_length(gan: GANModel, seconds: float | None, max_seconds: float | None, options: dict) -> tuple[float, dict]:
    """Each piece's length (s) and the options that draw it, as `tsm generate` decides them from --seconds and
    --max-seconds (piece_length.piece_seconds): a model that ends every piece itself (rnn) draws within 120 s (or
    `seconds`, its cap here as ever, or `max_seconds`), a tempered one (ar, events) given `max_seconds` ends each piece
    itself (ends=True) within it, another draws `seconds` (default 16). What the command says of the length, a
    GenerateWarning says (not whole chunks; a cap within which no piece ends itself)."""
    from .generate_told import say_cap_within_closing, say_ending_implied
    from .piece_length import ends_itself, piece_seconds, say_whole_chunks

    given = "--seconds" if max_seconds is None else "--max-seconds"  # (said as given: an rnn model's cap as seconds=)
    if arm_takes(gan.arm)["ends_always"] and max_seconds is None:  # (seconds=: the cap, as documented before
        seconds, max_seconds = None, seconds  # max_seconds= was)
    drawn_s = piece_seconds(gan, seconds, max_seconds, PYTHON_KEYWORDS)
    ends = ends_itself(gan, max_seconds)
    if seconds is not None or max_seconds is not None:  # (a default is whole chunks)
        say_whole_chunks(given, drawn_s, gan, at_most=ends)
    if ends:
        say_cap_within_closing(gan, drawn_s)
        if options.get("ending"):
            say_ending_implied(gan)
    if arm_takes(gan.arm)["tempered"] and ends:
        options = options | {"ends": True}
    return drawn_s, options


def check_api_options(options: dict, verb: str = "generate()") -> None:
    """generate()'s (or `verb`'s) `options`: a name GANModel.sample_latents does not take is a ValueError naming it (and
    the nearest it takes)."""
    import inspect

    known = [name for name, p in inspect.signature(GANModel.sample_latents).parameters.items()
             if p.kind is p.KEYWORD_ONLY]
    for name in options:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            raise ValueError(f"{verb}: no option {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                             + f"; it takes {', '.join(known)}")


def api_options(gan: GANModel, seconds: float, options: dict) -> dict:
    """generate()'s `options` as the CLI's flags read them: `prompt` and `like` a MIDI file's path or events (a prompt
    continued from its last sound, `continued_prompt`), `style`, `key` and `tempo` their text (`"density=6"`,
    `"loudness=45 > loudness=80"`, `"E minor > G@20"`, `"80 > 120"`) or parsed values."""
    return _read_options(gan, seconds, options)[0]


def api_told(gan: GANModel, seconds: float, options: dict) -> Told:
    """What each piece generate() draws is told, as `tsm generate` tells it from the same requests given as flags
    (generate_told.pieces_told): the model's options (`api_options`) and what each file says of them
    (sample_files.piece_meta: the tempo map and key signatures asked, each key as spelt, a prompt file's own grid
    under it, where its continuation starts and the waypoints of a path)."""
    from .generate_told import say_closing_all_through, say_unfollowed
    from .heard import Asked
    from .keys import typed_keys
    from .prompt_grid import grid_until
    from .prompts import prompt_span_s
    from .sequence.style_request import StyleRamp

    read, grid = _read_options(gan, seconds, options)
    if read.get("ending") and not read.get("ends"):
        say_closing_all_through(gan, seconds)
    if read.get("guidance") is not None:
        say_unfollowed(read["guidance"], read.get("style"), read.get("like"), read.get("composer"))
    key, style = read.get("key"), read.get("style")
    if key is not None and not isinstance(key, KeyTold):  # (as GANModel.sample_latents takes a single key)
        from .keys import check_key

        key = KeyTold(check_key(key))
    tempo = read.get("tempo")
    if tempo is not None and not isinstance(tempo, TempoTold):  # (a number of beats per minute)
        tempo = TempoTold(float(tempo))
    ramp = style if isinstance(style, StyleRamp) else None
    typed = options.get("key") if isinstance(options.get("key"), str) else None
    prompt_s = prompt_span_s(gan.ae, read.get("prompt"))
    asked = Asked(key, typed, tempo, ramp, style if ramp is None else None)
    return Told(read, asked, None if typed is None else typed_keys(typed), prompt_s, prompt_s,
                None if grid is None else grid_until(grid, prompt_s))


def _read_options(gan: GANModel, seconds: float, options: dict) -> tuple[dict, FileGrid | None]:
    """`api_options`, and the grid of a prompt given as a file (its tempos, time and key signatures: midi.read_prompt;
    None for one given as events, or none); what the command says of them (a shape too short to be told, a performance
    to walk shorter than the pieces), a GenerateWarning says."""
    from .generate_flags import parse_tempo_path
    from .generate_told import say_close_waypoints, style_told, walked_like_of
    from .keys import parse_key_path
    from .midi import read_events, read_prompt
    from .sequence.pulse import check_bpm

    options, grid = dict(options), None
    pedal_bins = gan.ae.config.events.pedal_bins
    if isinstance(options.get("like"), (str, Path)):
        try:
            like_name = Path(options["like"]).name
            options["like"], _ = read_events(options["like"], pedal_bins=pedal_bins)
        except ValueError as e:
            raise ValueError(PYTHON_KEYWORDS.given("like", e)) from None  # (like=FILE: why, as --like FILE says it)
        walked_like_of(options["like"], like_name, seconds, gan.ae.chunk_seconds)
    elif options.get("like") is not None:  # (events)
        walked_like_of(options["like"], "the performance given", seconds, gan.ae.chunk_seconds)
    if options.get("prompt") is not None:  # (as by the CLI: a pedal its file ends with down is held on)
        prompt, held = options["prompt"], ()
        if isinstance(prompt, (str, Path)):
            try:
                prompt, _, grid, held = read_prompt(prompt, pedal_bins=pedal_bins)
            except ValueError as e:
                raise ValueError(PYTHON_KEYWORDS.given("prompt", e)) from None  # (prompt=FILE: why)
        options["prompt"] = continued_prompt(prompt, gan.ae, path="prompt", held_ids=held)
    if isinstance(options.get("style"), str):
        options["style"], _ = style_told(options["style"], seconds, gan.ae.chunk_seconds)
    if isinstance(options.get("key"), str):
        options["key"] = KeyTold.timed(parse_key_path(options["key"], PYTHON_KEYWORDS), seconds, PYTHON_KEYWORDS)
    if isinstance(options.get("tempo"), str):
        options["tempo"] = TempoTold.timed(parse_tempo_path(options["tempo"], PYTHON_KEYWORDS), seconds, PYTHON_KEYWORDS)
        say_close_waypoints(options["tempo"], seconds, bool(options.get("ends")))
    elif options.get("tempo") is not None and not isinstance(options["tempo"], TempoTold):  # (beats per minute)
        check_bpm(float(options["tempo"]), PYTHON_KEYWORDS)
    return options, grid


def chosen_pieces(pieces: Sequence[int] | None, n: int, names: SettingNames = FLAGS) -> Sequence[int]:
    """The pieces of n to write (--piece): all of them (a range, not a list of n), or those given, each once and in
    order; one outside 0 … n − 1 is refused in one line (naming the command's flags, or generate()'s keywords:
    `names`)."""
    if pieces is None:
        return range(n)
    outside = [i for i in pieces if not 0 <= i < n]
    if outside or not pieces:
        shown = (f"{outside[0]} is" if len(outside) == 1 else f"{min(outside)} … {max(outside)} are" if outside
                 else "none is")
        raise ValueError(f"{names.name('pieces').removesuffix('=')}: {shown} not among the pieces of "
                         f"{names.given('n', n)}, numbered 0 to {n - 1} as their files "
                         f"(sample_SEED_{0:03d}.mid …)")
    return sorted(set(pieces))
