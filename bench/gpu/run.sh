#!/bin/bash
# The GPU checks, as one script for the device tool (run from the repository root there, with the kit
# from kit.sh carried in .tmp/gpu-kit): the PyTorch demo on CUDA, then the training-loop overhead of
# reporting with the step on the GPU (CUDA-synchronised timing) and the non-blocking call's own cost.
# Results come back through $OUT: the JSON rows and docs/BENCHMARKS.md with the -gpu sections.
set -uo pipefail
KIT=.tmp/gpu-kit
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT" /tmp/app /tmp/site
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
tar -C /tmp/app -xJf $KIT/app.tar.xz && tar -C /tmp/site -xJf $KIT/site.tar.xz || exit 2
export PATH=/tmp/app:$PATH
rm -rf dist node_modules && ln -s /tmp/app/dist dist && ln -s /tmp/app/node_modules node_modules
bench/gpu/build-pyzmq.sh /tmp/site || exit 3
export PYTHONPATH=/tmp/site:$PWD/python-client/src DISABLE_SQLALCHEMY_CEXT_RUNTIME=1 PYTHONUNBUFFERED=1
python3 -c "import zmq, optuna, tuneport, torch; print('pyzmq', zmq.__version__, 'optuna', optuna.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 4
node --version
set -x
[ -n "${SKIP_DEMO:-}" ] || { time python3 examples/demo.py; } 2>&1 | tee "$OUT/demo.log"
python3 bench/client_loop.py --call-cost --device ${DEVICE:-cuda} 2>&1 | tee "$OUT/call.log"
python3 bench/client_loop.py --device ${DEVICE:-cuda} --steps-ms ${STEPS_MS:-1,10,100} --reps ${REPS:-3} 2>&1 | tee "$OUT/loop.log"
cp bench/results/client-loop*.json bench/results/client-call*.json docs/BENCHMARKS.md "$OUT/" 2>/dev/null
nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv,noheader
