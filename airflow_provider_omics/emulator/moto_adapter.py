"""Every use of moto's internals, in one place: its S3, CloudWatch Logs and EventBridge backends, its WSGI
app, its reset.

moto serves the other AWS services to the emulator in the same process, and the emulator reaches into it
where moto's public API has no door: reading a range of an object without copying it, writing an object
part by part into moto's spooled file, resetting every backend, delivering events as EventBridge does.
Those are private attributes of moto's classes (``FakeKey._value_buffer``, ``FakeKey._etag``,
``moto.moto_api._internal``, ``EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE``), checked on the moto
version below; ``tests/test_emulator.py`` fails on another, so an upgrade is checked here first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# moto's major.minor versions whose internals this module was checked against (the whole suite passes on
# each: MWAA 2.11.2 pins 5.0, MWAA 3.0.6 5.1, the newest stack has 5.2).
CHECKED_ON = ("5.0", "5.1", "5.2")


def s3_backend(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


def logs_backend(account_id: str, region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account_id][region]


def put_event(account_id: str, region: str, entry: dict[str, Any]) -> None:
    """One ``PutEvents`` entry on moto's EventBridge default bus: its rules deliver it (SQS, Logs, ...)."""
    from moto.events import models

    # EventBridge delivers the account with every event; moto 5.1+'s template for a target without an input
    # transformer leaves it out (5.0 has no template and sends it). Put it back, so a rule's SQS queue gets
    # what the service's would.
    parser = getattr(models, "EventTemplateParser", None)
    if parser is not None and '"account"' not in parser.DEFAULT_EVENT_INPUT_TEMPLATE:
        parser.DEFAULT_EVENT_INPUT_TEMPLATE = parser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
            '"source": "<source>",', '"source": "<source>", "account": "<account>",'
        )
    models.events_backends[account_id][region].put_events([entry])


def read_range(key: Any, start: int, length: int) -> bytes:
    """``length`` bytes from ``start`` of a moto S3 object, read from its spooled file (no copy of the whole)."""
    with key.lock:
        key._value_buffer.seek(start)
        return bytes(key._value_buffer.read(length))


def write_parts(key: Any, parts: Iterable[bytes]) -> None:
    """Fill an (empty) moto S3 object with ``parts``, one after the other, in its spooled file."""
    with key.lock:
        key._value_buffer.rollover()
        for part in parts:
            key._value_buffer.write(part)
        key.contentsize = key._value_buffer.tell()
        key._etag = None  # moto computes it again from the content


def reset_all() -> None:
    """Every moto backend back to empty (what moto's own ``/moto-api/reset`` does)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def wsgi_app() -> Any:
    """moto's server app: every AWS service, routed by the request's host or signature."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)
