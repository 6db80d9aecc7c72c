"""Unit tests of the semantic cache's hit verifier (no Redis, no model)."""

from __future__ import annotations

import copy
import doctest
import itertools
import json
import math
from importlib import resources

import pytest

from redis_memory import verifier as verifier_module
from redis_memory.verifier import (
    CONTEXT_FEATURE_NAMES,
    FEATURE_NAMES,
    HitVerifier,
    context_features,
    features,
)

PARAPHRASES = [
    ("How can I learn Python quickly?", "How can I learn Python fast?", 0.03),
    ("What is the capital of France?", "What's the capital city of France?", 0.04),
    ("How do I reset my Gmail password?", "How can I reset my Gmail password?", 0.02),
    ("What is the best way to learn guitar?", "What's the best way to learn the guitar?", 0.02),
]
NEAR_MISSES = [
    ("How do I lose 5 kg in a month?", "How do I lose 15 kg in a month?", 0.03),
    (
        "Is it safe to drink coffee when pregnant?",
        "Is it not safe to drink coffee when pregnant?",
        0.04,
    ),
    ("Is it safe to swim after eating?", "Is it not safe to swim after eating?", 0.05),
    ("What was the population of India in 2001?", "What was India's population in 2011?", 0.01),
    ("Why can I sleep at night?", "Why can't I sleep at night?", 0.04),
    ("What is the best hotel in Paris?", "What is the best hotel in Rome?", 0.08),
]


@pytest.fixture(scope="module")
def verifier() -> HitVerifier:
    return HitVerifier.default()


def test_default_loads_packaged_weights(verifier: HitVerifier) -> None:
    raw = resources.files("redis_memory").joinpath("verifier_weights.json").read_text("utf-8")
    params = json.loads(raw)
    assert len(raw) < 16_000  # a few KB
    assert tuple(params["pair"]["weights"]) == FEATURE_NAMES
    assert tuple(params["context"]["weights"]) == CONTEXT_FEATURE_NAMES
    assert params["provenance"]["fitted_on"] == "qqp_pairs_train.jsonl"
    assert verifier.threshold == params["pair"]["threshold"]
    assert verifier.context_threshold == params["context"]["threshold"]
    assert verifier.max_distance == params["max_distance"]
    assert verifier.top_k == params["top_k"]
    assert "HitVerifier(" in repr(verifier)


def test_thresholds_in_range(verifier: HitVerifier) -> None:
    assert 0.3 <= verifier.threshold <= 0.99
    assert 0.3 <= verifier.context_threshold <= 0.99
    assert 0.05 <= verifier.max_distance <= 0.5
    assert 1 <= verifier.top_k <= 10


def test_fitted_signs(verifier: HitVerifier) -> None:
    """The shipped weights keep the signs the fit promises (monotone by construction)."""
    for model in ("pair", "context"):
        weights = verifier.params[model]["weights"]
        for name in verifier_module.NON_POSITIVE:
            assert weights[name] <= 0, (model, name)
        for name in verifier_module.NON_NEGATIVE & set(weights):
            assert weights[name] >= 0, (model, name)


@pytest.mark.parametrize(("query", "candidate", "_d"), PARAPHRASES + NEAR_MISSES)
@pytest.mark.parametrize("runner_up", [None, 0.30, 0.5])
def test_score_is_monotone_in_distance(
    verifier: HitVerifier, query: str, candidate: str, _d: float, runner_up: float | None
) -> None:
    distances = [i / 100 for i in range(31)]
    scores = [
        verifier.score(
            query,
            candidate,
            d,
            runner_up=None if runner_up is None else ("Something else entirely?", runner_up),
        )
        for d in distances
    ]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert all(a >= b for a, b in itertools.pairwise(scores))
    vetoed = any(
        x > 0 and name in verifier_module.VETOES
        for name, x in zip(FEATURE_NAMES, features(query, candidate, 0.1), strict=True)
    )
    if vetoed:  # other numbers or a one-sided negation: never served, at any distance
        assert scores == [0.0] * len(scores)
    else:
        assert scores[0] > scores[-1]  # informative, not flat


