// The pieces of data-parallel training that need no MPI: a batch's parts in
// rank order are the batch; a rank's rows of a dropout mask are those rows
// of the whole batch's mask; the plan says when each gradient is final (the
// last layer's before the first's); and a trainer on a one-process
// communicator trains exactly as one that was never distributed.
#include <catch2/catch.hpp>
#include <ingot/ingot.hpp>

#include <cstring>
#include <vector>

using namespace ingot;

TEST_CASE("a batch's parts, in rank order, are the batch", "[data_parallel]") {
  CHECK(data::part_of(21, 0, 2).first == 0);
  CHECK(data::part_of(21, 0, 2).rows == 11);
  CHECK(data::part_of(21, 1, 2).first == 11);
  CHECK(data::part_of(21, 1, 2).rows == 10);
  CHECK(data::part_of(1, 1, 3).rows == 0);
  CHECK(data::part_of(1, 1, 3).first == 1);
  for (std::size_t rows : {1u, 7u, 100u, 131u})
    for (std::size_t batch : {1u, 5u, 16u, 64u})
      for (std::size_t shards : {1u, 2u, 3u, 5u})
        for (bool shuffle : {false, true}) {
          rng g(rows);
          std::vector<float> x(rows * 3);
          g.fill_normal(std::span<float>(x));
          std::vector<std::int32_t> y(rows);
          for (std::size_t i = 0; i < rows; ++i) y[i] = static_cast<std::int32_t>(i);
          const data::Dataset<std::int32_t> ds(rows, 3, 1, x, y, "d");
          const data::loader_options whole{.batch_size = batch, .shuffle = shuffle, .seed = 4};
          data::DataLoader<std::int32_t> one(ds, whole);
          std::vector<data::DataLoader<std::int32_t>> parts;
          for (std::size_t s = 0; s < shards; ++s) {
            data::loader_options o = whole;
            o.shard = s;
            o.shards = shards;
            parts.emplace_back(ds, o);
          }
          one.set_epoch(2);
          for (auto& p : parts) p.set_epoch(2);
          data::DataLoader<std::int32_t>::batch b;
          std::size_t batches = 0;
          while (one.next(b)) {
            ++batches;
            std::vector<float> joined_x;
            std::vector<std::int32_t> joined_y;
            for (std::size_t s = 0; s < shards; ++s) {
              data::DataLoader<std::int32_t>::batch p;
              REQUIRE(parts[s].next(p));
              CHECK(p.global_rows == b.rows);
              CHECK(p.first == joined_y.size());
              CHECK(p.rows <= parts[s].local_batch_size());
              joined_x.insert(joined_x.end(), p.x, p.x + p.rows * 3);
              joined_y.insert(joined_y.end(), p.y, p.y + p.rows);
            }
            CHECK(joined_y == std::vector<std::int32_t>(b.y, b.y + b.rows));
            CHECK(joined_x == std::vector<float>(b.x, b.x + b.rows * 3));
          }
          for (auto& p : parts) CHECK_FALSE(p.next(b));
          CHECK(batches == one.size());
        }
  const data::Dataset<std::int32_t> ds(2, 1, 1, {1, 2}, {0, 1}, "tiny.csv");
  CHECK_THROWS_WITH((data::DataLoader<std::int32_t>(ds, {.shard = 2, .shards = 2})),
                    "tiny.csv: shard 2 of 2 does not exist");
}

TEST_CASE("a rank's rows of a dropout mask are those rows of the whole batch's mask", "[data_parallel]") {
  using mask = expr::dropout_mask<0.3>;
  for (std::size_t n : {1u, 2u, 9u, 64u, 101u}) {
    std::vector<float> whole(n);
    random_stream s(5, 17, 1);
    mask::fill(std::span<float>(whole), s);
    for (std::size_t first = 0; first <= n; ++first) {
      std::vector<float> part(n - first);
      random_stream t(5, 17, 1);
      mask::fill(std::span<float>(part), t, first);
      CHECK(part == std::vector<float>(whole.begin() + static_cast<std::ptrdiff_t>(first), whole.end()));
    }
  }
}

namespace {
using Net = nn::Sequential<nn::Dense<10, 32>, nn::ReLU, nn::Dropout<0.2>, nn::Dense<32, 24>, nn::ReLU, nn::Dense<24, 4>>;
using NetTrainer = train::Trainer<Net, loss::CrossEntropy<>, optim::Adam>;
}  // namespace

TEST_CASE("the training plan finishes the last layer's gradients first", "[data_parallel]") {
  using P = NetTrainer::train_plan_type;
  constexpr auto ready = P::root_ready_step;
  // Roots: the loss, then the gradients in arena order (0.weight, 0.bias,
  // 3.weight, 3.bias, 5.weight, 5.bias).
  static_assert(ready.size() == 7);
  for (std::size_t r = 0; r < ready.size(); ++r) CHECK(ready[r] < P::num_steps);
  CHECK(ready[5] < ready[3]);
  CHECK(ready[3] < ready[1]);
  CHECK(ready[6] < ready[4]);
  CHECK(ready[4] < ready[2]);
  // The run's hook sees every step once, in order.
  P plan(8);
  Net net{init::seed(1)};
  plan.bind_by_name<expr::leaf_role::param>(net.arena());
  std::vector<float> x(8 * 10, 0.5f), mask(8 * 32, 1.0f), grads(Net::arena_type::flat_size);
  std::vector<std::int32_t> y(8, 1);
  plan.bind<Net::input>(x.data());
  plan.bind<NetTrainer::target>(y.data());
  plan.bind<type_at_t<0, NetTrainer::random_leaves>>(mask.data());
  for (std::size_t k = 0; k < Net::arena_type::count; ++k) plan.bind_output(1 + k, grads.data() + Net::arena_type::offset(k));
  std::vector<std::size_t> seen;
  plan.run(8, [&](std::size_t step) { seen.push_back(step); });
  REQUIRE(seen.size() == P::num_steps);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i);
}

TEST_CASE("a trainer on a one-process communicator trains as one never distributed", "[data_parallel]") {
  rng g(3);
  std::vector<float> x(300 * 10);
  g.fill_normal(std::span<float>(x));
  std::vector<std::int32_t> y(300);
  for (std::size_t i = 0; i < 300; ++i) y[i] = static_cast<std::int32_t>((i * 7) % 4);
  const data::Dataset<std::int32_t> ds(300, 10, 1, x, y, "d");
  auto run = [&](bool distribute) {
    Net net{init::seed(2)};
    NetTrainer t{net, loss::CrossEntropy{}, optim::Adam{}};
    dist::single_process one;
    if (distribute) t.distribute(one);
    CHECK_FALSE(t.distributed());
    const auto h = t.fit(ds, {.epochs = 2, .batch_size = 32, .shuffle = true});
    CHECK(h.back().ranks == 1);
    return std::vector<float>(net.arena().flat().begin(), net.arena().flat().end());
  };
  const auto a = run(false), b = run(true);
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
