"""The errors a `python -m timestepmusic.…` script's main says on one line, not as a traceback."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def said_errors(job: Callable[[], T], where: str, writes: str) -> T | None:
    """`job()`'s result, or None (the script exits 1) where it raised a ValueError (bad input: its message said as
    is) or an OSError (the file it could not write, else `where`, and why: 'error: PATH: cannot write `writes` (…)'),
    said on one line on stderr."""
    try:
        return job()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
    except OSError as e:
        print(f"error: {e.filename or where}: cannot write {writes} ({e.strerror or e})", file=sys.stderr)
    return None
