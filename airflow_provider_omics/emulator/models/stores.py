"""Sequence and reference stores, and their S3 access policies."""

from __future__ import annotations

from typing import Any

from .base import ACCOUNT_ID, BaseBackend, Record, conflict, invalid, not_found, now


def in_range(record: Record, flt: dict[str, Any]) -> bool:
    created = record.get("creationTime")
    after, before = flt.get("createdAfter"), flt.get("createdBefore")
    return not ((after and created < after) or (before and created > before))


class StoreModel(BaseBackend):
    # ---- sequence stores -----------------------------------------------------------------------
    def create_sequence_store(self, p: dict[str, Any]) -> Record:
        def create() -> Record:
            ident = self.numeric_id()
            store = {
                "id": ident,
                "arn": self.arn(f"sequenceStore/{ident}"),
                "name": p["name"],
                "description": p.get("description"),
                "sseConfig": p.get("sseConfig") or {"type": "KMS", "keyArn": self.kms_key_arn()},
                "creationTime": now(),
                "updateTime": now(),
                "fallbackLocation": p.get("fallbackLocation"),
                "eTagAlgorithmFamily": p.get("eTagAlgorithmFamily", "MD5up"),
                "status": "CREATING",
                "statusMessage": "",
                "tags": p.get("tags") or {},
                "propagatedSetLevelTags": p.get("propagatedSetLevelTags"),
                "s3Access": {
                    "s3Uri": f"s3://{ident}-{self.region}-omics-store/{ACCOUNT_ID}/sequenceStore/{ident}/",
                    "s3AccessPointArn": f"arn:aws:s3:{self.region}:{ACCOUNT_ID}:accesspoint/{ident}",
                },
            }
            self.add("sequence_store", store)
            self.schedule("sequence_store", store, ["ACTIVE"])
            return store

        return self.once("CreateSequenceStore", p.get("clientToken"), create)

    def kms_key_arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/omics-owned"

    def get_sequence_store(self, p: dict[str, Any]) -> Record:
        return self.get("sequence_store", p["id"], "Sequence store")

    def list_sequence_stores(self, p: dict[str, Any]) -> Record:
        flt = p.get("filter") or {}
        stores = [
            s
            for s in self.records("sequence_store", name=flt.get("name"), status=flt.get("status"))
            if in_range(s, flt)
        ]
        return {"sequenceStores": stores}

    def update_sequence_store(self, p: dict[str, Any]) -> Record:
        store = self.get_sequence_store(p)
        for key in ("name", "description", "fallbackLocation", "propagatedSetLevelTags"):
            if key in p:
                store[key] = p[key]
        store["updateTime"] = now()
        return store

    def delete_sequence_store(self, p: dict[str, Any]) -> Record:
        if self.records("read_set", sequenceStoreId=p["id"]):
            raise conflict(f"Sequence store {p['id']} still holds read sets; delete them first")
        self.delete("sequence_store", p["id"], "Sequence store")
        return {}

    def _active_sequence_store(self, ident: str) -> Record:
        store = self.get("sequence_store", ident, "Sequence store")
        if store["status"] != "ACTIVE":
            raise invalid(f"Sequence store {ident} is {store['status']}, not ACTIVE")
        return store

    # ---- reference stores ----------------------------------------------------------------------
    def create_reference_store(self, p: dict[str, Any]) -> Record:
        def create() -> Record:
            ident = self.numeric_id()
            store = {
                "id": ident,
                "arn": self.arn(f"referenceStore/{ident}"),
                "name": p["name"],
                "description": p.get("description"),
                "sseConfig": p.get("sseConfig") or {"type": "KMS", "keyArn": self.kms_key_arn()},
                "creationTime": now(),
                "tags": p.get("tags") or {},
            }
            return self.add("reference_store", store)

        return self.once("CreateReferenceStore", p.get("clientToken"), create)

    def get_reference_store(self, p: dict[str, Any]) -> Record:
        return self.get("reference_store", p["id"], "Reference store")

    def list_reference_stores(self, p: dict[str, Any]) -> Record:
        flt = p.get("filter") or {}
        stores = [s for s in self.records("reference_store", name=flt.get("name")) if in_range(s, flt)]
        return {"referenceStores": stores}

    def delete_reference_store(self, p: dict[str, Any]) -> Record:
        if self.records("reference", referenceStoreId=p["id"]):
            raise conflict(f"Reference store {p['id']} still holds references; delete them first")
        self.delete("reference_store", p["id"], "Reference store")
        return {}

    # ---- S3 access policies --------------------------------------------------------------------
    def put_s3_access_policy(self, p: dict[str, Any]) -> Record:
        store = next(
            (s for s in self.records("sequence_store") if s["s3Access"]["s3AccessPointArn"] == p["s3AccessPointArn"]),
            None,
        )
        if store is None:
            raise not_found("Access point", p["s3AccessPointArn"])
        policy = {
            "s3AccessPointArn": p["s3AccessPointArn"],
            "storeId": store["id"],
            "storeType": "SEQUENCE_STORE",
            "updateTime": now(),
            "s3AccessPolicy": p["s3AccessPolicy"],
        }
        self.add("s3_access_policy", policy, key="s3AccessPointArn")
        return policy

    def get_s3_access_policy(self, p: dict[str, Any]) -> Record:
        return self.get("s3_access_policy", p["s3AccessPointArn"], "S3 access policy for")

    def delete_s3_access_policy(self, p: dict[str, Any]) -> Record:
        self.delete("s3_access_policy", p["s3AccessPointArn"], "S3 access policy for")
        return {}
