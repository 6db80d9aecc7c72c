"""Every notebook of notebooks/ runs top to bottom, with no Redis installed and no network.

Each is executed in memory in a fresh kernel of this interpreter (its embedded
Redis is its own); the committed files are never written. ``make notebooks``
re-executes them in place to refresh the outputs they carry.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from _notebooks import NOTEBOOKS, execute, notebook_paths, this_interpreter_kernel
from nbclient.exceptions import CellExecutionError

PATHS = notebook_paths()
EXPECTED = [
    "01_langchain.ipynb",
    "02_llamaindex.ipynb",
    "03_agents.ipynb",
    "04_semantic_cache_quality.ipynb",
    "05_long_term_memory.ipynb",
    "06_agent_team.ipynb",
    "07_watching_a_cache.ipynb",
]
# Outputs of one machine's run that would leak its layout into the committed files.
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
MACHINE_PATH = re.compile(r"/(?:tmp|home|root|work|Users|var/folders)/|\bredis://127\.0\.0\.1:\d+")


@pytest.fixture(scope="module")
def kernel():
    with this_interpreter_kernel() as name:
        yield name


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _stderr(notebook):
    return [
        output.get("text", "")
        for cell in _code_cells(notebook)
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
    ]


def _texts(notebook):
    for cell in _code_cells(notebook):
        for output in cell.outputs:
            yield output.get("text", "")
            yield str(output.get("data", {}).get("text/plain", ""))


def test_the_notebooks_are_all_here():
    assert [p.name for p in PATHS] == EXPECTED


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_top_to_bottom(path, kernel):
    committed = path.read_bytes()
    try:
        notebook, _ = execute(path, kernel)
    except CellExecutionError as error:
        report = ANSI_COLOUR.sub("", str(error))
        pytest.fail(f"{path.name} failed in a cell:\n{report}", pytrace=False)
    assert path.read_bytes() == committed  # executed in memory only
    cells = _code_cells(notebook)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    # Warnings and log lines are noise in a walkthrough: none may reach the reader.
    assert _stderr(notebook) == []


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_committed_notebook_carries_the_outputs_of_a_clean_run(path):
    notebook = nbformat.read(path, as_version=4)
    cells = _code_cells(notebook)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), (
        f"{path.name} was not executed top to bottom: run `make notebooks`"
    )
    assert any(cell.outputs for cell in cells)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert _stderr(notebook) == []
    leaks = [t for t in _texts(notebook) if MACHINE_PATH.search(t)]
    assert leaks == [], f"{path.name} shows paths of the machine that ran it"
    assert notebook.metadata.kernelspec.name == "python3"


def test_the_quality_notebook_draws_its_plot():
    notebook = nbformat.read(NOTEBOOKS / "04_semantic_cache_quality.ipynb", as_version=4)
    images = [
        output
        for cell in _code_cells(notebook)
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 1


def test_the_memory_notebook_remembers_ana_across_sessions_and_frameworks():
    notebook = nbformat.read(NOTEBOOKS / "05_long_term_memory.ipynb", as_version=4)
    text = "\n".join(_texts(notebook))
    assert "ana@ana-friday: 'Which snacks should I avoid?'" in text
    assert "I am allergic to peanuts" in text.split("ana@ana-friday", 1)[1]
    bob = text.split("bob@bob-friday: 'Which snacks should I avoid?'", 1)[1]
    assert bob.startswith("\n   -> From what I remember: No memories found.")
    llama_index = text.split("[system]", 1)[1]
    assert "I am allergic to peanuts" in llama_index
