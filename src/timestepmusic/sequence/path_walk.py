"""A drawn piece walking the description path of a real performance (`ar.style_path`): a training performance's
(drawn from the model's paths, or with `--composer` one of that composer's), or with `--like` a file's.

Each piece starts somewhere in the paths (`start`) and is told, chunk by chunk, the walked attributes as the path
moves them and the rest held at its first chunk's (`told`); with ar.closing_path "ending" a closing is told its
performance's last passage; with ar.register_follow or ar.density_follow what each new chunk is told is moved against
what the piece played (register_follow.followed, `drawing`), which hears every chunk drawn (`heard`). The events arm
(sequence/events.py) makes one PathWalk per sample that walks a path and asks it what each chunk is told and which
pedals it keeps up (`unpressed`). Shapes: S pieces, C chunks, D attributes, K tracks, R rows.
"""
from __future__ import annotations

import logging
import math

import numpy as np
import torch

from ..ar_config import style_path_names
from ..batches import SetBatch
from ..midi import NUM_KEYS, Events
from .register_follow import FOLLOWED, DrawnKeySums, followed
from .style import AHEAD, PATH_HOP, PieceStyle
from .style_describe import performance_path
from .style_paths import StylePaths

log = logging.getLogger(__name__)


class PathWalk:
    """The paths the pieces being sampled walk, where each starts, and what each chunk of theirs was told."""

    def __init__(self, walking: StylePaths, start: torch.Tensor, walked: torch.Tensor, style: PieceStyle,
                 liked: bool, ending: bool, spread_pull: float = 0.0):
        self.walking = walking  # the paths walked: the model's, or --like's (`liked`)
        self.start, self.walked, self.style, self.liked = start, walked, style, liked  # [S], [D]: which move along it
        self.spread_pull = spread_pull  # ar.spread_pull: the share of the way the told spread moves to training's mean
        self.first = self.pulled(walking.tell(start, 0, 0))[:, 0]  # [S, D]: the description where each starts
        # with ar.closing_path "ending": what each closing is told, its performance's ending [S, D]
        self.ending = (torch.where(walked, self.pulled(walking.ending(start)[:, None])[:, 0], self.first)
                       if ending else None)
        self.rows: torch.Tensor | None = None  # the descriptions of its chunks from the first on [S, C, D]
        self.key_sums: DrawnKeySums | None = None  # ar.register_follow or ar.density_follow: the notes of the last 16 s
        self.followed_to = -1  # … and the last chunk whose description was told moved by them
        self.follow_bounds: tuple[torch.Tensor, torch.Tensor] | None = None  # … and what training descriptions span
        self.gains: dict[str, float] = {}  # … and the gain each attribute of FOLLOWED is followed at

    @classmethod
    def drawn(cls, n: int, chunks: int, rng: torch.Generator, *, paths: StylePaths | None, liked: StylePaths | None,
              composed: torch.Tensor | None, walked: torch.Tensor, style: PieceStyle, path_room: bool,
              ending: bool, spread_pull: float = 0.0, spread_trim: float = 0.0) -> PathWalk:
        """n pieces of `chunks` walking `walked` [D] of a real performance's path, from a random chunk on (`paths`;
        with ar.path_room, with room to walk the whole piece), of one of a composer's tracks `composed` [K] (each
        piece another, with room to walk), or of --like's path `liked` from its start (every attribute walked: its
        register too, chosen on validation: like_follow_41_validation_walk_*). A training performance's told spread
        is moved `spread_pull` of the way to training's mean (ar.spread_pull), and none starts from a passage whose
        spread lies in the `spread_trim` share of the narrowest or widest (ar.path_spread_trim); --like's is told as
        the file plays."""
        if paths is None and liked is None:
            raise ValueError("ar.style_path: this model keeps no description paths (style_paths.safetensors); "
                             "add them with `python -m timestepmusic.train.style_paths MODEL CORPUS`")
        if liked is not None:
            return cls(liked, torch.zeros(n, dtype=torch.float64), torch.ones_like(walked), style, True, ending)
        if composed is not None:
            start = paths.draw(n, rng, played=0.0, tracks=composed, distinct=True, room=math.ceil(chunks / PATH_HOP),
                               spread_trim=spread_trim)
        else:
            start = paths.draw(n, rng, played=0.0, room=math.ceil(chunks / PATH_HOP) if path_room else 0,
                               spread_trim=spread_trim)  # [S]
        return cls(paths, start, walked, style, False, ending, spread_pull)

    def pulled(self, rows: torch.Tensor) -> torch.Tensor:
        """Descriptions [S, C, D] told with their spread moved ar.spread_pull of the way to the mean of the training
        passages' (a passage with no note holds that mean already: the paths keep an undefined attribute as it): a
        piece told a narrow or wide passage's spread, which the key guidance pushes further, told a little nearer the
        middle."""
        if self.spread_pull == 0:
            return rows
        at = self.style.attributes.index("spread")
        mean = float(self.style.mean[at])
        rows = rows.clone()
        rows[..., at] += self.spread_pull * (mean - rows[..., at])
        return rows

    def follow(self, gains: dict[str, float], bounds_rows: torch.Tensor, device: torch.device) -> None:
        """ar.register_follow, ar.density_follow at `gains` (none: nothing followed): what each new chunk is told
        moved against what it played, held within what the rows [R, D] span (the training tracks' paths: --like walks
        one file's, whose own span would hold an attribute it keeps steady where it is; or the bank of passages)."""
        if not gains:
            return
        self.gains, self.key_sums, self.followed_to = gains, DrawnKeySums(self.start.shape[0], AHEAD, device), -1
        rows = bounds_rows.float().cpu()  # [R, D]
        self.follow_bounds = (torch.nan_to_num(rows, nan=torch.inf).amin(0),
                              torch.nan_to_num(rows, nan=-torch.inf).amax(0))  # [D] each

    def heard(self, sets: SetBatch) -> None:
        """The chunk each piece drew [S, N] (followed: heard)."""
        if self.key_sums is not None:
            self.key_sums.append(sets)

    def told(self, first: int, last: int, closing_at: torch.Tensor | None) -> torch.Tensor:
        """The descriptions of new chunks first … last [S, C, D]: the walked attributes along each piece's path, the
        others held at its first (each chunk's told once per sample: `rows`, read again by every later step and by
        the pedals kept up); a piece's chunks from `closing_at` [S] on (None: none closes) told its `ending`."""
        if self.rows is None or last >= self.rows.shape[1]:  # (grown to twice what is asked: a piece that
            told = self.pulled(self.walking.tell(self.start, 0, 2 * last + 1))  # ends itself runs on chunk by chunk)
            told = torch.where(self.walked, told, self.first[:, None])  # [S, 2 · last + 2, D]
            if self.rows is not None:  # the chunks told before keep what they were told (ar.register_follow)
                told[:, :self.rows.shape[1]] = self.rows
            self.rows = told
        told = self.rows[:, first:last + 1]  # [S, C, D]
        if self.ending is None or closing_at is None:
            return told
        closing = torch.arange(first, last + 1)[None] >= closing_at[:, None].cpu()  # [S, C]: a chunk of its closing
        return torch.where(closing[..., None], self.ending[:, None], told) if bool(closing.any()) else told

    def drawing(self, chunk: int, chunk_seconds: float) -> None:
        """Chunk `chunk` is drawn next: followed (ar.register_follow, ar.density_follow) and new, what it is told is
        moved against what the notes of the last AHEAD chunks played beside what the path asked of them
        (register_follow.followed), kept in `rows`: each later step, and a window read again, hears what the chunk
        was told when it was drawn."""
        if self.key_sums is None or chunk <= self.followed_to:
            return
        self.told(chunk, chunk, None)  # (grows rows to hold it)
        played = self.key_sums.played(chunk_seconds)
        heard_from = max(0, chunk - played.chunks)  # the first chunk heard: its description covers those heard
        asked = torch.where(self.walked, self.pulled(self.walking.tell(self.start, heard_from, heard_from))[:, 0],
                            self.first)  # [S, D]: as walked, never as moved by the follow
        attributes = self.style.attributes
        self.rows[:, chunk] = followed(self.rows[:, chunk], asked, played,
                                       {name: attributes.index(name) for name in FOLLOWED}, self.gains,
                                       *self.follow_bounds)
        self.followed_to = chunk

    def unpressed(self, told: torch.Tensor, pedals_as_told: str, kept_up: torch.Tensor | None) -> torch.Tensor | None:
        """Which pedals the pieces keep up at a chunk told `told` [S, D] → [S, 3] (None: none): as `sample` decides
        them for a held description (ar.pedals_as_told "all", or ar.soft_kept_up's chosen pieces `kept_up` [S]);
        --like's path: as asked, a pedal the file does not press in the passage ahead kept up."""
        unpressed = self.style.unpressed(told)  # [S, 3]
        if pedals_as_told == "all" or (self.liked and pedals_as_told != "none"):  # --like: the file's, as a request's
            return unpressed
        if kept_up is None:
            return None
        soft = unpressed[:, 2] & kept_up  # [S]
        return torch.stack([torch.zeros_like(soft), torch.zeros_like(soft), soft], dim=1)

    def labels(self, chunk_seconds: float) -> list[str] | None:
        """Which training performance each piece walks the path of, and from where ("Chopin Ballade 1 from 134 s";
        logged, `tsm generate -v`); None where the paths name none (or walk --like's)."""
        paths = self.walking
        if paths.labels is None or self.liked:
            return None
        track = paths.track_at(self.start)  # [S]
        from_s = (self.start - paths.starts[track]) * PATH_HOP * chunk_seconds  # [S]
        labels = []
        for i, (k, at_s) in enumerate(zip(track.tolist(), from_s.tolist())):
            composer, _, rest = paths.labels[k].partition("\t")
            title, _, file = rest.partition("\t")
            named = " ".join(x for x in (composer, title.replace("_", " "), f"({file})" if file else "") if x)
            named = named or f"training track {k}"
            labels.append(f"{named} from {at_s:.0f} s")  # (in seconds, as every time of tsm generate's lines)
            log.info("drawn piece %d of %d walks the path of %s", i, len(track), labels[-1])
        return labels


