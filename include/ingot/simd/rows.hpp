#pragma once
// Row-wise kernels over a row-major [rows x cols] block: sums, softmax,
// log-softmax and softmax cross-entropy. Each row is read in SIMD batches,
// its tail as one masked batch where masks are cheap, else value by value.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "ingot/core/config.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::simd {

template <class T>
inline T row_max(const T* x, std::size_t n) {
  constexpr std::size_t W = width<T>;
  std::size_t j = 0;
  vec<T> mv(-INFINITY);
  for (; j + W <= n; j += W) mv = xsimd::max(mv, vec<T>::load_unaligned(x + j));
  if constexpr (cheap_masked_tails<T>) {
    if (j < n) mv = xsimd::max(mv, load_partial(x + j, n - j, T(-INFINITY)));
    return hmax(mv);
  } else {
    T m = hmax(mv);
    for (; j < n; ++j) m = x[j] > m ? x[j] : m;
    return m;
  }
}

// sum_j exp(x_j - shift); writes the exponentials to out when out != nullptr.
// With cheap masks the tail of a row (all of a classifier's 10 logits) is
// one batch whose other lanes add zero: 64 rows of 10 logits took
// 2.2-2.5 us with a scalar exp per logit, 1.1 us so.
template <class T>
inline T row_sum_exp(const T* x, std::size_t n, T shift, T* out) {
  constexpr std::size_t W = width<T>;
  std::size_t j = 0;
  vec<T> acc(T(0));
  const vec<T> s(shift);
  for (; j + W <= n; j += W) {
    const vec<T> e = xsimd::exp(vec<T>::load_unaligned(x + j) - s);
    if (out) e.store_unaligned(out + j);
    acc += e;
  }
  if constexpr (cheap_masked_tails<T>) {
    if (j < n) {
      // The other lanes hold the shift (exp(0) = 1) and are then zeroed.
      const vec<T> e = first_lanes(xsimd::exp(load_partial(x + j, n - j, shift) - s), n - j);
      if (out) store_partial(out + j, e, n - j);
      acc += e;
    }
    return hsum(acc);
  } else {
    T total = hsum(acc);
    for (; j < n; ++j) {
      const T e = std::exp(x[j] - shift);
      if (out) out[j] = e;
      total += e;
    }
    return total;
  }
}

template <class T>
inline void row_scale(T* x, std::size_t n, T factor) {
  constexpr std::size_t W = width<T>;
  std::size_t j = 0;
  const vec<T> f(factor);
  for (; j + W <= n; j += W) (vec<T>::load_unaligned(x + j) * f).store_unaligned(x + j);
  if constexpr (cheap_masked_tails<T>) {
    if (j < n) store_partial(x + j, load_partial(x + j, n - j) * f, n - j);
  } else {
    for (; j < n; ++j) x[j] *= factor;
  }
}

template <class T>
void softmax_rows(const T* x, T* y, std::size_t rows, std::size_t cols) {
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x + i * cols;
    T* yi = y + i * cols;
    const T m = row_max(xi, cols);
    row_scale(yi, cols, T(1) / row_sum_exp(xi, cols, m, yi));
  }
}

template <class T>
void log_softmax_rows(const T* x, T* y, std::size_t rows, std::size_t cols) {
  constexpr std::size_t W = width<T>;
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x + i * cols;
    T* yi = y + i * cols;
    const T m = row_max(xi, cols);
    const T lse_value = m + std::log(row_sum_exp(xi, cols, m, static_cast<T*>(nullptr)));
    const vec<T> lse(lse_value);
    std::size_t j = 0;
    for (; j + W <= cols; j += W) (vec<T>::load_unaligned(xi + j) - lse).store_unaligned(yi + j);
    if constexpr (cheap_masked_tails<T>) {
      if (j < cols) store_partial(yi + j, load_partial(xi + j, cols - j) - lse, cols - j);
    } else {
      for (; j < cols; ++j) yi[j] = xi[j] - lse_value;
    }
  }
}

// loss_i = logsumexp(x_i) - x_i[label_i]; a label outside [0, cols) throws.
// With probs != nullptr the same pass also writes softmax(x_i), from which
// the gradient (probs - onehot) * g is one fused element-wise pass.
// first_row is the batch row of x's first row, for the error message.
template <class T>
void softmax_xent_rows(const T* x, const std::int32_t* labels, T* loss, std::size_t rows, std::size_t cols,
                       T* probs, std::size_t first_row = 0) {
  for (std::size_t i = 0; i < rows; ++i) {
    const T* xi = x + i * cols;
    const std::int32_t label = labels[i];
    if (label < 0 || static_cast<std::size_t>(label) >= cols)
      throw std::out_of_range("ingot: cross_entropy: label " + std::to_string(label) + " at row " +
                              std::to_string(first_row + i) + " of the batch is outside [0, " + std::to_string(cols) + ")");
    const T m = row_max(xi, cols);
    T* pi = probs ? probs + i * cols : nullptr;
    const T s = row_sum_exp(xi, cols, m, pi);
    loss[i] = m + std::log(s) - xi[label];
    if (pi) row_scale(pi, cols, T(1) / s);
  }
}

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(void softmax_rows<float>(const float*, float*, std::size_t, std::size_t))
INGOT_INSTANTIATE(void log_softmax_rows<float>(const float*, float*, std::size_t, std::size_t))
INGOT_INSTANTIATE(void softmax_xent_rows<float>(const float*, const std::int32_t*, float*, std::size_t, std::size_t, float*,
                                                std::size_t))

}  // namespace ingot::simd
