"""``make package``: build the sdist and the wheel, install the wheel in a clean virtualenv, check it there.

What a user gets from ``pip install airflow-provider-omics``: no editable install, no repository on the
path (everything runs from a temporary folder). Exits 0 only if Airflow lists the provider at the
package's version and the emulator it ships serves requests.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
NEWEST = "3.3"


def run(*args: str | Path, **kwargs) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from airflow_provider_omics import __version__

    shutil.rmtree(DIST, ignore_errors=True)
    run(sys.executable, "-m", "build", "--outdir", DIST, ROOT)
    wheel = next(DIST.glob("*.whl"))
    sdist = next(DIST.glob("*.tar.gz"))
    print(f"built {wheel.name} and {sdist.name}")
    assert f"-{__version__}" in wheel.name, f"the wheel's version is not {__version__}"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for needed in (
        "airflow_provider_omics/py.typed",
        "airflow_provider_omics/emulator/server.py",
        "airflow_provider_omics/schemas/OmicsRunFacet.json",
        "LICENSE",
    ):
        assert any(name.endswith(needed) for name in names), f"{needed} is not in the wheel"
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    for needed in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"):
        assert any(name.endswith(f"/{needed}") for name in members), f"{needed} is not in the sdist"

    with tempfile.TemporaryDirectory(prefix="omics-package-") as folder:
        work = Path(folder)
        venv = work / "venv"
        run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        constraints = ROOT / "constraints" / f"airflow-{NEWEST}.txt"
        run(python, "-m", "pip", "install", "--quiet", "-c", constraints, f"{wheel}[emulator]")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))} | {
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        location = run(python, "-c", "import airflow_provider_omics as p; print(p.__file__)", cwd=work, env=env)
        assert str(ROOT) not in location, f"imported from the repository: {location}"
        listed = run(venv / "bin" / "airflow", "providers", "list", "-o", "json", cwd=work, env=env)
        providers = json.loads(listed[listed.index("[") :])
        ours = [p for p in providers if p["package_name"] == "airflow-provider-omics"]
        assert ours and ours[0]["version"] == __version__, f"airflow providers list: {providers}"
        print(f"airflow providers list: {ours[0]['package_name']} {ours[0]['version']}")

        emulator = subprocess.Popen(
            [python, "-m", "airflow_provider_omics.emulator", "--port", "0"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            endpoint = emulator.stdout.readline().strip()  # type: ignore[union-attr]
            with urllib.request.urlopen(f"{endpoint}/_emulator/requests", timeout=30) as response:
                assert json.loads(response.read())["requests"] == []
            print(f"emulator from the wheel serves at {endpoint}")
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    print(f"package OK: {wheel.name} installs and registers in a clean virtualenv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
