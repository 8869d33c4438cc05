"""Record the shapes of the real service's answers published in the AWS CLI's HealthOmics examples.

The AWS CLI ships an example per command (``awscli/examples/omics/<command>.rst``), written by AWS from
real calls (ids and account numbers masked): the output of ``aws omics get-run``, ``list-read-sets``, ...
This script reads them from a checkout of https://github.com/aws/aws-cli and writes, for each output, its
shape (``tests/shapes.py``: keys, types, formats; no content) with where it came from, into
``tests/corpus/aws-cli/<Operation>[-n].json``. ``tests/test_corpus.py`` compares the emulator's answers
with them.

  python scripts/collect_corpus.py ~/src/aws-cli
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from shapes import answer_shape  # noqa: E402

EXAMPLES = "awscli/examples/omics"
OUT = ROOT / "tests" / "corpus" / "aws-cli"


def operation_names() -> dict[str, str]:
    """``get-run`` -> ``GetRun``, for every operation of botocore's omics model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("omics")
    return {re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower(): name for name in model.operation_names}


def outputs(text: str) -> list[dict]:
    """The JSON documents after each ``Output::`` of an example page (indented blocks)."""
    found = []
    for block in re.split(r"^Output::\s*$", text, flags=re.M)[1:]:
        lines = []
        for line in block.splitlines()[1:]:
            if line.strip() and not line.startswith((" ", "\t")):
                break
            lines.append(line)
        try:
            value = json.loads("\n".join(lines))
        except ValueError:
            continue  # an abridged output (``...``) is not a record of an answer
        if isinstance(value, dict) and value:
            found.append(value)
    return found


def main() -> None:
    checkout = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    names = operation_names()
    OUT.mkdir(parents=True, exist_ok=True)
    written = 0
    for page in sorted((checkout / EXAMPLES).glob("*.rst")):
        operation = names.get(page.stem)
        if operation is None:
            continue  # ``wait``: a CLI command, not an operation
        for number, output in enumerate(outputs(page.read_text()), start=1):
            path = f"{EXAMPLES}/{page.name}"
            record = {
                "operation": operation,
                "source": {
                    "repository": "aws/aws-cli",
                    "path": path,
                    "commit": commit,
                    "url": f"https://github.com/aws/aws-cli/blob/{commit}/{path}",
                },
                "shape": answer_shape(operation, output),
            }
            name = operation if number == 1 else f"{operation}-{number}"
            (OUT / f"{name}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
            written += 1
    print(f"{written} answers recorded in {OUT.relative_to(ROOT)} from aws/aws-cli@{commit[:12]}")


if __name__ == "__main__":
    main()
