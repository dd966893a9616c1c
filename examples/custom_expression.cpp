// A model that is not a stack of layers: written directly as an expression,
// trained by the same driver, its gradient derived by the compiler.
//
// Task: is a point of the square [-1, 1]^2 inside the circle of radius 0.7?
// Model: p = sigmoid(w2 * tanh(W1 * x + b1) + b2), 16 hidden units.
#include <cstdio>
#include <ingot/ingot.hpp>

using namespace ingot;

int main() {
  constexpr auto x = expr::input<"x", 2>;
  constexpr auto W1 = expr::param<"W1", 16, 2>;
  constexpr auto b1 = expr::param<"b1", 16>;
  constexpr auto w2 = expr::param<"w2", 1, 16>;
  constexpr auto b2 = expr::param<"b2", 1>;
  constexpr auto p = expr::sigmoid(w2 * expr::tanh(W1 * x + b1) + b2);

  auto model = nn::from_expression(p, init::seed(1));

  constexpr std::size_t n = 1000;
  rng g(3);
  std::vector<float> points(n * 2), inside(n);
  g.fill_uniform(std::span<float>(points), -1.0, 1.0);
  for (std::size_t i = 0; i < n; ++i) {
    const float u = points[2 * i], v = points[2 * i + 1];
    inside[i] = u * u + v * v < 0.49f ? 1.0f : 0.0f;
  }
  data::Dataset<float> circle(n, 2, 1, points, inside, "circle samples");

  train::Trainer trainer{model, loss::BCE{}, optim::Adam{{.lr = 0.05f}}};
  trainer.fit(circle, {.epochs = 60, .batch_size = 50, .shuffle = true, .seed = 5},
              [](const train::epoch_result& r) {
                if (r.epoch % 10 == 0) std::printf("epoch %2zu/%zu  bce %.4f\n", r.epoch, r.epochs, r.loss);
              });

  const std::vector<float> prob = trainer.predict(points.data(), n);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) correct += (prob[i] > 0.5f) == (inside[i] > 0.5f);
  std::printf("training accuracy: %.1f%%\n", 100.0 * static_cast<double>(correct) / n);
  return correct * 10 >= n * 9 ? 0 : 1;  // a run that does not learn the circle fails
}
