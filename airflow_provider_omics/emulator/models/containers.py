"""Where a run's task pulls its container from, and why it could not: private ECR in the run's region, directly
or through the workflow's container registry map (the user guide's "Container images for private workflows" and
"Amazon ECR permissions"; the failure reasons are its "Run failure reasons").

The emulator has no pull through cache: an image an upstream registry mapping names must be in the mapped
repository already, as after its first pull.
"""

from __future__ import annotations

import re
from typing import Any

from .. import iam, moto_adapter

ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[a-z0-9][a-z0-9._/-]*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
DOCKER_HUB = ("registry-1.docker.io", "docker.io", "index.docker.io")
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

INVALID_URI = "The Amazon ECR image URI structure isn't valid. Provide a valid URI and try again."
NO_PERMISSION = (
    "HealthOmics doesn't have permission to access the image URI. Confirm that the Amazon ECR private repository "
    "exists and has granted access to the HealthOmics service principal."
)


def upstream(image: str) -> tuple[str, str]:
    """An image reference's registry and path, as docker reads it (``ubuntu`` is Docker Hub's ``library/ubuntu``)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB[0], image if rest else f"library/{image}"


def mapped(image: str, registry_map: dict[str, Any] | None, account: str, region: str) -> str | None:
    """The private ECR URI an image is pulled from: itself, or what the registry map makes of it; None if neither."""
    if ECR_URI.match(image):
        return image
    registry_map = registry_map or {}
    for mapping in registry_map.get("imageMappings") or []:
        if mapping.get("sourceImage") == image:
            return str(mapping.get("destinationImage"))
    registry, path = upstream(image)
    for mapping in registry_map.get("registryMappings") or []:
        url = mapping.get("upstreamRegistryUrl")
        if url == registry or (url in DOCKER_HUB and registry in DOCKER_HUB):
            prefix = mapping.get("upstreamRepositoryPrefix")
            if prefix and not path.startswith(f"{prefix}/"):
                continue
            rest = path[len(prefix) + 1 :] if prefix else path
            owner = mapping.get("ecrAccountId") or account
            return f"{owner}.dkr.ecr.{region}.amazonaws.com/{mapping['ecrRepositoryPrefix']}/{rest}"
    return None


def pull(image: str, registry_map: dict[str, Any] | None, account: str, region: str) -> tuple[str | None, str]:
    """``(None, digest)`` when the service can pull the image, else ``(failure reason, message)``."""
    uri = mapped(image, registry_map, account, region)
    found = ECR_URI.match(uri or "")
    if found is None:
        return "INVALID_ECR_IMAGE_URI", INVALID_URI
    if found["region"] != region:
        return "ECR_PERMISSION_ERROR", NO_PERMISSION
    reference = found["digest"] or found["tag"] or "latest"
    digest, policy = moto_adapter.ecr_image(found["account"], region, found["repository"], reference)
    if policy is False or not iam.grants_service(policy or {}, PULL_ACTIONS):
        return "ECR_PERMISSION_ERROR", NO_PERMISSION
    if digest is None:
        return "CANNOT_START_CONTAINER_ERROR", image
    return None, digest
