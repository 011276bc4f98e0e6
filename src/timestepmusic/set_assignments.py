"""`--set section.key=value`: an assignment split into its key and its value, and a refused setting said as the
assignment that gave it."""
from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def assigned_key(assignment: str) -> str:
    """The setting 'section.key' a --set assignment ('section.key=value') names."""
    return assignment.partition("=")[0].strip()


def assignment_of(key: str, assignments: list[str]) -> str | None:
    """The --set assignment of `assignments` that gives `key` its value (the last that names it), else None."""
    given = [a for a in assignments if assigned_key(a) == key]
    return given[-1] if given else None


def said_as_set(message: str, assignments: list[str]) -> str:
    """A refusal of setting KEY ('config KEY: why') said as the --set assignment that gave it ('--set KEY=VALUE: why');
    any other message as it is."""
    key, colon, why = message.removeprefix("config ").partition(": ")
    given = assignment_of(key, assignments)
    return f"--set {given}: {why}" if message.startswith("config ") and colon and given is not None else message


def split_assignment(assignment: str) -> tuple[str, Any]:
    """'section.key=value' → (its key, its value as a TOML literal, or the bare word where it is none: cpu, ponOHE)."""
    key, sep, text = assignment.partition("=")
    if not sep:
        raise ValueError(f"--set {assignment!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word such as cpu or ponOHE
    return key.strip(), value
