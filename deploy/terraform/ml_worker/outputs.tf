output "queue_url" {
  description = "ML_WORKER_SQS_QUEUE_URL for the API (producer) and the worker."
  value       = aws_sqs_queue.main.url
}

output "queue_arn" {
  description = "Grant the API sqs:SendMessage on this ARN."
  value       = aws_sqs_queue.main.arn
}

output "dlq_url" {
  description = "Dead-letter queue (mlworker dlq list|redrive)."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  value = aws_sqs_queue.dlq.arn
}

output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "service_name" {
  value = aws_ecs_service.this.name
}

output "task_definition_arn" {
  value = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "The worker's identity (SQS only)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}

output "security_group_id" {
  description = "Allow this group on the database's port in the database's security group."
  value       = aws_security_group.task.id
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.this.name
}
