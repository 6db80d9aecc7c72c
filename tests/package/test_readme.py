"""Every Python example of the documentation runs as written (each in a fresh interpreter).

The documentation is README.md, the guides in docs/*.md and benchmarks/README.md.
A snippet that cannot run on its own is fenced as ```text (or another language),
never as ```python. An example shown in two files (a README guide and its docs
page) runs once, under the first file that shows it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from _paths import ROOT

README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]


def _blocks() -> dict[str, tuple[str, str]]:
    """Each distinct ```python block, by an id naming its file and its place there."""
    found: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    for path in DOCS:
        if not path.exists():
            continue
        name = path.relative_to(ROOT).as_posix()
        blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)
        for i, block in enumerate(blocks):
            if block not in seen:
                seen.add(block)
                found[f"{name}-block{i}"] = (name, block)
    return found


BLOCKS = _blocks()


def _runnable(name: str, block: str) -> str:
    if ">>>" not in block:
        return block
    # A doctest-style block: run it as a doctest, so its printed results are checked.
    return textwrap.dedent(
        f"""
        import doctest, sys
        parser = doctest.DocTestParser()
        test = parser.get_doctest({block!r}, {{}}, {name!r}, {name!r}, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test)
        sys.exit(1 if runner.failures else 0)
        """
    )


def test_the_readme_has_examples():
    readme = [key for key, (name, _) in BLOCKS.items() if name == "README.md"]
    assert len(readme) >= 4


def test_every_docs_page_is_linked_from_the_readme():
    text = README.read_text()
    for path in DOCS[1:]:
        assert f"]({path.relative_to(ROOT).as_posix()}" in text, path


def test_no_link_leads_outside_the_repository():
    for path in DOCS:
        links = re.findall(r"\]\(([^)]*)\)", path.read_text())
        outside = [link for link in links if re.match(r"[a-z][a-z0-9+.-]*:", link)]
        assert not outside, f"{path.relative_to(ROOT)}: {outside}"


@pytest.mark.parametrize("key", list(BLOCKS))
def test_readme_example_runs(key, tmp_path):
    name, block = BLOCKS[key]
    done = subprocess.run(
        [sys.executable, "-c", _runnable(name, block)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def _anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    anchors: set[str] = set()
    for heading in re.findall(
        r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", text, flags=re.DOTALL), flags=re.M
    ):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def test_every_link_inside_the_repository_leads_somewhere():
    for path in DOCS:
        text = path.read_text()
        for link in re.findall(r"\]\(([^)\s]*)\)", text):
            target, _, anchor = link.partition("#")
            page = (path.parent / target).resolve() if target else path
            assert page.exists(), f"{path.relative_to(ROOT)}: {link} (no such file)"
            if anchor and page.suffix == ".md":
                assert anchor in _anchors(page.read_text()), f"{path.relative_to(ROOT)}: {link}"
