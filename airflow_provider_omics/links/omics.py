"""A console link to whatever HealthOmics job or resource a task started or waits on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

from airflow_provider_omics.jobs import JobKind


class OmicsLink(BaseAwsLink):
    @classmethod
    def clear(cls, context: Any, operator: Any) -> None:
        """Nothing to link yet: Airflow looks this XCom up when the task ends and logs an error if it is missing."""
        if operator.do_xcom_push:
            context["ti"].xcom_push(key=cls.key, value={})  # falsy: no link; Airflow 3.0 refuses None


class OmicsConsoleLink(OmicsLink):
    """Opens the job's page in the HealthOmics console (the path comes from the job table)."""

    name = "AWS HealthOmics Console"
    key = "omics_console"
    format_str = BASE_AWS_CONSOLE_LINK + "/omics/home?region={region_name}#/{path}"

    @classmethod
    def persist_job(
        cls,
        context: Any,
        operator: Any,
        kind: JobKind,
        ids: Mapping[str, Any],
        region_name: str,
        partition: str,
    ) -> None:
        if kind.console_path:
            cls.persist(context, operator, region_name, partition, path=kind.console_path.format(**ids))


class OmicsAnalysisLink(OmicsLink):
    """Opens the interactive picture of a run's or a plate's analysis (``right_sizing.py``) written to S3."""

    name = "Run analysis"
    key = "omics_analysis"
    format_str = BASE_AWS_CONSOLE_LINK + "/s3/object/{bucket}?region={region_name}&prefix={object_key}"
