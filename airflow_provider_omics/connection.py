"""Which AWS connection a task talks through: one value, handed from an operator or sensor to its trigger."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AwsSettings:
    """``AwsBaseOperator``'s connection arguments, as a trigger serializes them and makes its hook from them."""

    aws_conn_id: str | None = "aws_default"
    region_name: str | None = None
    verify: bool | str | None = None
    botocore_config: dict[str, Any] | None = None

    @classmethod
    def of(cls, task: Any) -> AwsSettings:
        return cls(task.aws_conn_id, task.region_name, task.verify, task.botocore_config)

    def hook_kwargs(self) -> dict[str, Any]:
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "config": self.botocore_config,
        }

    def key(self) -> tuple[Any, ...]:
        """What tells two connections apart (waits of one share a status source)."""
        return (self.aws_conn_id, self.region_name, str(self.verify), json.dumps(self.botocore_config, sort_keys=True))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