FOLLOWED_AS_PLAYED = "moves what a piece walking a performance's path is told against what it played"
WALK_SETTINGS = {  # ar.NAME: what it does, as a refusal says it, and whether --like's walk ignores it
    "register_follow": (FOLLOWED_AS_PLAYED, False),
    "density_follow": (FOLLOWED_AS_PLAYED, False),
    "spread_pull": ("moves the spread told a piece walking a training performance's path toward training's mean", True),
    "path_spread_trim": ("keeps pieces walking training performances' paths from starting at the narrowest and widest "
                         "passages", True)}


def walk_setting_refused(setting: str, value: float, styled: bool, prompted: bool, liked: bool) -> None:
    """`tsm generate --set ar.NAME` (`setting` of WALK_SETTINGS, at `value` > 0) for pieces that walk no path it acts
    on, which would silently ignore it: asked a `--style` (`styled`), continuing a `--prompt` (`prompted`), walking
    --like's file where the setting ignores it (`liked`: told as it plays), or else of a model set to walk none:
    ValueError in one line."""
    given, why = f"--set ar.{setting}={value:g}", f"ar.{setting} {WALK_SETTINGS[setting][0]}"
    if styled:
        raise ValueError(f"{given} and --style: give one ({why}; a piece asked a --style walks none)")
    if prompted:
        raise ValueError(f"{given}: a continued --prompt is told its own character and walks no performance's path "
                         f"({why}); leave it out")
    if liked:
        raise ValueError(f"{given} and --like: give one ({why}; --like walks your file's path, told as it plays)")
    raise ValueError(f"{given}: this model's pieces walk no performance's path (ar.style_path none, or ar.style_drawn "
                     f"false; {why}); leave it out")


