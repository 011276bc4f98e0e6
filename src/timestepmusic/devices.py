"""Which torch device a command runs on, and with which CPU kernels sampling runs."""
from __future__ import annotations

import functools

import torch


def pick_device(name: str = "auto") -> torch.device:
    """`auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N` (or `mps` where this torch has it); a clear error
    for anything else: a name torch takes but this machine lacks (`mps`, `cuda` without a GPU) raised a RuntimeError of
    torch's once a model moved there, another kind of device torch names (`meta`, `xpu`) one from deep inside."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None  # (not a name torch reads)
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name!r}: not a device name (cpu, cuda, cuda:N, auto)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS (Apple's GPU) is not available on this machine")
    return device


def without_onednn(fn):
    """`fn` run with torch's oneDNN (mkldnn) CPU kernels off, then as it was found: sampling's thousands of tiny
    operations run faster on the plain kernels, with the same draws (one 16 s piece: bench/generate.py)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        before = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = False
        try:
            return fn(*args, **kwargs)
        finally:
            torch.backends.mkldnn.enabled = before
    return run


def rng_kept(fn):
    """`fn` run with torch's global random state as it was found, after: building a model to load weights into draws
    its initial weights from it, which would otherwise move a caller's seeded stream (tsm.generate in a notebook)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        cuda = range(torch.cuda.device_count()) if torch.cuda.is_initialized() else []  # (never starts CUDA itself)
        with torch.random.fork_rng(devices=cuda):
            return fn(*args, **kwargs)
    return run


def where_words(device: torch.device) -> str:
    """Where a run computes, for its progress bar: 'cuda:0', or 'cpu, 1 thread' (--threads N for more)."""
    if device.type != "cpu":
        return str(device)
    threads = torch.get_num_threads()
    return f"cpu, {threads} thread{'s' if threads > 1 else ''}"
