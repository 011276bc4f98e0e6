"""What a model may be asked to sample, checked before it draws: which requests an arm takes (`arm_takes`), how long a
piece may last (LONGEST_PIECE_S) and how many chunks it is drawn with, and the sampling temperatures. Read by
generation.py (GANModel.sample_latents), `tsm generate` (generate_command.py, piece_length.py, generate_told.py, --info:
model_info.py) and generate() (generate_api.py) alike."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .argtypes import real
from .setting_names import FLAGS, SettingNames
from .waypoints import given_time, refused_time

if TYPE_CHECKING:
    from .sequence import SequenceModel

LONGEST_PIECE_S = 3600.0  # one hour: the recurrent generator's attention over its past grows with the piece


def arm_takes(arm: SequenceModel) -> dict[str, bool]:
    """What `tsm generate` lets an arm be asked, by the attributes its checks read (generate_command,
    GANModel.sample_latents), for those checks and for --info alike: `prompt` (--prompt: `continues`, the
    likelihood arms and a conv arm with gan.past_chunks), `tempered` (--temperature, --mixture-temperature, and
    --max-seconds to end pieces where the model ends them), `ends_always` (it ends every piece itself: --max-seconds,
    never --seconds; the recurrent arm)."""
    tempered = getattr(arm, "tempered", False)
    return {"prompt": getattr(arm, "continues", False), "tempered": tempered,
            "ends_always": getattr(arm, "arch", None) == "rnn" and not tempered}


def check_piece_seconds(seconds: float, flag: str = "seconds", names: SettingNames = FLAGS) -> None:
    """A clear error, naming the flag (or generate()'s keyword: `names`), for a piece length that is not a number (the
    command's flag reads one; GANModel.sample(seconds=None) and generate(seconds='16') do not), not positive or longer
    than the limit."""
    if not real(seconds):  # (else a TypeError of the comparison below)
        raise ValueError(f"{names.name(flag.replace('-', '_'))} must be a number of seconds, got {seconds!r}")
    if not seconds > 0:
        raise ValueError(refused_time(flag, seconds, "a piece's length must be > 0" if flag == "seconds" else
                                      "the longest a piece may last must be > 0", names))
    if seconds > LONGEST_PIECE_S:
        raise ValueError(f"{given_time(flag, seconds, names)}: a piece may last at most "
                         f"{LONGEST_PIECE_S:g} s ({LONGEST_PIECE_S / 3600:g} h); ask for more pieces "
                         f"({names.name('n')}) instead")


def check_temperatures(temperature: float | None, mixture_temperature: float | None) -> None:
    """A clear error, naming the flag, for a sampling temperature given that is not above 0 and finite (None: the
    model's own)."""
    for flag, value in (("temperature", temperature), ("mixture-temperature", mixture_temperature)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(f"--{flag} must be > 0 and finite, got {value:g}")


def piece_chunks(seconds: float, chunk_seconds: float) -> int:
    """How many chunks a piece asked to last `seconds` is drawn with: the nearest whole number, at least one."""
    return max(1, round(seconds / chunk_seconds))
