#!/usr/bin/env bash
# Reproduce: node 20, CJS server (both eras) + v2/v1 clients. Usage: bash run.sh
set -e; cd "$(dirname "$0")"
node server.cjs > server.log 2>&1 & PID=$!; trap 'kill $PID 2>/dev/null' EXIT; sleep 1.5
node client.mjs
echo "--- server log"; cat server.log
