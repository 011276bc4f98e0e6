"""Lines a command says while it works (each file written, a table), and what becomes of them once their reader has
gone (`tsm generate … | head`): dropped, so that the work, the files, goes on to its end."""
from __future__ import annotations

import os
import select
import sys
from typing import TextIO


def reader_gone(stream: TextIO) -> bool:
    """Whether the reader of `stream` has gone (a pipe closed early: poll reports an error on it)."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (AttributeError, ValueError, OSError):  # no poll here, or no real file behind the stream
        return False


def say(line: str, stream: TextIO | None = None) -> None:
    """`line` printed on `stream` (default: standard output) at once. Where its reader has gone, the stream is pointed
    at os.devnull and this line and the later ones are dropped, so that the command still writes every file it was
    asked for (a broken pipe of another kind is raised)."""
    stream = sys.stdout if stream is None else stream
    try:
        print(line, file=stream, flush=True)  # (flushed: a reader gone is found here, not at the exit's flush)
    except BrokenPipeError:
        if not reader_gone(stream):
            raise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # (what the stream still holds is flushed there too, without an error)
        os.close(devnull)
