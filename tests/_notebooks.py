"""Running the notebooks of ``notebooks/`` top to bottom, in a kernel of this interpreter.

The test suite executes each notebook in memory and never writes it back
(``tests/package/test_notebooks.py``); ``make notebooks`` runs this file, which executes
them and saves their outputs in place, so the committed notebooks show a real run:

    .venv/bin/python tests/_notebooks.py [notebooks/01_langchain.ipynb ...]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
from _paths import ROOT
from nbclient import NotebookClient

NOTEBOOKS = ROOT / "notebooks"
# A kernel name of our own, installed for the run only: "python3" could resolve
# to a kernelspec of another Python found in the user's Jupyter folders.
KERNEL = "redis-memory-notebooks"
CELL_TIMEOUT = 300
# What the committed notebooks name as their kernel: Jupyter's default one.
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set while the block runs (kernels inherit it)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def this_interpreter_kernel() -> Iterator[str]:
    """A kernelspec running ``sys.executable``, visible to Jupyter while the block runs."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory(prefix="rmem-kernel-") as prefix:
        install(kernel_name=KERNEL, display_name="redis-memory (this venv)", prefix=prefix)
        shared = str(Path(prefix) / "share" / "jupyter")
        jupyter_path = os.pathsep.join(p for p in (shared, os.environ.get("JUPYTER_PATH")) if p)
        # One OpenMP thread unless told otherwise: on a machine whose cores are busy
        # with other work, the embedding model's spinning threads run 10-20 times
        # slower than one thread does.
        threads = os.environ.get("OMP_NUM_THREADS", "1")
        with _environment(JUPYTER_PATH=jupyter_path, OMP_NUM_THREADS=threads):
            argv = KernelSpecManager().get_kernel_spec(KERNEL).argv
            if Path(argv[0]) != Path(sys.executable):
                raise RuntimeError(f"kernel {KERNEL} runs {argv[0]}, not {sys.executable}")
            yield KERNEL


def execute(path: Path, kernel: str) -> tuple[nbformat.NotebookNode, float]:
    """The notebook at ``path``, executed in ``notebooks/`` (cell errors raise
    ``nbclient.exceptions.CellExecutionError``), and the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=CELL_TIMEOUT,
        record_timing=False,
        extra_arguments=["--log-level=ERROR"],  # not the kernel's TCP notice on every run
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.perf_counter()
    client.execute()
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    return notebook, time.perf_counter() - started


def main(argv: list[str]) -> None:
    paths = [Path(a).resolve() for a in argv] or notebook_paths()
    with this_interpreter_kernel() as kernel:
        for path in paths:
            notebook, seconds = execute(path, kernel)
            nbformat.write(notebook, path)
            print(f"{path.relative_to(ROOT)}: executed in {seconds:.0f} s, outputs saved")


if __name__ == "__main__":
    main(sys.argv[1:])
