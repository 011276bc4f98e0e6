"""tsm generate's progress bar over the chunks a batch of pieces is drawn for."""
from __future__ import annotations


class ChunkBar:
    """tsm generate's progress: a bar on stderr, where it is a terminal (tqdm's disable=None) and `shown`, over the
    chunks a batch of pieces is drawn for (all its pieces at once), called once per chunk drawn; a piece drawn again
    (silent, or --select's next round) adds another draw's `chunks` to it. A batch's bar goes when it is closed."""

    def __init__(self, chunks: int, shown: bool):
        self.chunks, self.shown, self.bar = chunks, shown, None

    def __call__(self) -> None:
        if self.bar is None:  # (a batch's first chunk)
            from tqdm import tqdm

            self.bar = tqdm(total=self.chunks, desc="drawing", unit="chunk", leave=False,
                            disable=None if self.shown else True)
        if self.bar.n >= self.bar.total:  # a piece drawn again
            self.bar.total += self.chunks
        self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
