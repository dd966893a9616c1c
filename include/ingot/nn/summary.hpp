#pragma once
// A model summary computed from the types, like torchinfo's: each layer's
// name, output shape, parameter count and forward FLOPs per sample. The
// figures are constexpr (layer_summaries<Net>() and Net::parameter_count),
// so that a static_assert can pin them; summary<Net>() formats the table.
//
// FLOPs per sample: a layer's own count where it states one (Dense:
// 2 in out, the multiply-adds of W x + b); otherwise one per output
// element (activations, normalisation and dropout are approximate).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/nn/sequential.hpp"

namespace ingot::nn {

struct layer_summary {
  std::size_t index = 0;
  std::size_t in_features = 0, out_features = 0;  // columns: features, or channels of an image
  std::size_t out_height = 0, out_width = 0;        // an image output's size, else 0
  std::size_t parameters = 0;
  std::size_t flops = 0;  // forward, per sample
};

namespace detail {
// The name the compiler gives T, without namespaces.
template <class T>
constexpr std::string_view pretty_type() {
  std::string_view p = __PRETTY_FUNCTION__;
  const std::size_t start = p.find("T = ") + 4;
  const std::size_t end = p.find_first_of(";]", start);
  p = p.substr(start, end - start);
  const std::size_t last = p.substr(0, p.find('<')).rfind("::");
  return last == std::string_view::npos ? p : p.substr(last + 2);
}

template <class Net, std::size_t I>
constexpr layer_summary summarize_layer() {
  using layers = typename Net::layers;
  using L = type_at_t<I, layers>;
  layer_summary s{};
  s.index = I;
  s.in_features = layer_input<layers, I, mode::train>::type::shape::cols;
  using out_shape = typename layer_output<layers, I, mode::train>::type::shape;
  using in_shape = typename layer_input<layers, I, mode::train>::type::shape;
  s.out_features = out_shape::cols;
  s.out_height = out_shape::height;
  s.out_width = out_shape::width;
  constexpr auto prefix = index_prefix<I>();
  using layout = arena_layout<typename Net::params>;
  for (std::size_t k = 0; k < layout::count; ++k)
    if (layout::names[k].starts_with(prefix.view())) s.parameters += layout::sizes[k];
  if constexpr (requires { L::flops_per_sample(); }) s.flops = L::flops_per_sample();
  else if constexpr (requires { L::template flops_for<in_shape>(); }) s.flops = L::template flops_for<in_shape>();
  else s.flops = out_shape::size(1);
  return s;
}

template <class L>
std::string layer_name() {
  if constexpr (requires { L::summary_name(); }) return L::summary_name();
  else return std::string(pretty_type<L>());
}
}  // namespace detail

// One entry per layer of a Sequential.
template <class Net>
constexpr auto layer_summaries() {
  using layers = typename Net::layers;
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<layer_summary, sizeof...(I)>{detail::summarize_layer<Net, I>()...};
  }(std::make_index_sequence<layers::size>{});
}

template <class Net>
inline constexpr std::size_t flops_per_sample = [] {
  std::size_t f = 0;
  for (const auto& s : layer_summaries<Net>()) f += s.flops;
  return f;
}();

// "(batch, 256)" or, for images, PyTorch's "(batch, 32, 14, 14)".
INGOT_DECL std::string shape_text(const layer_summary& s);

// The table from its rows (the part of summary() that does not depend on
// the model, compiled once in a separately compiled program).
INGOT_DECL std::string format_summary(std::span<const layer_summary> layers, const std::vector<std::string>& names,
                                      std::size_t input_cols, std::size_t parameters, std::size_t flops);

// The table, torchinfo style:
//   layer (type)            output shape     params       FLOPs
//   0 Dense<784, 256>       (batch, 256)     200,960      401,408
template <class Net>
std::string summary() {
  static constexpr auto layers = layer_summaries<Net>();
  std::vector<std::string> names;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (names.push_back(std::to_string(I) + " " + detail::layer_name<type_at_t<I, typename Net::layers>>()), ...);
  }(std::make_index_sequence<layers.size()>{});
  return format_summary(layers, names, Net::input::shape::cols, Net::parameter_count, flops_per_sample<Net>);
}

#if INGOT_DEFINE_BODIES
INGOT_DECL std::string shape_text(const layer_summary& s) {
  if (s.out_width == 0) return "(batch, " + std::to_string(s.out_features) + ")";
  return "(batch, " + std::to_string(s.out_features) + ", " + std::to_string(s.out_height) + ", " +
         std::to_string(s.out_width) + ")";
}

INGOT_DECL std::string format_summary(std::span<const layer_summary> layers, const std::vector<std::string>& names,
                                      std::size_t input_cols, std::size_t parameters, std::size_t flops) {
  auto grouped = [](std::size_t v) {
    const std::string digits = std::to_string(v);
    std::string s;
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
      s += digits[i];
    }
    return s;
  };
  auto pad = [](std::string s, std::size_t w) {
    if (s.size() < w) s.append(w - s.size(), ' ');
    return s;
  };
  auto rpad = [](std::string s, std::size_t w) { return s.size() < w ? std::string(w - s.size(), ' ') + s : s; };
  std::size_t w = 14;
  for (const auto& n : names) w = std::max(w, n.size() + 2);
  std::string out = pad("layer (type)", w) + pad("output shape", 20) + rpad("params", 12) + rpad("FLOPs", 14) + "\n";
  out += std::string(w + 46, '-') + "\n";
  out += pad("input", w) + pad("(batch, " + std::to_string(input_cols) + ")", 20) + "\n";
  for (std::size_t i = 0; i < layers.size(); ++i)
    out += pad(names[i], w) + pad(shape_text(layers[i]), 20) + rpad(grouped(layers[i].parameters), 12) +
           rpad(grouped(layers[i].flops), 14) + "\n";
  out += std::string(w + 46, '-') + "\n";
  out += "parameters: " + grouped(parameters) + "   forward FLOPs per sample: " + grouped(flops) + "\n";
  return out;
}
#endif  // INGOT_DEFINE_BODIES

}  // namespace ingot::nn
