// Data-parallel training on MPI, run by mpirun with 2 and with 3 ranks.
// Every rank also trains the same model alone on whole batches (a
// single-process trainer, no communication) and compares: a distributed
// step must be one process's step on the whole batch. Each case ends in a
// collective, so a rank never races ahead into the next case's messages.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <ingot/dist/mpi.hpp>
#include <ingot/ingot.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace ingot;

namespace {
dist::mpi_communicator* world = nullptr;

using Net = nn::Sequential<nn::Dense<12, 24>, nn::ReLU, nn::Dropout<0.25>, nn::Dense<24, 16>, nn::Tanh,
                           nn::Dense<16, 5>>;
using Opt = optim::Adam;

data::Dataset<std::int32_t> make_data(std::size_t rows, std::uint64_t seed) {
  rng g(seed);
  std::vector<float> x(rows * 12);
  g.fill_normal(std::span<float>(x));
  std::vector<std::int32_t> y(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    float s = 0;
    for (std::size_t j = 0; j < 12; ++j) s += x[i * 12 + j] * static_cast<float>(j % 5 + 1) * (j % 2 ? 1.f : -1.f);
    y[i] = static_cast<std::int32_t>(static_cast<std::size_t>(std::fabs(s) * 3) % 5);
  }
  return {rows, 12, 1, std::move(x), std::move(y), "synthetic"};
}

struct run_record {
  std::vector<double> losses;
  std::vector<float> weights;
  std::vector<train::epoch_result> history;
};

struct loss_recorder {
  std::vector<double>* losses;
  void on_batch_end(const train::batch_result& r) { losses->push_back(r.loss); }
};

// Trains a fresh model (the same initial weights on every rank unless
// seed_by_rank) for `epochs`, distributed or alone.
run_record train_run(const data::Dataset<std::int32_t>& ds, train::fit_options o, bool distributed,
                     bool seed_by_rank = false, train::distribute_options d = {}) {
  Net net{init::seed(seed_by_rank ? 100 + world->rank() : 7)};
  train::Trainer trainer{net, loss::CrossEntropy{}, Opt{{.lr = 5e-3f}}};
  trainer.manual_seed(11);
  if (distributed) trainer.distribute(*world, d);
  run_record r;
  r.history = trainer.fit(ds, o, loss_recorder{&r.losses});
  const auto w = net.arena().flat();
  r.weights.assign(w.begin(), w.end());
  return r;
}

void check_same(const run_record& a, const run_record& b) {
  REQUIRE(a.losses.size() == b.losses.size());
  double worst_loss = 0, worst_weight = 0;
  for (std::size_t i = 0; i < a.losses.size(); ++i)
    worst_loss = std::max(worst_loss, std::fabs(a.losses[i] - b.losses[i]) / std::max(1e-12, std::fabs(b.losses[i])));
  REQUIRE(a.weights.size() == b.weights.size());
  for (std::size_t i = 0; i < a.weights.size(); ++i)
    worst_weight = std::max(worst_weight, static_cast<double>(std::fabs(a.weights[i] - b.weights[i])));
  INFO("ranks " << world->size() << ": worst relative loss difference " << worst_loss << ", worst weight difference "
                << worst_weight);
  CHECK(worst_loss <= 1e-5);
  CHECK(worst_weight <= 1e-5);
  if (world->rank() == 0)
    std::printf("ranks %zu: %zu steps, worst relative loss difference %.3g, worst weight difference %.3g\n",
                world->size(), a.losses.size(), worst_loss, worst_weight);
}

// Every rank passes here before the next case.
void barrier() {
  double one = 1;
  world->sum(std::span<double>(&one, 1));
  REQUIRE(one == static_cast<double>(world->size()));
}

std::string scratch(const std::string& name) { return "distributed_" + std::to_string(world->size()) + "_" + name; }
}  // namespace

TEST_CASE("20 Adam steps on local batches of 64 / ranks equal one process on batches of 64", "[distributed]") {
  const auto ds = make_data(64 * 20, 1);
  const train::fit_options o{.epochs = 1, .batch_size = 64};
  // Different initial weights on each rank: the broadcast gives rank 0's.
  const run_record together = train_run(ds, o, true, true);
  const run_record alone = [&] {
    Net net{init::seed(100)};
    train::Trainer trainer{net, loss::CrossEntropy{}, Opt{{.lr = 5e-3f}}};
    trainer.manual_seed(11);
    run_record r;
    r.history = trainer.fit(ds, o, loss_recorder{&r.losses});
    r.weights.assign(net.arena().flat().begin(), net.arena().flat().end());
    return r;
  }();
  REQUIRE(together.losses.size() == 20);
  check_same(together, alone);
  CHECK(std::fabs(together.history[0].loss - alone.history[0].loss) <= 1e-5 * alone.history[0].loss);
  CHECK(together.history[0].ranks == world->size());
  CHECK(together.history[0].rank == world->rank());
  barrier();
}

