// A program of a user's own, built against an installed ingot (pkg-config
// or CMake): it trains a linear model and round-trips its weights through a
// safetensors file, so compiling, linking (zlib) and the io headers are all
// exercised.
#include <cstdio>
#include <filesystem>
#include <ingot/ingot.hpp>

using namespace ingot;
using Net = nn::Sequential<nn::Dense<3, 1>>;

int main() {
  std::vector<float> x, y;
  rng g(1);
  for (int i = 0; i < 64; ++i) {
    const float a = static_cast<float>(g.uniform(-1, 1)), b = static_cast<float>(g.uniform(-1, 1)),
                c = static_cast<float>(g.uniform(-1, 1));
    x.insert(x.end(), {a, b, c});
    y.push_back(2 * a - b + 0.5f * c + 1);
  }
  const data::Dataset<float> ds(64, 3, 1, x, y, "consumer");
  Net net{init::seed(2)};
  train::Trainer trainer{net, loss::MSE{}, optim::SGD{{.lr = 0.1f}}};
  const auto history = trainer.fit(ds, {.epochs = 200, .batch_size = 16});
  const std::string path = (std::filesystem::temp_directory_path() / "ingot_consumer.safetensors").string();
  io::save_state_dict(net, path);
  Net back{init::seed(3)};
  io::load_state_dict(back, path);
  std::filesystem::remove(path);
  const bool same = std::equal(net.arena().flat().begin(), net.arena().flat().end(), back.arena().flat().begin());
  std::printf("consumer: final loss %.2e, weights round-trip %s\n", history.back().loss, same ? "exact" : "DIFFERENT");
  return (same && history.back().loss < 1e-4) ? 0 : 1;
}
