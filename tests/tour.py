"""A tour of the whole emulated service with a plain boto3 client: every operation, in a realistic order.

It returns the parsed response of each operation, for the conformance test, and asserts along the way
what a user of the real service would see.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from waiting import status_in, until

ROLE = "arn:aws:iam::123456789012:role/OmicsServiceRole"
FASTQ_1 = b"@r1/1\nACGTACGTAC\n+\nIIIIIIIIII\n@r2/1\nTTGCAACGTA\n+\nIIIIIIIIII\n"
FASTQ_2 = b"@r1/2\nGTACGTACGT\n+\nIIIIIIIIII\n@r2/2\nTACGTTGCAA\n+\nIIIIIIIIII\n"
FASTA = b">chr1\nACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n"
VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t5\t.\tA\tG\t50\tPASS\t.\n"
GFF = b"##gff-version 3\nchr1\tsrc\tgene\t1\t30\t.\t+\t.\tID=gene1\n"
WDL = b"""version 1.0
workflow align_and_call {
  input { File? reads  String sample_name = "sample" }
  call align { input: reads = reads }
  call call_variants { input: bam = align.bam, sample_name = sample_name }
}
task align {
  input { File? reads }
  command { echo align }
  output { File bam = "aligned.bam" }
}
task call_variants {
  input { File bam  String sample_name }
  command { echo call }
  output { File vcf = "~{sample_name}.vcf" }
}
"""


# A plate's workflow: three tasks that reserve different instances, for right-sizing.
PLATE_WDL = b"""version 1.0
workflow plate {
  input { String sample_name = "s1" }
  call align { input: sample_name = sample_name }
  call call_variants { input: sample_name = sample_name }
  call qc { input: sample_name = sample_name }
}
task align {
  input { String sample_name }
  command { echo align }
  runtime { cpu: 8  memory: "32 GiB" }
  output { File bam = "~{sample_name}.bam" }
}
task call_variants {
  input { String sample_name }
  command { echo call }
  runtime { cpu: 4  memory: "16 GiB" }
  output { File vcf = "~{sample_name}.vcf" }
}
task qc {
  input { String sample_name }
  command { echo qc }
  runtime { cpu: 2  memory: "4 GiB" }
  output { File report = "~{sample_name}.qc.txt" }
}
"""


def plate_zip() -> bytes:
    return zipped(PLATE_WDL)


def profile_plate(emulator: Any) -> None:
    """What a sequencing plate's tasks use: s3's variant calling needs much more memory than the others'."""
    emulator.set_usage("call_variants", cpus=1.2, memory_gib=13.5, run="s3")
    emulator.set_usage("align", cpus=7.2, memory_gib=12)
    emulator.set_usage("call_variants", cpus=3.1, memory_gib=6)
    emulator.set_usage("qc", cpus=0.4, memory_gib=1.1)


def workflow_zip() -> bytes:
    return zipped(WDL)


