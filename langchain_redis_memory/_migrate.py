"""Source records of the LangChain Redis histories, in the neutral stored form.

``redis-memory migrate --from langchain-community|langchain-redis`` reads the
sources' keys in :mod:`redis_memory.migrate` and passes each record here: a
``{"type", "data"}`` dict, which LangChain's own ``messages_from_dict`` rebuilds
exactly as the source's reader would, and :func:`._messages.to_stored` keeps
every field of it.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import messages_from_dict

from redis_memory.messages import StoredMessage

from ._messages import to_stored


def from_message_dict(record: Any) -> StoredMessage:
    """The stored form of one ``message_to_dict`` record (``{"type", "data"}``)."""
    return to_stored(messages_from_dict([record])[0])
