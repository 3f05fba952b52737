#!/usr/bin/env python3
"""PyTorch reference timings for the MQA logits bench (issue 10: "side by side in one run with a
PyTorch reference on the device, einsum formulation").

The same shapes, index ranges and context lengths as `dlgemm_bench --op attention`
(bench/mqa.c), computed the way shared/anchors-h100.md's torch column is: plain bf16 einsum,
relu, weighted head sum and mask, chunked over the keys (2048 columns at a time), on
dequantised inputs (FP8 values times their scale, in bf16). The paged variant gathers each
chunk's KV blocks through the block table first. Time = CUDA events around the whole call,
median of --iters calls, each after a 1 GiB write that flushes L2 (as the C bench).

    python3 bench/torch_mqa_reference.py --json out.json      # on the GPU machine
    python3 bench/torch_mqa_reference.py --device cpu --tiny  # a smoke test anywhere
"""
import argparse
import json
import statistics

import torch

H, D, BLOCK_KV, CHUNK = 64, 128, 64, 2048
DT = torch.bfloat16  # the compute dtype (float32 for the CPU smoke test: bf16 GEMMs need AVX-512)


def ks_ke(s, s_kv, device):
    """bench/mqa.c's index ranges: DeepGEMM's context-parallel split for (2048, 8192), else the
    causal tail ke[i] = S_kv - S + i."""
    ks = torch.zeros(s, dtype=torch.int64)
    if s == 2048 and s_kv == 8192:
        chunk, cp_size = s // 2, s_kv // s
        cp_id = cp_size // 3
        i = torch.arange(chunk)
        ke = torch.cat([cp_id * chunk + i, (cp_size * 2 - 1 - cp_id) * chunk + i])
    else:
        ke = (s_kv - s + torch.arange(s)).clamp(min=0)
    return ks.to(device), ke.to(device)


