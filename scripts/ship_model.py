"""``make model``: the ``omics`` service model of the installed botocore, shipped in the package.

Copies ``botocore/data/omics`` (service, paginators, waiters, endpoint rules) into
``airflow_provider_omics/botocore_data`` and writes the botocore version beside it: clients the provider
makes on an older botocore load these files first (``airflow_provider_omics/shipped_model.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import botocore

TARGET = Path(__file__).resolve().parent.parent / "airflow_provider_omics" / "botocore_data"


def main() -> int:
    source = Path(botocore.__file__).parent / "data" / "omics"
    shutil.rmtree(TARGET / "omics", ignore_errors=True)
    shutil.copytree(source, TARGET / "omics", ignore=shutil.ignore_patterns("__pycache__"))
    (TARGET / "BOTOCORE_VERSION").write_text(botocore.__version__ + "\n")
    print(f"shipped the omics model of botocore {botocore.__version__}: {sorted(p.name for p in source.rglob('*.*'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
