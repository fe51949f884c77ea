#!/usr/bin/env bash
# Throwaway ClickHouse (Debian's 18.16.1) for tests/CI: loopback only, own data dir,
# own ports, runs as a plain background process (no systemd service).
#   ch-test-server.sh start   # install if missing, write config, start, wait for SELECT 1
#   ch-test-server.sh stop    # stop by PID, remove data dir
#   ch-test-server.sh status
# Env: CH_DIR (default /tmp/ch-test), CH_HTTP_PORT (18123), CH_TCP_PORT (19000),
#      CH_LISTEN_HOST (127.0.0.1; any loopback address, e.g. 127.0.0.2 for a second instance),
#      CH_EXTRA_USERS (XML of more <users> entries, for tests that need users with other rights)
set -euo pipefail
CH_DIR=${CH_DIR:-/tmp/ch-test}
CH_HTTP_PORT=${CH_HTTP_PORT:-18123}
CH_TCP_PORT=${CH_TCP_PORT:-19000}
CH_LISTEN_HOST=${CH_LISTEN_HOST:-127.0.0.1}
PIDFILE="$CH_DIR/server.pid"
URL="http://${CH_LISTEN_HOST}:${CH_HTTP_PORT}"

http_select1() {  # prints the body of SELECT 1, fails if no answer
  if command -v curl >/dev/null 2>&1; then
    curl -sf --max-time 2 "$URL/?query=SELECT%201"
  else
    node -e "fetch('$URL/?query=SELECT%201',{signal:AbortSignal.timeout(2000)}).then(r=>r.ok?r.text():Promise.reject(r.status)).then(t=>process.stdout.write(t),()=>process.exit(1))"
  fi
}

install_ch() {
  command -v clickhouse-server >/dev/null 2>&1 && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d in containers blocks the service start; we never use the service anyway
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

write_config() {
  mkdir -p "$CH_DIR/data" "$CH_DIR/log"
  cat >"$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$CH_DIR/log/server.log</log>
        <errorlog>$CH_DIR/log/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>$CH_LISTEN_HOST</listen_host>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>50</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/data/tmp/</tmp_path>
    <user_files_path>$CH_DIR/data/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/data/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>1000</flush_interval_milliseconds>
    </query_log>
</yandex>
EOF
  cat >"$CH_DIR/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <log_queries>1</log_queries>
        </default>
        <readonly><readonly>1</readonly></readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.0/8</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <tester>
            <password>secret</password>
            <networks><ip>127.0.0.0/8</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </tester>
        <ro>
            <password>ro</password>
            <networks><ip>127.0.0.0/8</ip><ip>::1</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </ro>
EXTRA_USERS_PLACEHOLDER
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
  # Extra users (tests): substituted without a shell expansion of the XML.
  EXTRA="${CH_EXTRA_USERS:-}" python3 -c 'import os,sys; p=sys.argv[1]; t=open(p).read().replace("EXTRA_USERS_PLACEHOLDER", os.environ["EXTRA"]); open(p,"w").write(t)' "$CH_DIR/users.xml"
}

start() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "already running (pid $(cat "$PIDFILE"))"; return 0; fi
  install_ch
  write_config
  # setsid + redirects: the server must not hold the CI job's stdout/stderr open
  setsid clickhouse-server --config-file="$CH_DIR/config.xml" >"$CH_DIR/log/stdout.log" 2>&1 < /dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 300); do            # up to ~30 s; it normally answers in ~0.3 s
    if [ "$(http_select1 2>/dev/null)" = "1" ]; then echo "clickhouse ready at $URL (pid $(cat "$PIDFILE"))"; return 0; fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "clickhouse did not start; logs:" >&2
  tail -n 50 "$CH_DIR/log/stdout.log" "$CH_DIR/log/server.err.log" >&2 2>/dev/null || true
  stop || true
  return 1
}

stop() {
  [ -f "$PIDFILE" ] || { echo "not running"; return 0; }
  local pid; pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
  fi
  rm -f "$PIDFILE"
  [ "${CH_KEEP_DATA:-0}" = 1 ] || rm -rf "$CH_DIR/data"
  echo "stopped"
}

crash() {  # SIGKILL, as a crash or an OOM kill would; keeps the data dir so start can bring it back
  [ -f "$PIDFILE" ] || { echo "not running"; return 0; }
  local pid; pid=$(cat "$PIDFILE")
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$PIDFILE"
  echo "killed"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  kill) crash ;;
  status) if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "running pid $(cat "$PIDFILE"): $(http_select1 || echo no-answer)"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|kill|status" >&2; exit 2 ;;
esac
