#pragma once
// Compile-time shapes. Every value in a graph is a row-major matrix whose
// column count is fixed at compile time; its row count is either fixed too
// (parameters) or the run-time batch size (`batch`). A per-sample vector of
// N features is shape<batch, N>; a bias of N is shape<1, N>; a scalar is
// shape<1, 1>. Broadcasting follows NumPy: a dimension of 1 stretches.
#include <cstddef>
#include <type_traits>

namespace ingot {

inline constexpr std::size_t batch = static_cast<std::size_t>(-1);

template <std::size_t R, std::size_t C>
struct shape {
  static constexpr std::size_t rows_ct = R;  // `batch` when set at run time
  static constexpr std::size_t cols = C;
  static constexpr bool batched = (R == batch);
  static constexpr std::size_t rows(std::size_t b) { return batched ? b : R; }
  static constexpr std::size_t size(std::size_t b) { return rows(b) * C; }
};

using scalar_shape = shape<1, 1>;

template <class S>
inline constexpr bool is_scalar_shape = (S::rows_ct == 1 && S::cols == 1);

namespace detail {
constexpr bool dims_broadcast(std::size_t a, std::size_t b) { return a == b || a == 1 || b == 1; }
constexpr std::size_t dim_broadcast(std::size_t a, std::size_t b) { return a == 1 ? b : a; }
}  // namespace detail

template <class A, class B>
using broadcast_shape = shape<detail::dim_broadcast(A::rows_ct, B::rows_ct), detail::dim_broadcast(A::cols, B::cols)>;

}  // namespace ingot
