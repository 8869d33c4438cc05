"""Workflow definitions: a definition zip's main file, its engine, its tasks and their resources."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from .base import (
    invalid,
)

ENGINES = {".wdl": "WDL", ".nf": "NEXTFLOW", ".cwl": "CWL"}
_TASK = {
    "WDL": re.compile(r"^\s*task\s+(\w+)", re.M),
    "NEXTFLOW": re.compile(r"^\s*process\s+(\w+)", re.M),
    "CWL": re.compile(r"^\s{2}(\w+):\s*\n\s+run:", re.M),
}
# WDL output declarations in a task: File vcf = "~{sample}.vcf"
_WDL_OUTPUT = re.compile(r'File\??\s+\w+\s*=\s*"([^"]+)"')
# WDL runtime settings of a task: cpu: 4, memory: "8 GiB"
_CPU = re.compile(r"\bcpu\s*:\s*\"?(\d+)")
_MEMORY = re.compile(r"\bmemory\s*:\s*\"(\d+)\s*G")
PLACEHOLDER = re.compile(r"[~$]\{\s*([\w.]+)\s*\}")
# The container a task runs in: a string, or a name (an input or ``params.x``) the run's parameters give.
_IMAGE = {
    "WDL": re.compile(r"""\b(?:docker|container)\s*:\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z_][\w.]*))"""),
    "NEXTFLOW": re.compile(r"""^\s*container\s+(?:"([^"]*)"|'([^']*)'|([A-Za-z_][\w.]*))""", re.M),
    "CWL": re.compile(r"""\bdockerPull\s*:\s*(?:"([^"]*)"|'([^']*)'|(\S+))"""),
}


def read_definition(blob: bytes, main: str | None) -> tuple[str, dict[str, str]]:
    """The main file's name and every file's text (by name) of a definition zip; anything but a zip archive
    is refused."""
    if not zipfile.is_zipfile(io.BytesIO(blob)):
        raise invalid("definitionZip is not a zip archive: zip the workflow's files (a .wdl, .nf or .cwl file)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile as exc:
        raise invalid(f"definitionZip is not a valid zip archive: {exc}") from None
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        chosen = main if main in names else next((n for n in names if n.endswith(tuple(ENGINES))), None)
        if chosen is None:
            raise invalid("The definition zip holds no .wdl, .nf or .cwl file; set main")
        return chosen, {name: archive.read(name).decode(errors="replace") for name in names}


def definition_tasks(engine: str, text: str) -> list[dict[str, Any]]:
    """Tasks of a definition with the output files each declares (WDL), in definition order."""
    pattern = _TASK.get(engine.replace("_LENIENT", ""))
    found = list(pattern.finditer(text)) if pattern else []
    if not found:
        return [{"name": "main", "outputs": []}]
    tasks = []
    for index, match in enumerate(found):
        body = text[match.end() : found[index + 1].start() if index + 1 < len(found) else len(text)]
        cpus = int(found_cpus.group(1)) if (found_cpus := _CPU.search(body)) else 2
        memory = int(found_memory.group(1)) if (found_memory := _MEMORY.search(body)) else 2 * cpus
        tasks.append(
            {
                "name": match.group(1),
                "outputs": _WDL_OUTPUT.findall(body) if engine.startswith("WDL") else [],
                "cpus": cpus,
                "memory": memory,
                "instanceType": instance_type(cpus, memory),
                "image": _image(engine, body),
            }
        )
    return tasks


def _image(engine: str, body: str) -> str | None:
    """A task's container as a template (``~{image}`` for a name the run's parameters give), or None."""
    pattern = _IMAGE.get(engine.replace("_LENIENT", ""))
    found = pattern.search(body) if pattern else None
    if found is None:
        return None
    quoted = found.group(1) if found.group(1) is not None else found.group(2)
    if quoted is not None or engine == "CWL":  # YAML: a plain scalar is a string too
        return quoted if quoted is not None else found.group(3)
    return "~{" + found.group(3) + "}"


def instance_type(cpus: int, memory: int) -> str:
    """The smallest HealthOmics instance with the CPUs and GiB a task asks for (c: 2, m: 4, r: 8 GiB a vCPU)."""
    per_cpu = memory / max(cpus, 1)
    family = "c" if per_cpu <= 2 else "m" if per_cpu <= 4 else "r"
    sizes = [(2, "large"), (4, "xlarge"), (8, "2xlarge"), (16, "4xlarge"), (32, "8xlarge"), (48, "12xlarge")]
    size = next((name for vcpus, name in sizes if vcpus >= cpus), "16xlarge")
    return f"omics.{family}.{size}"
