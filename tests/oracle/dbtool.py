#!/usr/bin/env python3
"""Small database helpers for the integration scripts (stdlib sqlite3 only).

  dbtool.py copy-raw SRC DST       copy both raw tables from SRC into DST (a migrated, empty
                                   database) with the same ids, created_at and business columns,
                                   every status reset to 'pending'
  dbtool.py compare A B            compare every aggregate table (and the categorized and raw
                                   tables) of two databases, ignoring id / created_at /
                                   updated_at / aggregated_at and claim bookkeeping; numbers at
                                   relative tolerance 1e-9; exit 1 on any difference
  dbtool.py backup SRC DST         consistent copy of SRC (WAL included) to DST
  dbtool.py counts DB              print "table status count" lines for both raw tables
  dbtool.py unfinished DB          print the number of raw rows not in a final state
  dbtool.py check-manifest DB MANIFEST   check each hostile row of gen_data --bad: 'failed'
                                   ones failed with a non-empty reason, 'processed' ones
                                   categorized/completed, 'either' ones one or the other
  dbtool.py tables DB              exit 1 unless all eleven vitals/nutrition tables exist
  dbtool.py init-schema DB         (oracle self-test only) create the schema from
                                   src/store/schema/sqlite_*.sql without the worker
"""

import glob
import json
import math
import os
import sqlite3
import sys

RAW_TABLES = ["vitals_raw_data", "nutrition_raw_data"]
AGG_TABLES = {
    "vitals_hourly_aggregates": ["user_id", "metric_type", "hour_start"],
    "vitals_daily_aggregates": ["user_id", "metric_type", "date"],
    "vitals_weekly_aggregates": ["user_id", "metric_type", "week_start_date"],
    "vitals_monthly_aggregates": ["user_id", "metric_type", "year", "month"],
    "nutrition_daily_aggregates": ["user_id", "date"],
    "nutrition_weekly_aggregates": ["user_id", "week_start_date"],
    "nutrition_monthly_aggregates": ["user_id", "year", "month"],
}
ALL_TABLES = RAW_TABLES + ["vitals_raw_categorized", "vitals_mappings"] + list(AGG_TABLES)
IGNORED = {"id", "created_at", "updated_at", "aggregated_at", "claimed_by", "claimed_at"}
# status bookkeeping of the raw tables is compared; these raw columns are the copied inputs
RAW_RESET = {"aggregation_status": "pending", "failure_reason": None, "aggregated_at": None,
             "claimed_by": None, "claimed_at": None}


def connect(path, ro=False):
    if ro:
        c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=60)
    else:
        c = sqlite3.connect(path, timeout=60)
    c.text_factory = bytes  # byte-exact comparisons, invalid UTF-8 included
    return c


def columns(conn, table, schema="main"):
    return [r[1].decode() if isinstance(r[1], bytes) else r[1]
            for r in conn.execute("PRAGMA %s.table_info(%s)" % (schema, table))]


def copy_raw(src, dst):
    conn = connect(dst)
    conn.execute("ATTACH DATABASE ? AS src", (src,))
    with conn:
        for t in RAW_TABLES:
            cols = [c for c in columns(conn, t) if c in set(columns(conn, t, "src"))]
            sel = ["?" if c in RAW_RESET else c for c in cols]
            params = [RAW_RESET[c] for c in cols if c in RAW_RESET]
            if "updated_at" in cols:
                i = cols.index("updated_at")
                sel[i] = "created_at"
            conn.execute("INSERT INTO main.%s (%s) SELECT %s FROM src.%s ORDER BY id" % (
                t, ", ".join(cols), ", ".join(sel), t), params)
            n = conn.execute("SELECT count(*) FROM main.%s" % t).fetchone()[0]
            print("copy-raw: %s: %d rows" % (t, n))
    conn.close()


def _close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
            return False
        if a == b or (math.isnan(a) and math.isnan(b)):
            return True
        return abs(a - b) <= max(1e-12, 1e-9 * max(abs(a), abs(b)))
    return a == b


def compare(a_path, b_path, max_show=10):
    a, b = connect(a_path, ro=True), connect(b_path, ro=True)
    tables = dict(AGG_TABLES)
    tables["vitals_raw_categorized"] = ["raw_id"]
    tables["vitals_raw_data"] = ["id"]
    tables["nutrition_raw_data"] = ["id"]
    bad = 0
    for t, key in tables.items():
        cols = [c for c in columns(a, t) if c not in IGNORED and c not in key]
        if cols != [c for c in columns(b, t) if c not in IGNORED and c not in key]:
            print("compare: %s: different columns" % t)
            bad += 1
            continue
        sql = "SELECT %s FROM %s" % (", ".join(key + cols), t)
        ra = {tuple(r[: len(key)]): r[len(key):] for r in a.execute(sql)}
        rb = {tuple(r[: len(key)]): r[len(key):] for r in b.execute(sql)}
        problems = []
        for k in sorted(set(ra) - set(rb)):
            problems.append("only in %s: %s" % (a_path, k))
        for k in sorted(set(rb) - set(ra)):
            problems.append("only in %s: %s" % (b_path, k))
        for k in sorted(set(ra) & set(rb)):
            d = ["%s: %r vs %r" % (c, x[:200] if isinstance(x, bytes) else x,
                                   y[:200] if isinstance(y, bytes) else y)
                 for c, x, y in zip(cols, ra[k], rb[k]) if not _close(x, y)]
            if d:
                problems.append("%s: %s" % (k, "; ".join(d)))
        if problems:
            bad += 1
            print("compare: %s: %d difference(s)" % (t, len(problems)))
            for p in problems[:max_show]:
                print("  " + p)
        else:
            print("compare: %s: %d rows identical" % (t, len(ra)))
    return 1 if bad else 0


