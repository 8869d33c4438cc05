"""What a workflow definition declares, read before HealthOmics sees it: its engine and main file, its inputs with
their types, the containers its tasks name, and what is wrong with it.

- WDL is parsed, type-checked and linted by miniwdl (the ``wdl`` extra); without it, only its containers are read.
- CWL is parsed as YAML: the main document's class, its inputs and types, each step's ``run`` file in the
  definition, ``DockerRequirement``s. It is not validated against the CWL schema (cwltool is not a dependency).
- Nextflow cannot be parsed outside Nextflow: its inputs come from ``nextflow_schema.json`` (with types) or the
  ``params`` of ``main.nf`` and ``nextflow.config`` (untyped), its containers from ``container`` directives
  that name a string or a ``params`` value. Groovy syntax and channel logic are not checked.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENGINES = {".wdl": "WDL", ".nf": "NEXTFLOW", ".cwl": "CWL"}
# What each engine writes for a container: a string, or a name (a task input, ``params.x``) a parameter gives.
_CONTAINER = {
    "WDL": re.compile(r"""\b(?:docker|container)\s*:\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z_][\w.]*))"""),
    "NEXTFLOW": re.compile(r"""^\s*container\s+(?:"([^"]*)"|'([^']*)'|([A-Za-z_][\w.]*))""", re.M),
    "CWL": re.compile(r"""\bdockerPull\s*:\s*(?:"([^"]*)"|'([^']*)'|(\S+))"""),
}
_NF_ASSIGNED = re.compile(r"^\s*params\.(\w+)\s*=(?!=)", re.M)
_NF_READ = re.compile(r"\bparams\.(\w+)")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
# The JSON types a parameter's value may have, by what the engine calls the input's type.
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "file": (str,),
    "directory": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


@dataclass(frozen=True)
class Input:
    """A workflow input: its type as the definition writes it, and the JSON type its value must have."""

    name: str
    declared: str
    kind: str  # a key of JSON_TYPES, or "any"
    optional: bool


@dataclass(frozen=True)
class Container:
    """The container a task names: ``image`` a string, or ``parameter`` the input whose value is the image."""

    task: str
    image: str | None = None
    parameter: str | None = None


