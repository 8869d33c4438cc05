# HealthOmics events for airflow-provider-omics, as ../omics-events.cfn.yaml: the ends of HealthOmics jobs to a
# queue that answers an Airflow connection's deferred waits (connection extra omics_events_queue), and the events
# DAGs start on to a second queue (OmicsEventTrigger in an AssetWatcher, or OmicsEventSensor). Attach the
# triggerer policy to the role the triggerer runs as (on Amazon MWAA, the execution role).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}

resource "aws_sqs_queue" "dead_letter" {
  count                     = var.use_dead_letter_queue ? 1 : 0
  name                      = "${var.name}-dead-letter"
  message_retention_seconds = 345600
}

locals {
  # Triggerers pass a message for another one's wait back and forth: allow that many receives.
  redrive_policy = var.use_dead_letter_queue ? jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[0].arn
    maxReceiveCount     = 100
  }) : null
}

# A message nobody's wait takes is released for the other triggerers and deleted after 10 minutes (the safety
# poll's interval); an hour keeps it well past that and bounds what piles up while no triggerer runs.
resource "aws_sqs_queue" "waits" {
  name                       = "${var.name}-waits"
  message_retention_seconds  = 3600
  visibility_timeout_seconds = 30
  receive_wait_time_seconds  = 20
  redrive_policy             = local.redrive_policy
}

resource "aws_sqs_queue" "dag_events" {
  name                       = "${var.name}-dag-events"
  message_retention_seconds  = 86400
  visibility_timeout_seconds = 30
  receive_wait_time_seconds  = 20
  redrive_policy             = local.redrive_policy
}

# Waits need the ends only: a status on the way only tells progress, and a run's tasks end by the hundred.
resource "aws_cloudwatch_event_rule" "waits" {
  name          = "${var.name}-waits"
  description   = "Ends of HealthOmics jobs, for the deferred waits of Airflow tasks"
  event_pattern = file("${path.module}/waits-pattern.json")
}

resource "aws_cloudwatch_event_target" "waits" {
  rule = aws_cloudwatch_event_rule.waits.name
  arn  = aws_sqs_queue.waits.arn
}

resource "aws_cloudwatch_event_rule" "dag_events" {
  name          = "${var.name}-dag-events"
  description   = "HealthOmics events that start Airflow DAGs"
  event_pattern = var.dag_events_pattern != null ? var.dag_events_pattern : file("${path.module}/dag-events-pattern.json")
}

resource "aws_cloudwatch_event_target" "dag_events" {
  rule = aws_cloudwatch_event_rule.dag_events.name
  arn  = aws_sqs_queue.dag_events.arn
}

# EventBridge may send to each queue only for its rule.
resource "aws_sqs_queue_policy" "waits" {
  queue_url = aws_sqs_queue.waits.id
  policy    = data.aws_iam_policy_document.from_rule["waits"].json
}

resource "aws_sqs_queue_policy" "dag_events" {
  queue_url = aws_sqs_queue.dag_events.id
  policy    = data.aws_iam_policy_document.from_rule["dag_events"].json
}

data "aws_iam_policy_document" "from_rule" {
  for_each = {
    waits      = { queue = aws_sqs_queue.waits.arn, rule = aws_cloudwatch_event_rule.waits.arn }
    dag_events = { queue = aws_sqs_queue.dag_events.arn, rule = aws_cloudwatch_event_rule.dag_events.arn }
  }
  statement {
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.queue]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [each.value.rule]
    }
  }
}

resource "aws_iam_policy" "triggerer" {
  name        = "${var.name}-triggerer"
  description = "What an Airflow triggerer needs to read HealthOmics events from the queues"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      Resource = [aws_sqs_queue.waits.arn, aws_sqs_queue.dag_events.arn]
    }]
  })
}
