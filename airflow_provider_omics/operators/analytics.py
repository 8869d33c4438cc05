"""Analytics: variant and annotation stores, store versions, variant and annotation imports."""

from __future__ import annotations

from typing import Any

from airflow_provider_omics import polling
from airflow_provider_omics.operators.base import OmicsJobOperator, Started
from airflow_provider_omics.operators.storage import ReusableStoreMixin


class OmicsCreateVariantStoreOperator(ReusableStoreMixin):
    """Create a variant store and wait until ACTIVE; a store of that name already there is reused.

    Variant stores are closed to new AWS customers since November 2025; existing ones keep working.
    """

    kind = "variant_store"


class OmicsCreateAnnotationStoreOperator(ReusableStoreMixin):
    """Create an annotation store (GFF, TSV or VCF) and wait until ACTIVE; an existing one is reused.

    Annotation stores are closed to new AWS customers since November 2025; existing ones keep working.
    """

    kind = "annotation_store"


class OmicsCreateAnnotationStoreVersionOperator(OmicsJobOperator):
    """Create a version of an annotation store and wait until ACTIVE."""

    kind = "annotation_store_version"


class _AnalyticsImportOperator(OmicsJobOperator):
    """Imports have no idempotency token: a retry first looks for the job an earlier try started."""

    def start_without_token(self, context: Any, request: dict[str, Any]) -> Started:
        earlier = self.find_earlier_job(context, request)
        if earlier is not None:
            self.log.info("Re-attached to %s %s started by an earlier try", self.job.label, earlier)
            return Started(earlier, self.hook.describe(self.job, **earlier))
        return super().start_without_token(context, request)

    def find_earlier_job(self, context: Any, request: dict[str, Any]) -> dict[str, Any] | None:
        """The same import into the same store, started during this DAG run and not failed."""
        dag_run = context.get("dag_run")
        since = getattr(dag_run, "start_date", None)
        wanted = sorted(item["source"] for item in request["items"])
        listed = self.hook.paginate(self.job.list_operation or "", filter={"storeName": request["destinationName"]})
        for summary in listed:
            if since is not None and summary["creationTime"] < since:
                continue
            ids: dict[str, Any] = {"jobId": summary["id"]}
            described = self.hook.describe(self.job, **ids)
            same = sorted(item["source"] for item in described["items"]) == wanted
            if (
                same
                and described["roleArn"] == request["roleArn"]
                and polling.verdict(self.job, described) != "failure"
            ):
                return ids
        return None


class OmicsStartVariantImportJobOperator(_AnalyticsImportOperator):
    """Import VCF files from S3 into a variant store (``StartVariantImportJob``)."""

    kind = "variant_import"


class OmicsStartAnnotationImportJobOperator(_AnalyticsImportOperator):
    """Import annotation files (GFF, TSV, VCF) from S3 into an annotation store (``StartAnnotationImportJob``)."""

    kind = "annotation_import"
