// libFuzzer target: CSV text. The first byte picks the options (delimiter,
// header, target by index or name, label or float targets, NaN allowed).
#include <ingot/data/csv.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t o = data[0];
  ingot::data::csv_options opt;
  opt.delimiter = (o & 3) == 0 ? ',' : (o & 3) == 1 ? ';' : (o & 3) == 2 ? '\t' : ' ';
  opt.header = (o & 4) == 0;
  if (o & 8) opt.target_indices = {static_cast<std::size_t>((o >> 5) & 3)};
  else if ((o & 16) && opt.header) opt.target_names = {"y"};
  opt.allow_nonfinite = (o & 128) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (o & 64) {
      const auto ds = ingot::data::parse_csv<std::int32_t>(text, "fuzz.csv", opt);
      if (ds.x.size() != ds.rows * ds.features || ds.y.size() != ds.rows) __builtin_trap();
    } else {
      const auto ds = ingot::data::parse_csv<float>(text, "fuzz.csv", opt);
      if (ds.x.size() != ds.rows * ds.features || ds.y.size() != ds.rows * ds.target_cols) __builtin_trap();
    }
  } catch (const ingot::data::format_error&) {
  } catch (const std::invalid_argument&) {  // options that do not fit the file (e.g. two target columns of labels)
  }
  return 0;
}
