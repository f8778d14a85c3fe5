#!/usr/bin/python3
"""Write a random-weight BERT checkpoint in the Hugging Face / sentence-transformers layout.

    /usr/bin/python3 tests/ml/gen_model.py OUTDIR [--tiny | --base] [--dtype f32|f16|bf16]
        [--pooling mean|cls|max] [--prefix bert.] [--seed N] [--std 0.02]

OUTDIR receives config.json, model.safetensors, modules.json, 1_Pooling/config.json,
sentence_bert_config.json, tokenizer_config.json and vocab.txt (copied from
$MLW_SHARED_DATA/bert-base-cased-vocab.txt when present). The safetensors file is written
by the small writer below (numpy only), in the format's exact layout: 8-byte little-endian
header length, JSON header padded with spaces to a multiple of 8, then the tensors back to
back. Weights are drawn in a fixed order from numpy's PCG64 with the given seed, in fp32,
then rounded to the requested dtype, so the same seed gives the same model in every dtype.
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

SHAPES = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072),
}


def bf16_bits(a):
    """fp32 array -> uint16 bfloat16 bit patterns, round to nearest even."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    bias = ((u >> 16) & 1) + np.uint32(0x7FFF)
    return ((u + bias) >> 16).astype(np.uint16)


def encode(a, dtype):
    """Return (safetensors dtype name, raw little-endian bytes)."""
    if a.dtype == np.int64:
        return "I64", a.astype("<i8").tobytes()
    if dtype == "f32":
        return "F32", a.astype("<f4").tobytes()
    if dtype == "f16":
        return "F16", a.astype("<f2").tobytes()
    if dtype == "bf16":
        return "BF16", bf16_bits(a).astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype, metadata=None):
    """tensors: list of (name, numpy array) in file order."""
    header = {}
    blobs = []
    offset = 0
    if metadata:
        header["__metadata__"] = metadata
    for name, a in tensors:
        dt, raw = encode(a, dtype)
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)


def make_weights(cfg, seed, std, position_ids):
    rng = np.random.default_rng(seed)
    H, FF = cfg["hidden_size"], cfg["intermediate_size"]

    def normal(*shape, scale=std):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))

    def ln(prefix):
        # LayerNorm gains near 1, biases near 0, as in trained checkpoints.
        return [(prefix + ".weight", 1.0 + normal(H, scale=0.05)),
                (prefix + ".bias", normal(H))]

    t = []
    if position_ids:
        t.append(("embeddings.position_ids",
                  np.arange(cfg["max_position_embeddings"], dtype=np.int64)[None, :]))
    t.append(("embeddings.word_embeddings.weight", normal(cfg["vocab_size"], H)))
    t.append(("embeddings.position_embeddings.weight",
              normal(cfg["max_position_embeddings"], H)))
    t.append(("embeddings.token_type_embeddings.weight", normal(cfg["type_vocab_size"], H)))
    t += ln("embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        for n in ("query", "key", "value"):
            t.append((p + "attention.self.%s.weight" % n, normal(H, H)))
            t.append((p + "attention.self.%s.bias" % n, normal(H)))
        t.append((p + "attention.output.dense.weight", normal(H, H)))
        t.append((p + "attention.output.dense.bias", normal(H)))
        t += ln(p + "attention.output.LayerNorm")
        t.append((p + "intermediate.dense.weight", normal(FF, H)))
        t.append((p + "intermediate.dense.bias", normal(FF)))
        t.append((p + "output.dense.weight", normal(H, FF)))
        t.append((p + "output.dense.bias", normal(H)))
        t += ln(p + "output.LayerNorm")
    t.append(("pooler.dense.weight", normal(H, H)))
    t.append(("pooler.dense.bias", normal(H)))
    return t


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--tiny", action="store_const", dest="size", const="tiny")
    size.add_argument("--base", action="store_const", dest="size", const="base")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--pooling", choices=["mean", "cls", "max"], default="mean")
    ap.add_argument("--prefix", default="", help='tensor name prefix, e.g. "bert."')
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--std", type=float, default=0.02, help="weight standard deviation")
    ap.add_argument("--vocab-size", type=int, default=28996)
    ap.add_argument("--max-positions", type=int, default=512)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--position-ids", action="store_true",
                    help="also store the int64 embeddings.position_ids buffer (older files)")
    ap.add_argument("--vocab", default=None, help="vocab.txt to copy")
    args = ap.parse_args()
    shape = SHAPES[args.size or "tiny"]

    cfg = {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": args.max_positions,
        "model_type": "bert",
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[args.dtype],
        "transformers_version": "4.41.2",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": args.vocab_size,
    }
    cfg.update(shape)

    os.makedirs(os.path.join(args.outdir, "1_Pooling"), exist_ok=True)
    write_json(os.path.join(args.outdir, "config.json"), cfg)
    weights = make_weights(cfg, args.seed, args.std, args.position_ids)
    if args.prefix:
        weights = [(args.prefix + n, a) for n, a in weights]
    write_safetensors(os.path.join(args.outdir, "model.safetensors"), weights, args.dtype,
                      {"format": "pt"})
    write_json(os.path.join(args.outdir, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
    ])
    write_json(os.path.join(args.outdir, "1_Pooling", "config.json"), {
        "word_embedding_dimension": cfg["hidden_size"],
        "pooling_mode_cls_token": args.pooling == "cls",
        "pooling_mode_mean_tokens": args.pooling == "mean",
        "pooling_mode_max_tokens": args.pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    write_json(os.path.join(args.outdir, "sentence_bert_config.json"),
               {"max_seq_length": args.max_seq_length, "do_lower_case": False})
    write_json(os.path.join(args.outdir, "tokenizer_config.json"), {
        "clean_up_tokenization_spaces": True, "cls_token": "[CLS]", "do_basic_tokenize": True,
        "do_lower_case": False, "mask_token": "[MASK]", "model_max_length": 512,
        "never_split": None, "pad_token": "[PAD]", "sep_token": "[SEP]",
        "strip_accents": None, "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]",
    })
    vocab = args.vocab
    if vocab is None:
        shared = os.environ.get("MLW_SHARED_DATA")
        if shared:
            vocab = os.path.join(shared, "bert-base-cased-vocab.txt")
    if vocab and os.path.exists(vocab):
        shutil.copyfile(vocab, os.path.join(args.outdir, "vocab.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
