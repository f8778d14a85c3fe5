#!/usr/bin/env node
// bench/bert_ort.mjs - the ONNX Runtime side of bench/bert: the fp32 PyTorch module of
// bench/bert_torch.py exported to ONNX (bert_torch.py --export-onnx; mean pooling and L2
// normalisation are in the graph) run by onnxruntime-node (CPU execution provider, from
// tests/node_modules), padded batch with an attention mask like the PyTorch runner.
//
//   node bench/bert_ort.mjs MODEL.onnx --threads N --ids FILE --batch B --repeat R
//        time: one JSON object like `mlworker embed-ids --repeat` (the first pass is warm-up)
//   node bench/bert_ort.mjs MODEL.onnx --threads N --first IDS
//        start to first embedding: print one vector (JSON array) and exit
//   node bench/bert_ort.mjs MODEL.onnx --threads N --ids FILE --batch B --print
//        print each embedding (JSON array per line), for the agreement check
//
// Threads: intraOpNumThreads = N, interOpNumThreads = 1, sequential execution.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "tests", "package.json"));
const ort = require("onnxruntime-node");

function parseArgs(argv) {
  const a = { batch: 1, repeat: 1, threads: 1, print: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === "--threads") a.threads = Number(argv[++i]);
    else if (k === "--ids") a.ids = argv[++i];
    else if (k === "--batch") a.batch = Number(argv[++i]);
    else if (k === "--repeat") a.repeat = Number(argv[++i]);
    else if (k === "--first") a.first = argv[++i];
    else if (k === "--print") a.print = true;
    else if (a.model === undefined) a.model = k;
    else throw new Error(`unexpected argument ${k}`);
  }
  if (a.model === undefined || !(a.threads >= 1)) {
    throw new Error("usage: bert_ort.mjs MODEL.onnx --threads N (--ids FILE --batch B " +
                    "--repeat R | --first IDS)");
  }
  return a;
}

// Padded [B, L] int64 ids and float32 mask, as bert_torch.py's batch_tensors().
function feeds(seqs) {
  const B = seqs.length;
  const L = Math.max(...seqs.map((s) => s.length));
  const ids = new BigInt64Array(B * L);
  const mask = new Float32Array(B * L);
  seqs.forEach((s, b) => {
    s.forEach((id, i) => {
      ids[b * L + i] = BigInt(id);
      mask[b * L + i] = 1;
    });
  });
  return {
    input_ids: new ort.Tensor("int64", ids, [B, L]),
    attention_mask: new ort.Tensor("float32", mask, [B, L]),
  };
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const round6 = (v) => Math.round(v * 1e6) / 1e6;
  if (a.first !== undefined) {
    const out = await session.run(feeds([JSON.parse(a.first)]));
    const e = out.embedding.data;
    process.stdout.write(JSON.stringify(Array.from(e, round6)) + "\n");
    return;
  }
  const seqs = readFileSync(a.ids, "utf8").split("\n").filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  const batches = [];
  for (let i = 0; i < seqs.length; i += a.batch) batches.push(feeds(seqs.slice(i, i + a.batch)));
  if (a.print) {
    for (const f of batches) {
      const out = await session.run(f);
      const [B, H] = out.embedding.dims;
      for (let b = 0; b < B; b++) {
        const row = out.embedding.data.subarray(b * H, (b + 1) * H);
        process.stdout.write(JSON.stringify(Array.from(row, round6)) + "\n");
      }
    }
    return;
  }
  const lat = [];
  const cpu = [];
  for (let rep = 0; rep <= a.repeat; rep++) { // the first pass is warm-up
    for (const f of batches) {
      const t0 = process.hrtime.bigint();
      const c0 = cpuMs();
      await session.run(f);
      if (rep > 0) {
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        cpu.push(cpuMs() - c0);
      }
    }
  }
  process.stdout.write(JSON.stringify({
    dtype: "fp32", kernel: `onnxruntime-${ort.env.versions.common}-cpu`, threads: a.threads,
    batch: a.batch, sequences: seqs.length, latency_ms: lat, cpu_ms: cpu,
  }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`bert_ort.mjs: ${e.stack || e}\n`);
  process.exit(1);
});