def test_score_rises_as_the_runner_up_recedes(verifier: HitVerifier) -> None:
    q, c = PARAPHRASES[0][:2]
    scores = [verifier.score(q, c, 0.05, runner_up=("Other?", 0.05 + m / 100)) for m in range(30)]
    assert all(a <= b for a, b in itertools.pairwise(scores))
    assert scores[0] < scores[-1]


@pytest.mark.parametrize(("query", "candidate", "distance"), PARAPHRASES)
def test_obvious_paraphrases_are_accepted(
    verifier: HitVerifier, query: str, candidate: str, distance: float
) -> None:
    assert verifier.accepts(query, candidate, distance)
    assert verifier.choose(query, [(candidate, distance)]) == 0
    # A clear runner-up far behind changes nothing.
    assert verifier.choose(query, [("How do I bake bread?", 0.6), (candidate, distance)]) == 1


@pytest.mark.parametrize(("query", "candidate", "distance"), NEAR_MISSES)
def test_near_misses_are_rejected(
    verifier: HitVerifier, query: str, candidate: str, distance: float
) -> None:
    assert not verifier.accepts(query, candidate, distance)
    assert verifier.choose(query, [(candidate, distance)]) is None
    assert verifier.score(query, candidate, distance) < verifier.score(query, query, distance)


def test_vetoes_reject_at_any_distance(verifier: HitVerifier) -> None:
    loose = HitVerifier(threshold=0.01)
    for query, candidate, _ in NEAR_MISSES[:5]:
        assert verifier.score(query, candidate, 0.0) == 0.0
        assert not loose.accepts(query, candidate, 0.0)
        assert loose.choose(query, [(candidate, 0.0)]) is None
    # The same words with the same numbers pass; "one" is not taken for a number.
    assert verifier.score("How do I lose 5 kg?", "How can I lose 5 kg?", 0.02) > 0.5
    assert verifier.score("How does one learn Go?", "How do I learn Go?", 0.03) > 0.0


def test_identical_text_is_accepted(verifier: HitVerifier) -> None:
    for query, _, _ in PARAPHRASES + NEAR_MISSES:
        assert verifier.accepts(query, query.upper(), 0.0)
        assert verifier.choose(query, [(query, 0.0)]) == 0


def test_candidates_beyond_max_distance_are_never_accepted(verifier: HitVerifier) -> None:
    query, candidate, _ = PARAPHRASES[0]
    loose = HitVerifier(threshold=0.0)
    assert loose.accepts(query, candidate, verifier.max_distance)
    assert not loose.accepts(query, candidate, verifier.max_distance + 0.01)
    assert loose.choose(query, [(candidate, verifier.max_distance + 0.01)]) is None


def test_choose_serves_only_a_clear_nearest(verifier: HitVerifier) -> None:
    query, candidate, d = PARAPHRASES[0]
    # Two different stored prompts equally near: ambiguous, a miss.
    assert verifier.choose(query, [(candidate, d), ("How can I learn Java fast?", d)]) is None
    # A copy of the same prompt is not a rival.
    assert verifier.choose(query, [(candidate, d), (candidate + " ", d)]) == 0
    # Order does not matter; the nearest is served.
    assert verifier.choose(query, [("How do I learn to swim?", 0.4), (candidate, d)]) == 1
    assert verifier.choose(query, []) is None
    # Only the top_k nearest are looked at: a rival ranked past top_k is ignored.
    rivals = [(f"How can I learn Go fast, part {i}?", d + 0.001) for i in range(20)]
    assert HitVerifier(top_k=1).choose(query, [(candidate, d), *rivals]) == 0


