// ingot's side of the benchmark suite (bench/suite.py runs it beside the
// peers). Every command prints one JSON line.
//
//   bench_workloads seed RUNS STEPS                 µs per step of the seed loop
//   bench_workloads mlp H1 H2 BATCH EPOCHS THREADS [PRECISION]  seconds per epoch of fit
//                                                   (784-H1-H2-10, Adam 1e-3)
//   bench_workloads steps W BATCH STEPS RUNS THREADS  seconds per step, 784-W-W-10, contiguous batches
//   bench_workloads infer RUNS BATCH THREADS [PRECISION]  seconds to predict the 10,000 test images
// PRECISION is float32 (the default) or bf16: products with bfloat16
// operands and float sums (set_matmul_precision); the workload's name
// then ends in -bf16.
//   bench_workloads peak THREADS                    the machine's FMA peak in GFLOP/s (float; and
//                                                   bfloat16 pairs where the target has AVX-512 BF16)
//   bench_workloads check MODEL STEPS BATCH DIR     writes MODEL's initial weights (and for the seed,
//                                                   its data) to DIR and prints the losses of STEPS
//                                                   steps on the first batches in order
// MODEL is seed or mlp-H1-H2. mlp runs the Fashion-MNIST MLP (256-128);
// steps and check also run 784-W-W-10 for W in 64, 128, ..., 2048.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core_link.hpp"

using namespace ingot;

