"""What the engines that use the Search module share: digests for TAG fields,
reading FT.SEARCH replies, and creating an index that another worker may create too."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any


def digest(*parts: str) -> str:
    """32 hex digits naming ``parts``: a TAG value that needs no escaping in a query."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode("utf-8", "surrogatepass"))
        hasher.update(b"\x00")
    return hasher.hexdigest()[:32]


@contextlib.contextmanager
def index_exists_is_fine() -> Iterator[None]:
    # Another thread or process created it between redisvl's check and create.
    try:
        yield
    except Exception as exc:
        if "already exists" not in str(exc):
            raise


def search_results(reply: Any) -> list[dict[bytes, Any]]:
    """The returned fields of each FT.SEARCH result, from a RESP2 list or a parsed dict."""
    if isinstance(reply, dict):  # redis-py parses FT.SEARCH into a dict (RESP3 shape)
        return [dict(result.get(b"extra_attributes", {})) for result in reply[b"results"]]
    # RESP2: [total, key, [field, value, ...], key, [...], ...]
    return [dict(zip(fields[::2], fields[1::2], strict=False)) for fields in reply[2::2]]
