#!/usr/bin/env bash
# One GPU lease, prepared here and run there in one call (the device tool): unpack the prepared corpus, time each
# candidate arm for CAL_MIN (0.6) minutes side by side, train them all side by side until the deadline with the step count
# (and so the cosine schedule) fitted to the time left, export each one's best checkpoint, then run bench/gpu.py
# alone on the GPU. Everything it leaves is under $OUT: lease.log, gpu.md and models.tar split in 15 MiB parts.
#
# Needs, ignored by git and carried: .gpu/asap.tar.xz (the prepared corpus: corpus.json + data-*/) and .whl/
# (symusic, pySmartDL, platformdirs, mir_eval, decorator for Python 3.12): `bash bench/gpu_prepare.sh CORPUS` makes
# both and checks the call's size. Locally, as a smoke run (last passed in the fifty-first session, the default with its closing):
#   CORPUS_TAR=tiny.tar.xz OUT=/tmp/lease-out DEVICE=cpu BUDGET=330 BENCH_S=100 CAL_MIN=0.3 ARMS="name|args…" \
#       bash bench/gpu_lease.sh
# (two small arms over a tiny corpus: 20 ASAP files prepared with the same settings, tarred as asap/; on the whole
# corpus a busy 2-core machine spends minutes encoding it in every run).
# The call sends the repository, whose tracked files (docs/, the older shipped models) pass the device tool's
# 64 MiB: untrack those for the call (`git rm -r -q --cached docs src/timestepmusic/models/<not default>` and
# list them in .git/info/exclude), then `git reset -q` and restore the exclude file after it.
# Prepared for the thirty-fifth session, whose lease was refused ("no new device machine is lent at present").
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-540}   # seconds the whole script may take
BENCH_S=${BENCH_S:-140} # of which bench/gpu.py gets this much at the end
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/lease-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/lease.log") 2>&1
left() { echo $((T0 + BUDGET - $(date +%s))); }
echo "lease: budget ${BUDGET}s, device $DEVICE, $(date -u)"

