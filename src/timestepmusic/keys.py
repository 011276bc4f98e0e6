"""Musical keys: read from a name ("E minor", "Bb", "f#m"), named back, and estimated from notes by the
Krumhansl–Kessler key profiles (Krumhansl 1990: how well each pitch class fits a major or minor key, from
listeners' ratings), the profile of the 24 keys that correlates best with the notes' pitch-class durations as a
MIDI file plays them (the Krumhansl–Schmuckler estimate): a piece in memory and its written file are named alike.

A key is (tonic, minor): tonic 0 (C) … 11 (B), minor True for a minor key. Shapes: C = 12 pitch classes.
"""
from __future__ import annotations

import re

import numpy as np

from .midi import LOWEST_PITCH, NUM_KEYS, Events, end_at_restrike

CLASSES = 12
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])  # [C], from C
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])  # [C], from C
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)  # semitones above the tonic
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # the natural minor, and the leading tone of the harmonic minor
TONICS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
LONGEST_WEIGHED_S = 2.0  # a note weighs its duration, up to this (a held bass note does not outweigh a passage)
_KEY = re.compile(r"^\s*([a-g])\s*(#|♯|b|♭|-sharp|-flat|\s+sharp|\s+flat)?\s*(major|minor|maj|min|m)?\s*$")


def parse_key(text: str) -> tuple[int, bool]:
    """'E minor', 'Em', 'F# major', 'Bb', 'b-flat minor' → (tonic 0–11, minor); major where no mode is named.
    A bare 'm' means minor ('Am'); the letter's case does not matter."""
    match = _KEY.match(text.lower())
    if match is None:
        raise ValueError(f"--key {text!r}: not a key; give a tonic A–G, optionally # or b, and major or minor, "
                         "e.g. 'E minor', 'Bb', 'F# major', 'c#m'")
    letter, accidental, mode = match.groups()
    shift = 0 if accidental is None else 1 if accidental.strip() in ("#", "♯", "-sharp", "sharp") else -1
    return (TONICS[letter] + shift) % CLASSES, mode in ("minor", "min", "m")


def key_name(key: tuple[int, bool]) -> str:
    tonic, minor = key
    return f"{NAMES[tonic]} {'minor' if minor else 'major'}"


def profile(key: tuple[int, bool]) -> np.ndarray:
    """The key's Krumhansl–Kessler profile over the pitch classes C … B [C]."""
    tonic, minor = key
    return np.roll(MINOR_PROFILE if minor else MAJOR_PROFILE, tonic)


def in_scale(key: tuple[int, bool]) -> np.ndarray:
    """Whether each pitch class C … B is in the key's scale [C] (bool; a minor key's holds both sevenths)."""
    tonic, minor = key
    member = np.zeros(CLASSES, dtype=bool)
    member[[(tonic + step) % CLASSES for step in (MINOR_SCALE if minor else MAJOR_SCALE)]] = True
    return member


def pitch_class_weights(events: Events) -> np.ndarray:
    """The notes' durations as a MIDI file plays them (a key struck again ends its note before), each up to
    LONGEST_WEIGHED_S, summed by pitch class [C]."""
    note = events.ids < NUM_KEYS
    ids, start_s = events.ids[note].astype(np.int64), events.start_s[note]
    end_s, _ = end_at_restrike(ids, start_s, start_s + events.duration_s[note])
    return np.bincount((ids + LOWEST_PITCH) % CLASSES, weights=np.minimum(end_s - start_s, LONGEST_WEIGHED_S),
                       minlength=CLASSES)


def estimate_key(events: Events) -> tuple[int, bool] | None:
    """The key whose profile correlates best with the notes' pitch-class weights; None without two pitch classes."""
    weights = pitch_class_weights(events)  # [C]
    if np.count_nonzero(weights) < 2:
        return None
    keys = [(tonic, minor) for minor in (False, True) for tonic in range(CLASSES)]
    fits = [np.corrcoef(weights, profile(key))[0, 1] for key in keys]
    return keys[int(np.argmax(fits))]


def same_signature(a: tuple[int, bool], b: tuple[int, bool]) -> bool:
    """Whether two keys share a key signature (equal, or relative major and minor: A minor and C major)."""
    def major_of(key: tuple[int, bool]) -> int:
        return (key[0] + 3) % CLASSES if key[1] else key[0]
    return major_of(a) == major_of(b)
