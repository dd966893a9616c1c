#pragma once
// Command-line flags of the examples. CLI11 parses them in flags.cpp, so an
// example's own translation unit, which instantiates its model's training
// plans, does not also compile CLI11 (several seconds at -O2).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace examples {

class flags {
 public:
  explicit flags(const std::string& description);
  ~flags();
  flags(const flags&) = delete;
  flags& operator=(const flags&) = delete;

  // An option that takes a value; --help shows value's current content as
  // the default. Numbers outside [min, max] and strings outside choices
  // (when given) are refused with a message.
  void option(const std::string& name, unsigned long& value, const std::string& help, unsigned long min = 0,
              unsigned long max = std::numeric_limits<unsigned long>::max());
  void option(const std::string& name, unsigned long long& value, const std::string& help);
  void option(const std::string& name, double& value, const std::string& help);
  void option(const std::string& name, std::string& value, const std::string& help,
              const std::vector<std::string>& choices = {});
  // A switch without a value.
  void flag(const std::string& name, bool& value, const std::string& help);

  // Parses the command line. Returns the status to exit with when the
  // program should stop here (--help: 0; a bad flag: its message and
  // non-zero), nothing when it should go on.
  std::optional<int> parse(int argc, char** argv);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// What both Fashion-MNIST examples take.
struct common_settings {
  std::size_t epochs = 5, batch_size = 64;
  double lr = 1e-3, weight_decay = 0, momentum = 0.9, require_accuracy = 0;
  std::uint64_t seed = 42;
  bool progress = false, resume = false;
  std::string metrics, checkpoint, save_model, data_dir, matmul_precision = "float32";
};

// Adds the flags of common_settings; min_batch is the smallest batch the
// model trains on (BatchNorm needs 2 rows).
void add_common_flags(flags& f, common_settings& s, std::size_t min_batch = 1);

}  // namespace examples
