// libFuzzer target: IDX files (gzipped or plain) from arbitrary bytes. Any
// outcome but a parsed array or a data::format_error is a finding.
#include <ingot/data/idx.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto a = ingot::data::read_idx(std::span<const std::uint8_t>(data, size), "fuzz.idx");
    std::size_t count = 1;
    for (auto d : a.dims) count *= d;
    if (count != a.data.size()) __builtin_trap();
    if (a.dims.size() == 1) ingot::data::idx_classification(a, "x", a, "y", 256);
  } catch (const ingot::data::format_error&) {
  }
  return 0;
}
