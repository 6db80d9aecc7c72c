"""What the engines that use the Search module share: digests for TAG fields,
reading FT.SEARCH replies, and creating an index that another worker may create too."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from ._checks import text

T = TypeVar("T")
_WORD = re.compile(r"\w+", re.UNICODE)
# RediSearch's default stop words, left out of every query: the index drops them
# anyway, and two in a row in a union crash Redis Stack 7.4's Search module (or
# make the union match nothing).
# fmt: off
STOPWORDS = frozenset((
    "a", "is", "the", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in",
    "into", "it", "no", "not", "of", "on", "or", "such", "that", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
))
# fmt: on
# Reciprocal-rank fusion's constant: ranks far down a list still count a little.
_RRF_K = 60


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
    return [fields for _, fields in keyed_results(reply)]


def keyed_results(reply: Any) -> list[tuple[str, dict[bytes, Any]]]:
    """``(key, fields)`` of each FT.SEARCH result."""
    if isinstance(reply, dict):
        pairs = [(r.get(b"id", b""), r.get(b"extra_attributes", {})) for r in reply[b"results"]]
    else:  # RESP2: [total, key, [field, value, ...], ...]
        pairs = list(zip(reply[1::2], reply[2::2], strict=False))
    return [
        (
            text(key),
            fields
            if isinstance(fields, dict)
            else dict(zip(fields[::2], fields[1::2], strict=False)),
        )
        for key, fields in pairs
    ]


def scored_results(reply: Any) -> list[tuple[dict[bytes, Any], Any, float]]:
    """``(fields, key, score)`` of each result of an FT.SEARCH ... WITHSCORES."""
    if isinstance(reply, dict):
        return [
            (dict(r.get(b"extra_attributes", {})), r.get(b"id"), float(r[b"score"]))
            for r in reply[b"results"]
        ]
    # RESP2: [total, key, score, [field, value, ...], key, score, [...], ...]
    found = []
    for i in range(1, len(reply), 3):
        fields = reply[i + 2]
        found.append(
            (dict(zip(fields[::2], fields[1::2], strict=False)), reply[i], float(reply[i + 1]))
        )
    return found


def query_words(text: str) -> list[str]:
    """The words of a query, as the full-text search sees them (nothing else reaches it)."""
    words = (word.lower() for word in _WORD.findall(text))
    return [word for word in words if word not in STOPWORDS]


# BM25 normalised by document length ranks short memories and messages better.
SCORER = "BM25STD"


def text_query(words: list[str], where: str = "*") -> str:
    """A full-text query matching any of ``words`` in the ``text`` field, within
    the filter ``where``.

    Each word is its own branch with the filter repeated: a filter beside one
    union of the words makes RediSearch 2.10 score the union by a single word,
    which leaves the results nearly unranked.
    """
    if where == "*":
        return "@text:(" + "|".join(words) + ")"
    return "|".join(f"(@text:{word} {where})" for word in words)


def relative(found: list[tuple[T, float]], mode: str) -> list[tuple[T, float]]:
    """Text scores relative to the best (vector scores are already in [0, 1])."""
    if mode == "vector" or not found:
        return found
    best = max(score for _, score in found) or 1.0
    return [(item, score / best) for item, score in found]


def fuse(
    lists: list[list[tuple[T, float]]], identity: Callable[[T], Hashable]
) -> list[tuple[T, float]]:
    """Reciprocal-rank fusion of the vector and text results, relative to the best."""
    scores: dict[Hashable, float] = {}
    items: dict[Hashable, T] = {}
    for found in lists:
        for rank, (item, _) in enumerate(found):
            name = identity(item)
            scores[name] = scores.get(name, 0.0) + 1.0 / (_RRF_K + rank + 1)
            items.setdefault(name, item)
    if not scores:
        return []
    best = max(scores.values())
    ranked = sorted(scores.items(), key=lambda pair: pair[1], reverse=True)
    return [(items[name], score / best) for name, score in ranked]
