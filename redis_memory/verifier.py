"""A second check of a semantic cache hit: does the stored prompt ask the same thing?

The semantic cache finds the stored prompts nearest to a new prompt by cosine
distance of their embeddings. Nearness alone is a weak promise: "How do I lose
5 kg in a month?" and "How do I lose 15 kg in a month?" are close, and so are
"Is it safe to ..." and "Is it not safe to ...". Serving the one's answer to the
other is a wrong answer a user sees. :class:`HitVerifier` looks at the two texts
as well as their distance: word, content-word and character-trigram overlap,
numbers, negations, question words and capitalised names that one text has and
the other lacks, and the length ratio. Two differences reject a candidate
outright, whatever its distance: other numbers ("5 kg" and "15 kg") and a negation
on one side only ("safe" and "not safe"). When the cache also passes the runner-up
(the next-nearest stored prompt), the verifier weighs how clearly the nearest one
wins: a query that falls between two different stored prompts is ambiguous, and
on Quora's questions that is the strongest single sign of a wrong hit.

Two logistic regressions, fitted on Quora question pairs by
``benchmarks/fit_verifier.py`` (on ``qqp_pairs_train.jsonl`` only), turn these
features into a score in [0, 1]: an estimate that serving ``candidate`` for
``query`` is right. The *pair* model sees one candidate; the *context* model also
sees the runner-up and is the one :meth:`HitVerifier.choose` uses. It is pure
Python at run time (no model, no numpy), deterministic, and costs some tens of
microseconds per check. The weights ship with the package as JSON
(``verifier_weights.json``), never pickle.

How a cache uses it: fetch the :attr:`~HitVerifier.top_k` nearest stored prompts
and call :meth:`~HitVerifier.choose` with them (it serves the nearest one only
when it lies within :attr:`~HitVerifier.max_distance`, clearly beats the
runner-up and is verified); or, pairwise, serve the nearest candidate that
:meth:`~HitVerifier.accepts`.

Example:
    >>> from redis_memory.verifier import HitVerifier
    >>> verifier = HitVerifier.default()
    >>> verifier.accepts("How can I learn Python quickly?",
    ...                  "How can I learn Python fast?", 0.03)
    True
    >>> verifier.accepts("How do I lose 5 kg in a month?",
    ...                  "How do I lose 15 kg in a month?", 0.03)
    False
    >>> verifier.choose("How can I learn Python quickly?",
    ...                 [("How can I learn Python fast?", 0.03),
    ...                  ("How can I learn Java fast?", 0.25)])
    0
    >>> strict = HitVerifier(threshold=0.95)   # fewer hits, fewer wrong ones
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final

from ._checks import whole

__all__ = [
    "CONTEXT_FEATURE_NAMES",
    "FEATURE_NAMES",
    "VETOES",
    "HitVerifier",
    "context_features",
    "features",
    "same_prompt",
]

WEIGHTS_FILE: Final = "verifier_weights.json"
FORMAT: Final = 1


def _word_list(words: str) -> list[str]:
    return words.split()


def _word_set(words: str) -> frozenset[str]:
    return frozenset(_word_list(words))


_STOP_WORDS: Final = _word_set(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his i if in into is it its
    itself just me more most my myself of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were while with would you your
    yours yourself yourselves get got ever really also one someone something way ways will
    shall may might must us many much"""
)
_QUESTION_WORDS: Final = _word_set("what why how when where who whom whose which")
_SKIPPED: Final = _STOP_WORDS | _QUESTION_WORDS
_NEGATIONS: Final = _word_set("not no never none nothing nobody neither nor cannot without nowhere")
_NUMBER_WORDS: Final = {
    word: str(value)
    for value, word in enumerate(
        _word_list(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
        )
    )
    if word != "one"  # "how does one ...": a pronoun as often as a number
}
_WORD: Final = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUMBER: Final = re.compile(r"\d+(?:[.,]\d+)*")
# A capitalised word that does not open the text or a sentence: a name, most likely.
_CAPITALISED: Final = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][A-Za-z0-9]*")
_STEM: Final = 5  # words are compared by their first five letters: a cheap stemmer
_MARGINS: Final = (0.02, 0.05, 0.2)

