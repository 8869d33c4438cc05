"""The kinds of things the emulator keeps, each with the operation that describes it and its statuses.

The statuses come from botocore's model (the enum of the describe output's status member), not from
the provider's job table: the emulator must be able to disagree with the provider, so that a test
catches the provider's mistakes (``tests/test_jobs.py`` checks that the two agree).
"""

from __future__ import annotations

from functools import cache

from airflow_provider_omics.service_model import operation

# kind -> (the describe operation, the path of the status in its output)
DESCRIBED_BY: dict[str, tuple[str, tuple[str, ...]]] = {
    "read_set_import": ("GetReadSetImportJob", ("status",)),
    "read_set_export": ("GetReadSetExportJob", ("status",)),
    "read_set_activation": ("GetReadSetActivationJob", ("status",)),
    "reference_import": ("GetReferenceImportJob", ("status",)),
    "run": ("GetRun", ("status",)),
    "run_task": ("GetRunTask", ("status",)),
    "run_batch": ("GetBatch", ("status",)),
    "workflow": ("GetWorkflow", ("status",)),
    "workflow_version": ("GetWorkflowVersion", ("status",)),
    "sequence_store": ("GetSequenceStore", ("status",)),
    "variant_store": ("GetVariantStore", ("status",)),
    "annotation_store": ("GetAnnotationStore", ("status",)),
    "annotation_store_version": ("GetAnnotationStoreVersion", ("status",)),
    "variant_import": ("GetVariantImportJob", ("status",)),
    "annotation_import": ("GetAnnotationImportJob", ("status",)),
    "share": ("GetShare", ("share", "status")),
    "read_set": ("GetReadSetMetadata", ("status",)),
    "reference": ("GetReferenceMetadata", ("status",)),
    "run_cache": ("GetRunCache", ("status",)),
    "configuration": ("GetConfiguration", ("status",)),
}


@cache
def statuses(kind: str) -> frozenset[str]:
    """Every status botocore's model allows a thing of ``kind``."""
    describe, path = DESCRIBED_BY[kind]
    shape = operation(describe).output_shape
    for member in path:
        shape = shape.members[member]
    return frozenset(shape.enum)
