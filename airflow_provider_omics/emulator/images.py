"""Container images in the emulator's private ECR (moto's), as ``docker push`` leaves them.

The emulator runs no containers, but a run pulls each task's image as the service does (``models/containers.py``):
a test, the demo or a user's own DAG test puts the images its workflow names here first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

# The repository policy HealthOmics needs to pull an image (the user guide's "Amazon ECR permissions").
SERVICE_PULL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "omics workflow access",
            "Effect": "Allow",
            "Principal": {"Service": "omics.amazonaws.com"},
            "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"],
        }
    ],
}


def push(ecr: Any, uri: str, service_may_pull: bool = True) -> str:
    """An image (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``) through an ECR client of the
    emulator; ``service_may_pull`` gives its repository ``SERVICE_PULL_POLICY``. Returns the image's digest."""
    repository, _, tag = uri.split("/", 1)[1].partition(":")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    if service_may_pull:
        ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps(SERVICE_PULL_POLICY))
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": f"sha256:{hashlib.sha256(uri.encode()).hexdigest()}", "size": 1},
        "layers": [],
    }
    pushed = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag or "latest")
    return str(pushed["image"]["imageId"]["imageDigest"])
