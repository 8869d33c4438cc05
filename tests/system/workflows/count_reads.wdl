version 1.0

# The smallest workflow that reads an input, writes an output and can be told to fail: one task, one CPU.
workflow count_reads {
  input {
    File reads
    String sample_name
    String image
    Boolean fail = false
  }
  call count { input: reads = reads, sample_name = sample_name, image = image, fail = fail }
  output { File counts = count.counts }
}

task count {
  input {
    File reads
    String sample_name
    String image
    Boolean fail
  }
  command <<<
    if [ "~{fail}" = "true" ]; then echo "failing as asked" >&2; exit 1; fi
    echo $(( $(wc -l < ~{reads}) / 4 )) > ~{sample_name}.counts
  >>>
  runtime {
    docker: image
    cpu: 1
    memory: "2 GiB"
  }
  output { File counts = "~{sample_name}.counts" }
}
