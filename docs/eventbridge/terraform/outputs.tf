output "waits_queue_url" {
  description = "The connection extra omics_events_queue"
  value       = aws_sqs_queue.waits.id
}

output "dag_events_queue_url" {
  description = "queue_url of OmicsEventTrigger and OmicsEventSensor"
  value       = aws_sqs_queue.dag_events.id
}

output "triggerer_policy_arn" {
  description = "Attach to the triggerer's role (Amazon MWAA's execution role)"
  value       = aws_iam_policy.triggerer.arn
}
