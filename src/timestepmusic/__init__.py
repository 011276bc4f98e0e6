"""TimeStepMusic: expressive piano performance generation with all three pedals.

The flow, one module per arrow: midi (MIDI ⇄ events) → chunks → corpus (prepared on disk) →
encoding → pisa (set autoencoder) → latents → gan → generate (→ MIDI). The verbs of the CLI are
plain functions here too.
"""
from .config import Config
from .corpus import Corpus, prepare
from .midi import Events, read_events, write_events

__all__ = ["Config", "Corpus", "Events", "prepare", "read_events", "write_events", "train_autoencoder",
           "train_gan", "generate", "Autoencoder", "GANModel"]


def __getattr__(name: str):
    # torch-heavy verbs load on first use, so `import timestepmusic` stays fast for data work
    if name == "train_autoencoder":
        from .train.ae import train_autoencoder
        return train_autoencoder
    if name == "train_gan":
        from .train.sequence import train_sequence_model
        return train_sequence_model
    if name == "generate":  # the module is generate_api.py, so that it never shadows the verb
        from .generate_api import generate
        return generate
    if name == "GANModel":
        from .generation import GANModel
        return GANModel
    if name == "Autoencoder":
        from .autoencoder import Autoencoder
        return Autoencoder
    raise AttributeError(name)
