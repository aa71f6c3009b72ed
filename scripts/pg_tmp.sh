#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests and benchmarks: initdb into a mktemp folder, a unix
# socket in that folder (no TCP), its own port number, fsync on. Source this file, then:
#   pg_tmp_start    sets APPOINTD_PG_URL (a superuser URL), APPOINTD_PG_DIR, APPOINTD_PG_BINDIR
#   pg_tmp_stop     stops the server and removes the folder (safe to call twice; use in a trap)
# As root, the server runs as the `postgres` user (created by the Debian package) or, if that
# does not exist, as a dedicated system user `appointd-pg`: postgres refuses to run as root.

pg_tmp_bindir() {
  local d
  for d in "${APPOINTD_PG_BINDIR:-}" /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null)"; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  echo "pg_tmp: no initdb found (install postgresql-15)" >&2
  return 1
}

# Runs a command as the user that owns the server (the current user when not root).
pg_tmp_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$APPOINTD_PG_USER" -- "$@"
  else
    "$@"
  fi
}

pg_tmp_start() {
  APPOINTD_PG_BINDIR=$(pg_tmp_bindir) || return 1
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then
      APPOINTD_PG_USER=postgres
    else
      id appointd-pg >/dev/null 2>&1 || useradd --system --no-create-home appointd-pg
      APPOINTD_PG_USER=appointd-pg
    fi
  else
    APPOINTD_PG_USER=$(id -un)
  fi
  APPOINTD_PG_DIR=$(mktemp -d /tmp/appointd-pg.XXXXXX)
  chmod 755 "$APPOINTD_PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown "$APPOINTD_PG_USER" "$APPOINTD_PG_DIR"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pg_tmp_as "$APPOINTD_PG_BINDIR/initdb" -D "$APPOINTD_PG_DIR/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$APPOINTD_PG_DIR/initdb.log" 2>&1 || {
    cat "$APPOINTD_PG_DIR/initdb.log" >&2
    return 1
  }
  cat >>"$APPOINTD_PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$APPOINTD_PG_DIR'
port = $port
fsync = on
synchronous_commit = on
max_connections = 300
shared_buffers = 128MB
log_min_messages = warning
CONF
  pg_tmp_as "$APPOINTD_PG_BINDIR/pg_ctl" -D "$APPOINTD_PG_DIR/data" -l "$APPOINTD_PG_DIR/server.log" \
    -w -t 30 start >/dev/null || {
    cat "$APPOINTD_PG_DIR/server.log" >&2
    return 1
  }
  APPOINTD_PG_PORT=$port
  APPOINTD_PG_URL="postgresql://postgres@/postgres?host=$APPOINTD_PG_DIR&port=$port"
  export APPOINTD_PG_URL APPOINTD_PG_DIR APPOINTD_PG_BINDIR APPOINTD_PG_USER APPOINTD_PG_PORT
}

pg_tmp_stop() {
  [ -n "${APPOINTD_PG_DIR:-}" ] && [ -d "$APPOINTD_PG_DIR" ] || return 0
  pg_tmp_as "$APPOINTD_PG_BINDIR/pg_ctl" -D "$APPOINTD_PG_DIR/data" -m fast -w -t 30 stop \
    >/dev/null 2>&1 || pg_tmp_as "$APPOINTD_PG_BINDIR/pg_ctl" -D "$APPOINTD_PG_DIR/data" \
    -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$APPOINTD_PG_DIR"
  unset APPOINTD_PG_DIR APPOINTD_PG_URL
}
