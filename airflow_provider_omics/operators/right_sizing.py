"""Right-sizing in DAGs: the analysis of a run (in ``OmicsStartRunOperator``'s summary) or of many runs
(``OmicsAnalyzeRunsOperator``), told in the task log, drawn, and written where the user wants it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_omics import locations, pictures, right_sizing, usage
from airflow_provider_omics.events import json_safe
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.links.omics import OmicsAnalysisLink
from airflow_provider_omics.operators.lineage_mixin import LineageMixin

CONTENT_TYPES = {
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".wdl": "text/plain",
    ".config": "text/plain",
}
CONFIG_FILES = {"WDL": "runtime.wdl", "NEXTFLOW": "nextflow.config"}


def _stamp(context: Any) -> str:
    """The DAG run's logical date for a folder's name, or when it ran: Airflow 3 runs asset-triggered runs (and
    runs triggered without a date) with no logical date, and no ``ts_nodash``."""
    if context.get("ts_nodash"):
        return str(context["ts_nodash"])
    ran = getattr(context.get("dag_run"), "run_after", None) or datetime.now(UTC)
    return ran.strftime("%Y%m%dT%H%M%S")


class RightSizing:
    """What a task asks of an analysis: how to size (``sizing``), whether to draw (``pictures``) and whether
    to write the recommended resources in the workflow's language (``write_config``)."""

    def __init__(
        self,
        owner: str,
        headroom: float = 0.0,
        percentile: float = 100.0,
        outlier_factor: float = 2.0,
        pictures: bool = False,
        write_config: bool = False,
    ) -> None:
        try:
            self.sizing = right_sizing.Sizing(headroom, percentile, outlier_factor)
        except ValueError as error:
            raise ValueError(f"{owner}: {error}") from None
        for name, value in (("pictures", pictures), ("write_config", write_config)):
            if not isinstance(value, bool):
                raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
        self.pictures, self.write_config = pictures, write_config

    def publish(
        self, operator: Any, context: Any, report: dict[str, Any], folder: str | None, drawn: Mapping[str, bytes]
    ) -> dict[str, Any]:
        """Write the pictures and the config snippet under ``folder`` (``s3://`` or local), link the HTML."""
        files = dict(drawn)
        engine = report.get("engine") or "WDL"
        if self.write_config:
            if engine not in CONFIG_FILES:
                operator.log.warning("No config snippet for a %s workflow: WDL and Nextflow only", engine)
            else:
                files[CONFIG_FILES[engine]] = report["config"][engine].encode()
        if not files:
            return report
        if not folder:
            operator.log.warning("Nowhere to write %s: set pictures_to", ", ".join(files))
            return report
        written = {name: _write(operator.hook, folder, name, data) for name, data in files.items()}
        for location in written.values():
            operator.log.info("Wrote %s", location)
        html = next((where for name, where in written.items() if name.endswith(".html")), None)
        if html and html.startswith("s3://"):
            bucket, key = locations.s3_parts(html)
            OmicsAnalysisLink.persist(
                context,
                operator,
                operator.hook.conn_region_name,
                operator.hook.conn_partition,
                bucket=bucket,
                object_key=key,
            )
        return {**report, "files": written}


