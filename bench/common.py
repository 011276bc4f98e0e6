"""Helpers shared by the bench/ scripts: the report (machine line, plain-text tables, PASS/MISS,
load-average notes, the markdown file) and the fixtures (a corpus, an autoencoder).

The scripts run as `python bench/X.py` and import this module after putting bench/ on sys.path:

    BENCH = Path(__file__).resolve().parent
    sys.path.insert(0, str(BENCH))
    from common import machine, table  # noqa: E402
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_DATA = BENCH.parent.parent / "shared" / "data" / "asap"


# ---------------------------------------------------------------- report

def machine() -> str:
    model = "unknown CPU"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kib = 0
    return (f"{os.cpu_count()}-core CPU ({model}), {mem_kib / 2**20:.0f} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def busy(*loads: float) -> bool:
    """Whether any of these 1-min load averages says other work was running (over half the cores)."""
    return max(loads) > 0.5 * (os.cpu_count() or 1)


def load_average(before: float, after: float) -> str:
    return f"1-min load average {before:.1f} before, {after:.1f} after on {os.cpu_count()} cores"


def busy_warning(before: float, after: float, effect: str = "the timings are inflated by it") -> list[str]:
    """The report's WARNING line when the machine was busy (see `busy`), else nothing."""
    return [f"WARNING: other work was running on this machine; {effect}"] if busy(before, after) else []


def write_markdown(path: Path | None, title: str, lines: list[str], note: str = "") -> None:
    """The report `lines` as a markdown file at `path` (nothing when None): `title`, the date, the machine
    (`note` appended to that line), the command that ran this script, then `lines` in a code block.
    Written to a temporary file beside `path` first and moved into place."""
    if path is None:
        return
    script = getattr(sys.modules["__main__"], "__file__", None) or sys.argv[0]
    command = "python " + shlex.join([os.path.relpath(script), *sys.argv[1:]])  # as a shell would take it back
    header = [title, "", f"- date: {datetime.date.today().isoformat()}",
              f"- machine: {machine()}" + (f", {note}" if note else ""),
              f"- command: `{command}` (from the repository root)", "", "```"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text("\n".join(header + lines + ["```", ""]))
    os.replace(partial, path)


def print_skipped(data: Path, give: str = "--corpus CORPUS") -> None:
    print(f"skipped: {data} is absent; give {give} or put the ASAP performances there "
          "(see ../shared/data/README.md)")


# ---------------------------------------------------------------- fixtures

def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """--corpus and --data, as `open_corpus` reads them."""
    parser.add_argument("--corpus", type=Path, help="prepared corpus (default: prepare --data into a temporary folder)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ASAP folder (default ../shared/data/asap)")


def open_corpus(args: argparse.Namespace, tmp: Path):
    """--corpus, or ../shared/data/asap prepared into `tmp` (None when that is absent too)."""
    from timestepmusic.corpus import Corpus
    from timestepmusic.prepare_corpus import prepare

    if args.corpus is not None:
        return Corpus.open(args.corpus)
    if not args.data.is_dir():
        return None
    print(f"preparing {args.data} into a temporary folder (give --corpus to skip this)", file=sys.stderr)
    return prepare([args.data], tmp / "corpus", progress=False).corpus


@contextlib.contextmanager
def scratch_corpus(args: argparse.Namespace, prefix: str = "tsm-bench-"):
    """(a temporary folder removed after, `open_corpus` in it): for a script that writes there too (a tiny
    autoencoder, cached latents); where the data is absent too, the corpus is None, said (`print_skipped`)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        corpus = open_corpus(args, tmp)
        if corpus is None:
            print_skipped(args.data)
        yield tmp, corpus
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def corpus_or_skip(args: argparse.Namespace, prefix: str = "tsm-bench-"):
    """`open_corpus` in a temporary folder removed after; where the data is absent too, None, said (`print_skipped`)."""
    with scratch_corpus(args, prefix) as (_, corpus):
        yield corpus


def add_head_calibration_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of the scripts that hold an events model's head against real excerpts after their real past
    (bench/key_calibration.py, register_calibration.py): the corpus, the models, the split, how many excerpts, the
    report."""
    add_corpus_arguments(parser)
    parser.add_argument("--model", action="append", help="events runs or shipped models (default: default)")
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--excerpts", type=int, default=60, help="real 16 s excerpts, evenly spaced (default 60)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")


def evenly_spaced_excerpts(corpus, split: str, seconds: float, count: int) -> list:
    """`count` real excerpts of `seconds` from `split`, evenly spaced over all of them (the Events of each)."""
    import numpy as np

    from timestepmusic.evaluate.excerpts import excerpts_from_corpus

    real_table = excerpts_from_corpus(corpus, split, seconds)
    picked = np.linspace(0, real_table.num_excerpts - 1, min(count, real_table.num_excerpts))
    return [real_table.events(int(x)) for x in picked.round()]


def add_descriptor_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of the scripts that compare generated MIDI folders with a split's real excerpts."""
    parser.add_argument("folders", nargs="+", help="folders of generated MIDI files")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--seconds", type=float, default=16.0)


def add_drawing_arguments(parser: argparse.ArgumentParser, pieces: int, pieces_help: str, seconds: float) -> None:
    """The arguments of the scripts that draw pieces asked something and measure them (bench/key_follow.py,
    tempo_follow.py, key_path.py, style_path.py, tempo_path.py): the model, `pieces` per request and seed, their
    length, the seeds, whether the critic selects, and the report."""
    parser.add_argument("--model", default="default", help="a run folder or a shipped model's name")
    parser.add_argument("-n", type=int, default=pieces, help=pieces_help)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--select", action="store_true",
                        help="the pieces a model's critic keeps (as tsm generate --select), not every piece drawn")


