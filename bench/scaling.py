"""Benchmark: PISA training throughput with 1 and 2 processes on the CPU (torchrun, gloo), the same
global batch, one thread per process. Run from the repository root:

    python bench/scaling.py [--corpus C] [--batch 1024] [--steps 60] [--markdown bench/results/scaling.md]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, busy_warning, open_corpus, table, write_markdown  # noqa: E402

WORKER = """
import json, sys, time, torch
from timestepmusic.config import Config
from timestepmusic.train.ae import train_autoencoder
corpus, out, batch, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = Config().override({"ae.batch_chunks": batch, "ae.device": "cpu", "ae.checkpoint_every_s": 1e9})
train_autoencoder(corpus, out + "/warm", config, progress=False, max_steps=3)  # warm-up: allocator, threads
start = time.perf_counter()
train_autoencoder(corpus, out + "/timed", config, progress=False, max_steps=steps)
seconds = time.perf_counter() - start
if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
    sys.exit(0)
print(json.dumps({"seconds": seconds}))
"""


def run(processes: int, corpus: Path, batch: int, steps: int, tmp: Path) -> float:
    out = tmp / f"n{processes}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    launcher = [sys.executable] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    script = tmp / "worker.py"
    script.write_text(WORKER)
    result = subprocess.run([*launcher, str(script), str(corpus), str(out), str(batch), str(steps)],
                            env=env, capture_output=True, text=True, check=True)
    line = [x for x in result.stdout.splitlines() if x.startswith("{")][-1]
    return json.loads(line)["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_arguments(parser)
    parser.add_argument("--batch", type=int, default=1024, help="global batch in chunks")
    parser.add_argument("--steps", type=int, default=60, help="timed training steps")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus = open_corpus(args, tmp)
        if corpus is None:
            print(f"skipped: {args.data} not found and no --corpus given")
            return
        before = os.getloadavg()[0]
        seconds = {n: run(n, corpus.root, args.batch, args.steps, tmp) for n in (1, 2)}
        after = os.getloadavg()[0]
    chunks = args.batch * args.steps
    rows = [[f"{n} process{'es (torchrun, gloo)' if n > 1 else ''}, 1 thread each", f"{seconds[n]:.2f}",
             f"{chunks / seconds[n]:,.0f}", f"×{seconds[1] / seconds[n]:.2f}"] for n in (1, 2)]
    lines = [f"PISA training (latent 20, hidden 256), global batch {args.batch}, {args.steps} timed steps after "
             f"3 warm-up steps (each timing includes opening the corpus), corpus {corpus.root}", *busy_warning(before, after), "",
             *table(["run", "seconds", "chunks/s", "speed-up vs 1 process"], rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, "Scaling from 1 to 2 processes (CPU)", lines)


if __name__ == "__main__":
    main()
