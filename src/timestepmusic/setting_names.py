"""How a message names a setting of generate: as `tsm generate`'s flag (`-o`, `--seed 3`) or as generate()'s keyword
argument (`out=`, `seed=3`), so that each caller is told in the words it typed."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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


def in_keywords(message: str, keywords: Iterable[str], given: Mapping[str, object] | None = None) -> str:
    """A message of the code `tsm generate` and generate() share, which names the command's flags, as generate() says
    it, naming the keyword arguments among `keywords` (its own and its options'; another flag is left as it is): a
    flag as the message's subject with its value, `--style x=0.3: no attribute 'x'` → `style='x=0.3': …`, where the
    value is one word, quoted, or a part of the text the caller gave (`given`: keyword → value), a number left bare as
    generate()'s own messages leave it (`tempo=500: …`); a flag as a subject alone, `--key: …` → `key: …`, `--like and
    --style: give one` → `like and style: give one`; any other mention, `its --temperature is the key's` → `its
    temperature= is the key's`; and `--set ar.NAME=VALUE` (generate() takes a model whose settings were set) as the
    call that sets it."""
    flags = {FLAGS.name(keyword): keyword for keyword in keywords}
    named = "|".join(re.escape(flag) for flag in sorted(flags, key=len, reverse=True))
    told = [text.lower() for text in (given or {}).values() if isinstance(text, str)]
    message = re.sub(r"(?<![\w-])--set (\S+)", r"generation.set_sampling(model, ['\1'])", message)
    subject = re.match(rf"({named}) (.+?)(?=: )", message) if named else None
    if subject is not None and said_as_given(subject.group(2), told):
        value = subject.group(2)
        shown = value if value[:1] in "'\"" or is_number(value) else repr(value)
        message = f"{flags[subject.group(1)]}={shown}" + message[subject.end():]

    def keyword(flag: re.Match) -> str:  # (a subject alone: before a colon or another flag it goes with)
        alone = re.match(r":|,| and --| or --", message[flag.end():]) is not None
        return PYTHON_KEYWORDS.alone(flags[flag.group()]) if alone else PYTHON_KEYWORDS.name(flags[flag.group()])
    return re.sub(rf"(?<![\w/.-])({named})(?![\w-])", keyword, message) if named else message


def said_as_given(value: str, told: list[str]) -> bool:
    """Whether a flag's value in a message is the value the caller gave (or a part of it), not words that follow the
    flag: one word, a quoted value, or words found in the text given."""
    return " " not in value or value[:1] in "'\"" or any(value.lower() in text for text in told)


def is_number(text: str) -> bool:
    """Whether `text` reads as a number ('500', '-1', '0.5')."""
    try:
        float(text)
    except ValueError:
        return False
    return True


@contextmanager
def keyword_messages(keywords: Iterable[str], given: Mapping[str, object] | None = None) -> Iterator[None]:
    """Within it, a ValueError or TypeError raised by code the command shares (naming its flags) names generate()'s
    keyword arguments instead (`in_keywords`): the same exception, its traceback kept."""
    try:
        yield
    except (ValueError, TypeError) as e:
        if e.args and isinstance(e.args[0], str):
            e.args = (in_keywords(e.args[0], list(keywords), given), *e.args[1:])
        raise
