#pragma once
// Thin wrappers over the sm_90a instructions of the Hopper kernels: wgmma (warpgroup matrix multiply,
// asynchronous, 64 rows per warpgroup), its fence / commit / wait, setmaxnreg, named barriers, and the
// TMA and mbarrier operations, the latter two through libcu++'s cuda::ptx (CCCL ships with the
// toolkit). Fragment layouts follow the PTX ISA "Asynchronous Warpgroup Level Matrix" tables: the
// fp32 accumulator of m64nNk16 gives warp w of the warpgroup rows 16 w .. 16 w + 15, and within the
// warp the mma.m16n8 layout repeated N / 8 times (d[4 j + e]: n8 block j, e as mma.m16n8's c[e]); a
// register A operand is the mma.m16n8k16 A fragment of the warp's 16 rows.
//
// Everything here is compiled for sm_90a only (kernels/CMakeLists.txt); the bodies are empty for any
// other device target so that including this header elsewhere cannot emit sm_90a instructions.
#include <cuda.h>
#include <cuda/ptx>

#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define UNISPARSE_SM90A_DEVICE_CODE 1
#endif

namespace unisparse::cuda::sm90 {

inline constexpr int kWarpgroupThreads = 128;

// ---- wgmma -------------------------------------------------------------------------------------

// Orders this warpgroup's register and shared-memory accesses before the wgmma that follow.
__device__ __forceinline__ void wgmma_fence() {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
// Closes the wgmma issued since the last commit into one group.
__device__ __forceinline__ void wgmma_commit() {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
// Waits until at most kGroupsInFlight committed groups of this warpgroup are still running.
template <int kGroupsInFlight>
__device__ __forceinline__ void wgmma_wait() {
  static_assert(kGroupsInFlight >= 0 && kGroupsInFlight <= 7);
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kGroupsInFlight) : "memory");
#endif
}

// The compiler sees a wgmma read and write its registers when it is issued; the hardware does so until
// the wait. Passing the registers through an empty volatile asm after the wait (and before the issue)
// keeps their live ranges and every other access on the right side of the asynchronous window.
template <int kCount>
__device__ __forceinline__ void fence_registers(float (&registers)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) asm volatile("" : "+f"(registers[i])::"memory");
}
template <int kRows, int kCount>
__device__ __forceinline__ void fence_registers(uint32_t (&registers)[kRows][kCount]) {
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int i = 0; i < kCount; ++i) asm volatile("" : "+r"(registers[r][i])::"memory");
}

template <class Element>
inline constexpr bool kIsBf16 = std::is_same_v<Element, __nv_bfloat16>;

#define UNISPARSE_WGMMA_D32                                                                   \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
  "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define UNISPARSE_WGMMA_D64                                                                   \
  UNISPARSE_WGMMA_D32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, " \
                      "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, " \
                      "%61, %62, %63"
#define UNISPARSE_WGMMA_OUT8(d, b)                                                              \
  "+f"(d[b + 0]), "+f"(d[b + 1]), "+f"(d[b + 2]), "+f"(d[b + 3]), "+f"(d[b + 4]), "+f"(d[b + 5]), \
      "+f"(d[b + 6]), "+f"(d[b + 7])
#define UNISPARSE_WGMMA_OUT32(d) \
  UNISPARSE_WGMMA_OUT8(d, 0), UNISPARSE_WGMMA_OUT8(d, 8), UNISPARSE_WGMMA_OUT8(d, 16), UNISPARSE_WGMMA_OUT8(d, 24)
#define UNISPARSE_WGMMA_OUT64(d) \
  UNISPARSE_WGMMA_OUT32(d), UNISPARSE_WGMMA_OUT8(d, 32), UNISPARSE_WGMMA_OUT8(d, 40), UNISPARSE_WGMMA_OUT8(d, 48), UNISPARSE_WGMMA_OUT8(d, 56)

// Both operands in shared memory, both K-major: D[64 x N] (+)= A[64 x 16] B[16 x N], with
// d [N / 2] this thread's accumulators. kAccumulate false overwrites D (scale-d = 0).
#define UNISPARSE_WGMMA_SS(N, TYPE, DREGS, A, B, SCALE, OUTS)                                       \
  asm volatile("{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, " SCALE ", 0;\n"               \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE "." TYPE " {" DREGS "}, " A \
               ", " B ", accumulate, 1, 1, 0, 0;\n}\n"                                            \
               : OUTS                                                                             \
               : "l"(a_descriptor), "l"(b_descriptor), "r"(scale_d))

template <int kN, class Element, bool kAccumulate>
__device__ __forceinline__ void wgmma_ss(float (&d)[kN / 2], uint64_t a_descriptor,
                                         uint64_t b_descriptor) {
  static_assert(kN == 64 || kN == 128);
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  const int scale_d = kAccumulate ? 1 : 0;
  if constexpr (kN == 128 && kIsBf16<Element>)
    UNISPARSE_WGMMA_SS(128, "bf16", UNISPARSE_WGMMA_D64, "%64", "%65", "%66", UNISPARSE_WGMMA_OUT64(d));
  else if constexpr (kN == 128)
    UNISPARSE_WGMMA_SS(128, "f16", UNISPARSE_WGMMA_D64, "%64", "%65", "%66", UNISPARSE_WGMMA_OUT64(d));
  else if constexpr (kIsBf16<Element>)
    UNISPARSE_WGMMA_SS(64, "bf16", UNISPARSE_WGMMA_D32, "%32", "%33", "%34", UNISPARSE_WGMMA_OUT32(d));
  else
    UNISPARSE_WGMMA_SS(64, "f16", UNISPARSE_WGMMA_D32, "%32", "%33", "%34", UNISPARSE_WGMMA_OUT32(d));
#endif
}

