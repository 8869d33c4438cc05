version 1.0

# Paired-end reads of one sample from a HealthOmics sequence store, aligned to a reference and called.
workflow variant_calling {
  input {
    String sample_name
    File reads_1
    File reads_2
    File reference
  }
  call align { input: sample_name = sample_name, reads_1 = reads_1, reads_2 = reads_2, reference = reference }
  call call_variants { input: sample_name = sample_name, bam = align.bam, reference = reference }
  output {
    File bam = align.bam
    File vcf = call_variants.vcf
  }
}

task align {
  input {
    String sample_name
    File reads_1
    File reads_2
    File reference
  }
  command <<<
    bwa mem -t 2 ~{reference} ~{reads_1} ~{reads_2} | samtools sort -o ~{sample_name}.bam -
  >>>
  runtime { docker: "biocontainers/bwa-samtools:latest"  cpu: 2  memory: "4 GiB" }
  output { File bam = "~{sample_name}.bam" }
}

task call_variants {
  input {
    String sample_name
    File bam
    File reference
  }
  command <<<
    bcftools mpileup -f ~{reference} ~{bam} | bcftools call -mv -o ~{sample_name}.vcf
  >>>
  runtime { docker: "biocontainers/bcftools:latest"  cpu: 4  memory: "16 GiB" }
  output { File vcf = "~{sample_name}.vcf" }
}
