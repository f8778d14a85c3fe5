# Inputs of the ml_worker module. The seed document's recommended setups
# (docs/deployment.md, examples/):
#   aggregation: worker_mode = "aggregation", min_capacity = 1, max_capacity = 1
#   both:        worker_mode = "both",        min_capacity = 1, max_capacity = 5
#   sqs:         worker_mode = "sqs",         min_capacity = 0, max_capacity = 5

variable "environment" {
  description = "Name prefix (production, staging): queue <env>-ml-worker, service <env>-ml-worker."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.environment))
    error_message = "environment: lower-case letters, digits and dashes, at most 31 characters."
  }
}

variable "worker_mode" {
  description = "ML_WORKER_MODE: aggregation (poll the database), sqs (queue jobs only) or both."
  type        = string
  default     = "aggregation"
  validation {
    condition     = contains(["aggregation", "sqs", "both"], var.worker_mode)
    error_message = "worker_mode must be aggregation, sqs or both."
  }
}

variable "min_capacity" {
  description = "Fewest running tasks. 0 lets sqs mode scale to zero when the queue is empty."
  type        = number
  default     = 1
  validation {
    condition     = var.min_capacity >= 0 && var.min_capacity == floor(var.min_capacity)
    error_message = "min_capacity must be a whole number >= 0."
  }
}

variable "max_capacity" {
  description = "Most running tasks (each holds one database connection per thread)."
  type        = number
  default     = 1
  validation {
    condition     = var.max_capacity >= 1 && var.max_capacity <= 50 && var.max_capacity == floor(var.max_capacity)
    error_message = "max_capacity must be a whole number in 1..50."
  }
}

variable "target_backlog_per_task" {
  description = "Target of (visible + in-flight messages) / running tasks for target tracking (sqs and both modes)."
  type        = number
  default     = 10
  validation {
    condition     = var.target_backlog_per_task > 0
    error_message = "target_backlog_per_task must be positive."
  }
}

variable "image" {
  description = "Container image with an immutable tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/mlworker:3f2c1ab (built from deploy/Dockerfile)."
  type        = string
  validation {
    condition     = !endswith(var.image, ":latest") && length(var.image) > 0
    error_message = "image must name an immutable tag or digest, not :latest."
  }
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the tasks (private subnets with a NAT gateway or VPC endpoints for SQS, ECR, CloudWatch Logs, SSM)."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (only for public subnets without NAT)."
  type        = bool
  default     = false
}

variable "security_group_ids" {
  description = "Extra security groups for the tasks (e.g. one the database accepts)."
  type        = list(string)
  default     = []
}

variable "use_spot" {
  description = "Run on FARGATE_SPOT (the 2-minute interruption notice arrives as SIGTERM; stopTimeout is 120 s)."
  type        = bool
  default     = true
}

variable "on_demand_base" {
  description = "Tasks always placed on on-demand FARGATE before Spot takes the rest (0: Spot only)."
  type        = number
  default     = 0
}

variable "cpu" {
  description = "Task CPU units (512 = 0.5 vCPU). See docs/deployment.md for the sizing."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Task memory in MiB (1024 is Fargate's least for 512 CPU units)."
  type        = number
  default     = 1024
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (the image must be built for it)."
  type        = string
  default     = "X86_64"
  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

# ---- database: DATABASE_URL from a secret, or the original's POSTGRES_* variables ----

variable "database_url_secret_arn" {
  description = "ARN of an SSM parameter or Secrets Manager secret holding DATABASE_URL (postgresql://...). Takes precedence over the POSTGRES_* inputs."
  type        = string
  default     = null
}

variable "db_host" {
  description = "POSTGRES_SERVER (host only, no port)."
  type        = string
  default     = null
}

variable "db_port" {
  description = "POSTGRES_PORT."
  type        = number
  default     = 5432
}

variable "db_name" {
  description = "POSTGRES_DB."
  type        = string
  default     = null
}

variable "db_user_secret_arn" {
  description = "ARN of the SSM parameter / secret holding POSTGRES_USER."
  type        = string
  default     = null
}

variable "db_password_secret_arn" {
  description = "ARN of the SSM parameter / secret holding POSTGRES_PASSWORD."
  type        = string
  default     = null
}

variable "secrets_kms_key_arn" {
  description = "KMS key that encrypts the secrets above, when it is a customer-managed key."
  type        = string
  default     = null
}

# ---- worker settings ----

variable "sqs_batch_size" {
  description = "ML_WORKER_BATCH_SIZE (MaxNumberOfMessages, 1..10)."
  type        = number
  default     = 1
}

variable "sqs_wait_time" {
  description = "ML_WORKER_WAIT_TIME (long poll seconds, 0..20)."
  type        = number
  default     = 20
}

variable "visibility_timeout" {
  description = "Queue default and ML_WORKER_VISIBILITY_TIMEOUT, seconds; the worker extends it while it works."
  type        = number
  default     = 300
}

variable "message_retention_seconds" {
  description = "Main queue retention (the original: 4 days)."
  type        = number
  default     = 345600
}

variable "dlq_retention_seconds" {
  description = "Dead-letter queue retention (the original: 14 days)."
  type        = number
  default     = 1209600
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue (the original: 3)."
  type        = number
  default     = 3
}

variable "loinc_enabled" {
  description = "LOINC_ENABLED=1: map lab tests to LOINC codes with the model."
  type        = bool
  default     = false
}

variable "model_efs" {
  description = "EFS file system (and optional access point) holding the model directory and LOINC index, mounted read-only at /opt/mlworker/model and /opt/mlworker/loinc. null: none, or baked into the image."
  type = object({
    file_system_id  = string
    access_point_id = optional(string)
    model_path      = optional(string, "/model")
    loinc_path      = optional(string, "/loinc")
  })
  default = null
}

variable "shutdown_timeout" {
  description = "ML_WORKER_SHUTDOWN_TIMEOUT: seconds from SIGTERM to exit; below stopTimeout (120 s) so the worker, not ECS, ends the work in hand."
  type        = number
  default     = 100
  validation {
    condition     = var.shutdown_timeout >= 0 && var.shutdown_timeout <= 110
    error_message = "shutdown_timeout must be 0..110 s (stopTimeout is 120 s)."
  }
}

variable "health_deadline" {
  description = "ML_WORKER_HEALTH_DEADLINE: seconds one unit of work may take before /healthz turns red."
  type        = number
  default     = 300
}

variable "log_format" {
  description = "ML_WORKER_LOG_FORMAT: text (the original's lines) or json."
  type        = string
  default     = "text"
}

variable "extra_environment" {
  description = "More environment variables for the container (never secrets: use the *_secret_arn inputs)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of /ecs/<env>-ml-worker."
  type        = number
  default     = 30
}

# ---- alarms ----

variable "alarm_sns_topic_arn" {
  description = "SNS topic that receives every alarm and its recovery (the original's alarms had no action)."
  type        = string
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest queued message is older than this (work is not keeping up or is stuck)."
  type        = number
  default     = 900
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