def test_threshold_overrides() -> None:
    query, candidate, d = PARAPHRASES[0]
    assert HitVerifier(threshold=0.0).accepts(*NEAR_MISSES[0])
    never = HitVerifier(threshold=1.0)
    assert not never.accepts(query, candidate, d)
    assert never.choose(query, [(candidate, d)]) is None
    assert never.context_threshold == 1.0
    only_context = HitVerifier(context_threshold=1.0)
    assert only_context.accepts(query, candidate, d)
    assert only_context.choose(query, [(candidate, d)]) is None
    assert HitVerifier(max_distance=0.5, top_k=2).top_k == 2


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((None, "text", 0.1), TypeError, "query must be a str"),
        (("text", b"text", 0.1), TypeError, "candidate must be a str"),
        (("text", "text", "0.1"), TypeError, "distance must be a number"),
        (("text", "text", True), TypeError, "distance must be a number"),
        (("text", "text", math.nan), ValueError, "finite"),
        (("text", "text", math.inf), ValueError, "finite"),
        (("text", "text", -0.5), ValueError, r"\[0, 2\]"),
        (("text", "text", 2.5), ValueError, r"\[0, 2\]"),
    ],
)
def test_bad_input_is_a_clear_error(
    verifier: HitVerifier, args: tuple, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        verifier.score(*args)
    with pytest.raises(error, match=match):
        verifier.accepts(*args)


def test_bad_runner_up_and_candidates(verifier: HitVerifier) -> None:
    with pytest.raises(TypeError, match="runner_up must be a"):
        verifier.score("a", "b", 0.1, runner_up=0.2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nearer"):
        verifier.score("a", "b", 0.1, runner_up=("c", 0.05))
    with pytest.raises(ValueError, match="finite"):
        verifier.score("a", "b", 0.1, runner_up=("c", math.nan))
    with pytest.raises(ValueError, match="finite"):
        verifier.choose("a", [("b", math.nan)])
    with pytest.raises(TypeError, match="candidate must be a str"):
        verifier.choose("a", [(None, 0.1)])  # type: ignore[list-item]


def test_tiny_rounding_below_zero_is_clamped(verifier: HitVerifier) -> None:
    assert verifier.score("a b c", "a b c", -1e-7) == verifier.score("a b c", "a b c", 0.0)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"threshold": 1.5}, ValueError),
        ({"threshold": math.nan}, ValueError),
        ({"threshold": "0.5"}, TypeError),
        ({"max_distance": -0.1}, ValueError),
        ({"top_k": 0}, ValueError),
        ({"top_k": 2.0}, ValueError),
    ],
)
def test_bad_settings(kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        HitVerifier(**kwargs)


def test_weights_for_other_features_are_refused(verifier: HitVerifier) -> None:
    params = copy.deepcopy(dict(verifier.params))
    params["pair"]["weights"] = {"distance": -1.0}
    with pytest.raises(ValueError, match="refit"):
        HitVerifier(params=params)
    with pytest.raises(ValueError, match="format"):
        HitVerifier(params={**verifier.params, "format": 99})


def test_features_are_deterministic_and_named() -> None:
    f = features("How do I lose 5 kg?", "How do I lose 15 kg?", 0.03)
    assert len(f) == len(FEATURE_NAMES)
    named = dict(zip(FEATURE_NAMES, f, strict=True))
    assert named["number_mismatch"] == 1.0
    assert named["negation_mismatch"] == 0.0
    assert features("How do I lose 5 kg?", "How do I lose 15 kg?", 0.03) == f
    named = dict(zip(FEATURE_NAMES, features("Is it safe?", "Isn't it safe?", 0.1), strict=True))
    assert named["negation_mismatch"] == 1.0
    named = dict(zip(FEATURE_NAMES, features("Who is Bob?", "Who is Alice?", 0.1), strict=True))
    assert named["name_mismatch"] > 0
    assert named["question_word_mismatch"] == 0.0
    ctx = context_features("a", "b", 0.1, None)
    assert len(ctx) == len(CONTEXT_FEATURE_NAMES)
    assert ctx[-3:] == [1.0, 1.0, 1.0]  # no runner-up: no rival


def test_docstring_examples_run() -> None:
    result = doctest.testmod(verifier_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8
    assert result.failed == 0
