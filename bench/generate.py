"""Benchmark: generating one 16 s performance: the in-process latency of `GANModel.sample` after
load, and the whole `tsm generate` process beside the cost of importing torch.

  sample     GANModel.sample(1, 16, seed): median (and 90th percentile) of `--samples` calls after
             `--warmup` calls, each with a new seed; split into generator, PISA decoder, vector →
             event decoding and sets → events (the parts are re-run here and checked to give the
             same events as sample); and sample_latents under torch.inference_mode with oneDNN off (as it
             runs) beside oneDNN on and beside torch.no_grad with oneDNN on (the baseline: how it ran
             before the thirty-sixth session), interleaved
  load       GANModel.load(RUN) in the warm process (median of 5), and writing the MIDI file
  process    `tsm generate -n 1 -o TMP --model RUN` as a fresh process, `--runs` times (median);
             beside `python -c "import torch"` (the floor: every path to generate imports torch)
             and `python -c "import timestepmusic.cli"` (what every `tsm` command, even --help,
             pays before it starts), run interleaved; `-X importtime` shows what the CLI import
             pulls in
  against   with --against REV: GANModel.sample(1, 16, seed) in this checkout and in git revision REV (a
             temporary worktree), each in its own process, in turns, the same model and seeds; CPU time per
             piece (less moved than wall time by other jobs on the machine), and whether both drew the same
             events (a shipped model's name loads each revision's own weights: give a run folder to hold them
             fixed)
Everything runs on one thread: torch.set_num_threads(1) here and OMP_NUM_THREADS=1 for the child
processes. Targets (the README's "Where it stands"): sampling ≥ 100× real time, i.e. one 16 s piece drawn in
at most 16 s / 100 = 160 ms (the median of GANModel.sample(1, 16, seed) in process, after load; the `--against`
table gives the same ratio from CPU time), and `tsm generate -n 1` ≤ 3 s as a whole process. Reports written
before this was corrected (bench/results/generate*.md up to generate_events_49.md) print "≤ 20 ms", a target
from the bench's first version that no document states: read their sample row against 160 ms instead (all MISS
but generate.md's 121.80 ms, for the 2026-11-30 `ar` default, which meets it).

    python bench/generate.py --model /root/work/gan_t --markdown bench/results/generate.md
    python bench/generate.py --model default --against HEAD~1   # a sampler change beside the code before it
    python bench/generate.py      # prepares ../shared/data/asap and trains a tiny GAN first
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
SECONDS = 16.0
REAL_TIME_TARGET = 100.0  # sampling ≥ 100× real time (README, "Where it stands")
SAMPLE_TARGET_MS = 1e3 * SECONDS / REAL_TIME_TARGET  # 160 ms for one 16 s piece
PROCESS_TARGET_S = 3.0
sys.path.insert(0, str(BENCH))
from common import DEFAULT_DATA, busy_warning, load_average, print_skipped, table, verdict, write_markdown  # noqa: E402


def tiny_model(data: Path, tmp: Path) -> Path | None:
    """A GAN run trained for 2 steps on a tiny autoencoder (20 steps) over `data` prepared into `tmp`."""
    from timestepmusic.config import Config
    from timestepmusic.prepare_corpus import prepare
    from timestepmusic.train.ae import train_autoencoder
    from timestepmusic.train.sequence import train_sequence_model as train_gan

    if not data.is_dir():
        return None
    print(f"preparing {data}, training a tiny autoencoder and GAN (give --model to skip this)", file=sys.stderr)
    corpus = prepare([data], tmp / "corpus", progress=False).corpus
    train_autoencoder(corpus.root, tmp / "ae", corpus.config.override({"ae.device": "cpu"}), progress=False,
                      max_steps=20)
    config = Config().override({"gan.device": "cpu", "gan.steps": 2, "gan.validate_every": 1, "gan.sample_every": 0})
    train_gan(corpus.root, tmp / "ae", tmp / "gan", config, progress=False)
    return tmp / "gan"


def timed(fn, repeat: int) -> tuple[list[float], object]:
    """Seconds of each of `repeat` calls of fn(i), and the last result."""
    out, result = [], None
    for i in range(repeat):
        t0 = time.perf_counter()
        result = fn(i)
        out.append(time.perf_counter() - t0)
    return out, result


def sample_parts(gan, seed: int, **asked) -> tuple[dict[str, float], object]:
    """GANModel.sample(1, SECONDS, seed, **asked) step by step: seconds per part and the events."""
    from timestepmusic.batches import SetBatch
    from timestepmusic.piece_events import sampled_events

    ae = gan.ae
    if getattr(gan.arm, "draws_events", False):  # the events arm: drawn as events, nothing decoded
        t0 = time.perf_counter()
        pieces = gan.sample_latents(1, SECONDS, seed, **asked)
        t1 = time.perf_counter()
        events = sampled_events(gan.arm, ae, pieces)[0]
        t2 = time.perf_counter()
        return {"transformer + event head + encoder (draws)": t1 - t0, "drawn sets → events": t2 - t1}, events
    t0 = time.perf_counter()
    latent = gan.sample_latents(1, SECONDS, seed)[0]  # [T, L]
    t1 = time.perf_counter()
    with torch.no_grad():
        elements, size_logits = ae.model.decode(latent.float())  # [T, N, D], [T, N + 1]
    t2 = time.perf_counter()
    sets = SetBatch(*ae.encoding.decode(elements), size_logits.argmax(-1))
    t3 = time.perf_counter()
    events = ae.sets_to_events(sets)  # with the autoencoder's pedal joins and restrike reading
    t4 = time.perf_counter()
    return dict(zip(("generator + normaliser", "PISA decoder", "vectors → events (encoding.decode)",
                     "sets → events (sort)"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3))), events


@contextlib.contextmanager
def onednn(enabled: bool, mode):
    """torch's oneDNN CPU kernels on or off, inside an autograd mode (a context manager)."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = enabled
    try:
        with mode:
            yield
    finally:
        torch.backends.mkldnn.enabled = before


