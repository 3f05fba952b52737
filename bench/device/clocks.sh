#!/usr/bin/env bash
# SM clock and power while one GEMM runs back to back for a few seconds on the GPU machine:
# dlgemm (dlgemm_bench, CLK_RECIPE at CLK_SHAPE, no L2 flush) and cuBLASLt blockwise FP8
# through torch._scaled_mm on the same shape. Tells whether a kernel loses to the baseline
# through the power cap (lower clocks) rather than per-cycle work. nvidia-smi samples every
# 50 ms into $OUT/clocks_<side>.csv; the summary (median clock, power) goes to stdout.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
shape=${CLK_SHAPE:-8192x8192x8192}
IFS=x read -r M N K <<<"$shape"
sample() { # sample SIDE CMD...: nvidia-smi in the background while CMD runs
  local side=$1; shift
  nvidia-smi --query-gpu=clocks.sm,power.draw --format=csv,noheader,nounits -lms 50 \
    >"$OUT/clocks_$side.csv" &
  local smi=$!
  "$@" >"$OUT/clocks_$side.run.txt" 2>&1
  kill $smi; wait $smi 2>/dev/null
  python3 - "$OUT/clocks_$side.csv" "$side" <<'PY'
import sys, statistics
rows = [l.split(',') for l in open(sys.argv[1]) if l.strip()]
busy = [(float(c), float(p)) for c, p in rows if float(p) > 300]  # samples under load
if busy:
    print("%-8s %3d samples under load: SM clock median %.0f MHz, power median %.0f W"
          % (sys.argv[2], len(busy), statistics.median(c for c, _ in busy),
             statistics.median(p for _, p in busy)))
else:
    print(sys.argv[2], "no samples under load")
PY
}
sample dlgemm env DLG_SM90_GEMM_CONFIG="${CLK_CONFIG:-}" ./build-gpu/dlgemm_bench \
  --recipe "${CLK_RECIPE:-fp8_1d2d}" --shape "$shape" --no-baseline --no-compile --no-overhead \
  --check-rows 0 --flush-mib 0 --warmup 20 --iters "${CLK_ITERS:-3000}"
sample cublaslt python3 - "$M" "$N" "$K" <<'PY'
import sys, time, torch
M, N, K = map(int, sys.argv[1:4])
a = torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
b = torch.randn(N, K, device="cuda").to(torch.float8_e4m3fn)
sfa = torch.rand(K // 128, M, device="cuda").t()          # [M, K/128], stride (1, M)
sfb = torch.rand((N + 127) // 128, K // 128, device="cuda")
run = lambda: torch._scaled_mm(a, b.t(), scale_a=sfa, scale_b=sfb.t(), out_dtype=torch.bfloat16)
for _ in range(20): run()
torch.cuda.synchronize()
t0 = time.time(); n = 0
while time.time() - t0 < 3.0:
    for _ in range(50): run()
    torch.cuda.synchronize(); n += 50
print("cublaslt %d calls, %.1f us each (wall)" % (n, (time.time() - t0) / n * 1e6))
PY
tail -n 3 "$OUT/clocks_dlgemm.run.txt" "$OUT/clocks_cublaslt.run.txt"
