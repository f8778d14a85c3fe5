#!/usr/bin/python3
"""dbsync.py - move raw rows from SQLite to PostgreSQL and compare results.

  dbsync.py copy SQLITE_DB PG_URL      copy vitals/nutrition raw rows (same ids)
  dbsync.py copy-part SQLITE_DB PG_URL K N
                                       copy part K of N (rows with id % N == K)
  dbsync.py compare SQLITE_DB PG_URL   compare every aggregate, categorized and raw
                                       status column (relative tolerance 1e-9)

Runs with Debian's /usr/bin/python3 (psycopg2). Timestamps are compared as
values, not text (PostgreSQL prints '10:00:00.5', SQLite holds what we wrote).
"""
import datetime
import math
import sqlite3
import sys

import psycopg2

RAW = ["vitals_raw_data", "nutrition_raw_data"]
COMPARED = {
    # table: key columns (the logical key); every other column except ignored ones is compared
    "vitals_raw_categorized": ["raw_id"],
    "vitals_hourly_aggregates": ["user_id", "metric_type", "hour_start"],
    "vitals_daily_aggregates": ["user_id", "metric_type", "date"],
    "vitals_weekly_aggregates": ["user_id", "metric_type", "week_start_date"],
    "vitals_monthly_aggregates": ["user_id", "metric_type", "year", "month"],
    "nutrition_daily_aggregates": ["user_id", "date"],
    "nutrition_weekly_aggregates": ["user_id", "week_start_date"],
    "nutrition_monthly_aggregates": ["user_id", "year", "month"],
    "vitals_raw_data": ["id"],
    "nutrition_raw_data": ["id"],
}
IGNORED = {"id", "created_at", "updated_at", "aggregated_at"}


def norm(v):
    """Comparable form: timestamps/dates as datetime, numbers as float."""
    if isinstance(v, (datetime.datetime, datetime.date)):
        if not isinstance(v, datetime.datetime):
            return datetime.datetime(v.year, v.month, v.day)
        return v
    if isinstance(v, str) and len(v) >= 10 and v[4] == "-" and v[7] == "-":
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f",
                    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
            try:
                return datetime.datetime.strptime(v, fmt)
            except ValueError:
                pass
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return float(v)
    return v


def same(a, b):
    a, b = norm(a), norm(b)
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return a == b


def copy(sqlite_path, url, part=0, parts=1):
    s = sqlite3.connect(sqlite_path)
    p = psycopg2.connect(url)
    cur = p.cursor()
    for t in RAW:
        cols = [r[1] for r in s.execute("PRAGMA table_info(%s)" % t)]
        rows = s.execute("SELECT %s FROM %s WHERE id %% ? = ?" % (", ".join(cols), t),
                         (parts, part)).fetchall()
        # Text timestamps that differ only in form ('T' vs ' ') are one value
        # in PostgreSQL and may collide on the raw identity index: skip them
        # here and delete them from the SQLite file too, so both hold the same
        # raw rows.
        q = "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id" % (
            t, ", ".join(cols), ", ".join(["%s"] * len(cols)))
        kept = set()
        for row in rows:
            cur.execute(q, row)
            if cur.fetchone():
                kept.add(row[0])
        dropped = [r[0] for r in rows if r[0] not in kept]
        if dropped:
            s.executemany("DELETE FROM %s WHERE id = ?" % t, [(i,) for i in dropped])
            s.commit()
            print("skipped %d rows of %s that collide in PostgreSQL" % (len(dropped), t))
        cur.execute("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s))" % (t, t))
        p.commit()
        print("copied %d rows of %s" % (len(rows), t))
    p.commit()


def load(conn, table, keys, is_pg):
    cur = conn.cursor()
    cur.execute("SELECT * FROM %s" % table)
    cols = [d[0] for d in cur.description]
    out = {}
    for row in cur.fetchall():
        rec = dict(zip(cols, row))
        k = tuple(norm(rec[c]) for c in keys)
        out[k] = rec
    return cols, out


def compare(sqlite_path, url):
    s = sqlite3.connect(sqlite_path)
    p = psycopg2.connect(url)
    bad = 0
    for t, keys in COMPARED.items():
        cols, a = load(s, t, keys, False)
        _, b = load(p, t, keys, True)
        problems = []
        for k in sorted(set(a) | set(b), key=repr):
            if k not in a or k not in b:
                problems.append("%s only in %s" % (k, "sqlite" if k in a else "postgres"))
                continue
            for c in cols:
                if c in IGNORED or c in keys:
                    continue
                if not same(a[k][c], b[k][c]):
                    problems.append("%s %s: sqlite %r, postgres %r" % (k, c, a[k][c], b[k][c]))
        if problems:
            bad += 1
            print("MISMATCH %s: %d problem(s)" % (t, len(problems)))
            for line in problems[:8]:
                print("  " + line)
        else:
            print("same %s (%d rows)" % (t, len(a)))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "copy-part":
        copy(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        sys.exit(0)
    if len(sys.argv) != 4 or sys.argv[1] not in ("copy", "compare"):
        sys.exit(__doc__)
    if sys.argv[1] == "copy":
        copy(sys.argv[2], sys.argv[3])
    else:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
