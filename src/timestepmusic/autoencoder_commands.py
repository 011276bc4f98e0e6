"""`tsm reconstruct` and `tsm evaluate-ae`: a performance through the autoencoder and back, and the autoencoder's
fidelity on a split of a corpus. Heavy imports happen inside each command so that `tsm --help` stays fast."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from .audio_flags import check_audio_flags
from .files import refuse_existing
from .performance import MIDI_SUFFIXES
from .subcommands import said_left_out

log = logging.getLogger(__name__)


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .autoencoder import load_autoencoder
    from .evaluate.fidelity import Fidelity, format_fidelity
    from .evaluate.render import render_outputs, rendered_paths
    from .midi import events_from_bytes, score_to_events, score_to_grid
    from .midi_open import file_bytes, load_score, score_from_bytes
    from .midi_write import FileMeta, write_events

    check_audio_flags(args)
    output = Path(args.output)
    if not args.output.strip():
        raise ValueError("-o: an empty name; give the name of the MIDI file to write (OUT.mid)")
    if output.is_dir() or args.output.endswith(("/", "\\")):
        raise ValueError(f"-o {args.output}: a folder; give the name of the MIDI file to write (OUT.mid)")
    if output.suffix.lower() not in MIDI_SUFFIXES:
        raise ValueError(f"-o {args.output}: give the name of the MIDI file to write (OUT.mid)")
    if output.exists() and output.resolve() == Path(args.input).resolve():  # --overwrite or not: it is the input
        raise ValueError(f"-o {args.output}: the performance being reconstructed; give another name (its "
                         "reconstruction would replace it)")
    refuse_existing([output, *rendered_paths(output, png=args.png, wav=args.wav)], args.overwrite)
    ae = load_autoencoder(args.ae, args.device)
    data = file_bytes(args.input)
    events, drops = events_from_bytes(data, args.input, pedal_bins=ae.config.events.pedal_bins)
    said_left_out(args.input, drops)
    grid = score_to_grid(score_from_bytes(data, args.input))  # written under it: the file's bars in a sequencer
    seen, rebuilt, size_accuracy = ae.reconstruct(events)
    said_over_cap(args.input, events, seen, ae.max_events, ae.chunk_seconds)
    path = write_events(rebuilt, args.output, FileMeta(keys=grid.keys, tempos=grid.tempos, meters=grid.meters))
    fidelity = Fidelity()
    fidelity.add(seen, rebuilt, ae.config.events.pedal_bins)
    summary = fidelity.summary() | {"set_size_accuracy": size_accuracy, "chunks": int(round(events.end_s / ae.chunk_seconds))}
    print(f"wrote {path}")
    print(format_fidelity(summary))
    if args.png or args.wav:  # the roll of the file as written: the decoded presses of a pedal that overlap, joined
        written, _ = score_to_events(load_score(path), pedal_bins=ae.config.events.pedal_bins)
        for extra in render_outputs(path, written, png=args.png, wav=args.wav, original=seen, soundfont=args.soundfont):
            print(extra)
    return 0


def said_over_cap(what: str, events, seen, max_events: int, chunk_seconds: float) -> None:
    """One line naming the notes and pedal presses of `events` the autoencoder never saw (`seen`: the events of each
    chunk past its cap, left out before encoding), where there are any: its figures compare the rest alone."""
    lost = [f"{int(mine(events).sum() - mine(seen).sum())} of {int(mine(events).sum())} {name}"
            for name, mine in (("notes", lambda e: e.is_note), ("pedal presses", lambda e: ~e.is_note))
            if mine(events).sum() > mine(seen).sum()]
    if lost:
        log.warning("%s: %s left out, over the autoencoder's %d events per %g s (a dense passage): not in the "
                    "reconstruction, nor in the figures", what, " and ".join(lost), max_events, chunk_seconds)


def cmd_evaluate_ae(args: argparse.Namespace) -> int:
    from .autoencoder import load_autoencoder
    from .checks import check_corpus_matches
    from .corpus import Corpus
    from .evaluate.latent_space import evaluate_autoencoder, format_evaluation
    from .files import atomic_path, refuse_existing

    if args.json_out:  # (said before the evaluation, not after it)
        out = Path(args.json_out)
        if out.is_dir():
            raise ValueError(f"--json-out {args.json_out}: a folder; give a file's name")
        if (out.parent / "config.json").is_file() and (out.name == "config.json" or out.suffix == ".safetensors"):
            raise ValueError(f"--json-out {args.json_out}: a file of the checkpoint {out.parent} (even with --overwrite, "
                             "it would no longer load); give a file outside it")
        refuse_existing([out], args.overwrite)
    ae = load_autoencoder(args.run, args.device, flag="RUN")
    corpus = Corpus.open(args.corpus)
    check_corpus_matches(ae.meta, corpus, f"autoencoder {args.run}")
    summary = evaluate_autoencoder(ae, corpus, args.split, max_tracks=args.max_tracks)
    if args.json_out:
        with atomic_path(args.json_out) as tmp:
            tmp.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary) if args.json else format_evaluation(summary))
    return 0
