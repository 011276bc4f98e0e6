"""Musical keys: read from a name ("E minor", "Bb", "f#m"), named back, and estimated from notes by the
Krumhansl–Kessler key profiles (Krumhansl 1990: how well each pitch class fits a major or minor key, from
listeners' ratings): the profile of the 24 keys that correlates best with the notes' pitch-class durations as a
MIDI file plays them (the Krumhansl–Schmuckler estimate), so that a piece in memory and its written file are named
alike. Shapes: C = 12 pitch classes.
"""
from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

import numpy as np

from .midi import LOWEST_PITCH, NUM_KEYS, Events, end_at_restrike
from .setting_names import FLAGS, SettingNames
from .waypoints import parse_waypoints, spaced

CLASSES = 12
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])  # [C], from C
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])  # [C], from C
TONICS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # as key signatures spell them
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "E#", "F#", "G", "G#", "A", "A#", "B")  # a signature of sharps …
FLAT_NAMES = ("C", "Db", "D", "Eb", "Fb", "F", "Gb", "G", "Ab", "A", "Bb", "Cb")  # … or of flats, as typed
LONGEST_WEIGHED_S = 2.0  # a note weighs its duration, up to this (a held bass note does not outweigh a passage)
_KEY = re.compile(r"^\s*([a-g])\s*(#|♯|b|♭|-?\s*sharp|-?\s*flat)?\s*-?\s*(major|minor|maj|min|m)?\s*$", re.IGNORECASE)
# German names, with the mode's word: 'Fis-Dur', 'es-Moll', 'B-Dur' (B flat), 'H-Dur' (B)
_GERMAN = re.compile(r"^\s*(b|h(?:is)?|[cdfg](?:is|es)?|[ae](?:is|s)?)\s*-?\s*(dur|moll)\s*$", re.IGNORECASE)
GERMAN_TONICS = {**TONICS, "b": 10, "h": 11}
# … and without it where the name is German alone ('Es', 'Fis', 'H'; not 'B' or 'E'): capital major, small minor
_GERMAN_BARE = re.compile(r"^\s*(h(?:is)?|[cdfg](?:is|es)|[ae](?:is|s))\s*$", re.IGNORECASE)
# solfège, as French, Italian and Spanish name keys: 'ré mineur', 'si bémol majeur', 'fa diesis minore', 'sol mayor'
_SOLFEGE = re.compile(r"^\s*(do|ut|ré|re|mi|fa|sol|la|si)\s*(#|♯|b|♭|dièse|diese|diesis|sostenido|bémol|bemol|bemolle)?"
                      r"\s*(majeur|maggiore|mayor|major|mineur|minore|menor|minor)?\s*$", re.IGNORECASE)
SOLFEGE_TONICS = {"do": 0, "ut": 0, "ré": 2, "re": 2, "mi": 4, "fa": 5, "sol": 7, "la": 9, "si": 11}
SHARP_SPELLED, FLAT_SPELLED = ("sharp", "dièse", "diese", "diesis", "sostenido"), ("flat", "bémol", "bemol", "bemolle")
SHARP_WORDS, FLAT_WORDS = ("#", "♯", "is", *SHARP_SPELLED), ("b", "♭", "es", "s", *FLAT_SPELLED)
MAJOR_WORDS = ("major", "dur", "majeur", "maggiore", "mayor")  # a mode as a word (English, German, French, Italian,
MINOR_WORDS = ("minor", "moll", "mineur", "minore", "menor")  # Spanish) …
LATER_WORDS = MAJOR_WORDS + MINOR_WORDS + SHARP_SPELLED + FLAT_SPELLED  # … and the words that may follow a tonic


class Key(NamedTuple):
    tonic: int  # pitch class 0 (C) … 11 (B)
    minor: bool


def parse_key(text: str, names: SettingNames = FLAGS) -> Key:
    """'E minor', 'Em', 'F# major', 'Bb', 'b-flat minor', 'Eb-minor' → the key; major where no mode is named. Case
    does not matter, except for a bare M or m after the tonic: 'CM' is C major, 'Cm' C minor. German names with the
    mode's word ('Fis-Dur', 'es-Moll'; B is B flat, H is B) and solfège ('ré mineur', 'si bémol', 'fa diesis
    minore', 'sol mayor') are read too. A name of none is a ValueError naming --key (or generate()'s key=: `names`)."""
    spelled = spelling(text)
    if spelled is None and (hint := german_h_hint(text)):
        raise ValueError(f"{names.given('key', repr(text))}: not a key; {hint}")
    if spelled is None:
        raise ValueError(f"{names.given('key', repr(text))}: not a key; give a tonic A–G, optionally # or b, and major or minor, "
                         "e.g. 'E minor', 'Bb', 'F# major', 'c#m' (or 'Fis-Dur', 'ré mineur')")
    return spelled[0]


