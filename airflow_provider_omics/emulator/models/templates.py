"""The parameter template the service generates from a definition given none, by the user guide's rules for
each engine ("Parameter template files for HealthOmics workflows", section "Generating a parameter template":
https://docs.aws.amazon.com/omics/latest/dev/parameter-templates.html):

- WDL: the main workflow's inputs; one with a default or an optional type (``Type?``) is optional.
- Nextflow: ``nextflow_schema.json`` beside the main file when there is one: each of its properties (top
  level, or in its groups of definitions), with its description, required when a ``required`` list names
  it. Without one, the ``params`` of the main file and ``nextflow.config``: one given a value there is
  optional, one only read is required.
- CWL: the main workflow's inputs; a nullable type (``int?``, or a list with ``null``) or a default makes
  one optional; the description is its ``label``, else empty.

Each parameter is ``{"description", "optional"}``, as ``GetWorkflow`` answers.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any

import yaml

Template = dict[str, dict[str, Any]]

# A WDL workflow's input block, and each declaration in it: File reads, String? note, Int depth = 30
_WDL_WORKFLOW_INPUT = re.compile(r"\bworkflow\s+\w+\s*\{\s*(?:#[^\n]*\s*)*input\s*\{")
_WDL_DECLARATION = re.compile(r"\b(?P<type>[A-Z]\w*(?:\[[^\]]*\])?\+?(?P<optional>\?)?)\s+(?P<name>[A-Za-z_]\w*)")
# Nextflow: params.reads = "...", and every params.reads read
_NF_ASSIGNED = re.compile(r"^\s*params\.(\w+)\s*=(?!=)", re.M)
_NF_READ = re.compile(r"\bparams\.(\w+)")
_NF_PARAMS_BLOCK = re.compile(r"^\s*params\s*\{", re.M)
_NF_BLOCK_ENTRY = re.compile(r"^\s*(\w+)\s*=(?!=)", re.M)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def generated_template(engine: str, main: str, files: Mapping[str, str]) -> Template:
    """The template for the definition whose main file is ``main`` among ``files`` (name -> text)."""
    text = files.get(main, "")
    if engine.startswith("WDL"):
        return _wdl(text)
    if engine == "NEXTFLOW":
        schema = files.get(posixpath.join(posixpath.dirname(main), "nextflow_schema.json"))
        if schema is not None:
            return _nextflow_schema(schema)
        config = files.get(posixpath.join(posixpath.dirname(main), "nextflow.config"), "")
        return _nextflow_params(text, config)
    if engine == "CWL":
        return _cwl(text)
    return {}


def _wdl(text: str) -> Template:
    found = _WDL_WORKFLOW_INPUT.search(text)
    if found is None:
        return {}
    block = re.sub(r'"[^"]*"', '""', text[found.end() : _closing_brace(text, found.end()) - 1])  # defaults' text
    declarations = list(_WDL_DECLARATION.finditer(block))
    template = {}
    for index, declaration in enumerate(declarations):
        after = block[declaration.end() : declarations[index + 1].start() if index + 1 < len(declarations) else None]
        optional = bool(declaration.group("optional")) or after.lstrip().startswith("=")
        kind = declaration.group("type").rstrip("?")
        template[declaration.group("name")] = {"description": f"{kind} input of the workflow", "optional": optional}
    return template


def _nextflow_schema(text: str) -> Template:
    schema = json.loads(text)
    groups = [schema, *(schema.get("$defs") or schema.get("definitions") or {}).values()]
    template = {}
    for group in groups:
        required = set(group.get("required") or [])
        for name, spec in (group.get("properties") or {}).items():
            template[name] = {"description": spec.get("description") or "", "optional": name not in required}
    return template


def _nextflow_params(main: str, config: str) -> Template:
    main, config = _COMMENTS.sub("", main), _COMMENTS.sub("", config)
    given = set(_NF_ASSIGNED.findall(main)) | set(_NF_ASSIGNED.findall(config))
    for block in _NF_PARAMS_BLOCK.finditer(config):
        given |= set(_NF_BLOCK_ENTRY.findall(config[block.end() : _closing_brace(config, block.end())]))
    names = dict.fromkeys([*_NF_READ.findall(main), *sorted(given)])
    return {name: {"description": "", "optional": name in given} for name in names}


def _cwl(text: str) -> Template:
    document = yaml.safe_load(text) or {}
    if "$graph" in document:  # a packed document: its main workflow
        graph = document["$graph"]
        document = next((d for d in graph if d.get("id") in ("#main", "main")), graph[0] if graph else {})
    inputs = document.get("inputs") or {}
    if isinstance(inputs, list):  # the list form: each input with its id
        inputs = {str(item.get("id", "")).split("/")[-1].lstrip("#"): item for item in inputs}
    template = {}
    for name, spec in inputs.items():
        spec = spec if isinstance(spec, dict) else {"type": spec}
        kind = spec.get("type")
        nullable = (isinstance(kind, str) and kind.endswith("?")) or (isinstance(kind, list) and "null" in kind)
        template[name] = {"description": spec.get("label") or "", "optional": nullable or "default" in spec}
    return template


def _closing_brace(text: str, start: int) -> int:
    """Just past the brace that closes the block opened before ``start`` (defaults may hold braces)."""
    depth, end = 1, start
    while depth and end < len(text):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    return end
