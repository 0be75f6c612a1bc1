#!/usr/bin/env bash
# Create .venv with the provider (editable) and its test tools. Idempotent; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
if ! .venv/bin/python -c "import airflow_provider_jumpcloud, airflow.sdk, great_expectations, pytest" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo ">> installing airflow-provider-jumpcloud and its dependencies into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch .venv/.installed
fi
