"""The ``omics`` service model shipped in the package, in front of an older botocore's own.

Amazon MWAA pins botocore (3.0.6: 1.39.11), and HealthOmics' newer operations are newer than that: workflow
versions (botocore 1.37.36), run batches (1.42.74), configurations (1.42.78). So the package carries the
``omics`` data of the botocore it is developed against (``botocore_data/``, refreshed by ``make model``), and
every session the provider makes for ``omics`` looks there first: the hook's sync and aiobotocore clients,
the service model that validates input, the emulator's clients. Nothing process-wide changes: no
``AWS_DATA_PATH``, no patch of botocore; other sessions, services and libraries see botocore's own data.
Where the installed botocore is as new as the shipped model or newer, its own data wins and nothing is done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore
import botocore.session
from packaging.version import Version

DATA_PATH = Path(__file__).parent / "botocore_data"
# The botocore whose data/omics files are in DATA_PATH (written by make model).
SHIPPED_BOTOCORE = Version((DATA_PATH / "BOTOCORE_VERSION").read_text().strip())
NEEDED = Version(botocore.__version__) < SHIPPED_BOTOCORE


def in_front(session: Any) -> Any:
    """``session`` (boto3's, botocore's or aiobotocore's), loading ``omics`` from the shipped model first
    when the installed botocore is older. Call it before the session makes its first client."""
    if NEEDED:
        loader = getattr(session, "_session", session).get_component("data_loader")
        if str(DATA_PATH) not in loader.search_paths:
            loader.search_paths.insert(0, str(DATA_PATH))
    return session


def botocore_session() -> botocore.session.Session:
    """A new botocore session that reads the shipped ``omics`` model where it is newer."""
    return in_front(botocore.session.get_session())


def client(service_name: str = "omics", **kwargs: Any) -> Any:
    """A boto3 client, as ``boto3.client`` makes it, whose ``omics`` model is the shipped one where it is newer
    (the emulator's users and tests call the newest operations on every supported botocore)."""
    import boto3

    return boto3.session.Session(botocore_session=botocore_session()).client(service_name, **kwargs)
