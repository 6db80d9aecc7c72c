"""Source records of llama-index-storage-chat-store-redis, in the neutral stored form.

``redis-memory migrate --from llama-index`` reads the source's lists in
:mod:`redis_memory.migrate` and passes each element here: the JSON of a
``ChatMessage`` (``model_dump_json()``), validated the way the source's own
reader does, then stored by :func:`._messages.to_stored`, which keeps what the
neutral fields cannot carry.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.llms import ChatMessage

from redis_memory.messages import StoredMessage

from ._messages import to_stored


def from_chat_message_json(record: Any) -> StoredMessage:
    """The stored form of one ``ChatMessage.model_dump_json()`` element."""
    return to_stored(ChatMessage.model_validate_json(record))  # type: ignore[return-value]