def run_process(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def torch_import_chain(env: dict) -> tuple[str, float, float]:
    """From `python -X importtime -c "import timestepmusic.cli"`: the chain of modules through which
    torch gets imported ('' when it does not), torch's cumulative and the whole import's seconds."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import timestepmusic.cli"], env=env,
                         capture_output=True, text=True, check=True).stderr
    rows = []  # (indent, name, cumulative µs), children before parents
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        rows.append((len(name) - len(name.lstrip()), name.strip(), int(cumulative)))
    total = next((c for _, n, c in rows if n == "timestepmusic.cli"), 0) / 1e6
    at = next((i for i, (_, n, _) in enumerate(rows) if n == "torch"), None)
    if at is None:
        return "", 0.0, total
    chain, indent = ["torch"], rows[at][0]
    for depth, name, _ in rows[at + 1:]:
        if depth < indent:
            chain.append(name)
            indent = depth
    return " → ".join(reversed(chain)), rows[at][2] / 1e6, total


AGAINST_CHILD = """
import hashlib, json, sys, time
import torch
torch.set_num_threads(1)
import timestepmusic
from timestepmusic.generation import GANModel
model, first, count, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
gan = GANModel.load(model)
for i in range(warmup):
    gan.sample(1, 16.0, 1000 + i)
cpu_s, wall_s, drawn = [], [], hashlib.sha256()
for seed in range(first, first + count):
    c0, w0 = time.process_time(), time.perf_counter()
    events = gan.sample(1, 16.0, seed)[0]
    cpu_s.append(time.process_time() - c0)
    wall_s.append(time.perf_counter() - w0)
    for column in (events.ids, events.start_s, events.duration_s, events.intensity):
        drawn.update(column.tobytes())
print(json.dumps({"cpu_s": cpu_s, "wall_s": wall_s, "events": drawn.hexdigest(), "package": timestepmusic.__file__}))
"""


def against(model: str, rev: str, samples: int, rounds: int = 4) -> list[str]:
    """One 16 s piece drawn by this checkout and by git revision `rev`, in turns (see the module's docstring)."""
    root = BENCH.parent
    tree = Path(tempfile.mkdtemp(prefix="tsm-bench-against-")) / "tree"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
    try:
        sources = {"this checkout": root / "src", f"{rev} (baseline)": tree / "src"}
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        runs: dict[str, list[dict]] = {name: [] for name in sources}
        per_round = max(1, samples // rounds)
        for r in range(rounds):
            for name, src in sources.items():
                child = subprocess.run([sys.executable, "-c", AGAINST_CHILD, model, str(r * per_round),
                                        str(per_round), "3"], env=dict(env, PYTHONPATH=str(src)),
                                       capture_output=True, text=True)
                if child.returncode != 0:
                    raise SystemExit(f"--against: the {name} child failed:\n{child.stderr.strip()}")
                runs[name].append(json.loads(child.stdout.strip().splitlines()[-1]))
    finally:
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(tree.parent, ignore_errors=True)
    rows, medians = [], {}
    for name, done in runs.items():
        cpu = [1e3 * x for run in done for x in run["cpu_s"]]
        wall = [1e3 * x for run in done for x in run["wall_s"]]
        medians[name] = statistics.median(cpu)
        rows.append([name, f"{medians[name]:.1f} ms", f"{statistics.median(wall):.1f} ms",
                     f"{1e3 * SECONDS / medians[name]:.0f}×"])
    mine, base = medians.values()
    same = all(a["events"] == b["events"] for a, b in zip(*runs.values()))
    imported = {name: Path(done[0]["package"]).parent.parent.parent for name, done in runs.items()}
    return ([f"GANModel.sample(1, 16, seed) beside {rev}: {per_round * rounds} seeds each, {rounds} turns of "
             f"{per_round}, one process per turn (medians; CPU time of the process)", ""]
            + table(["code", "CPU per piece", "wall per piece", "real time ÷ CPU"], rows)
            + ["", f"this checkout / {rev}: {mine / base:.2f} of the CPU time; the same events: "
               f"{'yes' if same else 'NO'}; imported from: "
               + ", ".join(f"{name} {path}" for name, path in imported.items())])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a run, checkpoint or shipped model name (default: train a tiny conv GAN on "
                        "--data)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ASAP folder (default ../shared/data/asap)")
    parser.add_argument("--warmup", type=int, default=5, help="sample calls before timing")
    parser.add_argument("--samples", type=int, default=50, help="timed sample calls")
    parser.add_argument("--runs", type=int, default=5, help="runs of each child process; the median is shown")
    parser.add_argument("--style", help="ask for this description, e.g. damper=0.3 (models trained with ar.style; "
                        "guided at the model's ar.request_guidance), in process and in the child `tsm generate`")
    parser.add_argument("--against", metavar="REV", help="also time one piece drawn by this git revision's code "
                        "beside this checkout's (needs --model)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.against and not args.model:
        parser.error("--against needs --model (a run, checkpoint or shipped model both revisions can load)")

    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel
    from timestepmusic.midi_write import write_events
    from timestepmusic.sequence.style_request import parse_style

    asked = {} if args.style is None else {"style": parse_style(args.style)}
    style_args = [] if args.style is None else ["--style", args.style]

    tmp = Path(tempfile.mkdtemp(prefix="tsm-bench-generate-"))
    try:
        model = args.model or tiny_model(args.data, tmp)
        if model is None:
            print_skipped(args.data, give="--model RUN")
            return
        load_before = os.getloadavg()[0]
        load_s, gan = timed(lambda i: GANModel.load(model), 5)
        timed(lambda i: gan.sample(1, SECONDS, 1000 + i, **asked), args.warmup)
        sample_s, events = timed(lambda i: gan.sample(1, SECONDS, i, **asked)[0], args.samples)
        parts = {}
        for i in range(args.samples):
            spent, mine = sample_parts(gan, i, **asked)
            for k, v in spent.items():
                parts.setdefault(k, []).append(v)
        same = len(mine) == len(events) and bool(np.array_equal(mine.ids, events.ids))
        modes = {"inference mode, oneDNN off (ours)": lambda: onednn(False, torch.inference_mode()),
                 "inference mode, oneDNN on": lambda: onednn(True, torch.inference_mode()),
                 "no_grad, oneDNN on (baseline: before the 36th session)": lambda: onednn(True, torch.no_grad())}
        undecorated = GANModel.sample_latents.__wrapped__.__wrapped__  # sample_latents itself, under each mode
        mode_s: dict[str, list[float]] = {name: [] for name in modes}
        for i in range(args.samples):
            for name, mode in modes.items():
                with mode():
                    t0 = time.perf_counter()
                    undecorated(gan, 1, SECONDS, 2000 + i, **asked)
                    mode_s[name].append(time.perf_counter() - t0)
        write_s, _ = timed(lambda i: write_events(events, tmp / "write" / f"{i}.mid"), 5)

        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        tsm = Path(sys.executable).with_name("tsm")
        tsm_cmd = [str(tsm)] if tsm.is_file() else [sys.executable, "-m", "timestepmusic"]
        children = {
            "tsm generate -n 1 (whole process)": lambda i: tsm_cmd + ["generate", "-n", "1", "-o",
                                                                        str(tmp / f"out{i}"), "--model", str(model)]
            + style_args,
            'python -c "import timestepmusic.cli"': lambda i: [sys.executable, "-c", "import timestepmusic.cli"],
            'baseline: python -c "import torch"': lambda i: [sys.executable, "-c", "import torch"],
        }
        for make in children.values():  # warm the page cache
            run_process(make(-1), env)
        process_s: dict[str, list[float]] = {k: [] for k in children}
        for i in range(args.runs):  # interleaved
            for name, make in children.items():
                process_s[name].append(run_process(make(i), env))
        chain, torch_import_s, cli_import_s = torch_import_chain(env)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ms = [1e3 * s for s in sample_s]
    median_ms = statistics.median(ms)
    p90_ms = float(np.percentile(ms, 90))
    floor = statistics.median(process_s['baseline: python -c "import torch"'])
    notes = int(events.is_note.sum())
    window = getattr(gan.generator, "window", None) or getattr(gan.generator, "context", None)
    lines = [f"model {model} ({gan.arch}; generator window {window} chunks × {gan.ae.chunk_seconds} s, latent "
             f"{gan.generator.latent}; PISA hidden {gan.ae.model.hidden}); one sample of {SECONDS:g} s = "
             f"{round(SECONDS / gan.ae.chunk_seconds)} chunks, e.g. {notes} notes and {len(events) - notes} pedal "
             f"events; torch {torch.__version__}, one thread (torch.set_num_threads(1), OMP_NUM_THREADS=1 in children)"
             + (f"; asked --style {args.style} (guided)" if args.style else ""),
             load_average(load_before, load_after), *busy_warning(load_before, load_after), ""]
    rows = [[f"GANModel.sample(1, {SECONDS:g}, seed), in process", f"{median_ms:.2f} ms", f"{p90_ms:.2f} ms", "",
             f"≤ {SAMPLE_TARGET_MS:g} ms ({REAL_TIME_TARGET:g}× real time; here {1e3 * SECONDS / median_ms:.0f}×) "
             f"{verdict(median_ms <= SAMPLE_TARGET_MS)}"],
            ["GANModel.load(RUN), in process", f"{1e3 * statistics.median(load_s):.1f} ms", "", "", ""],
            ["write_events → .mid, in process", f"{1e3 * statistics.median(write_s):.2f} ms", "", "", ""]]
    for name, runs in process_s.items():
        med = statistics.median(runs)
        target = f"≤ {PROCESS_TARGET_S:g} s {verdict(med <= PROCESS_TARGET_S)}" if name.startswith("tsm") else ""
        rows.append([name, f"{med:.2f} s", f"{max(runs):.2f} s (max)", f"{med - floor:+.2f} s" if med != floor
                     else "floor", target])
    lines += table(["what", "median", "p90 / max", "over the import-torch floor", "target"], rows)
    lines += ["", f"where a sample's time goes (median of {args.samples} calls, parts run one after another):", ""]
    total_parts = sum(statistics.median(v) for v in parts.values())
    lines += table(["part", "ms", "share"], [[k, f"{1e3 * statistics.median(v):.2f}",
                                              f"{100 * statistics.median(v) / total_parts:.0f} %"]
                                             for k, v in parts.items()] + [["sum", f"{1e3 * total_parts:.2f}", ""]])
    lines += ["", f"GANModel.sample_latents(1, {SECONDS:g}, seed) under each mode, autograd bookkeeping and oneDNN "
              f"kernels (median of {args.samples} calls each, interleaved, the same seeds):", ""]
    lines += table(["mode", "ms"], [[name, f"{1e3 * statistics.median(v):.2f}"] for name, v in mode_s.items()])
    lines += ["", f"the parts give the same events as GANModel.sample: {'yes' if same else 'NO'}",
              "child process runs (s): " + "; ".join(f"{k}: {', '.join(f'{x:.2f}' for x in v)}"
                                                     for k, v in process_s.items()),
              f"python -X importtime -c \"import timestepmusic.cli\": {cli_import_s:.2f} s, of which torch "
              f"{torch_import_s:.2f} s" + (f", imported via {chain}" if chain else " (torch not imported)")]
    if args.against:
        lines += ["", *against(str(model), args.against, args.samples)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Generation benchmark (one 16 s sample)", lines)  # the load average is in the report


if __name__ == "__main__":
    main()
