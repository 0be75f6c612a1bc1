#!/usr/bin/env bash
# Set up .venv, then run the jumpcloud_events DAG for one window over the Directory Insights emulator
# into the embedded file sink (no JumpCloud account, no Elasticsearch needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
