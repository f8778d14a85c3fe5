#!/usr/bin/python3
"""dbsync.py - move raw rows from SQLite to PostgreSQL and compare results.

  dbsync.py copy SQLITE_DB PG_URL      copy vitals/nutrition/lab raw rows (same ids)
  dbsync.py copy-part SQLITE_DB PG_URL K N
                                       copy part K of N (rows with id % N == K)
  dbsync.py compare SQLITE_DB PG_URL [TABLE...]
                                       compare every aggregate, categorized and raw
                                       status column (relative tolerance 1e-9); only
                                       the named tables when some are given
  dbsync.py labs-to-sqlite PG_URL SQLITE_DB
                                       lab_reports rows from PostgreSQL into SQLite
                                       (same ids, statuses reset to pending)

lab_reports rows are copied again when they are pending in SQLite (rows the
app edited and reset there are updated in PostgreSQL too). Rows PostgreSQL
cannot hold (a test_date that is not a YYYY-MM-DD date, invalid UTF-8, a
string longer than its varchar) are skipped and deleted from the SQLite file,
so that both databases hold the same raw rows.

Runs with Debian's /usr/bin/python3 (psycopg2). Timestamps are compared as
values, not text (PostgreSQL prints '10:00:00.5', SQLite holds what we wrote).
"""
import datetime
import math
import re
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
    "lab_reports": ["id"],
    "lab_report_categorized": ["id"],
    "lab_reports_daily": ["user_id", "date", "test_category", "loinc_code", "test_code"],
    "lab_reports_monthly": ["user_id", "year", "month", "test_category", "loinc_code", "test_code"],
    "lab_reports_quarterly": ["user_id", "year", "quarter", "test_category", "loinc_code", "test_code"],
    "lab_reports_yearly": ["user_id", "year", "test_category", "loinc_code", "test_code"],
    "lab_test_mappings": ["test_name"],
    "mlw_lab_catalog": ["id"],
}
IGNORED = {"id", "created_at", "updated_at", "aggregated_at", "synced_at"}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def sqlite_connect(path):
    s = sqlite3.connect(path)
    # lab names may be invalid UTF-8 (hostile-input rows): read them anyway
    s.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    return s


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


def pg_date_ok(v):
    """PostgreSQL's date input also takes '05/01/2026' or '2026-01-05 10:00',
    which SQLite keeps as text (and the worker refuses): only exact dates."""
    if v is None:
        return True
    if not isinstance(v, str) or not DATE.match(v):
        return False
    try:
        datetime.date(int(v[:4]), int(v[5:7]), int(v[8:]))
    except ValueError:
        return False
    return True


def pg_text_ok(v):
    if not isinstance(v, str):
        return True
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in v


def copy_labs(s, p, part, parts):
    cols = [r[1] for r in s.execute("PRAGMA table_info(lab_reports)")]
    cur = p.cursor()
    cur.execute("SELECT to_regclass('lab_reports') IS NOT NULL")
    if not cols or not cur.fetchone()[0]:
        return
    rows = s.execute("SELECT %s FROM lab_reports WHERE id %% ? = ? ORDER BY id" % ", ".join(cols),
                     (parts, part)).fetchall()
    dates = [i for i, c in enumerate(cols) if c in ("test_date", "report_date")]
    q = ("INSERT INTO lab_reports (%s) VALUES (%s) ON CONFLICT (id) DO UPDATE SET %s"
         " WHERE excluded.categorization_status = 'pending'" % (
             ", ".join(cols), ", ".join(["%s"] * len(cols)),
             ", ".join("%s = excluded.%s" % (c, c) for c in cols if c != "id")))
    refused = []
    for row in rows:
        ok = all(pg_date_ok(row[i]) for i in dates) and all(pg_text_ok(v) for v in row)
        if ok:
            cur.execute("SAVEPOINT row")
            try:
                cur.execute(q, row)
                cur.execute("RELEASE SAVEPOINT row")
            except (psycopg2.DataError, psycopg2.IntegrityError):
                cur.execute("ROLLBACK TO SAVEPOINT row")
                ok = False
        if not ok:
            refused.append(row[0])
    cur.execute("SELECT setval(pg_get_serial_sequence('lab_reports', 'id'),"
                " (SELECT max(id) FROM lab_reports))")
    p.commit()
    if refused:
        s.executemany("DELETE FROM lab_reports WHERE id = ?", [(i,) for i in refused])
        s.commit()
        print("skipped %d lab_reports rows PostgreSQL cannot hold (dates, encoding, lengths)"
              % len(refused))
    print("copied %d rows of lab_reports" % (len(rows) - len(refused)))


def labs_to_sqlite(url, sqlite_path):
    s = sqlite_connect(sqlite_path)
    p = psycopg2.connect(url)
    cols = [r[1] for r in s.execute("PRAGMA table_info(lab_reports)")]
    cur = p.cursor()
    cur.execute("SELECT %s FROM lab_reports ORDER BY id" % ", ".join(cols))

    def text(c, v):
        if c == "categorization_status":
            return "pending"
        if c == "failure_reason":
            return None
        if isinstance(v, datetime.datetime):
            return v.isoformat(sep=" ")
        if isinstance(v, datetime.date):
            return v.isoformat()
        return v
    rows = [tuple(text(c, v) for c, v in zip(cols, r)) for r in cur.fetchall()]
    with s:
        s.executemany("INSERT INTO lab_reports (%s) VALUES (%s)" % (", ".join(cols), ", ".join("?" * len(cols))),
                      rows)
    print("copied %d lab_reports rows to SQLite" % len(rows))


def copy(sqlite_path, url, part=0, parts=1):
    s = sqlite_connect(sqlite_path)
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
        # Rows with text PostgreSQL cannot hold (invalid UTF-8, NUL) are skipped the same way.
        kept = set()
        for row in rows:
            if not all(pg_text_ok(v) for v in row):
                continue
            cur.execute(q, row)
            if cur.fetchone():
                kept.add(row[0])
        dropped = [r[0] for r in rows if r[0] not in kept]
        if dropped:
            s.executemany("DELETE FROM %s WHERE id = ?" % t, [(i,) for i in dropped])
            s.commit()
            print("skipped %d rows of %s that collide in PostgreSQL or that it cannot hold"
                  % (len(dropped), t))
        cur.execute("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT max(id) FROM %s))" % (t, t))
        p.commit()
        print("copied %d rows of %s" % (len(rows), t))
    copy_labs(s, p, part, parts)
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


def compare(sqlite_path, url, tables=None):
    s = sqlite_connect(sqlite_path)
    p = psycopg2.connect(url)
    bad = 0
    for t, keys in COMPARED.items():
        if tables and t not in tables:
            continue
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
    if len(sys.argv) >= 4 and sys.argv[1] == "compare":
        unknown = [t for t in sys.argv[4:] if t not in COMPARED]
        if unknown:
            sys.exit("dbsync.py compare: no such compared table: %s" % ", ".join(unknown))
        sys.exit(compare(sys.argv[2], sys.argv[3], sys.argv[4:]))
    if len(sys.argv) != 4 or sys.argv[1] not in ("copy", "labs-to-sqlite"):
        sys.exit(__doc__)
    if sys.argv[1] == "copy":
        copy(sys.argv[2], sys.argv[3])
    else:
        labs_to_sqlite(sys.argv[2], sys.argv[3])
