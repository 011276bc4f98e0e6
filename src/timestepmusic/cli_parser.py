"""`tsm`'s parser: a subcommand per verb, each with its flags and the function that runs it (generate's flags live in
generate_flags.py, evaluate's and plot's in evaluate/cli_commands.py)."""
from __future__ import annotations

import argparse

from .argtypes import count_arg, pedal_bins_arg, rate_arg, seed_arg, step_seconds_arg
from .audio_flags import add_audio_flags
from .autoencoder_commands import cmd_evaluate_ae, cmd_reconstruct
from .config_flags import add_config_flags
from .data_commands import cmd_data_check, cmd_prepare, cmd_stats
from .subcommands import add_shared_flags
from .train_commands import cmd_train_ae, cmd_train_gan
from .usage_errors import OneLineParser


def _positive_minutes(text: str, left_out: str = "train to the end") -> float:
    """--max-minutes: a number of minutes above 0 (0 or less would stop before training, or never)."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not minutes > 0 or minutes == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: give a time above 0 minutes (leave the flag out to {left_out})")
    return minutes


def _checkpoint_minutes(text: str) -> float:
    """--checkpoint-minutes: read as --max-minutes is (not argparse's 'invalid float value', nor nan as a setting)."""
    return _positive_minutes(text, "checkpoint at the default interval")


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    """The flags train-ae and train-gan share: device, time box, checkpoints, quiet, and the configuration."""
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default; with --resume: the run's own, auto unless "
                   "it was started with another)")
    p.add_argument("--overwrite", action="store_true",
                   help="--out names a folder that already holds a run: delete it and start again (without this, "
                   "such a folder is refused; continue it with --resume)")
    p.add_argument("--max-minutes", type=_positive_minutes,
                   help="stop (after saving RUN/last) when this much time has passed (minutes, above 0; default: no limit)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model that trains (pays off on a GPU; compiling takes minutes on a CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_config_flags(p)


def build_parser() -> argparse.ArgumentParser:
    from .config import PRESETS, Config

    parser = OneLineParser(prog="tsm", description="TimeStepMusic: expressive piano performances "
                                     "(timing, dynamics, damper/sostenuto/soft pedal) from a set autoencoder and a "
                                     "sequence model.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (also accepted after the command)")
    parser.add_argument("--version", action="version", version=f"tsm {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="MIDI performances → chunked corpus on disk",
                       description="Turn performances into a chunked corpus. SOURCE: a MAESTRO v3.0.0 folder (its csv "
                       "gives splits), an ASAP-style folder with metadata.csv (split by piece), any folder of .mid/.midi "
                       "(recursive; split by piece: each subfolder's files a piece, a file directly in it a piece of its "
                       "own), or single files (each a piece named by its folder, or by the file where given without one: "
                       "give mine/, not mine/*.mid, to split them). Bad files are skipped and listed.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("-o", "--out", required=True, metavar="CORPUS", help="corpus folder (created; reused when up to date)")
    p.add_argument("--chunk-seconds", type=step_seconds_arg, help="time step in seconds (default 0.25)")
    p.add_argument("--max-events", type=count_arg, help="most events per chunk; more are dropped and counted (default 15)")
    p.add_argument("--pedal-bins", type=pedal_bins_arg,
                   help="pedal depth bins, 1-127, 0 = keep every CC value (default 4)")
    p.add_argument("--workers", type=count_arg, help="parsing processes (default: one per core)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or statistics table")
    add_config_flags(p)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("stats", help="statistics of a prepared corpus",
                       description="Files and hours per split, notes, pedal events per pedal and depth bin, events per "
                       "chunk, overflow at this and other caps, skipped files and why.")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_stats)

    ae, gan = Config().ae, Config().gan
    p = sub.add_parser("train-ae", help="train the PISA set autoencoder (or --resume a run)",
                       description="Train PISA on the corpus's training split, validating each epoch; writes RUN/last, "
                       "RUN/best and RUN/metrics.jsonl. --resume RUN continues exactly where it stopped.")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("-o", "--out", metavar="RUN", help="run folder")
    p.add_argument("--resume", metavar="RUN", help="continue this run (its saved config is used)")
    p.add_argument("--latent", type=count_arg, help="latent size per chunk (default 20; 75 is near-lossless)")
    p.add_argument("--encoding", help="pon (default), ponOHE, pnOHE, OHE or none")
    p.add_argument("--epochs", type=count_arg, help=f"epochs to train (default {ae.epochs}; with --resume: the new total)")
    p.add_argument("--batch", type=count_arg, help=f"chunks per batch (default {ae.batch_chunks})")
    p.add_argument("--lr", type=rate_arg, help=f"Adam learning rate (default {ae.lr:.0e}, safe for a run left alone; the "
                   "shipped autoencoders started at 1e-3 and were lowered by hand with --resume --lr; with --resume: "
                   "from here on)")
    p.add_argument("--checkpoint-minutes", type=_checkpoint_minutes,
                   help=f"minutes between RUN/last checkpoints within an epoch (default {ae.checkpoint_every_s / 60:g}; "
                   "one is always written at each epoch's end)")
    p.add_argument("--seed", type=seed_arg, help=f"seed of initialisation, order and augmentation (default {ae.seed})")
    _add_training_flags(p)
    p.set_defaults(func=cmd_train_ae)

    p = sub.add_parser("train-gan", help="train a sequence model (conv WGAN-GP, --arch rnn, ar or events) on autoencoder latents",
                       description="Encode the corpus once with the autoencoder (cached in RUN), then train the GAN; "
                       "writes RUN/last, RUN/best, RUN/metrics.jsonl and, every gan.sample_every steps (0: never, as the shipped "
                       "models' settings), RUN/samples/step_*/ MIDI from fixed noise.")
    p.add_argument("corpus", metavar="CORPUS")
    p.add_argument("--ae", metavar="AE_RUN", help="trained autoencoder run (its best checkpoint is used), a shipped one "
                   "(ae-latent75), or a sequence model's run or name: the autoencoder it was trained over")
    p.add_argument("-o", "--out", metavar="RUN", help="run folder")
    p.add_argument("--resume", metavar="RUN", help="continue this run (its architecture and settings are kept)")
    p.add_argument("--init-from", metavar="MODEL",
                   help="warm start a new run from this run, checkpoint or shipped model's name (its settings, "
                   "weights wherever names and shapes still fit after --set, normaliser and autoencoder), e.g. to "
                   "fine-tune the default on your own corpus or to try another head on a trained network")
    p.add_argument("--arch", metavar="{conv,rnn,ar,events}",
                   help="conv: convolutional GAN over fixed 16 s windows (default, or --init-from's); rnn: recurrent "
                   "attention GAN over variable-length sequences that learns where pieces end; ar: causal transformer trained by "
                   "likelihood (settings in [ar]), which continues prompts and ends pieces; events: the same transformer drawing "
                   "each chunk as events (key, start, duration, intensity) instead of a latent to decode; or an arm of your "
                   "own, registered by its name in a file or module named in $TSM_ARMS (docs/design.md, adding an arm)")
    p.add_argument("--finetune-ae", action="store_true", default=None,
                   help="keep training the autoencoder with the GAN (its reconstruction loss, weight gan.ae_weight, "
                   "as an anchor); the tuned autoencoder is saved with the run and decodes its samples")
    p.add_argument("--max-chunks", type=count_arg, help="rnn only: longest training sequence in chunks (default 64)")
    p.add_argument("--steps", type=count_arg, help=f"generator steps (default {gan.steps}, or --init-from's; with --resume: "
                   "the new total)")
    p.add_argument("--batch", type=count_arg, help=f"windows per batch (default {gan.batch}; ar and events: "
                   f"{Config().ar.batch}; or --init-from's)")
    p.add_argument("--checkpoint-steps", type=count_arg, metavar="STEPS",
                   help=f"validate and write RUN/last (and RUN/best) every this many generator steps (default "
                   f"{gan.validate_every}, or --init-from's)")
    p.add_argument("--seed", type=seed_arg,
                   help=f"seed of initialisation, window order and noise (default {gan.seed}, or --init-from's)")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="start from a named set of settings before --config and --set; seed: the convolutional "
                   "GAN as first designed (batch 10, one lr 1e-4, the strided critic, no weight average, no "
                   "minibatch std)")
    _add_training_flags(p)
    p.set_defaults(func=cmd_train_gan)

    from .generate_command import cmd_generate
    from .generate_flags import add_generate_parser

    add_generate_parser(sub).set_defaults(func=cmd_generate)

    p = sub.add_parser("reconstruct", help="a MIDI file through the autoencoder and back, to hear what it keeps",
                       description="MIDI → chunks → latents → decoded events → MIDI, with fidelity figures.")
    p.add_argument("input", metavar="IN.mid", help="MIDI performance to pass through the autoencoder")
    p.add_argument("--ae", metavar="RUN", help="autoencoder run or checkpoint, or a GAN run or model folder "
                   "(its autoencoder, fine-tuned where the GAN tuned it), or a shipped name: a model's, or "
                   "ae-latent75, the most faithful autoencoder measured (default: the shipped default model's, which is "
                   "ae-latent75)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mid", help="MIDI file to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.mid (and its PNG, WAV) if there (default: refuse)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--png", action="store_true", help="also write original-over-reconstruction piano rolls")
    add_audio_flags(p)
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("evaluate-ae", help="autoencoder fidelity on a split (note/pedal F1, velocity, set size)",
                       description="Encode and decode every chunk of a split of CORPUS with the autoencoder and "
                       "compare the result with the original: note and pedal F1, velocity error, set-size accuracy.")
    p.add_argument("run", metavar="RUN", help="autoencoder run (its best checkpoint is used) or checkpoint folder, "
                   "a shipped one (ae-latent75), or a sequence model's run, folder or name (its autoencoder: default)")
    p.add_argument("--corpus", required=True, metavar="CORPUS",
                   help="prepared corpus, chunked as the autoencoder was trained")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                   help="which split to evaluate (default test)")
    p.add_argument("--max-tracks", type=count_arg, help="evaluate only the first N tracks of the split")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--json-out", metavar="FILE", help="also write the figures as JSON to FILE")
    p.add_argument("--overwrite", action="store_true", help="replace --json-out's FILE where it is there already")
    p.set_defaults(func=cmd_evaluate_ae)

    p = sub.add_parser("data", help="check downloaded data before preparing it")
    data = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("check", help="verify a MAESTRO v3.0.0, an ASAP or a plain folder of MIDI files",
                        description="Verify a downloaded, unzipped MAESTRO v3.0.0 folder (its csv/json; the counts per "
                        "split against the release's), an ASAP folder (its metadata.csv; counted per split as prepare "
                        "splits it, by piece) or any folder of MIDI files (split as prepare splits it): every MIDI "
                        "file is present and readable.")
    p.add_argument("folder", metavar="FOLDER", help="a MAESTRO v3.0.0 folder, an ASAP folder (with metadata.csv) or "
                   "any folder of MIDI files, as tsm prepare reads them")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_data_check)

    from .evaluate import cli_commands

    cli_commands.add_commands(sub)
    add_shared_flags(parser)  # -v after the command too; --threads for those that run torch
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("timestepmusic")
    except PackageNotFoundError:
        return "unknown"
