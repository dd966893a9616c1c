#pragma once
// op(A) * op(B), where op transposes when TA / TB is set. The transposes are
// never materialised: the GEMM packs operands in the order it needs.
#include <cstddef>

#include "ingot/expr/node.hpp"
#include "ingot/simd/gemm.hpp"

namespace ingot::expr {

// The loop, shared by every matmul node with the same transposes (and named
// without the operand types, which keeps compiled symbols short).
template <bool TA, bool TB>
struct matmul_kernel {
  using kind = matmul_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  // Operands are packed, so they must be in memory; the bias + activation
  // pass that consumes the product runs on each finished tile; output rows
  // are rows (or, transposed, columns) of A, so they split freely.
  static constexpr kernel_traits traits{.operands_in_memory = true, .epilogue = true, .row_split = true};

  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) {
    return simd::gemm_blocking<T>::pack_a_size + simd::gemm_blocking<T>::pack_b_size;
  }

  template <class Ctx>
  static void run(const Ctx& ctx) {
    using T = typename Ctx::value_type;
    const std::size_t r0 = ctx.row_begin(), r1 = ctx.row_end();
    const std::size_t lda = ctx.in_cols(0), ldb = ctx.in_cols(1), ldc = ctx.out_cols(0);
    const std::size_t k = TA ? ctx.in_rows(0) : lda;
    // Row r of op(A) starts at row r of A, or at column r when transposed.
    const T* a = ctx.template in<0>() + (TA ? r0 : r0 * lda);
    T* c = ctx.template out<0>() + r0 * ldc;
    simd::tile_epilogue epilogue = ctx.epilogue();
    epilogue.row_offset += r0;
    T* pack_a = ctx.scratch();
    simd::gemm<TA, TB>(r1 - r0, ldc, k, a, lda, ctx.template in<1>(), ldb, c, ldc, pack_a,
                       pack_a + simd::gemm_blocking<T>::pack_a_size, epilogue);
  }
};

// Matrix says whether the result counts as a matrix for operator* (W * v of
// a matrix and a vector is a vector).
template <bool TA, bool TB, class A, class B, bool Matrix = !is_batched(TA ? A::shape::cols : A::shape::rows_ct)>
struct matmul_node : node_base, matmul_kernel<TA, TB> {
  using SA = typename A::shape;
  using SB = typename B::shape;
  static constexpr std::size_t M = TA ? SA::cols : SA::rows_ct;
  static constexpr std::size_t K = TA ? SA::rows_ct : SA::cols;
  static constexpr std::size_t KB = TB ? SB::cols : SB::rows_ct;
  static constexpr std::size_t N = TB ? SB::rows_ct : SB::cols;
  static_assert(K == KB, "ingot: matmul inner dimensions differ");
  static_assert(!is_batched(N), "ingot: a matmul result cannot have the batch as its columns");
  static constexpr bool trans_a = TA;
  static constexpr bool trans_b = TB;
  using shape = ingot::shape<M, N>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = Matrix;
  using children = type_list<A, B>;

  // C = op(A) op(B):  dA = dC op(B)^T (or its transpose when TA),
  //                   dB = op(A)^T dC (or its transpose when TB).
  template <std::size_t I, class G>
  using vjp = std::conditional_t<I == 0,
                                 std::conditional_t<!TA, matmul_node<false, !TB, G, B>, matmul_node<TB, true, B, G>>,
                                 std::conditional_t<!TB, matmul_node<!TA, false, A, G>, matmul_node<true, TA, G, A>>>;
};

}  // namespace ingot::expr
