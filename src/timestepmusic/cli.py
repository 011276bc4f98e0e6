"""`tsm`: one entry point, a subcommand per verb; each parses flags and calls the Python API."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from .cli_parser import build_parser
from .flag_values import values_joined
from .said import reader_gone
from .sources import NOT_UTF8, shown_name, utf8_name
from .subcommands import THREADED, subparsers
from .usage_errors import near_flags, unknown_hint

log = logging.getLogger("timestepmusic")


def _use_threads(threads: int | None) -> None:
    """torch's CPU threads for this command: `threads` (--threads), else OMP_NUM_THREADS where the user set it, else
    one. The models' steps are small: on one thread sampling is as fast as on several, and several threads beside
    another job each wait for the others at every step (a 16 s piece: 1.4 s on one thread, up to 86 s on two beside
    a busy core)."""
    if threads is None and os.environ.get("OMP_NUM_THREADS"):
        if os.environ["OMP_NUM_THREADS"].strip().isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
            return  # (torch reads it when imported)
        log.warning("OMP_NUM_THREADS=%s is not a number of threads: one thread", os.environ["OMP_NUM_THREADS"])
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        log.warning("--threads %d: this machine has %d cores; more threads than cores only wait for each other", threads,
                    cores)
    threads = threads or 1
    if "torch" in sys.modules:  # (imported already: a test, or a caller of main())
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse; an unknown flag is reported with the usage of the subcommand it was given to, not tsm's."""
    argv = values_joined(parser, list(sys.argv[1:] if argv is None else argv))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = parser
        for name in (getattr(args, "command", None), getattr(args, "data_command", None)):
            children = {c.prog.split()[-1]: c for c in subparsers(command)}
            if name in children:
                command = children[name]
        command.error(f"unrecognized arguments: {' '.join(unknown)}{near_flags(command, unknown)}"
                      f"{unknown_hint(args, unknown, argv)}")
    return args


def _os_error(e: OSError) -> str:
    """One line for an OSError: the path, then what is wrong with it in words."""
    import errno

    what = {errno.EEXIST: "exists and is a file, not a folder", errno.ENOTDIR: "a part of this path is a file, "
            "not a folder", errno.EISDIR: "is a folder, not a file", errno.EACCES: "permission denied",
            errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system"}.get(e.errno)
    path = e.filename if e.filename is not None else ""
    if path and e.errno == errno.EEXIST:
        from .files import there_not_a_folder

        what = there_not_a_folder(path)
    return f"{path}: cannot write or read here: {what or e.strerror or e}" if path else f"{e.strerror or e}"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt as e:  # (while its arguments were read, its modules loaded, or the command ran)
        from .train.interrupts import exit_status, stopped_by

        if not getattr(e, "said", False):  # (generate says what it wrote before Ctrl-C in a line of its own)
            print(f"interrupted{stopped_by(e)}", file=sys.stderr)
        return exit_status(e)  # 130 for Ctrl-C, 143 for the SIGTERM training holds to a step's end


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    given = sys.argv[1:] if argv is None else argv
    if not given:  # a bare `tsm`: what it can do, not a missing-argument error
        parser.print_help()
        return 0
    args = _parse(parser, argv)
    unnamed = next((arg for arg in given if not utf8_name(arg)), None)
    if unnamed is not None:  # (a name of bytes that are not UTF-8 could be neither printed nor written into a file)
        print(f"error: {shown_name(unnamed)}: {NOT_UTF8}: rename it", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if args.command in THREADED:
        _use_threads(args.threads)
    try:
        code = args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError as e:
        if reader_gone(sys.stdout):  # `tsm generate --info | head`: the reader left; nothing more to say
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (so that the exit's flush does not fail again)
            return 0
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # an output path that is a file, a folder where a file goes, no permission, a full disk
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return 2
    if "torch.distributed" in sys.modules:  # a process group exists only where torch was loaded
        from .train.distributed import end_rank, leave_process_group
        if leave_process_group(wait=True):  # the ranks finish together
            end_rank(code or 0)
    return code


if __name__ == "__main__":
    sys.exit(main())

