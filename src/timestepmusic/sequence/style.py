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
Beside it: style_describe.py describes passages from their events (training's `StyleGatherer`, a prompt's own,
a `--like` performance's path), style_paths.py holds the paths real performances move through (`StylePaths`),
style_request.py reads what `--style` asks (`parse_style`, `StyleRamp`).
"""
from __future__ import annotations

import torch
from torch import nn

from ..ar_config import STYLE_ATTRIBUTES, STYLE_PAUSE

ATTRIBUTES, PAUSE = STYLE_ATTRIBUTES, STYLE_PAUSE  # (ar_config.py holds them: ar.style_path names them)
NEAREST = 32  # a request picks among this many bank descriptions nearest to it, for the attributes not asked
AHEAD = 64  # chunks a description covers, from the chunk it is read at on (16 s; a track's last 16 s near its end)
BANK = 4096  # training passages whose descriptions sampling draws from
PATH_HOP = 16  # chunks between the descriptions a track's path keeps (4 s; told between them: the two blended)
STYLE_DROPOUT = 0.1  # share of training windows that read no description


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