@dataclass
class Definition:
    engine: str
    main: str
    files: dict[str, str]
    inputs: dict[str, Input] | None = None  # None: not known (a definition that did not parse)
    containers: list[Container] = field(default_factory=list)
    task_cpus: dict[str, int] = field(default_factory=dict)  # the vCPUs a task asks for, where a number says so
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read(archive: bytes, main: str | None = None, engine: str | None = None) -> Definition:
    """A definition zip, read: ``main`` if given, else its one workflow file at the top (``main.*`` first)."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            files = {n: opened.read(n).decode(errors="replace") for n in opened.namelist() if not n.endswith("/")}
    except zipfile.BadZipFile as exc:
        return Definition(engine or "", main or "", {}, errors=[f"the definition is not a zip archive ({exc})"])
    chosen = main or main_of(files)
    if chosen not in files:
        listed = ", ".join(sorted(files)[:10]) or "nothing"
        problem = f"the main file {chosen} is not in the definition" if chosen else "no main workflow file found"
        return Definition(engine or "", chosen or "", files, errors=[f"{problem} (it holds {listed})"])
    engine = engine or next((e for ext, e in ENGINES.items() if chosen.endswith(ext)), "WDL")
    definition = Definition(engine, chosen, files)
    {"WDL": _wdl, "CWL": _cwl, "NEXTFLOW": _nextflow}.get(engine.split("_")[0], _nextflow)(definition)
    return definition


def main_of(names: list[str] | dict[str, str]) -> str | None:
    """A definition's main file: its only file, or its one workflow file at the top (``main.*`` first); None
    when several could be (the user names ``main``)."""
    names = list(names)
    if len(names) == 1:
        return names[0]
    top = [n for n in names if "/" not in n and n.endswith(tuple(ENGINES))]
    mains = [n for n in top if posixpath.splitext(n)[0] == "main"]
    return (mains or top)[0] if len(mains) == 1 or len(top) == 1 else None


def _containers(engine: str, text: str) -> list[Container]:
    """The containers named in ``text`` (by no task in particular: found by pattern, not parsed)."""
    found = []
    for match in _CONTAINER[engine].finditer(text):
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        if quoted is not None or engine == "CWL":  # YAML: a plain scalar is a string too
            found.append(Container("", image=quoted if quoted is not None else match.group(3)))
        else:
            found.append(Container("", parameter=match.group(3).split(".")[-1]))
    return found


# ---- WDL ---------------------------------------------------------------------------------------------------
_WDL_KINDS = {"File": "file", "Directory": "directory", "String": "string", "Int": "integer", "Float": "number"}
_WDL_KINDS |= {"Boolean": "boolean", "Array": "array", "Map": "object", "Pair": "object", "Object": "object"}


def _wdl(definition: Definition) -> None:
    try:
        import WDL  # miniwdl
        import WDL.Lint
    except ImportError:
        definition.warnings.append(
            "WDL not parsed nor linted: install airflow-provider-omics[wdl] (miniwdl) for that; only the containers "
            "named as strings were read"
        )
        definition.containers = _containers("WDL", definition.files[definition.main])
        return
    with tempfile.TemporaryDirectory() as folder:
        for name, text in definition.files.items():
            path = Path(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        try:
            document = WDL.load(str(Path(folder, definition.main)), path=[folder])
        except (WDL.Error.SyntaxError, WDL.Error.ImportError, WDL.Error.ValidationError) as exc:
            definition.errors.append(_wdl_error(exc, folder))
            return
        except WDL.Error.MultipleValidationErrors as exc:
            definition.errors += [_wdl_error(each, folder) for each in exc.exceptions]
            return
        WDL.Lint.lint(document)
        definition.warnings += [
            f"{_where(pos, folder)}: {message} ({kind})"
            for pos, kind, message, suppressed in WDL.Lint.collect(document)  # type: ignore[no-untyped-call]
            if not suppressed
        ]
    workflow = document.workflow
    if workflow is None:
        definition.errors.append(f"{definition.main} has no workflow block: HealthOmics runs a workflow")
        return
    definition.inputs = {}
    for binding in workflow.available_inputs:
        if "." in binding.name:  # a call's input left open: not a parameter of the run
            continue
        declared = binding.value.type
        kind = _WDL_KINDS.get(str(declared).split("[")[0].rstrip("?+"), "any")
        optional = declared.optional or binding.value.expr is not None
        definition.inputs[binding.name] = Input(binding.name, str(declared), kind, optional)
    for task in document.tasks:
        cpu = task.runtime.get("cpu")
        if isinstance(cpu, WDL.Expr.Int):
            definition.task_cpus[task.name] = int(cpu.value)
        for key in ("docker", "container"):
            expression = task.runtime.get(key)
            if isinstance(expression, WDL.Expr.String) and all(isinstance(p, str) for p in expression.parts):
                definition.containers.append(
                    Container(task.name, image="".join(str(part) for part in expression.parts)[1:-1])
                )
            elif isinstance(expression, WDL.Expr.Get) and isinstance(expression.expr, WDL.Expr.Ident):
                definition.containers.append(Container(task.name, parameter=expression.expr.name.split(".")[-1]))


def _where(pos: Any, folder: str) -> str:
    return f"{str(pos.abspath).removeprefix(folder).lstrip('/') or pos.uri} line {pos.line}"


def _wdl_error(exc: Any, folder: str) -> str:
    pos = getattr(exc, "pos", None)
    return f"{_where(pos, folder)}: {exc}" if pos is not None else str(exc)


# ---- CWL ---------------------------------------------------------------------------------------------------
_CWL_KINDS = {"File": "file", "Directory": "directory", "string": "string", "int": "integer", "long": "integer"}
_CWL_KINDS |= {"float": "number", "double": "number", "boolean": "boolean"}


def _cwl(definition: Definition) -> None:
    definition.containers = _containers("CWL", "\n".join(definition.files.values()))
    try:
        document = yaml.safe_load(definition.files[definition.main]) or {}
    except yaml.YAMLError as exc:
        definition.errors.append(f"{definition.main} is not valid YAML: {exc}")
        return
    if isinstance(document, dict) and "$graph" in document:
        graph = document["$graph"]
        document = next((d for d in graph if d.get("id") in ("#main", "main")), graph[0] if graph else {})
    if not isinstance(document, dict) or document.get("class") not in ("Workflow", "CommandLineTool"):
        definition.errors.append(f"{definition.main}: the main document must be a CWL Workflow or CommandLineTool")
        return
    if not document.get("cwlVersion") and "$graph" not in definition.files[definition.main]:
        definition.warnings.append(f"{definition.main}: no cwlVersion")
    folder = posixpath.dirname(definition.main)
    steps = document.get("steps") or {}
    for name, step in steps.items() if isinstance(steps, dict) else enumerate(steps):
        run = step.get("run") if isinstance(step, dict) else None
        if (
            isinstance(run, str)
            and not run.startswith("#")
            and posixpath.normpath(posixpath.join(folder, run)) not in definition.files
        ):
            definition.errors.append(f"{definition.main}: step {name} runs {run}, which is not in the definition")
    inputs = document.get("inputs") or {}
    if isinstance(inputs, list):
        inputs = {str(item.get("id", "")).split("/")[-1].lstrip("#"): item for item in inputs}
    definition.inputs = {}
    for name, spec in inputs.items():
        spec = spec if isinstance(spec, dict) else {"type": spec}
        declared = spec.get("type")
        types = declared if isinstance(declared, list) else [declared]
        nullable = "null" in types or any(isinstance(t, str) and t.endswith("?") for t in types)
        base = next((str(t).rstrip("?") for t in types if t != "null"), "")
        kind = "array" if base.endswith("[]") or isinstance(declared, dict) else _CWL_KINDS.get(base, "any")
        definition.inputs[name] = Input(name, json.dumps(declared), kind, nullable or "default" in spec)


# ---- Nextflow ----------------------------------------------------------------------------------------------
_SCHEMA_KINDS = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}
_SCHEMA_KINDS |= {"array": "array", "object": "object"}


def _nextflow(definition: Definition) -> None:
    folder = posixpath.dirname(definition.main)
    text = _COMMENTS.sub("", definition.files[definition.main])
    config = _COMMENTS.sub("", definition.files.get(posixpath.join(folder, "nextflow.config"), ""))
    for name, body in definition.files.items():
        if name.endswith((".nf", ".config")):
            definition.containers += _containers("NEXTFLOW", _COMMENTS.sub("", body))
    schema_text = definition.files.get(posixpath.join(folder, "nextflow_schema.json"))
    if schema_text is None:
        given = set(_NF_ASSIGNED.findall(text)) | set(_NF_ASSIGNED.findall(config))
        names = dict.fromkeys([*_NF_READ.findall(text), *sorted(given)])
        definition.inputs = {n: Input(n, "params", "any", n in given) for n in names}
        return
    try:
        schema = json.loads(schema_text)
    except ValueError as exc:
        definition.errors.append(f"nextflow_schema.json is not valid JSON: {exc}")
        return
    definition.inputs = {}
    for group in [schema, *(schema.get("$defs") or schema.get("definitions") or {}).values()]:
        required = set(group.get("required") or [])
        for name, spec in (group.get("properties") or {}).items():
            declared = str(spec.get("type") or "string")
            kind = "file" if spec.get("format") in ("file-path", "path") else _SCHEMA_KINDS.get(declared, "any")
            definition.inputs[name] = Input(name, declared, kind, name not in required)


# ---- a definition from a local path -------------------------------------------------------------------
def zip_definition(path: str) -> tuple[bytes, str | None]:
    """A workflow definition from a local path: a .zip as it is, or one file (or a folder) zipped.

    Returns the zip and, for a file or a folder, its main file: the file itself, or the one workflow
    file at the folder's top (``main.wdl``, ``main.nf``, ``main.cwl`` first).
    """
    if os.path.isfile(path) and path.endswith(".zip"):
        with open(path, "rb") as handle:
            return handle.read(), None
    if os.path.isfile(path):
        files = {os.path.basename(path): path}
    elif os.path.isdir(path):
        files = {
            os.path.relpath(os.path.join(root, name), path): os.path.join(root, name)
            for root, _, names in os.walk(path)
            for name in sorted(names)
        }
        if not files:
            raise ValueError(f"definition_path: the folder {path} holds no files")
    else:
        raise ValueError(f"definition_path: {path} does not exist")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, full in sorted(files.items()):
            # No file times: the same definition zips to the same bytes, so its digest says it is the same.
            with open(full, "rb") as handle:
                archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), handle.read())
    return buffer.getvalue(), main_of(sorted(files))
