"""Train a model's piece critic, so that `tsm generate` keeps the pieces that sound most like real
playing: `python -m timestepmusic.train.critic MODEL --corpus CORPUS` draws -n pieces of one window (16 s) from
MODEL unasked, cuts as many windows from the corpus's training split (each before its track's last note), trains
the critic to tell them apart, calibrates its logits by a temperature on a tenth held out (the real windows of a
tenth of the tracks, as many drawn pieces), and writes MODEL/piece_critic.safetensors (MODEL/last
of a run folder). Nothing else in MODEL changes. A shipped model is not changed in place: copy its folder first (a
copy of the default holds the default's critic already: --overwrite replaces it).
With -n 6000, as the shipped default's was trained: about 7 minutes on two cores (drawing 4.5, training 2).
`tsm generate --select` then keeps the pieces it judges most like real playing; delete piece_critic.safetensors to
remove it.
Shapes: X windows, ROWS roll rows, F frames, B batch.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..checkpoint import checkpoint_dir
from ..checks import check_corpus_matches
from ..corpus import Corpus
from ..critic import CRITIC, PieceCritic, RollCritic
from ..devices import rng_kept
from ..generation import GANModel
from ..midi import NUM_KEYS, Events
from ..piece_events import sampled_events
from ..rolls import rolls
from ..shipped import model_to_change

WINDOW_S = 16.0
HELD_OUT = 0.1  # of the tracks (and as many drawn pieces), for the temperature and the accuracy reported
BATCH, LR, WEIGHT_DECAY = 64, 1e-3, 0.01
TRANSPOSE = 3  # each batch shifted by one of −3…3 semitones, real and drawn alike
DRAW_BATCH = 200
WEAK = 0.6  # a held-out accuracy below this is warned of
DRAW_SEED = 900_000_000  # the pieces drawn to train on use seeds from DRAW_SEED + 1000 × --seed, far from a user's


def drawn_pieces(model: GANModel, count: int, seed: int, progress: bool) -> list[Events]:
    """`count` unasked pieces of one window, as `tsm generate` draws them (without the critic), DRAW_BATCH at a
    time, seeds from DRAW_SEED + 1000 × `seed` on."""
    pieces: list[Events] = []
    with tqdm(total=count, desc="drawing", unit="piece", disable=not progress) as bar:
        for call in range(math.ceil(count / DRAW_BATCH)):
            n = min(DRAW_BATCH, count - len(pieces))
            pieces += sampled_events(model.arm, model.ae, model.sample_latents(n, WINDOW_S, DRAW_SEED + 1000 * seed + call))
            bar.update(n)
    return pieces


def training_tracks(corpus: Corpus) -> np.ndarray:
    """The corpus's training tracks [T]; none: ValueError naming the corpus (before anything is drawn)."""
    tracks = corpus.tracks_in("train")
    if tracks.size == 0:
        raise ValueError(f"{corpus.root}: no tracks in the training split to train a critic on")
    return tracks


def real_windows(corpus: Corpus, tracks: np.ndarray, count: int,
                 rng: np.random.Generator) -> tuple[list[Events], list[np.ndarray], np.ndarray]:
    """`count` windows of `tracks` at random places on the chunk grid, each ending before the track's last note
    starts (a window of the silence after a performance would teach that silence is real), each track as likely as
    the places it has → (the track's events of each window, [its start], the track of each [X])."""
    events = [corpus.track_events(int(t)) for t in tracks]
    last_onset_s = np.array([float(e.start_s[e.is_note].max(initial=0.0)) for e in events])  # [T]
    places = np.maximum(last_onset_s - WINDOW_S, 0.0)  # [T]: where a window may start
    picked = rng.choice(tracks.size, count, p=(places + 1.0) / (places + 1.0).sum())  # [X]
    starts = np.floor(rng.random(count) * places[picked] / corpus.chunk_seconds) * corpus.chunk_seconds  # [X]
    return [events[int(t)] for t in picked], [np.array([s]) for s in starts], tracks[picked]


def transposed(roll: torch.Tensor, semitones: int) -> torch.Tensor:
    """Rolls [B, ROWS, F] with every key's strike and sounding rows moved `semitones` up (down where < 0); keys
    moved past the keyboard dropped, the pedals' rows kept."""
    if semitones == 0:
        return roll
    out = roll.clone()
    for first in (0, NUM_KEYS):  # strikes, then sounding keys
        keys = roll[:, first:first + NUM_KEYS]
        out[:, first:first + NUM_KEYS] = 0
        if semitones > 0:
            out[:, first + semitones:first + NUM_KEYS] = keys[:, :NUM_KEYS - semitones]
        else:
            out[:, first:first + NUM_KEYS + semitones] = keys[:, -semitones:]
    return out


