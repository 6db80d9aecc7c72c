"""The key schema: one rule for every kind of data.

``{prefix}:{kind}:{scope}...``. Ids supplied by end users (session, user and
task ids, state keys, names) are escaped, so no id can produce another id's key,
leave the prefix, or widen a ``SCAN`` pattern. Session, user and task ids sit
inside ``{...}``: a Redis Cluster hash tag, so all keys of one session share a
slot and multi-key operations on it stay atomic on a cluster.

Example:
    >>> from redis_memory import KeySchema
    >>> keys = KeySchema("myapp")
    >>> keys.session_messages("user:42")
    'myapp:session:{user%3A42}:messages'
    >>> keys.session_id_of(keys.session_messages("user:42"))
    'user:42'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_PREFIX = "rmem"
MAX_ID_BYTES = 512
MAX_PREFIX_LENGTH = 64

# Characters with a meaning to Redis key patterns, hash tags or our separator,
# plus the escape character itself so that escaping stays one-to-one.
_RESERVED = frozenset(":{}*?[]\\%")

# The keys under one priority queue's and one LangGraph thread's stem, in the order
# their scripts take them (KEYS[1], KEYS[2]...).
_PQUEUE_PARTS = ("ready", "delayed", "leased", "payloads", "meta", "seq")
_THREAD_PARTS = ("checkpoints", "heads", "order", "blobs", "writes", "runs", "mirrored", "elements")
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.\-]+(?::[A-Za-z0-9_.\-]+)*")

KINDS = (
    "session",
    "cache",
    "state",
    "task",
    "lock",
    "ratelimit",
    "queue",
    "events",
    "audit",
    "thread",
    "mem",
    "team",
    "perms",
    "pqueue",
    "holds",
)


def _needs_escape(char: str) -> bool:
    return (
        char in _RESERVED
        or char.isspace()
        or unicodedata.category(char)[0] == "C"  # control, format, surrogate, unassigned
    )


def escape_id(value: str, *, what: str = "id") -> str:
    """Escape a user-supplied id for use inside a key.

    Reserved characters become ``%XX`` (UTF-8 bytes, upper-case hex); everything
    else, non-ASCII letters included, stays readable. The mapping is one-to-one
    and :func:`unescape_id` reverses it.

    Raises:
        TypeError: ``value`` is not a ``str``.
        ValueError: ``value`` is empty, longer than 512 UTF-8 bytes, or not
            encodable as UTF-8 (a lone surrogate).
    """
    if not isinstance(value, str):
        raise TypeError(f"a {what} must be a str, not {type(value).__name__}: {value!r}")
    return _escape(value, what)


@lru_cache(maxsize=4096)
def _escape(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"a {what} must not be empty")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError(f"a {what} must be valid Unicode text (UTF-8 encodable): {exc}") from None
    if size > MAX_ID_BYTES:
        raise ValueError(
            f"a {what} must be at most {MAX_ID_BYTES} bytes of UTF-8, got {size} bytes"
        )
    if not any(_needs_escape(char) for char in value):
        return value
    return "".join(
        "".join(f"%{byte:02X}" for byte in char.encode("utf-8")) if _needs_escape(char) else char
        for char in value
    )


_ESCAPE_RE = re.compile(r"(?:%[0-9A-F]{2})+")


def unescape_id(escaped: str) -> str:
    """Reverse :func:`escape_id`."""
    if "%" not in escaped:
        return escaped
    return _ESCAPE_RE.sub(
        lambda match: bytes.fromhex(match.group().replace("%", "")).decode("utf-8"), escaped
    )


def validate_prefix(prefix: str) -> str:
    """Check a key prefix: words of ``[A-Za-z0-9_.-]`` joined by single colons."""
    if not isinstance(prefix, str):
        raise TypeError(f"the key prefix must be a str, not {type(prefix).__name__}")
    if not _PREFIX_RE.fullmatch(prefix) or len(prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(
            f"invalid key prefix {prefix!r}: use 1 to {MAX_PREFIX_LENGTH} characters of "
            "letters, digits, '_', '.', '-', with ':' only between words (e.g. 'myapp:prod')"
        )
    # 'app:cache' would make its keys look like the cache keys of prefix 'app'.
    reserved = [word for word in prefix.split(":")[1:] if word in KINDS]
    if reserved:
        raise ValueError(
            f"invalid key prefix {prefix!r}: {reserved[0]!r} names a kind of data, so it "
            f"cannot follow a ':' in a prefix (it would read as the {reserved[0]} keys of "
            f"prefix {prefix.split(':')[0]!r})"
        )
    return prefix


def _labels(namespace: Sequence[str]) -> list[str]:
    """A memory namespace's labels in a key: escaped, the first as the hash tag."""
    head, *rest = (escape_id(label, what="namespace label") for label in namespace)
    return ["{" + head + "}", *rest]


