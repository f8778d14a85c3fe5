# Cluster, task definition and service.
#
# Size: 512 CPU units / 1024 MiB. The worker measured 32 MB peak RSS aggregating 1M rows
# (bench/RESULTS.md; about 25 MB steady), against the original's 2.5 GB Python process on a
# 3 GB task. 1024 MiB is the least Fargate allows with 0.5 vCPU and leaves room for the
# memory-mapped BERT model (433 MB in fp32, about half in bf16) and the LOINC index when
# LOINC_ENABLED=1; 0.5 vCPU keeps one encoder call per message fast enough while a batch of
# aggregation is otherwise I/O-bound on the database. docs/deployment.md has the numbers.
#
# stopTimeout 120 s (Fargate's maximum) matches the 2-minute Spot notice: on SIGTERM the
# worker finishes the group in progress, commits, re-enqueues the rest of its trigger,
# releases unstarted messages and exits 0 well within it (the original had ECS's 30 s).

resource "aws_ecs_cluster" "this" {
  name = "${local.name}-cluster"
  setting {
    name  = "containerInsights" # RunningTaskCount for the backlog-per-task metric
    value = "enabled"
  }
  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = var.use_spot ? "FARGATE_SPOT" : "FARGATE"
    weight            = 100
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_security_group" "task" {
  name        = "${local.name}-task"
  description = "mlworker tasks: no inbound; outbound to the database, SQS and AWS APIs"
  vpc_id      = var.vpc_id
  egress {
    description = "all outbound"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = local.tags
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  dynamic "volume" {
    for_each = var.model_efs == null ? [] : [
      { name = "model", path = var.model_efs.model_path },
      { name = "loinc", path = var.model_efs.loinc_path },
    ]
    content {
      name = volume.value.name
      efs_volume_configuration {
        file_system_id     = var.model_efs.file_system_id
        root_directory     = var.model_efs.access_point_id == null ? volume.value.path : "/"
        transit_encryption = "ENABLED"
        dynamic "authorization_config" {
          for_each = var.model_efs.access_point_id == null ? [] : [var.model_efs.access_point_id]
          content {
            access_point_id = authorization_config.value
            iam             = "DISABLED"
          }
        }
      }
    }
  }

  container_definitions = jsonencode([{
    name                   = "ml-worker"
    image                  = var.image
    essential              = true
    stopTimeout            = 120
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    environment            = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    secrets                = [for k in sort(keys(local.db_secrets)) : { name = k, valueFrom = local.db_secrets[k] }]
    mountPoints = var.model_efs == null ? [] : [
      { sourceVolume = "model", containerPath = "/opt/mlworker/model", readOnly = true },
      { sourceVolume = "loinc", containerPath = "/opt/mlworker/loinc", readOnly = true },
    ]
    # The worker's own liveness endpoint: red when a worker thread is stuck in a database
    # call or a hung long poll past ML_WORKER_HEALTH_DEADLINE (the original's check always
    # passed). Three failures 30 s apart replace the task.
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/mlworker", "healthcheck"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "ml-worker"
      }
    }
  }])
  tags = local.tags
}

resource "aws_ecs_service" "this" {
  name                   = local.name
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.this.arn
  desired_count          = var.min_capacity
  enable_execute_command = false
  propagate_tags         = "SERVICE"

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = var.on_demand_base
    weight            = var.use_spot ? 0 : 100
  }
  dynamic "capacity_provider_strategy" {
    for_each = var.use_spot ? [1] : []
    content {
      capacity_provider = "FARGATE_SPOT"
      weight            = 100
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = concat([aws_security_group.task.id], var.security_group_ids)
    assign_public_ip = var.assign_public_ip
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  # A new task starts before the old one stops: two workers briefly share the work, which
  # row claiming (FOR UPDATE SKIP LOCKED) makes safe.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  lifecycle {
    # The autoscaler owns the running count.
    ignore_changes = [desired_count]
    precondition {
      condition     = var.min_capacity <= var.max_capacity
      error_message = "min_capacity must not exceed max_capacity."
    }
    precondition {
      condition     = var.worker_mode != "aggregation" || var.max_capacity == var.min_capacity
      error_message = "aggregation mode has no queue metric to scale on: set max_capacity = min_capacity (the recommended setup is 1/1)."
    }
    precondition {
      condition     = var.database_url_secret_arn != null || var.db_host != null
      error_message = "set database_url_secret_arn, or db_host with db_user_secret_arn and db_password_secret_arn."
    }
  }
  depends_on = [aws_ecs_cluster_capacity_providers.this]
  tags       = local.tags
}
