#pragma once
// The one exception every reader throws for bad input. Its message names
// the file (or the name given to an in-memory buffer) and the place: a byte
// offset, an item, or file:line:column for text.
#include <stdexcept>

namespace ingot::data {

struct format_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ingot::data