def _tag(escaped: str) -> str:
    return "{" + escaped + "}"


@dataclass(frozen=True, slots=True)
class KeySchema:
    """Builds every key and channel name this package uses, under one prefix.

    The prefix is the only part an application chooses; an ACL user limited to
    ``~{prefix}:*`` and ``&{prefix}:*`` can do everything this package does.
    """

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)

    # -- sessions ---------------------------------------------------------
    def session(self, session_id: str) -> str:
        """The common stem of one session's keys (``{prefix}:session:{id}``)."""
        return f"{self.prefix}:session:{_tag(escape_id(session_id, what='session id'))}"

    def session_messages(self, session_id: str) -> str:
        """The list of one session's messages, oldest first."""
        return self.session(session_id) + ":messages"

    def session_archive(self, session_id: str) -> str:
        """The messages LlamaIndex's ``Memory`` archived, in the session's slot."""
        return self.session(session_id) + ":archived"

    def session_meta(self, session_id: str) -> str:
        """A session's bookkeeping hash (how many message copies a searchable log made)."""
        return self.session(session_id) + ":meta"

    def session_quarantine(self, session_id: str) -> str:
        """Damaged entries moved out of the session's lists by ``sessions check --repair``.

        In the session's slot; the values are kept byte for byte.
        """
        return self.session(session_id) + ":quarantine"

    def session_appends(self, session_id: str) -> str:
        """The tokens of the session's recent appends, so that a repeated append stores nothing."""
        return self.session(session_id) + ":appends"

    def session_channel(self, session_id: str) -> str:
        """The pub/sub channel on which a session's changes are announced."""
        return f"{self.channel_prefix()}session:{_tag(escape_id(session_id, what='session id'))}"

    def sessions_pattern(self) -> str:
        """A ``SCAN`` pattern matching each session's message key once."""
        return f"{self.prefix}:session:{{*}}:messages"

    def session_keys_pattern(self) -> str:
        """A ``SCAN`` pattern matching every key of every session (messages, archive, ...)."""
        return f"{self.prefix}:session:{{*}}:*"

    def session_index(self) -> str:
        """The search index over every session's message copies (``searchable=True``)."""
        return f"{self.prefix}:session:messages-idx"

    def session_index_prefix(self) -> str:
        """The key prefix the session index covers (its message copies are ``...:m:<n>``)."""
        return f"{self.prefix}:session:"

    def session_id_of(self, key: str | bytes) -> str:
        """The session id inside a session key built by this schema."""
        return self._tagged_id("session", key)

    def _tagged_id(self, kind: str, key: str | bytes) -> str:
        text = key.decode("utf-8") if isinstance(key, bytes) else key
        stem = f"{self.prefix}:{kind}:{{"
        if not text.startswith(stem) or "}" not in text[len(stem) :]:
            raise ValueError(f"{text!r} is not a {kind} key under prefix {self.prefix!r}")
        return unescape_id(text[len(stem) : text.index("}", len(stem))])

    # -- LangGraph threads -------------------------------------------------
    def thread(self, thread_id: str) -> str:
        """The common stem of one LangGraph thread's keys (``{prefix}:thread:{<id>}``).

        The hash tag is the session's, so a thread and the session of the same id
        share a slot: one script may write both on a cluster.
        """
        return f"{self.prefix}:thread:{_tag(escape_id(thread_id, what='thread id'))}"

    def thread_keys(self, thread_id: str) -> list[str]:
        """Every key of one thread, in the order the checkpoint scripts take them."""
        stem = self.thread(thread_id)
        return [f"{stem}:{part}" for part in _THREAD_PARTS]

    def threads_pattern(self) -> str:
        """A ``SCAN`` pattern matching one key of each thread (its checkpoint order)."""
        return f"{self.prefix}:thread:{{*}}:order"

    def thread_id_of(self, key: str | bytes) -> str:
        """The thread id inside a thread key built by this schema."""
        return self._tagged_id("thread", key)

    # -- cache ------------------------------------------------------------
    def cache_exact(self, llm_hash: str, prompt_hash: str, *, cache: str = "default") -> str:
        """An exact cache entry: ``{prefix}:cache:llm:<cache>:<llm_hash>:<prompt_hash>``.

        The cache's name comes first, so that clearing one cache never touches another.
        """
        name = escape_id(cache, what="cache name")
        return f"{self.prefix}:cache:llm:{name}:{_hex(llm_hash)}:{_hex(prompt_hash)}"

    def cache_exact_pattern(self, llm_hash: str | None = None, *, cache: str = "default") -> str:
        """A ``SCAN`` pattern matching one exact cache's entries, or only those of one LLM."""
        name = escape_id(cache, what="cache name")
        return f"{self.prefix}:cache:llm:{name}:{_hex(llm_hash) if llm_hash else '*'}:*"

    def cache_semantic_prefix(self, cache_name: str) -> str:
        """Key prefix of one semantic cache's entries (also its index's prefix)."""
        return f"{self.prefix}:cache:sem:{escape_id(cache_name, what='cache name')}"

    def cache_semantic_index(self, cache_name: str) -> str:
        """The search index of one semantic cache's entries."""
        return f"{self.cache_semantic_prefix(cache_name)}:idx"

    def cache_semantic(self, llm_hash: str, prompt_hash: str, *, cache: str = "default") -> str:
        """A semantic cache entry (a hash): ``<its cache's prefix>:<llm_hash>:<prompt_hash>``."""
        return f"{self.cache_semantic_prefix(cache)}:{_hex(llm_hash)}:{_hex(prompt_hash)}"

    def cache_semantic_pattern(self, llm_hash: str | None = None, *, cache: str = "default") -> str:
        """A ``SCAN`` pattern matching one semantic cache's entries, or those of one LLM."""
        return f"{self.cache_semantic_prefix(cache)}:{_hex(llm_hash) if llm_hash else '*'}:*"

    def caches_pattern(self) -> str:
        """A ``SCAN`` pattern matching the entries of every cache, both tiers."""
        return f"{self.prefix}:cache:*"

    def cache_entry_of(self, key: str | bytes) -> tuple[str, str] | None:
        """``("exact" | "semantic", cache name)`` of a cache entry's key, else None."""
        stem = f"{self.prefix}:cache:"
        text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        if not text.startswith(stem):
            return None
        tier, _, rest = text[len(stem) :].partition(":")
        name = rest.split(":", 1)[0]
        if tier not in ("llm", "sem") or not name:
            return None
        return ("exact" if tier == "llm" else "semantic"), unescape_id(name)

    # -- state ------------------------------------------------------------
    def state_user(self, user_id: str) -> str:
        """The common stem of one user's state keys (``{prefix}:state:{<id>}``)."""
        return f"{self.prefix}:state:{_tag(escape_id(user_id, what='user id'))}"

    def state(self, user_id: str, key: str) -> str:
        """The key of one state value of a user, in that user's slot."""
        return f"{self.state_user(user_id)}:{escape_id(key, what='state key')}"

    def states(self, user_id: str, keys: Iterable[str]) -> list[str]:
        """:meth:`state` of each key, the user id escaped once."""
        stem = self.state_user(user_id) + ":"
        return [stem + escape_id(key, what="state key") for key in keys]

    def state_channel(self, user_id: str) -> str:
        """The pub/sub channel of one user's state changes: ``{prefix}:events:state:{<id>}``."""
        return f"{self.channel_prefix()}state:{_tag(escape_id(user_id, what='user id'))}"

    def state_pattern(self, user_id: str) -> str:
        """A ``SCAN`` pattern matching every state key of one user."""
        return f"{self.state_user(user_id)}:*"

    def state_key_of(self, user_id: str, key: str | bytes) -> str | None:
        """The state key (as the user named it) of one of ``user_id``'s Redis keys, else None:
        :meth:`state` undone."""
        stem = self.state_user(user_id) + ":"
        text = key.decode("utf-8") if isinstance(key, bytes) else key
        return unescape_id(text[len(stem) :]) if text.startswith(stem) else None

    def state_users_pattern(self) -> str:
        """A ``SCAN`` pattern matching every state key of every user."""
        return f"{self.prefix}:state:{{*}}:*"

    def state_user_of(self, key: str | bytes) -> str:
        """The user id inside a state key built by this schema."""
        return self._tagged_id("state", key)

    # -- coordination -----------------------------------------------------
    def task(self, task_id: str) -> str:
        """The common stem of one task's keys (``{prefix}:task:{<id>}``)."""
        return f"{self.prefix}:task:{_tag(escape_id(task_id, what='task id'))}"

    def task_owner(self, task_id: str) -> str:
        """Who holds the task's claim (no key while it is unclaimed), in the task's slot."""
        return self.task(task_id) + ":owner"

    def task_findings(self, task_id: str) -> str:
        """The list of what agents found while working on the task, in the task's slot."""
        return self.task(task_id) + ":findings"

    def task_verdicts(self, task_id: str) -> str:
        """Each subject's verdicts by author, and its conflict and decision, in the task's slot."""
        return self.task(task_id) + ":verdicts"

    def lock(self, name: str) -> str:
        """A distributed lock: ``{prefix}:lock:<name>``."""
        return f"{self.prefix}:lock:{escape_id(name, what='lock name')}"

    def queue(self, name: str) -> str:
        """The stream of a work queue between agents: ``{prefix}:queue:{<name>}``."""
        return f"{self.prefix}:queue:{_tag(escape_id(name, what='queue name'))}"

    def ratelimit(self, name: str) -> str:
        """The token bucket of one rate limit: ``{prefix}:ratelimit:<name>``."""
        return f"{self.prefix}:ratelimit:{escape_id(name, what='rate limit name')}"

    # -- agents: presence, permissions, priority queues, holds -------------
    def team(self, team: str) -> str:
        """The common stem of one team's presence keys (``{prefix}:team:{<team>}``).

        The team's name is the hash tag: every set operation over its live agents
        stays in one slot on a cluster.
        """
        return f"{self.prefix}:team:{_tag(escape_id(team, what='team name'))}"

    def team_alive(self, team: str) -> str:
        """The team's agents by the time their heartbeat runs out (a sorted set, ms)."""
        return self.team(team) + ":alive"

    def team_members(self, team: str) -> str:
        """Every agent seen in the team in the last day, by when (a sorted set, ms)."""
        return self.team(team) + ":members"

    def team_agent(self, team: str, agent_id: str) -> str:
        """One agent's record: capabilities, metadata, when it joined and was last seen."""
        return f"{self.team(team)}:agent:{escape_id(agent_id, what='agent id')}"

    def team_capability(self, team: str, capability: str) -> str:
        """The set of the team's agents that registered ``capability``."""
        return f"{self.team(team)}:can:{escape_id(capability, what='capability')}"

    def team_capability_stem(self, team: str) -> str:
        """What :meth:`team_capability` puts before the escaped capability (for scripts)."""
        return self.team(team) + ":can:"

    def team_agent_stem(self, team: str) -> str:
        """What :meth:`team_agent` puts before the escaped agent id (for scripts)."""
        return self.team(team) + ":agent:"

    def team_channel(self, team: str) -> str:
        """The pub/sub channel of a team's joins, leaves and expiries."""
        return f"{self.prefix}:events:team:{_tag(escape_id(team, what='team name'))}"

    def perms(self, scope: str) -> str:
        """The common stem of one scope's permission sets (``{prefix}:perms:{<scope>}``)."""
        return f"{self.prefix}:perms:{_tag(escape_id(scope, what='permission scope'))}"

    def perms_user(self, scope: str, user_id: str) -> str:
        """The set of what one user may do."""
        return f"{self.perms(scope)}:user:{escape_id(user_id, what='user id')}"

    def perms_holders(self, scope: str, permission: str) -> str:
        """The set of the users granted one permission."""
        return self.perms_holders_prefix(scope) + escape_id(permission, what="permission")

    def perms_holders_prefix(self, scope: str) -> str:
        """What the holder sets of a scope begin with; the escaped permission follows."""
        return f"{self.perms(scope)}:granted:"

    def memory(self, store: str) -> str:
        """The common stem of one long-term memory store's keys (``{prefix}:mem:<store>``);
        its items are ``<stem>:<depth>:{<ns0>}:...:<key>``, its index ``<stem>:idx``."""
        return f"{self.prefix}:mem:{escape_id(store, what='memory store name')}"

    def memory_index(self, store: str) -> str:
        """The search index of one memory store's items."""
        return f"{self.memory(store)}:idx"

    def memory_index_prefix(self, store: str) -> str:
        """What the keys its index covers begin with: every item of the store."""
        return f"{self.memory(store)}:"

    def memory_item(self, store: str, namespace: Sequence[str], key: str) -> str:
        """One item (a hash): its namespace's depth, its first label as the hash tag (a
        namespace's items share a slot), the other labels, then its key."""
        item = escape_id(key, what="memory key")
        return ":".join([self.memory(store), str(len(namespace)), *_labels(namespace), item])

    def memory_pattern(self, store: str, namespace_prefix: Sequence[str] = ()) -> str:
        """A ``SCAN`` pattern matching the items of a store under ``namespace_prefix``."""
        if not namespace_prefix:
            return self.memory(store) + ":[0-9]*"
        return ":".join([self.memory(store), "*", *_labels(namespace_prefix), "*"])

    def memory_item_of(self, store: str, key: str | bytes) -> tuple[tuple[str, ...], str]:
        """The namespace and key of an item's Redis key: :meth:`memory_item` undone."""
        text = key.decode() if isinstance(key, bytes) else key
        parts = text[len(self.memory(store)) + 1 :].split(":")
        depth = int(parts[0])
        labels = [parts[1][1:-1], *parts[2 : 1 + depth]]
        return tuple(unescape_id(p) for p in labels), unescape_id(":".join(parts[1 + depth :]))

    def pqueue(self, name: str) -> str:
        """The common stem of one priority queue's keys (``{prefix}:pqueue:{<name>}``)."""
        return f"{self.prefix}:pqueue:{_tag(escape_id(name, what='queue name'))}"

    def pqueue_meta(self, name: str) -> str:
        """A priority queue's task details (a hash that exists while it holds a task)."""
        return f"{self.pqueue(name)}:meta"

    def pqueue_keys(self, name: str) -> list[str]:
        """A priority queue's keys, in the order its scripts take them: ready, delayed,
        leased, payloads, meta (a hash that exists while it holds a task) and seq."""
        stem = self.pqueue(name)
        return [f"{stem}:{part}" for part in _PQUEUE_PARTS]

    def holds(self) -> str:
        """What every agent holds now (claims, leases), by expiry: a sorted set (ms).

        Members are ``<kind>:<name>:<holder>`` with each part escaped (see
        :mod:`redis_memory._holds`); an index, the claims and leases themselves
        stay the truth.
        """
        return f"{self.prefix}:holds"

    # -- events -----------------------------------------------------------
    def channel(self, topic: str) -> str:
        """The pub/sub channel of an event topic: ``{prefix}:events:<topic>``."""
        return self.channel_prefix() + escape_id(topic, what="event topic")

    def tasks_channel(self) -> str:
        """The channel of task events: claims, findings and the priority queues' changes."""
        return self.channel("tasks")

    def channel_prefix(self) -> str:
        """What every channel of this prefix begins with: ``{prefix}:events:``."""
        return f"{self.prefix}:events:"

    def audit(self) -> str:
        """The stream that keeps every published event, the audit log."""
        return f"{self.prefix}:audit"

    # -- the whole namespace ----------------------------------------------
    def pattern(self) -> str:
        """A ``SCAN`` pattern for every key of this prefix."""
        return f"{self.prefix}:*"

    def kind_of(self, key: str | bytes) -> str | None:
        """The kind of data a key holds (``session``, ``cache``...), or None if foreign."""
        text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        stem = self.prefix + ":"
        if not text.startswith(stem):
            return None
        kind = text[len(stem) :].split(":", 1)[0]
        return kind if kind in KINDS else None


_HEX_RE = re.compile(r"[0-9a-f]{1,128}")


def _hex(digest: str) -> str:
    if not _HEX_RE.fullmatch(digest):
        raise ValueError(f"expected a lower-case hex digest, got {digest!r}")
    return digest
