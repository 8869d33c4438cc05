"""The documentation: docstrings are the reference, the README's DAG is the tested one, the offline recipe runs.

``make docs`` builds the site with warnings as errors and checks it in a browser (``scripts/check_docs.py``);
these tests keep what it is built from honest.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_omics.compat import AIRFLOW_V_3_3_PLUS, BaseOperator, BaseSensorOperator
from airflow_provider_omics.get_provider_info import get_provider_info
from airflow_provider_omics.hooks.omics import OmicsHook

ROOT = Path(__file__).resolve().parent.parent
# What Airflow lists of the provider: its operator, sensor and trigger modules.
PUBLIC_MODULES = [
    module
    for kind in ("operators", "sensors", "triggers")
    for entry in get_provider_info()[kind]
    for module in entry["python-modules"]
]
# Airflow's own arguments (task_id, retries, poke_interval, ...) and the Amazon provider's connection
# arguments (aws_conn_id, region_name, verify, botocore_config) are documented by Airflow and Amazon.
AIRFLOW_ARGUMENTS = {
    name for base in (BaseOperator, BaseSensorOperator) for name in inspect.signature(base.__init__).parameters
} | {"aws_conn_id", "region_name", "region", "verify", "botocore_config", "self", "args", "kwargs"}


def public_classes():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for cls_name, cls in vars(module).items():
            if inspect.isclass(cls) and cls.__module__ == module.__name__ and cls_name.startswith("Omics"):
                yield cls


@pytest.mark.parametrize("cls", list(public_classes()), ids=lambda cls: cls.__name__)
def test_every_public_argument_is_documented(cls):
    documented = dict(re.findall(r":param (\w+):\s*(\S[^\n]*)", cls.__doc__ or ""))
    arguments = [name for name in inspect.signature(cls.__init__).parameters if name not in AIRFLOW_ARGUMENTS]
    missing = [name for name in arguments if not documented.get(name, "").strip(" .")]
    assert not missing, f"{cls.__name__}: no ':param name:' for {missing} (help() and the reference show them)"


def test_every_public_method_of_the_hook_says_what_it_does():
    mine = [
        (name, member)
        for klass in OmicsHook.__mro__
        if klass.__module__.startswith("airflow_provider_omics")
        for name, member in vars(klass).items()
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    ]
    undocumented = [name for name, member in mine if not (member.__doc__ or "").strip()]
    assert len(mine) > 30 and not undocumented, undocumented


def headings(page: Path) -> set[str]:
    """The anchors MyST gives a page's headings."""
    titles = re.findall(r"^#{1,3} (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", title).strip().lower().replace(" ", "-") for title in titles}


def test_links_into_the_docs_site_name_its_pages():
    """The README, docstrings and messages link into the site by URL; each names a page (and heading) it has."""
    site = "https://airflow-provider-omics.readthedocs.io/en/latest/"
    sources = [ROOT / "README.md", *(ROOT / "airflow_provider_omics").rglob("*.py")]
    linked = {match for path in sources for match in re.findall(re.escape(site) + r"([\w/.#-]*)", path.read_text())}
    assert len(linked) > 10
    for link in linked - {"", "_static/schemas/OmicsRunFacet.json"}:
        page, _, anchor = link.partition("#")
        source = ROOT / "docs" / Path(page).with_suffix(".md")
        assert page.endswith(".html") and source.exists(), link
        assert not anchor or anchor in headings(source), link


def test_the_readme_dag_is_the_tested_first_dag():
    """The README's complete example is the getting-started DAG, which the tests run (the offline recipe below, and
    tests/test_example_dags.py on the other Airflow versions)."""
    source = (ROOT / "example_dags" / "omics_sequencer_to_results.py").read_text()
    tested = source.split("# [START first_dag]\n")[1].split("# [END first_dag]")[0]
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```python\n(.*?)```", readme, re.S)
    assert shown and shown.group(1) == tested


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the recipe's `airflow dags test` runs the newest Airflow's CLI")
def test_the_getting_started_offline_recipe_runs_the_first_dag(tmp_path):
    # A shell of the user's: this virtualenv active, no Airflow or example settings of the tests'.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OMICS_"))}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    done = subprocess.run(
        ["bash", str(ROOT / "docs" / "run_offline.sh")],
        env={**environment, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"DagRun Finished: dag_id=omics_sequencer_to_results.*state=success", done.stdout + done.stderr)
    written = re.findall(r"^runs/\d+/out/call_variants/(\w+)\.vcf$", done.stdout, re.M)
    assert sorted(written) == ["NA12878", "NA12891", "NA12892", "NA24385"]


