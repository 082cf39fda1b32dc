# Sourced by the scripts that check a running service (schemathesis, readme-check): builds the
# release binary and runs it on a new SQLite database in a temporary folder, until the script exits.

# start_release_server PORT [VAR=value …]: builds and starts the server on 127.0.0.1:PORT (a free
# port when PORT is empty) with the given extra environment, and waits until it is ready. Sets
# server_url, server_work (the temporary folder, removed at exit) and server_log.
start_release_server() {
  local port=$1
  shift
  cargo build --release
  # The binary is wherever cargo puts it: CARGO_TARGET_DIR or a config file may move target/.
  local target
  target=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  if [ -z "$port" ]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  server_work=$(mktemp -d)
  server_log=$server_work/server.log
  server_url=http://127.0.0.1:$port
  env DATABASE_URL="sqlite://$server_work/convene.db" BIND="127.0.0.1:$port" RUST_LOG=warn "$@" \
    "$target/release/convene" >"$server_log" 2>&1 &
  server_pid=$!
  trap 'kill $server_pid 2>/dev/null || true; rm -rf "$server_work"' EXIT
  for _ in $(seq 1 50); do
    curl -fsS "$server_url/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$server_log" >&2
  printf '\nFAILED: the server did not start\n' >&2
  exit 1
}

# check_server_log: fails when the server logged an internal error or a panic, which no
# request may cause, whatever its status.
check_server_log() {
  if grep -E "internal error|panicked" "$server_log" >/dev/null; then
    grep -E -B2 -A5 "internal error|panicked" "$server_log" | head -50 >&2
    printf '\nFAILED: the server logged an internal error\n' >&2
    exit 1
  fi
}
