#!/bin/sh
# Entry contract of the altinity-mcp image, kept so that its chart's `args:` work unchanged:
#   - no arguments, or a first argument that is not an executable on PATH (e.g. `--config f.yaml`)
#       -> run the gateway with all the arguments;
#   - otherwise (`altinity-mcp --config …`, `jwe-token-generator …`, `sh`) -> run that command.
# `exec` replaces this shell, so the command becomes PID 1 and receives SIGTERM itself (the gateway drains on it).
set -eu

# An executable file on PATH (or at the given path), as `which` finds it; shell builtins do not count.
is_executable_on_path() {
  case "$1" in
    '') return 1 ;;
    */*) [ -f "$1" ] && [ -x "$1" ]; return ;;
  esac
  saved_ifs=$IFS
  IFS=:
  set -f
  found=1
  for dir in $PATH; do
    if [ -f "${dir:-.}/$1" ] && [ -x "${dir:-.}/$1" ]; then found=0; break; fi
  done
  set +f
  IFS=$saved_ifs
  return "$found"
}

if [ "$#" -gt 0 ] && is_executable_on_path "$1"; then
  exec "$@"
fi
exec clickhouse-mcp-gateway "$@"
