"""The release path CI cannot run: the publishing workflow for a tag, and the one version number."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import yaml

from airflow_provider_omics import __version__

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "publish.yml").read_text())


def _steps(job: str) -> list[dict]:
    return WORKFLOW["jobs"][job]["steps"]


def test_a_version_tag_publishes_through_trusted_publishing_only():
    assert WORKFLOW[True]["push"] == {"tags": ["v*"]}  # YAML reads the key `on` as True
    assert WORKFLOW["permissions"] == {"contents": "read"}
    publish = WORKFLOW["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    assert [s["uses"] for s in _steps("publish") if "uses" in s][-1].startswith("pypa/gh-action-pypi-publish@")
    assert not any("password" in s.get("with", {}) for s in _steps("publish")), "trusted publishing stores no token"
    build = "\n".join(s.get("run", "") for s in _steps("build"))
    assert "python -m build" in build and "twine check --strict" in build


def test_the_tag_must_name_the_packages_version():
    check = next(s["run"] for s in _steps("build") if s.get("name", "").startswith("The tag names"))

    def tagged(tag: str) -> int:
        return subprocess.run(["bash", "-ec", check], cwd=ROOT, env={**os.environ, "GITHUB_REF_NAME": tag}).returncode

    assert tagged(f"v{__version__}") == 0
    assert tagged("v0.0.0-not-this") != 0


def test_the_version_is_written_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "airflow_provider_omics.__version__"}
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()
