#!/usr/bin/python3
"""Write a model directory's weights as a PyTorch checkpoint (pytorch_model.bin).

    /usr/bin/python3 tests/ml/gen_torchbin.py SRC_DIR OUT_DIR [--legacy] [--heads] [--strided]
        [--drop NAME] [--evil]

Copies SRC_DIR's JSON/vocab files to OUT_DIR and writes OUT_DIR/pytorch_model.bin with
torch.save from SRC_DIR/model.safetensors, keeping each tensor's dtype (F32/F16/BF16/I64):
  --legacy   the pre-1.6 format (_use_new_zipfile_serialization=False), else the zip format
  --heads    as BertForPreTraining saves: "bert." prefix, cls.* heads, and the MLM decoder
             weight tied to (sharing the storage of) the word embeddings
  --strided  store every 2-D weight as a transposed view of a transposed copy (same values,
             non-contiguous strides in the file)
  --drop N   leave tensor N out
  --evil     a zip checkpoint whose data.pkl calls os.system (must be refused, never run)
No model.safetensors is written to OUT_DIR.
"""
import argparse
import collections
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    data = buf[8 + n:]
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = bytearray(data[b:e])
        dt = info["dtype"]
        if dt == "F32":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy())
        elif dt == "F16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f2").copy())
        elif dt == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16)
        elif dt == "I64":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i8").copy())
        else:
            raise SystemExit("dtype %s not handled" % dt)
        out[name] = t.reshape(info["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--legacy", action="store_true")
    ap.add_argument("--heads", action="store_true")
    ap.add_argument("--strided", action="store_true")
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--evil", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for root, _dirs, files in os.walk(args.src):
        for f in files:
            if f == "model.safetensors" or f.endswith(".bin"):
                continue
            rel = os.path.relpath(os.path.join(root, f), args.src)
            os.makedirs(os.path.dirname(os.path.join(args.out, rel)), exist_ok=True)
            shutil.copyfile(os.path.join(root, f), os.path.join(args.out, rel))
    dst = os.path.join(args.out, "pytorch_model.bin")
    if args.evil:
        # A GLOBAL os.system REDUCE'd with a command: torch.load would run it.
        pkl = (b"\x80\x02cos\nsystem\nq\x00X\x0b\x00\x00\x00touch /tmp/Zq\x00\x85q\x01Rq\x02.")
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", pkl)
            z.writestr("archive/version", "3\n")
        return 0
    sd = read_safetensors(os.path.join(args.src, "model.safetensors"))
    for n in args.drop:
        del sd[n]
    if args.strided:
        for n, t in list(sd.items()):
            if t.dim() == 2 and t.is_floating_point():
                sd[n] = t.t().contiguous().t()
                assert not sd[n].is_contiguous()
    if args.heads:
        H = sd["embeddings.word_embeddings.weight"].shape[1]
        V = sd["embeddings.word_embeddings.weight"].shape[0]
        dt = sd["embeddings.word_embeddings.weight"].dtype
        out = collections.OrderedDict()
        for n, t in sd.items():
            out["bert." + n] = t
        g = torch.Generator().manual_seed(5)
        out["cls.predictions.bias"] = torch.zeros(V, dtype=dt)
        out["cls.predictions.transform.dense.weight"] = torch.randn(H, H, generator=g).to(dt)
        out["cls.predictions.transform.dense.bias"] = torch.zeros(H, dtype=dt)
        out["cls.predictions.transform.LayerNorm.weight"] = torch.ones(H, dtype=dt)
        out["cls.predictions.transform.LayerNorm.bias"] = torch.zeros(H, dtype=dt)
        out["cls.predictions.decoder.weight"] = out["bert.embeddings.word_embeddings.weight"]
        out["cls.seq_relationship.weight"] = torch.randn(2, H, generator=g).to(dt)
        out["cls.seq_relationship.bias"] = torch.zeros(2, dtype=dt)
        sd = out
    torch.save(sd, dst, _use_new_zipfile_serialization=not args.legacy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
