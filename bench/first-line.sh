#!/usr/bin/env bash
# Starts a server, waits for its first stdout line (Wristband's "listening
# on" line), then stops it without waiting: what hyperfine times as start-up.
# Usage: bench/first-line.sh COMMAND...
coproc server { exec "$@" 2>/dev/null; }
IFS= read -r line <&"${server[0]}"
kill "$server_PID" 2>/dev/null
case "$line" in *"listening on"*) exit 0 ;; *) exit 1 ;; esac
