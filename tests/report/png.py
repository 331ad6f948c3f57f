"""Read a PNG's pixels with the standard library (zlib, struct), for the screenshot test.

Only what Chromium writes is supported: 8-bit RGB or RGBA, not interlaced.
Pillow would do this in one line, but the project does not depend on it.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}  # PNG colour type -> bytes per pixel at 8 bits


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: tuple[bytes, ...]

    def colours(self) -> Counter[tuple[int, int, int]]:
        """How many pixels have each RGB colour (alpha ignored)."""
        counts: Counter[tuple[int, int, int]] = Counter()
        step = self.channels
        for row in self.rows:
            counts.update(zip(row[0::step], row[1::step], row[2::step], strict=True))
        return counts


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    if kind == 0:
        return line
    if kind == 2:  # Up: the common case for flat page areas, done without a Python loop
        return bytes((x + b) & 255 for x, b in zip(line, prev, strict=True))
    out = bytearray(line)
    for i in range(len(out)):
        a = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + a) & 255
        elif kind == 3:
            out[i] = (out[i] + ((a + prev[i]) >> 1)) & 255
        elif kind == 4:
            c = prev[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + _paeth(a, prev[i], c)) & 255
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
    return bytes(out)


def read_png(path: Path) -> Image:
    data = path.read_bytes()
    if not data.startswith(_SIGNATURE):
        raise ValueError(f"{path} is not a PNG file")
    pos = len(_SIGNATURE)
    header: tuple[int, ...] = ()
    idat: list[bytes] = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}")
    bpp = _CHANNELS[colour_type]
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prev = _unfilter(raw[start], raw[start + 1 : start + 1 + stride], prev, bpp)
        rows.append(prev)
    return Image(width, height, bpp, tuple(rows))
