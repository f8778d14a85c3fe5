#!/usr/bin/env bash
# deploy/terraform: every .tf file parses with HashiCorp's HCL parser (@cdktf/hcl2json from
# npm); the module's contract holds in the parsed configuration (queue retention and
# redrive, exactly the SQS actions the worker calls, stopTimeout 120, the health check,
# 512/1024, the three recommended setups); `terraform fmt`; where terraform and a local
# provider mirror exist, `terraform init` + `validate`, and `terraform plan` of each example
# against moto_server (an AWS mock on 127.0.0.1, no AWS account).  Env: MLW_SOURCE_DIR.
set -euo pipefail
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TF=$SRC/deploy/terraform
source "$SRC/tests/test_logs.sh" && mlw_reset_logs # mlw_secret, mlw_keep_logs
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mlw-tf.XXXXXX")
MOTO_PID=
cleanup() {
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
  mlw_keep_logs "$TMP"
  rm -rf "$TMP"
}
trap cleanup EXIT
PASSED=0
FAILED=0
SKIPPED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS: %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL: %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP: %s\n' "$*"; }
say() { printf '== %s\n' "$*"; }
check() {
  local desc=$1 out rc
  shift
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /' | tail -n 40
  if [ "$rc" -eq 0 ]; then pass "$desc"; else fail "$desc (exit $rc)"; fi
  return 0
}

mapfile -t FILES < <(find "$TF" -name '*.tf' | sort)
say "${#FILES[@]} .tf files under deploy/terraform"
if [ ! -d "$SRC/tests/node_modules/@cdktf/hcl2json" ]; then
  fail "@cdktf/hcl2json is not installed (scripts/install-deps.sh test)"
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi
mkdir -p "$TMP/json"
check "every file parses (HashiCorp HCL parser)" node "$SRC/tests/integration/hcl2json.js" "$TMP/json" "${FILES[@]}"

say "the module's contract, read from the parsed configuration"
check "contract" python3 - "$TMP/json" "$SRC" <<'PYEOF'
import glob, json, os, re, sys
jdir, src = sys.argv[1], sys.argv[2]
docs = [json.load(open(p)) for p in glob.glob(os.path.join(jdir, "*.json"))]
mod = {}       # merged module configuration: block type -> type -> name -> body
examples = {}  # example dir -> module block
problems = []
for d in docs:
    f, h = d["file"], d["hcl"]
    if "/ml_worker/" in f:
        for kind in ("resource", "data"):
            for t, byname in h.get(kind, {}).items():
                for n, bodies in byname.items():
                    mod.setdefault(kind, {}).setdefault(t, {})[n] = bodies[0]
        for n, bodies in h.get("variable", {}).items():
            mod.setdefault("variable", {})[n] = bodies[0]
    elif "/examples/" in f and "module" in h:
        examples[os.path.basename(os.path.dirname(f))] = h["module"]["ml_worker"][0]

def want(cond, what):
    print(("ok      " if cond else "PROBLEM ") + what)
    if not cond:
        problems.append(what)

var = mod["variable"]
want(var["message_retention_seconds"]["default"] == 345600, "main queue retention 4 days (345600 s), as the original")
want(var["max_receive_count"]["default"] == 3, "redrive after 3 receives")
want(var["dlq_retention_seconds"]["default"] == 1209600, "DLQ retention 14 days")
want(var["cpu"]["default"] == 512 and var["memory"]["default"] == 1024, "task size 512 CPU / 1024 MiB")
q = mod["resource"]["aws_sqs_queue"]["main"]
want("maxReceiveCount" in q["redrive_policy"] and "aws_sqs_queue.dlq.arn" in q["redrive_policy"],
     "main queue redrives to the DLQ")
want(q["visibility_timeout_seconds"] == "${var.visibility_timeout}" and var["visibility_timeout"]["default"] == 300,
     "visibility timeout 300 s")

# Exactly the SQS actions `mlworker run` calls: those the consumer and the HTTP sampler use,
# each present in src/queue/sqs.c as an action name.
pol = mod["data"]["aws_iam_policy_document"]["task_sqs"]
actions = sorted(pol["statement"][0]["actions"])
expected = sorted(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                   "sqs:SendMessage", "sqs:GetQueueAttributes"])
want(actions == expected, "task role SQS actions are exactly %s (got %s)" % (expected, actions))
sqs_c = open(os.path.join(src, "src/queue/sqs.c")).read()
for a in actions:
    want('"%s' % a.split(":")[1] in sqs_c, "%s is an action src/queue/sqs.c calls" % a)
want(pol["statement"][0]["resources"] == ["${aws_sqs_queue.main.arn}"], "on the main queue only")
iam = " ".join(open(f).read() for f in glob.glob(os.path.join(src, "deploy/terraform/ml_worker/*.tf")))
want("s3:" not in re.sub(r"#.*", "", iam), "no S3 rights")

td = mod["resource"]["aws_ecs_task_definition"]["this"]
cd = td["container_definitions"]
want(re.search(r"stopTimeout\s*=\s*120\b", cd) is not None, "stopTimeout 120 s")
want('"/usr/local/bin/mlworker", "healthcheck"' in cd, "container health check calls mlworker healthcheck")
want(td["requires_compatibilities"] == ["FARGATE"], "Fargate task")
svc = mod["resource"]["aws_ecs_service"]["this"]
spot = svc["dynamic"]["capacity_provider_strategy"][0]["content"]
want(any(s.get("capacity_provider") == "FARGATE_SPOT" for s in spot), "service runs on FARGATE_SPOT")
want("aws_cloudwatch_log_group" in mod["resource"], "log group")
alarms = mod["resource"]["aws_cloudwatch_metric_alarm"]
for n, a in alarms.items():
    if n != "work_without_workers":
        want(a.get("alarm_actions") == ["${var.alarm_sns_topic_arn}"] and
             a.get("ok_actions") == ["${var.alarm_sns_topic_arn}"], "alarm %s notifies the SNS topic" % n)
