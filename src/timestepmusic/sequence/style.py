"""A piece's character as a condition (`ar.style`): at every chunk the transformer reads a few numbers that say
how the next AHEAD chunks (16 s) are played (register, spread, density, loudness, stepwise motion, damper, half
pedal, soft pedal), and sampling draws those numbers once per piece from real training passages and holds them.

Why: the pieces a teacher-forced model draws are averages. A real 16 s excerpt commits to a texture (pedalled
throughout or dry, high or low, dense or sparse); drawn ones sit near the middle of each (damper-down share
0.79 ± 0.16 against 0.75 ± 0.26 real over 60 s, docs/quality.md), and over 60 s they drift, since nothing holds
them to what they began as. Told what comes next at every chunk, the network cannot learn the description from
the past it reads (as it could a description of its whole window, the first version of this: followed only in
part), so it learns to follow it; and the same numbers, held, steer the whole of a long piece. Within a track's
last 16 s a step is told those last 16 s, most of them already read: a full passage, as sampling always holds,
rather than one that shrinks to the chunk it predicts.
In training each chunk's description comes from the corpus's events (running sums, `StyleGatherer`); in sampling
each piece draws one row of `PieceStyle.bank`, the descriptions of BANK training passages kept in the model's
weights, so a shipped model samples without the corpus. Sampling draws only passages that hold a note: one with
none (16 s without a note: 0.7 % of the default's bank), held for a whole piece, kept it silent throughout. A tenth
of the training windows read no description (`STYLE_DROPOUT`), so the model also plays without one (a continued
prompt, with ar.prompt_told false); a continued prompt is otherwise told the description of its own last AHEAD
chunks (`describe_passage`, the same sums as training's). The projection starts at zero, so a warm start is at
first exactly the model it came from. With ar.style_pause a ninth attribute, the passage's longest pause (`PAUSE`),
has a projection of its own, also starting at zero.
Shapes: B windows, T steps, R chunk rows, E corpus events, D attributes (8, or 9 with the pause), W width, S pieces,
K = AHEAD chunks, P played passages of the bank.
"""
from __future__ import annotations

import difflib
import logging
import numbers
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import torch
from torch import nn

from ..ar_config import STYLE_ATTRIBUTES, STYLE_PAUSE
from ..batches import ChunkGatherer
from ..chunks import count_chunks
from ..midi import NUM_KEYS, Events
from ..setting_names import warn
from ..waypoints import parse_waypoints, spaced
from .windows import SequenceSampler

log = logging.getLogger(__name__)

ATTRIBUTES, PAUSE = STYLE_ATTRIBUTES, STYLE_PAUSE  # (config.py holds them: ar.style_path names them)
ASKABLE = ATTRIBUTES + (PAUSE,)  # what `--style` may name (the pause: of a model trained with it)
ASKABLE_WORDS = ", ".join(ATTRIBUTES) + f" (and {PAUSE}, of a model trained with ar.style_pause: events-pause)"  # as said
LOGGED = ("density", PAUSE)  # held as ln(1 + the value in its users' units)
UNITS = {"register": "the notes' mean pitch: a MIDI note (60) or name (C4, F#5, Bb3)",
         "spread": "the notes' standard deviation of pitch, semitones", "density": "notes per second",
         "loudness": "the notes' mean velocity, 1-127, or a dynamic mark, ppp to fff",
         "stepwise": "share of notes within 2 semitones of the one before",
         "damper": "share of time the damper is down", "half_pedal": "share of damper time at half depth",
         "soft": "share of time the soft pedal is down",
         PAUSE: "the longest stretch with no note starting, seconds (models trained with ar.style_pause)"}
# each attribute's range as --style takes it (a share: [0, 1]; the register: a piano's keys, `_described_value`); a
# pause within a passage of AHEAD chunks: 16 s
USERS_BOUNDS = {"spread": (0.0, 44.0), "density": (0.0, 60.0), "loudness": (1.0, 127.0), PAUSE: (0.0, 16.0)}
# loudness asked as a dynamic mark: the velocity notation programs play it at (MuseScore's defaults, and the common
# MIDI convention); the corpus's performances average 61, between p and mp
DYNAMICS = {"ppp": 16, "pp": 33, "p": 49, "mp": 64, "mf": 80, "f": 96, "ff": 112, "fff": 127}
NEAREST = 32  # a request picks among this many bank descriptions nearest to it, for the attributes not asked
NOTE_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
AHEAD = 64  # chunks a description covers, from the chunk it is read at on (16 s; a track's last 16 s near its end)
BANK = 4096  # training passages whose descriptions sampling draws from
FLATTENED = 0.6  # a path of requests told less than this share of the range it asks is warned of
PATH_HOP = 16  # chunks between the descriptions a track's path keeps (4 s; told between them: the two blended)
STYLE_DROPOUT = 0.1  # share of training windows that read no description
DAMPER_ID, SOFT_ID = NUM_KEYS, NUM_KEYS + 2
HALF_DEPTH = 96  # a damper event of at most this intensity is half pedal (as tsm evaluate's half_pedal_share)
STEP = 2  # semitones: consecutive notes at most this far apart move stepwise


