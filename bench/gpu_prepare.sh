#!/usr/bin/env bash
# What bench/gpu_lease.sh needs carried to the GPU machine, made here (no device time): .whl/ (the packages the GPU
# machine lacks, as wheels for its Python 3.12) and .gpu/asap.tar.xz (the prepared corpus: corpus.json + data-*/, no
# cache). Both are ignored by git (.git/info/exclude). Then it checks what the call would send against the device
# tool's 64 MiB, with docs/ and the shipped models other than the default left out, as the lease call leaves them.
#   bash bench/gpu_prepare.sh /work/data/asap
# Made in the forty-ninth session, which drew no GPU; the lease itself: bench/gpu_lease.sh's header.
set -eu
CORPUS=${1:?usage: bash bench/gpu_prepare.sh CORPUS (a prepared corpus folder)}
mkdir -p .git/info .whl .gpu
touch .git/info/exclude
for ignored in /.whl/ /.gpu/; do grep -qxF "$ignored" .git/info/exclude || echo "$ignored" >> .git/info/exclude; done

PY=${PYTHON:-.venv/bin/python}
for package in symusic pySmartDL platformdirs mir_eval decorator; do  # symusic's and mir_eval's needs, which it lacks
    version=$("$PY" -m pip show "$package" | sed -n 's/^Version: //p')
    ls .whl | grep -qi "^${package//_/[-_]}-${version}-" && continue
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "$package==$version"
done

name=$(basename "$CORPUS")
data=$(cd "$CORPUS" && ls -d data-*)
[ "$(echo "$data" | wc -l)" -eq 1 ] || { echo "$CORPUS: expected one data-* folder, found: $data"; exit 1; }
if [ ! -f .gpu/asap.tar.xz ] || [ "$CORPUS/corpus.json" -nt .gpu/asap.tar.xz ]; then
    tar cJf .gpu/asap.tar.xz -C "$(dirname "$CORPUS")" --transform "s|^$name/|asap/|" "$name/corpus.json" "$name/$data"
fi

sent=$(git ls-files -z -- . ':!docs' ':!src/timestepmusic/models' | xargs -0 du -cb | tail -1 | cut -f1)
model=$(git ls-files -z src/timestepmusic/models/default | xargs -0 du -cb | tail -1 | cut -f1)
carried=$(du -cb .whl .gpu | tail -1 | cut -f1)
total=$(( sent + model + carried ))
echo "tracked (no docs/, the default alone) $((sent + model)) B + carried (.whl, .gpu) $carried B = $total B" \
     "of $((64 * 1024 * 1024)) B"
[ "$total" -lt $((64 * 1024 * 1024)) ] || { echo "over the device tool's 64 MiB"; exit 1; }
