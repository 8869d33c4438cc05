"""Variant and annotation stores, annotation store versions, their import jobs, shares and tags."""

from __future__ import annotations

import uuid
from typing import Any

from .base import ACCOUNT_ID, BaseBackend, Record, conflict, invalid, not_found, now

JOB_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "COMPLETED_WITH_FAILURES"}
_FORMATS = {"VCF": (b"##fileformat=VCF",), "GFF": (b"##gff-version",), "TSV": ()}


class AnalyticsModel(BaseBackend):
    # ---- stores --------------------------------------------------------------------------------
    def _new_store(self, kind: str, p: dict[str, Any], **extra: Any) -> Record:
        name = p.get("name") or f"store_{self.numeric_id(6)}"
        if name in self.table(kind):
            raise conflict(f"A store named {name} already exists")
        store_type = "variantStore" if kind == "variant_store" else "annotationStore"
        store = {
            "id": self.uuid().replace("-", "")[:12],
            "name": name,
            # a union the service always fills: stores made without one (GFF, TSV) point at no real reference
            "reference": p.get("reference")
            or {"referenceArn": self.arn("referenceStore/0000000000/reference/0000000000")},
            "status": "CREATING",
            "statusMessage": "",
            "storeArn": self.arn(f"{store_type}/{name}"),
            "description": p.get("description") or "",
            "sseConfig": p.get("sseConfig") or {"type": "KMS"},
            "creationTime": now(),
            "updateTime": now(),
            "tags": p.get("tags") or {},
            "storeSizeBytes": 0,
            **extra,
        }
        self.add(kind, store, key="name")
        self.schedule(kind, store, ["ACTIVE"])
        return store

    def _store(self, kind: str, name: str) -> Record:
        return self.get(kind, name, "Variant store" if kind == "variant_store" else "Annotation store")

    def _delete_store(self, kind: str, p: dict[str, Any]) -> Record:
        store = self._store(kind, p["name"])
        active = [
            j
            for j in self.records(kind.replace("store", "import"), destinationName=p["name"])
            if j["status"] not in JOB_TERMINAL
        ]
        if active and not p.get("force"):
            raise conflict(f"Store {p['name']} has import jobs in progress; pass force=true to delete it anyway")
        self.delete(kind, p["name"])
        return {"status": "DELETING", **{k: v for k, v in store.items() if k != "status"}}

    def _update_store(self, kind: str, p: dict[str, Any]) -> Record:
        store = self._store(kind, p["name"])
        if "description" in p:
            store.update(description=p["description"], updateTime=now())
        return store

    def create_variant_store(self, p: dict[str, Any]) -> Record:
        return self._new_store("variant_store", p)

    def get_variant_store(self, p: dict[str, Any]) -> Record:
        return self._store("variant_store", p["name"])

    def list_variant_stores(self, p: dict[str, Any]) -> Record:
        return {"variantStores": self._filtered("variant_store", p)}

    def update_variant_store(self, p: dict[str, Any]) -> Record:
        return self._update_store("variant_store", p)

    def delete_variant_store(self, p: dict[str, Any]) -> Record:
        return self._delete_store("variant_store", p)

    def create_annotation_store(self, p: dict[str, Any]) -> Record:
        version = p.get("versionName") or "default"
        store = self._new_store(
            "annotation_store",
            p,
            storeFormat=p["storeFormat"],
            storeOptions=p.get("storeOptions"),
            versionName=version,
            numVersions=1,
        )
        self._new_version(store, {"versionName": version, "description": store["description"]})
        return store

    def get_annotation_store(self, p: dict[str, Any]) -> Record:
        store = self._store("annotation_store", p["name"])
        store["numVersions"] = len(self.records("annotation_store_version", name=p["name"]))
        return store

    def list_annotation_stores(self, p: dict[str, Any]) -> Record:
        return {"annotationStores": self._filtered("annotation_store", p)}

    def update_annotation_store(self, p: dict[str, Any]) -> Record:
        return self._update_store("annotation_store", p)

    def delete_annotation_store(self, p: dict[str, Any]) -> Record:
        for version in self.records("annotation_store_version", name=p["name"]):
            self.delete("annotation_store_version", version["_key"])
        return self._delete_store("annotation_store", p)

    def _filtered(self, kind: str, p: dict[str, Any]) -> list[Record]:
        ids = p.get("ids")
        records = self.records(kind, status=(p.get("filter") or {}).get("status"))
        return [r for r in records if not ids or r["id"] in ids or r["name"] in ids]

    # ---- annotation store versions ----------------------------------------------------------------
    def _new_version(self, store: Record, p: dict[str, Any]) -> Record:
        key = f"{store['name']}/{p['versionName']}"
        if key in self.table("annotation_store_version"):
            raise conflict(f"Annotation store {store['name']} already has a version {p['versionName']}")
        version = {
            "_key": key,
            "id": self.uuid().replace("-", "")[:12],
            "storeId": store["id"],
            "name": store["name"],
            "versionName": p["versionName"],
            "versionArn": f"{store['storeArn']}/version/{p['versionName']}",
            "description": p.get("description") or "",
            "versionOptions": p.get("versionOptions"),
            "status": "CREATING",
            "statusMessage": "",
            "creationTime": now(),
            "updateTime": now(),
            "tags": p.get("tags") or {},
            "versionSizeBytes": 0,
        }
        self.add("annotation_store_version", version, key="_key")
        self.schedule("annotation_store_version", version, ["ACTIVE"])
        return version

    def create_annotation_store_version(self, p: dict[str, Any]) -> Record:
        store = self._store("annotation_store", p["name"])
        if store["status"] != "ACTIVE":
            raise invalid(f"Annotation store {p['name']} is {store['status']}, not ACTIVE")
        return self._new_version(store, p)

    def get_annotation_store_version(self, p: dict[str, Any]) -> Record:
        return self.get("annotation_store_version", f"{p['name']}/{p['versionName']}", "Annotation store version")

    def list_annotation_store_versions(self, p: dict[str, Any]) -> Record:
        self._store("annotation_store", p["name"])
        status = (p.get("filter") or {}).get("status")
        return {"annotationStoreVersions": self.records("annotation_store_version", name=p["name"], status=status)}

    def update_annotation_store_version(self, p: dict[str, Any]) -> Record:
        version = self.get_annotation_store_version(p)
        if "description" in p:
            version.update(description=p["description"], updateTime=now())
        return version

    def delete_annotation_store_versions(self, p: dict[str, Any]) -> Record:
        errors = []
        for name in p["versions"]:
            key = f"{p['name']}/{name}"
            if key in self.table("annotation_store_version"):
                self.delete("annotation_store_version", key)
            else:
                errors.append({"versionName": name, "message": f"Version {name} not found"})
        return {"errors": errors}

    # ---- import jobs ---------------------------------------------------------------------------
    def _start_import(self, kind: str, store_kind: str, p: dict[str, Any], **extra: Any) -> Record:
        store = self._store(store_kind, p["destinationName"])
        if store["status"] != "ACTIVE":
            raise invalid(f"Store {p['destinationName']} is {store['status']}, not ACTIVE")
        job = {
            "id": self.uuid(),
            "destinationName": p["destinationName"],
            "roleArn": p["roleArn"],
            "status": "SUBMITTED",
            "statusMessage": "",
            "creationTime": now(),
            "updateTime": now(),
            "completionTime": None,
            "items": [{"source": item["source"], "jobStatus": "SUBMITTED"} for item in p["items"]],
            "runLeftNormalization": p.get("runLeftNormalization", False),
            "annotationFields": p.get("annotationFields"),
            "_names": [p["destinationName"]],
            **extra,
        }
        self.add(kind, job)
        store_format = store.get("storeFormat", "VCF")

        def started(record: Record) -> None:
            for item in record["items"]:
                item["jobStatus"] = "IN_PROGRESS"

        def finish(record: Record) -> str:
            for item in record["items"]:
                data = self.s3.read(item["source"])
                magic = _FORMATS.get(store_format, ())
                if data is None:
                    item.update(
                        jobStatus="FAILED",
                        statusMessage=f"Source {item['source']} could not be read: NoSuchKey",
                    )
                elif magic and not data.lstrip().startswith(magic):
                    item.update(
                        jobStatus="FAILED",
                        statusMessage=f"Source {item['source']} is not a {store_format} file",
                    )
                else:
                    item.update(jobStatus="COMPLETED", statusMessage="")
                    store["storeSizeBytes"] = store.get("storeSizeBytes", 0) + len(data)
            failed = [i for i in record["items"] if i["jobStatus"] == "FAILED"]
            if not failed:
                return "COMPLETED"
            record["statusMessage"] = f"{len(failed)} of {len(record['items'])} items failed"
            return "FAILED" if len(failed) == len(record["items"]) else "COMPLETED_WITH_FAILURES"

        self.schedule(kind, job, [("IN_PROGRESS", started), ("COMPLETED", finish)])
        return {"jobId": job["id"]}

    def _cancel_import(self, kind: str, job_id: str) -> Record:
        job = self.get(kind, job_id, "Import job")
        if job["status"] in JOB_TERMINAL:
            raise conflict(f"Import job {job_id} is {job['status']} and cannot be cancelled")
        self.cancel_steps(kind, job_id)
        self.set_status(job, "CANCELLED", "Cancelled by request", final=True)
        for item in job["items"]:
            if item["jobStatus"] not in JOB_TERMINAL:
                item["jobStatus"] = "CANCELLED"
        return {}

    def _list_imports(self, kind: str, p: dict[str, Any]) -> list[Record]:
        flt = p.get("filter") or {}
        ids = p.get("ids")
        jobs = self.records(kind, status=flt.get("status"), destinationName=flt.get("storeName"))
        return [j for j in jobs if not ids or j["id"] in ids]

    def start_variant_import_job(self, p: dict[str, Any]) -> Record:
        return self._start_import("variant_import", "variant_store", p)

    def get_variant_import_job(self, p: dict[str, Any]) -> Record:
        return self.get("variant_import", p["jobId"], "Import job")

    def list_variant_import_jobs(self, p: dict[str, Any]) -> Record:
        return {"variantImportJobs": self._list_imports("variant_import", p)}

    def cancel_variant_import_job(self, p: dict[str, Any]) -> Record:
        return self._cancel_import("variant_import", p["jobId"])

    def start_annotation_import_job(self, p: dict[str, Any]) -> Record:
        store = self._store("annotation_store", p["destinationName"])
        version = p.get("versionName") or store["versionName"]
        self.get_annotation_store_version({"name": p["destinationName"], "versionName": version})
        return self._start_import(
            "annotation_import",
            "annotation_store",
            p,
            versionName=version,
            # a union: exactly one member, as the store's format implies
            formatOptions=p.get("formatOptions")
            or {"vcfOptions" if store["storeFormat"] == "VCF" else "tsvOptions": {}},
        )

    def get_annotation_import_job(self, p: dict[str, Any]) -> Record:
        return self.get("annotation_import", p["jobId"], "Import job")

    def list_annotation_import_jobs(self, p: dict[str, Any]) -> Record:
        return {"annotationImportJobs": self._list_imports("annotation_import", p)}

    def cancel_annotation_import_job(self, p: dict[str, Any]) -> Record:
        return self._cancel_import("annotation_import", p["jobId"])

    # ---- shares --------------------------------------------------------------------------------
    def create_share(self, p: dict[str, Any]) -> Record:
        self._by_arn(p["resourceArn"])
        share = {
            "shareId": f"{uuid.uuid4().hex}-{uuid.uuid4().hex}",  # the service's: two hex halves
            "resourceArn": p["resourceArn"],
            "resourceId": p["resourceArn"].rsplit("/", 1)[-1],
            "principalSubscriber": p["principalSubscriber"],
            "ownerId": ACCOUNT_ID,
            "status": "PENDING",
            "statusMessage": "",
            "shareName": p.get("shareName"),
            "creationTime": now(),
            "updateTime": now(),
        }
        return self.add("share", share, key="shareId")

    def get_share(self, p: dict[str, Any]) -> Record:
        return {"share": self.get("share", p["shareId"], "Share")}

    def list_shares(self, p: dict[str, Any]) -> Record:
        flt = p.get("filter") or {}
        shares = [
            s
            for s in self.records("share")
            if (not flt.get("resourceArns") or s["resourceArn"] in flt["resourceArns"])
            and (not flt.get("status") or s["status"] in flt["status"])
        ]
        return {"shares": shares}

    def accept_share(self, p: dict[str, Any]) -> Record:
        share = self.get("share", p["shareId"], "Share")
        if share["status"] != "PENDING":
            raise conflict(f"Share {p['shareId']} is {share['status']}, not PENDING")
        self.set_status(share, "ACTIVATING")
        self.schedule("share", share, ["ACTIVE"])
        return {"status": share["status"]}

    def delete_share(self, p: dict[str, Any]) -> Record:
        share = self.get("share", p["shareId"], "Share")
        self.set_status(share, "DELETING")
        self.schedule("share", share, ["DELETED"])
        return {"status": share["status"]}

    # ---- tags ----------------------------------------------------------------------------------
    def _by_arn(self, arn: str) -> Record:
        for table in self.tables.values():
            for record in table.values():
                if arn in (record.get("arn"), record.get("storeArn"), record.get("versionArn")):
                    return record
        raise not_found("Resource", arn)

    def tag_resource(self, p: dict[str, Any]) -> Record:
        record = self._by_arn(p["resourceArn"])
        record["tags"] = {**(record.get("tags") or {}), **p["tags"]}
        return {}

    def untag_resource(self, p: dict[str, Any]) -> Record:
        record = self._by_arn(p["resourceArn"])
        record["tags"] = {k: v for k, v in (record.get("tags") or {}).items() if k not in p["tagKeys"]}
        return {}

    def list_tags_for_resource(self, p: dict[str, Any]) -> Record:
        return {"tags": self._by_arn(p["resourceArn"]).get("tags") or {}}