def add_follow_arguments(parser: argparse.ArgumentParser, pieces: int, pieces_help: str, corpus_help: str) -> None:
    """The arguments of the scripts that measure how a model follows a request (bench/key_follow.py,
    bench/tempo_follow.py): add_drawing_arguments' for 16 s pieces, and a corpus and split for real excerpts beside."""
    add_drawing_arguments(parser, pieces, pieces_help, 16.0)
    parser.add_argument("--corpus", type=Path, help=corpus_help)
    parser.add_argument("--split", default="validation")


def drawn(gan, n: int, seconds: float, seed: int, select: bool = False, **options) -> list:
    """`n` pieces as `tsm generate` draws them: with `select`, those the model's critic keeps
    (draws.selected_pieces), else every one drawn (GANModel.sample); without its redraw of silent pieces."""
    from timestepmusic.draws import selected_pieces

    if select:
        return selected_pieces(gan, n, seconds, seed, **options)[1]
    return gan.sample(n, seconds, seed, **options)


def descriptor_means(described: dict[str, dict], names: tuple[str, ...]) -> list[str]:
    """A table of each descriptor's mean (NaN left out) in each column: `described` maps a column's header to
    `tsm evaluate`'s descriptors of its excerpts (describe's)."""
    import numpy as np

    rows = [[name, *(f"{np.nanmean(values[name]):.3f}" for values in described.values())] for name in names]
    return table(["descriptor", *described], rows)


def drawing_seconds(seconds_taken: dict[str, float], pieces: int, per_call: int) -> str:
    """The line of how long drawing took: each kind's seconds per piece, `pieces` of each drawn `per_call` at once."""
    return ("seconds of drawing per piece (one thread): "
            + ", ".join(f"{what} {taken / pieces:.3f} s" for what, taken in seconds_taken.items())
            + f" ({per_call} pieces per call, after one warm-up call)")


def add_settings_argument(parser: argparse.ArgumentParser) -> None:
    """--settings: rows drawn with other sampling settings (read by `settings_groups`)."""
    parser.add_argument("--settings", action="append", default=[], metavar="ar.A=1;ar.B=2",
                        help="a row drawn with these sampling settings (as tsm generate --set), besides the model's own")


