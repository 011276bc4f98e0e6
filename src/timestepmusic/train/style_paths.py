"""Add the description paths (`ar.style_path`) to an events model trained with ar.style before training kept them:
`python -m timestepmusic.train.style_paths MODEL CORPUS` writes MODEL/style_paths.safetensors, the descriptions along
every training track of the corpus the model was trained on, each labelled with its composer and title (what
`tsm generate --composer` draws among), and records its sha256 in MODEL/config.json. Nothing else in MODEL changes; a
model that keeps paths already is left as it is, unless `--relabel` asks for its paths to be written again with those
labels (a model trained before paths kept them), which refuses where the descriptions would differ from those kept.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

from ..batches import ChunkGatherer
from ..checkpoint import CONFIG, load_tensors, read_meta
from ..checks import check_corpus_matches
from ..corpus import Corpus
from ..files import atomic_path, save_tensors
from ..generation import checkpoint_config
from ..script_errors import said_errors
from ..sequence import AVERAGED_GENERATOR
from ..sequence.style_describe import StyleGatherer
from ..sequence.windows import split_samplers

KEY = "style_paths"


def add_style_paths(model: str | Path, corpus_path: str | Path, relabel: bool = False) -> Path:
    """Write MODEL/style_paths.safetensors from the corpus MODEL was trained on; → its path. With `relabel`, write
    the paths a model keeps already again, labelled (the same descriptions). A model without ar.style, or a corpus
    other than its own: ValueError in one line."""
    folder, meta = read_meta(model)
    config = checkpoint_config(meta)
    if meta.get("arch") != "events" or not config.ar.style:
        raise ValueError(f"{folder}: not an events model trained with ar.style; it follows no description")
    kept = KEY in meta.get("weights", {})
    if kept and not relabel:
        raise ValueError(f"{folder}: keeps description paths already ({KEY}.safetensors); --relabel writes them "
                         "again with each performance's composer and title")
    if relabel and not kept:
        raise ValueError(f"{folder}: keeps no description paths to relabel; leave out --relabel to add them")
    corpus = Corpus.open(corpus_path)
    check_corpus_matches(meta, corpus, str(folder))
    trained_on = meta.get("corpus", {}).get("key")
    if trained_on is not None and trained_on != corpus.manifest["key"]:
        raise ValueError(f"{corpus.root}: not the corpus {folder} was trained on (another manifest key)")
    track_of, within = (torch.from_numpy(index) for index in corpus.chunk_index(None))  # [C] each, every chunk's

    def locate(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # global chunk rows → (track, chunk)
        return track_of[rows], within[rows]

    train_windows, _ = split_samplers(corpus, config.ar.context, config.ar.ending_share)
    styles = StyleGatherer(ChunkGatherer(corpus, max_events=config.chunks.max_events), config.ar.style_pause)
    sampled = AVERAGED_GENERATOR if AVERAGED_GENERATOR in meta["weights"] else "generator"
    weights = load_tensors(folder, sampled)
    if "style.mean" not in weights:
        raise ValueError(f"{folder / sampled}.safetensors: holds no description statistics (style.mean)")
    mean = weights["style.mean"]  # [D]: what an undefined attribute is held as (the bank's)
    paths = styles.paths(train_windows, locate, mean)
    target = folder / f"{KEY}.safetensors"
    if kept:
        before = load_tensors(folder, KEY)
        if not (torch.equal(before["rows"], paths.rows) and torch.equal(before["starts"], paths.starts)):
            raise ValueError(f"{target}: the descriptions made from {corpus.root} differ from those kept; not "
                             "relabelled")
    with atomic_path(target) as tmp:
        save_tensors({k: v.contiguous() for k, v in paths.state_dict().items()}, tmp)
    meta["weights"][KEY] = hashlib.sha256(target.read_bytes()).hexdigest()
    with atomic_path(folder / CONFIG) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m timestepmusic.train.style_paths", description=__doc__)
    parser.add_argument("model", help="an events model folder trained with ar.style")
    parser.add_argument("corpus", help="the prepared corpus it was trained on")
    parser.add_argument("--relabel", action="store_true",
                        help="write the paths a model keeps already again, each performance labelled with its composer "
                        "and title (for tsm generate --composer)")
    args = parser.parse_args(argv)
    path = said_errors(lambda: add_style_paths(args.model, args.corpus, args.relabel), args.model, "the paths")
    if path is None:
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