namespace {

template <std::size_t H1, std::size_t H2>
using Mlp = nn::Sequential<nn::Dense<784, H1>, nn::ReLU, nn::Dense<H1, H2>, nn::ReLU, nn::Dense<H2, 10>>;
using Seed = nn::Sequential<nn::Dense<10, 1>>;

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

void print_times(const char* workload, const char* unit, const std::vector<double>& times, std::size_t threads,
                 double loss) {
  std::printf("{\"impl\": \"ingot\", \"workload\": \"%s\", \"unit\": \"%s\", \"threads\": %zu, \"loss\": %.9g, \"times\": [",
              workload, unit, threads, loss);
  for (std::size_t i = 0; i < times.size(); ++i) std::printf("%s%.9g", i ? ", " : "", times[i]);
  std::printf("]");
  if (threads > 1) ingot_bench::print_core_link(ingot_bench::measure_core_link());  // after the timing
  std::printf("}\n");
}

// The seed loop's data: 100 rows of 10 normal features and normal targets.
struct seed_data {
  std::vector<float> x = std::vector<float>(100 * 10), y = std::vector<float>(100);
  seed_data() {
    rng g(7);
    g.fill_normal(std::span<float>(x));
    g.fill_normal(std::span<float>(y));
  }
};

int seed(int runs, int steps) {
  Seed model{init::seed(42)};
  seed_data d;
  train::Trainer trainer{model, loss::MSE{}, optim::SGD{{.lr = 0.01f}}};
  trainer.reserve(100);
  std::vector<double> us;
  float loss = 0;
  for (int s = 0; s < steps; ++s) loss = trainer.step(d.x.data(), d.y.data(), 100);  // warm-up
  for (int r = 0; r < runs; ++r) {
    const auto start = clock_type::now();
    for (int s = 0; s < steps; ++s) loss = trainer.step(d.x.data(), d.y.data(), 100);
    us.push_back(seconds_since(start) / steps * 1e6);
  }
  print_times("seed", "us/step", us, 1, loss);
  return 0;
}

// Sets the products' precision by its name; bf16 needs AVX-512 BF16.
void use_precision(const std::string& precision) {
  if (precision != "float32" && precision != "bf16") throw std::invalid_argument("unknown precision " + precision);
  if (precision == "bf16") {
    if (!bf16_matmul_available) throw std::runtime_error("this build's target has no AVX-512 BF16");
    set_matmul_precision(matmul_precision::bfloat16);
  }
}

template <std::size_t H1, std::size_t H2>
int mlp_epochs(std::size_t batch, std::size_t epochs, std::size_t threads, const std::string& precision) {
  set_num_threads(threads);
  use_precision(precision);
  const auto train_set = data::fashion_mnist("train");
  Mlp<H1, H2> net{init::seed(1)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
  const auto history = trainer.fit(train_set, {.epochs = epochs, .batch_size = batch, .shuffle = true, .seed = 1});
  std::vector<double> seconds;
  for (const auto& r : history) seconds.push_back(r.seconds);
  const std::string name = "mlp-" + std::to_string(H1) + "-" + std::to_string(H2) + "-b" + std::to_string(batch) +
                           (precision == "bf16" ? "-bf16" : "");
  print_times(name.c_str(), "s/epoch", seconds, get_num_threads(), history.back().loss);
  return 0;
}

// Training steps on contiguous batches of the training images (no shuffle,
// no gather): the width-scaling workload, where an epoch of a wide model
// would take minutes in the slower peers.
template <std::size_t W>
int width_steps(std::size_t batch, std::size_t steps, int runs, std::size_t threads) {
  set_num_threads(threads);
  const auto train_set = data::fashion_mnist("train");
  Mlp<W, W> net{init::seed(1)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
  trainer.reserve(batch);
  const std::size_t batches = train_set.rows / batch;
  const simd::flush_denormals_scope denormals;
  std::vector<double> per_step;
  float loss = 0;
  std::size_t b = 0;
  auto one = [&] {
    loss = trainer.step(train_set.x.data() + b * batch * 784, train_set.y.data() + b * batch, batch);
    b = (b + 1) % batches;
  };
  for (std::size_t s = 0; s < std::min<std::size_t>(steps, 20); ++s) one();  // warm-up
  for (int r = 0; r < runs; ++r) {
    const auto start = clock_type::now();
    for (std::size_t s = 0; s < steps; ++s) one();
    per_step.push_back(seconds_since(start) / static_cast<double>(steps));
  }
  const std::string name = "width-" + std::to_string(W);
  print_times(name.c_str(), "s/step", per_step, get_num_threads(), loss);
  return 0;
}

// PRECISION bf16 times the products with bfloat16 operands
// (set_matmul_precision) and reports, beside the times, how far the outputs
// are from float products: the largest difference over the largest
// output, and the share of rows whose highest output is the same class.
int infer(int runs, std::size_t batch, std::size_t threads, const std::string& precision) {
  set_num_threads(threads);
  if (precision != "float32" && precision != "bf16") throw std::invalid_argument("unknown precision " + precision);
  const auto test_set = data::fashion_mnist("t10k");
  Mlp<256, 128> net{init::seed(1)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
  const std::vector<float> reference = trainer.predict(test_set.x.data(), test_set.rows, batch);
  use_precision(precision);
  std::vector<float> out = trainer.predict(test_set.x.data(), test_set.rows, batch);  // warm-up, plans made
  std::vector<double> seconds;
  for (int r = 0; r < runs; ++r) {
    const auto start = clock_type::now();
    out = trainer.predict(test_set.x.data(), test_set.rows, batch);
    seconds.push_back(seconds_since(start));
  }
  double checksum = 0;
  for (float v : out) checksum += v;
  const std::string name = precision == "bf16" ? "infer-bf16" : "infer";
  if (precision == "bf16") {
    double largest = 0, diff = 0;
    std::size_t same = 0;
    for (std::size_t i = 0; i < reference.size(); ++i) {
      largest = std::max(largest, static_cast<double>(std::abs(reference[i])));
      diff = std::max(diff, static_cast<double>(std::abs(reference[i] - out[i])));
    }
    for (std::size_t r = 0; r < test_set.rows; ++r) {
      const float* a = reference.data() + r * 10;
      const float* b = out.data() + r * 10;
      same += std::max_element(a, a + 10) - a == std::max_element(b, b + 10) - b;
    }
    std::fprintf(stderr, "infer-bf16: largest difference to float products %.3g of the largest output %.3g; "
                 "the same class for %zu of %zu rows\n", diff, largest, same, test_set.rows);
  }
  print_times(name.c_str(), "s", seconds, get_num_threads(), checksum);
  return 0;
}

// Independent FMA chains in registers: the FMA latency (4 cycles) times the
// two FMA pipes needs 8; more give room to spare, as long as they and the
// two operands stay in registers. With AVX2's 16 vector registers, 16
// chains spilled to the stack and measured half the peak (55 instead of 95
// GFLOP/s per core on a Zen 3); 12 leave two registers free. AVX-512 has 32.
template <class batch>
double fma_peak(std::size_t threads) {
  set_num_threads(threads);
#if defined(__AVX512F__)
  constexpr std::size_t chains = 16;
#else
  constexpr std::size_t chains = 12;
#endif
  constexpr std::size_t reps = std::size_t{1} << 22;
  std::vector<float> sink(get_num_threads() * 64, 0.0f);
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    const auto start = clock_type::now();
    pool().run([&](std::size_t t, std::size_t) {
      batch acc[chains];
      for (std::size_t c = 0; c < chains; ++c) acc[c] = batch(1.0f + static_cast<float>(c + t) * 1e-3f);
      const batch a(0.999999f), b(1e-7f);
      for (std::size_t r = 0; r < reps; ++r)
        for (std::size_t c = 0; c < chains; ++c) acc[c] = xsimd::fma(acc[c], a, b);
      batch total = acc[0];
      for (std::size_t c = 1; c < chains; ++c) total += acc[c];
      sink[t * 64] = xsimd::hadd(total);
    });
    const double s = seconds_since(start);
    const double flops = 2.0 * batch::size * chains * reps * static_cast<double>(get_num_threads());
    best = std::max(best, flops / s * 1e-9);
  }
  if (!std::isfinite(sink[0])) std::printf("(non-finite sink)\n");
  return best;
}

// The same for vdpbf16ps (32 multiply-adds of bfloat16 pairs into 16
// floats per instruction), where the target has AVX-512 BF16; 0 elsewhere.
double bf16_peak(std::size_t threads) {
#if defined(__AVX512BF16__)
  set_num_threads(threads);
  constexpr std::size_t chains = 16;
  constexpr std::size_t reps = std::size_t{1} << 22;
  std::vector<float> sink(get_num_threads() * 64, 0.0f);
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    const auto start = clock_type::now();
    pool().run([&](std::size_t t, std::size_t) {
      __m512 acc[chains];
      for (std::size_t c = 0; c < chains; ++c) acc[c] = _mm512_set1_ps(1.0f + static_cast<float>(c + t) * 1e-3f);
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3f803f80));  // (1, 1)
      const __m512bh b = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x33d633d6));  // (1e-7, 1e-7)
      for (std::size_t r = 0; r < reps; ++r)
        for (std::size_t c = 0; c < chains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
      __m512 total = acc[0];
      for (std::size_t c = 1; c < chains; ++c) total = _mm512_add_ps(total, acc[c]);
      sink[t * 64] = _mm512_reduce_add_ps(total);
    });
    const double s = seconds_since(start);
    best = std::max(best, 64.0 * chains * reps * static_cast<double>(get_num_threads()) / s * 1e-9);
  }
  if (!std::isfinite(sink[0])) std::printf("(non-finite sink)\n");
  return best;
