"""Operators as editors and type checkers see them: the signatures in the stubs beside the operator and sensor
modules (``make stubs``, ``scripts/generate_stubs.py``), held against the classes and against mypy and pyright
run on DAG files the way a DAG folder is checked (the installed package, nothing of ours configured)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_omics.compat import AIRFLOW_V_3_3_PLUS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLES = sorted((ROOT / "example_dags").glob("*.py"))
pytestmark = pytest.mark.skipif(
    not (AIRFLOW_V_3_3_PLUS and (BIN / "mypy").exists() and (BIN / "pyright").exists()),
    reason="the stubs are written and type-checked on the newest stack, where make test installs mypy and pyright",
)
# What pyright says of Airflow's own typing, not of this provider: DAG(params={...}) is converted by an attrs
# converter pyright does not follow.
AIRFLOW_OWN = [r'"dict\[str, Param\]" cannot be assigned to parameter "params" of type "ParamsDict"']
MISTAKES = """
import pendulum
from airflow_provider_omics.compat import DAG
from airflow_provider_omics.operators.workflows import OmicsStartRunBatchOperator, OmicsStartRunOperator
from airflow_provider_omics.sensors.omics import OmicsRunSensor

with DAG("mistakes", start_date=pendulum.datetime(2026, 1, 1), schedule=None):
    run = OmicsStartRunOperator(task_id="misspelled", workflw_id="1234567", role_arn="arn:aws:iam::1:role/r")
    OmicsStartRunOperator(task_id="a_string_for_a_number", workflow_id=run.output["id"], storage_capacity="big")
    OmicsStartRunOperator(task_id="no_such_log_level", workflow_id="1234567", log_level="LOUD")
    OmicsStartRunBatchOperator(task_id="a_misspelled_member", default_run_setting={"workflowId": "1", "rolArn": "r"})
    OmicsRunSensor(task_id="no_run_id")
"""
# (line of MISTAKES, what each type checker must name there)
EXPECTED = {
    8: "workflw_id",
    9: "storage_capacity",
    10: "log_level",
    11: "default_run_setting",
    12: '"id"',
}


def mypy(paths: list[Path], folder: Path) -> list[tuple[str, int, str]]:
    """mypy's errors as a DAG folder gets them: default settings, the package as installed (its stubs)."""
    config = folder / "mypy.ini"
    config.write_text("[mypy]\n")
    done = subprocess.run(
        [BIN / "mypy", "--config-file", config, "--follow-imports=silent", "--no-incremental", *paths],
        capture_output=True,
        text=True,
        cwd=folder,
        env={"MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    found = re.findall(r"^(.+?):(\d+): error: (.+)$", done.stdout, re.M)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return [(Path(path).name, int(line), message) for path, line, message in found]


def pyright(paths: list[Path], folder: Path) -> list[tuple[str, int, str]]:
    """pyright's errors (what Pylance shows in VS Code), with the Python of this stack for Airflow."""
    config = folder / "pyrightconfig.json"
    config.write_text(json.dumps({"extraPaths": [str(ROOT)], "reportUnusedExpression": False}))
    done = subprocess.run(
        [BIN / "pyright", "-p", config, "--pythonpath", sys.executable, "--outputjson", *paths],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    report = json.loads(done.stdout)
    return [
        (Path(d["file"]).name, d["range"]["start"]["line"] + 1, d["message"])
        for d in report["generalDiagnostics"]
        if d["severity"] == "error" and not any(re.search(known, d["message"]) for known in AIRFLOW_OWN)
    ]


def test_the_stubs_are_what_make_stubs_writes():
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "generate_stubs.py", "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-5000:]


def test_every_operator_and_sensor_argument_is_in_its_stub():
    """What the class takes (its request members, its own arguments) is what the stub's signature names."""
    import ast
    import importlib
    import inspect

    from airflow_provider_omics.compat import BaseOperator

    checked = 0
    for stub in [
        *ROOT.glob("airflow_provider_omics/operators/*.pyi"),
        ROOT / "airflow_provider_omics/sensors/omics.pyi",
    ]:
        module = importlib.import_module(".".join(stub.relative_to(ROOT).with_suffix("").parts))
        tree = ast.parse(stub.read_text())
        for node in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            cls = getattr(module, node.name)
            if not (issubclass(cls, BaseOperator) and not node.name.startswith("_")):
                continue
            init = next(s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__")
            named = {a.arg for a in init.args.kwonlyargs}
            takes = {n for n, p in inspect.signature(cls.__init__).parameters.items() if p.kind == p.KEYWORD_ONLY}
            assert takes <= named, (node.name, takes - named)
            assert {"task_id", "aws_conn_id", "retries"} <= named
            assert (init.args.kwarg is None) == (node.name != "OmicsJobSensor"), node.name  # no **kwargs
            checked += 1
    assert checked >= 40


def test_mypy_and_pyright_name_a_misspelled_and_a_wrongly_typed_argument(tmp_path):
    dag = tmp_path / "mistakes.py"
    dag.write_text(MISTAKES)
    for checker in (mypy, pyright):
        found = checker([dag], tmp_path)
        by_line = {line: message for _, line, message in found}
        for line, name in EXPECTED.items():
            assert line in by_line and name in " ".join(m for _, n, m in found if n == line), (
                checker.__name__,
                line,
                found,
            )
        assert set(by_line) == set(EXPECTED), (checker.__name__, found)  # nothing else: the rest is right


def test_every_example_dag_type_checks_clean(tmp_path):
    """What the documentation shows, as a DAG author's editor checks it: nothing reported."""
    for checker in (mypy, pyright):
        assert checker(EXAMPLES, tmp_path) == [], checker.__name__
