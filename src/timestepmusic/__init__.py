"""TimeStepMusic: expressive piano performance generation with all three pedals.

The flow, one module per arrow: midi (MIDI ⇄ events) → chunks → corpus (prepared on disk) →
encoding → pisa (set autoencoder) → latents → gan → generate (→ MIDI). The verbs of the CLI are
plain functions here too: prepare, train_autoencoder, train_gan, generate (writes MIDI files; `GANModel.load().sample()`
returns the pieces as Events instead), read_events / write_events, and compare_with_real (`tsm evaluate`'s figures
as a dict).
"""
import importlib as _importlib
import importlib.util as _importlib_util

__all__ = ["Config", "Corpus", "Events", "prepare", "read_events", "write_events", "train_autoencoder",
           "train_gan", "generate", "GenerateWarning", "compare_with_real", "Autoencoder", "GANModel"]


def __getattr__(name: str):
    # every name loads on first use, so that `import timestepmusic` (and each `tsm` command's start, where a Ctrl-C
    # is not yet caught) is quick: the data work's names without torch, the torch-heavy verbs with it
    if name == "Config":
        from .config import Config
        return Config
    if name == "Corpus":
        from .corpus import Corpus
        return Corpus
    if name == "prepare":  # the module is prepare_corpus.py, so that it never shadows the verb
        from .prepare_corpus import prepare
        return prepare
    if name in ("Events", "read_events"):
        from . import midi
        return getattr(midi, name)
    if name == "write_events":
        from .midi_write import write_events
        return write_events
    if name == "train_autoencoder":
        from .train.ae import train_autoencoder
        return train_autoencoder
    if name == "train_gan":
        from .train.sequence import train_sequence_model
        return train_sequence_model
    if name == "generate":  # the module is generate_api.py, so that it never shadows the verb
        from .generate_api import generate
        return generate
    if name == "GenerateWarning":  # what generate() warns of (as `tsm generate` logs it)
        from .setting_names import GenerateWarning
        return GenerateWarning
    if name == "compare_with_real":  # tsm evaluate's figures as a dict (`timestepmusic.evaluate` is the subpackage)
        from .evaluate.summary import compare_with_real
        return compare_with_real
    if name == "GANModel":
        from .generation import GANModel
        return GANModel
    if name == "Autoencoder":
        from .autoencoder import Autoencoder
        return Autoencoder
    if not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        return _importlib.import_module(f"{__name__}.{name}")  # a submodule (`timestepmusic.midi` after the bare import)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The package's names with those that load on first use (`dir`, `help` and completion list them)."""
    return sorted(set(globals()) | set(__all__))
