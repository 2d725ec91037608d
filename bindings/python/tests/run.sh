#!/bin/bash
# The Python binding's tests: build the extension into build/ (never into
# the source tree), import it from there, run the unittest suite.
#   PYTHON=python3 PYDIR=build/python/<tag> bash bindings/python/tests/run.sh
# (from the top of the repository; `make test-python` sets both). The last
# line is "python: N passed, M failed".
cd "$(dirname "$0")/../../.." || exit 1
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "python: $PYTHON not found"
    echo "python: 0 passed, 1 failed"
    exit 1
fi
if [ -z "${PYDIR:-}" ]; then
    PYDIR=${BUILD:-build}/python/$("$PYTHON" -c 'import sys,platform;print(sys.implementation.cache_tag+"-"+platform.python_version())')
fi
if ! make --no-print-directory python PYTHON="$PYTHON" >/dev/null 2>"${TMPDIR:-/tmp}/tcps-py-build.$$"; then
    cat "${TMPDIR:-/tmp}/tcps-py-build.$$"
    rm -f "${TMPDIR:-/tmp}/tcps-py-build.$$"
    echo "python: the extension did not build (swig, python3-dev and zlib1g-dev are needed)"
    echo "python: 0 passed, 1 failed"
    exit 1
fi
rm -f "${TMPDIR:-/tmp}/tcps-py-build.$$"
export PYTHONDONTWRITEBYTECODE=1  # nothing written into the source tree
export TCPS_CORPUS=${TCPS_CORPUS:-../shared/corpus}
PYTHONPATH="$PYDIR${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" bindings/python/tests/run_tests.py "$@"
