"""A local AWS HealthOmics service for tests, demos and users' own DAG tests (the ``emulator`` extra)."""

from .server import OmicsEmulator

__all__ = ["OmicsEmulator"]
