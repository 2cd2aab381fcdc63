#!/usr/bin/env bash
# Reproducible installs: constraints.txt pins every package that `pip install -e '.[test]'`
# (and the `sample`, `postgres` and `dask` extras) can bring, for Python 3.11+ on Linux,
# resolved by uv from the ranges in pyproject.toml. Both README commands and .ci/run install
# with `-c constraints.txt`.
#
#   scripts/constraints.sh refresh      re-resolve, keeping every current pin that still fits
#                                       (after a change of ranges or dependencies)
#   scripts/constraints.sh upgrade      move every pin to the newest version the ranges allow,
#                                       and print what changed
#   scripts/constraints.sh try-newest   without touching constraints.txt: install the newest
#                                       allowed versions in a throwaway venv and run the whole
#                                       test suite there (what a user without the lock gets)
#
# Moving to newer versions: `try-newest`; read the release notes of what changed (cvxpy and
# highspy above all: the fast path reads cvxpy's compiled program, and HiGHS's behaviour is
# fenced by tests/test_highs.py); raise an upper bound in pyproject.toml only once the suite
# passes; then `upgrade`, run the suite with the new lock, and commit both files together.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PY=${PYTHON:-python3}

uv_bin() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  local venv=.venv-tools
  [ -x "$venv/bin/uv" ] || { "$PY" -m venv "$venv" && "$venv/bin/pip" install -q "uv==$UV_VERSION"; }
  echo "$venv/bin/uv"
}

compile() {  # extra arguments go to `uv pip compile`
  "$(uv_bin)" pip compile pyproject.toml --extra test --extra sample --extra postgres --extra dask \
    --universal --python-version 3.11 --no-header --quiet -o constraints.txt "$@"
  printf '%s\n%s\n%s\n' \
    "# Every package pinned for Python 3.11+ on Linux; made by scripts/constraints.sh, do not" \
    "# edit by hand. Install with: pip install -e '.[test]' -c constraints.txt" \
    "$(cat constraints.txt)" > constraints.txt
}

case "${1:-}" in
  refresh) compile ;;
  upgrade)
    old=$(mktemp); cp constraints.txt "$old"
    compile --upgrade
    diff <(grep -E '^[a-z0-9]' "$old") <(grep -E '^[a-z0-9]' constraints.txt) || true
    rm -f "$old" ;;
  try-newest)
    dir=$(mktemp -d)
    "$PY" -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --upgrade --upgrade-strategy eager -e '.[test]'
    "$dir/venv/bin/pip" freeze --exclude-editable > "$dir/newest.txt"
    echo "newest allowed versions that differ from constraints.txt:"
    diff <(grep -E '^[A-Za-z0-9]' constraints.txt | sed 's/ *;.*//' | tr 'A-Z_' 'a-z-' | sort) \
         <(tr 'A-Z_' 'a-z-' < "$dir/newest.txt" | sort) | grep '^>' || echo "  (none)"
    "$dir/venv/bin/python" -m pytest -q -n 2 -p no:cacheprovider
    rm -rf "$dir" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
