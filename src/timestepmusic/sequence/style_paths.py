"""The descriptions real performances move through (`ar.style_path`, sequence/style.py's descriptions): every
training track's path of them, which pieces walk, and the composers its tracks are performances of (`--composer`).
Made in training by style_describe.StyleGatherer.paths (or later by train/style_paths.py), saved beside the weights.
Shapes: S pieces, C chunks told, R rows, K tracks, D attributes.
"""
from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from pathlib import PurePath

import torch
from torch import nn

from ..setting_names import warn
from .style import ATTRIBUTES, PATH_HOP

log = logging.getLogger("timestepmusic.sequence.style")  # the style module's records, as before these moved here


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


def folded(name: str) -> str:
    """A composer's name as `--composer` compares it: any case, single spaces, accents left out ('Dvorak')."""
    return "".join(c for c in unicodedata.normalize("NFKD", " ".join(name.split()).casefold())
                   if not unicodedata.combining(c))


def track_label(track: dict) -> str:
    """A corpus track's composer, title and file name (without its folder and suffix) as a path's label:
    "composer<TAB>title<TAB>file" (any may be empty)."""
    file = PurePath(str(track.get("path") or "")).stem
    return "\t".join(" ".join(str(value or "").split()) for value in (track.get("composer"), track.get("title"), file))


def middle_spread(kept: torch.Tensor, spread: torch.Tensor, trim: float) -> torch.Tensor:
    """The rows `kept` [R'] whose spread (of every row [R]) lies between the `trim` and 1 − `trim` quantiles of
    theirs (all of them where none would be left)."""
    theirs = spread[kept]  # [R']
    low, high = torch.nanquantile(theirs, torch.tensor([trim, 1 - trim]))
    middle = kept[(theirs >= low) & (theirs <= high)]  # [R'']
    return middle if middle.numel() else kept
