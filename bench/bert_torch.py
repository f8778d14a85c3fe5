#!/usr/bin/python3
"""bench/bert_torch.py - the PyTorch side of bench/bert: BertModel-shaped nn.Module
(nn.Embedding, nn.Linear, nn.LayerNorm, exact GELU, padded batch with an additive attention
mask, mean pooling, L2 normalisation) on a safetensors checkpoint, fp32 or
torch.ao.quantization.quantize_dynamic int8 (nn.Linear -> dynamic quantized Linear).

    /usr/bin/python3 bench/bert_torch.py MODEL_DIR --threads N --dtype fp32|int8 \
        --ids FILE --batch B --repeat R        # time: one JSON object like embed-ids --repeat
    /usr/bin/python3 bench/bert_torch.py MODEL_DIR --threads N --dtype fp32|int8 --first IDS
                                               # start to first embedding: print one vector
    /usr/bin/python3 bench/bert_torch.py MODEL_DIR --threads N --export-onnx OUT.onnx
                                               # the fp32 module (pooling and L2 included) as
                                               # ONNX, dynamic batch and sequence axes, for
                                               # bench/bert_ort.mjs

Thread counts are pinned through OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS
before numpy or torch load, and torch.set_num_threads().
"""
import os
import sys


def _pin_threads():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv) and sys.argv[i + 1].isdigit():
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[name] = sys.argv[i + 1]


_pin_threads()
import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ml"))
from torch_embed import read_safetensors  # noqa: E402


def build(model_dir, torch):
    nn, F = torch.nn, torch.nn.functional
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    H, nh, FF = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"]
    eps = cfg.get("layer_norm_eps", 1e-12)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(H, H) for _ in range(4))
            self.ln1 = nn.LayerNorm(H, eps=eps)
            self.ff1, self.ff2 = nn.Linear(H, FF), nn.Linear(FF, H)
            self.ln2 = nn.LayerNorm(H, eps=eps)

        def forward(self, x, neg):
            B, L, _ = x.shape
            d = H // nh

            def heads(t):
                return t.view(B, L, nh, d).transpose(1, 2)
            s = torch.matmul(heads(self.q(x)), heads(self.k(x)).transpose(-1, -2))
            p = torch.softmax(s / math.sqrt(d) + neg, dim=-1)
            ctx = torch.matmul(p, heads(self.v(x))).transpose(1, 2).reshape(B, L, H)
            x = self.ln1(x + self.o(ctx))
            return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(cfg["vocab_size"], H)
            self.pos = nn.Embedding(cfg["max_position_embeddings"], H)
            self.ttype = nn.Embedding(cfg["type_vocab_size"], H)
            self.ln = nn.LayerNorm(H, eps=eps)
            self.layers = nn.ModuleList(Layer() for _ in range(cfg["num_hidden_layers"]))

        def forward(self, ids, mask):
            L = ids.shape[1]
            x = self.ln(self.word(ids) + self.pos.weight[:L].unsqueeze(0) + self.ttype.weight[0])
            neg = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
            for layer in self.layers:
                x = layer(x, neg)
            m = mask.unsqueeze(-1)
            e = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
            return F.normalize(e, p=2, dim=1)

    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    pre = "" if "embeddings.word_embeddings.weight" in w else "bert."

    def t(name):
        return torch.from_numpy(np.array(w[pre + name], dtype=np.float32))
    model = Bert()
    sd = {"word.weight": t("embeddings.word_embeddings.weight"),
          "pos.weight": t("embeddings.position_embeddings.weight"),
          "ttype.weight": t("embeddings.token_type_embeddings.weight"),
          "ln.weight": t("embeddings.LayerNorm.weight"), "ln.bias": t("embeddings.LayerNorm.bias")}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
             "ff1": "intermediate.dense", "ff2": "output.dense", "ln2": "output.LayerNorm"}
    for i in range(cfg["num_hidden_layers"]):
        for short, long in names.items():
            for p in ("weight", "bias"):
                sd["layers.%d.%s.%s" % (i, short, p)] = t("encoder.layer.%d.%s.%s" % (i, long, p))
    model.load_state_dict(sd)
    del w, sd
    model.eval()
    return model


def batch_tensors(torch, seqs):
    B, L = len(seqs), max(len(s) for s in seqs)
    ids = torch.zeros((B, L), dtype=torch.long)
    mask = torch.zeros((B, L), dtype=torch.float32)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1.0
    return ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--dtype", choices=["fp32", "int8"], default="fp32")
    ap.add_argument("--ids")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--first", help="JSON array of token ids: embed it once and exit")
    ap.add_argument("--export-onnx", metavar="PATH", help="write the fp32 model as ONNX and exit")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    engines = torch.backends.quantized.supported_engines
    for e in ("x86", "fbgemm", "onednn", "qnnpack"):
        if e in engines:
            torch.backends.quantized.engine = e
            break
    model = build(args.model_dir, torch)
    if args.dtype == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                       dtype=torch.qint8)
    with torch.no_grad():
        if args.export_onnx:
            ids, mask = batch_tensors(torch, [[101, 2000, 2001, 102], [101, 2002, 102]])
            tmp = args.export_onnx + ".tmp"
            torch.onnx.export(model, (ids, mask), tmp, input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], opset_version=14,
                              dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                            "attention_mask": {0: "batch", 1: "seq"},
                                            "embedding": {0: "batch"}})
            os.replace(tmp, args.export_onnx)
            return 0
        if args.first:
            e = model(*batch_tensors(torch, [json.loads(args.first)]))
            print(json.dumps([round(float(v), 6) for v in e[0].tolist()]))
            sys.stdout.flush()
            return 0
        seqs = [json.loads(line) for line in open(args.ids) if line.strip()]
        batches = [batch_tensors(torch, seqs[i:i + args.batch])
                   for i in range(0, len(seqs), args.batch)]
        lat, cpu = [], []
        for rep in range(args.repeat + 1):      # the first pass is warm-up
            for ids, mask in batches:
                t0, c0 = time.perf_counter(), time.process_time()
                model(ids, mask)
                if rep > 0:
                    lat.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.process_time() - c0) * 1e3)
    print(json.dumps({"dtype": args.dtype, "kernel": "torch-" + torch.backends.quantized.engine
                      if args.dtype == "int8" else "torch", "threads": args.threads,
                      "batch": args.batch, "sequences": len(seqs), "latency_ms": lat,
                      "cpu_ms": cpu}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