FEATURE_NAMES: Final[tuple[str, ...]] = (
    "distance",
    "sqrt_distance",
    "word_jaccard",
    "stem_jaccard",
    "char3_jaccard",
    "unmatched_max",
    "unmatched_min",
    "both_unmatched",
    "number_mismatch",
    "negation_mismatch",
    "question_word_mismatch",
    "name_mismatch",
    "length_ratio",
    "same_text",
)
"""Features of one (query, candidate, distance), as :func:`features` computes them."""

CONTEXT_FEATURE_NAMES: Final[tuple[str, ...]] = (
    *FEATURE_NAMES,
    *(f"margin_{m:g}" for m in _MARGINS),
)
"""The same, plus how far the runner-up lies behind the candidate (``margin_m`` is
``min(runner-up distance - distance, m) / m``)."""

VETOES: Final[tuple[str, ...]] = ("number_mismatch", "negation_mismatch")
"""Features that reject a candidate outright (score 0) whatever else it shows: a
cached answer about other numbers, or to the negated question, is a wrong answer."""

# Signs the fit keeps, so that the score never rises with the distance, never falls as
# the runner-up recedes, and never falls for a text identical to the query.
NON_POSITIVE: Final = frozenset({"distance", "sqrt_distance"})
NON_NEGATIVE: Final = frozenset({"same_text", *(f"margin_{m:g}" for m in _MARGINS)})


@dataclass(frozen=True, slots=True)
class _Text:
    """What the features need from one text, computed once per text."""

    normal: str
    words: frozenset[str]
    stems: frozenset[str]
    trigrams: frozenset[str]
    numbers: frozenset[str]
    negated: bool
    question_words: frozenset[str]
    names: frozenset[str]


@lru_cache(maxsize=4096)
def _analyse(text: str) -> _Text:
    lowered = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    tokens = _WORD.findall(lowered)
    words = frozenset(tokens)
    normal = " ".join(tokens)
    numbers = {n.replace(",", "") for n in _NUMBER.findall(lowered)}
    numbers.update(_NUMBER_WORDS[t] for t in words & _NUMBER_WORDS.keys())
    return _Text(
        normal=normal,
        words=words,
        stems=frozenset(t[:_STEM] for t in words - _SKIPPED),
        trigrams=frozenset([normal[i : i + 3] for i in range(len(normal) - 2)])
        or frozenset((normal,)),
        numbers=frozenset(numbers),
        negated=bool(words & _NEGATIONS) or "n't" in lowered,
        question_words=words & _QUESTION_WORDS,
        names=frozenset(
            m.lower() for m in _CAPITALISED.findall(text.strip()) if m.lower() not in _STOP_WORDS
        ),
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def same_prompt(a: str, b: str) -> bool:
    """Whether two prompts are the same text up to case, punctuation and spacing."""
    return _analyse(a).normal == _analyse(b).normal


def features(query: str, candidate: str, distance: float) -> list[float]:
    """The features of one candidate hit, in the order of :data:`FEATURE_NAMES`.

    ``distance`` is taken as given (clamped to [0, 2]); validation is the caller's.
    """
    q, c = _analyse(query), _analyse(candidate)
    d = min(max(distance, 0.0), 2.0)
    only_q, only_c = len(q.stems - c.stems), len(c.stems - q.stems)
    names = sum(1 for n in q.names if n not in c.words and n[:_STEM] not in c.stems) + sum(
        1 for n in c.names if n not in q.words and n[:_STEM] not in q.stems
    )
    length_q, length_c = len(q.stems), len(c.stems)
    return [
        d,
        math.sqrt(d),
        _jaccard(q.words, c.words),
        _jaccard(q.stems, c.stems),
        _jaccard(q.trigrams, c.trigrams),
        min(max(only_q, only_c), 4) / 4,
        min(min(only_q, only_c), 4) / 4,
        float(only_q > 0 and only_c > 0),
        float(q.numbers != c.numbers),
        float(q.negated != c.negated),
        float(q.question_words != c.question_words),
        min(names, 2) / 2,
        min(length_q, length_c) / max(length_q, length_c, 1),
        float(q.normal == c.normal),
    ]


def context_features(
    query: str, candidate: str, distance: float, runner_up_distance: float | None
) -> list[float]:
    """:func:`features` plus the margin to the runner-up (None: there is none)."""
    d = min(max(distance, 0.0), 2.0)
    margin = 2.0 if runner_up_distance is None else max(runner_up_distance - d, 0.0)
    return [*features(query, candidate, d), *(min(margin, m) / m for m in _MARGINS)]


@lru_cache(maxsize=1)
def _packaged() -> Mapping[str, Any]:
    source = resources.files(__package__ or "redis_memory").joinpath(WEIGHTS_FILE)
    return json.loads(source.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class _Model:
    bias: float
    weights: tuple[float, ...]
    vetoes: tuple[int, ...]  # positions of VETOES: any of them set scores 0

    @classmethod
    def load(cls, params: Mapping[str, Any], names: tuple[str, ...]) -> _Model:
        weights = params["weights"]
        if tuple(weights) != names:
            raise ValueError(
                f"verifier weights are for features {tuple(weights)}, this code computes "
                f"{names}: refit them with benchmarks/fit_verifier.py"
            )
        return cls(
            float(params["bias"]),
            tuple(float(weights[n]) for n in names),
            tuple(i for i, n in enumerate(names) if n in VETOES),
        )

    def probability(self, x: Sequence[float]) -> float:
        if any(x[i] > 0 for i in self.vetoes):
            return 0.0
        z = self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True))
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


