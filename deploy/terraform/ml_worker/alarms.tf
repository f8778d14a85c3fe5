# Alarms, each with its action and recovery wired to alarm_sns_topic_arn (the original's two
# alarms had empty actions, so nobody was told).

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name          = "${local.name}-dlq-messages"
  alarm_description   = "Messages reached the dead-letter queue after ${var.max_receive_count} failed receives. Runbook: docs/operations.md (mlworker dlq)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  count               = local.uses_queue ? 1 : 0
  alarm_name          = "${local.name}-queue-stalled"
  alarm_description   = "The oldest queued message is older than ${var.oldest_message_alarm_seconds}s: workers are not keeping up, are at max_capacity, or are failing."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.main.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "no_running_task" {
  count               = var.min_capacity > 0 ? 1 : 0
  alarm_name          = "${local.name}-not-running"
  alarm_description   = "Fewer than ${var.min_capacity} task(s) running for 10 minutes: failing health checks, crash loop, no Spot capacity or a bad image."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this.name }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 10
  comparison_operator = "LessThanThreshold"
  threshold           = var.min_capacity
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "memory_high" {
  alarm_name          = "${local.name}-memory-high"
  alarm_description   = "Task memory above 85% for 15 minutes (the worker itself needs ~30 MB; a model and LOINC index add their size)."
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 85
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = local.tags
}

# Database errors the worker retries (it logs "❌ Aggregation batch failed" / "Failed to
# process message ... database error"): many in a row mean the database is unreachable.
resource "aws_cloudwatch_log_metric_filter" "batch_failed" {
  name           = "${local.name}-batch-failed"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = "?\"Aggregation batch failed\" ?\"database error\""
  metric_transformation {
    name          = "BatchFailures"
    namespace     = "MLWorker/${var.environment}"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "batch_failures" {
  alarm_name          = "${local.name}-database-errors"
  alarm_description   = "Batches keep failing with database errors (rolled back and retried; rows stay pending)."
  namespace           = "MLWorker/${var.environment}"
  metric_name         = aws_cloudwatch_log_metric_filter.batch_failed.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = local.tags
}
