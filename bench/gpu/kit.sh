#!/bin/bash
# Packs what the GPU machine lacks into .tmp/gpu-kit (carried there by the device tool; see run.sh):
#   app.tar.xz  node (this machine's binary), the built server (dist/) and its production node_modules
#   site.tar.xz pyzmq's files from our cp311 wheel (rebuilt there for its Python by build-pyzmq.sh),
#               libzmq's zmq.h, and Optuna 5 with its pure-Python dependencies (SQLAlchemy without its
#               compiled speed-ups) for the Optuna rows of the client benchmark.
# The machine has Python 3.12 with CUDA torch, numpy, msgpack, but no node, pyzmq or optuna, and no network.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=$ROOT/.tmp/gpu-kit
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
WHEELS=${WHEELS:-/opt/pypi/files}
ZMQ_H=${ZMQ_H:?set ZMQ_H to the include/zmq.h of libzmq 4.3}
mkdir -p "$KIT" "$WORK/app" "$WORK/site/include"
make -C "$ROOT" build >/dev/null
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$WORK/app/"
(cd "$WORK/app" && npm ci --omit=dev --no-audit --no-fund >/dev/null)
M=$WORK/app/node_modules
rm -rf "$M"/zeromq/build/{darwin,win32} "$M"/zeromq/build/linux/arm* "$M"/zeromq/build/linux/x64/node/musl* \
  "$M"/zeromq/src "$M"/better-sqlite3/{deps,src} "$M"/better-sqlite3/build/Release/{obj,obj.target,.deps,test_extension.node}
# What the GPU checks never load (plots: Vega, resvg, fonts; zeromq's musl and pre-glibc builds;
# a static library; source maps), so that the kit and the tracked tree fit the device tool's 64 MiB.
# (zeromq's loader picks among the glibc-* builds by the machine's C library: keep them all.)
find "$M"/zeromq/build/linux/x64/node -mindepth 1 -maxdepth 1 -type d ! -name "glibc-*" -exec rm -rf {} +
rm -rf "$M"/@resvg "$M"/vega* "$M"/dejavu-fonts-ttf "$M"/better-sqlite3/build/Release/sqlite3.a
find "$M" -name '*.map' -delete
cp "$(command -v node)" "$WORK/app/node"
cp -r "$ROOT/dist" "$WORK/app/dist"
rm -f "$WORK/app/dist/vega-bundle.js"
find "$WORK/app/dist" -name '*.map' -delete
tar -C "$WORK/app" -cf - . | xz -T2 -9 > "$KIT/app.tar.xz"
for w in optuna-5.0.0-py3-none-any alembic-1.20.0-py3-none-any mako-1.4.3-py3-none-any colorlog-6.12.0-py3-none-any \
         sqlalchemy-2.1.1-cp311 pyzmq-27.2.0-cp311; do
  # x86-64 Linux wheels only (the GPU machine's); the pure-Python ones are py3-none-any.
  unzip -q -o "$(ls "$WHEELS"/$w*.whl | grep -E 'none-any|manylinux.*x86_64' | head -1)" -d "$WORK/site"
done
find "$WORK/site" -name '*.so' -path '*/site/zmq/*' -delete
find "$WORK/site" -name '*.so' -path '*/sqlalchemy/*' -delete
cp "$ZMQ_H" "$WORK/site/include/zmq.h"
tar -C "$WORK/site" -cJf "$KIT/site.tar.xz" .
ls -la "$KIT"
