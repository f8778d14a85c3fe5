# Queue-driven scaling (sqs and both modes, when max_capacity > min_capacity).
#
# Metric: backlog per task = (visible + in_flight) / running tasks, where
#   visible   = AWS/SQS ApproximateNumberOfMessagesVisible     (waiting)
#   in_flight = AWS/SQS ApproximateNumberOfMessagesNotVisible  (received, being worked on)
#   running   = ECS/ContainerInsights RunningTaskCount of this service
# Target tracking keeps the metric near target_backlog_per_task T by setting
#   desired = ceil(running * metric / T) = ceil((visible + in_flight) / T),
# clamped to [min_capacity, max_capacity]. So capacity follows the total outstanding work,
# and a message being processed counts as much as a waiting one:
#   - the original scaled on visible messages alone (target 0.5): as soon as a task received
#     the only message, visible fell to 0 and scale-in could stop the task doing the work;
#     here that task keeps desired >= 1 until its message is deleted;
#   - with n tasks, scale-in happens only once (visible + in_flight) <= (n - 1) * T, i.e. when
#     the remaining work fits on fewer tasks; the task ECS then stops gets SIGTERM and
#     stopTimeout 120 s: it commits the group in progress, re-enqueues the rest of its
#     trigger, releases messages it had not started, and exits 0 (nothing is lost: the work
#     is idempotent and every message is deleted only after its work committed);
#   - dividing by running tasks (not desired) makes the metric fall as capacity rises, as
#     AWS recommends for target tracking; IF() avoids dividing by zero.
# Target tracking multiplies by the current count, so it cannot leave zero tasks: a step
# policy adds the first task when messages wait and none runs (min_capacity = 0 only).
# Scale-out reacts within about a minute (60 s cooldown); scale-in waits 5 minutes.

locals {
  queue_dims   = { QueueName = aws_sqs_queue.main.name }
  service_dims = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this.name }
}

resource "aws_appautoscaling_target" "this" {
  count              = local.autoscale ? 1 : 0
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

resource "aws_appautoscaling_policy" "backlog_per_task" {
  count              = local.autoscale ? 1 : 0
  name               = "${local.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_backlog_per_task
    scale_out_cooldown = 60
    scale_in_cooldown  = 300
    disable_scale_in   = false

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "messages waiting"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = local.queue_dims.QueueName
            }
          }
        }
      }
      metrics {
        id          = "in_flight"
        label       = "messages being processed"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesNotVisible"
            dimensions {
              name  = "QueueName"
              value = local.queue_dims.QueueName
            }
          }
        }
      }
      metrics {
        id          = "running"
        label       = "running tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = local.service_dims.ClusterName
            }
            dimensions {
              name  = "ServiceName"
              value = local.service_dims.ServiceName
            }
          }
        }
      }
      metrics {
        id          = "backlog_per_task"
        label       = "(visible + in flight) / running tasks"
        expression  = "(visible + in_flight) / IF(running > 0, running, 1)"
        return_data = true
      }
    }
  }
}

# From zero: one task as soon as a message waits and no task runs.
resource "aws_appautoscaling_policy" "from_zero" {
  count              = local.autoscale && var.min_capacity == 0 ? 1 : 0
  name               = "${local.name}-from-zero"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"
    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = 1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "work_without_workers" {
  count               = local.autoscale && var.min_capacity == 0 ? 1 : 0
  alarm_name          = "${local.name}-work-without-workers"
  alarm_description   = "Messages wait and no task runs: start one (drives the from-zero policy)."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.from_zero[0].arn]

  metric_query {
    id          = "visible"
    return_data = false
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = local.queue_dims
      period      = 60
      stat        = "Maximum"
    }
  }
  metric_query {
    id          = "running"
    return_data = false
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = local.service_dims
      period      = 60
      stat        = "Maximum"
    }
  }
  metric_query {
    id          = "idle_backlog"
    expression  = "IF(FILL(running, 0) < 1 AND visible > 0, 1, 0)"
    label       = "messages waiting with no task running"
    return_data = true
  }
  tags = local.tags
}
