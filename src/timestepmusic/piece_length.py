"""How long each piece is drawn, and whether the model ends it itself, from `tsm generate`'s --seconds and
--max-seconds or generate()'s seconds= and max_seconds=: the one rule both follow, so that the same seed draws the
same pieces either way (an rnn model ends every piece itself, within 120 s unless told; an ar or events model ends
them itself only when given a cap)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .generate_flags import PIECE_SECONDS
from .sample_limits import arm_takes, check_piece_seconds, piece_chunks
from .setting_names import FLAGS, SettingNames, warn
from .waypoints import typed_time

if TYPE_CHECKING:
    from .generation import GANModel

log = logging.getLogger("timestepmusic")

ENDS_ITSELF_CAP_S = 120.0  # the longest a piece that ends itself may run where no cap is given (--max-seconds)


def ends_itself(gan: GANModel, max_seconds: float | None) -> bool:
    """Whether each piece ends where the model ends it: always for a model that chooses every piece's length (the
    recurrent arm), for a tempered one (ar, events) when a cap is given."""
    takes = arm_takes(gan.arm)
    return takes["ends_always"] or (takes["tempered"] and max_seconds is not None)


def piece_seconds(gan: GANModel, seconds: float | None, max_seconds: float | None,
                  names: SettingNames = FLAGS) -> float:
    """Each piece's length (s): the cap (`max_seconds`, default ENDS_ITSELF_CAP_S) for a model that ends its pieces
    itself (`ends_itself`), else `seconds` (default PIECE_SECONDS); the setting of the other kind refused in one line
    naming the flags (or generate()'s keywords: `names`)."""
    tempered = arm_takes(gan.arm)["tempered"]
    if ends_itself(gan, max_seconds):
        if seconds is not None:
            raise ValueError(f"{names.name('seconds')} and {names.name('max_seconds')}: give one "
                             f"({names.given('seconds', 'S')}: every piece S long; {names.given('max_seconds', 'S')}: "
                             f"this {gan.arch} model ends each piece itself, at most S long)" if tempered else
                             f"{names.name('seconds')}: this {gan.arch} model ends each piece itself; give "
                             f"{names.name('max_seconds')} (the longest a piece may run)")
        capped_s = max_seconds if max_seconds is not None else ENDS_ITSELF_CAP_S
        check_piece_seconds(capped_s, "max-seconds", names)
        return capped_s
    if max_seconds is not None:
        raise ValueError(f"{names.name('max_seconds')} is for models that end pieces themselves (rnn, ar, events); "
                         + ("a convolutional model" if gan.arch == "conv" else f"this {gan.arch} model") + " writes "
                         f"exactly {names.name('seconds').removesuffix('=')}")
    fixed_s = seconds if seconds is not None else PIECE_SECONDS
    check_piece_seconds(fixed_s, names=names)
    return fixed_s


def whole_seconds(seconds: float, gan: GANModel) -> float:
    """A length in whole chunks, as sample_latents draws it."""
    return piece_chunks(seconds, gan.ae.chunk_seconds) * gan.ae.chunk_seconds


def say_whole_chunks(flag: str, seconds: float, gan: GANModel, at_most: bool) -> None:
    """A length that is not whole chunks is said once, with the chunks drawn (`at_most`: a cap) and their seconds, as
    each file's line says them ('0.25 s drawn'); `flag`: --seconds or --max-seconds, as given."""
    chunk_s, whole_s = gan.ae.chunk_seconds, whole_seconds(seconds, gan)
    if abs(whole_s - seconds) > 1e-6:
        chunks = round(whole_s / chunk_s)
        warn(log, "%s %s: each piece is drawn as %s%d chunk%s of %g s = %g s (pieces are whole chunks)", flag,
             typed_time(seconds),
             "at most " if at_most else "", chunks, "s" * (chunks != 1), chunk_s, whole_s)
