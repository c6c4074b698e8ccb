#!/usr/bin/env bash
# The test suite on the oldest versions pyproject.toml allows (NumPy 1.26,
# array-api-compat 1.12), in a venv of its own (.venv-oldest), with torch
# 2.13 (CPU), Dask and array-api-strict beside them. JAX is left out: its
# releases that install here need NumPy 2. NumPy 1.x promotes differently
# (1 - a 0-d float16 array is a float64 scalar there), which the CI's NumPy 2
# cannot show. Run from the repository root: bash tests/scripts/oldest.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-oldest
.venv-oldest/bin/pip install -q "numpy==1.26.4" "array-api-compat==1.12.0" "torch==2.13.0" \
    "dask[array]" array-api-strict hypothesis pytest scipy
.venv-oldest/bin/pip install -q --no-deps -e .
.venv-oldest/bin/python -c "import numpy, array_api_compat as c; print('numpy', numpy.__version__, 'array-api-compat', c.__version__)"
.venv-oldest/bin/python -m pytest -q -p no:cacheprovider "$@"