class HitVerifier:
    """Accepts or rejects a semantic cache candidate from both texts and their distance.

    Args:
        threshold: The score at or above which a candidate is accepted (default:
            the fitted one of each model). Given, it applies to both models;
            higher means fewer, surer hits.
        context_threshold: The same for the context model only (used by
            :meth:`choose` and by calls that pass ``runner_up``).
        max_distance: The cosine distance beyond which a candidate is never
            accepted (default: the fitted one).
        top_k: How many nearest stored prompts the cache fetches and passes to
            :meth:`choose` (default: the chosen one).
        params: Weights as in ``verifier_weights.json`` (default: the packaged ones).

    Example:
        >>> verifier = HitVerifier.default()
        >>> verifier.accepts("What is the capital of France?",
        ...                  "What's the capital city of France?", 0.04)
        True
        >>> verifier.accepts("Is it safe to drink coffee while pregnant?",
        ...                  "Is it not safe to drink coffee while pregnant?", 0.04)
        False
        >>> verifier.accepts("How do I learn to cook Indian food?",
        ...                  "How do I learn to cook Thai food?", 0.08,
        ...                  runner_up=("How do I learn to cook Chinese food?", 0.09))
        False
    """

    __slots__ = (
        "_context",
        "_pair",
        "context_threshold",
        "max_distance",
        "params",
        "threshold",
        "top_k",
    )

    def __init__(
        self,
        threshold: float | None = None,
        *,
        context_threshold: float | None = None,
        max_distance: float | None = None,
        top_k: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.params: Mapping[str, Any] = _packaged() if params is None else params
        if self.params.get("format") != FORMAT:
            raise ValueError(
                f"verifier weights of format {self.params.get('format')!r}, expected {FORMAT}"
            )
        if tuple(self.params.get("vetoes", ())) != VETOES:
            raise ValueError(
                f"verifier weights are for vetoes {self.params.get('vetoes')!r}, this code "
                f"applies {VETOES}: refit them with benchmarks/fit_verifier.py"
            )
        self._pair = _Model.load(self.params["pair"], FEATURE_NAMES)
        self._context = _Model.load(self.params["context"], CONTEXT_FEATURE_NAMES)
        self.threshold: float = _checked(
            "threshold",
            self.params["pair"]["threshold"] if threshold is None else threshold,
            0.0,
            1.0,
        )
        if context_threshold is None:
            context_threshold = (
                self.params["context"]["threshold"] if threshold is None else threshold
            )
        self.context_threshold: float = _checked("context_threshold", context_threshold, 0.0, 1.0)
        self.max_distance: float = _checked(
            "max_distance",
            self.params["max_distance"] if max_distance is None else max_distance,
            0.0,
            2.0,
        )
        k = self.params["top_k"] if top_k is None else top_k
        self.top_k: int = whole("top_k", k, 1)

    @classmethod
    def default(cls) -> HitVerifier:
        """The verifier with the packaged weights and their fitted thresholds."""
        return cls()

    def score(
        self,
        query: str,
        candidate: str,
        distance: float,
        *,
        runner_up: tuple[str, float] | None = None,
    ) -> float:
        """How sure the verifier is that ``candidate`` may be served for ``query``, in [0, 1].

        Args:
            query: The new prompt.
            candidate: A stored prompt found near it.
            distance: Their cosine distance (1 - cosine similarity), in [0, 2].
            runner_up: The next-nearest stored prompt that is not the same text
                as ``candidate``, and its distance to ``query``; given, the context
                model scores (it knows how clearly ``candidate`` wins).

        Raises:
            TypeError: A text is not a ``str``, or a distance is not a number.
            ValueError: A distance is NaN, infinite or outside [0, 2] (a rounding
                error of up to 1e-6 outside is clamped), or the runner-up is nearer
                than ``candidate``.
        """
        _check_text("query", query)
        _check_text("candidate", candidate)
        d = _check_distance("distance", distance)
        if runner_up is None:
            return self._pair.probability(features(query, candidate, d))
        runner_distance = self._check_runner_up(runner_up, d)
        return self._context.probability(context_features(query, candidate, d, runner_distance))

    def accepts(
        self,
        query: str,
        candidate: str,
        distance: float,
        *,
        runner_up: tuple[str, float] | None = None,
    ) -> bool:
        """Whether ``candidate`` may be served for ``query``: within :attr:`max_distance`
        and scoring at least the threshold (:attr:`threshold`, or with ``runner_up``
        :attr:`context_threshold`). Arguments and errors as :meth:`score`."""
        threshold = self.threshold if runner_up is None else self.context_threshold
        within = _check_distance("distance", distance) <= self.max_distance
        return self.score(query, candidate, distance, runner_up=runner_up) >= threshold and within

    def choose(self, query: str, candidates: Sequence[tuple[str, float]]) -> int | None:
        """Which of the nearest stored prompts to serve for ``query``, if any.

        Args:
            query: The new prompt.
            candidates: ``(stored prompt, cosine distance)`` pairs, the
                :attr:`top_k` nearest ones (more are ignored), in any order.

        Returns:
            The index in ``candidates`` of the nearest one when it lies within
            :attr:`max_distance` and the context model accepts it against the
            runner-up (the nearest candidate that is not the same text); None
            otherwise: a miss.
        """
        _check_text("query", query)
        checked: list[tuple[int, str, float]] = []
        for i, (text, distance) in enumerate(candidates):
            _check_text("candidate", text)
            checked.append((i, text, _check_distance("distance", distance)))
        nearest = sorted(checked, key=lambda c: (c[2], c[0]))[: self.top_k]
        if not nearest or nearest[0][2] > self.max_distance:
            return None
        index, text, distance = nearest[0]
        runner = next(((t, d) for _, t, d in nearest[1:] if not same_prompt(t, text)), None)
        runner_distance = None if runner is None else runner[1]
        score = self._context.probability(context_features(query, text, distance, runner_distance))
        return index if score >= self.context_threshold else None

    def _check_runner_up(self, runner_up: Any, distance: float) -> float:
        if not isinstance(runner_up, tuple) or len(runner_up) != 2:
            raise TypeError(
                f"runner_up must be a (text, distance) tuple, got {type(runner_up).__name__}"
            )
        _check_text("runner_up text", runner_up[0])
        runner_distance = _check_distance("runner_up distance", runner_up[1])
        if runner_distance < distance:
            raise ValueError(
                f"runner_up is nearer ({runner_distance:g}) than the candidate ({distance:g}): "
                "pass the nearest stored prompt as the candidate"
            )
        return runner_distance

    def __repr__(self) -> str:
        return (
            f"HitVerifier(threshold={self.threshold:g}, "
            f"context_threshold={self.context_threshold:g}, "
            f"max_distance={self.max_distance:g}, top_k={self.top_k})"
        )


def _checked(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not low <= number <= high:  # also false for NaN
        raise ValueError(f"{name} must be within [{low:g}, {high:g}], got {value!r}")
    return number


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def _check_distance(name: str, distance: Any) -> float:
    if isinstance(distance, bool) or not isinstance(distance, numbers.Real):
        raise TypeError(
            f"{name} must be a number (a cosine distance), got {type(distance).__name__}"
        )
    d = float(distance)
    if math.isnan(d) or math.isinf(d):
        raise ValueError(f"{name} must be a finite cosine distance in [0, 2], got {distance!r}")
    if d < -1e-6 or d > 2 + 1e-6:
        raise ValueError(f"{name} must be a cosine distance in [0, 2], got {distance!r}")
    return min(max(d, 0.0), 2.0)
