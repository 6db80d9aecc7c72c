"""`make demo` runs examples/demo.py: it must work end to end and say what it did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


def test_demo_runs_and_prints_its_walkthrough():
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Search available: True" in out
    assert "demo:session:{traveller%3Aana}:messages" in out
    assert "Read them back, unchanged" in out
    assert "Pastéis de nata" in out
    assert "nothing is left running" in out
