"""Every Python example of the documentation runs as written (each in a fresh interpreter).

The documentation is README.md, the guides in docs/*.md and benchmarks/README.md.
A snippet that cannot run on its own is fenced as ```text (or another language),
never as ```python. An example shown in two files (a README guide and its docs
page) runs once, under the first file that shows it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
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


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def _public_classes() -> dict[str, type]:
    """Every class a user can import: the packages' names and their public modules'."""
    found: dict[str, type] = {}
    for package_name in ("redis_memory", "langchain_redis_memory", "llama_index_redis_memory"):
        package = importlib.import_module(package_name)
        modules = [package] + [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, f"{package_name}.")
            if not any(part.startswith("_") for part in info.name.split("."))
        ]
        for module in modules:
            exported = set(getattr(module, "__all__", ()))
            for name, value in vars(module).items():
                if (
                    inspect.isclass(value)
                    and not name.startswith("_")
                    and value.__module__.startswith(package_name)
                    and (name in exported or value.__module__ == module.__name__)
                ):
                    found[name] = value
    return found


def test_which_class_do_i_need_names_every_public_class():
    """A class missing from the table is one a newcomer does not find; an error is in
    "Errors and what to do" instead."""
    table = set(re.findall(r"\w+", _section("Which class do I need?")))
    errors = set(re.findall(r"\w+", _section("Errors and what to do")))
    classes = _public_classes()
    assert len(classes) > 80
    missing = sorted(
        name
        for name, cls in classes.items()
        if name not in (errors if issubclass(cls, Exception) else table)
    )
    assert missing == []
