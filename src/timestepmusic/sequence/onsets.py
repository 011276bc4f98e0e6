"""Whether the next event joins the latest onset or starts a new one, chosen before its key (`ar.onsets`).

Why: the event head chose a key before its start, so a note could not know whether it joins a chord or moves a
line on. Measured after a real past (bench/key_calibration.py, thirteenth session): the head's keys step within
2 semitones of the note before in 19 % of the notes that start an onset (real 22 %) and in 7–9 % of those that
join a chord (real 3 %): calibrated on average, for neither kind. With this, each step of the head first chooses
one of three: the next event joins the latest onset (starts within ONSET_S of the latest note heard), starts a
new one, or the chunk ends (the stop, which was a key class, moves here). The key is then chosen knowing which,
and the start is drawn only among the bins the choice allows, so the density stays exact. Measured
(docs/quality.md, fourteenth session): the choice itself is calibrated, but the key, told the real note's choice,
is not (19–20 % and 6 % against 22 % and 3 %), also with this choice's weights trained 30× faster
(ar.onsets_lr_scale); so it is off by default.
Where: the latest note heard is among the carry's notes (by their exact start times) and the chunk's notes before
the choice (at their 5 ms start bins' middles), as the voices' (sequence/voices.py). A new event's start bin b
joins when its middle lies within ONSET_S of that note's start: b ≤ `join_limit`. Starts never go back in time,
so b is also at least the start bin of the event before (0 for a chunk's first).
Shapes: R rows, I items heard (carry's notes, then the chunk's events), N events per chunk, P positions per row,
Q choices scored, S start bins.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .carry import Carry
from .voices import ONSET_S, voice_items

JOIN, ONSET, END = 0, 1, 2  # the classes of the choice each step makes first
NEXT_CLASSES = 3


def join_limit(latest_s: torch.Tensor, step_s: float) -> torch.Tensor:
    """The start time of the latest note heard (s from the chunk's start, −inf: none) [...] → the last start bin
    whose middle lies within ONSET_S of it [...] (long; −1 where no bin does)."""
    limit = torch.floor((latest_s.double() + ONSET_S) / step_s - 0.5 + 1e-6)  # 1e-6: a middle exactly at the edge joins
    return torch.where(latest_s > -torch.inf, limit, -1.0).clamp(-1, 1 << 20).long()


def latest_heard(time_s: torch.Tensor, heard: torch.Tensor) -> torch.Tensor:
    """Items' start times [R, I] (−inf: not a note) and how many of the first items each position hears [P] → the
    latest start heard at each position [R, P] (−inf: none)."""
    rows = time_s.shape[0]
    running = torch.cat([torch.full((rows, 1), -torch.inf, dtype=time_s.dtype, device=time_s.device),
                         time_s.cummax(dim=1).values], dim=1)  # [R, I + 1]: the latest among the first i items
    return running[:, heard]  # [R, P]


def teacher_forced_bounds(key: torch.Tensor, start: torch.Tensor, start_s: torch.Tensor, event: torch.Tensor,
                          carry: Carry | None, step_s: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Real chunks' key and start classes [R, N], their starts' seconds (bin middles) [R, N] and mask [R, N] →
    at each position (each event's, and the stop's after the last) the last start bin that joins the latest note
    heard (`join_limit`) and the earliest start bin allowed (the event before's; 0 for the first), [R, N + 1]
    each. Refuses starts that go back in time (the density has none)."""
    if (event[:, 1:] & (start[:, 1:] < start[:, :-1])).any():
        raise ValueError("ar.onsets scores chunks whose events are in time order: a start goes back in time")
    time_s, _ = voice_items(carry, key, start_s, event)  # [R, I]
    carried = time_s.shape[1] - key.shape[1]
    latest_s = latest_heard(time_s, carried + torch.arange(key.shape[1] + 1, device=key.device))  # [R, N + 1]
    return join_limit(latest_s, step_s), F.pad(start, (1, 0))


def onset_classes(start: torch.Tensor, limit: torch.Tensor) -> torch.Tensor:
    """Start bins [...] and the last bin that joins the latest onset at each [...] → JOIN or ONSET [...]."""
    return torch.where(start <= limit, JOIN, ONSET)


def next_allowed(limit: torch.Tensor, earliest: torch.Tensor, starts: int) -> torch.Tensor:
    """Where the latest note allows joining up to start bin `limit` [Q] and a start may be no earlier than bin
    `earliest` [Q] → which of the three classes each choice may take [Q, 3] (the end always)."""
    join = limit >= earliest
    onset = limit < starts - 1
    return torch.stack([join, onset, torch.ones_like(join)], dim=-1)


def start_allowed(chosen: torch.Tensor, limit: torch.Tensor, earliest: torch.Tensor, starts: int) -> torch.Tensor:
    """The start bins [Q, S] an event may take after choosing JOIN or ONSET [Q]: from `earliest` [Q] on, up to
    `limit` [Q] to join, past it to start an onset."""
    bins = torch.arange(starts, device=limit.device)  # [S]
    joins = bins <= limit[:, None]  # [Q, S]
    return (bins >= earliest[:, None]) & torch.where((chosen == JOIN)[:, None], joins, ~joins)
