"""Benchmark: one 16 s piece drawn by this checkout's event sampler (sequence/event_sampler.py) beside a git revision's,
in one process, piece by piece in turns (ABBA: the order flips every seed), the same model and seeds; CPU time per
piece, the median of the per-seed ratios, and whether both drew the same events.

Why beside bench/generate.py's --against (a process per revision): on a loaded machine the turns of separate processes
drift more than a change of a few per cent, and a sampler change that keeps every draw is measured best where both
read the same loaded model in the same process. Only the sampler is swapped (event_sampler.py and its parts, PARTS,
where the revision has them): a change elsewhere is not measured.

    python bench/sampler_turns.py --against 212a8e4 --seeds 40 --markdown bench/results/sampler_turns.md
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SEQUENCE = "src/timestepmusic/sequence"
SAMPLER = f"{SEQUENCE}/event_sampler.py"
# the sampler's parts since 9ab8750 (each imports only those before it), swapped with it: with event_sampler.py alone
# a revision's EventSampler drew with this checkout's draws, setup and tables
PARTS = ("sampler_tables", "sampler_draws", "sampler_setup")
sys.path.insert(0, str(BENCH))
from common import busy_warning, load_average, write_markdown  # noqa: E402


def shown_at(rev: str, path: str) -> subprocess.CompletedProcess:
    """`git show REV:PATH`: the file as `rev` holds it (returncode 0), else git's error."""
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True, text=True)


def sampler_at(rev: str, folder: Path):
    """The EventSampler class of `rev`'s event_sampler.py, with `rev`'s parts of it (PARTS, where `rev` has them: one
    before 9ab8750 holds the whole sampler in event_sampler.py), loaded as modules of the package that import one
    another (their other relative imports read this checkout's modules)."""
    shown = shown_at(rev, SAMPLER)
    if shown.returncode != 0:
        raise SystemExit(f"error: --against {rev}: no {SAMPLER} at that revision ({shown.stderr.strip().splitlines()[-1]})")
    parts = {name: part.stdout for name in PARTS if (part := shown_at(rev, f"{SEQUENCE}/{name}.py")).returncode == 0}
    for name, source in [*parts.items(), ("event_sampler", shown.stdout)]:
        for part in parts:  # (`from .sampler_draws import …` → `from .sampler_draws_rev import …`)
            source = re.sub(rf"^from \.{part} import", f"from .{part}_rev import", source, flags=re.MULTILINE)
        module = loaded_as(f"timestepmusic.sequence.{name}_rev", source, folder / f"{name}_rev.py")
    return module.EventSampler


def loaded_as(name: str, source: str, path: Path):
    """`source`, written to `path`, loaded as the module `name` (in sys.modules, so that the next part imports it)."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, metavar="REV", help="the git revision whose event sampler to time")
    parser.add_argument("--model", default="default", help="a shipped model's name or a run (default: default)")
    parser.add_argument("--seeds", type=int, default=40, help="pieces per sampler, seeds 0…N−1")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    import timestepmusic.sequence.events as events_module
    from timestepmusic.generation import GANModel

    torch.set_num_threads(1)
    before = os.getloadavg()[0]
    ours = events_module.EventSampler
    with tempfile.TemporaryDirectory() as tmp:
        theirs = sampler_at(args.against, Path(tmp))
        gan = GANModel.load(args.model)
        for seed in range(args.warmup):
            gan.sample(1, 16.0, 10_000 + seed)
        cpu_s = {args.against: [], "this checkout": []}
        same = True
        for seed in range(args.seeds):
            turns = [(args.against, theirs), ("this checkout", ours)]
            if seed % 2:
                turns.reverse()
            drawn = []
            for name, sampler in turns:
                events_module.EventSampler = sampler
                start = time.process_time()
                piece = gan.sample(1, 16.0, seed)[0]
                cpu_s[name].append(time.process_time() - start)
                drawn.append(tuple(x.tobytes() for x in (piece.ids, piece.start_s, piece.duration_s, piece.intensity)))
            same &= drawn[0] == drawn[1]
        events_module.EventSampler = ours
    ratios = sorted(b / a for a, b in zip(cpu_s[args.against], cpu_s["this checkout"]))
    quartiles = statistics.quantiles(ratios, n=4)
    lines = [f"model {args.model}; one 16 s piece per call, seeds 0-{args.seeds - 1}, in turns (ABBA) in one process, "
             f"one thread; only the sampler swapped ({SAMPLER} and its parts there)",
             load_average(before, after := os.getloadavg()[0]), *busy_warning(before, after)]
    lines += [f"median CPU per piece: {args.against} {statistics.median(cpu_s[args.against]) * 1e3:.1f} ms, "
              f"this checkout {statistics.median(cpu_s['this checkout']) * 1e3:.1f} ms",
              f"this checkout / {args.against}, per seed: median {statistics.median(ratios):.3f} "
              f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f})",
              f"the same events: {'yes' if same else 'NO'}"]
    print("\n".join(lines))
    write_markdown(args.markdown, "# The event sampler beside a revision's, in turns in one process", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
