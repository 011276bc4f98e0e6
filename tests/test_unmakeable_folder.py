"""An output folder that no mkdir can make (`tsm generate -o /proc/x`: the kernel answers "no such file" every time) is
said in one line; the lock's retry for a folder another process just removed ran forever there, at full CPU."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from timestepmusic import files


def _folders_never_made(monkeypatch, under: Path) -> list[Path]:
    """Path.mkdir under `under` fails as under /proc (ENOENT, each time); returns the list of the paths tried, and
    stops the test (not hangs it) if they are tried far more often than any retry should."""
    tried: list[Path] = []
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == under or under in self.parents:
            tried.append(self)
            if len(tried) > 10_000:
                pytest.fail("the folder is tried again and again: the loop does not end")
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    return tried


def test_a_folder_that_cannot_be_made_is_said_in_one_line(tmp_path, monkeypatch):
    never = tmp_path / "proc" / "nope"
    tried = _folders_never_made(monkeypatch, never)
    with pytest.raises(ValueError) as refused, files.held_folder(never, ".generate-seed0.lock", "busy"):
        pass
    assert str(refused.value) == f"{never}: cannot make this folder (no such file or directory)"
    assert 0 < len(tried) <= files.FOLDER_TRIES * 2  # (tried a few times, for a folder removed meanwhile: not forever)


def test_without_a_name_to_say_the_lock_raises_what_the_system_said(tmp_path, monkeypatch):
    never = tmp_path / "run"
    _folders_never_made(monkeypatch, never)
    with pytest.raises(FileNotFoundError), files.held_lock(never / ".run.lock", "busy"):
        pass


def test_a_folder_removed_once_as_the_lock_is_made_is_made_again(tmp_path, monkeypatch):
    """The retry the loop is for: another process removed the (empty) folder between this one's mkdir and open."""
    out = tmp_path / "pieces"
    real_open = open
    calls = []

    def open_once_gone(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            os.rmdir(out)  # (as a process letting go of its lock removes the folder it made)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(files, "open", open_once_gone, raising=False)
    with files.held_lock(out / ".lock", "busy", where="pieces/"):
        assert (out / ".lock").exists()
    assert len(calls) == 2


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
def test_tsm_generate_into_proc_is_refused_in_one_line():
    """The command as a user ran it, in a process of its own with a time limit (it spun at full CPU before)."""
    done = subprocess.run([sys.executable, "-m", "timestepmusic.cli", "generate", "-n", "1", "-o", "/proc/tsm-nope"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2
    assert done.stderr == "error: /proc/tsm-nope: cannot make this folder (no such file or directory)\n"