tt = mod["resource"]["aws_appautoscaling_policy"]["backlog_per_task"]
expr = json.dumps(tt)
want("ApproximateNumberOfMessagesNotVisible" in expr and "RunningTaskCount" in expr and
     "(visible + in_flight) / IF(running > 0, running, 1)" in expr,
     "target tracking on (visible + in flight) / running tasks")

setups = {"aggregation": (1, 1), "both": (1, 5), "sqs": (0, 5)}
for mode, (lo, hi) in setups.items():
    m = examples.get(mode, {})
    want(m.get("worker_mode") == mode and m.get("min_capacity") == lo and m.get("max_capacity") == hi,
         "example %s: worker_mode %s, %d..%d tasks" % (mode, mode, lo, hi))
sys.exit(1 if problems else 0)
PYEOF

if ! command -v terraform >/dev/null 2>&1; then
  skip "terraform is not installed: fmt, validate and plan not run"
  echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" -eq 0 ]
  exit
fi
say "terraform $(TF_CLI_CONFIG_FILE=/dev/null terraform version 2>/dev/null | head -n 1)"
export TF_CLI_CONFIG_FILE=$TMP/terraform.rc TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
: >"$TF_CLI_CONFIG_FILE"
check "terraform fmt -check -recursive" terraform fmt -check -recursive -diff "$TF"


# A local provider mirror (no network here): TF_PLUGIN_MIRROR, else /opt/tf-plugins.
MIRROR=${TF_PLUGIN_MIRROR:-/opt/tf-plugins}
if ! ls -d "$MIRROR"/registry.terraform.io/hashicorp/aws/*/ >/dev/null 2>&1; then
  skip "no hashicorp/aws provider in a local mirror ($MIRROR): validate and plan not run"
  echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" -eq 0 ]
  exit
fi
printf '%s\n' 'provider_installation {' '  filesystem_mirror {' "    path    = \"$MIRROR\"" \
  '    include = ["registry.terraform.io/hashicorp/*"]' '  }' '  direct {' \
  '    exclude = ["registry.terraform.io/hashicorp/*"]' '  }' '}' >"$TF_CLI_CONFIG_FILE"
cp -r "$TF" "$TMP/tf"
for ex in aggregation both sqs; do
  export TF_DATA_DIR=$TMP/data-$ex
  check "terraform init ($ex)" bash -c "terraform -chdir='$TMP/tf/examples/$ex' init \
    -backend=false -input=false -no-color >'$TMP/init-$ex.log' 2>&1 || { tail -n 20 '$TMP/init-$ex.log'; exit 1; }"
  check "terraform validate ($ex)" terraform -chdir="$TMP/tf/examples/$ex" validate -no-color
done

if ! command -v moto_server >/dev/null 2>&1; then
  skip "moto_server is not installed: terraform plan not run"
  echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" -eq 0 ]
  exit
fi
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$MPORT" >"$TMP/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$MPORT") 2>/dev/null; then break; fi
  sleep 0.1
done
# Fake keys for the mock; nothing here reaches AWS.
export AWS_ENDPOINT_URL=http://127.0.0.1:$MPORT AWS_ACCESS_KEY_ID=AKIATERRAFORMTEST001 \
  AWS_SECRET_ACCESS_KEY="$(mlw_secret TERRAFORM_AWS_SECRET)" AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1

# plan_ok EX PATTERN...: plan the example; each PATTERN must occur in the plan (!PATTERN: not)
plan_ok() {
  local ex=$1 w
  shift
  export TF_DATA_DIR=$TMP/data-$ex
  if ! terraform -chdir="$TMP/tf/examples/$ex" plan -input=false -no-color -lock=false \
    -var-file=../production.tfvars.example -out="$TMP/$ex.plan" >"$TMP/$ex.plan.txt" 2>&1; then
    tail -n 30 "$TMP/$ex.plan.txt"
    return 1
  fi
  terraform -chdir="$TMP/tf/examples/$ex" show -json "$TMP/$ex.plan" >"$TMP/$ex.plan.json"
  grep -E '^Plan:' "$TMP/$ex.plan.txt"
  for w in "$@"; do
    if [ "${w#!}" != "$w" ]; then
      if grep -q "${w#!}" "$TMP/$ex.plan.txt"; then echo "plan has ${w#!}"; return 1; fi
    elif ! grep -q "$w" "$TMP/$ex.plan.txt"; then
      echo "plan lacks $w"
      return 1
    fi
  done
}
say "terraform plan of each example against moto_server"
check "plan aggregation (1/1): no autoscaling, no SQS rights for the task" plan_ok aggregation \
  'aws_ecs_service.this' '!aws_appautoscaling_target' '!aws_iam_role_policy.task_sqs'
check "plan both (1..5): target tracking, no from-zero policy" plan_ok both \
  'aws_appautoscaling_policy.backlog_per_task' '!aws_appautoscaling_policy.from_zero' \
  'aws_iam_role_policy.task_sqs'
check "plan sqs (0..5): target tracking and the from-zero step policy" plan_ok sqs \
  'aws_appautoscaling_policy.backlog_per_task' 'aws_appautoscaling_policy.from_zero' \
  'aws_cloudwatch_metric_alarm.work_without_workers'
check "planned task definition (aggregation), queue and scaling (sqs)" python3 \
  "$SRC/tests/integration/tfplan_check.py" "$TMP/aggregation.plan.json" "$TMP/sqs.plan.json"

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