def backup(src, dst):
    s = sqlite3.connect(src, timeout=60)
    d = sqlite3.connect(dst)
    s.backup(d)
    d.close()
    s.close()
    return 0


def counts(path):
    c = connect(path, ro=True)
    for t in RAW_TABLES:
        for st, n in c.execute("SELECT aggregation_status, count(*) FROM %s GROUP BY 1 ORDER BY 1"
                               % t):
            print("%s %s %d" % (t, st.decode() if isinstance(st, bytes) else st, n))
    return 0


def unfinished(path):
    c = connect(path, ro=True)
    n = 0
    for t in RAW_TABLES:
        n += c.execute("SELECT count(*) FROM %s WHERE aggregation_status NOT IN "
                       "('categorized', 'completed', 'failed')" % t).fetchone()[0]
    print(n)
    return 0


def check_manifest(path, manifest_path, verbose=False):
    c = connect(path, ro=True)
    manifest = json.load(open(manifest_path))
    ok = bad = n_failed = 0
    either = []
    for m in manifest:
        success = b"categorized" if m["table"] == "vitals_raw_data" else b"completed"
        row = c.execute("SELECT aggregation_status, failure_reason FROM %s WHERE id = ?"
                        % m["table"], (m["id"],)).fetchone()
        if row is None:
            print("FAIL %s id %s (%s): row is gone" % (m["table"], m["id"], m["what"]))
            bad += 1
            continue
        st, reason = row
        has_reason = isinstance(reason, bytes) and reason.strip() != b""
        failed_ok = st == b"failed" and has_reason
        n_failed += failed_ok
        good = {"failed": failed_ok, "processed": st == success,
                "either": failed_ok or st == success}[m["expect"]]
        shown_reason = reason.decode("utf-8", "replace")[:100] if reason else reason
        if good:
            ok += 1
            if verbose:
                print("ok   %-18s id %-6s expect %-9s got %-11s %s%s" % (
                    m["table"], m["id"], m["expect"], st.decode(), m["what"],
                    " (reason: %s)" % shown_reason if st == b"failed" else ""))
            if m["expect"] == "either":
                either.append("%s -> %s" % (m["what"], st.decode()))
        else:
            bad += 1
            print("FAIL %-18s id %-6s expect %-9s got %-11s %s (reason: %r)" % (
                m["table"], m["id"], m["expect"], st.decode("utf-8", "replace"), m["what"],
                shown_reason))
    for e in either:
        print("note: worker's choice for an either-way row: %s" % e)
    print("check-manifest: %d hostile rows as expected (%d failed with a reason, %d processed), "
          "%d wrong%s" % (ok, n_failed, ok - n_failed, bad,
                          "" if verbose else " (MLW_VERBOSE=1 lists every row)"))
    return 1 if bad else 0


def tables(path):
    c = connect(path, ro=True)
    have = {r[0].decode() for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = [t for t in ALL_TABLES if t not in have]
    for t in missing:
        print("missing table %s" % t)
    if not missing:
        print("tables: all %d present" % len(ALL_TABLES))
    return 1 if missing else 0


def init_schema(path):
    root = os.environ.get("MLW_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
    files = sorted(glob.glob(os.path.join(root, "src", "store", "schema", "sqlite_*.sql")))
    if not files:
        sys.exit("init-schema: no schema files")
    conn = sqlite3.connect(path)
    for f in files:
        conn.executescript(open(f, encoding="utf-8").read())
    conn.commit()
    conn.close()
    return 0


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "copy-raw" and len(argv) == 4:
        copy_raw(argv[2], argv[3])
        return 0
    if cmd == "compare" and len(argv) == 4:
        return compare(argv[2], argv[3])
    if cmd == "backup" and len(argv) == 4:
        return backup(argv[2], argv[3])
    if cmd == "counts":
        return counts(argv[2])
    if cmd == "unfinished":
        return unfinished(argv[2])
    if cmd == "check-manifest" and len(argv) == 4:
        return check_manifest(argv[2], argv[3], os.environ.get("MLW_VERBOSE") == "1")
    if cmd == "tables":
        return tables(argv[2])
    if cmd == "init-schema":
        return init_schema(argv[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
