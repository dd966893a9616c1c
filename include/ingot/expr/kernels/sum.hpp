#pragma once
// Sum over rows (Axis 0, giving a row), over columns (Axis 1, giving a
// column) or over everything (Axis -1, giving a scalar). Its operand is read
// once, in order, so an element-wise operand is computed inside this loop
// and never stored.
#include <array>
#include <cstddef>
#include <tuple>
#include <utility>

#include "ingot/expr/elementwise.hpp"
#include "ingot/simd/column_sums.hpp"

namespace ingot::expr {

template <int Axis>
struct sum_kernel {
  using kind = sum_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr kernel_traits traits{
      .operands_in_memory = false, .epilogue = false, .row_split = Axis == 1, .joinable = Axis == 0};

  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }

  template <class Ctx>
  static void run(const Ctx& ctx) {
    using T = typename Ctx::value_type;
    using V = simd::vec<T>;
    constexpr std::size_t W = simd::width<T>;
    const std::size_t rows = ctx.in_rows(0), C = ctx.in_cols(0);
    T* out = ctx.template out<0>();
    if constexpr (Axis == -1) {
      // A flat operand is one contiguous run of rows x C values.
      constexpr bool flat = Ctx::flat;
      const std::size_t n = flat ? rows * C : C;
      V acc(T(0));
      T tail = 0;
      for (std::size_t i = 0; i < (flat ? 1 : rows); ++i) {
        std::size_t j = 0;
        for (; j + W <= n; j += W) acc += ctx.template load<V, flat>(i, j);
        for (; j < n; ++j) tail += ctx.template load<T, flat>(i, j);
      }
      out[0] = simd::hsum(acc) + tail;
    } else if constexpr (Axis == 0) {
      // Split by rows across the threads (a bias gradient or a BatchNorm
      // statistic sums every pixel of a batch of images).
      run_joined(ctx);
    } else {
      for (std::size_t i = ctx.row_begin(); i < ctx.row_end(); ++i) {
        V acc(T(0));
        T tail = 0;
        std::size_t j = 0;
        for (; j + W <= C; j += W) acc += ctx.template load<V, false>(i, j);
        for (; j < C; ++j) tail += ctx.template load<T, false>(i, j);
        out[i] = simd::hsum(acc) + tail;
      }
    }
  }

  // Sums over the rows of one operand, or of several of one shape in one
  // pass (a BatchNorm's gradient sums the same masked gradient three ways):
  // each row of every operand is computed once per pass instead of once per
  // sum, and each sum adds the same values in the same order as it would in
  // a pass of its own.
  template <class... Ctx>
  static void run_joined(const Ctx&... ctx) {
    static_assert(Axis == 0, "ingot: internal error, only sums over rows are joined");
    const auto contexts = std::tie(ctx...);
    using T = typename std::tuple_element_t<0, std::tuple<Ctx...>>::value_type;
    constexpr std::size_t M = sizeof...(Ctx);
    const auto& first = std::get<0>(contexts);
    const std::size_t rows = first.in_rows(0), C = first.in_cols(0);
    simd::column_sums<T, M>(rows, C, std::array<T*, M>{ctx.template out<0>()...},
                            [&](std::size_t i0, std::size_t i1, const std::array<T*, M>& acc) {
      simd::add_rows_by_columns<T, M>(i0, i1, C, acc, [&]<class U>(std::size_t i, std::size_t j, std::array<U, M>& a) {
        [&]<std::size_t... m>(std::index_sequence<m...>) {
          a = std::array<U, M>{(a[m] + std::get<m>(contexts).template load<U, false>(i, j))...};
        }(std::make_index_sequence<M>{});
      });
    });
  }
};

template <int Axis, class A>
struct sum_node : node_base, sum_kernel<Axis> {
  static_assert(Axis == 0 || Axis == 1 || Axis == -1, "ingot: sum axis must be 0, 1 or -1 (all)");
  using SA = typename A::shape;
  static constexpr int axis = Axis;
  using shape = std::conditional_t<Axis == 0, ingot::shape<1, SA::cols>,
                                   std::conditional_t<Axis == 1, ingot::shape<SA::rows_ct, 1>, scalar_shape>>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = A::is_matrix && Axis != -1;
  using children = type_list<A>;

  // Every summed element receives the gradient of its sum.
  template <std::size_t I, class G>
  using vjp = expand_t<SA, G>;
};

}  // namespace ingot::expr
