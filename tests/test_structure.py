"""The package's floors: no import circle, and nothing under the hook imports it back."""

from __future__ import annotations

import ast
import pathlib

import moto

from airflow_provider_omics.emulator import moto_adapter

PACKAGE = pathlib.Path(__file__).parent.parent / "airflow_provider_omics"
# What may use the hook: the Airflow-facing floors above it.
ABOVE_THE_HOOK = ("hooks", "operators", "sensors", "triggers", "links", "status_source")


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, wherever in the file (TYPE_CHECKING blocks included)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            # ``from . import pricing`` imports the module pricing; ``from .models import X`` the package models
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {name for name in found if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = {_module(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def test_no_module_below_the_hook_imports_it():
    graph = _graph()
    below = [name for name in graph if "." in name and not name.split(".")[1].startswith(ABOVE_THE_HOOK)]
    offenders = {name: sorted(i for i in graph[name] if i.startswith("airflow_provider_omics.hooks")) for name in below}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_import_graph_has_no_circle():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for child in sorted(graph[name]):
            if state.get(child) == "open":
                raise AssertionError("import circle: " + " -> ".join([*path, name, child]))
            if child not in state:
                visit(child, [*path, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_moto_internals_were_checked_on_the_installed_moto():
    # emulator/moto_adapter.py reaches into moto's private attributes: a new moto is checked there first.
    assert moto.__version__.startswith(tuple(f"{minor}." for minor in moto_adapter.CHECKED_ON)), (
        f"moto {moto.__version__}: check emulator/moto_adapter.py against it, then set CHECKED_ON"
    )