class PieceStyle(nn.Module):
    """Descriptions [B, D] (as `StyleGatherer` makes them) → an offset to every position's input [B, W]."""

    def __init__(self, width: int, pause: bool = False):
        super().__init__()
        self.attributes = ATTRIBUTES + ((PAUSE,) if pause else ())
        d = len(self.attributes)
        self.project = nn.Linear(len(ATTRIBUTES) + 1, width, bias=False)  # the first eight and a 1: "described"
        nn.init.zeros_(self.project.weight)
        self.project_pause = nn.Linear(1, width, bias=False) if pause else None  # its own: a warm start fits
        if self.project_pause is not None:
            nn.init.zeros_(self.project_pause.weight)
        self.register_buffer("bank", torch.zeros(BANK, d))  # saved: what sampling draws from
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))

    def fill_bank(self, described: torch.Tensor) -> None:
        """Keep BANK descriptions [BANK, D] of training windows, and their mean and spread for standardising; an
        undefined attribute (NaN) is kept as the mean, which reads the same."""
        self.mean.copy_(described.nanmean(0).nan_to_num(0.0))
        spread = (described - self.mean).pow(2).nanmean(0).sqrt().nan_to_num(1.0)  # [D]
        self.std.copy_(spread.clamp(min=1e-3))
        self.bank.copy_(torch.where(described.isnan(), self.mean, described))

    def played(self) -> torch.Tensor:
        """Which of the bank's passages hold a note [BANK] (all, where none does). Training tells a silent passage
        for at most 16 s; sampling holds one description for the whole piece, so it draws only these."""
        played = self.bank[:, ATTRIBUTES.index("density")] > 0  # [BANK]
        return played if played.any() else torch.ones_like(played)

    def draw(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """n descriptions [S, D] drawn from the bank; a silent pick is drawn again among the played passages, so
        that a seed's other pieces are told what they were told before that rule."""
        picks = torch.randint(BANK, (n,), generator=rng)  # [S]
        played = self.played().cpu()  # [BANK]
        silent = ~played[picks]  # [S]
        if silent.any():
            kept = torch.nonzero(played).squeeze(1)  # [P]
            picks[silent] = kept[torch.randint(kept.numel(), (int(silent.sum()),), generator=rng)]
        return self.bank[picks.to(self.bank.device)]

    def choose(self, n: int, rng: torch.Generator, request: dict[str, float]) -> torch.Tensor:
        """n descriptions [S, D] as asked (`parse_style`): the asked attributes exactly, the others those of one of
        the NEAREST played bank descriptions to what was asked, or of any as near as the NEAREST-th (so that they
        go together as in real playing)."""
        columns, wanted = self.asked_columns(request)  # [A] each
        bank = self.bank[self.played()]  # [P, D]
        distance = (((bank[:, columns] - wanted) / self.std[columns]) ** 2).sum(1)  # [P]
        # the NEAREST nearest, and every passage as near as the last of them: where more than NEAREST match a
        # request exactly (damper=0: 94 of the default's bank), all of them, not whichever the sort lists first
        within = distance.kthvalue(min(NEAREST, len(bank))).values
        near = torch.nonzero(distance <= within).squeeze(1)  # [at least NEAREST]
        rows = bank[near[torch.randint(near.numel(), (n,), generator=rng).to(near.device)]].clone()  # [S, D]
        rows[:, columns] = wanted
        return rows

    def asked_of(self, described: torch.Tensor, request: dict[str, float]) -> torch.Tensor:
        """Descriptions [S, D] with the attributes a request asks set as asked, the others kept (a continued prompt's
        own: what is not asked goes on as the player played it)."""
        columns, wanted = self.asked_columns(request)  # [A] each
        rows = described.clone()  # [S, D]
        rows[:, columns] = wanted.to(rows)
        return rows

    def asked_columns(self, request: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor]:
        """A request's attributes' columns [A] and values [A], or ValueError naming one the model does not follow."""
        for name in request:  # (a request given as a dict, not parse_style's, may name anything)
            if name not in self.attributes:
                why = "this model was not trained with ar.style_pause" if name == PAUSE else f"no attribute {name!r}"
                raise ValueError(f"--style {name}: {why}; it follows {', '.join(self.attributes)}")
        columns = torch.tensor([self.attributes.index(name) for name in request])  # [A]
        return columns, torch.tensor(list(request.values()), dtype=self.bank.dtype, device=self.bank.device)

    def unpressed(self, described: torch.Tensor, asked: dict[str, float] | None = None) -> torch.Tensor:
        """Which pedals (damper, sostenuto, soft) descriptions [S, D] say are never down [S, 3]: the damper and the
        soft pedal where their share is zero (ar.pedals_as_told), only those a request `asked` names where given
        (the rest of an asked description comes from a bank passage near it: not what the user asked); the
        sostenuto, which no description holds, never."""
        damper, soft = ((described[:, self.attributes.index(name)] == 0) & (asked is None or name in asked)
                        for name in ("damper", "soft"))  # [S] each
        return torch.stack([damper, torch.zeros_like(damper), soft], dim=1)

    def forward(self, described: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Descriptions [B, D] (one per piece) or [B, T, D] (one per step), NaN where undefined (no notes, no
        damper; all NaN: untold) → offsets [B, W] or [B, T, W]; None: untold for any row (zeros [B, W])."""
        if described is None:
            return self.project.weight.new_zeros(batch, self.project.out_features)
        told = ~described.isnan().all(-1, keepdim=True)  # [B, (T,) 1]
        z = ((described - self.mean) / self.std).nan_to_num(0.0) * told  # [B, (T,) D]
        first = len(ATTRIBUTES)
        offset = self.project(torch.cat([z[..., :first], told.float()], -1))  # [B, (T,) 9] → [B, (T,) W]
        if self.project_pause is not None:
            offset = offset + self.project_pause(z[..., first:])  # [B, (T,) 1] → [B, (T,) W]
        return offset

    def drop(self, described: torch.Tensor) -> torch.Tensor:
        """Training: STYLE_DROPOUT of the windows of described [B, T, D] made untold (global RNG)."""
        dropped = torch.rand(described.shape[0], device=described.device) < STYLE_DROPOUT  # [B]
        return described.masked_fill(dropped[:, None, None], float("nan"))


class StylePaths(nn.Module):
    """The descriptions real performances move through (`ar.style_path`): every training track's description of the
    AHEAD chunks from every PATH_HOP-th chunk on, rows [R, D] (float16: 2 bytes an attribute), track by track, and
    where each track's rows begin [K + 1]. A piece is told the path of one track from a random chunk on: at chunk c
    the two rows nearest it blended, past the track's end its last row held.
    Shapes: S pieces, C chunks told, R rows, K tracks, D attributes."""

    def __init__(self, rows: torch.Tensor, starts: torch.Tensor, labels: list[str] | None = None):
        super().__init__()
        self.register_buffer("rows", rows.detach().cpu().to(torch.float16))  # [R, D]: sampling reads it on the CPU
        self.register_buffer("starts", starts.detach().cpu().long())  # [K + 1]
        # each track's "composer<TAB>title<TAB>file" (`track_label`), kept as UTF-8 bytes, one line a track; None: unknown
        self.labels = labels
        self.said_fuller: set[str] = set()  # the composers asked that were said to be known by a shorter name
        if labels is not None:
            if len(labels) != starts.numel() - 1:
                raise ValueError(f"style_paths: {len(labels)} track labels for {starts.numel() - 1} tracks")
            text = "\n".join(labels).encode()
            self.register_buffer("track_labels", torch.tensor(list(text), dtype=torch.uint8))

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> "StylePaths":
        """From the tensors of style_paths.safetensors; anything else: ValueError in one line."""
        rows, starts = state.get("rows"), state.get("starts")
        if (rows is None or starts is None or rows.dim() != 2 or starts.dim() != 1 or starts.numel() < 2
                or int(starts[0]) != 0 or int(starts[-1]) != rows.shape[0] or bool((starts.diff() <= 0).any())):
            raise ValueError("style_paths: not description paths (rows [R, D] and increasing track starts [K + 1] "
                             "ending at R)")
        labels = state.get("track_labels")
        if labels is not None:
            try:
                labels = bytes(labels.to(torch.uint8).tolist()).decode().split("\n")
            except UnicodeDecodeError:
                raise ValueError("style_paths: track_labels are not UTF-8 text") from None
        return cls(rows, starts, labels)

    def composers(self) -> dict[str, int]:
        """How many tracks each composer's performances are of, most first ({} where the labels are unknown)."""
        counts: dict[str, int] = {}
        for label in self.labels or ():
            composer = label.partition("\t")[0]
            if composer:
                counts[composer] = counts.get(composer, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def tracks_of(self, composer: str) -> torch.Tensor:
        """Which tracks [K] are performances of `composer` (its name in any case, with or without accents, fuller or its
        surname alone where that names one); a name the labels do not hold, or paths without labels: ValueError in one
        line that lists those there are."""
        known = self.composers()
        if not known:
            raise ValueError(f"--composer {composer}: this model's description paths name no composer: its corpus "
                             "named none (a folder of MIDI files names none; MAESTRO and ASAP do), or its paths were "
                             "written before they kept names (then, with the MAESTRO or ASAP corpus it was trained on: "
                             "`python -m timestepmusic.train.style_paths MODEL CORPUS --relabel`)")
        wanted = folded(composer)
        if not wanted:
            raise ValueError("--composer: give a composer's name; this model knows " + ", ".join(known))
        names = {folded(name): name for name in known}
        fuller = [name for name in names if re.search(rf"\b{re.escape(name)}\b", wanted)]  # 'J.S. Bach' of 'Bach'
        surname = [name for name in names if name.endswith(f" {wanted}") and "/" not in name]  # 'Chopin' of MAESTRO's
        if wanted not in names and len(fuller) == 1:  # the model cannot tell whether its 'Bach' is the one asked
            if composer not in self.said_fuller:  # (said once: a request is drawn batch by batch)
                self.said_fuller.add(composer)
                warn(log, "--composer %s: this model knows no fuller name than %s (%d performances); "  # ('C.P.E. Bach')
                     "playing in the manner of those", composer.strip(), names[fuller[0]], known[names[fuller[0]]])
            wanted = fuller[0]
        if wanted not in names and len(surname) == 1:  # 'Frédéric Chopin' (not of 'Franz Schubert / Franz Liszt', a
            wanted = surname[0]  # transcription)
        if wanted not in names and len(surname) > 1:  # ('Bach': J.S. Bach's and C.P.E. Bach's; one is not picked)
            raise ValueError(f"--composer {composer}: the surname of more than one composer this model was trained on: "
                             + ", ".join(f"{names[name]} ({known[names[name]]})" for name in surname)
                             + "; give one's full name")
        if wanted not in names:
            near = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.7)
            said = f"did you mean {names[near[0]]}? " if near else ""
            raise ValueError(f"--composer {composer}: not one this model was trained on; {said}it knows "
                             + ", ".join(f"{name} ({k})" for name, k in known.items()) + " (performances of each)")
        return torch.tensor([folded(label.partition("\t")[0]) == wanted for label in self.labels])

    def track_at(self, start: torch.Tensor) -> torch.Tensor:
        """Starting points [S] (from `draw`) → the track each lies in [S]."""
        return torch.searchsorted(self.starts, start.floor().long(), right=True) - 1

    def draw(self, n: int, rng: torch.Generator, played: float, tracks: torch.Tensor | None = None,
             room: int = 0, distinct: bool = False, spread_trim: float = 0.0) -> torch.Tensor:
        """n starting points [S] (in rows: chunk ÷ PATH_HOP): a row drawn uniformly among those whose description
        holds a note (density above `played`), of the `tracks` [K] marked where given (`tracks_of`), and a chunk
        within its hop (a track's last row may be shorter: such a start holds that row); a piece's track is the one
        its start lies in. With `room`, only rows followed by at least that many of their track (where there are
        any), so that a piece of that many rows does not run past its performance's end; with `distinct`, each
        piece from a track no other piece walks, while there are such (`tsm generate --composer`); with
        `spread_trim`, not from the rows whose spread lies in that share of the lowest or of the highest of those
        left (ar.path_spread_trim)."""
        density = self.rows[:, ATTRIBUTES.index("density")].float()  # [R]
        of_track = torch.repeat_interleave(torch.arange(self.starts.numel() - 1), self.starts.diff())  # [R]
        allowed = torch.ones(self.rows.shape[0], dtype=torch.bool) if tracks is None else tracks[of_track]  # [R]
        if room > 0:
            left = self.starts[of_track + 1] - torch.arange(self.rows.shape[0])  # [R]: rows from it to its track's end
            roomy = allowed & (left >= room)
            allowed = roomy if roomy.any() else allowed
        kept = torch.nonzero((density > played) & allowed).squeeze(1)  # [R']
        kept = kept if kept.numel() else torch.nonzero(allowed).squeeze(1)
        if spread_trim > 0:
            kept = middle_spread(kept, self.rows[:, ATTRIBUTES.index("spread")].float(), spread_trim)
        if not distinct:
            row = kept[torch.randint(kept.numel(), (n,), generator=rng)]  # [S]
        else:
            rows, used = [], torch.zeros(self.starts.numel() - 1, dtype=torch.bool)  # [K]: tracks walked already
            for _ in range(n):
                fresh = kept[~used[of_track[kept]]]  # [R'']: rows of tracks no piece walks yet
                pool = fresh if fresh.numel() else kept
                if not fresh.numel():
                    used[:] = False  # (more pieces than tracks: each track again)
                rows.append(pool[torch.randint(pool.numel(), (1,), generator=rng)])
                used[of_track[rows[-1]]] = True
            row = torch.cat(rows)  # [S]
        phase = torch.randint(PATH_HOP, (n,), generator=rng) / PATH_HOP  # [S]: a chunk within the row's hop
        return row.double() + phase.double()

    def ending(self, start: torch.Tensor) -> torch.Tensor:
        """Pieces starting at `start` [S] (from `draw`) → the description of their tracks' last rows [S, D]: each
        track's last passage, as training tells a track's last chunks (ar.closing_path "ending")."""
        final = self.starts[self.track_at(start) + 1] - 1  # [S]
        return self.rows[final].float()  # [S, D]

    def tell(self, start: torch.Tensor, first: int, last: int) -> torch.Tensor:
        """Pieces starting at `start` [S] (from `draw`) → the descriptions of their chunks first … last [S, C, D]."""
        track = self.track_at(start)  # [S]
        final = (self.starts[track + 1] - 1)[:, None]  # [S, 1]: the track's last row
        at = start[:, None] + torch.arange(first, last + 1, dtype=torch.float64) / PATH_HOP  # [S, C]
        low = at.floor().long()  # [S, C]
        blend = (at - low).clamp(0, 1).where(low < final, torch.zeros_like(at))[..., None].float()  # [S, C, 1]
        low = low.clamp(max=final)
        high = (low + 1).clamp(max=final)
        rows = self.rows.float()
        return rows[low] * (1 - blend) + rows[high] * blend  # [S, C, D]


class StyleGatherer:
    """Descriptions of real windows from a ChunkGatherer's corpus: running sums along the corpus's events,
    differenced at each window's ends."""

    def __init__(self, gatherer: ChunkGatherer, pause: bool = False):
        self.g, self.pause = gatherer, pause  # pause: also each passage's longest pause (ar.style_pause)
        track = torch.floor(gatherer.key / gatherer.stride_s).long()  # [E]
        per_event = event_sums(gatherer.ids.long(), gatherer.intensity, gatherer.duration_s, track)  # [E, SUMS]
        self.running = torch.cat([per_event.new_zeros(1, SUMS), per_event.cumsum(0)])  # [E + 1, SUMS]: before each

    def describe(self, track: torch.Tensor, chunk: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        """Chunks chunk … chunk + length − 1 [B] of track `track` [B] → their descriptions [B, D] (NaN where
        undefined)."""
        begin = self.g.first_event_at(track, chunk)  # [B]
        end = self.g.first_event_at(track, chunk + length)
        described = described_by_sums(self.running[end] - self.running[begin], length.double() * self.g.chunk_seconds)
        if self.pause:
            described = torch.cat([described, torch.log1p(self.longest_pause_s(track, chunk, length))[:, None]], 1)
        return described.float()  # [B, D]

    def longest_pause_s(self, track: torch.Tensor, chunk: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        """The longest stretch of whole chunks in which no note starts, among chunks chunk … chunk + length − 1
        [B] of track `track` [B] (length ≤ AHEAD), in seconds [B]; a passage with no note: its whole length."""
        k = torch.arange(AHEAD + 1, device=chunk.device)  # [K + 1] chunk boundaries
        bounds = self.g.first_event_at(track[:, None].expand(-1, AHEAD + 1), chunk[:, None] + k)  # [B, K + 1]
        struck = self.running[bounds, 0].diff(dim=1) > 0  # [B, K]: a note starts in chunk k
        return longest_pause_chunks(struck, length).double() * self.g.chunk_seconds

    def ahead(self, rows: torch.Tensor, locate) -> torch.Tensor:
        """Global chunk rows [B, T] → the description of the AHEAD chunks from each on [B, T, D]; within a track's
        last AHEAD chunks, of those last AHEAD chunks (of the whole track, where it is shorter), so that a step is
        always told a full passage, as sampling tells it, and never one that shrinks to the chunk it predicts;
        `locate`: global chunk rows → (track, chunk)."""
        b, t = rows.shape
        track, chunk = locate(rows.reshape(-1))  # [B·T] each
        chunks = self.g.track_chunks[track]  # [B·T]
        length = chunks.clamp(min=1, max=AHEAD)
        begin = torch.minimum(chunk, chunks - length).clamp(min=0)  # (the clamp: only for a track of no chunks)
        return self.describe(track, begin, length).view(b, t, -1)  # [B, T, D]

    def paths(self, sampler: SequenceSampler, locate, fill: torch.Tensor) -> StylePaths:
        """The descriptions along every track of `sampler` (`StylePaths`), an undefined attribute (NaN) held as
        `fill` [D] (the bank's mean, which reads the same), each track labelled with its composer and title."""
        kept = (sampler.start - sampler.start[sampler.track_first_of]) % PATH_HOP == 0  # [N]: every PATH_HOP-th chunk
        rows = self.ahead(sampler.start[kept][:, None], locate)[:, 0]  # [R, D]
        rows = torch.where(rows.isnan(), fill.to(rows.device), rows)
        per_track = torch.bincount(sampler.track_first_of[kept], minlength=sampler.start.numel())  # [N]
        counts = per_track[per_track > 0]  # [K]: rows of each track, in order
        tracks, _ = locate(sampler.start[torch.nonzero(per_track).squeeze(1)])  # [K]: each one's corpus track
        labels = [track_label(self.g.corpus.tracks[int(t)]) for t in tracks]
        return StylePaths(rows, torch.cat([counts.new_zeros(1), counts.cumsum(0)]), labels)

    def bank(self, sampler: SequenceSampler, locate, rng: torch.Generator) -> torch.Tensor:
        """BANK descriptions [BANK, D] of training passages of AHEAD chunks (shorter, where no track has one)."""
        full = torch.nonzero(sampler.remaining >= AHEAD).squeeze(1)  # [N']
        starts = full if full.numel() else torch.arange(sampler.start.numel())
        chosen = sampler.start[starts[torch.randint(starts.numel(), (BANK,), generator=rng)]]  # [BANK] global rows
        return self.ahead(chosen[:, None], locate)[:, 0]


def folded(name: str) -> str:
    """A composer's name as `--composer` compares it: any case, single spaces, accents left out ('Dvorak')."""
    return "".join(c for c in unicodedata.normalize("NFKD", " ".join(name.split()).casefold())
                   if not unicodedata.combining(c))


def track_label(track: dict) -> str:
    """A corpus track's composer, title and file name (without its folder and suffix) as a path's label:
    "composer<TAB>title<TAB>file" (any may be empty)."""
    file = PurePath(str(track.get("path") or "")).stem
    return "\t".join(" ".join(str(value or "").split()) for value in (track.get("composer"), track.get("title"), file))


def performance_path(performance: Events, chunk_seconds: float, fill: torch.Tensor, pause: bool = False,
                     label: str = "") -> StylePaths:
    """One performance → its path of descriptions as one track (`StylePaths`): the description of the AHEAD chunks
    from every PATH_HOP-th chunk on, within its last AHEAD chunks those last AHEAD (of all of it, where it is shorter),
    as StyleGatherer.paths describes a training track (its chunks counted as the corpus counts a track's, to its
    end_s); an undefined attribute (NaN) held as `fill` [D]. `tsm generate --like FILE` walks it."""
    performance = performance.sorted()
    ids, start_s, duration_s, intensity = (torch.from_numpy(np.array(x)) for x in (
        performance.ids, performance.start_s, performance.duration_s, performance.intensity))  # [E] each
    chunks = count_chunks(performance.end_s, chunk_seconds)
    every = event_sums(ids.long(), intensity, duration_s, torch.zeros_like(ids, dtype=torch.long))  # [E, SUMS]
    running = torch.cat([every.new_zeros(1, SUMS), every.cumsum(0)])  # [E + 1, SUMS]: the sums before each event
    first = torch.arange(0, chunks, PATH_HOP)  # [R]: the chunk each row describes from
    length = min(chunks, AHEAD)
    begin = torch.clamp(first, max=chunks - length)  # [R]
    bounds = torch.searchsorted(start_s, torch.stack([begin, begin + length]).double() * chunk_seconds)  # [2, R]
    rows = described_by_sums(running[bounds[1]] - running[bounds[0]],
                             torch.full((first.shape[0],), length * chunk_seconds, dtype=torch.float64))  # [R, 8]
    if pause:
        struck = torch.zeros(chunks + AHEAD, dtype=torch.bool)  # whether a note starts in each chunk
        is_note = (ids < NUM_KEYS) & (start_s >= 0)
        struck[(start_s[is_note] / chunk_seconds).floor().long().clamp(max=chunks - 1)] = True
        windows = struck.unfold(0, AHEAD, 1)[begin]  # [R, AHEAD]
        longest = longest_pause_chunks(windows, torch.full_like(begin, length)).double() * chunk_seconds  # [R]
        rows = torch.cat([rows, torch.log1p(longest)[:, None]], dim=1)  # [R, 9]
    rows = torch.where(rows.isnan(), fill.double().cpu(), rows)
    return StylePaths(rows, torch.tensor([0, rows.shape[0]]), [label])


SUMS = 9  # what a passage's description is made of, summed over its events (`event_sums`)


def event_sums(ids: torch.Tensor, intensity: torch.Tensor, duration_s: torch.Tensor,
               track: torch.Tensor) -> torch.Tensor:
    """Events in time order within each performance (ids, intensities, durations and which performance `track`,
    [E] each) → each one's part of the sums a description is made of [E, SUMS]: a note, its key, key², velocity,
    whether a note of its track came before it, whether it moved at most STEP from that one, and the seconds of
    damper, half damper and soft pedal it presses (a press counts whole in the passage it starts in)."""
    note = ids < NUM_KEYS
    index = torch.nonzero(note).squeeze(1)  # [E'] the notes
    paired, stepwise = torch.zeros_like(note), torch.zeros_like(note)
    same_track = track[index[1:]] == track[index[:-1]]  # [E' − 1]: a note before it in its track
    paired[index[1:]] = same_track
    stepwise[index[1:]] = same_track & ((ids[index[1:]] - ids[index[:-1]]).abs() <= STEP)
    key, velocity, duration = ids.double(), intensity.double(), duration_s.double()
    damper = ids == DAMPER_ID
    note, half = note.double(), (damper & (intensity <= HALF_DEPTH)).double()
    return torch.stack([note, key * note, key ** 2 * note, velocity * note, paired.double(), stepwise.double(),
                        duration * damper, duration * half, duration * (ids == SOFT_ID)], dim=1)  # [E, SUMS]


def middle_spread(kept: torch.Tensor, spread: torch.Tensor, trim: float) -> torch.Tensor:
    """The rows `kept` [R'] whose spread (of every row [R]) lies between the `trim` and 1 − `trim` quantiles of
    theirs (all of them where none would be left)."""
    theirs = spread[kept]  # [R']
    low, high = torch.nanquantile(theirs, torch.tensor([trim, 1 - trim]))
    middle = kept[(theirs >= low) & (theirs <= high)]  # [R'']
    return middle if middle.numel() else kept


def described_by_sums(sums: torch.Tensor, seconds: torch.Tensor) -> torch.Tensor:
    """Passages' summed `event_sums` [B, SUMS] and lengths in seconds [B] → their descriptions of ATTRIBUTES [B, 8]
    (float64; NaN where undefined: no notes, no damper)."""
    s = sums.unbind(1)  # SUMS × [B]
    notes = s[0]
    mean = s[1] / notes  # NaN without notes
    spread = (s[2] / notes - mean ** 2).clamp(min=0).sqrt()
    return torch.stack([mean, spread, torch.log1p(notes / seconds), s[3] / notes, s[5] / s[4],
                        (s[6] / seconds).clamp(max=1), s[7] / s[6], (s[8] / seconds).clamp(max=1)], dim=1)


def longest_pause_chunks(struck: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """Whether a note starts in each chunk [B, K] of passages `length` [B] chunks long (≤ K) → the longest run of
    chunks in which none does [B] (a passage with no note: its whole length)."""
    k = torch.arange(struck.shape[1], device=struck.device)  # [K]
    last_struck = torch.where(struck, k, -1).cummax(dim=1).values  # [B, K]: at or before k (−1: none)
    pause = (k - last_struck) * (k < length[:, None])  # [B, K]: chunks without a note ending at k
    return pause.amax(dim=1)


def describe_passage(ids: torch.Tensor, intensity: torch.Tensor, duration_s: torch.Tensor, first: int,
                     struck: torch.Tensor, chunk_seconds: float, pause: bool = False) -> torch.Tensor:
    """A performance's events in time order ([E] each) and the passage at its end: from event `first` on, over the
    chunks `struck` [K] says whether a note starts in → the passage's description [D] (D = 8, 9 with `pause`), as
    training describes a corpus passage (a note's step from the note before it, also from before the passage; NaN
    where undefined)."""
    every = event_sums(ids.long(), intensity, duration_s, torch.zeros_like(ids, dtype=torch.long))  # [E, SUMS]
    chunks = struck.shape[0]
    described = described_by_sums(every[first:].sum(0, keepdim=True),
                                  torch.tensor([chunks * chunk_seconds], dtype=torch.float64))[0]  # [8]
    if pause:
        longest = longest_pause_chunks(struck[None], torch.tensor([chunks]))[0].double() * chunk_seconds
        described = torch.cat([described, torch.log1p(longest)[None]])
    return described.float()


def parse_style(text: str) -> dict[str, float]:
    """`tsm generate --style` text, e.g. "damper=0.9,register=C5,density=6" → {attribute: value as a description
    holds it}; a bad request raises ValueError in one line (requests joined by ';' as well: ',' joins them)."""
    refuse_semicolons(text)
    request = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):  # a trailing comma is no attribute
        name, sep, value = part.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not sep:
            raise ValueError(f"--style {part!r}: give ATTRIBUTE=VALUE[,…] with ATTRIBUTE one of {ASKABLE_WORDS}")
        if name not in ASKABLE:
            raise ValueError(f"--style {part}: no attribute {name!r}; one of {ASKABLE_WORDS}")
        if name in request:
            raise ValueError(f"--style {text}: {name} is asked twice")
        request[name] = _described_value(name, value.strip())
    if not request:
        raise ValueError(f"--style {text!r}: give ATTRIBUTE=VALUE[,…] with ATTRIBUTE one of {ASKABLE_WORDS}")
    return request


def refuse_semicolons(text: str) -> None:
    """--style text whose requests are joined by ';' (a value would read 'C5;density=6', and be refused as no note):
    ValueError in one line saying that ',' joins them."""
    if ";" in text:
        raise ValueError(f"--style {text.strip()!r}: separate the requests with ',', not ';' "
                         f"({text.strip().replace(';', ',')!r})")


def asked_style(text: str, seconds: float) -> "dict[str, float] | StyleRamp":
    """What a `--style` text asks of a piece of `seconds`: one request (parse_style's), or a path of them
    (StyleRamp, timed over the piece)."""
    path = parse_style_path(text)
    return StyleRamp.timed(path, seconds) if len(path) > 1 else path[0][1]


def parse_style_path(text: str) -> list[tuple[float | None, dict[str, float]]]:
    """`tsm generate --style` text with waypoints, e.g. "loudness=40 > loudness=90@20 > loudness=60" → each
    waypoint's request (parse_style's) and the seconds at which it is reached (the first at 0 s; None where not
    given: `StyleRamp.timed` places it); without '>', one request, reached from the start."""
    refuse_semicolons(text)  # (the whole text, not one waypoint's)
    return parse_waypoints(text, parse_style, "--style", "'loudness=90@20'")


@dataclass(frozen=True)
class StyleRamp:
    """A path of requests (`--style "loudness=40 > loudness=90"`): `waypoints`, each (the seconds from the first
    drawn chunk at which it is reached, its request as a description holds it), in time order. Each attribute moves
    in a straight line (in the description's units: density as ln(1 + notes per second)) between the waypoints that
    name it, held after the last; before the first that names it, from the piece's own description at the waypoint
    before (the first waypoint's attributes: held before it). Every chunk is told the mean of that line over the
    AHEAD chunks from it, as a real passage is described in training."""

    waypoints: tuple[tuple[float, dict[str, float]], ...]

    @classmethod
    def timed(cls, path: list[tuple[float | None, dict[str, float]]], seconds: float) -> "StyleRamp":
        """A parsed path (parse_style_path's) over a piece of `seconds`: the first waypoint at 0 s, an untimed last
        one at the piece's end, the untimed ones between spaced evenly between the times around them."""
        times = spaced([at_s for at_s, _ in path], "--style", seconds, last_at_end=True)
        return cls(tuple(zip(times, (request for _, request in path))))

    def names(self) -> list[str]:
        """Every attribute asked at some waypoint, in the order first asked."""
        return list(dict.fromkeys(name for _, request in self.waypoints for name in request))

    def at(self, at_s: np.ndarray, start: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """Each asked attribute's line at times `at_s` [T] (seconds from the first drawn chunk) → [T] each. One first
        named after the first waypoint starts from its value in `start` (a piece's own description) at the waypoint
        before; without it, it is left out."""
        lines = {}
        for name in self.names():
            points = [(t, request[name]) for t, request in self.waypoints if name in request]
            if name not in self.waypoints[0][1]:
                if start is None:
                    continue
                before_s = max(t for t, _ in self.waypoints if t < points[0][0])
                points.insert(0, (before_s, start[name]))
            times, values = zip(*points)
            lines[name] = np.interp(at_s, times, values)  # held before its first point and after its last
        return lines

    def flattened(self, chunks: int, chunk_seconds: float) -> list[str]:
        """The attributes asked from the start whose told line over `chunks` drawn chunks spans less than FLATTENED of
        the range their waypoints ask: told the AHEAD chunks ahead, a shape much shorter than twice that is averaged
        away."""
        flat = []
        for name, line in self.told(chunks, chunk_seconds).items():
            asked = [request[name] for _, request in self.waypoints if name in request]
            if max(asked) > min(asked) and np.ptp(line) < FLATTENED * (max(asked) - min(asked)):
                flat.append(name)
        return flat

    def told(self, chunks: int, chunk_seconds: float, prompt_chunks: int = 0,
             start: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """What each of a prompt's `prompt_chunks` chunks and the `chunks` drawn after them is told of each asked
        attribute [P + T] each (`start`: as `at`): the mean of its line over the AHEAD chunks from it (at the chunks'
        middles; held at its first value before the first drawn chunk, at its last past the piece's end)."""
        middles = (np.arange(-prompt_chunks, chunks + AHEAD) + 0.5) * chunk_seconds  # [P + T + K]
        told = {}
        for name, line in self.at(middles, start).items():
            running = np.concatenate([[0.0], np.cumsum(line)])  # [P + T + K + 1]
            every = prompt_chunks + chunks
            told[name] = (running[AHEAD:AHEAD + every] - running[:every]) / AHEAD
        return told


def _described_value(name: str, value: str) -> float:
    """One asked attribute in its user's units → as a description holds it."""
    if name == "register":
        number = _midi_note(value)
        if not 21 <= number <= 108:
            what = f"MIDI note {number} is" if value.lstrip("-").isdigit() else f"{value} is MIDI note {number},"
            raise ValueError(f"--style register={value}: {what} beyond the piano's keys, A0 (21) to C8 (108)")
        return float(number - 21)  # descriptions hold key ids (0: A0)
    bounds = USERS_BOUNDS.get(name, (0.0, 1.0))
    if name == "loudness" and value.lower() in DYNAMICS:  # loudness=mf
        return float(DYNAMICS[value.lower()])
    percent = bounds == (0.0, 1.0) and value.endswith("%")  # a share as a percentage: damper=90%
    try:
        number = float(value.removesuffix("%")) / 100 if percent else float(value)
    except ValueError:
        raise ValueError(f"--style {name}={value}: not a number ({UNITS[name]})") from None
    if not bounds[0] <= number <= bounds[1]:
        raise ValueError(f"--style {name}={value}: must be in [{bounds[0]:g}, {bounds[1]:g}] ({UNITS[name]})")
    return float(torch.log1p(torch.tensor(number))) if name in LOGGED else number


def held_bounds(name: str) -> tuple[float, float]:
    """The range of an attribute as a description holds it (`_described_value`'s bounds, mapped as it maps them)."""
    if name == "register":
        return 0.0, 87.0  # key ids: A0 (MIDI 21) to C8 (108)
    low, high = USERS_BOUNDS.get(name, (0.0, 1.0))
    return (float(np.log1p(low)), float(np.log1p(high))) if name in LOGGED else (low, high)


HELD_UNITS = {"register": "the key from A0: MIDI note − 21", "density": "ln(1 + notes per second)",
              PAUSE: "ln(1 + the longest pause's seconds)"}  # where a description holds other units than --style takes


def check_held_request(request: dict, subject: str) -> None:
    """A request given as a dict (attribute → value as a description holds it: parse_style's) refused in one line
    beginning `subject` (generate()'s keyword and the value) where it names no attribute, or holds a value that is not a
    finite number or is beyond the attribute's range; where held units differ from --style's and the value is one
    --style takes (within its range; for the register, a whole MIDI note), the line says the text that asks it."""
    for name, value in request.items():
        if name not in ASKABLE:
            raise ValueError(f"{subject}: no attribute {name!r}; a request names {ASKABLE_WORDS}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{subject}: {name} must be a finite number, got {value!r}")
        low, high = held_bounds(name)
        if low <= value <= high:
            continue
        if name not in HELD_UNITS:
            units = "the notes' mean velocity" if name == "loudness" else UNITS[name]  # (not a dynamic mark here)
            raise ValueError(f"{subject}: {name} must be in [{low:g}, {high:g}] ({units})")
        users_low, users_high = (21.0, 108.0) if name == "register" else USERS_BOUNDS[name]
        asks = {"register": f"MIDI note {value:g}", "density": f"{value:g} notes per second"}.get(
            name, f"a longest pause of {value:g} s")
        said = users_low <= value <= users_high and (name != "register" or float(value).is_integer())  # (--style takes
        # a whole MIDI note)
        hint = f"; style='{name}={value:g}' asks {asks}" if said else ""
        raise ValueError(f"{subject}: {name} must be in [{low:g}, {high:.4g}] as a request holds it "
                         f"({HELD_UNITS[name]}){hint}")


def users_value(name: str, held):
    """An attribute as a description holds it (a number or an array) → in its users' units, as `--style` takes it
    (the inverse of `parse_style`'s reading): the register as a MIDI note, logged attributes unlogged."""
    if name == "register":
        return held + 21  # descriptions hold key ids (0: A0)
    return np.expm1(held) if name in LOGGED else held


def _midi_note(value: str) -> int:
    """"60", "C4", "F#5", "Bb3" → the MIDI note number (C4 = 60)."""
    if value.lstrip("-").isdigit():
        return int(value)
    if not value:
        raise ValueError("--style register=: give a MIDI note number or a note name (60, C4, F#5, Bb3)")
    letter, rest = value[:1].upper(), value[1:]
    shift = {"#": 1, "b": -1}.get(rest[:1], 0)
    octave = rest[1:] if shift else rest
    if letter not in NOTE_CLASSES or not octave.lstrip("-").isdigit():
        why = (f"no note's letter is {letter}: A to G" if letter not in NOTE_CLASSES else
               f"no octave after {value}: {value}4" if not octave else "a letter A to G, # or b, then the octave")
        raise ValueError(f"--style register={value}: {value!r} is not a note name ({why}) nor a MIDI note number; give "
                         "one as 60, C4, F#5 or Bb3")
    return 12 * (int(octave) + 1) + NOTE_CLASSES[letter] + shift