def german_h_hint(text: str) -> str | None:
    """How to name a key typed as H with an English mode ('H major', 'Hm'), which is not read (as 'Es major' is not: a
    German tonic goes with Dur or Moll); None for any other text."""
    if re.match(r"^\s*h\s*-?\s*(major|minor|maj|min|m)\s*$", text, re.IGNORECASE) is None:
        return None
    return "H is German for B: give 'H-Dur' or 'h-Moll' (or 'B major', 'B minor')"


def spelling(text: str) -> tuple[Key, int] | None:
    """A key's name (parse_key's forms) → the key and the accidental it was named with (1 sharp, −1 flat, 0 none);
    None where it names no key."""
    text = unicodedata.normalize("NFC", text)  # ('ré' typed as e and a combining accent: one letter)
    if (match := _KEY.match(text)) is not None and not text.strip().endswith("-"):  # ("C-": jazz's C minor)
        letter, accidental, mode = match.groups()
        tonic, minor = TONICS[letter.lower()], mode is not None and (mode == "m" or mode.lower() in ("minor", "min"))
    elif (match := _GERMAN.match(text)) is not None:
        letter, accidental, mode = match.group(1)[0], match.group(1)[1:], match.group(2)
        tonic, minor = GERMAN_TONICS[letter.lower()], mode.lower() == "moll"
    elif (match := _GERMAN_BARE.match(text)) is not None:  # 'Es', 'fis', 'H': German alone; its case says the mode
        letter, accidental = match.group(1)[0], match.group(1)[1:]
        tonic, minor = GERMAN_TONICS[letter.lower()], letter.islower()
    elif (match := _SOLFEGE.match(text)) is not None:
        syllable, accidental, mode = match.groups()
        tonic = SOLFEGE_TONICS[syllable.lower()]
        minor = mode is not None and mode.lower() in MINOR_WORDS
    else:
        return None
    accidental = "" if accidental is None else accidental.lower().replace("-", "").strip()
    sign = 1 if accidental in SHARP_WORDS else -1 if accidental in FLAT_WORDS else 0
    return Key((tonic + sign) % CLASSES, minor), sign


def _is_path(text: str) -> bool:
    """Whether a --key text is read as waypoints: several keys, or one with its time ('Em@0'; 'Em@5' refused as
    --tempo '80@5' is, the first waypoint holding from the start), not as one key's name."""
    return any(mark in text for mark in (">", "→", "@"))


def parse_key_path(text: str, names: SettingNames = FLAGS) -> list[tuple[float | None, Key]]:
    """'C major > G major@20 > A minor' → each key asked, in order, with the seconds from which it is asked (the first
    from 0 s; None where not given: `timed_path` spaces those evenly). One key: as parse_key. What is not read is a
    ValueError naming --key (or generate()'s key=: `names`)."""
    if not _is_path(text):
        return [(0.0, parse_key(text, names))]

    def read_one(name: str) -> Key:
        try:
            return parse_key(name)
        except ValueError:
            raise ValueError(f"{names.given('key', repr(text))}: {name.strip()!r} is not a key; " + (german_h_hint(name) or (
                "give keys such as 'E minor', 'Bb', 'F# major', one after another with '>' (e.g. 'C > G@20 > Am')"))
            ) from None
    return parse_waypoints(text, read_one, "--key", "'G major@20'", names)


def typed_keys(text: str) -> list[str]:
    """A --key text → each key of it as the user typed it, in order ('Gb > Cb@8' → ['Gb', 'Cb']; one key: the text),
    so that each is spelled so (key_name's `spelled`)."""
    if not _is_path(text):
        return [text]
    return [typed for _, typed in parse_waypoints(text, str.strip, "--key", "")]


def timed_path(path: list[tuple[float | None, Key]], seconds: float,
               names: SettingNames = FLAGS) -> tuple[Key, tuple[tuple[float, Key], ...]]:
    """A parsed path of keys (parse_key_path's) over a piece of `seconds` → its first key and each later key with the
    seconds from which it is asked: untimed keys spaced evenly between the times around them (the start, a timed key,
    the piece's end, where no key starts). Times must rise and come before the piece's end (else a ValueError naming
    --key, or generate()'s key: `names`)."""
    times = spaced([at_s for at_s, _ in path], "--key", seconds, last_at_end=False, names=names)
    return path[0][1], tuple((at_s, key) for at_s, (_, key) in zip(times[1:], path[1:]))


