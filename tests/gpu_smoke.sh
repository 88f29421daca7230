#!/usr/bin/env bash
# GPU smoke test (opt-in): PRISM_TEST_GPU=1 tests/gpu_smoke.sh
#
# On a machine with an NVIDIA GPU and `cargo xtask setup --gpu` done (plus the exported test
# models in export/out), checks: `prism devices` sees CUDA and TensorRT; one FP16 upscale on CUDA
# and one on TensorRT; the TensorRT engine cache is reused by a second run (no new engine file,
# faster); the FP16 -> FP32 fallback (forced NaN) on CUDA and TensorRT, through the ignored
# prism-core GPU test. Exits 0 with a note when PRISM_TEST_GPU is not 1.
set -euo pipefail

if [[ "${PRISM_TEST_GPU:-}" != "1" ]]; then
    echo "gpu_smoke: skipped (set PRISM_TEST_GPU=1 on a machine with an NVIDIA GPU)"
    exit 0
fi

cd "$(dirname "$0")/.."
MODEL="${PRISM_GPU_MODEL:-export/out/realesr-animevideov3-x2/realesr-animevideov3-x2.fp16.onnx}"
PY="${PRISM_PYTHON:-export/.venv/bin/python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export PRISM_CACHE_DIR="$WORK/cache"

fail() { echo "gpu_smoke: FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

[[ -f "$MODEL" ]] || fail "no model $MODEL (run cargo xtask setup --gpu and the export first)"

step "build"
cargo build -q -p prism-cli
PRISM=target/debug/prism

step "devices"
"$PRISM" devices
"$PRISM" devices --json >"$WORK/devices.json"
"$PY" - "$WORK/devices.json" <<'PYEOF'
import json, sys
report = json.load(open(sys.argv[1]))
ok = {p["provider"]: p["registers"] for p in report["providers"]}
for name in ("CUDA", "TensorRT"):
    if not ok.get(name):
        sys.exit(f"gpu_smoke: FAIL: {name} does not register: {ok}")
print("CUDA and TensorRT register; preloaded GPU libraries:", report.get("preloaded_gpu_libraries"))
PYEOF

step "input image"
"$PY" - "$WORK/in.png" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
y, x = np.mgrid[0:192, 0:256]
img = np.stack([x % 256, y * 255 // 191, (x + y) % 256], -1) + rng.integers(0, 24, (192, 256, 3))
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(sys.argv[1])
PYEOF

upscale() { # device output
    local t0 t1
    t0=$(date +%s%N)
    "$PRISM" upscale "$WORK/in.png" -o "$2" --model "$MODEL" --device "$1" --precision fp16 --tile 128 -v
    t1=$(date +%s%N)
    [[ -s "$2" ]] || fail "$1 wrote no output"
    echo "$1: $(((t1 - t0) / 1000000)) ms"
}

step "FP16 upscale on CUDA"
upscale cuda "$WORK/cuda.png"

step "FP16 upscale on TensorRT (builds the engine)"
upscale tensorrt "$WORK/trt1.png" 2>&1 | tee "$WORK/trt1.log"
ENGINES="$PRISM_CACHE_DIR/tensorrt/engines"
find "$ENGINES" -type f | sort >"$WORK/engines1.txt"
[[ -s "$WORK/engines1.txt" ]] || fail "no engine written under $ENGINES"
cat "$WORK/engines1.txt"
grep -q -- "-fp16-opt3-p" "$WORK/engines1.txt" || fail "the engine folder is not keyed by a shape profile"
touch "$WORK/marker"

step "TensorRT again (reuses the engine)"
upscale tensorrt "$WORK/trt2.png" 2>&1 | tee "$WORK/trt2.log"
find "$ENGINES" -type f | sort >"$WORK/engines2.txt"
diff "$WORK/engines1.txt" "$WORK/engines2.txt" || fail "the second run wrote new engine files"
NEW=$(find "$ENGINES" -type f -name '*.engine' -newer "$WORK/marker" | wc -l)
[[ "$NEW" == "0" ]] || fail "the second run rebuilt $NEW engine(s)"
cmp -s "$WORK/trt1.png" "$WORK/trt2.png" || echo "note: the two TensorRT outputs differ bytewise"

step "FP16 -> FP32 fallback (forced NaN) on CUDA and TensorRT"
PRISM_TEST_GPU=1 cargo test -q -p prism-core --lib gpu_ -- --ignored --nocapture

echo
echo "gpu_smoke: OK"
