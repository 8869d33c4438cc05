"""Lineage from the operators: the methods the OpenLineage provider calls, and the Assets a task produced.

``lineage.py`` decides what a task read and wrote and how each is named; this mixin asks it at the
three moments OpenLineage reports (start, complete, fail) and, when a task succeeds, adds an Asset event
for each collection it added to (a store's read sets, a workflow's runs) through the operators' one Asset
alias, so DAGs can be scheduled on them. The OpenLineage provider is optional: without it, its methods
are never called.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any, ClassVar, TypeVar, cast

from airflow_provider_omics import lineage
from airflow_provider_omics.compat import ensure_asset_alias
from airflow_provider_omics.errors import OmicsJobFailed

# Where the ``omics`` run facet's JSON schema is published (it ships in the package too: ``schemas/``).
FACET_SCHEMA_URL = "https://airflow-provider-omics.readthedocs.io/en/latest/_static/schemas/OmicsRunFacet.json"

_Output = TypeVar("_Output")  # what a task returns, handed back as it is


def facet_schema() -> dict[str, Any]:
    """The JSON schema of the ``omics`` run facet."""
    text = resources.files("airflow_provider_omics").joinpath("schemas/OmicsRunFacet.json").read_text()
    return dict(json.loads(text))


def asset_alias() -> Any:
    """The alias every operator adds its Assets through (a DatasetAlias on Airflow 2.11)."""
    from airflow.providers.common.compat.assets import AssetAlias

    return AssetAlias(lineage.ASSET_ALIAS)


# The account behind each connection and region, asked of STS once per process, only when a name needs it.
_ACCOUNTS: dict[tuple[str | None, str | None], str] = {}


def account_of(hook: Any) -> str:
    key = (hook.aws_conn_id, hook.conn_region_name)
    if key not in _ACCOUNTS:
        _ACCOUNTS[key] = hook.account_id
    return _ACCOUNTS[key]


class LineageMixin:
    """For an operator with a ``hook``: it names its operation and request, and reports when it ends.

    ``finished(context, output)`` (its XCom) and ``reporting_failure()`` keep what the OpenLineage methods,
    called after the task, report; ``finished`` also adds the task's Asset events.
    """

    lineage_operation: ClassVar[str] = ""
    _lineage_output: Mapping[str, Any] | None = None
    _lineage_failure: OmicsJobFailed | None = None

    @staticmethod
    def with_asset_alias(kwargs: dict[str, Any]) -> dict[str, Any]:
        """The operator's arguments with the Asset alias among its outlets (once: ``partial`` adds it too)."""
        outlets = list(kwargs.get("outlets") or [])
        if any(getattr(outlet, "name", None) == lineage.ASSET_ALIAS for outlet in outlets):
            return kwargs
        return {**kwargs, "outlets": [*outlets, asset_alias()]}

    def lineage_request(self) -> dict[str, Any]:
        """The request as the service was (or will be) asked, for the datasets it names."""
        return {}

    def lineage_ids(self, output: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The job's kind and ids, for the ``omics`` facet and Asset extras."""
        return self.lineage_operation, {"id": output["id"]} if output.get("id") else {}

    def namer(self) -> lineage.Namer:
        hook = cast(Any, self).hook  # the operator's
        return lineage.Namer(hook.conn_partition, hook.conn_region_name, lambda: account_of(hook))

    def produced(self, output: Mapping[str, Any] | None) -> lineage.Produced:
        return lineage.lineage_of(self.lineage_operation, self.namer(), self.lineage_request(), output)

    # ---- when the task ends --------------------------------------------------------------------------
    def finished(self, context: Any, output: _Output) -> _Output:
        """Keep the XCom for OpenLineage, add the Asset events; returns the XCom."""
        self._lineage_output = output if isinstance(output, Mapping) else {"items": output}
        try:
            self.add_asset_events(context, self._lineage_output)
        except Exception:  # the job is done: lineage it cannot tell never fails the task
            cast(Any, self).log.warning("No Asset events for this task", exc_info=True)
        return output

    @contextlib.contextmanager
    def reporting_failure(self) -> Iterator[None]:
        """Keep a failed job's describe output and the service's message for the OpenLineage failure event."""
        try:
            yield
        except OmicsJobFailed as error:
            self._lineage_failure = error
            raise

    def add_asset_events(self, context: Any, output: Mapping[str, Any]) -> None:
        from airflow.providers.common.compat.assets import Asset

        # The collections a DAG can be scheduled on, one event each; each object written is lineage only
        # (OpenLineage): an event for a URI no DAG names makes Airflow warn, once per event.
        produced = self.produced(output)
        kind, ids = self.lineage_ids(output)
        extra = lineage.asset_extra(kind, ids, output, lineage.private_details())
        events = [(uri, {**extra, **item}) for uri, item in produced.collections]
        if not events:
            return
        ensure_asset_alias(lineage.ASSET_ALIAS)
        alias_events = context["outlet_events"][asset_alias()]
        for uri, each in events:
            alias_events.add(Asset(uri), extra=each)
        cast(Any, self).log.info("Assets produced: %s", ", ".join(dict.fromkeys(uri for uri, _ in events)))

    # ---- what the OpenLineage provider calls -----------------------------------------------------------
    def get_openlineage_facets_on_start(self) -> Any:
        return self.openlineage(None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self.openlineage(self._lineage_output)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        failure = self._lineage_failure
        return self.openlineage(dict(failure.described) if failure else None, failure)

    def openlineage(self, output: Mapping[str, Any] | None, failure: OmicsJobFailed | None = None) -> Any:
        from airflow.providers.common.compat.openlineage.facet import InputDataset, OutputDataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        produced = self.produced(output)
        run_facets = {}
        if output is not None:
            kind, ids = self.lineage_ids(output)
            content = lineage.details(kind, ids, output, lineage.private_details())
            if failure is not None:
                content.update(status=failure.status, statusMessage=failure.service_message or failure.status)
            run_facets["omics"] = omics_facet_class()(**content)
        return OperatorLineage(
            inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in produced.inputs],
            outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in produced.outputs],
            run_facets=run_facets,
        )


@functools.cache
def omics_facet_class() -> type:
    """The ``omics`` run facet (defined on first use: the OpenLineage client is an optional dependency)."""
    import attrs
    from airflow.providers.common.compat.openlineage.facet import RunFacet

    @attrs.define
    class OmicsRunFacet(RunFacet):
        """The HealthOmics job behind the task: kind, ids, status and the service's message; a run's workflow
        and usage. Names, sample ids and parameters only under ``private`` ([omics] lineage_private_details)."""

        kind: str
        ids: dict[str, str]
        status: str | None = None
        statusMessage: str | None = None
        failureReason: str | None = None
        arn: str | None = None
        run: dict[str, Any] | None = None
        usage: dict[str, Any] | None = None
        private: dict[str, Any] | None = None

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA_URL

    return OmicsRunFacet
