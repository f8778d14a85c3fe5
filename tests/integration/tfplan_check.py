"""Checks `terraform show -json` plans of deploy/terraform/examples (used by
test_terraform.sh; not a test itself): AGG_PLAN (aggregation example, where the container
definitions are known at plan time) has a task definition of 512 CPU / 1024 MiB with
stopTimeout 120, the mlworker health check, a read-only root, the database credentials as
secrets only; SQS_PLAN (sqs example) keeps the original's queue retention and visibility
and tracks (visible + in flight) / running tasks.

  tfplan_check.py AGG_PLAN.json SQS_PLAN.json"""
import json
import sys

def after(path):
    plan = json.load(open(path))
    return {r["address"]: r["change"]["after"] for r in plan["resource_changes"]}


agg, sqs = after(sys.argv[1]), after(sys.argv[2])
td = agg["module.ml_worker.aws_ecs_task_definition.this"]
c = json.loads(td["container_definitions"])[0]
env = {e["name"]: e["value"] for e in c["environment"]}
secrets = {s["name"] for s in c["secrets"]}
q = sqs["module.ml_worker.aws_sqs_queue.main"]
tt = sqs["module.ml_worker.aws_appautoscaling_policy.backlog_per_task[0]"]
cfg = tt["target_tracking_scaling_policy_configuration"][0]
exprs = [m.get("expression") for m in cfg["customized_metric_specification"][0]["metrics"]]

checks = [
    (td["cpu"] == "512" and td["memory"] == "1024", "cpu %s, memory %s" % (td["cpu"], td["memory"])),
    (c["stopTimeout"] == 120, "stopTimeout %s" % c["stopTimeout"]),
    (c["healthCheck"]["command"] == ["CMD", "/usr/local/bin/mlworker", "healthcheck"],
     "health check %s" % c["healthCheck"]["command"]),
    (c["readonlyRootFilesystem"] is True and c["user"] == "10001:10001", "read-only root, user 10001"),
    (env.get("ML_WORKER_MODE") == "aggregation" and "ML_WORKER_SQS_QUEUE_URL" not in env,
     "ML_WORKER_MODE=%s, no queue URL" % env.get("ML_WORKER_MODE")),
    (env.get("ML_WORKER_HTTP_ADDR") == "127.0.0.1:9090", "endpoints on loopback"),
    (int(env.get("ML_WORKER_SHUTDOWN_TIMEOUT", "999")) < c["stopTimeout"],
     "ML_WORKER_SHUTDOWN_TIMEOUT %s below stopTimeout" % env.get("ML_WORKER_SHUTDOWN_TIMEOUT")),
    (secrets == {"POSTGRES_USER", "POSTGRES_PASSWORD"} and not secrets & set(env),
     "secrets %s, not in the plain environment" % sorted(secrets)),
    (q["message_retention_seconds"] == 345600 and q["visibility_timeout_seconds"] == 300,
     "queue retention %s s, visibility %s s" % (q["message_retention_seconds"],
                                               q["visibility_timeout_seconds"])),
    ("(visible + in_flight) / IF(running > 0, running, 1)" in exprs and cfg["target_value"] == 10,
     "target tracking: %s, target %s" % ([e for e in exprs if e], cfg["target_value"])),
]
bad = 0
for ok, what in checks:
    print(("ok      " if ok else "PROBLEM ") + what)
    bad += not ok
sys.exit(1 if bad else 0)
