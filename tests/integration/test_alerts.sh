#!/usr/bin/env bash
# deploy/prometheus/alerts.yml: valid rules (promtool check rules) that fire on the series
# mlworker exports and stay quiet on a healthy worker (promtool test rules).
# Env: MLW_SOURCE_DIR.
set -euo pipefail
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if ! command -v promtool >/dev/null; then
  echo "promtool not found (scripts/install-deps.sh installs prometheus)"; echo "0 passed, 1 failed"; exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mlw-alerts.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASSED=0 FAILED=0
run() { local d=$1; shift; if out=$("$@" 2>&1); then PASSED=$((PASSED + 1)); echo "PASS: $d"
  else FAILED=$((FAILED + 1)); echo "FAIL: $d"; printf '%s\n' "$out" | sed 's/^/    /'; fi; }

run "promtool check rules deploy/prometheus/alerts.yml" promtool check rules "$SRC/deploy/prometheus/alerts.yml"
cp "$SRC/deploy/prometheus/alerts.yml" "$TMP/alerts.yml"
cat > "$TMP/test.yml" <<'YML'
rule_files: [alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # vitals: 10 % of rows fail; labs: none fail
      - series: 'mlworker_rows_processed_total{job="mlworker",instance="a",domain="vitals"}'
        values: '0+90x40'
      - series: 'mlworker_rows_failed_total{job="mlworker",instance="a",domain="vitals"}'
        values: '0+10x40'
      - series: 'mlworker_rows_processed_total{job="mlworker",instance="a",domain="labs"}'
        values: '0+100x40'
      - series: 'mlworker_rows_failed_total{job="mlworker",instance="a",domain="labs"}'
        values: '0+0x40'
      - series: 'mlworker_thread_healthy{job="mlworker",instance="a",thread="sqs"}'
        values: '1x10 0x20'
      - series: 'mlworker_thread_healthy{job="mlworker",instance="a",thread="aggregation"}'
        values: '1x30'
      - series: 'up{job="mlworker",instance="a"}'
        values: '1x30'
      - series: 'process_resident_memory_bytes{job="mlworker",instance="a"}'
        values: '40000000x30'
      - series: 'mlworker_sqs_messages_failed_total{job="mlworker",instance="a",job_type="loinc_mapping"}'
        values: '0+1x30'
      - series: 'mlworker_batch_errors_total{job="mlworker",instance="a"}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 35m
        alertname: MlworkerRowFailureRateHigh
        exp_alerts:
          - exp_labels: {severity: ticket, domain: vitals}
            exp_annotations:
              summary: "more than 5% of vitals rows fail (see failure_reason in the raw table)"
      - eval_time: 25m
        alertname: MlworkerThreadStuck
        exp_alerts:
          - exp_labels: {severity: page, job: mlworker, instance: a, thread: sqs}
            exp_annotations:
              summary: "mlworker a thread sqs is past its deadline (ML_WORKER_HEALTH_DEADLINE)"
      - eval_time: 8m
        alertname: MlworkerThreadStuck
        exp_alerts: []
      - eval_time: 25m
        alertname: MlworkerDown
        exp_alerts: []
      - eval_time: 25m
        alertname: MlworkerMemoryHigh
        exp_alerts: []
      - eval_time: 25m
        alertname: MlworkerBatchErrors
        exp_alerts: []
      - eval_time: 20m
        alertname: MlworkerMessagesFailing
        exp_alerts:
          - exp_labels: {severity: ticket, job_type: loinc_mapping}
            exp_annotations:
              summary: "loinc_mapping messages are being left for redrive; they reach the DLQ after maxReceiveCount (runbook: mlworker dlq list)"
YML
run "promtool test rules: alerts fire on bad series and stay quiet on good ones" \
  bash -c "cd '$TMP' && promtool test rules test.yml"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
