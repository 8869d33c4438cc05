"""Every use of moto's internals, in one place: its S3, CloudWatch Logs and EventBridge backends, its WSGI
app, its reset.

moto serves the other AWS services to the emulator in the same process, and the emulator reaches into it
where moto's public API has no door: reading a range of an object without copying it, writing an object
part by part into moto's spooled file, resetting every backend, delivering events as EventBridge does,
answering SQS in the service's time, deploying an EventBridge rule's targets from CloudFormation. Those are
private attributes of moto's classes (``FakeKey._value_buffer``, ``FakeKey._etag``,
``moto.moto_api._internal``, ``EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE``, ``Rule.send_to_targets``,
``Rule.create_from_cloudformation_json``, ``SQSBackend.is_message_valid_based_on_retention_period``,
``Queue._messages_lock``, ``Role.policies`` / ``managed_policies``, ``moto.iam.access_control.IAMPolicy``,
``Repository.policy``), checked on the moto versions below; ``tests/test_emulator.py`` fails on another,
so an upgrade is checked here first.
"""

from __future__ import annotations

import json
import time
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


def put_event(account_id: str, region: str, entry: dict[str, Any], event_id: str) -> None:
    """One ``PutEvents`` entry on moto's EventBridge default bus, as event ``event_id`` (a redelivery has the same
    id; moto's ``put_events`` would give each a new one): its rules deliver it (SQS, Logs, ...)."""
    from moto.events import models

    # EventBridge delivers the account with every event; moto 5.1+'s template for a target without an input
    # transformer leaves it out (5.0 has no template and sends it). Put it back, so a rule's SQS queue gets
    # what the service's would.
    parser = getattr(models, "EventTemplateParser", None)
    if parser is not None and '"account"' not in parser.DEFAULT_EVENT_INPUT_TEMPLATE:
        parser.DEFAULT_EVENT_INPUT_TEMPLATE = parser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
            '"source": "<source>",', '"source": "<source>", "account": "<account>",'
        )
    backend = models.events_backends[account_id][region]
    for rule in list(backend.describe_event_bus("default").rules.values()):
        message = {
            "version": "0",
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": account_id,
            "time": entry.get("Time", time.time()),
            "region": region,
            "resources": entry.get("Resources", []),
            "detail": json.loads(entry["Detail"]),
        }
        if parser is None:  # moto 5.0 sends the event as it is
            rule.send_to_targets(message)  # type: ignore[arg-type]  # a TypedDict moto builds the same way
        elif not any("InputTransformer" in target for target in rule.targets):
            # The whole event, as EventBridge sends it to a target without a transformer; moto 5.1+ would build a
            # JSONPath parser per event to say the same.
            rule.send_to_targets(message, transform_input=False)  # type: ignore[arg-type]
        else:
            rule.send_to_targets({**message, "ingestion-time": time.time()})  # type: ignore[typeddict-item]


