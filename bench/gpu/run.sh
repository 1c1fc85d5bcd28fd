#!/bin/bash
# The GPU checks, as one script for the device tool (run from the repository root there, with the kit
# from kit.sh carried in .tmp/gpu-kit): the PyTorch demo on CUDA, then the training-loop overhead of
# reporting with the step on the GPU (CUDA-synchronised timing) and the non-blocking call's own cost.
# Results come back through $OUT: the JSON rows and docs/BENCHMARKS.md with the -gpu sections.
# It replaces dist/ and node_modules/ with the kit's: it refuses to run without $OUT (set by the
# device tool; set it yourself to run it elsewhere on purpose, e.g. DEVICE=cpu to rehearse).
set -uo pipefail
KIT=.tmp/gpu-kit
[ -n "${OUT:-}" ] && [ -f $KIT/app.tar.xz ] || { echo "run.sh: for the GPU machine (needs \$OUT and $KIT from kit.sh)" >&2; exit 1; }
mkdir -p "$OUT" /tmp/app /tmp/site
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
tar -C /tmp/app -xJf $KIT/app.tar.xz && tar -C /tmp/site -xJf $KIT/site.tar.xz || exit 2
export PATH=/tmp/app:$PATH
rm -rf dist node_modules && ln -s /tmp/app/dist dist && ln -s /tmp/app/node_modules node_modules
bench/gpu/build-pyzmq.sh /tmp/site || exit 3
export PYTHONPATH=/tmp/site:$PWD/python-client/src DISABLE_SQLALCHEMY_CEXT_RUNTIME=1 PYTHONUNBUFFERED=1
python3 -c "import zmq, optuna, tuneport, torch; print('pyzmq', zmq.__version__, 'optuna', optuna.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 4
node --version
failed=0
step() { "$@" 2>&1 | tee -a "$OUT/run.log"; local rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || { echo "FAILED ($rc): $*" | tee -a "$OUT/run.log"; failed=1; }; }
keep() { cp bench/results/client-loop*.json bench/results/client-call*.json docs/BENCHMARKS.md "$OUT/" 2>/dev/null; }
echo "cores: $(nproc)" | tee -a "$OUT/run.log"
[ -n "${SKIP_DEMO:-}" ] || step python3 examples/demo.py
step python3 bench/client_loop.py --call-cost --device "${DEVICE:-cuda}"; keep
# The server-side figures of issue 19 item 3 on a machine whose cores can carry 32 clients (the
# 2-core machine cannot): server CPU per request (one client, no profiler) and the load benchmark.
if [ -n "${SERVER:-}" ]; then
  for i in 1 2 3; do step node bench/server-cpu.mjs --trials 3000 --prof 0 --out "$OUT/server-cpu"; done
  for i in 1 2; do step node bench/load.mjs --clients 32 --strategies random --trials random=400000 --seconds 20 --label "gpu-machine-$i" --out "$OUT/load-gpu.json"; done
fi
step python3 bench/client_loop.py --device "${DEVICE:-cuda}" --steps-ms "${STEPS_MS:-1,10,100}" --reps "${REPS:-3}"; keep
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv,noheader
exit $failed