#else
  (void)threads;
  return 0;
#endif
}

void print_losses(const char* model, const std::vector<float>& losses) {
  std::printf("{\"impl\": \"ingot\", \"check\": \"%s\", \"losses\": [", model);
  for (std::size_t i = 0; i < losses.size(); ++i) std::printf("%s%.9g", i ? ", " : "", static_cast<double>(losses[i]));
  std::printf("]}\n");
}

template <std::size_t H1, std::size_t H2>
int check_mlp(std::size_t steps, std::size_t batch, const std::string& dir) {
  set_num_threads(1);
  const auto train_set = data::fashion_mnist("train");
  if (steps * batch > train_set.rows) throw std::invalid_argument("check: more rows than the training set has");
  Mlp<H1, H2> net{init::seed(1)};
  const std::string name = "mlp-" + std::to_string(H1) + "-" + std::to_string(H2);
  io::save_state_dict(net, dir + "/" + name + ".safetensors");
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
  std::vector<float> losses;
  for (std::size_t s = 0; s < steps; ++s)
    losses.push_back(trainer.step(train_set.x.data() + s * batch * 784, train_set.y.data() + s * batch, batch));
  print_losses(name.c_str(), losses);
  return 0;
}

int check_seed(std::size_t steps, const std::string& dir) {
  Seed model{init::seed(42)};
  seed_data d;
  io::save_state_dict(model, dir + "/seed.safetensors");
  data::write_npy(dir + "/seed_x.npy", std::span<const float>(d.x), {100, 10});
  data::write_npy(dir + "/seed_y.npy", std::span<const float>(d.y), {100, 1});
  train::Trainer trainer{model, loss::MSE{}, optim::SGD{{.lr = 0.01f}}};
  std::vector<float> losses;
  for (std::size_t s = 0; s < steps; ++s) losses.push_back(trainer.step(d.x.data(), d.y.data(), 100));
  print_losses("seed", losses);
  return 0;
}

