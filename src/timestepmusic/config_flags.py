"""The configuration a command runs with, from its flags: --preset, then --config TOML, then its named flags, then
--set section.key=value (and the flags --config and --set themselves)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .argtypes import file_arg

if TYPE_CHECKING:
    from .config import Config


def config_from_flags(args: argparse.Namespace, flags: dict[str, str], base: Config | None = None):
    """The Config from --preset NAME (else `base`, else the defaults), then --config TOML, then named flags,
    then --set section.key=value."""
    from .config import Config

    base = Config.preset(args.preset) if getattr(args, "preset", None) else base or Config()
    config = Config.from_toml(args.config, base) if getattr(args, "config", None) else base
    given = {key: attr for attr, key in flags.items() if getattr(args, attr, None) is not None}
    flagged = config.override({key: getattr(args, attr) for key, attr in given.items()})
    config = flagged.override(getattr(args, "set", None) or [])
    _refuse_flag_overridden(flagged, config, given, getattr(args, "set", None) or [])
    return config


def _refuse_flag_overridden(flagged: Config, config: Config, given: dict[str, str], assignments: list[str]) -> None:
    """A named flag (`given`: setting → the flag's attribute) that a --set of the same setting changes (`flagged`: the
    configuration before --set, `config` after): the flag would be silently ignored (`--steps 30 --set gan.steps=12`
    trained 12 steps), so both are refused in one line; the same value given twice goes on."""
    from .set_assignments import assignment_of

    for key, _, _ in flagged.differences(config):
        if key in given:
            attr = given[key]
            flag = "--checkpoint-minutes" if attr == "checkpoint_s" else "--" + attr.replace("_", "-")
            raise ValueError(f"{flag} and --set {assignment_of(key, assignments)} both given: give one")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=file_arg, metavar="TOML",
                   help="read settings from this TOML file ([events], [chunks], [ae], [gan], …)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override any setting, e.g. --set ae.lr=3e-4 (repeatable; applied last)")
