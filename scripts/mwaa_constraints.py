"""``make mwaa-constraints``: Amazon MWAA's own constraint files, fetched again from AWS's public repository.

MWAA installs a requirements file under the constraint file of its image, and the matrix tests the provider
inside each one unchanged (``constraints/mwaa/<version>.txt``). This reads them from
aws/amazon-mwaa-docker-images at one commit (``--ref``, or the main branch's newest) and records that
commit and each path in ``constraints/mwaa/SOURCES``. Needs GitHub; nothing else in the project does.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path

REPOSITORY = "aws/amazon-mwaa-docker-images"
PATH = "images/airflow/{version}/etc/airflow_constraints.txt"
FOLDER = Path(__file__).resolve().parent.parent / "constraints" / "mwaa"


def read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+", help="MWAA's Airflow versions (images/airflow/<version>)")
    parser.add_argument("--ref", help="a commit, branch or tag of the repository (default: main's newest commit)")
    args = parser.parse_args()
    ref = args.ref or "main"
    commit = json.loads(read(f"https://api.github.com/repos/{REPOSITORY}/commits/{ref}"))["sha"]
    sources = [f"# Amazon MWAA's constraint files, as read by make mwaa-constraints from {REPOSITORY}@{commit}"]
    for version in args.versions:
        path = PATH.format(version=version)
        (FOLDER / f"{version}.txt").write_bytes(read(f"https://raw.githubusercontent.com/{REPOSITORY}/{commit}/{path}"))
        sources.append(f"{version}.txt  {REPOSITORY}@{commit}:{path}")
        print(f"constraints/mwaa/{version}.txt <- {path} at {commit[:12]}")
    (FOLDER / "SOURCES").write_text("\n".join(sources) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
