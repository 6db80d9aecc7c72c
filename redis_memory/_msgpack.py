"""Just enough msgpack to store a list element by element: an array's header, and an
array cut into its elements' own bytes without decoding them (the checkpoint log's
``Elements``)."""

from __future__ import annotations


def array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` elements."""
    if count < 16:
        return bytes([0x90 | count])
    if count < 65536:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


# Sizes of the msgpack objects a list of messages holds: ext types (LangGraph's
# serializer writes a message as one), strings, bins, numbers, nil, booleans.
_FIXED = {0xC0: 1, 0xC2: 1, 0xC3: 1, 0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9}
_FIXED |= {0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}
# marker: (bytes of the length, bytes before the data besides the length)
_SIZED = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0), 0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1)}
_SIZED |= {0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0)}


def array_elements(data: bytes) -> list[bytes] | None:
    """The elements of a msgpack array, each as its own msgpack bytes.

    None when the data is not an array, or holds a map or an array (whose size
    would need a full parse): the caller then serializes the elements one by one.
    """
    if not data:
        return None
    first = data[0]
    if 0x90 <= first <= 0x9F:
        count, at = first & 0x0F, 1
    elif first in (0xDC, 0xDD):
        width = 2 if first == 0xDC else 4
        count, at = int.from_bytes(data[1 : 1 + width], "big"), 1 + width
    else:
        return None
    parts = []
    for _ in range(count):
        if at >= len(data):
            return None
        marker = data[at]
        if marker <= 0x7F or marker >= 0xE0:
            size = 1
        elif 0xA0 <= marker <= 0xBF:
            size = 1 + (marker & 0x1F)
        elif marker in _FIXED:
            size = _FIXED[marker]
        elif marker in _SIZED:
            width, extra = _SIZED[marker]
            size = 1 + width + extra + int.from_bytes(data[at + 1 : at + 1 + width], "big")
        else:
            return None
        parts.append(data[at : at + size])
        at += size
    return parts if at == len(data) else None