def follow_gains(register_follow: float, density_follow: float) -> dict[str, float]:
    """ar.register_follow and ar.density_follow: the gain each attribute of FOLLOWED is followed at (none: {})."""
    gains = {"register": register_follow, "spread": register_follow, "density": density_follow}
    return {name: gain for name, gain in gains.items() if gain > 0}


def walked_attributes(style_path: str, names: tuple[str, ...] | list[str]) -> torch.Tensor | None:
    """ar.style_path (checked by the config) as a mask over the description's attributes `names` [D]; None: "none",
    every one held."""
    if style_path == "none":
        return None
    chosen = names if style_path == "all" else style_path_names(style_path)
    return torch.tensor([name in chosen for name in names])


DEFAULT_WALKED = "loudness,density,damper,half_pedal"  # (the shipped default's ar.style_path: what a hint offers)


def check_walks(flag: str, style_drawn: bool, walked: torch.Tensor | None) -> None:
    """A request to walk a path (`flag`) of a model set not to walk one (ar.style_drawn false, or none `walked`):
    ValueError in one line."""
    if not style_drawn or walked is None:
        setting = "ar.style_drawn=true" if not style_drawn else f"ar.style_path={DEFAULT_WALKED}"
        raise ValueError(f"{flag}: this model is set to walk no performance's path (ar.style_path none or "
                         "ar.style_drawn false); the shipped default walks one (and events-onsets, events-v28), or give "
                         f"--set {setting}")