def lcg_lens(batch, next_n, avg):
    """bench/mqa.c's context lengths: the same LCG and seed, avg * U[0.7, 1.3)."""
    seed = (12345 + batch * 7 + next_n) & (2**64 - 1)
    lo, hi = avg * 7 // 10, avg * 13 // 10
    lens = []
    for _ in range(batch):
        seed = (seed * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        lens.append(lo + (seed >> 33) % (hi - lo))
    return lens


def fp8_like(shape, device, gen):
    """Normal values through float8_e4m3fn, as the C bench quantises its inputs (drawn on the
    device: the paged caches hold billions of values)."""
    return torch.randn(shape, generator=gen, device=device).to(torch.float8_e4m3fn)


def mqa_torch(q, kv, w, ks, ke):
    """logits[i, j] = sum_h relu(q[i, h] . kv[j]) * w[i, h] for ks[i] <= j < ke[i], else -inf."""
    s, s_kv = q.shape[0], kv.shape[0]
    out = torch.empty(s, s_kv, dtype=torch.float32, device=q.device)
    for c0 in range(0, s_kv, CHUNK):
        c1 = min(c0 + CHUNK, s_kv)
        score = torch.einsum("shd,td->sht", q, kv[c0:c1]).relu_()
        part = torch.einsum("sht,sh->st", score, w).float()
        j = torch.arange(c0, c1, device=q.device)
        valid = (j[None, :] >= ks[:, None]) & (j[None, :] < ke[:, None])
        out[:, c0:c1] = part.masked_fill_(~valid, float("-inf"))
    return out


def paged_torch(q, cache, block_table, lens_bt, w, width):
    """q [B, n, H, D], cache [blocks, 64, D] (dequantised), block_table [B, max_blocks],
    lens_bt [B, n] (row t of batch b sees keys j < lens[b] - n + t + 1), w [B, n, H]."""
    b, n = q.shape[0], q.shape[1]
    out = torch.empty(b, n, width, dtype=torch.float32, device=q.device)
    for c0 in range(0, width, CHUNK):
        c1 = min(c0 + CHUNK, width)
        nb = (c1 - c0 + BLOCK_KV - 1) // BLOCK_KV
        idx = block_table[:, c0 // BLOCK_KV:c0 // BLOCK_KV + nb]
        kv = cache[idx].reshape(b, nb * BLOCK_KV, -1)[:, :c1 - c0]
        score = torch.einsum("bnhd,btd->bnht", q, kv).relu_()
        part = torch.einsum("bnht,bnh->bnt", score, w).float()
        j = torch.arange(c0, c1, device=q.device)
        out[:, :, c0:c1] = part.masked_fill_(j[None, None, :] >= lens_bt[:, :, None],
                                             float("-inf"))
    return out.reshape(b * n, width)


def time_call(fn, iters, flush, device):
    if device == "cpu":
        import time
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e6)
        return statistics.median(ts)
    fn()  # warm-up (allocator, cuBLAS handles)
    torch.cuda.synchronize()
    ts = []
    for i in range(iters):
        flush.fill_(i & 0xFF)
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="small shapes (smoke test)")
    ap.add_argument("--json")
    args = ap.parse_args()
    dev = args.device
    global DT
    if dev == "cpu":
        DT = torch.float32
    gen = torch.Generator(device=dev).manual_seed(1)
    cpu_gen = torch.Generator().manual_seed(2)
    flush = torch.empty(1 << 30, dtype=torch.uint8, device=dev) if dev != "cpu" else None
    records = []

    mqa_shapes = [(2048, 8192), (2048, 65536), (8192, 8192), (8192, 65536)]
    paged_shapes = [(256, 1, 8192), (256, 2, 8192), (256, 1, 65536), (256, 2, 65536),
                    (4096, 1, 8192), (4096, 2, 8192)]
    if args.tiny:
        mqa_shapes = [(256, 1024), (128, 2048)]
        paged_shapes = [(4, 1, 512), (4, 2, 700)]

    print(f"torch {torch.__version__} on {torch.cuda.get_device_name() if dev != 'cpu' else 'cpu'}:"
          f" bf16 einsum, chunks of {CHUNK} keys, H {H}, D {D}")
    for s, s_kv in mqa_shapes:
        q = fp8_like((s, H, D), dev, gen).to(DT)
        kv = (fp8_like((s_kv, D), dev, gen).float() *
              (0.5 + torch.rand(s_kv, 1, generator=gen, device=dev))).to(DT)
        w = (torch.rand(s, H, generator=gen, device=dev) * 2 - 1).to(DT)
        ks, ke = ks_ke(s, s_kv, dev)
        pairs = int((ke - ks).clamp(min=0).sum())
        us = time_call(lambda: mqa_torch(q, kv, w, ks, ke), 3 if s * s_kv > 2**28 else 10,
                       flush, dev)
        rec = {"op": "mqa_logits", "s": s, "s_kv": s_kv, "torch_us": us,
               "torch_tflops": 2.0 * pairs * H * D / (us * 1e-6) / 1e12}
        records.append(rec)
        print(f"mqa_logits   S {s:5d}  S_kv {s_kv:6d}   torch {us:10.1f} us {rec['torch_tflops']:7.1f} TFLOPS")
        del q, kv, w

    for batch, next_n, avg in paged_shapes:
        lens = lcg_lens(batch, next_n, avg)
        width = max(lens)
        max_blocks = (width + BLOCK_KV - 1) // BLOCK_KV
        nblocks = [(l + BLOCK_KV - 1) // BLOCK_KV for l in lens]
        total = sum(nblocks)
        perm = torch.randperm(total, generator=cpu_gen)
        bt = torch.zeros(batch, max_blocks, dtype=torch.int64)
        used = 0
        for b, nb in enumerate(nblocks):
            bt[b, :nb] = perm[used:used + nb]
            used += nb
        cache = fp8_like((total, BLOCK_KV, D), dev, gen).to(DT)
        cache *= (0.5 + torch.rand(total, BLOCK_KV, 1, generator=gen, device=dev)).to(DT)
        q = fp8_like((batch, next_n, H, D), dev, gen).to(DT)
        w = (torch.rand(batch, next_n, H, generator=gen, device=dev) * 2 - 1).to(DT)
        lens_t = torch.tensor(lens, dtype=torch.int64)
        lens_bt = (lens_t[:, None] - next_n + 1 + torch.arange(next_n)[None, :]).to(dev)
        bt = bt.to(dev)
        pairs = int(lens_bt.sum())
        us = time_call(lambda: paged_torch(q, cache, bt, lens_bt, w, width), 5, flush, dev)
        rec = {"op": "paged_mqa_logits", "batch": batch, "next_n": next_n, "avg_context": avg,
               "max_context_len": width, "torch_us": us,
               "torch_tflops": 2.0 * pairs * H * D / (us * 1e-6) / 1e12}
        records.append(rec)
        print(f"paged        B {batch:5d}  next_n {next_n}  avg {avg:6d}   torch {us:10.1f} us "
              f"{rec['torch_tflops']:7.1f} TFLOPS")
        del cache, q, w, bt

    if args.json:
        meta = {"torch": torch.__version__,
                "device": torch.cuda.get_device_name() if dev != "cpu" else "cpu",
                "method": f"bf16 einsum + relu + weighted head sum + mask, {CHUNK}-key chunks; "
                          "CUDA events around the call, median, 1 GiB L2 flush before each",
                "records": records}
        with open(args.json, "w") as f:
            json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
