"""The installed libraries the provider needs, checked when it is imported.

A stack it cannot serve (an Amazon provider without what the operators build on, a botocore too old for the
shipped ``omics`` model) should fail where a DAG is parsed, naming the package and the version it needs, not
as an ``AttributeError`` or an unknown operation inside a task. pip enforces the floors at install time; an
environment changed afterwards (``--no-deps``, an image's own pins) is caught here. The floors are read from
the package's own metadata, so ``pyproject.toml`` stays the one place they are written.
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

DISTRIBUTION = "airflow-provider-omics"


class UnsupportedEnvironment(ImportError):
    """An installed library is outside the range the provider supports."""


def problems() -> list[str]:
    """One line per runtime requirement the environment does not meet; none where it does."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed: nothing to read
        return []
    found = []
    for line in requires:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's requirement (emulator, pictures, ...)
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            found.append(f"{requirement.name}{requirement.specifier} is not installed")
            continue
        try:
            fits = requirement.specifier.contains(Version(installed), prereleases=True)
        except InvalidVersion:
            continue
        if not fits:
            found.append(f"{requirement.name}{requirement.specifier} is needed; this environment has {installed}")
    return found


def check() -> None:
    """Raise :class:`UnsupportedEnvironment` naming every unmet requirement."""
    if unmet := problems():
        raise UnsupportedEnvironment(
            f"{DISTRIBUTION} cannot run in this environment: "
            + "; ".join(unmet)
            + ". Install the versions named (docs: Supported versions)."
        )
