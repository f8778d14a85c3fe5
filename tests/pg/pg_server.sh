# pg_server.sh - start and stop a throwaway PostgreSQL 15 cluster on
# 127.0.0.1 for tests. Source it, then:
#   pg_start          initdb in a fresh temporary directory + start;
#                     sets PG_URL, PG_PORT, PG_DIR
#   pg_stop           fast shutdown and removal (trap it on EXIT)
#   pg_restart        stop + start the same cluster (connection-drop tests)
# As root the server runs as the 'postgres' system user (initdb refuses
# root). fsync is off: the data is disposable.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

_pg_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {
  # Its own directory: the server user must be able to reach it.
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mlw-pg.XXXXXX")
  chmod 755 "$PG_DIR"
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "pg_server: PostgreSQL server binaries not found (apt install postgresql)" >&2
    return 1
  fi
  mkdir -p "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR" && chmod 700 "$PG_DIR"
  _pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U mlw --no-sync -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  PG_PORT=$(_pg_free_port)
  _pg_start_server
  PG_URL="postgresql://mlw@127.0.0.1:$PG_PORT/postgres"
  export PG_URL PG_PORT PG_DIR
}

_pg_start_server() {
  _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
    -o "-p $PG_PORT -h 127.0.0.1 -k $PG_DIR -F -c max_connections=50" start >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; return 1; }
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ]; then
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    # The server's log joins the test's logs (secret scan, tests/check_secrets.sh).
    if [ -n "${MLW_TEST_LOGS:-}" ] && mkdir -p "$MLW_TEST_LOGS/postgres-${PG_PORT:-x}"; then
      cp "$PG_DIR"/*.log "$MLW_TEST_LOGS/postgres-${PG_PORT:-x}/" 2>/dev/null || true
    fi
    rm -rf "$PG_DIR"
  fi
}

pg_restart() {
  _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
  _pg_start_server
}

pg_sql() { # pg_sql "SQL" -> psql output (unaligned, tuples only)
  psql -X -q -At "$PG_URL" -c "$1"
}
