"""Which settings each arm reads: a new run's `--preset` and `--set` checked against its arm, and the closing's settings.

The checks of train/sequence.py's loop and of `tsm train-gan` before a run starts.
"""
from __future__ import annotations

import logging

from ..config import PRESETS, Config
from ..set_assignments import assigned_key

log = logging.getLogger("timestepmusic.train.sequence")  # the loop's records, as before these moved here


def check_closing(config: Config, arch: str, fresh: bool) -> None:
    """ar.closing_s and ar.closing_only where only the events arm reads them, ar.closing_only where other weights
    would learn (gan.finetune_ae: the autoencoder's) or where there are none to keep (a `fresh` run, not warm-started):
    ValueError naming the setting."""
    a = config.ar
    if a.closing_s > 0 and arch != "events":
        raise ValueError(f"ar.closing_s: only the events arm closes a piece; the {arch} arm would ignore it")
    if a.closing_only and config.gan.finetune_ae:
        raise ValueError("ar.closing_only trains the closing alone; gan.finetune_ae (--finetune-ae) would train the "
                         "autoencoder too")
    if a.closing_only and fresh:
        raise ValueError("ar.closing_only trains the closing alone, keeping every other weight: warm-start from a "
                         "trained model (--init-from)")


# The convolutional GAN's design (what `--preset seed` sets): the transformer arms (ar, events) read none of it; theirs
# is in [ar]. Which sections each built-in arm never reads: a setting given there would change nothing.
CONV_DESIGN = frozenset(PRESETS["seed"]) | {"gan.minibatch_group", "gan.pastless_share"}
UNREAD = {"conv": ("ar.", "rnn."), "rnn": ("ar.",), "ar": ("rnn.", *CONV_DESIGN), "events": ("rnn.", *CONV_DESIGN)}
ITS_OWN = {"gan.lr": "ar.lr", "gan.batch": "ar.batch (--batch)", "ar.lr": "gan.lr", "ar.batch": "gan.batch (--batch)"}


def unread_by(arch: str, key: str) -> bool:
    """Whether the built-in arm `arch` never reads the setting `key` (section.key); an arm of one's own may read any."""
    return any(key == unread or (unread.endswith(".") and key.startswith(unread)) for unread in UNREAD.get(arch, ()))


def check_preset(arch: str, preset: str | None) -> None:
    """A new run's `--preset` of which its built-in arm reads nothing: ValueError (said before the run is checked
    further: the flag was asked for, and would change nothing)."""
    if preset is not None and all(unread_by(arch, key) for key in PRESETS[preset]):
        raise ValueError(f"--preset {preset}: the convolutional GAN's first design; the {arch} arm reads none of its "
                         "settings (leave it out)")


def warn_unread_settings(arch: str, assignments: list[str]) -> None:
    """A new run's `--set section.key=value` that the arm would ignore: a warning naming it, and the arm's own setting
    where it has one (a run of --arch ar given --set gan.lr trained at ar.lr, silently). A warning, not a refusal: a
    script may give one list of settings to several arms; said once the run is known to start (train/sequence.py,
    after every refusal), so that a refused run warns of nothing."""
    for assignment in assignments:
        key = assigned_key(assignment)
        if unread_by(arch, key):
            own = ITS_OWN.get(key)
            hint = f"; its own is {own}" if own and not unread_by(arch, own.split()[0]) else ""
            log.warning("--set %s: the %s arm does not read %s, so it changes nothing%s", assignment, arch, key, hint)