if [ -d .whl ] && ! python3 -c "import symusic" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-3}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
WORK=${WORK:-/tmp/lease}
case "$OUT/" in "$WORK"/*) echo "OUT ($OUT) must not be inside WORK ($WORK)"; exit 1;; esac
rm -rf "$WORK" && mkdir -p "$WORK/data" "$WORK/cal" "$WORK/runs" "$WORK/models"
python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "${CORPUS_TAR:-.gpu/asap.tar.xz}" "$WORK/data" || exit 1
CORPUS=$WORK/data/asap
DEFAULT=src/timestepmusic/models/default
python3 - "$DEFAULT" "$WORK/default.toml" <<'EOF'
"""The shipped default's settings as a --config TOML, to train its recipe from scratch at another size."""
import json, sys
config = json.load(open(f"{sys.argv[1]}/config.json"))["config"]
def value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return json.dumps(v) if isinstance(v, str) else repr(v)
lines = []
for section, settings in config.items():
    lines += [f"[{section}]"] + [f"{key} = {value(v)}" for key, v in settings.items() if v is not None]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF

WARM="--init-from default --set ar.lr=2e-4"
SCRATCH="--arch events --config $WORK/default.toml --ae $DEFAULT/autoencoder --set ar.width=256 --set ar.heads=8 --set ar.lr=6e-4"
ARMS=${ARMS:-"ctx64-b128-s1|$WARM --set ar.batch=128 --seed 1
ctx128-b64-s1|$WARM --set ar.context=128 --set ar.batch=64 --seed 1
ctx128-b64-s2|$WARM --set ar.context=128 --set ar.batch=64 --seed 2
w256-b64-s1|$SCRATCH --set ar.batch=64 --seed 1
w256-b64-s2|$SCRATCH --set ar.batch=64 --seed 2"}

train() {  # NAME FOLDER STEPS MINUTES VALIDATE_EVERY ARGS…
    local name=$1 folder=$2 steps=$3 minutes=$4 every=$5; shift 5
    python3 -m timestepmusic train-gan "$CORPUS" "$@" --device "$DEVICE" --steps "$steps" --max-minutes "$minutes" \
        --set gan.validate_every="$every" --set gan.sample_every=0 --out "$folder/$name" -q > "$folder/$name.log" 2>&1
}

CAL_MIN=${CAL_MIN:-0.6}  # minutes of calibration training, all arms side by side (after each one's start-up)
echo "== calibration: ${CAL_MIN} min each, side by side ($(left)s left)"
export CORPUS DEVICE
export -f train
pids=()
while IFS='|' read -r name args; do
    # shellcheck disable=SC2086
    timeout -k 10 $(( $(left) / 2 )) bash -c 'train "$@"' _ "$name" "$WORK/cal" 1000000 "$CAL_MIN" 20 $args & pids+=($!)
done <<< "$ARMS"
wait "${pids[@]}"  # (a bare `wait` would also wait for the tee above, which never ends)
declare -A RATE=()
calibrated=0
while IFS='|' read -r name args; do
    # the median rate after the first interval (start-up, first validation): validations and checkpoints
    # included, so a little below the training's own rate, which validates less often
    rate=$(python3 -c "import json,sys,statistics; r=[json.loads(l) for l in open(sys.argv[1])]; v=[x['steps_per_s'] for x in r if 'steps_per_s' in x]; print(statistics.median(v[1:] or v))" \
           "$WORK/cal/$name/metrics.jsonl" 2>/dev/null)
    if [ -z "$rate" ]; then
        echo "!! $name failed in calibration (no rate; an empty log: stopped by its time limit before a validation):"
        tail -15 "$WORK/cal/$name.log"
    else
        RATE[$name]=$rate; calibrated=$((calibrated + 1)); echo "$name: $rate steps/s"
    fi
done <<< "$ARMS"
[ "$calibrated" -gt 0 ] || { echo "every arm failed: stopping"; exit 1; }

SECONDS_TRAIN=$(( $(left) - BENCH_S - 45 ))  # 45 s: start-up of each run, and the export
[ "$SECONDS_TRAIN" -ge 30 ] || SECONDS_TRAIN=30
minutes=$(python3 -c "print(round(${SECONDS_TRAIN} / 60, 2))")
echo "== training ${SECONDS_TRAIN}s each, side by side ($(left)s left)"
pids=()
while IFS='|' read -r name args; do
    [ -n "${RATE[$name]:-}" ] || continue
    steps=$(python3 -c "print(max(100, int(${RATE[$name]} * ${SECONDS_TRAIN} * 0.9)))")
    mkdir -p "$WORK/runs/$name" && ln "$WORK"/cal/"$name"/latents-*.npy "$WORK/runs/$name/"  # no second encoding
    every=$(( steps / 8 > 50 ? steps / 8 : 50 ))
    echo "$name: $steps steps (validate every $every), at most $minutes min"
    # shellcheck disable=SC2086
    timeout -k 10 $(( SECONDS_TRAIN + 60 )) bash -c 'train "$@"' _ "$name" "$WORK/runs" "$steps" "$minutes" "$every" $args &
    pids+=($!)
done <<< "$ARMS"
wait "${pids[@]}"

echo "== export ($(left)s left)"
for name in "${!RATE[@]}"; do tail -2 "$WORK/runs/$name/metrics.jsonl" 2>/dev/null; done
python3 - "$WORK" "${!RATE[@]}" <<'EOF'
"""Each run's best checkpoint (its last where it stopped before a validation) as a model folder, without the
autoencoder (the default's own, same weights: added back where it is shipped), with its metrics and log."""
import shutil, sys
from pathlib import Path
from timestepmusic.model_export import export_model
work = Path(sys.argv[1])
for name in sys.argv[2:]:
    run, dest = work / "runs" / name, work / "models" / name
    try:
        export_model(run if (run / "best").is_dir() else run / "last", dest, f"trained on one GPU in one lease: {name}")
    except Exception as error:  # one arm's failure must not lose the others
        print(f"!! {name}: not exported: {error}")
        continue
    shutil.rmtree(dest / "autoencoder")
    for kept in (run / "metrics.jsonl", work / "runs" / f"{name}.log"):
        if kept.is_file():
            shutil.copy(kept, dest / kept.name)
EOF
tar cf "$WORK/models.tar" -C "$WORK" models && split -b 15m "$WORK/models.tar" "$OUT/models.tar.part-"
ls -la "$OUT"

echo "== bench/gpu.py ($(left)s left)"
t=$(( $(left) - 5 ))
if [ "$t" -lt 20 ]; then
    echo "no time left for bench/gpu.py"
elif [ "$DEVICE" != cpu ]; then
    timeout -k 5 "$t" python3 bench/gpu.py --corpus "$CORPUS" --ae "$DEFAULT/autoencoder" --steps 30 \
        --gan-steps 30 --events-steps 40 --markdown "$OUT/gpu.md"
else
    timeout -k 5 "$t" python3 bench/gpu.py --device cpu --corpus "$CORPUS" --ae "$DEFAULT/autoencoder" \
        --batch 256 --steps 3 --gan-steps 4 --gan-batches 10 --events-batches 16 --events-steps 3 --no-compile \
        --markdown "$OUT/gpu.md"
fi
echo "lease: done, $(left)s left"
