"""Whether a roll (PNG) or audio (WAV) was written by this tool: `tsm plot --overwrite` replaces only its own, never a
picture or a recording of the user's that has the name it would write (take.wav beside take.mid, as a recorder or a
sequencer saves them). Each roll this tool draws says so in its PNG's Software text, each WAV it renders in a LIST INFO
chunk's ISFT (software) field, which players pass over. Rolls drawn before the mark carry matplotlib's own Software
text, and are taken for this tool's; audio rendered before it is not (never replaced: moved or deleted by hand).
"""
from __future__ import annotations

import struct
from pathlib import Path

SOFTWARE = "TimeStepMusic"
PNG_SIGNATURE, RIFF, WAVE = b"\x89PNG\r\n\x1a\n", b"RIFF", b"WAVE"
ROLL_SOFTWARE = (SOFTWARE.encode(), b"Matplotlib")  # (the rolls of before the mark: matplotlib's own)


def png_metadata() -> dict[str, str]:
    """The text a roll's PNG carries (matplotlib's savefig `metadata`)."""
    return {"Software": SOFTWARE}


def mark_wav(path: Path) -> None:
    """A LIST INFO chunk naming this tool (ISFT) appended to the WAV at `path`, and its RIFF size grown by it (a file
    that is not RIFF WAVE is left as it is)."""
    text = SOFTWARE.encode() + b"\0"
    text += b"\0" * (len(text) % 2)  # (a chunk's data padded to an even length)
    info = b"INFO" + b"ISFT" + struct.pack("<I", len(text)) + text
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != RIFF or head[8:] != WAVE:  # (not RIFF's: left unmarked, so never replaced)
            return
        f.seek(0, 2)
        if f.tell() % 2:  # (the chunk before it left unpadded)
            f.write(b"\0")
        f.write(b"LIST" + struct.pack("<I", len(info)) + info)
        size = f.tell() - 8
        f.seek(4)
        f.write(struct.pack("<I", size))


def made_here(path: Path) -> bool:
    """Whether the roll or audio at `path` carries this tool's mark (a PNG's Software text, a WAV's ISFT); False for
    any other file, or one that cannot be read."""
    try:
        with open(path, "rb") as f:
            start = f.read(12)
            if start[:8] == PNG_SIGNATURE:
                return _png_software(f, start[8:]).startswith(ROLL_SOFTWARE)
            if start[:4] == RIFF and start[8:] == WAVE:
                return _wav_software(f).startswith(SOFTWARE.encode())
    except OSError:
        pass
    return False


def _png_software(f, read: bytes) -> bytes:
    """The Software text of the PNG being read from `f` (its signature read, and `read` after it), up to its image
    data; b"" where it has none."""
    data = read + f.read(65536)  # (text chunks come before the image data: matplotlib writes them first)
    i = 0
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I", data[i:i + 4])[0], data[i + 4:i + 8]
        if kind == b"IDAT":
            break
        body = data[i + 8:i + 8 + length]
        if kind == b"tEXt" and body.startswith(b"Software\0"):
            return body[len(b"Software\0"):]
        i += 12 + length  # (length, type, data, CRC)
    return b""


def _wav_software(f) -> bytes:
    """The ISFT text of the WAV being read from `f` (its RIFF header read); b"" where it has none."""
    while len(header := f.read(8)) == 8:
        kind, size = header[:4], struct.unpack("<I", header[4:])[0]
        if kind == b"LIST":
            body = f.read(size)
            i = 4 if body[:4] == b"INFO" else len(body)
            while i + 8 <= len(body):
                field, length = body[i:i + 4], struct.unpack("<I", body[i + 4:i + 8])[0]
                if field == b"ISFT":
                    return body[i + 8:i + 8 + length]
                i += 8 + length + length % 2
            f.seek(size % 2, 1)
        else:
            f.seek(size + size % 2, 1)  # (the audio itself passed over)
    return b""
