// FP8 per-tensor cast in one kernel: amax of |x| over the whole tensor, a grid-wide barrier,
// then out = e4m3(x / (amax / 448)) and sf = amax / 448. The compact path of
// dlg_cast_fp8_per_tensor (x and out contiguous, 16-byte aligned); bit-exact with the CPU
// reference: the numerics (CastVec, CastDiv, cast_scale_for) are common/fp8_cast.cuh's, as for
// portable_fp8_cast.cuh.
// DLG_TEST_INSTANTIATION: portable_fp8_cast_per_tensor<float, 1024>
// DLG_TEST_INSTANTIATION: portable_fp8_cast_per_tensor<dlg_bf16, 1024>
//
// NOTES:
// - Why one kernel: the cast needs the amax of everything before it can write anything, so x
//   is read twice. Split into an amax kernel and a cast kernel, the second read comes from
//   HBM except for what L2 still holds (~40 MB): 45-50 % of the copy bandwidth in useful
//   bytes on the H100. Here one CTA per SM (launched cooperatively, so that all are resident,
//   which the grid barrier needs) keeps an equal share of x in shared memory (up to the
//   opt-in 227 KiB: ~30 MB of x on an H100), loaded by bulk copies (one thread issues them,
//   the TMA unit moves the bytes while the other warps stream) during the amax pass and
//   marked evict-first in L2 so it does not push out what the second read wants; that part
//   is read once. (The bulk copies replaced 16-byte cp.async from every thread: 1.5-3 % off
//   the kernel at every size; ncu had put ~20 % of the warp samples on issuing those.) The rest is streamed in chunks (kThreads x 4 vectors) for the amax and
//   streamed again for the cast, last-read chunk first: those are still in L2.
// - Streamed chunks are handed out to CTAs by tickets (an atomicAdd per chunk, the next
//   ticket drawn while the current chunk is worked on), not split into equal ranges up front:
//   the SMs do not get equal shares of the HBM bandwidth (with fixed ranges the barrier
//   waited ~10 % of the kernel on the slowest CTA, ncu at 4096 x 7168 bf16), and the CTAs
//   then read neighbouring chunks at any time. The cast pass draws from a second counter and
//   maps ticket t to chunk chunks - 1 - t, so it starts with the chunks the amax pass read
//   last. Kernel us on the H100 against fixed ranges (A/B in alternating processes): f32
//   8192 x 7168 186.8 -> 169.1, bf16 8192 x 7168 103.1 -> 95.6, f32 4096 x 7168 86.1 -> 81.6,
//   bf16 4096 x 7168 44.4 -> 46.6 (its ~3 chunks per CTA each end in a CTA barrier). Measured
//   and dropped: per-warp tickets (one counter, 4000+ warps: 1.1-1.9x slower); fixed ranges
//   for 3/4 of the streamed part and tickets for the rest (between the two).
// - The barrier: each CTA atomicMax-es its amax into work[0] (non-negative floats order like
//   their bit patterns), then counts itself into work[1] and spins until all have arrived.
//   work (16 bytes: amax, arrivals, two tickets) is zeroed on the stream before the launch;
//   the launcher takes it from cuMemAllocAsync, so concurrent casts on other streams and CUDA
//   graphs each get their own.
// - The last CTA also handles the n % kElems elements past the last whole vector.
#pragma once

#include "common/fp8_cast.cuh"
#include "ptx/base.cuh"
#include "ptx/mbarrier.cuh"
#include "ptx/tma.cuh"

namespace dlg {

struct Fp8CastPerTensorParams {
  const void* x;
  uint8_t* out;
  float* sf;
  uint32_t* work;       // [0] amax bits, [1] CTAs arrived, [2] [3] chunk tickets: zero at launch
  int64_t n;            // elements
  int64_t retain;       // 16-byte vectors each CTA keeps in shared memory
};
static_assert(sizeof(Fp8CastPerTensorParams) == 48, "host mirror expects 48 bytes");

}  // namespace dlg

