// libFuzzer target: safetensors files. A parsed file's tensors must have
// exactly the bytes their dtype and shape give.
#include <ingot/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto f = ingot::io::parse_safetensors(std::span<const std::uint8_t>(data, size), "fuzz.safetensors");
    for (const auto& t : f.tensors) {
      if (t.count() * ingot::io::dtype_size(t.dtype) != t.bytes.size()) __builtin_trap();
      if (t.dtype == "F32" || t.dtype == "I64") (void)t.values<double>();
    }
  } catch (const ingot::data::format_error&) {
  }
  return 0;
}
