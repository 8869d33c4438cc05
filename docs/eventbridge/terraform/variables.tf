variable "name" {
  description = "Prefix of the queues, rules and policy"
  type        = string
  default     = "omics-events"
}

variable "use_dead_letter_queue" {
  description = "Move a message received 100 times to a dead-letter queue, kept 4 days"
  type        = bool
  default     = true
}

variable "dag_events_pattern" {
  description = "The EventBridge pattern of the events DAGs start on (JSON); default: runs COMPLETED, read sets ACTIVE"
  type        = string
  default     = null
}