def check_key(key: tuple) -> Key:
    """A key given in code (tonic 0–11, minor) → a Key; anything else is refused in one line."""
    if (not isinstance(key, tuple) or len(key) != 2 or not isinstance(key[0], int) or isinstance(key[0], bool)
            or not 0 <= key[0] < CLASSES or not isinstance(key[1], bool)):
        raise ValueError(f"key={key!r}: give (tonic 0–11, minor True or False), e.g. keys.parse_key('E minor')")
    return Key(*key)


def key_name(key: Key, spelled: str | None = None) -> str:
    """'Db major', 'C# minor': the spelling of the key's signature (five flats, four sharps), or of the signature
    `spelled` names (a key as the user typed it: 'as-Moll' is Ab minor, seven flats, not G# minor; `sharps`)."""
    names = MINOR_NAMES if key.minor else MAJOR_NAMES
    signature = 0 if spelled is None else sharps(key, spelled)
    names = SHARP_NAMES if signature > 0 else FLAT_NAMES if signature < 0 else names
    return f"{names[key.tonic]} {'minor' if key.minor else 'major'}"


def sharps(key: Key, spelled: str | None = None) -> int:
    """Its key signature: the sharps (> 0) or flats (< 0), as key_name spells it (E minor 1, Db major −5, F# major 6,
    Eb minor −6: its relative major's, counted round the circle of fifths from C), or as `spelled` (a key as the user
    typed it, parse_key's forms) where that names it with the other accidental within seven: 'Gb' −6, 'C#' 7, 'D#m' 6,
    'Ges-Dur' −6."""
    fifths = 7 * ((key.tonic + 3) % CLASSES if key.minor else key.tonic) % CLASSES  # [0, 12): sharps, up to 6
    flat = fifths > 6 or (fifths == 6 and "b" in key_name(key)[1:].split()[0])  # (six: F# major, but Eb minor)
    count = fifths - CLASSES if flat else fifths
    sign = (spelling(spelled) or (key, 0))[1] if spelled else 0  # the accidental the tonic was named with
    if count > 0 and sign < 0 and count - CLASSES >= -7:
        return count - CLASSES  # e.g. Gb major: six flats, not F#'s six sharps
    if count < 0 and sign > 0 and count + CLASSES <= 7:
        return count + CLASSES  # e.g. C# major: seven sharps, not Db's five flats
    return count


def profile(key: Key) -> np.ndarray:
    """The key's Krumhansl–Kessler profile over the pitch classes C … B [C]."""
    return np.roll(MINOR_PROFILE if key.minor else MAJOR_PROFILE, key.tonic)


ALL_KEYS = [Key(tonic, minor) for minor in (False, True) for tonic in range(CLASSES)]
PROFILES = np.stack([profile(key) for key in ALL_KEYS])  # [24, C]


def pitch_class_weights(events: Events) -> np.ndarray:
    """The notes' durations as a MIDI file plays them (a key struck again ends its note before), each up to
    LONGEST_WEIGHED_S, summed by pitch class [C]."""
    note = events.ids < NUM_KEYS
    ids, start_s = events.ids[note].astype(np.int64), events.start_s[note]
    end_s, _ = end_at_restrike(ids, start_s, start_s + events.duration_s[note])
    return np.bincount((ids + LOWEST_PITCH) % CLASSES, weights=np.minimum(end_s - start_s, LONGEST_WEIGHED_S),
                       minlength=CLASSES)


def estimate_key(events: Events) -> Key | None:
    """The key whose profile correlates best with the notes' pitch-class weights; None without two pitch classes."""
    weights = pitch_class_weights(events)  # [C]
    if np.count_nonzero(weights) < 2:
        return None
    fits = np.corrcoef(weights[None], PROFILES)[0, 1:]  # [24]: the weights' correlation with each key's profile
    return ALL_KEYS[int(np.argmax(fits))]


def relation(found: Key | None, asked: Key) -> str:
    """How a piece's key stands to the one asked, in a musician's words: "the key", "its relative", "its parallel"
    (the other mode), "its dominant", "its subdominant", "another key" or "no key"."""
    if found is None:
        return "no key"
    if found == asked:
        return "the key"
    if same_signature(found, asked):
        return "its relative"
    if found.tonic == asked.tonic:
        return "its parallel"
    if found.minor == asked.minor and (found.tonic - asked.tonic) % CLASSES in (5, 7):
        return "its dominant" if (found.tonic - asked.tonic) % CLASSES == 7 else "its subdominant"
    return "another key"


def same_signature(a: Key, b: Key) -> bool:
    """Whether two keys share a key signature (equal, or relative major and minor: A minor and C major)."""
    def major_of(key: Key) -> int:
        return (key.tonic + 3) % CLASSES if key.minor else key.tonic
    return major_of(a) == major_of(b)