def fit(roll: torch.Tensor, real: torch.Tensor, epochs: int, seed: int, progress: bool) -> RollCritic:
    """A RollCritic trained on rolls [X, ROWS, F] (float16) labelled `real` [X] (1 real, 0 drawn)."""
    torch.manual_seed(seed)
    net = RollCritic()
    optimizer = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    batches = math.ceil(roll.shape[0] / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, LR, total_steps=epochs * batches, pct_start=0.1)
    net.train()
    for _ in tqdm(range(epochs), desc="training", unit="epoch", disable=not progress):
        order = torch.randperm(roll.shape[0])
        for lo in range(0, order.shape[0], BATCH):
            batch = order[lo:lo + BATCH]
            shift = int(torch.randint(-TRANSPOSE, TRANSPOSE + 1, ()))
            loss = F.binary_cross_entropy_with_logits(net(transposed(roll[batch].float(), shift)), real[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return net.eval()


@torch.inference_mode()
def logits_of(net: RollCritic, roll: torch.Tensor) -> torch.Tensor:
    return torch.cat([net(roll[lo:lo + 256].float()) for lo in range(0, roll.shape[0], 256)])  # [X]


def calibrated_temperature(logits: torch.Tensor, real: torch.Tensor) -> float:
    """The temperature T (0.5–4) that minimises the held-out cross-entropy of logits / T."""
    grid = np.linspace(0.5, 4.0, 71)
    losses = [F.binary_cross_entropy_with_logits(logits / t, real).item() for t in grid]
    return float(grid[int(np.argmin(losses))])


@rng_kept  # training seeds torch's global stream (dropout, initial weights): a caller's is kept
def train_critic(model_path: str | Path, corpus_path: str | Path, pieces: int = 6000, epochs: int = 12,
                 kept_share: float = 0.5, seed: int = 0, overwrite: bool = False,
                 progress: bool = True) -> tuple[PieceCritic, Path]:
    """Train MODEL's critic (the module's docstring) → it and the file written."""
    folder = checkpoint_dir(model_to_change(model_path, "train the copy's critic"))
    if (folder / CRITIC).exists() and not overwrite:
        raise ValueError(f"{folder / CRITIC} exists; --overwrite to train it again")
    model = GANModel.load(folder)  # (a damaged critic beside it is only warned of)
    corpus = Corpus.open(corpus_path)
    check_corpus_matches(model.meta, corpus, f"model {folder}")
    tracks = training_tracks(corpus)
    rng = np.random.default_rng(seed)
    held_tracks = rng.permutation(tracks)[:max(1, round(HELD_OUT * tracks.size))]  # held out whole, not by window
    drawn = drawn_pieces(model, pieces, seed, progress)
    performances, starts, track_of = real_windows(corpus, tracks, pieces, rng)
    roll = torch.from_numpy(np.concatenate([rolls(performances, starts, WINDOW_S),
                                            rolls(drawn, [np.zeros(1)] * pieces, WINDOW_S)]))  # [2·pieces, ROWS, F]
    real = torch.cat([torch.ones(pieces), torch.zeros(pieces)])  # [2·pieces]
    held_real = np.isin(track_of, held_tracks)  # [pieces]
    held_drawn = rng.random(pieces) < held_real.mean()  # as large a share of the drawn pieces
    is_held = torch.from_numpy(np.concatenate([held_real, held_drawn]))  # [2·pieces]
    held, trained = torch.nonzero(is_held)[:, 0], torch.nonzero(~is_held)[:, 0]
    net = fit(roll[trained], real[trained], epochs, seed, progress)
    logits = logits_of(net, roll[held])  # [X held out]
    temperature = calibrated_temperature(logits, real[held])
    accuracy = float(((logits > 0).float() == real[held]).float().mean())
    critic = PieceCritic(net, WINDOW_S, temperature, kept_share,
                         {"pieces": pieces, "real_windows": pieces, "epochs": epochs, "seed": seed,
                          "corpus": str(corpus.root), "held_out_accuracy": round(accuracy, 4),
                          "held_out_windows": int(held.shape[0]), "held_out_tracks": int(held_tracks.size)})
    silent = Events(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), WINDOW_S)
    critic.trained["silent_window_score"] = round(float(critic.scores([silent], [WINDOW_S])[0]), 3)
    critic.trained["drawn_score_median"] = round(float(np.median(logits[real[held] == 0].numpy() / temperature)), 3)
    return critic, critic.save(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m timestepmusic.train.critic",
                                     description=__doc__.split("Shapes:")[0])
    parser.add_argument("model", help="a model folder (a run folder: its last checkpoint)")
    parser.add_argument("--corpus", required=True, help="the prepared corpus the model was trained on (its training split)")
    parser.add_argument("-n", "--pieces", type=int, default=6000,
                        help="pieces drawn, and real windows cut, to train on (default 6000)")
    parser.add_argument("--epochs", type=int, default=12, help="passes over them (default 12)")
    parser.add_argument("--kept", type=float, default=0.5,
                        help="the share of the model's pieces kept (default 0.5: generating draws about twice as many)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pieces drawn, the windows cut and training")
    parser.add_argument("--overwrite", action="store_true", help="train again over a critic the model has")
    args = parser.parse_args(argv)
    if args.pieces < 50 or args.epochs < 1:
        parser.error(f"-n must be at least 50 and --epochs at least 1, got {args.pieces} and {args.epochs}")
    if not 0 < args.kept <= 1:
        parser.error(f"--kept must be in (0, 1], got {args.kept:g}")
    try:
        critic, written = train_critic(args.model, args.corpus, args.pieces, args.epochs, args.kept, args.seed,
                                       args.overwrite)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    accuracy = critic.trained["held_out_accuracy"]
    print(f"{written}: held-out accuracy {accuracy:.3f} over {critic.trained['held_out_windows']} windows, "
          f"temperature {critic.temperature:.2f}, keeps {critic.kept_share:.0%} of the model's pieces")
    if accuracy < WEAK:
        print(f"WARNING: a held-out accuracy of {accuracy:.3f} tells the model's pieces from real playing hardly better "
              f"than chance, so --select keeps pieces almost at random; train on more (-n 6000 --epochs 12, as the "
              "default's)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
