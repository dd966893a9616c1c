#pragma once
// Compile-time checks of the images a layer receives. Each check is a class
// template instantiated only to put the sizes into the compiler's message:
// "image_channels<2, 32, 14, 14, 16>" reads as layer 2 gets 32 x 14 x 14
// images and expects 16 channels.
#include <cstddef>

namespace ingot::nn::diagnostics {

template <std::size_t LayerIndex, bool InputIsImage>
struct layer_input_image {
  static constexpr bool ok = InputIsImage;
  static_assert(ok,
                "ingot::nn: this layer takes images (C x H x W) and its input is a batch of flat feature rows; "
                "put nn::Unflatten<C, H, W> before it (see layer_input_image<LayerIndex, InputIsImage> above)");
};

template <std::size_t LayerIndex, std::size_t InputChannels, std::size_t InputHeight, std::size_t InputWidth,
          std::size_t LayerInChannels>
struct image_channels {
  static constexpr bool ok = InputChannels == LayerInChannels;
  static_assert(ok,
                "ingot::nn: the layer's input channels differ from the channels of the images it receives "
                "(see image_channels<LayerIndex, InputChannels, InputHeight, InputWidth, LayerInChannels> above)");
};

template <std::size_t InputHeight, std::size_t InputWidth, std::size_t KernelHeight, std::size_t KernelWidth>
struct window_fits {
  static constexpr bool ok = KernelHeight <= InputHeight && KernelWidth <= InputWidth;
  static_assert(ok,
                "ingot::nn: the layer's window (with its padding and dilation) is larger than its input image "
                "(see window_fits<InputHeight, InputWidth, KernelHeight, KernelWidth> above)");
};

// Whether X is a batch of images with In channels; the layer's index is
// unknown here (Sequential checks first and names it), so it reads 0.
template <class X, std::size_t In>
constexpr bool image_input_ok() {
  if constexpr (!layer_input_image<0, X::shape::is_image>::ok) return false;
  else return image_channels<0, X::shape::channels, X::shape::height, X::shape::width, In>::ok;
}

}  // namespace ingot::nn::diagnostics
