#!/usr/bin/env bash
# The plugin API seen from outside: build the wheels of the core, its plugins and the example
# third-party plugin (examples/uws_memory), check them (twine), install them, not editable,
# into a clean virtualenv, and run there the example's tests and uws-sqlite's (the shipped
# Storage, Accounts and end-to-end suites) from a folder outside the source tree.
#
# Usage: examples/check-wheels.sh   (PYTHON: the interpreter with `build` and `twine`,
# default .venv/bin/python; KEEP=1 keeps the work folder). Network: PyPI only, through pip's
# cache; a second run downloads nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
work=$(mktemp -d /tmp/uws-wheels.XXXXXX)
[[ ${KEEP:-} == 1 ]] || trap 'rm -rf "$work"' EXIT

echo "== wheels"
for project in . plugins/uws_sqlite plugins/uws_local plugins/uws_postgres plugins/uws_slurm \
               examples/uws_memory; do
    # No isolation: the venv's setuptools builds them, with no download per build.
    "$PYTHON" -m build --wheel --no-isolation --skip-dependency-check --outdir "$work/dist" \
        "$project" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
    # build leaves build/ beside the sources: keep the tree clean.
    rm -rf "$project/build"
done
"$PYTHON" -m twine check --strict "$work"/dist/*.whl
# The example job types must be in the core's wheel (the Manager contract runs from it).
"$PYTHON" - "$work"/dist/uws_pyramid-*.whl <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for needed in ("uws_pyramid/examples/jdl/echo.wadl", "uws_pyramid/examples/jdl/scripts/echo.sh",
               "uws_pyramid/schemas/UWS-1.1.xsd", "uws_pyramid/api.py"):
    assert needed in names, f"{needed} is not in the wheel"
PY

echo "== a clean virtualenv with the wheels (not editable)"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --find-links "$work/dist" \
    "uws-memory[testing]" uws-sqlite

echo "== the example's and uws-sqlite's tests, from outside the source tree"
mkdir -p "$work/run"
cp -r examples/uws_memory/tests "$work/run/memory_tests"
cp -r plugins/uws_sqlite/tests "$work/run/sqlite_tests"
cd "$work/run"
"$work/venv/bin/python" - <<'PY'
import uws_memory, uws_pyramid, uws_sqlite
for module in (uws_pyramid, uws_sqlite, uws_memory):
    assert "site-packages" in module.__file__, f"{module.__name__} from {module.__file__}"
PY
"$work/venv/bin/pytest" -q -p no:cacheprovider memory_tests sqlite_tests
