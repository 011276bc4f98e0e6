"""Fewer clusters in chords (`ar.cluster_guard`): a note that would join the chord being struck within 2 semitones
of one of its notes is drawn less often, by a weight on the event head's joint choice of key and start, with no
training.

Why: in the drawn pieces a chord's neighbouring notes lie within 2 semitones of each other three times as often as
in real ones (validation, 16 s: 11–12 % of the neighbouring pairs in a chord against 4 %; docs/quality.md,
twenty-third session), heard as smudged or wrong notes; and the top line steps too seldom. The head chooses the
key before the start, so a key cannot know whether its note will join the chord or start a new onset, and the
network blends the two (the thirteenth session's finding: it steps two to three times too often inside chords).
Here that is mended at sampling: the joint odds of (key k, start bin s) are weighted by exp(−C) where s joins the
onset being struck (within ONSET_S of the latest note heard, the same rule as `pulse.onsets_among` and tsm
evaluate) and k lies within STEP semitones of a note of that onset; the rest keep their odds. Drawn exactly:
each key's logit gains ln(1 − (1 − e^−C) · P(join | k)), P from the start odds the sampler would use for that key
(so the same note-or-pedal choice and key marginal as the weighted joint), and the start drawn given the key
keeps the weight on its joining bins. A key whose note would start a new onset, a pedal, and every note when
nothing joinable is heard keep their odds exactly.
Shapes: R rows, I notes heard, K candidate keys per row, S start bins; 88 keys.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..midi import NUM_KEYS
from .pulse import ONSET_S

STEP = 2  # semitones: a note this near one of the chord's is a cluster (as tsm evaluate's stepwise motion)


def onset_keys(heard_s: torch.Tensor, heard_ids: torch.Tensor) -> torch.Tensor:
    """The notes heard, start times [R, I] (one clock; −inf: not a note) and ids [R, I] → the keys of the latest
    onset [R, 88] (bool): the latest note and those before it chained by gaps of at most ONSET_S."""
    rows = heard_s.shape[0]
    if heard_s.shape[1] == 0:
        return torch.zeros(rows, NUM_KEYS, dtype=torch.bool, device=heard_s.device)
    time_s, order = heard_s.sort(dim=1, descending=True)  # [R, I], latest first
    ids = heard_ids.gather(1, order)  # [R, I]
    gap = time_s[:, :-1] - time_s[:, 1:] > ONSET_S  # [R, I − 1] (a note after none: inf; none after none: NaN → no)
    broken = torch.cat([torch.zeros(rows, 1, dtype=torch.bool, device=gap.device), gap], 1).cumsum(dim=1) > 0
    member = ~broken & (time_s > -torch.inf)  # [R, I]
    hits = torch.zeros(rows, NUM_KEYS, device=heard_s.device).scatter_add_(1, ids.clamp(0, NUM_KEYS - 1),
                                                                          member.float())  # [R, 88]
    return hits > 0


def near_keys(keys: torch.Tensor) -> torch.Tensor:
    """Keys [R, 88] (bool) → those within STEP semitones of one of them [R, 88] (bool; the keys themselves too)."""
    spread = F.max_pool1d(keys.float()[:, None], kernel_size=2 * STEP + 1, stride=1, padding=STEP)  # [R, 1, 88]
    return spread[:, 0] > 0


def join_bins(start_middles_s: torch.Tensor, latest_s: torch.Tensor) -> torch.Tensor:
    """Start bins' middles [S] (s from the chunk's start) and each row's latest note heard [R] (−inf: none) → the
    bins whose note would join that note's onset [R, S] (bool)."""
    return start_middles_s[None, :] - latest_s[:, None] <= ONSET_S


def key_lean(near: torch.Tensor, start_log_odds, joins: torch.Tensor, strength: float) -> torch.Tensor:
    """The change to the 88 keys' logits [R, 88]: ln(1 − (1 − e^−strength) · P(join | k)) at the keys near the
    onset (`near` [R, 88]), 0 elsewhere. `start_log_odds(keys [R, K]) → [R, K, S]`: the start logits the sampler
    would draw from for each key (−inf where not allowed); `joins` [R, S]: the joining bins."""
    lean = torch.zeros(near.shape, device=near.device)
    width = int(near.sum(dim=1).max())
    if width == 0 or not joins.any():
        return lean
    candidates = near.float().topk(width, dim=1)  # [R, K]: each row's near keys first
    keys, real = candidates.indices, candidates.values > 0  # [R, K] each
    log_p = torch.log_softmax(start_log_odds(keys), dim=-1)  # [R, K, S]
    p_join = (log_p.exp() * joins[:, None, :]).sum(dim=-1).nan_to_num(0.0).clamp(0.0, 1.0)  # [R, K]
    change = torch.log1p(torch.expm1(torch.tensor(-strength)) * p_join)  # [R, K]: 0 at P = 0, −strength at P = 1
    return lean.scatter_(1, keys, torch.where(real, change, 0.0).float())
