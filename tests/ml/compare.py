#!/usr/bin/python3
"""Compare two files of JSON float arrays (one embedding per line).

    compare.py A B [--max-abs 1e-4] [--min-cos 0.999] [--label NAME]

Prints one line with the row count, max |a-b| and min cosine; exits 1 if a bound fails.
"""
import argparse
import json
import sys

import numpy as np


def load(path):
    with open(path) as f:
        return np.array([json.loads(line) for line in f if line.strip()], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--max-abs", type=float, default=None)
    ap.add_argument("--min-cos", type=float, default=None)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    a, b = load(args.a), load(args.b)
    if a.shape != b.shape or a.size == 0:
        print("%s: shape mismatch %s vs %s" % (args.label, a.shape, b.shape))
        return 1
    diff = float(np.abs(a - b).max())
    cos = float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())
    ok = True
    if args.max_abs is not None and not diff <= args.max_abs:
        ok = False
    if args.min_cos is not None and not cos >= args.min_cos:
        ok = False
    print("%s: %d x %d  max_abs_diff=%.3g  min_cos=%.9f  %s"
          % (args.label, a.shape[0], a.shape[1], diff, cos, "ok" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
