"""One configuration for the whole tool: a dataclass per stage, read from TOML, overridden by flags.

Every field has a docstring-style comment; every check names the TOML key (``section.key``) that
the CLI flag ``--set section.key=value`` also reaches. The whole object is saved as JSON beside
every corpus and inside every checkpoint, and ``Config.from_dict(cfg.to_dict()) == cfg``.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .ar_config import AutoregressiveConfig
from .argtypes import SEED_LIMIT
from .set_assignments import said_as_set, split_assignment
from .stage_configs import (
    AEConfig,
    AugmentConfig,
    ChunkConfig,
    CorpusConfig,
    EncodingConfig,
    EventsConfig,
    GANConfig,
    RecurrentConfig,
)


@dataclass(frozen=True)
class Config:
    """Everything that shapes a corpus, a model or a run."""

    events: EventsConfig = field(default_factory=EventsConfig)
    chunks: ChunkConfig = field(default_factory=ChunkConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ae: AEConfig = field(default_factory=AEConfig)
    gan: GANConfig = field(default_factory=GANConfig)
    rnn: RecurrentConfig = field(default_factory=RecurrentConfig)
    ar: AutoregressiveConfig = field(default_factory=AutoregressiveConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def differences(self, other: "Config") -> list[tuple[str, Any, Any]]:
        """(section.key, this config's value, `other`'s) for every setting where the two differ, in section and
        field order."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [(f"{section}.{key}", value, theirs[section][key]) for section, table in mine.items()
                for key, value in table.items() if theirs[section][key] != value]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        sections = {}
        for f in dataclasses.fields(cls):
            raw = data.get(f.name, {})
            if not isinstance(raw, dict):
                raise ValueError(f"config [{f.name}]: must be a table, got {raw!r}")
            sections[f.name] = _build_section(_SECTIONS[f.name], f.name, raw)
        unknown = set(data) - set(_SECTIONS)
        if unknown:
            raise ValueError(f"config: unknown section(s) {sorted(unknown)}; known: {sorted(_SECTIONS)}")
        return cls(**sections)

    @classmethod
    def from_toml(cls, path: str | Path, base: "Config | None" = None) -> "Config":
        """The settings in a TOML file; those it leaves out are `base`'s (a preset), else the defaults."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except OSError as e:
            raise ValueError(f"{path}: cannot read config file ({e.strerror or e})") from e
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML ({e})") from e
        if base is not None:
            under = base.to_dict()
            data = under | {name: under[name] | table if name in under and isinstance(table, dict) else table
                            for name, table in data.items()}
        try:
            return cls.from_dict(data)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    @classmethod
    def preset(cls, name: str) -> "Config":
        """The defaults with a named preset's settings (`PRESETS`) applied; --config and --set go on top."""
        if name not in PRESETS:
            raise ValueError(f"--preset {name}: unknown preset; known: {', '.join(sorted(PRESETS))}")
        return cls().override(PRESETS[name])

    def override(self, assignments: list[str] | dict[str, Any]) -> "Config":
        """A copy with ``section.key=value`` assignments applied (values parsed as TOML literals). A list is what
        `--set` gave: a setting it names that is refused is said as the assignment (--set ar.beat_echo=-1: …)."""
        if isinstance(assignments, dict):
            return self._overridden(assignments.items())
        try:
            return self._overridden([split_assignment(a) for a in assignments])
        except ValueError as e:
            raise ValueError(said_as_set(str(e), assignments)) from None

    def _overridden(self, items) -> "Config":
        data = self.to_dict()
        for key, value in items:
            if value is None:
                continue
            section, _, name = key.partition(".")
            if section not in data or name not in data[section]:
                raise ValueError(f"config {key}: unknown setting; {_known_near(key, data)}")
            data[section][name] = value
        return Config.from_dict(data)


