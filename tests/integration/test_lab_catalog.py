#!/usr/bin/env python3
"""Checks every LOINC code of data/lab_catalog.txt.

  * every code passes LOINC's mod-10 check digit;
  * a code marked `sample` is in ../shared/data/loinc-sample.csv, and that concept's component
    and system fit the test (same analyte words, a specimen the test has);
  * a code marked `xref` or `unchecked` is not in the sample (else it must be marked `sample`);
  * no code is given to two tests of different analytes;
  * counts: tests, codes by mark, tests without a code.

Env: MLW_SOURCE_DIR (repository root), MLW_SHARED_DATA (default ../shared/data). Prints
`N passed, N failed`; exit 1 on any failure.
"""

import csv
import os
import re
import sys

SRC = os.environ.get("MLW_SOURCE_DIR") or os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("MLW_SHARED_DATA") or os.path.join(SRC, "..", "shared", "data")
PASSED = FAILED = 0


def result(ok, what):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("PASS: %s" % what)
    else:
        FAILED += 1
        print("FAIL: %s" % what)


def luhn_ok(code):
    num, chk = code.split("-")
    s = 0
    for i, ch in enumerate(reversed(num)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d // 10 + d % 10
        s += d
    return (10 - s % 10) % 10 == int(chk)


def load_catalog():
    tests, cur = [], None
    with open(os.path.join(SRC, "data", "lab_catalog.txt"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"test (\S+) \| ([^|]*) \| (\S+) \| (\S+) \|", line)
            if m:
                cur = {"code": m.group(1), "name": m.group(2).strip(), "cat": m.group(3),
                       "spec": m.group(4), "loinc": []}
                tests.append(cur)
                continue
            m = re.match(r"\s+loinc\s+(.*)", line)
            if m and cur:
                f2 = m.group(1).split()
                cur["loinc"] += [(f2[i], f2[i + 1]) for i in range(0, len(f2), 2)]
    return tests


# The component and system words a sample concept must show for the test's code.
SAMPLE_FITS = {
    "K": ("Potassium", ("Serum or Plasma", "Blood")),
    "U_K": ("Potassium", ("Urine",)),
    "U_K24": ("Potassium", ("24 hour Urine",)),
    "COHB": ("Carboxyhemoglobin", ("Blood",)),
    "CPEPPP": ("C peptide", ("Serum or Plasma",)),
    "HCVRNA": ("Hepatitis C virus RNA", ("Serum or Plasma",)),
    "BLDCX": ("Bacteria identified", ("Blood",)),
    "SPUCX": ("Bacteria identified", ("Sputum",)),
    "THRCX": ("Bacteria identified", ("Throat",)),
    "WNDCX": ("Bacteria identified", ("Wound",)),
    "URINE_CX": ("Bacteria identified", ("Urine",)),
    "STOOL_CX": ("Bacteria identified", ("Stool",)),
    "HSVG": ("Herpes simplex virus 1+2 IgG", ("Serum",)),
    "U_BACT": ("Bacteria", ("Urine",)),
    "STOOL_UBG": ("Urobilinogen", ("Stool",)),
}


def main():
    tests = load_catalog()
    path = os.path.join(SHARED, "loinc-sample.csv")
    if not os.path.exists(path):
        print("SKIP: no %s" % path)
        return 0
    sample = {r["LOINC_NUM"]: r for r in csv.DictReader(open(path, encoding="utf-8"))}
    codes = [(t, c, mark) for t in tests for c, mark in t["loinc"]]
    marks = {}
    for _, _, mark in codes:
        marks[mark] = marks.get(mark, 0) + 1
    print("catalog: %d tests, %d LOINC codes (%s), %d tests without a code; sample: %d concepts"
          % (len(tests), len(codes), ", ".join("%s %d" % kv for kv in sorted(marks.items())),
             sum(1 for t in tests if not t["loinc"]), len(sample)))
    result(len(tests) >= 300, "at least 300 tests (%d)" % len(tests))
    bad = [c for _, c, _ in codes if not luhn_ok(c)]
    result(not bad, "every code passes the mod-10 check digit %s" % (bad or ""))
    problems = []
    for t, c, mark in codes:
        if mark == "sample":
            r = sample.get(c)
            if r is None:
                problems.append("%s %s marked sample but not in the sample" % (t["code"], c))
                continue
            fit = SAMPLE_FITS.get(t["code"])
            name = r["LONG_COMMON_NAME"]
            if not fit or fit[0].lower() not in r["COMPONENT"].lower() + " " + name.lower() or \
                    not any(s.lower() in name.lower() for s in fit[1]):
                problems.append("%s %s: sample concept '%s' does not fit" % (t["code"], c, name))
            else:
                print("    %-9s %-8s = %s" % (t["code"], c, name))
        elif c in sample:
            problems.append("%s %s marked %s but it is in the sample: %s" % (
                t["code"], c, mark, sample[c]["LONG_COMMON_NAME"]))
    result(not problems, "codes marked 'sample' are in the sample and fit their test; no other"
           " code is%s" % ("".join("\n    " + p for p in problems)))
    owners = {}
    for t, c, _ in codes:
        owners.setdefault(c, set()).add(t["code"])
    # tests that legitimately share a code: a generic glucose and the random glucose, insulin
    allowed = [{"GLU", "RBS"}, {"INS", "INSF"}]
    shared = {c: o for c, o in owners.items() if len(o) > 1 and o not in allowed}
    result(not shared, "no code names two different tests %s" % (shared or ""))
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
