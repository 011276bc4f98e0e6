"""The protocol every sequence model over chunk latents implements, and the registry that finds one by name.

An arm is a small class: built from its config section, it draws real training batches from the latent
corpus, gives its loss or losses for one training step, and samples latents for n pieces of a given or a
self-chosen length, deterministic per seed. Everything else (set-up, the latent cache, resume, checkpoint
metadata, validation, periodic samples, the time/step budget, Ctrl-C, torchrun) is the loop's
(train/sequence.py); loading and decoding is generate.GANModel's.

Shapes: S pieces, T chunks, L latent, R any leading shape of chunk rows.
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import torch
from torch import nn

from ..config import Config
from ..corpus import Corpus
from ..train.distributed import Dist
from ..train.finetune import RealLatents

log = logging.getLogger(__name__)


@dataclass
class LatentData:
    """What an arm trains on: the corpus (its splits and tracks) and its standardised latents."""

    corpus: Corpus
    real: RealLatents  # chunk rows [*R] (+ mask) → standardised latents [*R, L]; differentiable when fine-tuning
    ranks: Dist  # this process's slice of every global batch
    device: torch.device
    finetune: bool  # the autoencoder trains too: pass `weight` to `real` in the step that gives `ae_loss`


@dataclass
class Update:
    """One optimizer step of one trained part, as an arm asks the loop for it.

    `loss` is this rank's share of the global objective, scaled so that averaging the ranks' gradients gives
    the single-process gradient; `ae_loss` (fine-tuning only) is the autoencoder's reconstruction term from
    the same backward pass, a share of the global mean (the loop multiplies it by the world size)."""

    part: str  # a key of the arm's `trained()`: the module (and optimizer) this loss updates
    loss: torch.Tensor
    ae_loss: torch.Tensor | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # logged at validation; later updates win


class SequenceModel(Protocol):
    """A sequence model over chunk latents; `__init__(config, latent, device, training=True)` builds it from
    its config section (training=False: the generator alone, for sampling)."""

    arch: ClassVar[str]  # its name in checkpoints (`arch`) and on the command line (--arch)
    held_out_key: ClassVar[str]  # the held-out figure whose lowest |value| is kept as RUN/best
    # (arms with `held_out_signed = True`, such as a log-likelihood, keep the lowest value instead)
    snaps: ClassVar[bool]  # decode by snapping each latent to its nearest real training chunk (a codebook)
    generator: nn.Module  # what sampling needs; saved as generator.safetensors (see also AVERAGED_GENERATOR)

    def __init__(self, config: Config, latent: int, device: torch.device, training: bool = True) -> None: ...

    def trained(self) -> dict[str, nn.Module]:
        """Every trained module by name (weights and optimizer state are saved under these names)."""

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per trained module, same names."""

    def averaged(self) -> dict[str, nn.Module]:
        """Optional (see `averaged_modules`): modules the arm keeps beside the trained ones without an optimizer,
        such as a weight average of the generator, by name; saved and restored with them, so resume is exact."""

    def kept(self) -> dict[str, nn.Module]:
        """Optional (see `kept_modules`): tensors fixed by the corpus that sampling reads, by name, saved beside the
        weights and read back by the arm's `use_kept(name, tensors, path)` for each name in its `KEPT`."""

    def attach(self, data: LatentData) -> None:
        """Set up the real-data samplers and a fixed held-out batch (called once, before training)."""

    def updates(self, step: int, rng: torch.Generator) -> Iterator[Update]:
        """The optimizer steps of training step `step` (0-based), drawing everything random from `rng`.
        The loop applies each update before asking for the next."""

    def held_out(self) -> dict[str, float]:
        """Figures on the fixed held-out batch (`held_out_key` among them); called without gradient."""

    def sample(self, n: int, chunks: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` pieces of at most `chunks` chunks from `seed` alone: standardised latents [S, T, L] and each
        piece's length in chunks [S] (arms that end pieces themselves may stop earlier).
        Optional: an arm with `continues = True` (a class or instance attribute) takes `tsm generate --prompt`:
        it is called as `sample(n, chunks, seed, prompt=past)`, `past` the prompt's standardised latents [P, L]
        or None, and gives the pieces with the prompt first, [S, P + T, L], lengths counting the prompt's P.
        `tempered = True` marks the likelihood arms of the [ar] section (ar, events), not an arm of one's own: before
        each call GANModel reads the arm's `settings` (config.ar) and sets its `temperature`, `mixture_temperature`,
        `ends` and `closes`, and `tsm generate --set ar.*` changes those settings; one that also `continues` is called
        with `progress`, a function without arguments that it calls once per chunk drawn."""

    def preview_chunks(self, chunk_seconds: float) -> int:
        """How many chunks the periodic training samples run."""

    def compile(self) -> None:
        """torch.compile what can be compiled, in place (state dicts keep their names)."""


# An arm whose `averaged()` holds this key samples from it: GANModel loads these weights into `generator`.
AVERAGED_GENERATOR = "generator_ema"


@torch.no_grad()
def step_average(averaged: nn.Module, trained: nn.Module, step: int, decay: float) -> None:
    """One step of an exponential moving average of `trained`'s weights (buffers copied), its decay warmed up
    as in TensorFlow's ExponentialMovingAverage(num_updates) so that early samples are not the initial
    weights: min(decay, (1 + step) / (10 + step)); a function of the step alone, so resume stays exact."""
    decay = min(decay, (1 + step) / (10 + step))
    for mine, theirs in zip(averaged.parameters(), trained.parameters()):
        mine.lerp_(theirs, 1 - decay)
    for mine, theirs in zip(averaged.buffers(), trained.buffers()):
        mine.copy_(theirs)


class SamplesFromAverage:
    """For an arm whose samples come from an exponential moving average of its `generator` (gan.ema): it calls
    `start_average` after building the generator and `advance_average` after each generator update; the average
    is saved and restored beside the trained modules (`averaged`) and samples and validates (`sampler`)."""

    generator: nn.Module
    averaged_generator: nn.Module | None = None

    def start_average(self, on: bool) -> None:
        """A frozen copy of the generator to average into, or none (sampling loads the average's weights into
        `generator` itself: generation.GANModel)."""
        self.averaged_generator = copy.deepcopy(self.generator).requires_grad_(False) if on else None

    def advance_average(self, step: int, decay: float) -> None:
        """After the generator's update of `step`: the average takes its step (nothing without an average)."""
        if self.averaged_generator is not None:
            step_average(self.averaged_generator, self.generator, step, decay)

    def averaged(self) -> dict[str, nn.Module]:
        return {} if self.averaged_generator is None else {AVERAGED_GENERATOR: self.averaged_generator}

    @property
    def sampler(self) -> nn.Module:
        """The generator that samples: the weight average while training with one, else the generator."""
        return self.generator if self.averaged_generator is None else self.averaged_generator


def averaged_modules(model: SequenceModel) -> dict[str, nn.Module]:
    """The arm's `averaged()` modules; none for an arm without that method."""
    averaged = getattr(model, "averaged", None)
    return averaged() if averaged is not None else {}


def kept_modules(model: SequenceModel) -> dict[str, nn.Module]:
    """The arm's `kept()` modules; none for an arm without that method."""
    kept = getattr(model, "kept", None)
    return kept() if kept is not None else {}


def check_sampled(arm: SequenceModel, x: torch.Tensor, lengths: torch.Tensor, n: int, chunks: int, latent: int,
                  past_chunks: int = 0) -> None:
    """One line naming the arm where its `sample` gave other than SequenceModel.sample asks: latents [S, T, L] of at
    most `chunks` chunks, or after a prompt of P chunks [S, P + chunks, L], and lengths [S] within them, from P on; a
    wrong shape was a traceback deep in decoding, a prompt left out pieces said to be drawn for a negative time."""
    given = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
    lengths_given = tuple(lengths.shape) if isinstance(lengths, torch.Tensor) else type(lengths).__name__
    steps_ok = isinstance(given, tuple) and len(given) == 3 and (
        given[1] == past_chunks + chunks if past_chunks else 1 <= given[1] <= chunks)
    shortest = max(past_chunks, 1)
    if not (steps_ok and given[::2] == (n, latent) and lengths_given == (n,)
            and shortest <= int(lengths.min()) and int(lengths.max()) <= given[1]):
        asked = (f" after a prompt of {past_chunks} chunks, sample() gives latents ({n}, {past_chunks + chunks}, "
                 f"{latent}), the prompt's first, and lengths ({n},) from {past_chunks} to {past_chunks + chunks}"
                 if past_chunks else f", sample() gives latents ({n}, T, {latent}), T at most {chunks}, and lengths "
                 f"({n},) from 1 to T")
        raise ValueError(f"the {arm.arch} arm ({arm_source(type(arm))}) sampled latents {given} and lengths "
                         f"{lengths_given}; asked for {n} pieces of {chunks} chunks{asked} "
                         "(sequence/base.py's SequenceModel.sample)")


ARCHS: dict[str, type[SequenceModel]] = {}
ARMS_ENV = "TSM_ARMS"  # arms of one's own outside the package: module names or .py files, comma-separated
_imported_arms: dict[str, list[str]] = {}  # each module or file imported (a file by its real path) → the archs it registered


# What SequenceModel asks of every arm's class (its instance adds `generator`); `averaged`, `kept`, `continues`,
# `tempered` and `held_out_signed` are optional
PROTOCOL_MEMBERS = ("arch", "held_out_key", "snaps", "trained", "optimizers", "attach", "updates", "held_out", "sample",
                    "preview_chunks", "compile")


def arm_source(cls: type) -> str:
    """Where an arm's class was written: its module's file, or the module's name (a notebook's `__main__`)."""
    module = sys.modules.get(cls.__module__)
    return getattr(module, "__file__", None) or cls.__module__


def _source_key(cls: type) -> str:
    """arm_source as one file is one key: its real path (a folder on the Python path through a link, and the same
    file named in $TSM_ARMS by its real path, are one file)."""
    source = arm_source(cls)
    return os.path.realpath(source) if os.path.isfile(source) else source


def own_arm_hint(arm: SequenceModel, what: str) -> str:
    """For an arm of one's own (registered outside the package), how it would take `what` (an optional member of
    SequenceModel, said as `continues = True`), as a message's closing words; nothing for a built-in arm."""
    return "" if type(arm).__module__.startswith(f"{__package__.split('.')[0]}.") else (
        f" (an arm of your own takes it with {what}: docs/design.md, adding an arm)")


def register(cls: type[SequenceModel]) -> type[SequenceModel]:
    """Make an arm known by its `arch` (a class decorator): the loop and GANModel find it here. A name that an arm
    written elsewhere holds (a built-in one's, `rnn`) is refused: it replaced that arm, silently, for every run of it;
    the same file imported again (under another module name) registers its class again."""
    taken = ARCHS.get(cls.arch)
    if taken is not None and _source_key(taken) != _source_key(cls):
        raise ValueError(f"arch {cls.arch!r} is taken by {taken.__name__} in {arm_source(taken)}; give "
                         f"{cls.__name__} a name of its own")
    ARCHS[cls.arch] = cls
    return cls


def check_arm_class(cls: type[SequenceModel]) -> None:
    """One line naming what an arm's class lacks of SequenceModel, before a run starts (a missing `preview_chunks`
    was an AttributeError at the first periodic sample, gan.sample_every steps in; `held_out_key` at set-up)."""
    missing = [name for name in PROTOCOL_MEMBERS if not hasattr(cls, name)]
    if missing:
        raise ValueError(f"the {cls.arch} arm ({cls.__name__} in {arm_source(cls)}) lacks what every arm has "
                         f"(sequence/base.py's SequenceModel): {', '.join(missing)}")


def _arm_specs() -> list[str]:
    """The entries of $TSM_ARMS, each stripped, the empty ones left out."""
    return [spec for spec in (s.strip() for s in os.environ.get(ARMS_ENV, "").split(",")) if spec]


def _arm_key(spec: str) -> str:
    """What a $TSM_ARMS entry is imported once as: a module's name, or a file's real path (`a.py`, `./a.py` and a
    link to it are one file)."""
    return os.path.realpath(os.path.expanduser(spec)) if spec.endswith(".py") else spec


def _import_arm_module(spec: str) -> None:
    """Import a module by name, or a .py file by path (under a name of its own, removed again if it fails), its
    folder on the Python path (after what is there) as a script's is, so that it may import the modules beside it."""
    if not spec.endswith(".py"):
        importlib.import_module(spec)
        return
    path = _arm_key(spec)
    if not os.path.isfile(path):
        raise FileNotFoundError("no such file")
    stem, taken = f"timestepmusic_arm_{os.path.splitext(os.path.basename(path))[0]}", 1
    name = stem
    while name in sys.modules:  # (another folder's file of the same name: each keeps its own module)
        taken += 1
        name = f"{stem}_{taken}"
    folder = os.path.dirname(path)
    added = folder not in sys.path
    if added:
        sys.path.append(folder)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # (dataclasses and pickling look a class's module up by its name)
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        if added:
            sys.path.remove(folder)
        raise


def import_outside_arms() -> None:
    """Import, once each, the modules named in $TSM_ARMS (`my_arm` on the Python path, or a file
    `path/to/my_arm.py`; several separated by commas), so that the arms they register are found by every command
    and script (`tsm train-gan --arch`, `--resume`, `tsm generate --model RUN`, bench/) as the built-in ones are."""
    for spec in _arm_specs():
        if _arm_key(spec) in _imported_arms:
            continue
        before = dict(ARCHS)
        try:
            _import_arm_module(spec)
        except Exception as e:  # noqa: BLE001 (one's own code may raise anything: one line, its traceback with -v)
            log.info("importing %s from $%s", spec, ARMS_ENV, exc_info=True)
            raise ValueError(f"${ARMS_ENV}: cannot import {spec}: {type(e).__name__}: {e}") from e
        _imported_arms[_arm_key(spec)] = [arch for arch, cls in ARCHS.items() if before.get(arch) is not cls]


def arch_class(arch: str) -> type[SequenceModel]:
    """The arm registered as `arch` (the package's __init__ registers the built-in ones, $TSM_ARMS's modules
    register arms of one's own)."""
    import_outside_arms()
    if arch not in ARCHS:
        silent = [spec for spec in _arm_specs() if not _imported_arms.get(_arm_key(spec))]
        hint = (f"${ARMS_ENV}'s {', '.join(silent)} registered no arm: decorate its class with "
                f"timestepmusic.sequence.register, its arch = {arch!r}" if silent else
                f"an arm of your own: name its module or file in ${ARMS_ENV}, docs/design.md")
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHS))} ({hint})")
    return ARCHS[arch]
