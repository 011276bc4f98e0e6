"""The piece critic: a small convolutional network over piano rolls (rolls.py) that tells a model's pieces from real
playing, and the rule that keeps a drawn piece by what it says (discriminator rejection sampling: Azadi et al. 2019,
"Discriminator Rejection Sampling").

Trained after the model (train/critic.py), on windows of the training split against the model's own pieces, its
logit d(x), divided by a temperature fitted on held-out windows, estimates log p_real(x) / p_model(x). A drawn piece
is kept with probability min(1, exp(d(x) − shift)): the pieces kept are the model's, each weighed by that ratio
(capped where it passes e^shift), so they lean toward real playing. The shift is set for each draw of candidates so
that `kept_share` of them are kept on average (chosen when the critic is trained), whatever their length and
whatever was asked of them: a piece longer than a window is scored by the mean of its windows' logits, whose spread
narrows with the windows, and an asked key or character moves the scores.
It reads nothing `tsm evaluate` reads: the classifiers there see descriptors of the notes, the critic the roll.
Saved beside the model as piece_critic.safetensors, its settings in that file's metadata.
Shapes: X windows, ROWS roll rows, F frames, W width, S pieces.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from .files import atomic_path, save_tensors
from .midi import Events
from .rolls import ROWS, rolls, window_starts_s

CRITIC = "piece_critic.safetensors"  # (a conv GAN keeps its WGAN critic in critic.safetensors)
SETTINGS = ("window_s", "temperature", "kept_share")  # kept in the file's metadata, with width and trained


class RollCritic(nn.Module):
    """Rolls [X, ROWS, F] → logits [X] (real: > 0): five 1-D convolutions over time, each key and pedal a channel,
    four of them halving the frames (a receptive field of about three seconds at 0.05 s frames), then the mean and
    the largest value of each channel over the window."""

    def __init__(self, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(ROWS, width, 5, padding=2), nn.GELU()]
        for _ in range(4):
            layers += [nn.Conv1d(width, width, 5, stride=2, padding=2), nn.GELU()]
        self.convs = nn.Sequential(*layers)
        self.out = nn.Linear(2 * width, 1)

    def forward(self, roll: torch.Tensor) -> torch.Tensor:
        h = self.convs(roll)  # [X, W, F / 16]
        return self.out(torch.cat([h.mean(2), h.amax(2)], dim=1))[:, 0]  # [X]


@dataclass
class PieceCritic:
    """A trained RollCritic with what it needs to judge pieces: the window it reads, the temperature that calibrates
    its logits and the share of the pieces drawn that it keeps."""

    net: RollCritic
    window_s: float
    temperature: float
    kept_share: float
    trained: dict  # how it was trained (train/critic.py), for --info

    @torch.inference_mode()
    def scores(self, pieces: list[Events], lengths_s: list[float], batch: int = 64) -> np.ndarray:
        """Pieces and their lengths in seconds → each one's calibrated logit [S], the mean over its windows (their
        rolls made `batch` pieces at a time, so memory stays bounded)."""
        starts = [window_starts_s(length, self.window_s) for length in lengths_s]
        logits = np.concatenate([
            self.net(torch.from_numpy(rolls(pieces[lo:lo + batch], starts[lo:lo + batch], self.window_s)).float()).numpy()
            for lo in range(0, len(pieces), batch)]) / self.temperature  # [X]
        piece_of = np.repeat(np.arange(len(pieces)), [len(s) for s in starts])  # [X]
        return np.bincount(piece_of, logits, len(pieces)) / np.bincount(piece_of, minlength=len(pieces))

    def kept(self, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The scores of one draw of candidates [S] → whether each is kept [S] bool: with probability
        min(1, exp(score − shift)), the shift that keeps `kept_share` of them on average (`shift_keeping`)."""
        shift = shift_keeping(scores, self.kept_share)
        return rng.random(scores.shape[0]) < np.exp(np.minimum(scores - shift, 0.0))

    def save(self, folder: str | Path) -> Path:
        """Write FOLDER/piece_critic.safetensors atomically."""
        settings = {name: str(getattr(self, name)) for name in SETTINGS}
        settings |= {"width": str(self.net.out.in_features // 2), "trained": json.dumps(self.trained)}
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        with atomic_path(Path(folder) / CRITIC, ".safetensors") as tmp:
            save_tensors(state, tmp, metadata=settings)
        return Path(folder) / CRITIC

    @classmethod
    def load(cls, folder: str | Path) -> "PieceCritic | None":
        """FOLDER/piece_critic.safetensors, or None where there is none; a damaged one: ValueError naming it."""
        path = Path(folder) / CRITIC
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), "pt") as f:  # the settings and the weights in one reading
                meta = f.metadata() or {}
                state = {name: f.get_tensor(name) for name in f.keys()}
            if int(meta["width"]) < 1:
                raise ValueError(f"width {meta['width']}")
            net = RollCritic(int(meta["width"]))
            net.load_state_dict(state)
            critic = cls(net.eval(), float(meta["window_s"]), float(meta["temperature"]), float(meta["kept_share"]),
                         json.loads(meta.get("trained", "{}")))
        except (OSError, SafetensorError, KeyError, ValueError, RuntimeError) as e:
            raise ValueError(f"{path}: not a readable piece critic ({type(e).__name__}: {str(e).splitlines()[0]}); "
                             "train it again with python -m timestepmusic.train.critic, or delete it") from None
        if not (critic.temperature > 0 and 0 < critic.kept_share <= 1 and critic.window_s >= 1.0):
            raise ValueError(f"{path}: settings out of range (temperature {critic.temperature}, kept_share "
                             f"{critic.kept_share}, window_s {critic.window_s})")
        return critic


def shift_keeping(scores: np.ndarray, share: float) -> float:
    """The shift c at which min(1, exp(score − c)) averages `share` (0 < share ≤ 1) over scores [S] (S ≥ 1)."""
    lo, hi = float(scores.min()) - 1.0, float(scores.max()) - math.log(share) + 1.0  # kept on average: 1 at lo, < share at hi
    for _ in range(100):  # the mean kept falls as c rises
        c = (lo + hi) / 2
        lo, hi = (c, hi) if np.exp(np.minimum(scores - c, 0.0)).mean() > share else (lo, c)
    return lo
