# Two roles. The execution role lets ECS pull the image, write logs and read exactly the
# secrets named in the inputs. The task role is the worker's own identity: exactly the SQS
# actions `mlworker run` calls (src/queue/sqs.c, src/jobs/consumer.c, src/http/health.c),
# on the main queue only:
#   sqs:ReceiveMessage           long poll
#   sqs:DeleteMessage            after the work committed (also authorizes DeleteMessageBatch)
#   sqs:ChangeMessageVisibility  heartbeat while working, release (0) on shutdown
#                                (also authorizes ChangeMessageVisibilityBatch)
#   sqs:SendMessage              re-enqueue a trigger whose work remains after its time budget
#                                (also authorizes SendMessageBatch)
#   sqs:GetQueueAttributes       /readyz and the sampled queue-depth metric
# Nothing else: no s3:*, no GetQueueUrl (the URL comes from the environment), no DLQ access;
# in aggregation mode the worker does not touch SQS, and the role has no SQS rights at all.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:aws:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  count = length(local.secret_arns) > 0 ? 1 : 0
  dynamic "statement" {
    for_each = [for a in local.secret_arns : a if startswith(a, "arn:aws:ssm:")]
    content {
      actions   = ["ssm:GetParameters"]
      resources = [statement.value]
    }
  }
  dynamic "statement" {
    for_each = [for a in local.secret_arns : a if startswith(a, "arn:aws:secretsmanager:")]
    content {
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }
  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == null ? [] : [var.secrets_kms_key_arn]
    content {
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count  = length(local.secret_arns) > 0 ? 1 : 0
  name   = "read-worker-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets[0].json
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task_sqs" {
  count = local.uses_queue ? 1 : 0
  statement {
    sid = "WorkerQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:SendMessage",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.main.arn]
  }
}

resource "aws_iam_role_policy" "task_sqs" {
  count  = local.uses_queue ? 1 : 0
  name   = "worker-queue"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_sqs[0].json
}
