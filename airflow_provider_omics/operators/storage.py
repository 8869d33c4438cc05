"""Ingest and storage: sequence and reference stores, reference and read-set imports, activations, exports."""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.exceptions import ClientError

from airflow_provider_omics.errors import error_code
from airflow_provider_omics.operators.base import OmicsJobOperator, Started


class ReusableStoreMixin(OmicsJobOperator):
    """A store of the same name that exists already is reused, so a nightly DAG keeps one store.

    :param reuse_existing_store: reuse a store of the same name (default True). With False, a sequence or
        reference store is created anew (their names need not be unique); a variant or annotation store,
        whose name is unique, fails the task instead.
    """

    unique_names: ClassVar[bool] = True  # the service refuses a second store of the same name

    def __init__(self, *, reuse_existing_store: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reuse_existing_store = reuse_existing_store

    def find_store(self, name: str) -> dict[str, Any] | None:
        """The describe output of the store of that name, if there is one.

        A store identified by its name (variant, annotation) is described by it; stores with ids
        (sequence, reference) override this with a listing by name.
        """
        try:
            return self.hook.describe(self.job, name=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    def start(self, context: Any, chunk: int, request: dict[str, Any]) -> Started:
        found = self.find_store(request["name"])
        if found is None:
            return super().start(context, chunk, request)
        label = self.job.label if self.kind else "store"
        if not self.reuse_existing_store and self.unique_names:
            raise ValueError(
                f"{type(self).__name__} ({self.task_id}): a {label} named {request['name']!r} exists already and "
                "reuse_existing_store is False: choose another name"
            )
        if not self.reuse_existing_store:
            return super().start(context, chunk, request)
        ids = {k: found[k] for k in self.job.ids} if self.kind else {}
        self.log.info(
            "Reusing %s %r (%s): a store of that name exists already (reuse_existing_store=False creates another)",
            label,
            request["name"],
            found.get("id") or found.get("name"),
        )
        return Started(ids, found)


def _oldest(stores: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    usable = [s for s in stores if s.get("name") == name and s.get("status") not in ("DELETING", "FAILED")]
    return min(usable, key=lambda s: str(s.get("creationTime")), default=None)


class OmicsCreateSequenceStoreOperator(ReusableStoreMixin):
    """Create a sequence store and wait until it is ACTIVE (``CreateSequenceStore``). XCom: ``GetSequenceStore``.

    A sequence store of the same name is reused (``reuse_existing_store``).
    """

    kind = "sequence_store"
    unique_names = False

    def find_store(self, name: str) -> dict[str, Any] | None:
        found = _oldest(list(self.hook.list_sequence_stores(filter={"name": name})), name)
        return None if found is None else self.hook.describe(self.job, id=found["id"])


class OmicsCreateReferenceStoreOperator(ReusableStoreMixin):
    """Create a reference store (``CreateReferenceStore``; it is ready at once). XCom: its ``id``, ``arn``, ...

    A reference store of the same name is reused (``reuse_existing_store``).
    """

    operation = "CreateReferenceStore"
    unique_names = False

    def find_store(self, name: str) -> dict[str, Any] | None:
        found = _oldest(list(self.hook.list_reference_stores(filter={"name": name})), name)
        if found is None:
            return None
        described = self.hook.call("GetReferenceStore", id=found["id"])
        described.pop("ResponseMetadata", None)
        return described


class OmicsStartReferenceImportJobOperator(OmicsJobOperator):
    """Import FASTA references from S3 (``StartReferenceImportJob``). XCom: ``sources[i].referenceId``."""

    kind = "reference_import"
    split_member = "sources"


class OmicsStartReadSetImportJobOperator(OmicsJobOperator):
    """Import read sets (FASTQ, BAM, CRAM, uBAM) from S3 (``StartReadSetImportJob``).

    Any number of ``sources``: over the service's 100 per job, several jobs start and all are waited on;
    the XCom's ``sources`` lists every source with its ``readSetId``. A retry after COMPLETED_WITH_FAILURES
    imports only the sources that failed.
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