def _known_near(key: str, data: dict[str, dict]) -> str:
    """What to say of an unknown `key` (section.key): the settings near it, else its section's settings, else the
    sections (not all 170 settings: `--set foo.bar=1` listed every one)."""
    section = key.partition(".")[0]
    close = difflib.get_close_matches(key, [f"{s}.{n}" for s in data for n in data[s]], n=3)
    if close:
        return f"did you mean {' or '.join(close)}?"
    if section in data:
        return f"known in [{section}]: " + ", ".join(f"{section}.{n}" for n in data[section])
    return f"no section [{section}]; the sections: {', '.join(data)}"


# Named sets of settings a run can start from (`tsm train-gan --preset NAME`, `Config.preset(NAME)`).
PRESETS: dict[str, dict[str, Any]] = {
    # the convolutional WGAN-GP as first designed: one learning rate and width for both networks, the
    # critic of four strided convolutions, no minibatch std, no weight average. A checkpoint written before
    # one of these settings existed was trained with the seed's value (generation.checkpoint_config).
    "seed": {"gan.window_chunks": 64, "gan.past_chunks": 0, "gan.noise": 50, "gan.channels": 128, "gan.critic_channels": 0,
             "gan.critic_depth": 0, "gan.minibatch_std": False, "gan.ema": 0.0, "gan.lr": 1e-4,
             "gan.critic_lr": 0.0, "gan.betas": (0.5, 0.9), "gan.batch": 10, "gan.critic_steps": 5,
             "gan.gp_weight": 0.1, "gan.gp_every": 1, "gan.fm_weight": 0.1},
}

_SECTIONS = {"events": EventsConfig, "chunks": ChunkConfig, "corpus": CorpusConfig, "encoding": EncodingConfig,
             "augment": AugmentConfig, "ae": AEConfig, "gan": GANConfig,
             "rnn": RecurrentConfig, "ar": AutoregressiveConfig}


def _boolean(value: Any, key: str) -> bool:
    """A true/false setting: TOML's true or false, or those words in any case (False, TRUE); anything else is
    refused rather than read as set (a non-empty string is truthy in Python)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"config {key}: expected true or false, got {value!r}")


def _build_section(cls: type, name: str, raw: dict[str, Any]):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(known)
    if unknown:
        close = {key: difflib.get_close_matches(key, known, n=1) for key in sorted(unknown)}  # a misspelt key's nearest
        meant = [f"{key} → {near[0]}" for key, near in close.items() if near]
        raise ValueError(f"config [{name}]: unknown key(s) {sorted(unknown)}; "
                         + (f"did you mean {', '.join(meant)}?" if meant else f"known: {sorted(known)}"))
    kwargs = {}
    for key, value in raw.items():
        default = getattr(cls(), key)
        if isinstance(default, bool):
            kwargs[key] = _boolean(value, f"{name}.{key}")
        elif default is None:
            kwargs[key] = value
        elif isinstance(value, bool):  # a bool is an int in Python: true would be read as 1
            raise ValueError(f"config {name}.{key}: expected {type(default).__name__}, got {value!r}")
        elif isinstance(default, tuple):
            if not isinstance(value, (list, tuple)) or len(value) != len(default) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
                raise ValueError(f"config {name}.{key}: expected {len(default)} numbers in brackets, e.g. "
                                 f"{list(default)}, got {value!r}")
            kwargs[key] = tuple(float(v) for v in value)
        elif isinstance(default, float) and isinstance(value, (int, float)) and not math.isfinite(value):
            raise ValueError(f"config {name}.{key}: expected a finite number, got {value!r}")
        elif isinstance(default, float) and isinstance(value, int):  # (a bool was refused above)
            kwargs[key] = float(value)
        elif not isinstance(value, type(default)):
            raise ValueError(f"config {name}.{key}: expected {type(default).__name__}, got {value!r}")
        elif key == "seed" and not 0 <= value <= SEED_LIMIT:  # (as --seed: the streams derived from it fit)
            raise ValueError(f"config {name}.{key}: a whole number from 0 to {SEED_LIMIT}, got {value!r}")
        else:
            kwargs[key] = value
    return cls(**kwargs)
