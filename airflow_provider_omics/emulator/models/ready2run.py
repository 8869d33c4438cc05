"""A Ready2Run catalogue: workflows AWS publishes, listed with ``ListWorkflows(type="READY2RUN")``.

Shaped like the service's (names, parameter templates with descriptions and optional flags, tasks),
so DAGs that start Ready2Run runs (``workflowType="READY2RUN"``) can be tested offline. The ids are
the emulator's own.
"""

from __future__ import annotations

from typing import Any

CATALOGUE: list[dict[str, Any]] = [
    {
        "id": "9500764",
        "name": "GATK-BP Germline fq2vcf for 30x genome",
        "description": "Germline variant calling from paired FASTQ to VCF, GATK Best Practices",
        "engine": "WDL",
        "parameterTemplate": {
            "sample_name": {"description": "Sample name, used for the output files"},
            "fastq_pairs": {"description": "List of {read_group, fastq_1, fastq_2, platform} objects"},
        },
        "tasks": ["BwaMem", "MarkDuplicates", "BaseRecalibrator", "HaplotypeCaller"],
    },
    {
        "id": "4885129",
        "name": "NVIDIA Parabricks FQ2BAM WGS for up to 50X",
        "description": "Alignment, sorting and duplicate marking of a whole genome on GPUs",
        "engine": "WDL",
        "parameterTemplate": {
            "inputFASTQ_1": {"description": "Read 1 FASTQ"},
            "inputFASTQ_2": {"description": "Read 2 FASTQ"},
            "sampleName": {"description": "Sample name"},
            "readGroupName": {"description": "Read group", "optional": True},
        },
        "tasks": ["fq2bam"],
    },
    {
        "id": "1830181",
        "name": "AlphaFold for up to 600 residues",
        "description": "Protein structure prediction for sequences of up to 600 residues",
        "engine": "NEXTFLOW",
        "parameterTemplate": {"fasta_path": {"description": "Protein sequence(s) in FASTA"}},
        "tasks": ["SearchTemplates", "SearchMSAs", "RunAlphaFold"],
    },
]


def workflows(region: str) -> list[dict[str, Any]]:
    """The catalogue as workflow records: AWS owns them, so their ARNs name no account."""
    return [
        {
            "id": entry["id"],
            "arn": f"arn:aws:omics:{region}::workflow/{entry['id']}",
            "name": entry["name"],
            "description": entry["description"],
            "type": "READY2RUN",
            "status": "ACTIVE",
            "engine": entry["engine"],
            "parameterTemplate": entry["parameterTemplate"],
            "storageType": "DYNAMIC",
            "digest": f"sha256:ready2run-{entry['id']}",
            "uuid": f"ready2run-{entry['id']}",
            "tags": {},
            "metadata": {},
            "_tasks": [{"name": name, "outputs": []} for name in entry["tasks"]],
        }
        for entry in CATALOGUE
    ]
