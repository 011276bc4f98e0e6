"""The Python API leaves a caller's global state as it found it: torch's random stream, oneDNN, threads."""
from __future__ import annotations

import torch

from timestepmusic.autoencoder import load_autoencoder
from timestepmusic.generate_api import generate
from timestepmusic.generation import GANModel


def test_loading_and_generating_leave_torch_s_seeded_stream_where_it_was(tmp_path):
    """A notebook seeded torch, called generate(), then drew its own numbers: they were not those of its seed, since
    building the model to load weights into drew its initial weights from torch's global stream."""
    threads, onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    for load in (lambda: GANModel.load(), lambda: load_autoencoder("ae-latent75"),  # (Autoencoder.load within)
                 lambda: generate(tmp_path, n=1, seconds=2.0)):
        torch.manual_seed(7)
        expected = torch.rand(3)
        torch.manual_seed(7)
        load()
        assert torch.equal(torch.rand(3), expected)
    assert (torch.get_num_threads(), torch.backends.mkldnn.enabled) == (threads, onednn)
