#!/bin/bash
# Rebuild pyzmq's one compiled module for whatever python3 runs this, from the files of a pyzmq wheel
# made for another Python (its _zmq.py is Cython "pure Python" source; its libzmq is a plain shared
# library that does not depend on the Python version). For machines that cannot reach a package index
# and have no pyzmq wheel for their Python (the GPU machine: Python 3.12, our wheel store: cp311 only).
#   bench/gpu/build-pyzmq.sh DIR   (DIR: the unzipped wheel, plus include/zmq.h from libzmq)
set -euo pipefail
DIR=$1
PY=${PYTHON:-python3}
cd "$DIR"
INC=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
SUF=$($PY -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
test -f "$INC/Python.h" || { echo "no Python.h under $INC" >&2; exit 3; }
$PY -c "import Cython" 2>/dev/null || { echo "$PY has no Cython (the GPU machine's image has it; elsewhere: pip install cython)" >&2; exit 3; }
LIB=$(ls pyzmq.libs/libzmq-*.so*)
rm -f zmq/backend/cython/_zmq.cpython-*.so
$PY -m cython -3 --module-name zmq.backend.cython._zmq -I . zmq/backend/cython/_zmq.py -o /tmp/_zmq.c
${CC:-gcc} -shared -fPIC -O2 -w -I "$INC" -I include -I zmq/utils -I zmq/backend/cython /tmp/_zmq.c \
  "$LIB" -Wl,-rpath,'$ORIGIN/../../../pyzmq.libs' -o "zmq/backend/cython/_zmq$SUF"
echo "built zmq/backend/cython/_zmq$SUF against $LIB"
