"""HealthOmics' own URIs for stored files: ``omics://<account>.storage.<region>.amazonaws.com/<store>/readSet/<id>``.

The service takes them as workflow inputs, AWS's tools parse them (aws-healthomics-tools'
``OmicsUriParser``), and lineage names read sets and references by them. They are built from the ARN
the service returns, which holds every part.
"""

from __future__ import annotations

import re

# arn:aws:omics:us-east-1:123456789012:sequenceStore/1234567890/readSet/0987654321
_ARN = re.compile(
    r"^arn:aws[a-z-]*:omics:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?:sequenceStore|referenceStore)/(?P<store>\d+)/(?P<kind>readSet|reference)/(?P<id>\d+)$"
)
FILES = {"readSet": ("source1", "source2", "index"), "reference": ("source", "index")}


def storage(account: str, region: str) -> str:
    """The host part of every ``omics://`` URI of an account's stores in a region."""
    return f"omics://{account}.storage.{region}.amazonaws.com"


def omics_uri(arn: str, file: str | None = None) -> str:
    """The ``omics://`` URI of a read set or reference (its ARN), or of one of its files (``source1``, ``index``)."""
    match = _ARN.match(arn)
    if match is None:
        raise ValueError(f"{arn!r} is not the ARN of a read set or reference")
    kind = match["kind"]
    uri = f"{storage(match['account'], match['region'])}/{match['store']}/{kind}/{match['id']}"
    if file is None:
        return uri
    if file.lower() not in FILES[kind]:
        raise ValueError(f"file: a {kind} has {', '.join(FILES[kind])}, not {file!r}")
    return f"{uri}/{file.lower()}"
