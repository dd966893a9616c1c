#pragma once
// Compile-time shapes. Every value in a graph is a row-major matrix whose
// column count is fixed at compile time; its row count is either fixed too
// (parameters) or set at run time by the batch size. A per-sample vector of
// N features is shape<batch, N>; a bias of N is shape<1, N>; a scalar is
// shape<1, 1>. Broadcasting follows NumPy: a dimension of 1 stretches.
//
// Images are stored channels-last (NHWC): a batch of C x H x W images is a
// matrix of b H W rows (one per pixel, sample by sample, row by row) and C
// columns, image_shape<C, H, W>. Its row count is `batch_rows(H * W)`, a
// run-time count of H W rows per sample, and the shape remembers W (so H is
// the rows per sample over W). Bias, BatchNorm and activations of a
// convolution are then broadcasts over rows, as for a Dense layer.
#include <cstddef>
#include <type_traits>

namespace ingot {

inline constexpr std::size_t batch = static_cast<std::size_t>(-1);

// Row counts of `batch_rows(p)` stand for p rows per sample of the batch;
// batch_rows(1) is `batch`. They occupy the top of the size_t range.
inline constexpr std::size_t max_rows_per_sample = std::size_t{1} << 32;
constexpr std::size_t batch_rows(std::size_t per_sample) { return batch - (per_sample - 1); }
constexpr bool is_batched(std::size_t rows_ct) { return rows_ct > batch - max_rows_per_sample; }
constexpr std::size_t rows_per_sample(std::size_t rows_ct) { return is_batched(rows_ct) ? batch - rows_ct + 1 : 0; }
// The number of rows of a row count at batch size b.
constexpr std::size_t rows_at(std::size_t rows_ct, std::size_t b) {
  return is_batched(rows_ct) ? b * rows_per_sample(rows_ct) : rows_ct;
}

// R rows (or batch_rows(p)), C columns; Width is the image width of an
// image shape and 0 otherwise.
template <std::size_t R, std::size_t C, std::size_t Width = 0>
struct shape {
  static_assert(!is_batched(R) || Width == 0 || rows_per_sample(R) % Width == 0,
                "ingot: an image shape has a whole number of pixel rows per sample");
  static constexpr std::size_t rows_ct = R;  // a batch_rows value when set at run time
  static constexpr std::size_t cols = C;
  static constexpr bool batched = is_batched(R);
  static constexpr std::size_t per_sample = rows_per_sample(R);  // rows per sample (0: not batched)
  static constexpr bool is_image = batched && Width != 0;
  static constexpr std::size_t channels = C;
  static constexpr std::size_t width = Width;
  static constexpr std::size_t height = Width != 0 ? per_sample / Width : 0;
  static constexpr std::size_t rows(std::size_t b) { return rows_at(R, b); }
  static constexpr std::size_t size(std::size_t b) { return rows(b) * C; }
};

// A batch of C x H x W images, channels-last.
template <std::size_t C, std::size_t H, std::size_t W>
using image_shape = shape<batch_rows(H * W), C, W>;

using scalar_shape = shape<1, 1>;

template <class S>
inline constexpr bool is_scalar_shape = (S::rows_ct == 1 && S::cols == 1);

namespace detail {
constexpr bool dims_broadcast(std::size_t a, std::size_t b) { return a == b || a == 1 || b == 1; }
constexpr std::size_t dim_broadcast(std::size_t a, std::size_t b) { return a == 1 ? b : a; }
}  // namespace detail

// The broadcast keeps the image width of whichever operand has the rows.
template <class A, class B>
using broadcast_shape = shape<detail::dim_broadcast(A::rows_ct, B::rows_ct), detail::dim_broadcast(A::cols, B::cols),
                              (A::rows_ct == 1 ? B::width : A::width)>;

}  // namespace ingot
