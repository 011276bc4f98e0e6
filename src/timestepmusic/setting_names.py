"""How a message names a setting of generate: as `tsm generate`'s flag (`-o`, `--seed 3`) or as generate()'s keyword
argument (`out=`, `seed=3`), so that each caller is told in the words it typed."""
from __future__ import annotations

from dataclasses import dataclass

SHORT_FLAGS = {"out": "-o", "n": "-n", "pieces": "--piece"}  # the flags not spelt as their keyword is
SAID_WITH_VALUE = {"overwrite": "overwrite=True"}  # the keywords said with the value that asks it


@dataclass(frozen=True)
class SettingNames:
    """Names settings, given by their keyword's name (`max_seconds`): `cli` as the command's flags, else as keywords."""

    cli: bool = True

    def name(self, setting: str) -> str:
        """The setting alone: `--max-seconds`, `-o`, `--overwrite`; `max_seconds=`, `out=`, `overwrite=True`."""
        if self.cli:
            return SHORT_FLAGS.get(setting, "--" + setting.replace("_", "-"))
        return SAID_WITH_VALUE.get(setting, f"{setting}=")

    def given(self, setting: str, value: object) -> str:
        """The setting with its value: `--seed 3`, `-n 2`; `seed=3`, `n=2`."""
        return f"{self.name(setting)} {value}" if self.cli else f"{setting}={value}"

    def alone(self, setting: str) -> str:
        """The setting as a message's subject, before a colon: `--key`, `-n`; `key`, `n`."""
        return self.name(setting) if self.cli else setting


FLAGS = SettingNames(cli=True)  # tsm generate
PYTHON_KEYWORDS = SettingNames(cli=False)  # generate()