def test_the_supported_versions_tables_name_the_pins_each_stack_is_tested_with():
    """Each MWAA row of the README's and the versions page's tables says what MWAA's constraint file pins."""
    columns = {
        "botocore": "botocore",
        "boto3 / botocore": "botocore",
        "aiobotocore": "aiobotocore",
        "Amazon provider": "apache-airflow-providers-amazon",
        "common-compat": "apache-airflow-providers-common-compat",
        "OpenLineage provider": "apache-airflow-providers-openlineage",
    }
    for page in (ROOT / "README.md", ROOT / "docs" / "concepts" / "versions.md"):
        lines = page.read_text().splitlines()
        header = next(line for line in lines if line.startswith("| stack |"))
        names = [cell.strip() for cell in header.strip("|").split("|")]
        rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| MWAA ")]
        assert [row[0] for row in rows] == ["MWAA 2.11.2", "MWAA 3.0.6", "MWAA 3.2.1", "MWAA 3.3.1"], page
        for row in rows:
            constraints = (ROOT / "constraints" / "mwaa" / f"{row[0].split()[1]}.txt").read_text()
            pins = dict(line.split("==", 1) for line in constraints.splitlines() if "==" in line and line[0] != "#")
            for name, cell in zip(names, row, strict=True):
                if name in columns:
                    assert cell == pins[columns[name]], f"{page.name}: {row[0]} {name}"
            assert row[names.index("Python")] == "3.12"


def fenced(page: Path) -> list[str]:
    """The code blocks of a Markdown page, each without its fences."""
    blocks: list[list[str]] = []
    inside = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append([])
        elif inside:
            blocks[-1].append(line)
    return ["\n".join(block).strip() for block in blocks]


def test_every_install_line_for_mwaa_is_the_one_release_check_installs():
    """The requirements.txt the docs give for MWAA is what scripts/check_package.py installs on each stack."""
    from airflow_provider_omics import __version__

    documented = f"--find-links /usr/local/airflow/plugins\nairflow-provider-omics=={__version__}"
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    blocks = [(page.name, block) for page in pages for block in fenced(page) if "airflow-provider-omics==" in block]
    assert len(blocks) >= 3 and all(block == documented for _, block in blocks), blocks
    checked = (ROOT / "scripts" / "check_package.py").read_text()
    assert 'f"--find-links {wheel.parent}\\nairflow-provider-omics=={__version__}\\n"' in checked


def included_code(page: Path) -> list[tuple[str, str]]:
    """(where, text) of each Python ``literalinclude`` of a page, cut as Sphinx cuts it (start/end markers, dedent)."""
    found = []
    for match in re.finditer(r"```\{literalinclude\} (\S+\.py)\n((?::[\w-]+:.*\n)*)```", page.read_text()):
        options = dict(re.findall(r":([\w-]+): *(.*)", match.group(2)))
        if "pyobject" in options:
            continue  # a whole function or class: whole by construction
        lines = (page.parent / match.group(1)).read_text().splitlines(keepends=True)
        unquote = {key: value.strip().strip('"') for key, value in options.items()}
        begin = next((i for i, line in enumerate(lines) if unquote.get("start-at", "\0") in line), None)
        after = next((i + 1 for i, line in enumerate(lines) if unquote.get("start-after", "\0") in line), None)
        start = begin if begin is not None else after if after is not None else 0
        end = next((i for i, line in enumerate(lines) if i >= start and unquote.get("end-before", "\0") in line), None)
        text = "".join(line[int(unquote.get("dedent", 0)) :] for line in lines[start:end])
        found.append((f"{page.relative_to(ROOT)}: {match.group(1)} {options}", text))
    return found


def test_every_included_code_block_is_whole_python():
    """A block cut from a DAG starts and ends where its code does: no import cut in half, nothing indented."""
    blocks = [block for page in (ROOT / "docs").rglob("*.md") for block in included_code(page)]
    assert len(blocks) > 10
    for where, text in blocks:
        try:
            compile(text, where, "exec")
        except SyntaxError as error:
            pytest.fail(f"{where}: not whole Python ({error.msg}, line {error.lineno}): {text[:120]!r}")


def test_the_site_names_its_copyright_holder_and_the_readme_says_where_the_docs_are():
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert re.search(r'^copyright = ".*\S', conf, re.M), "the footer's 'Copyright ©' needs a holder"
    readme = (ROOT / "README.md").read_text()
    documentation = next(line for line in readme.splitlines() if "Documentation" in line)
    assert "make docs" in documentation and "docs/" in documentation, documentation
