"""Sequence models over chunk latents ("arms"): each implements `base.SequenceModel`, and one training loop
(train/sequence.py) and one loaded-model class (generate.GANModel) serve them all, found by `arch`."""
from . import autoregressive, conv_gan, events, recurrent_gan  # noqa: F401  (importing an arm registers it)
from .base import (
                   ARCHS,
                   AVERAGED_GENERATOR,
                   LatentData,
                   SequenceModel,
                   Update,
                   arch_class,
                   averaged_modules,
                   kept_modules,
                   register,
)

__all__ = ["ARCHS", "AVERAGED_GENERATOR", "LatentData", "SequenceModel", "Update", "arch_class", "averaged_modules",
           "kept_modules", "register"]
