"""Where things are, for tests in any folder of tests/: the repository root and tests/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root (README.md, docs/, examples/, benchmarks/)."""

TESTS = ROOT / "tests"
"""The tests/ folder (conftest.py and the helpers; each feature's tests in a folder of it)."""
