"""tsm generate's progress: a bar on a terminal over the chunks drawn, fed by a callback the sampler calls once per
chunk, which changes nothing drawn."""
from __future__ import annotations

import io

import numpy as np
import pytest

from timestepmusic.cli import main
from timestepmusic.generation import GANModel


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def default_model() -> GANModel:
    return GANModel.load(None)


def test_the_progress_callback_is_called_once_per_chunk_and_changes_nothing_drawn(default_model):
    # a new user's trial: `tsm generate --seconds 1:00:00` drew for 2 min 41 s without a word
    calls = []
    told = default_model.sample(2, 3.0, seed=4, progress=lambda: calls.append(1))
    untold = default_model.sample(2, 3.0, seed=4)
    assert len(calls) == 12  # 3 s of 0.25 s chunks, both pieces at once
    for a, b in zip(told, untold):
        assert a.ids.tolist() == b.ids.tolist() and np.array_equal(a.start_s, b.start_s)
        assert np.array_equal(a.duration_s, b.duration_s) and np.array_equal(a.intensity, b.intensity)


def test_generate_shows_a_bar_over_the_chunks_drawn_only_on_a_terminal(tmp_path, monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["generate", "--seconds", "2", "-n", "2", "-o", str(tmp_path / "shown")]) == 0
    assert "drawing:" in terminal.getvalue() and "/8 [" in terminal.getvalue()  # 2 s of 0.25 s chunks
    monkeypatch.undo()
    quiet = Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    assert main(["generate", "--seconds", "2", "-n", "2", "-q", "-o", str(tmp_path / "quiet")]) == 0
    assert "drawing" not in quiet.getvalue()
    monkeypatch.undo()
    assert main(["generate", "--seconds", "2", "-n", "2", "-o", str(tmp_path / "piped")]) == 0  # (capsys: no terminal)
    assert "drawing" not in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "piped").iterdir()) == ["sample_0_000.mid", "sample_0_001.mid"]


def test_a_piece_drawn_again_goes_on_in_its_batchs_bar(monkeypatch):
    """A silent piece drawn again, or --select's next round, draws the batch's chunks once more: the bar grows by a
    draw, not past 100 %, and goes when the batch is drawn."""
    from timestepmusic.chunk_bar import ChunkBar

    monkeypatch.setattr("sys.stderr", Terminal())
    bar = ChunkBar(8, shown=True)
    for _ in range(12):
        bar()
    assert (bar.bar.n, bar.bar.total) == (12, 16)
    bar.close()
    assert bar.bar is None
    bar()  # the next batch: a bar of its own
    assert (bar.bar.n, bar.bar.total) == (1, 8)
