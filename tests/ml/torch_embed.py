#!/usr/bin/python3
"""Reference BERT sentence encoder in PyTorch, written from the math (no transformers).

    /usr/bin/python3 tests/ml/torch_embed.py MODEL_DIR [--threads N] < ids.jsonl > emb.jsonl

stdin: one JSON array of token ids per line. stdout: one JSON array of floats per line, the
pooled and L2-normalised embedding, computed on a zero-padded batch with an additive
attention mask (the way Hugging Face's BertModel runs), so it checks the C encoder's
packed, mask-free attention independently. Weights are read from model.safetensors with
a small numpy reader; F16/BF16 tensors are widened to fp32 and the math runs in fp32.

    --bench "B:L,B:LO-HI" [--iters N]  instead time random batches of B sequences of L
                                    (or LO..HI) tokens
                                    and print one JSON line per case (sentences/s)
"""
import argparse
import json
import math
import os
import struct
import sys
import time


def _pin_threads_from_argv():
    """OpenBLAS/OpenMP read their thread counts when first loaded, and numpy loads
    OpenBLAS on import: pin them before any import that could do so."""
    for i, a in enumerate(sys.argv):
        v = None
        if a == "--threads" and i + 1 < len(sys.argv):
            v = sys.argv[i + 1]
        elif a.startswith("--threads="):
            v = a.split("=", 1)[1]
        if v and v.isdigit() and int(v) > 0:
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[name] = v


_pin_threads_from_argv()
import numpy as np  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    data = memoryview(buf)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[b:e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "I64":
            a = np.frombuffer(raw, dtype="<i8")
        else:
            raise SystemExit("%s: dtype %s not handled by the reference" % (path, dt))
        out[name] = a.reshape(info["shape"])
    return out


def read_pooling(model_dir):
    mode = "mean"
    modules = os.path.join(model_dir, "modules.json")
    pdir = "1_Pooling"
    if os.path.exists(modules):
        with open(modules) as f:
            for m in json.load(f):
                if m["type"].endswith("Pooling"):
                    pdir = m["path"]
    pcfg = os.path.join(model_dir, pdir, "config.json")
    if os.path.exists(pcfg):
        with open(pcfg) as f:
            c = json.load(f)
        if c.get("pooling_mode_cls_token"):
            mode = "cls"
        elif c.get("pooling_mode_max_tokens"):
            mode = "max"
    return mode


class Bert:
    def __init__(self, model_dir, torch):
        self.torch = torch
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        prefix = "" if "embeddings.word_embeddings.weight" in w else "bert."
        self.w = {k[len(prefix):]: torch.from_numpy(np.array(v, dtype=np.float32))
                  for k, v in w.items() if k.startswith(prefix) and v.dtype != np.int64}
        self.pooling = read_pooling(model_dir)

    def forward(self, seqs):
        torch = self.torch
        F = torch.nn.functional
        c, w = self.cfg, self.w
        H, nh = c["hidden_size"], c["num_attention_heads"]
        d = H // nh
        eps = c.get("layer_norm_eps", 1e-12)
        B, L = len(seqs), max(len(s) for s in seqs)
        ids = torch.zeros((B, L), dtype=torch.long)
        mask = torch.zeros((B, L), dtype=torch.float32)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, :len(s)] = 1.0
        # embeddings: word + position + token type 0, LayerNorm
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:L].unsqueeze(0)
             + w["embeddings.token_type_embeddings.weight"][0])
        x = F.layer_norm(x, (H,), w["embeddings.LayerNorm.weight"],
                         w["embeddings.LayerNorm.bias"], eps)
        neg = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
        for i in range(c["num_hidden_layers"]):
            p = "encoder.layer.%d." % i

            def heads(t):
                return t.view(B, L, nh, d).transpose(1, 2)
            q = heads(F.linear(x, w[p + "attention.self.query.weight"],
                               w[p + "attention.self.query.bias"]))
            k = heads(F.linear(x, w[p + "attention.self.key.weight"],
                               w[p + "attention.self.key.bias"]))
            v = heads(F.linear(x, w[p + "attention.self.value.weight"],
                               w[p + "attention.self.value.bias"]))
            # softmax(QK^T / sqrt(d) + mask) V
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + neg
            ctx = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(B, L, H)
            a = F.linear(ctx, w[p + "attention.output.dense.weight"],
                         w[p + "attention.output.dense.bias"])
            x = F.layer_norm(x + a, (H,), w[p + "attention.output.LayerNorm.weight"],
                             w[p + "attention.output.LayerNorm.bias"], eps)
            h = F.gelu(F.linear(x, w[p + "intermediate.dense.weight"],
                                w[p + "intermediate.dense.bias"]))
            o = F.linear(h, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
            x = F.layer_norm(x + o, (H,), w[p + "output.LayerNorm.weight"],
                             w[p + "output.LayerNorm.bias"], eps)
        m = mask.unsqueeze(-1)
        if self.pooling == "cls":
            e = x[:, 0]
        elif self.pooling == "max":
            e = torch.where(m > 0, x, torch.full_like(x, -1e9)).max(dim=1).values
        else:
            e = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        return F.normalize(e, p=2, dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--bench", default=None)
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = Bert(args.model_dir, torch)
    if args.bench:
        rng = np.random.default_rng(7)
        V = model.cfg["vocab_size"]
        for case in args.bench.split(","):
            b, l = case.split(":")
            b = int(b)
            lo, hi = (int(v) for v in (l.split("-") if "-" in l else (l, l)))
            lens = rng.integers(lo, hi + 1, b)
            seqs = [[101] + [int(v) for v in rng.integers(1000, V, n - 2)] + [102]
                    for n in lens]
            with torch.no_grad():
                model.forward(seqs)  # warm-up
                times = []
                c0 = time.process_time()
                for _ in range(args.iters):
                    t = time.perf_counter()
                    model.forward(seqs)
                    times.append(time.perf_counter() - t)
            cpu_ms = (time.process_time() - c0) / args.iters * 1e3
            times.sort()
            med = times[len(times) // 2]
            print(json.dumps({"impl": "torch", "batch": b, "len": l,
                              "threads": args.threads, "median_s": med,
                              "sent_per_s": b / med, "cpu_ms_per_batch": cpu_ms}))
        return 0
    seqs = [json.loads(line) for line in sys.stdin if line.strip()]
    with torch.no_grad():
        out = model.forward(seqs) if seqs else []
    for row in out:
        print(json.dumps([float(v) for v in row.tolist()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
