# ml_worker: the mlworker service on ECS Fargate (Spot) with its SQS queue, dead-letter
# queue, roles, logs, autoscaling and alarms. docs/deployment.md explains every choice;
# examples/ holds the seed document's three recommended setups.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name       = "${var.environment}-ml-worker"
  uses_queue = var.worker_mode != "aggregation"
  # Queue-driven scaling only where the worker consumes the queue and has room to scale.
  autoscale = local.uses_queue && var.max_capacity > var.min_capacity
  http_port = 9090

  db_secrets = var.database_url_secret_arn != null ? {
    DATABASE_URL = var.database_url_secret_arn
    } : {
    for k, v in {
      POSTGRES_USER     = var.db_user_secret_arn
      POSTGRES_PASSWORD = var.db_password_secret_arn
    } : k => v if v != null
  }
  secret_arns = values(local.db_secrets)

  environment = merge(
    {
      ML_WORKER_MODE             = var.worker_mode
      AWS_REGION                 = data.aws_region.current.name
      ML_WORKER_HTTP_ADDR        = "127.0.0.1:${local.http_port}"
      ML_WORKER_HEALTH_DEADLINE  = tostring(var.health_deadline)
      ML_WORKER_SHUTDOWN_TIMEOUT = tostring(var.shutdown_timeout)
      ML_WORKER_LOG_FORMAT       = var.log_format
      LOINC_ENABLED              = var.loinc_enabled ? "1" : "0"
    },
    local.uses_queue ? {
      ML_WORKER_SQS_QUEUE_URL      = aws_sqs_queue.main.url
      ML_WORKER_BATCH_SIZE         = tostring(var.sqs_batch_size)
      ML_WORKER_WAIT_TIME          = tostring(var.sqs_wait_time)
      ML_WORKER_VISIBILITY_TIMEOUT = tostring(var.visibility_timeout)
    } : {},
    var.database_url_secret_arn == null && var.db_host != null ? {
      POSTGRES_SERVER = var.db_host
      POSTGRES_PORT   = tostring(var.db_port)
      POSTGRES_DB     = coalesce(var.db_name, "postgres")
    } : {},
    var.extra_environment,
  )

  tags = merge({ Service = "ml-worker", Environment = var.environment }, var.tags)
}