def composer_tracks(paths: StylePaths | None, composer: str) -> torch.Tensor:
    """`--composer`: which tracks of the description `paths` [K] are that composer's (StylePaths.tracks_of); a model
    without paths: ValueError in one line."""
    if paths is None:
        raise ValueError("--composer: this model keeps no description paths (style_paths.safetensors); add them "
                         "with `python -m timestepmusic.train.style_paths MODEL CORPUS`")
    return paths.tracks_of(composer)


def like_path(like: Events, style: PieceStyle, chunk_seconds: float, style_pause: bool) -> StylePaths:
    """`--like`: the path of the performance `like` (its events) as one track (style_describe.performance_path); a
    performance without a note: ValueError in one line."""
    if not (like.ids < NUM_KEYS).any():
        raise ValueError("--like: the performance holds no note; there is no path to walk")
    return performance_path(from_first_note(like), chunk_seconds, style.mean.cpu(), style_pause)


def request_refused(composer: bool, like: bool, styled: bool, prompted: bool) -> None:
    """A path asked to be walked (a `composer`'s, a performance's to be walked `like`) with the other, a `--style`
    (`styled`) or a `--prompt` (`prompted`): ValueError in one line."""
    if composer and like:
        raise ValueError("--like and --composer: give one (--like walks the performance you give, --composer one of "
                         "that composer's)")
    flag = "--composer" if composer else "--like"
    if styled:
        raise ValueError(f"{flag} and --style: give one ({flag} tells each piece the path of a real performance: its "
                         "loudness, density and pedalling passage by passage; --style asks one)")
    if prompted:
        raise ValueError(f"{flag}: a continued --prompt is told its own character; {flag} is for new pieces")


def closing_path_refused(styled: bool, prompted: bool) -> None:
    """ar.closing_path "ending" (a closing told the last passage of the performance whose path a piece walks) for a
    piece that walks none, which would silently ignore it: one asked a `--style` (`styled`), one continuing a
    `--prompt` (`prompted`), or else one of a model that walks no path: ValueError in one line."""
    told = "whose last passage ar.closing_path=ending tells a closing"
    if styled:
        raise ValueError(f"--set ar.closing_path=ending and --style: give one (a piece asked a --style walks no "
                         f"performance's path, {told})")
    if prompted:
        raise ValueError(f"--set ar.closing_path=ending: a continued --prompt is told its own character and walks no "
                         f"performance's path, {told}; leave it out")
    raise ValueError(f"--set ar.closing_path=ending: this model's pieces walk no performance's path (ar.style_path none, "
                     f"or ar.style_drawn false), {told}; leave it out")


def from_first_note(performance: Events) -> Events:
    """A performance from its first note on: times shifted so that it starts at 0 s, a pedal pressed before it cut
    there (a recording's silent lead-in is not a passage to walk)."""
    notes = performance.ids < NUM_KEYS
    first_s = float(performance.start_s[notes].min())
    end_s = performance.start_s + performance.duration_s
    kept = np.flatnonzero(end_s > first_s)  # [E']
    start_s = np.maximum(performance.start_s[kept] - first_s, 0.0)
    return Events(performance.ids[kept], start_s, end_s[kept] - first_s - start_s, performance.intensity[kept],
                  performance.end_s - first_s).sorted()
