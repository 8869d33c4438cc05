"""Shares: offering a resource (a workflow, a variant or annotation store) to another account, and accepting one.

A share is PENDING from its creation until the subscriber accepts it (ACTIVATING, then ACTIVE). The
service model has no CREATING status: ``CreateShare`` answers with the share already PENDING.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_omics.operators.base import OmicsJobOperator, Started


class _ShareOperator(OmicsJobOperator):
    """The XCom of a share: ``GetShare``'s ``share``."""

    def result(self, described: list[dict[str, Any]], carried: list[list[dict[str, Any]]] | None = None) -> Any:
        return super().result([each.get("share", each) for each in described], carried)


class OmicsCreateShareOperator(_ShareOperator):
    """Share a resource (``resource_arn``) with an account (``principal_subscriber``).

    By default the task ends once the share is offered (PENDING): acceptance is the subscriber's, maybe in
    days. ``wait_for_completion=True`` waits until it is accepted (ACTIVE). A retry, or a share already
    offered for the same resource, subscriber and name, reuses that share instead of offering a second.

    Returns (XCom) ``GetShare``'s ``share`` (``shareId``, ``status``, ...), whose ``shareId`` the subscriber's
    ``OmicsAcceptShareOperator`` takes.
    """

    kind = "share"

    def __init__(self, *, wait_for_completion: bool = False, **kwargs: Any) -> None:
        super().__init__(wait_for_completion=wait_for_completion, **kwargs)

    def start_without_token(self, context: Any, request: dict[str, Any]) -> Started:
        wanted = (request["principalSubscriber"], request.get("shareName"))
        listed = self.hook.paginate(
            "ListShares", resourceOwner="SELF", filter={"resourceArns": [request["resourceArn"]]}
        )
        for share in listed:
            same = (share.get("principalSubscriber"), share.get("shareName")) == wanted
            if same and share.get("status") not in self.job.failure_states:
                self.log.info(
                    "Share %s of this resource with %s exists already: reusing it", share["shareId"], wanted[0]
                )
                ids = {"shareId": share["shareId"]}
                return Started(ids, self.hook.describe(self.job, **ids))
        return super().start_without_token(context, request)


class OmicsAcceptShareOperator(_ShareOperator):
    """Accept a share offered to this account (``share_id``) and wait until it is ACTIVE. A share accepted
    already (by an earlier try) is not an error: the task waits for it like any other.

    Returns (XCom) ``GetShare``'s ``share``.
    """

    kind = "share"
    operation = "AcceptShare"

    def start_without_token(self, context: Any, request: dict[str, Any]) -> Started:
        ids = {"shareId": request["shareId"]}
        described = self.hook.describe(self.job, **ids)
        if self.job.status_of(described) != "PENDING":
            self.log.info(
                "Share %s is %s already: not accepting it again", ids["shareId"], self.job.status_of(described)
            )
            return Started(ids, described)
        self.hook.call(self.operation, **request)
        return Started(ids, self.hook.describe(self.job, **ids))