def settings_groups(gan, texts: list[str]) -> tuple[list[list[str]], object]:
    """--settings texts (';'-separated ar.NAME=VALUE) → the groups of rows to draw, the model's own first ([]), each
    checked as `tsm generate --set` checks it before anything is drawn (a refused one: ValueError); and the model's
    own settings, which `use_settings` goes back to."""
    from timestepmusic.generation import set_sampling

    own = getattr(gan.arm, "settings", None)
    groups = [[a.strip() for a in text.split(";") if a.strip()] for text in ["", *texts]]
    for group in groups[1:]:
        set_sampling(gan, group)
    use_settings(gan, [], own)
    return groups, own


def use_settings(gan, group: list[str], own) -> None:
    """The model set to draw with `group` (set_sampling), or with its own settings `own` where the group is empty."""
    from timestepmusic.generation import set_sampling

    if group:
        set_sampling(gan, group)
    elif own is not None:
        gan.arm.settings = own


def read_pieces(files: list) -> tuple[list, list]:
    """Generated MIDI files → (the events of each readable one, those files), read as `tsm evaluate` reads them
    (evaluate.generated_files.read_generated): a file that cannot be read is said in one line on stderr (its name and why)
    and skipped, as a batch job skips a bad file; none readable is one line and exit."""
    from timestepmusic.evaluate.generated_files import read_generated
    from timestepmusic.stage_configs import EventsConfig

    if not files:
        return [], []
    try:
        pieces, _, _, bad, _, read = read_generated(files, EventsConfig().pedal_bins)
    except ValueError as error:
        raise SystemExit(f"error: none of the {len(files)} generated files could be read ({error})") from None
    for skipped in bad:
        print(f"{skipped['file']}: {skipped['reason']}; skipped", file=sys.stderr)
    return pieces, read


def describe_real_and_generated(args: argparse.Namespace) -> tuple[dict, dict, list[Path], tuple]:
    """`tsm evaluate`'s descriptors of the split's real excerpts and of the generated files' (cut as the report cuts
    them) → (real, generated, the generated files read, the performance and the file of each excerpt: the
    classifiers' `groups`, so that their folds keep each whole as `tsm evaluate`'s do)."""
    import glob

    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus, excerpts_from_events

    real = excerpts_from_corpus(Corpus.open(args.corpus), args.split, args.seconds)
    pieces, files = read_pieces([f for folder in args.folders for f in sorted(glob.glob(f"{folder}/*.mid"))])
    generated = excerpts_from_events(pieces, args.seconds)
    return describe(real), describe(generated), files, (real.group, generated.group)


def copy_checkpoint(src: Path, dest: Path, load=None):
    """A private copy of the checkpoint `src` (run folder or checkpoint) at `dest`, since a training run may be
    rewriting it; returns `load(dest)`, or `dest` when `load` is None. A failed copy or load is retried twice."""
    from timestepmusic.checkpoint import checkpoint_dir

    for attempt in range(3):  # the run may rename last ↔ .last.old while we copy
        try:
            shutil.copytree(checkpoint_dir(src), dest, dirs_exist_ok=True)
            return dest if load is None else load(dest)
        except (OSError, ValueError):
            if attempt == 2:
                raise
            time.sleep(1)


def load_autoencoder(args: argparse.Namespace, corpus, tmp: Path):
    """--ae (copied first: a training run may be rewriting it), or a tiny autoencoder trained for 20 steps."""
    from timestepmusic.autoencoder import Autoencoder
    from timestepmusic.train.ae import train_autoencoder

    if args.ae is not None:
        return copy_checkpoint(args.ae, tmp / "ae", Autoencoder.load)
    print("training a tiny autoencoder for 20 steps (give --ae to skip this)", file=sys.stderr)
    train_autoencoder(corpus.root, tmp / "ae", corpus.config.override({"ae.device": "cpu"}), progress=False,
                      max_steps=20)
    return Autoencoder.load(tmp / "ae")
