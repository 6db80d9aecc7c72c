"""`redis-memory calibrate`: labelled pairs through the real semantic cache."""

from __future__ import annotations

import json

import pytest

from redis_memory.cli import main

pytest.importorskip("sentence_transformers")

DUPLICATES = [
    ("How do I learn Python quickly?", "What is the fastest way to learn Python?"),
    ("What is the capital of France?", "What's the capital city of France?"),
    ("How can I lose weight fast?", "What is the quickest way to lose weight?"),
    ("How do I make pancakes?", "What is a good recipe for pancakes?"),
    ("Why is the sky blue?", "What makes the sky look blue?"),
    ("How do I reset my iPhone?", "How can I factory reset an iPhone?"),
    ("What are the benefits of meditation?", "Why is meditation good for you?"),
    ("How do I become a data scientist?", "What should I do to become a data scientist?"),
    ("What is the best way to save money?", "How can I save more money?"),
    ("How do vaccines work?", "How does a vaccine work in the body?"),
    ("How do I improve my English?", "How can I get better at English?"),
    ("What is machine learning?", "What does machine learning mean?"),
    # The same stored text as a pair below: stored once, a correct hit for this pair.
    ("How do I learn Python?", "How can I learn Python?"),
]
DIFFERENT = [
    ("How do I learn Python?", "How do I learn Java?"),
    ("What is the capital of Italy?", "What is the capital of Spain?"),
    ("How do I cook rice?", "How do I cook pasta?"),
    ("Is coffee bad for you?", "Is coffee good for you?"),
    ("How do I reset my iPad?", "How do I reset my Android phone?"),
    ("What is the population of India?", "What is the population of China?"),
    ("Who wrote Hamlet?", "Who wrote Macbeth?"),
    ("How tall is Mount Everest?", "How tall is K2?"),
    ("What is a black hole?", "What is a neutron star?"),
    ("How do I start a blog?", "How do I start a podcast?"),
    ("Why do cats purr?", "Why do dogs bark?"),
    ("What is the best laptop for gaming?", "What is the best phone for gaming?"),
]


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_calibrate_recommends_the_best_recall_at_the_target_precision(
    redis_url, redis_client, prefix, tmp_path, capsys
):
    rows = [{"a": a, "b": b, "duplicate": True} for a, b in DUPLICATES]
    rows += [{"a": a, "b": b, "duplicate": False} for a, b in DIFFERENT]
    pairs = _write(tmp_path / "pairs.jsonl", rows)
    base = ["calibrate", pairs, "--url", redis_url, "--prefix", prefix]

    assert main([*base, "--mode", "distance", "--precision", "0.8", "--json", "--progress"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert "calibrating (lookups): 375/375" in captured.err
    assert (report["pairs"], report["duplicates"], report["mode"]) == (25, 13, "distance")
    table = report["table"]
    assert len(table) == 15
    # A looser threshold never hits less: hits grow with the distance threshold.
    assert [r["hits"] for r in table] == sorted(r["hits"] for r in table)
    best = report["recommended"]
    assert best["precision"] >= 0.8
    reaching = [r for r in table if r["precision"] is not None and r["precision"] >= 0.8]
    assert best["recall"] == max(r["recall"] for r in reaching)
    assert best["setting"] == f"distance_threshold={best['distance_threshold']:g}"
    assert table[-1]["wrong_hits"] > 0  # 0.30 serves some wrong answers
    assert list(redis_client.scan_iter(match=f"{prefix}:*")) == []  # the scratch cache is gone
    indexes = [n.decode() for n in redis_client.execute_command("FT._LIST")]
    assert [n for n in indexes if n.startswith(f"{prefix}:")] == []  # and its index

    assert main(base) == 0  # the verifier's threshold, for precision 0.95
    out = capsys.readouterr().out
    assert "knob: verifier" in out
    assert "<- recommended" in out
    assert "recommended: ResponseCache(..., verifier=HitVerifier(threshold=" in out


def test_calibrate_says_when_no_setting_reaches_the_target(redis_url, prefix, tmp_path, capsys):
    # Near-identical texts labelled as different: every hit is a wrong one.
    rows = [{"a": a, "b": a + " ", "duplicate": False} for a, _ in DIFFERENT[:6]]
    rows.append(
        {"a": "Who painted the Mona Lisa?", "b": "Best pizza in Naples?", "duplicate": True}
    )
    pairs = _write(tmp_path / "pairs.jsonl", rows)
    code = main(["calibrate", pairs, "--url", redis_url, "--prefix", prefix, "--mode", "distance"])
    assert code == 1
    assert "no setting reaches precision 0.95" in capsys.readouterr().out

    origin = _write(tmp_path / "origin.jsonl", [{"origin": "Hi there", "similar": "Hello there"}])
    assert main(["calibrate", origin, "--url", redis_url, "--prefix", prefix, "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["duplicates"] == 1

    bad = _write(tmp_path / "bad.jsonl", [{"a": "x"}])
    assert main(["calibrate", bad, "--url", redis_url]) == 1
    assert "line 1: expected" in capsys.readouterr().err
