"""Which HealthOmics events a DAG starts on (``OmicsEventTrigger``) or a sensor waits for (``OmicsEventSensor``).

A filter names a kind of the job table (``run``, ``read_set``, ``read_set_import``, ...), the statuses that count
(by default the kind's good ends: a run COMPLETED, a read set ACTIVE) and ``match``: fields and the values they
may have. A field is looked up in the event's detail first (``workflowId``, ``workflowName``, ``sequenceStoreId``),
then in the job's describe output (``runGroupId``, ``sampleId``, ``subjectId``, ``tags.project``): a dotted name
reads inside a structure. Values are compared as text; a list means any of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_omics.event_source import OmicsEvent
from airflow_provider_omics.jobs import JOB_KINDS, JobKind, job_kind

_MISSING = object()


@dataclass(frozen=True)
class EventFilter:
    kind: str
    statuses: tuple[str, ...] = ()
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        owner: str,
        kind: str,
        statuses: str | Sequence[str] | None = None,
        match: Mapping[str, Any] | None = None,
    ) -> EventFilter:
        """A filter checked when made (at DAG parse), a mistake naming ``owner`` and the parameter."""
        job = JOB_KINDS.get(kind)
        if job is None or job.event is None:
            with_events = sorted(name for name, each in JOB_KINDS.items() if each.event is not None)
            raise ValueError(
                f"{owner}: kind {kind!r} is not one HealthOmics sends events for: {', '.join(with_events)}"
            )
        wanted = (statuses,) if isinstance(statuses, str) else tuple(statuses or sorted(job.success_states))
        unknown = sorted(set(wanted) - job.terminal_states - job.intermediate_states)
        if unknown:
            known = ", ".join(sorted(job.terminal_states | job.intermediate_states))
            raise ValueError(f"{owner}: statuses: a {job.label} has no status {unknown[0]!r}; one of {known}")
        checked: dict[str, tuple[str, ...]] = {}
        for name, value in (match or {}).items():
            values = value if isinstance(value, list | tuple) else [value]
            if not isinstance(name, str) or not name or not all(isinstance(v, str | int) for v in values) or not values:
                raise ValueError(f"{owner}: match: {name!r} must name a field and give a value or a list of values")
            checked[name] = tuple(str(v) for v in values)
        return cls(kind, wanted, checked)

    @property
    def job(self) -> JobKind:
        return job_kind(self.kind)

    def passes_detail(self, event: OmicsEvent) -> bool | None:
        """From the event alone: whether it passes, or None when a field to match is only in the describe output."""
        if event.kind is not self.job or event.ids is None or event.status not in self.statuses:
            return False
        undecided = False
        for name, values in self.match.items():
            found = _field(event.detail, name)
            if found is _MISSING:
                undecided = True
            elif str(found) not in values:
                return False
        return None if undecided else True

    def passes(self, event: OmicsEvent, described: Mapping[str, Any]) -> bool:
        """With the job's describe output: every field to match has one of its values."""
        if self.passes_detail(event) is False:
            return False
        for name, values in self.match.items():
            found = _field(event.detail, name)
            if found is _MISSING:
                found = _field(described, name)
            if found is _MISSING or str(found) not in values:
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "statuses": list(self.statuses),
            "match": {k: list(v) for k, v in self.match.items()},
        }


def _field(data: Mapping[str, Any], name: str) -> Any:
    value: Any = data
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value
