"""The shape of the code, checked: what docs/architecture.md promises a new engineer.

* Provider knowledge lives in the provider's module: no provider kind is named outside
  ``providers/`` (demo data aside), so a fifth provider needs no edit in the core.
* Apps import one way (the import-linter contracts in pyproject.toml).
* Modules stay readable: none over ~500 lines, no function of the send path over ~60 lines,
  unless it is listed here with the reason it must be longer.
* The repository explains itself: comments cite ``docs/``, never a file outside the
  repository, and every ``docs/<file>.md §N`` they cite exists.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from providers.registry import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "approvals", "audit", "campaigns", "config", "notifications", "observability", "providers",
    "templates_registry",
)
CORE = ("approvals", "audit", "campaigns", "config", "notifications", "observability", "templates_registry")

# Modules allowed over MAX_MODULE_LINES, with the reason. Keep this list short.
LONG_MODULES: dict[str, str] = {}
MAX_MODULE_LINES = 500

# Functions of the send path allowed over MAX_FUNCTION_LINES, with the reason.
LONG_FUNCTIONS: dict[str, str] = {}
MAX_FUNCTION_LINES = 60
SEND_PATH = ("campaigns/sending",)


def _sources(*tops: str) -> list[Path]:
    files = []
    for top in tops:
        folder = ROOT / top
        if folder.is_dir():
            files += [p for p in folder.rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_provider_kind_is_named_outside_providers():
    """A string literal equal to a provider kind in the core means a ``kind == "…"`` branch
    (or a table keyed by kind) that a new provider would have to edit. Demo data that seeds
    example accounts and template references may name kinds: it is data, not rules."""
    kinds = set(PROVIDERS)
    found = []
    for path in _sources(*CORE):
        if path.name == "demo.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in kinds
                and id(node) not in docstrings
            ):
                found.append(f"{_rel(path)}:{node.lineno}: {node.value!r}")
    assert not found, "provider kinds named outside providers/ (ask the provider class):\n" + "\n".join(
        found
    )


def test_apps_import_one_way():
    """import-linter's contracts (pyproject.toml): approvals → campaigns → providers,
    templates_registry → audit, and the layers inside campaigns."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_too_long():
    long = {}
    for path in _sources(*APPS):
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES and _rel(path) not in LONG_MODULES:
            long[_rel(path)] = lines
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them, or list them with a reason): {long}"


def test_no_function_of_the_send_path_is_too_long():
    long = {}
    for path in _sources(*SEND_PATH):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = node.end_lineno - node.lineno + 1
                name = f"{_rel(path)}:{node.name}"
                if size > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS:
                    long[name] = size
    assert not long, f"send-path functions over {MAX_FUNCTION_LINES} lines: {long}"


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    keep = (".py", ".md", ".html", ".js", ".css", ".toml", ".txt", ".cfg")
    return [ROOT / n for n in names if n.endswith(keep) and (ROOT / n).is_file()]


OUTSIDE = re.compile(r"PROVIDERS\.md|QUEUE-AND-HTTP\.md|DESIGN\.md|STYLE\.md|\.\./shared|shared/seeds")


def test_nothing_points_outside_the_repository():
    here = Path(__file__).resolve()
    found = [
        f"{_rel(path)}:{number}"
        for path in _tracked_text_files()
        if path.resolve() != here
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "references to files outside the repository: " + ", ".join(found)


CITATION = re.compile(r"docs/([\w-]+\.md)(?:\s*§\s*(\d+(?:\.\d+)*))?")


def test_every_cited_doc_and_section_exists():
    missing = []
    for path in _tracked_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for name, section in CITATION.findall(line):
                doc = ROOT / "docs" / name
                if not doc.is_file():
                    missing.append(f"{_rel(path)}:{number}: docs/{name}")
                    continue
                if section and not re.search(
                    rf"^#+\s*{re.escape(section)}[.\s]", doc.read_text(), re.M
                ):
                    missing.append(f"{_rel(path)}:{number}: docs/{name} §{section}")
    assert not missing, "citations of missing docs or sections: " + ", ".join(missing)


@pytest.mark.parametrize("name", ["architecture.md", "providers.md", "queue-and-http.md"])
def test_the_docs_exist(name):
    assert (ROOT / "docs" / name).is_file()
