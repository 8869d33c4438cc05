"""Every paginated ``omics`` list operation as a method of the hook: all items, page after page.

Written out (not made by ``__getattr__``) so that IDEs, ``help()`` and mypy know them; ``tests/test_hook.py``
checks that there is one per paginator of the installed botocore.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any


class PaginatedLists:
    """``list_<thing>(**params)``: every item of ``List<Thing>``, each page fetched with retries."""

    if TYPE_CHECKING:

        def paginate(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]: ...

    def list_annotation_import_jobs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListAnnotationImportJobs`` (its ``annotationImportJobs``), page after page."""
        return self.paginate("ListAnnotationImportJobs", **params)

    def list_annotation_store_versions(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListAnnotationStoreVersions`` (its ``annotationStoreVersions``), page after page."""
        return self.paginate("ListAnnotationStoreVersions", **params)

    def list_annotation_stores(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListAnnotationStores`` (its ``annotationStores``), page after page."""
        return self.paginate("ListAnnotationStores", **params)

    def list_batch(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListBatch`` (its ``items``), page after page."""
        return self.paginate("ListBatch", **params)

    def list_configurations(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListConfigurations`` (its ``items``), page after page."""
        return self.paginate("ListConfigurations", **params)

    def list_multipart_read_set_uploads(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListMultipartReadSetUploads`` (its ``uploads``), page after page."""
        return self.paginate("ListMultipartReadSetUploads", **params)

    def list_read_set_activation_jobs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReadSetActivationJobs`` (its ``activationJobs``), page after page."""
        return self.paginate("ListReadSetActivationJobs", **params)

    def list_read_set_export_jobs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReadSetExportJobs`` (its ``exportJobs``), page after page."""
        return self.paginate("ListReadSetExportJobs", **params)

    def list_read_set_import_jobs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReadSetImportJobs`` (its ``importJobs``), page after page."""
        return self.paginate("ListReadSetImportJobs", **params)

    def list_read_set_upload_parts(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReadSetUploadParts`` (its ``parts``), page after page."""
        return self.paginate("ListReadSetUploadParts", **params)

    def list_read_sets(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReadSets`` (its ``readSets``), page after page."""
        return self.paginate("ListReadSets", **params)

    def list_reference_import_jobs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReferenceImportJobs`` (its ``importJobs``), page after page."""
        return self.paginate("ListReferenceImportJobs", **params)

    def list_reference_stores(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReferenceStores`` (its ``referenceStores``), page after page."""
        return self.paginate("ListReferenceStores", **params)

    def list_references(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListReferences`` (its ``references``), page after page."""
        return self.paginate("ListReferences", **params)

    def list_run_caches(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListRunCaches`` (its ``items``), page after page."""
        return self.paginate("ListRunCaches", **params)

    def list_run_groups(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListRunGroups`` (its ``items``), page after page."""
        return self.paginate("ListRunGroups", **params)

    def list_run_tasks(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListRunTasks`` (its ``items``), page after page."""
        return self.paginate("ListRunTasks", **params)

    def list_runs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListRuns`` (its ``items``), page after page."""
        return self.paginate("ListRuns", **params)

    def list_runs_in_batch(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListRunsInBatch`` (its ``runs``), page after page."""
        return self.paginate("ListRunsInBatch", **params)

    def list_sequence_stores(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListSequenceStores`` (its ``sequenceStores``), page after page."""
        return self.paginate("ListSequenceStores", **params)

    def list_shares(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListShares`` (its ``shares``), page after page."""
        return self.paginate("ListShares", **params)

    def list_variant_import_jobs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListVariantImportJobs`` (its ``variantImportJobs``), page after page."""
        return self.paginate("ListVariantImportJobs", **params)

    def list_variant_stores(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListVariantStores`` (its ``variantStores``), page after page."""
        return self.paginate("ListVariantStores", **params)

    def list_workflow_versions(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListWorkflowVersions`` (its ``items``), page after page."""
        return self.paginate("ListWorkflowVersions", **params)

    def list_workflows(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of ``ListWorkflows`` (its ``items``), page after page."""
        return self.paginate("ListWorkflows", **params)
