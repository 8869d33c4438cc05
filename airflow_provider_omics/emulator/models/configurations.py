"""Run configurations (VPC networking for runs)."""

from __future__ import annotations

from typing import Any

from .base import (
    BaseBackend,
    Record,
    conflict,
    now,
)


class ConfigurationModel(BaseBackend):
    def create_configuration(self, p: dict[str, Any]) -> Record:
        if p["name"] in self.table("configuration") and ("CreateConfiguration", p["requestId"]) not in self.tokens:
            raise conflict(f"Configuration {p['name']} already exists")

        def create() -> Record:
            config = {
                "id": p["name"],
                "arn": self.arn(f"configuration/{p['name']}"),
                "uuid": self.uuid(),
                "name": p["name"],
                "description": p.get("description"),
                "runConfigurations": p["runConfigurations"],
                "status": "CREATING",
                "creationTime": now(),
                "tags": p.get("tags") or {},
            }
            self.add("configuration", config)
            self.schedule("configuration", config, ["ACTIVE"])
            return config

        return self.once("CreateConfiguration", p["requestId"], create)

    def get_configuration(self, p: dict[str, Any]) -> Record:
        return self.get("configuration", p["name"], "Configuration")

    def list_configurations(self, p: dict[str, Any]) -> Record:
        return {"items": self.records("configuration")}

    def delete_configuration(self, p: dict[str, Any]) -> Record:
        config = self.get_configuration(p)
        self.set_status(config, "DELETING")
        self.schedule("configuration", config, ["DELETED"])
        return {}