// Runs f<W>() for the width given at run time.
template <class F>
int by_width(std::size_t w, F&& f) {
  switch (w) {
    case 64: return f.template operator()<64>();
    case 128: return f.template operator()<128>();
    case 256: return f.template operator()<256>();
    case 512: return f.template operator()<512>();
    case 1024: return f.template operator()<1024>();
    case 2048: return f.template operator()<2048>();
    default: throw std::invalid_argument("no MLP of width " + std::to_string(w) + " is compiled in");
  }
}

std::size_t arg(char** argv, int i) { return std::strtoul(argv[i], nullptr, 10); }

int run(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "seed" && argc == 4) return seed(std::atoi(argv[2]), std::atoi(argv[3]));
  if (cmd == "mlp" && (argc == 7 || argc == 8)) {
    const std::size_t h1 = arg(argv, 2), h2 = arg(argv, 3), batch = arg(argv, 4), epochs = arg(argv, 5),
                      threads = arg(argv, 6);
    if (h1 == 256 && h2 == 128) return mlp_epochs<256, 128>(batch, epochs, threads, argc == 8 ? argv[7] : "float32");
    throw std::invalid_argument("no MLP 784-" + std::to_string(h1) + "-" + std::to_string(h2) + "-10 is compiled in");
  }
  if (cmd == "steps" && argc == 7) {
    const std::size_t batch = arg(argv, 3), steps = arg(argv, 4), threads = arg(argv, 6);
    const int runs = std::atoi(argv[5]);
    return by_width(arg(argv, 2), [&]<std::size_t W>() { return width_steps<W>(batch, steps, runs, threads); });
  }
  if (cmd == "peak" && argc == 3) {
    const double gflops = fma_peak<xsimd::batch<float>>(arg(argv, 2));
#if XSIMD_WITH_AVX512F
    const double ymm = fma_peak<xsimd::batch<float, xsimd::avx2>>(arg(argv, 2));
#else
    const double ymm = gflops;
#endif
    const double bf16 = bf16_peak(arg(argv, 2));
    const std::size_t threads = get_num_threads();
    std::printf("{\"impl\": \"ingot\", \"peak_gflops\": %.2f, \"peak_gflops_256bit\": %.2f, "
                "\"peak_gflops_bf16\": %.2f, \"threads\": %zu, \"simd_bytes\": %zu",
                gflops, ymm, bf16, threads, xsimd::batch<float>::size * sizeof(float));
    ingot_bench::print_core_link(ingot_bench::measure_core_link());
    std::printf("}\n");
    return 0;
  }
  if (cmd == "infer" && (argc == 5 || argc == 6))
    return infer(std::atoi(argv[2]), arg(argv, 3), arg(argv, 4), argc == 6 ? argv[5] : "float32");
  if (cmd == "check" && argc == 6) {
    const std::string model = argv[2], dir = argv[5];
    const std::size_t steps = arg(argv, 3), batch = arg(argv, 4);
    if (model == "seed") return check_seed(steps, dir);
    if (model == "mlp-256-128") return check_mlp<256, 128>(steps, batch, dir);
    const std::string prefix = "mlp-";
    if (model.starts_with(prefix)) {
      const std::size_t w = std::strtoul(model.c_str() + prefix.size(), nullptr, 10);
      if (model == prefix + std::to_string(w) + "-" + std::to_string(w))
        return by_width(w, [&]<std::size_t W>() { return check_mlp<W, W>(steps, batch, dir); });
    }
    throw std::invalid_argument("unknown model " + model);
  }
  std::fprintf(stderr,
               "usage: bench_workloads seed RUNS STEPS | mlp H1 H2 BATCH EPOCHS THREADS [float32|bf16] | steps W BATCH STEPS RUNS "
               "THREADS | infer RUNS BATCH THREADS [float32|bf16] | peak THREADS | check MODEL STEPS BATCH DIR\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_workloads: %s\n", e.what());
    return 1;
  }
}
