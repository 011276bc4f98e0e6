"""Writing files: never half of one (a temporary name, then rename), and never over one a user made unasked."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path` (a file or a folder) to write; on success it replaces `path`.

    `suffix` keeps an extension some writers insist on (np.save appends `.npy` otherwise). On an error
    the temporary is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    _remove(tmp)
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():  # a folder cannot be replaced in one step: remove, then rename
            shutil.rmtree(path)
        tmp.replace(path)
    except OSError as e:
        if e.filename is not None and Path(e.filename) == tmp:  # (the file asked for, not the temporary, is named)
            raise type(e)(e.errno, e.strerror, str(path)) from e
        raise
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def refuse_existing(paths: list[Path], overwrite: bool) -> None:
    """Raise ValueError (one line) if any of `paths` exists and `overwrite` was not given: nothing a user made is
    replaced silently."""
    there = [p for p in paths if p.exists()]
    if there and not overwrite:
        raise ValueError(f"{there[0]} is there already; give another name, or --overwrite to replace it")