def zipped(definition: bytes) -> bytes:
    """A workflow definition as ``CreateWorkflow`` takes it: a zip with ``main.wdl``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.wdl", definition)
    return buffer.getvalue()


def start_batch(omics: Any, workflow: str, runs: int, **settings: Any) -> str:
    """A run batch of ``runs`` runs of the workflow (``s0``, ``s1``, ...): its id."""
    return omics.start_run_batch(
        batchName="plate",
        defaultRunSetting={"workflowId": workflow, "roleArn": ROLE, "outputUri": "s3://genomics/runs/", **settings},
        batchRunSettings={"inlineSettings": [{"runSettingId": f"s{i}"} for i in range(runs)]},
        requestId="plate",
    )["id"]


def put_inputs(s3: Any) -> None:
    for key, body in {
        "reads/s1_R1.fastq": FASTQ_1,
        "reads/s1_R2.fastq": FASTQ_2,
        "ref/chr1.fa": FASTA,
        "variants/s1.vcf": VCF,
        "annotations/genes.gff": GFF,
    }.items():
        s3.put_object(Bucket="genomics", Key=key, Body=body)


def run_tour(omics: Any, s3: Any, every: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, dict[str, Any]]:
    """The last answer of each operation; ``every`` collects all of them."""
    seen: dict[str, dict[str, Any]] = {}

    def capture(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        assert http_response.status_code < 300, (model.name, parsed)
        seen[model.name] = parsed
        if every is not None:
            every.setdefault(model.name, []).append(parsed)

    omics.meta.events.register("after-call.omics", capture)
    put_inputs(s3)

    # ---- storage -------------------------------------------------------------------------------
    seq = omics.create_sequence_store(name="tour", clientToken="tour-seq")
    seq_id = seq["id"]
    until(lambda: omics.get_sequence_store(id=seq_id), status_in("ACTIVE"))
    omics.list_sequence_stores()
    omics.update_sequence_store(id=seq_id, description="updated")
    ref_store = omics.create_reference_store(name="tour-refs")
    ref_store_id = ref_store["id"]
    omics.get_reference_store(id=ref_store_id)
    omics.list_reference_stores()

    ref_job = omics.start_reference_import_job(
        referenceStoreId=ref_store_id,
        roleArn=ROLE,
        sources=[{"sourceFile": "s3://genomics/ref/chr1.fa", "name": "chr1"}],
    )
    ref_job = until(
        lambda: omics.get_reference_import_job(referenceStoreId=ref_store_id, id=ref_job["id"]),
        status_in("COMPLETED"),
    )
    omics.list_reference_import_jobs(referenceStoreId=ref_store_id)
    reference_id = ref_job["sources"][0]["referenceId"]
    reference = omics.get_reference_metadata(referenceStoreId=ref_store_id, id=reference_id)
    omics.list_references(referenceStoreId=ref_store_id)
    assert omics.get_reference(referenceStoreId=ref_store_id, id=reference_id, partNumber=1)["payload"].read() == FASTA

    import_job = omics.start_read_set_import_job(
        sequenceStoreId=seq_id,
        roleArn=ROLE,
        sources=[
            {
                "sourceFiles": {
                    "source1": "s3://genomics/reads/s1_R1.fastq",
                    "source2": "s3://genomics/reads/s1_R2.fastq",
                },
                "sourceFileType": "FASTQ",
                "subjectId": "patient-1",
                "sampleId": "s1",
                "name": "s1",
                "referenceArn": reference["arn"],
                "tags": {"lab": "tour"},
            }
        ],
    )
    import_job = until(
        lambda: omics.get_read_set_import_job(sequenceStoreId=seq_id, id=import_job["id"]),
        status_in("COMPLETED"),
    )
    omics.list_read_set_import_jobs(sequenceStoreId=seq_id)
    read_set_id = import_job["sources"][0]["readSetId"]
    omics.list_read_sets(sequenceStoreId=seq_id)
    omics.get_read_set_metadata(sequenceStoreId=seq_id, id=read_set_id)
    assert omics.get_read_set(sequenceStoreId=seq_id, id=read_set_id, partNumber=1)["payload"].read() == FASTQ_1

    activation = omics.start_read_set_activation_job(sequenceStoreId=seq_id, sources=[{"readSetId": read_set_id}])
    until(
        lambda: omics.get_read_set_activation_job(sequenceStoreId=seq_id, id=activation["id"]),
        status_in("COMPLETED"),
    )
    omics.list_read_set_activation_jobs(sequenceStoreId=seq_id)

    export = omics.start_read_set_export_job(
        sequenceStoreId=seq_id,
        destination="s3://genomics/exported/",
        roleArn=ROLE,
        sources=[{"readSetId": read_set_id}],
    )
    until(lambda: omics.get_read_set_export_job(sequenceStoreId=seq_id, id=export["id"]), status_in("COMPLETED"))
    omics.list_read_set_export_jobs(sequenceStoreId=seq_id)
    exported = s3.get_object(Bucket="genomics", Key=f"exported/{read_set_id}/s1_R1.fastq")["Body"].read()
    assert exported == FASTQ_1

    upload = omics.create_multipart_read_set_upload(
        sequenceStoreId=seq_id,
        sourceFileType="FASTQ",
        subjectId="patient-2",
        sampleId="s2",
        name="uploaded",
        description="direct upload",
        generatedFrom="tour",
    )
    checksum = omics.upload_read_set_part(
        sequenceStoreId=seq_id,
        uploadId=upload["uploadId"],
        partSource="SOURCE1",
        partNumber=1,
        payload=FASTQ_1,
    )["checksum"]
    omics.list_read_set_upload_parts(sequenceStoreId=seq_id, uploadId=upload["uploadId"], partSource="SOURCE1")
    omics.list_multipart_read_set_uploads(sequenceStoreId=seq_id)
    uploaded = omics.complete_multipart_read_set_upload(
        sequenceStoreId=seq_id,
        uploadId=upload["uploadId"],
        parts=[{"partNumber": 1, "partSource": "SOURCE1", "checksum": checksum}],
    )
    aborted = omics.create_multipart_read_set_upload(
        sequenceStoreId=seq_id, sourceFileType="FASTQ", subjectId="patient-3", sampleId="s3", name="aborted"
    )
    omics.abort_multipart_read_set_upload(sequenceStoreId=seq_id, uploadId=aborted["uploadId"])

    access_point = omics.get_sequence_store(id=seq_id)["s3Access"]["s3AccessPointArn"]
    omics.put_s3_access_policy(s3AccessPointArn=access_point, s3AccessPolicy='{"Version": "2012-10-17"}')
    omics.get_s3_access_policy(s3AccessPointArn=access_point)
    omics.delete_s3_access_policy(s3AccessPointArn=access_point)

    # ---- workflows -----------------------------------------------------------------------------
    workflow = omics.create_workflow(name="align-and-call", definitionZip=workflow_zip(), requestId="tour-wf")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))
    omics.list_workflows()
    omics.update_workflow(id=workflow["id"], description="aligns and calls")
    omics.create_workflow_version(
        workflowId=workflow["id"], versionName="v2", definitionZip=workflow_zip(), requestId="tour-wf-v2"
    )
    until(lambda: omics.get_workflow_version(workflowId=workflow["id"], versionName="v2"), status_in("ACTIVE"))
    omics.list_workflow_versions(workflowId=workflow["id"])
    omics.update_workflow_version(workflowId=workflow["id"], versionName="v2", description="second")

    group = omics.create_run_group(name="tour-group", maxRuns=10, maxCpus=256, maxDuration=600, requestId="tour-group")
    omics.get_run_group(id=group["id"])
    omics.list_run_groups()
    omics.update_run_group(id=group["id"], maxCpus=64)
    cache = omics.create_run_cache(cacheS3Location="s3://genomics/cache/", requestId="tour-cache")
    omics.get_run_cache(id=cache["id"])
    omics.list_run_caches()
    omics.update_run_cache(id=cache["id"], description="cache")
    omics.create_configuration(name="tour-config", runConfigurations={}, requestId="tour-config")
    until(lambda: omics.get_configuration(name="tour-config"), status_in("ACTIVE"))
    omics.list_configurations()

    run = omics.start_run(
        workflowId=workflow["id"],
        roleArn=ROLE,
        name="tour-s1",
        outputUri="s3://genomics/runs/",
        parameters={"reads": "s3://genomics/reads/s1_R1.fastq", "sample_name": "s1"},
        runGroupId=group["id"],
        priority=1,
        requestId="tour-run",
    )
    until(lambda: omics.get_run(id=run["id"]), status_in("COMPLETED"))
    omics.list_runs()
    tasks = omics.list_run_tasks(id=run["id"])["items"]
    assert [t["name"] for t in tasks] == ["align", "call_variants"]
    omics.get_run_task(id=run["id"], taskId=tasks[0]["taskId"])
    vcf = s3.get_object(Bucket="genomics", Key=f"runs/{run['id']}/out/call_variants/s1.vcf")["Body"].read()
    assert vcf.startswith(b"##fileformat=VCF")
    to_cancel = omics.start_run(
        workflowId=workflow["id"], roleArn=ROLE, outputUri="s3://genomics/runs/", requestId="tour-cancel"
    )
    omics.cancel_run(id=to_cancel["id"])
    until(lambda: omics.get_run(id=to_cancel["id"]), status_in("CANCELLED"))
    omics.delete_run(id=to_cancel["id"])

    batch = omics.start_run_batch(
        batchName="tour-batch",
        requestId="tour-batch",
        defaultRunSetting={
            "workflowId": workflow["id"],
            "roleArn": ROLE,
            "outputUri": "s3://genomics/batch/",
        },
        batchRunSettings={
            "inlineSettings": [
                {"runSettingId": "a", "parameters": {"sample_name": "a"}},
                {"runSettingId": "b", "parameters": {"sample_name": "b"}},
            ]
        },
    )
    until(lambda: omics.get_batch(batchId=batch["id"]), status_in("PROCESSED"))
    omics.list_batch()
    assert len(omics.list_runs_in_batch(batchId=batch["id"])["runs"]) == 2
    omics.delete_run_batch(batchId=batch["id"])
    until(lambda: omics.get_batch(batchId=batch["id"]), status_in("RUNS_DELETED"))
    omics.delete_batch(batchId=batch["id"])
    stopped = omics.start_run_batch(
        requestId="tour-batch-2",
        defaultRunSetting={
            "workflowId": workflow["id"],
            "roleArn": ROLE,
            "outputUri": "s3://genomics/batch/",
        },
        batchRunSettings={"inlineSettings": [{"runSettingId": "c"}]},
    )
    omics.cancel_run_batch(batchId=stopped["id"])
    until(lambda: omics.get_batch(batchId=stopped["id"]), status_in("CANCELLED"))

    # ---- analytics -----------------------------------------------------------------------------
    omics.create_variant_store(name="tour_variants", reference={"referenceArn": reference["arn"]})
    until(lambda: omics.get_variant_store(name="tour_variants"), status_in("ACTIVE"))
    omics.list_variant_stores()
    omics.update_variant_store(name="tour_variants", description="variants")
    variant_job = omics.start_variant_import_job(
        destinationName="tour_variants", roleArn=ROLE, items=[{"source": "s3://genomics/variants/s1.vcf"}]
    )
    until(lambda: omics.get_variant_import_job(jobId=variant_job["jobId"]), status_in("COMPLETED"))
    omics.list_variant_import_jobs()
    cancelled = omics.start_variant_import_job(
        destinationName="tour_variants", roleArn=ROLE, items=[{"source": "s3://genomics/variants/s1.vcf"}]
    )
    omics.cancel_variant_import_job(jobId=cancelled["jobId"])

    omics.create_annotation_store(
        name="tour_annotations", storeFormat="GFF", reference={"referenceArn": reference["arn"]}
    )
    until(lambda: omics.get_annotation_store(name="tour_annotations"), status_in("ACTIVE"))
    until(
        lambda: omics.get_annotation_store_version(name="tour_annotations", versionName="default"),
        status_in("ACTIVE"),
    )
    omics.list_annotation_stores()
    omics.update_annotation_store(name="tour_annotations", description="genes")
    omics.create_annotation_store_version(name="tour_annotations", versionName="second")
    until(
        lambda: omics.get_annotation_store_version(name="tour_annotations", versionName="second"),
        status_in("ACTIVE"),
    )
    omics.list_annotation_store_versions(name="tour_annotations")
    omics.update_annotation_store_version(name="tour_annotations", versionName="second", description="second")
    annotation_job = omics.start_annotation_import_job(
        destinationName="tour_annotations",
        roleArn=ROLE,
        items=[{"source": "s3://genomics/annotations/genes.gff"}],
    )
    until(lambda: omics.get_annotation_import_job(jobId=annotation_job["jobId"]), status_in("COMPLETED"))
    omics.list_annotation_import_jobs()
    cancelled = omics.start_annotation_import_job(
        destinationName="tour_annotations",
        roleArn=ROLE,
        items=[{"source": "s3://genomics/annotations/genes.gff"}],
    )
    omics.cancel_annotation_import_job(jobId=cancelled["jobId"])
    omics.delete_annotation_store_versions(name="tour_annotations", versions=["second"])

    store_arn = omics.get_variant_store(name="tour_variants")["storeArn"]
    share = omics.create_share(resourceArn=store_arn, principalSubscriber="210987654321", shareName="tour")
    omics.get_share(shareId=share["shareId"])
    omics.list_shares(resourceOwner="SELF")
    omics.accept_share(shareId=share["shareId"])
    until(lambda: omics.get_share(shareId=share["shareId"])["share"], status_in("ACTIVE"))
    omics.delete_share(shareId=share["shareId"])

    omics.tag_resource(resourceArn=workflow["arn"], tags={"team": "genomics"})
    assert omics.list_tags_for_resource(resourceArn=workflow["arn"])["tags"] == {"team": "genomics"}
    omics.untag_resource(resourceArn=workflow["arn"], tagKeys=["team"])

    # ---- clean up, as a user would -------------------------------------------------------------
    omics.delete_run_group(id=group["id"])
    omics.delete_run_cache(id=cache["id"])
    omics.delete_configuration(name="tour-config")
    omics.delete_workflow_version(workflowId=workflow["id"], versionName="v2")
    omics.delete_workflow(id=workflow["id"])
    omics.batch_delete_read_set(sequenceStoreId=seq_id, ids=[read_set_id, uploaded["readSetId"]])
    omics.delete_reference(referenceStoreId=ref_store_id, id=reference_id)
    omics.delete_reference_store(id=ref_store_id)
    omics.delete_sequence_store(id=seq_id)
    omics.delete_variant_store(name="tour_variants", force=True)
    omics.delete_annotation_store(name="tour_annotations", force=True)
    return seen