// A from registers (a: the warp's m16k16 fragment), B in shared memory MN-major (imm-trans-b = 1):
// D[64 x N] += A[64 x 16] B[16 x N].
#define UNISPARSE_WGMMA_RS(N, TYPE, DREGS, A0, B, SCALE, OUTS)                                  \
  asm volatile("{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, " SCALE ", 0;\n"               \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE "." TYPE " {" DREGS "}, " \
               "{" A0 "}, " B ", accumulate, 1, 1, 1;\n}\n"                                    \
               : OUTS                                                                          \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_descriptor), "r"(1))

template <int kN, class Element>
__device__ __forceinline__ void wgmma_rs_accumulate(float (&d)[kN / 2], const uint32_t (&a)[4],
                                                    uint64_t b_descriptor) {
  static_assert(kN == 64 || kN == 128);
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  if constexpr (kN == 128 && kIsBf16<Element>)
    UNISPARSE_WGMMA_RS(128, "bf16", UNISPARSE_WGMMA_D64, "%64, %65, %66, %67", "%68", "%69", UNISPARSE_WGMMA_OUT64(d));
  else if constexpr (kN == 128)
    UNISPARSE_WGMMA_RS(128, "f16", UNISPARSE_WGMMA_D64, "%64, %65, %66, %67", "%68", "%69", UNISPARSE_WGMMA_OUT64(d));
  else if constexpr (kIsBf16<Element>)
    UNISPARSE_WGMMA_RS(64, "bf16", UNISPARSE_WGMMA_D32, "%32, %33, %34, %35", "%36", "%37", UNISPARSE_WGMMA_OUT32(d));
  else
    UNISPARSE_WGMMA_RS(64, "f16", UNISPARSE_WGMMA_D32, "%32, %33, %34, %35", "%36", "%37", UNISPARSE_WGMMA_OUT32(d));
#endif
}

#undef UNISPARSE_WGMMA_SS
#undef UNISPARSE_WGMMA_RS
#undef UNISPARSE_WGMMA_OUT64
#undef UNISPARSE_WGMMA_OUT32
#undef UNISPARSE_WGMMA_OUT8
#undef UNISPARSE_WGMMA_D64
#undef UNISPARSE_WGMMA_D32

// ---- registers and named barriers -------------------------------------------------------------

// Warp-specialised kernels move registers from the copy warpgroup to the math warpgroups; every
// thread of the warpgroup executes these (.sync.aligned).
template <int kRegisters>
__device__ __forceinline__ void warpgroup_registers_release() {
  static_assert(kRegisters % 8 == 0 && kRegisters >= 24 && kRegisters <= 256);
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}
template <int kRegisters>
__device__ __forceinline__ void warpgroup_registers_claim() {
  static_assert(kRegisters % 8 == 0 && kRegisters >= 24 && kRegisters <= 256);
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}

// Hardware barrier `id` (0 is __syncthreads) completing when `threads` threads have arrived.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
#endif
}
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
#endif
}

// ---- mbarrier and TMA (cuda::ptx) -------------------------------------------------------------

__device__ __forceinline__ void mbarrier_init(uint64_t* barrier, uint32_t arrivals) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  ::cuda::ptx::mbarrier_init(barrier, arrivals);
#endif
}
// Makes the initialised barriers visible to the other threads and to the TMA unit.
__device__ __forceinline__ void fence_barrier_init() {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  ::cuda::ptx::fence_mbarrier_init(::cuda::ptx::sem_release, ::cuda::ptx::scope_cluster);
#endif
}
// One arrival that also announces `bytes` of TMA writes the current phase waits for.
__device__ __forceinline__ void mbarrier_arrive_expect_bytes(uint64_t* barrier, uint32_t bytes) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  (void)::cuda::ptx::mbarrier_arrive_expect_tx(::cuda::ptx::sem_release, ::cuda::ptx::scope_cta,
                                               ::cuda::ptx::space_shared, barrier, bytes);
#endif
}
__device__ __forceinline__ void mbarrier_arrive(uint64_t* barrier) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  (void)::cuda::ptx::mbarrier_arrive(barrier);
#endif
}
// Blocks until the phase of parity `parity` has completed. A fresh barrier is in phase 0, so waiting
// for parity 1 returns at once (the "previous" phase counts as complete).
__device__ __forceinline__ void mbarrier_wait(uint64_t* barrier, uint32_t parity) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  while (!::cuda::ptx::mbarrier_try_wait_parity(barrier, parity)) {
  }
#endif
}

// One TMA box of a 4-d tensor map into shared memory; completion is counted on `barrier` in bytes.
__device__ __forceinline__ void tma_load_4d(void* shared_destination, const CUtensorMap* map,
                                            int32_t c0, int32_t c1, int32_t c2, int32_t c3,
                                            uint64_t* barrier) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  const int32_t coordinates[4] = {c0, c1, c2, c3};
  ::cuda::ptx::cp_async_bulk_tensor(::cuda::ptx::space_cluster, ::cuda::ptx::space_global,
                                    shared_destination, map, coordinates, barrier);
#endif
}

}  // namespace unisparse::cuda::sm90
