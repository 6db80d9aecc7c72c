"""Every Python example in the README runs as written (each in a fresh interpreter)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _runnable(block: str) -> str:
    if ">>>" not in block:
        return block
    # A doctest-style block: run it as a doctest, so its printed results are checked.
    return textwrap.dedent(
        f"""
        import doctest, sys
        parser = doctest.DocTestParser()
        test = parser.get_doctest({block!r}, {{}}, "README", "README.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test)
        sys.exit(1 if runner.failures else 0)
        """
    )


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(block, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _runnable(block)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
