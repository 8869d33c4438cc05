"""Ingest and storage: sequence and reference stores, reference and read-set imports, activations, exports."""

from __future__ import annotations

from airflow_provider_omics.operators.base import OmicsJobOperator


class OmicsCreateSequenceStoreOperator(OmicsJobOperator):
    """Create a sequence store and wait until it is ACTIVE (``CreateSequenceStore``). XCom: ``GetSequenceStore``."""

    kind = "sequence_store"


class OmicsCreateReferenceStoreOperator(OmicsJobOperator):
    """Create a reference store (``CreateReferenceStore``; it is ready at once). XCom: its ``id``, ``arn``, ..."""

    operation = "CreateReferenceStore"


class OmicsStartReferenceImportJobOperator(OmicsJobOperator):
    """Import FASTA references from S3 (``StartReferenceImportJob``). XCom: ``sources[i].referenceId``."""

    kind = "reference_import"


class OmicsStartReadSetImportJobOperator(OmicsJobOperator):
    """Import read sets (FASTQ, BAM, CRAM, uBAM) from S3 (``StartReadSetImportJob``).

    Any number of ``sources``: over the service's 100 per job, several jobs start and all are waited on;
    the XCom's ``sources`` lists every source with its ``readSetId``.
    """

    kind = "read_set_import"
    split_member = "sources"


class OmicsStartReadSetActivationJobOperator(OmicsJobOperator):
    """Activate archived read sets (``StartReadSetActivationJob``, 20 read sets per job, split as needed)."""

    kind = "read_set_activation"
    split_member = "sources"
    split_limit = 20


class OmicsStartReadSetExportJobOperator(OmicsJobOperator):
    """Export read sets to S3 (``StartReadSetExportJob``); any number of ``sources``, 100 per job."""

    kind = "read_set_export"
    split_member = "sources"
