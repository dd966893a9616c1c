#pragma once
// Mean and biased variance of a row-major [rows x cols] block, per column
// (over the rows, split across the threads) or per row (over the columns),
// in two passes: the mean, then the mean squared deviation from it.
#include <array>
#include <cstddef>
#include <type_traits>

#include "ingot/simd/column_sums.hpp"
#include "ingot/core/config.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::simd {

template <class T>
void column_moments(const T* x, std::size_t rows, std::size_t cols, T* mean, T* var) {
  const T inv = T(1) / static_cast<T>(rows);
  column_sums(rows, cols, mean, [&](std::size_t i0, std::size_t i1, T* acc) {
    add_rows_by_columns<T, 1>(i0, i1, cols, {acc}, [&]<class U>(std::size_t i, std::size_t j, std::array<U, 1>& a) {
      a[0] = a[0] + simd::load<U>(x + i * cols + j);
    });
  });
  for_each_batch<T>(cols, [&]<class U>(std::size_t j) { simd::store(mean + j, simd::load<U>(mean + j) * U(inv)); });
  column_sums(rows, cols, var, [&](std::size_t i0, std::size_t i1, T* acc) {
    add_rows_by_columns<T, 1>(i0, i1, cols, {acc}, [&]<class U>(std::size_t i, std::size_t j, std::array<U, 1>& a) {
      const U d = simd::load<U>(x + i * cols + j) - simd::load<U>(mean + j);
      a[0] = fma(d, d, a[0]);
    });
  });
  for_each_batch<T>(cols, [&]<class U>(std::size_t j) { simd::store(var + j, simd::load<U>(var + j) * U(inv)); });
}

template <class T>
void row_moments(const T* x, std::size_t rows, std::size_t cols, T* mean, T* var) {
  using V = vec<T>;
  const T inv = T(1) / static_cast<T>(cols);
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x + i * cols;
    V acc(T(0));
    T tail = 0;
    for_each_batch<T>(cols, [&]<class U>(std::size_t j) {
      if constexpr (std::is_same_v<U, V>) acc += simd::load<V>(xi + j);
      else tail += xi[j];
    });
    const T m = (hsum(acc) + tail) * inv;
    V sq(T(0));
    T sq_tail = 0;
    for_each_batch<T>(cols, [&]<class U>(std::size_t j) {
      const U d = simd::load<U>(xi + j) - U(m);
      if constexpr (std::is_same_v<U, V>) sq = fma(d, d, sq);
      else sq_tail += d * d;
    });
    mean[i] = m;
    var[i] = (hsum(sq) + sq_tail) * inv;
  }
}

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(void column_moments<float>(const float*, std::size_t, std::size_t, float*, float*))
INGOT_INSTANTIATE(void row_moments<float>(const float*, std::size_t, std::size_t, float*, float*))

}  // namespace ingot::simd
