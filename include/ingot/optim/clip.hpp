#pragma once
// torch.nn.utils.clip_grad_norm_ and clip_grad_value_ over a flat gradient
// arena (the padding between parameters is zero, so it changes no norm).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>

namespace ingot::optim {

inline constexpr double inf_norm = std::numeric_limits<double>::infinity();

// The p-norm of all gradients together (accumulated in double); if it
// exceeds max_norm, every gradient is scaled by max_norm / (norm + 1e-6), as
// torch does. Returns the norm before clipping. A non-finite norm throws
// when error_if_nonfinite is set, and otherwise scales by NaN as torch does.
template <class T>
double clip_grad_norm(std::span<T> grads, double max_norm, double norm_type = 2.0, bool error_if_nonfinite = false) {
  if (!(norm_type > 0)) throw std::invalid_argument("ingot::optim::clip_grad_norm: norm_type must be positive");
  double norm = 0;
  if (std::isinf(norm_type)) {
    for (T g : grads) norm = std::max(norm, std::abs(static_cast<double>(g)));
  } else if (norm_type == 2.0) {
    for (T g : grads) norm += static_cast<double>(g) * static_cast<double>(g);
    norm = std::sqrt(norm);
  } else if (norm_type == 1.0) {
    for (T g : grads) norm += std::abs(static_cast<double>(g));
  } else {
    for (T g : grads) norm += std::pow(std::abs(static_cast<double>(g)), norm_type);
    norm = std::pow(norm, 1.0 / norm_type);
  }
  if (error_if_nonfinite && !std::isfinite(norm))
    throw std::runtime_error("ingot::optim::clip_grad_norm: the total norm of the gradients is " +
                             std::to_string(norm));
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0 || std::isnan(coef)) {
    const T c = static_cast<T>(coef);
    for (T& g : grads) g *= c;
  }
  return norm;
}

// Clamps every gradient to [-clip_value, clip_value].
template <class T>
void clip_grad_value(std::span<T> grads, double clip_value) {
  if (!(clip_value >= 0)) throw std::invalid_argument("ingot::optim::clip_grad_value: clip_value must be >= 0");
  const T v = static_cast<T>(clip_value);
  for (T& g : grads) g = std::clamp(g, -v, v);
}

}  // namespace ingot::optim
