"""Writing files: never half of one (a temporary name, then rename), never over one a user made unasked, and never
two processes into one place at once (a lock)."""
from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl  # (POSIX: the lock that keeps two processes from writing one run, corpus or set of pieces)
except ImportError:  # pragma: no cover (Windows)
    fcntl = None


def save_tensors(tensors: dict, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """safetensors' save_file, the file then readable as any other the user writes (its umask): save_file (0.8)
    makes it private to its owner (0600), so colleagues who share a run folder could read its config, not its
    weights. Where the file system refuses the change (it keeps no modes), the file is kept as written."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as e:  # (a write that fails, e.g. on a full disk, comes from Rust as this: an OSError here,
        found = re.search(r"\(os error (\d+)\)", str(e))  # which the callers name the file of, not a traceback)
        if found is None:
            raise
        code = int(found.group(1))
        raise OSError(code, os.strerror(code), str(path)) from e
    try:
        os.chmod(path, 0o666 & ~_umask())
    except OSError:  # a file system that keeps no modes (FAT, some network shares) refuses it: the file as written
        pass


def _umask() -> int:
    """The process's file-creation mask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path` (a file or a folder) to write; on success it replaces `path`.

    `suffix` keeps an extension some writers insist on (np.save appends `.npy` otherwise). On an error
    the temporary is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(temporary_name(path.name, f".{os.getpid()}.tmp{suffix}"))
    try:
        _remove(tmp)
        yield tmp
        if path.is_dir() and tmp.is_dir():  # a folder cannot be replaced in one step: remove, then rename
            shutil.rmtree(path)
        tmp.replace(path)
    except OSError as e:  # (the file asked for is named, not the temporary, nor none: a full disk names no file)
        if e.errno is not None and (e.filename is None or Path(e.filename) == tmp):  # (one with a message alone kept)
            raise type(e)(e.errno, e.strerror, str(path)) from e
        raise
    finally:
        _remove(tmp)


NAME_MAX = 255  # the longest name of a file most file systems keep (bytes: ext4, APFS, NTFS's 255 characters)


def temporary_name(name: str, tail: str) -> str:
    """A hidden temporary's name for the file `name`: .NAME then `tail`, its NAME cut short where the whole would pass
    NAME_MAX (a file whose own long name fits would otherwise be refused as 'File name too long'), and a hash of the
    whole name put in, so that two long names alike at the start have temporaries of their own."""
    whole = os.fsencode(name)
    if len(whole) + len(os.fsencode(f".{tail}")) <= NAME_MAX:
        return f".{name}{tail}"
    mark = "~" + hashlib.sha1(whole).hexdigest()[:8]
    kept = whole[:NAME_MAX - len(os.fsencode(f".{mark}{tail}"))].decode(errors="ignore")
    return f".{kept}{mark}{tail}"


def _remove(path: Path) -> None:
    """`path` gone, if it is there (a folder with what it holds)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):  # (not asked of a folder that may not be written: a read-only one)
        path.unlink(missing_ok=True)


NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)  # a folder this process may not write into
FOLDER_TRIES = 100  # a folder made again this often and gone each time is one that cannot be made


@contextmanager
def held_lock(path: str | Path, busy: str, where: str | None = None) -> Iterator[None]:
    """While a process writes a run, a corpus or a set of pieces: an exclusive lock on the file `path`, so that a
    second process is refused in one line (ValueError `busy`), not mixed in. The file is removed when the process lets
    go (while still held: one that opened it meanwhile finds it gone and opens it again). Where the system has no
    such locks, nothing is held. A folder that may not be written is one line naming `where` (what the user gave: the
    folder written into), not the hidden lock file."""
    path = Path(path)
    vanished = 0  # times its folder was gone again when the lock file was opened
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(path, "a")
        except FileNotFoundError as e:
            if path.parent.is_dir():  # (a lock file that cannot be made there, e.g. a link to nowhere: said)
                raise
            vanished += 1
            if vanished >= FOLDER_TRIES:  # (a folder no mkdir makes, e.g. under /proc: said, not tried forever)
                if where is None:
                    raise
                raise ValueError(f"{where}: cannot make this folder ({os.strerror(e.errno).lower()})") from e
            continue  # (its folder removed, empty, by a process that just let it go: made again)
        except OSError as e:
            if where is not None and e.errno in (errno.EEXIST, errno.ENOTDIR):  # (as the CLI says an OSError)
                raise ValueError(f"{e.filename}: cannot write or read here: " + (
                    there_not_a_folder(e.filename) if e.errno == errno.EEXIST else
                    "a part of this path is a file, not a folder")) from e
            if where is None or e.errno not in NOT_WRITABLE:
                raise
            raise ValueError(f"{where}: cannot write here ({os.strerror(e.errno).lower()})") from e
        if fcntl is None:
            break
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise ValueError(busy) from None
        try:  # the file still there: not one its last holder removed as this process opened it
            if os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        lock.close()
    try:
        yield
    finally:
        if fcntl is not None:
            path.unlink(missing_ok=True)
        lock.close()


def there_not_a_folder(path: str | Path) -> str:
    """Why a folder cannot be made at `path`, which is there (EEXIST): a file, or a link to nowhere (a dangling link
    was called a file)."""
    return ("a link to nowhere, not a folder" if os.path.islink(path) and not os.path.exists(path) else
            "exists and is a file, not a folder")


def named(names: list[str], shown: int = 4) -> str:
    """Files' names in one line: the first `shown`, and how many more ("a.mid, b.mid and 3 more")."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def refuse_existing(paths: list[Path], overwrite: bool, instead: str = "give another name") -> None:
    """Raise ValueError (one line) if any of `paths` exists and `overwrite` was not given: nothing a user made is
    replaced silently. `instead`: what else to give, where the names were not given (plot: -o)."""
    there = [p for p in paths if p.exists()]
    if there and not overwrite:
        raise ValueError(f"{there[0]} is there already; {instead}, or --overwrite to replace it")


@contextmanager
def held_folder(folder: str | Path, name: str, busy: str) -> Iterator[None]:
    """`held_lock` on FOLDER/NAME (a hidden file inside the folder a process writes into, so that only that folder
    need be writable; one that is not is named as given); a folder it made for the lock is removed again if nothing
    else was put there."""
    given, folder = str(folder), Path(folder)
    made = not folder.exists()
    try:
        with held_lock(folder / name, busy, where=given):
            yield
    finally:
        if made and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
