// The classic first training loop, in ingot: a linear model (10 -> 1) fitted
// by full-batch SGD to 100 random samples under a mean-squared-error loss.
//
//   PyTorch                                 ingot
//   model = nn.Linear(10, 1)                nn::Sequential<nn::Dense<10, 1>>
//   criterion = nn.MSELoss()                loss::MSE
//   optim.SGD(model.parameters(), lr=0.01)  optim::SGD{{.lr = 0.01f}}
//   for epoch: zero_grad, forward,          trainer.fit(...) runs the same
//              loss, backward, step         step, compiled
#include <cstdio>
#include <ingot/ingot.hpp>

using namespace ingot;

int main() {
  using Net = nn::Sequential<nn::Dense<10, 1>>;
  Net model{init::seed(42)};

  // 100 samples of 10 standard-normal features and a standard-normal target.
  rng g(7);
  std::vector<float> x(100 * 10), y(100);
  g.fill_normal(std::span<float>(x));
  g.fill_normal(std::span<float>(y));
  data::Dataset<float> samples(100, 10, 1, std::move(x), std::move(y), "random samples");

  train::Trainer trainer{model, loss::MSE{}, optim::SGD{{.lr = 0.01f}}};
  trainer.fit(samples, {.epochs = 20, .batch_size = 100}, [](const train::epoch_result& r) {
    std::printf("Epoch [%zu/%zu], Loss: %.4f\n", r.epoch, r.epochs, r.loss);
  });
}