template <typename InT, int kThreads>
__global__ void __launch_bounds__(kThreads, 1) portable_fp8_cast_per_tensor(const dlg::Fp8CastPerTensorParams p) {
  using namespace dlg;
  using V = CastVec<InT>;
  constexpr int kE = V::kElems;
  constexpr int kUnroll = 4;                               // 16-byte loads in flight per thread
  constexpr int64_t kChunk = int64_t{kThreads} * kUnroll;  // vectors per streamed chunk
  extern __shared__ uint4 kept[];
  __shared__ float warp_amax[kThreads / 32];
  __shared__ float tensor_amax;
  __shared__ uint32_t ticket[2];

  const int64_t nvec = p.n / kE;
  // x, in 16-byte vectors: [kept | streamed]. Kept: CTA b's retain vectors from b * retain,
  // in shared memory. Streamed: the rest, in chunks handed out by the tickets work[2] (amax
  // pass, in order) and work[3] (cast pass, last-read first).
  const int64_t grid = gridDim.x;
  const int64_t kept_beg = blockIdx.x * p.retain;
  const int64_t kept_n = kept_beg >= nvec ? 0 : kept_beg + p.retain < nvec ? p.retain : nvec - kept_beg;
  const int64_t ticket_beg = grid * p.retain < nvec ? grid * p.retain : nvec;
  const uint32_t chunks = static_cast<uint32_t>((nvec - ticket_beg + kChunk - 1) / kChunk);
  const uint4* x4 = static_cast<const uint4*>(p.x);
  const uint64_t evict_first = ptx::l2_evict_first_policy();
  const bool tail_cta = blockIdx.x == gridDim.x - 1;
  const int64_t tail = nvec * kE + threadIdx.x;  // this thread's element past the vectors

  // Runs body(first vector of the chunk) for the chunks this CTA draws from *counter; the
  // next ticket is drawn while the current chunk is worked on (one CTA barrier per chunk).
  auto for_each_ticket = [&](uint32_t* counter, bool last_first, auto&& body) {
    if (threadIdx.x == 0) ticket[0] = atomicAdd(counter, 1u);
    __syncthreads();
    for (uint32_t it = 0;; ++it) {
      const uint32_t t = ticket[it & 1];
      if (t >= chunks) break;
      if (threadIdx.x == 0) ticket[(it + 1) & 1] = atomicAdd(counter, 1u);
      body(ticket_beg + static_cast<int64_t>(last_first ? chunks - 1 - t : t) * kChunk);
      __syncthreads();
    }
  };

  // ---- amax pass: the kept part into shared memory, the rest streamed -------------------
  // The kept part comes in by bulk copies from one thread (the TMA unit moves it: the other
  // warps start streaming at once), counted into kept_full.
  __shared__ __align__(8) uint64_t kept_full;
  constexpr int64_t kBulkVecs = 2048;  // 32 KiB a copy
  if (threadIdx.x == 0) {
    ptx::mbarrier_init(&kept_full, 1);
    ptx::fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    ptx::mbarrier_arrive_expect_tx(&kept_full, static_cast<uint32_t>(kept_n * 16));
    for (int64_t v = 0; v < kept_n; v += kBulkVecs)
      ptx::bulk_load_hint(&kept[v], x4 + kept_beg + v,
                          static_cast<uint32_t>((kept_n - v < kBulkVecs ? kept_n - v : kBulkVecs) * 16),
                          &kept_full, evict_first);
  }
  float a = 0.0f;
  auto amax_chunk = [&](int64_t c) {
    uint4 w[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = c + u * kThreads + threadIdx.x;
      w[u] = v < nvec ? __ldg(x4 + v) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) a = fmaxf(a, V::amax(w[u]));
  };
  for_each_ticket(&p.work[2], false, amax_chunk);
  if (tail_cta && tail < p.n) a = fmaxf(a, fabsf(cast_load1<InT>(p.x, tail)));
  ptx::mbarrier_wait(&kept_full, 0);
  for (int64_t v = threadIdx.x; v < kept_n; v += kThreads) a = fmaxf(a, V::amax(kept[v]));

  // ---- grid barrier: amax of the tensor ---------------------------------------------------
  a = warp_max(a);
  if (threadIdx.x % 32 == 0) warp_amax[threadIdx.x / 32] = a;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (uint32_t w = 1; w < kThreads / 32; ++w) a = fmaxf(a, warp_amax[w]);
    atomicMax(&p.work[0], __float_as_uint(a));
    __threadfence();
    atomicAdd(&p.work[1], 1u);
    while (*static_cast<volatile uint32_t*>(&p.work[1]) < gridDim.x) __nanosleep(64);
    __threadfence();
    tensor_amax = __uint_as_float(atomicOr(&p.work[0], 0u));
  }
  __syncthreads();
  const float s = cast_scale_for(tensor_amax, 0);
  const CastDiv d = CastDiv::make(s, 0);
  if (blockIdx.x == 0 && threadIdx.x == 0) p.sf[0] = s;

  // ---- cast pass: streamed chunks last-read first (still in L2), then the kept part -------
  auto store = [&](int64_t v, const uint4& w) { V::store_vec(p.out + v * kE, w, d); };
  auto cast_chunk = [&](int64_t c) {
    uint4 w[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = c + u * kThreads + threadIdx.x;
      w[u] = v < nvec ? ptx::ldg_last_use(x4 + v, evict_first) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = c + u * kThreads + threadIdx.x;
      if (v < nvec) store(v, w[u]);
    }
  };
  for_each_ticket(&p.work[3], true, cast_chunk);
  for (int64_t v = threadIdx.x; v < kept_n; v += kThreads) store(kept_beg + v, kept[v]);
  if (tail_cta && tail < p.n)
    p.out[tail] = dlg_float_to_e4m3_bits(d(cast_load1<InT>(p.x, tail)));
}
