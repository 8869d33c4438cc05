"""The job table against botocore's model: every status classified exactly once, every kind present."""

from __future__ import annotations

import pytest

from airflow_provider_omics.jobs import JOB_KINDS
from airflow_provider_omics.service_model import operation, service_model


def _status_enum(operation_name: str, path: tuple[str, ...]) -> set[str]:
    shape = operation(operation_name).output_shape
    for key in path:
        shape = shape.members[key]
    return set(shape.enum)


@pytest.mark.parametrize("kind", sorted(JOB_KINDS))
def test_states_partition_the_model_enum(kind):
    job = JOB_KINDS[kind]
    success, failure, waiting = job.success_states, job.failure_states, job.intermediate_states
    assert not (success & failure) and not (success & waiting) and not (failure & waiting)
    assert success | failure | waiting == _status_enum(job.operation, job.status_path)


@pytest.mark.parametrize("kind", sorted(JOB_KINDS))
def test_operations_and_ids_exist_in_the_model(kind):
    job = JOB_KINDS[kind]
    names = set(service_model().operation_names)
    for op in (job.operation, job.start_operation, job.cancel_operation, job.list_operation):
        assert op is None or op in names
    assert set(job.ids) <= set(operation(job.operation).input_shape.members)


def test_every_status_bearing_resource_has_a_kind():
    described = {job.operation for job in JOB_KINDS.values()}
    with_status = set()
    for name in service_model().operation_names:
        output = operation(name).output_shape
        if not name.startswith("Get") or output is None:
            continue
        members = output.members
        nested = [m for m in members.values() if m.type_name == "structure" and "status" in m.members]
        if ("status" in members and members["status"].enum) or nested:
            with_status.add(name)
    assert with_status - described == set()


def test_cancelled_failed_and_deleted_end_every_wait_as_failures():
    for job in JOB_KINDS.values():
        for status in ("CANCELLED", "FAILED", "DELETED", "COMPLETED_WITH_FAILURES"):
            assert status not in job.success_states and status not in job.intermediate_states, (
                job.name,
                status,
            )


@pytest.mark.parametrize("kind", sorted(k for k, job in JOB_KINDS.items() if job.sweep))
def test_sweeps_list_every_in_progress_status_with_parameters_the_list_takes(kind):
    job = JOB_KINDS[kind]
    sweep = job.sweep
    members = operation(job.list_operation).input_shape.members
    for name in (*sweep.scope, *sweep.narrow_by):
        assert name in members
    [listed_id] = [name for name in job.ids if name not in sweep.scope]  # what a list item's "id" is
    assert listed_id in job.ids
    if sweep.ids_per_call:
        assert members["ids"].metadata["max"] == sweep.ids_per_call
    else:
        assert sorted(sweep.statuses) == sorted(job.intermediate_states)
        where, _, key = sweep.status_filter.rpartition(".")
        filters = members[where].members if where else members
        assert set(filters[key].enum) >= set(sweep.statuses)


def test_the_emulator_knows_each_kind_on_its_own_and_agrees_with_the_table():
    from airflow_provider_omics.emulator import kinds

    # The emulator reads statuses from botocore, not from JOB_KINDS: where both agree, neither is wrong alone.
    assert set(kinds.DESCRIBED_BY) == set(JOB_KINDS)
    for name, job in JOB_KINDS.items():
        assert kinds.DESCRIBED_BY[name] == (job.operation, job.status_path)
        assert kinds.statuses(name) == job.terminal_states | job.intermediate_states


def test_each_kind_finds_its_job_in_the_events_the_service_sends():
    """The detail types and fields the table reads, against the emulator's events (written from the user guide and
    EventBridge's schema registry, not from the table) and the recorded events of the corpus."""
    import json
    from pathlib import Path

    from airflow_provider_omics.emulator.models.events import EVENTS

    sent = {detail_type for detail_type, _ in EVENTS.values()}
    recorded = {
        json.loads(path.read_text())["detail-type"] for path in (Path(__file__).parent / "corpus" / "events").glob("*")
    }
    with_events = {name: job for name, job in JOB_KINDS.items() if job.event is not None}
    # A run's tasks end by the hundred, and a wait on one is rare: waits on tasks poll, the queue is spared them.
    assert {job.event.detail_type for job in with_events.values()} == sent - {"Task Status Change"}
    assert sent <= recorded
    # Where only the ARN names a run (the events AWS's samples quote), the id is its last part.
    run = JOB_KINDS["run"].event
    assert run.ids_of({"arn": "arn:aws:omics:us-east-1:123456789012:run/1234567", "status": "COMPLETED"}) == {
        "id": "1234567"
    }
    assert run.ids_of({"status": "COMPLETED"}) is None
