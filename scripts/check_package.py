"""``make release-check``: build the sdist and the wheel, check them, install the wheel where users run it.

What a user gets from ``pip install airflow-provider-omics``: no editable install, no repository on the
path (everything runs from a temporary folder). The wheel goes into a clean virtualenv per Amazon MWAA
image (Python 3.12, ``pip install -c <MWAA's constraint file> apache-airflow==<version> <wheel>``, exactly
the ``requirements.txt`` the docs give), where ``airflow providers list`` must show it at the package's
version, and into the newest stack with the emulator extra, whose emulator must serve requests.
Exits 0 only if all of that holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
NEWEST = "3.3"
PYTHON_3_12 = os.environ.get("PYTHON_3_12", "python3.12")


def run(*args: str | Path, **kwargs) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def build() -> tuple[Path, Path]:
    from airflow_provider_omics import __version__

    shutil.rmtree(DIST, ignore_errors=True)
    run(sys.executable, "-m", "build", "--outdir", DIST, ROOT)
    wheel, sdist = next(DIST.glob("*.whl")), next(DIST.glob("*.tar.gz"))
    print(f"built {wheel.name} and {sdist.name}")
    assert f"-{__version__}" in wheel.name, f"the wheel's version is not {__version__}"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for needed in (
        "airflow_provider_omics/py.typed",
        "airflow_provider_omics/operators/workflows.pyi",
        "airflow_provider_omics/sensors/omics.pyi",
        "airflow_provider_omics/request_types.py",
        "airflow_provider_omics/emulator/server.py",
        "airflow_provider_omics/schemas/OmicsRunFacet.json",
        "airflow_provider_omics/botocore_data/BOTOCORE_VERSION",
        "airflow_provider_omics/botocore_data/omics/2022-11-28/service-2.json.gz",
        "LICENSE",
    ):
        assert any(name.endswith(needed) for name in names), f"{needed} is not in the wheel"
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    for needed in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"):
        assert any(name.endswith(f"/{needed}") for name in members), f"{needed} is not in the sdist"
    print(run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist).strip())
    return wheel, sdist


def installed(work: Path, python: str, requirements: list[str], constraints: Path) -> tuple[Path, dict[str, str]]:
    """A clean virtualenv in ``work`` with ``requirements`` installed under ``constraints``."""
    venv = work / "venv"
    run(python, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "-c", constraints, *requirements)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))} | {
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    return venv, env


def listed(venv: Path, env: dict[str, str], work: Path) -> str:
    """The provider's version as ``airflow providers list`` shows it, imported from the wheel."""
    from airflow_provider_omics import __version__

    python = venv / "bin" / "python"
    location = run(python, "-c", "import airflow_provider_omics as p; print(p.__file__)", cwd=work, env=env)
    assert str(ROOT) not in location, f"imported from the repository: {location}"
    shown = run(venv / "bin" / "airflow", "providers", "list", "-o", "json", cwd=work, env=env)
    # Airflow 2 prints its log lines ("[2026-...") on stdout too: the table is the line that is JSON.
    providers = json.loads(next(line for line in shown.splitlines() if line.startswith(("[{", "[]"))))
    ours = [p for p in providers if p["package_name"] == "airflow-provider-omics"]
    assert ours and ours[0]["version"] == __version__, f"airflow providers list: {providers}"
    return ours[0]["version"]


def mwaa_stack(version: str, wheel: Path) -> str:
    """The wheel on one MWAA image, installed by the requirements.txt the docs give (docs/concepts/versions.md),
    its ``--find-links`` pointing at ``dist/`` instead of ``/usr/local/airflow/plugins``."""
    from airflow_provider_omics import __version__

    with tempfile.TemporaryDirectory(prefix=f"omics-mwaa-{version}-") as folder:
        work = Path(folder)
        requirements = work / "requirements.txt"
        requirements.write_text(f"--find-links {wheel.parent}\nairflow-provider-omics=={__version__}\n")
        constraints = ROOT / "constraints" / "mwaa" / f"{version}.txt"
        venv, env = installed(work, PYTHON_3_12, [f"apache-airflow=={version}", "-r", str(requirements)], constraints)
        shown = listed(venv, env, work)
        versions = run(
            venv / "bin" / "python",
            "-c",
            "import importlib.metadata as m; print(*(f'{n} {m.version(n)}' for n in "
            "('apache-airflow', 'apache-airflow-providers-amazon', 'botocore', 'aiobotocore')), sep=', ')",
            cwd=work,
            env=env,
        ).strip()
        return f"MWAA {version}: airflow providers list shows airflow-provider-omics {shown} ({versions})"


def newest_stack(wheel: Path) -> str:
    """The wheel with its emulator on the newest stack: the emulator it ships serves requests."""
    with tempfile.TemporaryDirectory(prefix="omics-package-") as folder:
        work = Path(folder)
        constraints = ROOT / "constraints" / f"airflow-{NEWEST}.txt"
        venv, env = installed(work, sys.executable, [f"{wheel}[emulator]"], constraints)
        shown = listed(venv, env, work)
        emulator = subprocess.Popen(
            [venv / "bin" / "python", "-m", "airflow_provider_omics.emulator", "--port", "0"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            endpoint = emulator.stdout.readline().strip()  # type: ignore[union-attr]
            with urllib.request.urlopen(f"{endpoint}/_emulator/requests", timeout=30) as response:
                assert json.loads(response.read())["requests"] == []
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
        return f"newest ({NEWEST}): airflow-provider-omics {shown}, its emulator serves at {endpoint}"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    wheel, _ = build()
    with ThreadPoolExecutor(max_workers=2) as pool:  # pip waits on the network as much as on a core
        checks = [pool.submit(mwaa_stack, version, wheel) for version in sys.argv[1:]]
        checks.append(pool.submit(newest_stack, wheel))
        for check in checks:
            print(check.result())
    print(f"release check OK: {wheel.name} installs and registers on every stack")
    return 0


if __name__ == "__main__":
    sys.exit(main())
