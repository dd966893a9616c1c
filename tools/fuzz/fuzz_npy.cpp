// libFuzzer target: .npy files; a parsed array is also converted to floats
// and, when its dtype is integral, to int32 labels.
#include <ingot/data/npy.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto a = ingot::data::parse_npy(std::span<const std::uint8_t>(data, size), "fuzz.npy");
    if (a.values<float>().size() != a.count()) __builtin_trap();
    (void)a.values<std::int32_t>();
  } catch (const ingot::data::format_error&) {
  }
  return 0;
}