def iam_role(account_id: str, role_arn: str) -> tuple[dict[str, Any], list[Any]] | None:
    """A role of moto's IAM by its ARN: its trust policy and its policies (inline documents, attached managed
    policies), or None when no such role exists."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["global"]
    role = next((r for r in backend.roles.values() if r.arn == role_arn), None)
    if role is None:
        return None
    trust = role.assume_role_policy_document
    return (json.loads(trust) if isinstance(trust, str) else trust), [
        *role.policies.values(),
        *role.managed_policies.values(),
    ]


def policy_decision(policies: Iterable[Any], action: str, resource: str) -> str:
    """What IAM decides for ``action`` on ``resource`` under these identity policies: ``allowed``,
    ``explicitDeny`` or ``implicitDeny`` (``SimulatePrincipalPolicy``'s words), by moto's policy evaluation."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    results = {IAMPolicy(policy).is_action_permitted(action, resource) for policy in policies}
    if PermissionResult.DENIED in results:
        return "explicitDeny"
    return "allowed" if PermissionResult.PERMITTED in results else "implicitDeny"


def ensure_role(account_id: str, name: str, trust: dict[str, Any], policy: dict[str, Any]) -> None:
    """An IAM role with an inline policy, unless one of that name exists."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["global"]
    if any(role.name == name for role in backend.roles.values()):
        return
    backend.create_role(name, json.dumps(trust), "/", None, "", [], "3600")
    backend.put_role_policy(name, "access", json.dumps(policy))


def ecr_image(account_id: str, region: str, repository: str, reference: str) -> tuple[str | None, Any]:
    """``(digest or None, the repository's policy or None)`` of an image of moto's private ECR registry by tag
    or digest; ``(None, False)`` when the repository does not exist."""
    from moto.ecr.models import ecr_backends

    repo = ecr_backends[account_id][region].repositories.get(repository)
    if repo is None:
        return None, False
    policy = json.loads(repo.policy) if repo.policy else None
    for image in repo.images:
        tags = {image.image_tag, *getattr(image, "image_tags", [])} - {None}
        if reference in tags or reference == image.get_image_digest():
            return image.get_image_digest(), policy
    return None, policy


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

    _sqs_timed_like_the_service()
    _cloudformation_rules_with_targets()
    return DomainDispatcherApplication(create_backend_app)


def _cloudformation_rules_with_targets() -> None:
    """moto 5.0's CloudFormation makes an ``AWS::Events::Rule`` without its ``Targets`` (5.1 makes them): a stack
    of ``docs/eventbridge/`` would send nothing. Give the rule the targets its template names, and delete them
    with the stack's rule."""
    from moto.events import models

    create = models.Rule.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    if getattr(create, "with_targets", False):
        return

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        rule = create(cls, resource_name, cloudformation_json, *args, **kwargs)
        targets = cloudformation_json["Properties"].get("Targets") or []
        if targets and not rule.targets:
            rule.put_targets(targets)
        return rule

    delete = models.Rule.delete

    def delete_with_targets(self: Any, account_id: str, region_name: str) -> None:
        self.targets.clear()  # a stack's rule goes with its targets (moto 5.0 refuses to delete it)
        delete(self, account_id, region_name)

    create_from_cloudformation_json.with_targets = True  # type: ignore[attr-defined]
    models.Rule.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment,method-assign]
    models.Rule.delete = delete_with_targets  # type: ignore[method-assign]


def _sqs_timed_like_the_service() -> None:
    """SQS as the service answers it, where moto's differs in time, not in what it answers:

    * moto checks each message it hands out against the queue's retention by reading every attribute of the
      queue, which counts its messages, and reads the clock through datetime arithmetic for each message it
      counts: a send or a receive costs the square of the queue's depth, and a queue of a few thousand events
      slows the whole emulator down. Read the one attribute, and the clock as ``time.time()``;
    * a message made visible again (``ChangeMessageVisibility`` to 0) reaches a waiting long poll only at its
      next scan, a second later; SQS answers it at once. Wake the queue's waiting receives.
    """
    from moto.core.utils import unix_time
    from moto.sqs import models

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    def now(dt: Any = None) -> float:
        return time.time() if dt is None else unix_time(dt)

    change_visibility = models.SQSBackend.change_message_visibility

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        change_visibility(self, queue_name, receipt_handle, visibility_timeout)
        if int(visibility_timeout) == 0:
            queue = self.get_queue(queue_name)
            with queue._messages_lock:
                queue._messages_lock.notify_all()

    if getattr(models.SQSBackend.change_message_visibility, "wakes_receives", False):
        return
    change_message_visibility.wakes_receives = True  # type: ignore[attr-defined]
    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    models.SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
    models.unix_time = now  # type: ignore[attr-defined]
    models.unix_time_millis = lambda dt=None: now(dt) * 1000.0  # type: ignore[attr-defined]