def _write(hook: OmicsHook, folder: str, name: str, data: bytes) -> str:
    content_type = CONTENT_TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
    location = str(locations.join_location(folder, name))
    if location.startswith("s3://"):
        bucket, key = locations.s3_parts(location)
        hook.client_of("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        return location
    os.makedirs(folder, exist_ok=True)
    with open(location, "wb") as out:
        out.write(data)
    return location


def draw(kind: str, report: Mapping[str, Any], log: Any) -> dict[str, bytes]:
    """The pictures, or none with a warning: a missing extra never fails a task whose job succeeded."""
    if not report.get("tasks" if kind == "run" else "samples"):
        log.info("No pictures: nothing was analysed")
        return {}
    try:  # pictures.py imports its libraries when it draws
        return pictures.run_timeline(report) if kind == "run" else pictures.plate_chart(report)
    except ImportError as missing:
        log.warning("No pictures: %s", missing)
        return {}


def tell(log: Any, report: Mapping[str, Any]) -> None:
    """One line per task: what it reserved, what it used at most, and what it should reserve."""
    for task in report["tasks"]:
        log.info("%s", task_line(task))


def task_line(task: Mapping[str, Any]) -> str:
    """``call_variants on omics.m.xlarge used at most 3.1 of 4 CPUs (78%) and 6 of 16 GiB (38%): recommended
    omics.c.xlarge, 4 CPUs, 8 GiB, saves USD 0.0021``."""
    if not task["used"]:
        return f"{task['name']}: {'cache hit' if task['cacheHit'] else 'no usage measured'}"
    used, reserved, better, share = task["used"], task["reserved"], task["recommended"], task["utilization"]
    line = (
        f"{task['name']} on {task['instanceType']} used at most {used['cpusMaximum']:g} of {reserved['cpus']:g} "
        f"CPUs ({share['cpu']:.0%}) and {used['memoryMaximumGiB']:g} of {reserved['memoryGiB']:g} GiB "
        f"({share['memory']:.0%}): "
    )
    if better["instanceType"] == task["instanceType"]:
        return line + f"keep it ({better.get('kept', 'the smallest that fits')})"
    saving = (task["usd"] or {}).get("saving")
    line += f"recommended {better['instanceType']}, {better['cpus']} CPUs, {better['memoryGiB']} GiB"
    return line + (f", saves USD {saving:.4f}" if saving is not None else "")


class OmicsAnalyzeRunsOperator(LineageMixin, AwsBaseOperator[OmicsHook]):
    """Right-size a plate: what each task of many runs used, and what it should reserve (``right_sizing.py``).

    The runs are ``run_ids`` (a list, e.g. the ids of mapped ``OmicsStartRunOperator`` tasks), the runs of
    ``batch_id`` and of ``run_group_id``, together. Runs still going are named and left out; so is a run
    whose manifest cannot be read.

    :param run_ids: run ids (templated; an XComArg of mapped tasks' ``id`` works).
    :param batch_id: a run batch whose runs to analyse (templated).
    :param run_group_id: a run group whose runs to analyse (templated).
    :param headroom: added over the peak before sizing, 0 to 1 (default 0, as AWS's run analyzer).
    :param percentile: of samples the recommendation fits (default 100: every sample).
    :param outlier_factor: a sample whose peak is this many times the others' median is named (default 2).
    :param price_table: USD per hour by instance type and per GiB-hour of run storage; default: the AWS
        Price List API. Without a price, costs are left out, never guessed.
    :param pictures: draw the plate (PNG and interactive HTML; the ``pictures`` extra; default True).
    :param pictures_to: an ``s3://`` prefix or a local folder for the pictures and config (templated; default
        ``<outputUri of the first run>/analysis/<dag_id>/<task_id>-<ts_nodash>/``).
    :param write_config: also write the recommended resources in the workflow's language (``runtime.wdl``
        or ``nextflow.config``).

    Returns (XCom) the plate: per task name (``tasks``: p50 / p95 / max of peak CPUs and memory, the
    recommendation, its cost), ``outliers``, ``samples`` (per run and task: cost and utilisation), ``totals``,
    ``recommendations``, ``config`` (WDL and Nextflow snippets), ``notAnalysed``, ``calls`` and ``files``.
    """

    aws_hook_class = OmicsHook
    lineage_operation: ClassVar[str] = "AnalyzeRuns"
    template_fields: Sequence[str] = aws_template_fields("run_ids", "batch_id", "run_group_id", "pictures_to")
    operator_extra_links = (OmicsAnalysisLink(),)
    ui_color = "#c9e7f5"

    def __init__(
        self,
        *,
        run_ids: Sequence[str] | str | None = None,
        batch_id: str | None = None,
        run_group_id: str | None = None,
        headroom: float = 0.0,
        percentile: float = 100.0,
        outlier_factor: float = 2.0,
        price_table: Mapping[str, float] | None = None,
        pictures: bool = True,
        pictures_to: str | None = None,
        write_config: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**self.with_asset_alias(kwargs))
        owner = f"{type(self).__name__} ({self.task_id})"
        if not (run_ids or batch_id or run_group_id):
            raise ValueError(f"{owner}: give run_ids, batch_id or run_group_id: the runs to analyse")
        self.run_ids, self.batch_id, self.run_group_id = run_ids, batch_id, run_group_id
        self.price_table = price_table
        self.pictures_to = pictures_to
        self.right_sizing = RightSizing(owner, headroom, percentile, outlier_factor, pictures, write_config)

    def execute(self, context: Any) -> Any:
        OmicsAnalysisLink.clear(context, self)
        given = [self.run_ids] if isinstance(self.run_ids, str) else list(self.run_ids or [])
        run_ids = right_sizing.runs_of(self.hook, given, self.batch_id, self.run_group_id)
        if not run_ids:
            raise ValueError(f"{self.task_id}: no runs to analyse in run_ids, batch_id or run_group_id")
        self.log.info("Analysing %d runs", len(run_ids))
        prices = usage.prices_for(self.hook, self.price_table)
        plate = right_sizing.analyze_runs(self.hook, run_ids, self.right_sizing.sizing, prices.table)
        for name, task in plate["tasks"].items():
            better = task["recommended"]
            self.log.info(
                "%s (%d runs): peak CPUs p50 %s, max %s; GiB p50 %s, max %s: %s, %s CPUs, %s GiB",
                name,
                task["count"],
                task["cpusMaximum"]["p50"],
                task["cpusMaximum"]["max"],
                task["memoryMaximumGiB"]["p50"],
                task["memoryMaximumGiB"]["max"],
                better["instanceType"],
                better["cpus"],
                better["memoryGiB"],
            )
        for outlier in plate["outliers"]:
            self.log.warning(
                "Outlier: %s of run %s (%s) used %s %s, %s times the other samples' median",
                outlier["task"],
                outlier["runId"],
                outlier["runName"],
                outlier["used"],
                outlier["resource"],
                outlier["times"],
            )
        if prices.not_read:
            self.log.warning("No costs: %s", prices.not_read)
        drawn = draw("plate", plate, self.log) if self.right_sizing.pictures else {}
        first = plate["samples"][0] if plate["samples"] else {}
        plate["engine"] = first.get("engine")
        folder = self.pictures_to
        if not folder and first.get("outputUri"):
            ti = context["ti"]
            folder = f"{first['outputUri'].rstrip('/')}/analysis/{ti.dag_id}/{ti.task_id}-{_stamp(context)}/"
        return self.finished(context, json_safe(self.right_sizing.publish(self, context, plate, folder, drawn)))
