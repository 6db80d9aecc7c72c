"""Running the examples of docstrings: each in a fresh interpreter, as a reader would."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def code_blocks(docstring: str | None) -> list[str]:
    """The ``.. code-block:: python`` examples of a docstring, dedented."""
    blocks = []
    lines = (docstring or "").splitlines()
    for i, line in enumerate(lines):
        if line.strip() == ".. code-block:: python":
            indent = len(line) - len(line.lstrip())
            body = []
            for following in lines[i + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following)
            blocks.append(textwrap.dedent("\n".join(body)))
    return blocks


def run_example(block: str) -> None:
    """Run one example in a new interpreter (its own embedded Redis); fail with its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{block}\n--- stderr\n{done.stderr}"
