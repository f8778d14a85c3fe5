# The job queue and its dead-letter queue, as the original's (reference operations 4.1):
# standard queues, 4-day retention, 300 s visibility, 20 s long polls, 256 KiB messages,
# redrive after 3 receives to a DLQ kept 14 days. Added: server-side encryption and a
# redrive-allow policy so only this queue can use the DLQ (and `mlworker dlq redrive`
# can move messages back).

resource "aws_sqs_queue" "dlq" {
  name                      = "${local.name}-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "main" {
  name                       = local.name
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout
  receive_wait_time_seconds  = 20
  max_message_size           = 262144
  delay_seconds              = 0
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = local.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}
