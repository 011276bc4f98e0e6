"""How a message names a setting of generate: as `tsm generate`'s flag (`-o`, `--seed 3`) or as generate()'s keyword
argument (`out=`, `seed=3`), so that each caller is told in the words it typed."""
from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from os import PathLike

SHORT_FLAGS = {"out": "-o", "n": "-n", "pieces": "--piece", "snap_to_real": "--no-snap"}  # flags not spelt as keywords
SAID_WITH_VALUE = {"overwrite": "overwrite=True", "snap_to_real": "snap_to_real=False"}  # said with the value asking it
# (a warning is said at the first line outside it: the caller's; as its code names its files, a link not followed,
# ending in a separator, so that a folder beside it named alike is not inside it)
PACKAGE = os.path.join(os.path.dirname(__file__), "")


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
        """The setting as a message's subject, before a colon: `--key`, `-n`; `key`, `n`, `snap_to_real=False`."""
        return self.name(setting) if self.cli else SAID_WITH_VALUE.get(setting, setting)


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
    call that sets it. The text the caller gave is said as given (a path 'take -n 2.mid' is not 'take n= 2.mid')."""
    flags = {FLAGS.name(keyword): keyword for keyword in keywords}
    named = "|".join(re.escape(flag) for flag in sorted(flags, key=len, reverse=True))
    texts = [str(text) for text in (given or {}).values() if isinstance(text, (str, PathLike))]
    told = [text.lower() for text in texts]
    message = outside_given(r"(?<![\w-])--set (\S+)", lambda m: f"generation.set_sampling(model, ['{m.group(1)}'])",
                            message, texts)
    subject = re.match(rf"({named}) (.+?)(?=: )", message) if named else None
    if subject is not None and said_as_given(subject.group(2), told):
        value = subject.group(2)
        shown = value if value[:1] in "'\"" or is_number(value) else repr(value)
        message = f"{flags[subject.group(1)]}={shown}" + message[subject.end():]

    subjects = re.match(rf"(?:{named})(?: and (?:{named}))*(?=:)", message) if named else None  # (`--a and --b: …`)
    alone_until = subjects.end() if subjects else 0

    def keyword(flag: re.Match) -> str:
        said = PYTHON_KEYWORDS.alone if flag.start() < alone_until else PYTHON_KEYWORDS.name
        return said(flags[flag.group()])
    return outside_given(rf"(?<![\w/.-])({named})(?![\w-])", keyword, message, texts) if named else message


def outside_given(pattern: str, replace: Callable[[re.Match], str], message: str, texts: list[str]) -> str:
    """re.sub(pattern, replace, message) but for a match that starts inside one of `texts` where the message holds it
    (what the caller gave, said as given)."""
    kept = [found.span() for text in texts if text for found in re.finditer(re.escape(text), message)]
    return re.sub(pattern, lambda m: m.group() if any(a <= m.start() < b for a, b in kept) else replace(m), message)


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


class GenerateWarning(UserWarning):
    """What `tsm generate` says as a warning (odd but usable: a piece too short for the shape asked, a length not
    whole chunks), said by generate() as a Python warning naming its keyword arguments."""


_IN_KEYWORDS: ContextVar[tuple[list[str], Mapping[str, object]] | None] = ContextVar("in_keywords", default=None)


@contextmanager
def keyword_messages(keywords: Iterable[str], given: Mapping[str, object] | None = None) -> Iterator[None]:
    """Within it, a ValueError or TypeError raised by code the command shares (naming its flags) names generate()'s
    keyword arguments instead (`in_keywords`): the same exception, its traceback kept; and what that code says with
    `warn` is a GenerateWarning so named, not a log line."""
    keywords = list(keywords)
    token = _IN_KEYWORDS.set((keywords, given or {}))
    try:
        yield
    except (ValueError, TypeError) as e:
        if e.args and isinstance(e.args[0], str):
            e.args = (in_keywords(e.args[0], keywords, given), *e.args[1:])
        raise
    finally:
        _IN_KEYWORDS.reset(token)


def said_in_keywords() -> bool:
    """Whether what is said now is said to generate()'s caller (within `keyword_messages`), who has no other command's
    flags to give: a message of the shared code then leaves out what only the command's user can act on."""
    return _IN_KEYWORDS.get() is not None


def warn(log: logging.Logger, message: str, *args: object) -> None:
    """Say a warning of code the command and generate() share (`message % args`, naming the command's flags): a log
    line for the command (`log.warning`); within `keyword_messages` (generate()), a GenerateWarning naming its keyword
    arguments, at the caller's line."""
    asked = _IN_KEYWORDS.get()
    if asked is None:
        log.warning(message, *args)
        return
    level, frame, outermost = 2, sys._getframe(1), 2  # (said at the line that called into the package: generate()'s
    while frame is not None:  # caller, past any frame of a library's between the package's own)
        if frame.f_code.co_filename.startswith(PACKAGE):
            outermost = level + 1
        level, frame = level + 1, frame.f_back
    level = outermost
    warnings.warn(in_keywords(message % args if args else message, *asked), GenerateWarning, stacklevel=level)