TEST_CASE("shuffled epochs with a ragged last batch and a last batch of one row equal one process", "[distributed]") {
  // 597 rows: 9 full batches and 21 rows; 641: 10 full batches and one
  // row, which leaves every rank but rank 0 without rows. Two epochs of
  // about 10 steps: over many more Adam steps, rounding differences of
  // 1e-8 can move a hidden unit across ReLU's kink, and Adam turns that
  // unit's tiny gradient into an update of lr's size (seen after 37 steps
  // on an AVX-512 build: the losses stay within 3e-6, one weight row moves
  // by 1e-3), which says nothing about the reduction.
  for (std::size_t rows : {597, 641}) {
    const auto ds = make_data(rows, rows);
    const train::fit_options o{.epochs = 2, .batch_size = 64, .shuffle = true, .seed = 5};
    for (bool overlap : {true, false}) {
      const run_record together = train_run(ds, o, true, false, {.bucket_bytes = 512, .overlap = overlap});
      const run_record alone = train_run(ds, o, false);
      INFO(rows << " rows, overlap " << overlap);
      CHECK(together.losses.size() == 2 * ((rows + 63) / 64));
      check_same(together, alone);
      barrier();
    }
  }
}

TEST_CASE("distributed evaluate gives one process's metrics", "[distributed]") {
  const auto ds = make_data(1001, 3);
  Net net{init::seed(9)};
  train::Trainer alone{net, loss::CrossEntropy{}, Opt{}};
  const auto a = alone.evaluate(ds, 128);
  train::Trainer together{net, loss::CrossEntropy{}, Opt{}};
  together.distribute(*world);
  const auto b = together.evaluate(ds, 128);
  CHECK(b.rows == 1001);
  CHECK(b.confusion == a.confusion);
  CHECK(b.accuracy == a.accuracy);
  CHECK(b.top_k_accuracy == a.top_k_accuracy);
  CHECK(b.macro_f1 == Approx(a.macro_f1).epsilon(1e-12));
  CHECK(b.loss == Approx(a.loss).epsilon(1e-6));
  barrier();
}

TEST_CASE("a checkpoint of a distributed run resumes alone, and one from a single process resumes distributed",
          "[distributed][checkpoint]") {
  const auto ds = make_data(700, 4);
  const train::fit_options two{.epochs = 2, .batch_size = 64, .shuffle = true, .seed = 3};
  const train::fit_options three{.epochs = 3, .batch_size = 64, .shuffle = true, .seed = 3, .resume = true};
  auto uninterrupted = [&] {
    Net net{init::seed(7)};
    train::Trainer t{net, loss::CrossEntropy{}, Opt{{.lr = 5e-3f}}};
    t.manual_seed(11);
    run_record r;
    t.fit(ds, two, loss_recorder{&r.losses});
    t.fit(ds, three, loss_recorder{&r.losses});
    r.weights.assign(net.arena().flat().begin(), net.arena().flat().end());
    return r;
  }();
  const std::string from_many = scratch("many.safetensors"), from_one = scratch("one.safetensors");
  // Two epochs distributed; rank 0 writes the checkpoint.
  run_record mixed;
  {
    Net net{init::seed(7)};
    train::Trainer t{net, loss::CrossEntropy{}, Opt{{.lr = 5e-3f}}};
    t.manual_seed(11);
    t.distribute(*world);
    t.fit(ds, two, loss_recorder{&mixed.losses}, io::checkpoint_every_epoch(from_many, t));
  }
  barrier();
  // The third epoch alone, from that file.
  {
    Net net{init::seed(99)};
    train::Trainer t{net, loss::CrossEntropy{}, Opt{{.lr = 5e-3f}}};
    io::load_checkpoint(from_many, t);
    CHECK(t.epochs_done() == 2);
    t.fit(ds, three, loss_recorder{&mixed.losses});
    mixed.weights.assign(net.arena().flat().begin(), net.arena().flat().end());
  }
  check_same(mixed, uninterrupted);
  barrier();
  // Two epochs alone, saved by rank 0; the third distributed, with the
  // checkpoint loaded on rank 0 only (the others start from other weights
  // and get rank 0's from the broadcast).
  run_record other;
  if (world->rank() == 0) {
    Net net{init::seed(7)};
    train::Trainer t{net, loss::CrossEntropy{}, Opt{{.lr = 5e-3f}}};
    t.manual_seed(11);
    t.fit(ds, two, loss_recorder{&other.losses});
    io::save_checkpoint(from_one, t);
  }
  barrier();
  {
    Net net{init::seed(50 + world->rank())};
    train::Trainer t{net, loss::CrossEntropy{}, Opt{{.lr = 5e-3f}}};
    if (world->rank() == 0) io::load_checkpoint(from_one, t);
    t.distribute(*world);
    CHECK(t.epochs_done() == 2);
    std::vector<double> third;
    t.fit(ds, three, loss_recorder{&third});
    if (world->rank() != 0) other.losses.assign(uninterrupted.losses.begin(), uninterrupted.losses.end() - third.size());
    other.losses.insert(other.losses.end(), third.begin(), third.end());
    other.weights.assign(net.arena().flat().begin(), net.arena().flat().end());
  }
  check_same(other, uninterrupted);
  barrier();
  if (world->rank() == 0) {
    std::remove(from_many.c_str());
    std::remove(from_one.c_str());
  }
}

int main(int argc, char** argv) {
  dist::mpi_environment mpi(argc, argv);
  int failed = 0;
  {
    dist::mpi_communicator comm;
    world = &comm;
    failed = Catch::Session().run(argc, argv);
    // A rank whose checks failed makes the job fail: every rank learns it.
    double any = failed ? 1 : 0;
    comm.sum(std::span<double>(&any, 1));
    if (any > 0 && !failed) failed = 1;
    world = nullptr;
  }
  return failed;
}
