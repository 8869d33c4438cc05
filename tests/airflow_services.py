"""A real Airflow for tests of Airflow's own behaviour: api-server, scheduler, dag-processor and triggerer.

Each runs as its own process on a fresh AIRFLOW_HOME (SQLite, LocalExecutor), as ``airflow standalone``
runs them, so clears, mark-failed and many deferred tasks in one triggerer happen as they do in
production, not in line as in ``dag.test()``. Every user action goes through the REST API.
``Airflow2Services`` is Airflow 2.11's: a scheduler and a triggerer, actions through the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowServices:
    services: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.dags = home / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API_AUTH__JWT_SECRET": "omics-provider-tests",
            "AIRFLOW__API_AUTH__JWT_ISSUER": "omics-provider-tests",  # Airflow 3.0 refuses tokens without one
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done.stdout

    def start(self) -> AirflowServices:
        self.airflow("db", "migrate")
        for name in self.services:
            self.start_service(name)
        self.wait_for(lambda: self._answers(), "the api-server to answer", timeout=120)
        return self

    def start_service(self, name: str) -> None:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", name], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, name: str) -> None:
        """As a machine lost: no shutdown, nothing cleaned up."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def _answers(self) -> bool:
        try:
            self.api("GET", "/api/v2/monitor/health")
            return True
        except (urllib.error.URLError, ConnectionError):
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited: {self.log(name)[-3000:]}") from None
            return False

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def __enter__(self) -> AirflowServices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        path = folder / f"attempt={try_number}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ---- the REST API ------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def add_dag(self, name: str, text: str) -> None:
        (self.dags / f"{name}.py").write_text(text)
        self.wait_for(lambda: self._dag_known(name), f"DAG {name} to be parsed", timeout=120)

    def _dag_known(self, dag_id: str) -> bool:
        try:
            self.api("GET", f"/api/v2/dags/{dag_id}")
            return True
        except urllib.error.HTTPError:
            return False

    def trigger(self, dag_id: str, logical_date: str | None = None) -> str:
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date})["dag_run_id"]

    def task(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.api("GET", path + "?deserialize=true&stringify=false")["value"]

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """A DAG's runs, oldest first: ``dag_run_id``, ``state``, ``run_type``."""
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=run_after")["dag_runs"]

    def consumed_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The Asset events that triggered a DAG run: ``uri`` and ``extra``."""
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")["asset_events"]

    def clear(self, dag_id: str, run_id: str, task_id: str) -> None:
        self.api(
            "POST",
            f"/api/v2/dags/{dag_id}/clearTaskInstances",
            {"dry_run": False, "dag_run_id": run_id, "task_ids": [task_id], "only_failed": False},
        )

    def mark(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}", {"new_state": state})

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 180) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n}\n{self.log(n)[-1500:]}" for n in self.processes)
                raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")
            time.sleep(0.5)


def services_available() -> bool:
    """A real Airflow needs the CLI entry point; it is there wherever the tests' Airflow is installed."""
    return shutil.which("airflow", path=os.path.dirname(sys.executable)) is not None


class Airflow2Services(AirflowServices):
    """Airflow 2.11: a scheduler (which parses the DAGs) and a triggerer, the SequentialExecutor on SQLite
    (2.11's LocalExecutor refuses SQLite). Actions go through the CLI; what happened is read from the
    metadata database, as its REST API would answer it."""

    services = ("scheduler", "triggerer")

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        super().__init__(home, env)
        self.env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",
                "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}",  # it runs `airflow`
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "2",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "2",
            }
        )

    def _answers(self) -> bool:  # no api-server: up as soon as its processes run (wait_for checks them)
        return True

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as database:
            return database.execute(sql, args).fetchall()

    def _dag_known(self, dag_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM dag WHERE dag_id = ? AND is_active", dag_id))

    def trigger(self, dag_id: str, logical_date: str | None = None) -> str:
        run_id = f"manual__{logical_date or time.time()}"
        self.airflow("dags", "trigger", dag_id, "-r", run_id, *(["-e", logical_date] if logical_date else []))
        return run_id

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return {"state": rows[0][0] if rows else None}

    def task(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        rows = self.query(
            "SELECT state FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?", dag_id, run_id, task_id
        )
        return {"state": rows[0][0] if rows else None}

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = 'return_value'",
            dag_id,
            run_id,
            task_id,
        )
        return json.loads(rows[0][0]) if rows else None

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT run_id, state, run_type FROM dag_run WHERE dag_id = ? ORDER BY id", dag_id)
        return [{"dag_run_id": run_id, "state": state, "run_type": kind} for run_id, state, kind in rows]

    def consumed_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT dataset.uri, dataset_event.extra FROM dagrun_dataset_event"
            " JOIN dataset_event ON dataset_event.id = dagrun_dataset_event.event_id"
            " JOIN dataset ON dataset.id = dataset_event.dataset_id"
            " JOIN dag_run ON dag_run.id = dagrun_dataset_event.dag_run_id"
            " WHERE dag_run.dag_id = ? AND dag_run.run_id = ?",
            dag_id,
            run_id,
        )
        return [{"uri": uri, "extra": json.loads(extra or "{}")} for uri, extra in rows]

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 180) -> Any:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited: {self.log(name)[-3000:]}")
        return super().wait_for(condition, what, timeout)
