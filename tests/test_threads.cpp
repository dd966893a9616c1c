// Threads: the pool runs every thread once per run and never nests; a GEMM
// split across threads gives bit for bit the product of one thread (with
// its epilogue on every tile once); and training on two threads gives the
// losses and weights of one thread exactly, run after run.
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <ingot/ingot.hpp>
#include <vector>

using namespace ingot;

TEST_CASE("the pool runs each thread once, splits statically, and runs nested loops serially", "[threads]") {
  thread_pool p(3);
  std::vector<int> hits(3, 0);
  std::vector<std::size_t> inner(3, 0), sizes(3, 0);
  p.run([&](std::size_t t, std::size_t n) {
    sizes[t] = n;  // Catch's assertions are not thread-safe: record, check after
    ++hits[t];
    p.run([&](std::size_t u, std::size_t m) { inner[t] += (u + 1) * 10 + m; });  // serial: (0, 1)
  });
  CHECK(sizes == std::vector<std::size_t>{3, 3, 3});
  CHECK(hits == std::vector<int>{1, 1, 1});
  CHECK(inner == std::vector<std::size_t>{11, 11, 11});
  for (int r = 0; r < 200; ++r) p.run([&](std::size_t t, std::size_t) { ++hits[t]; });
  CHECK(hits == std::vector<int>{201, 201, 201});
  // Static shares in whole grains cover [0, n) once.
  std::size_t covered = 0;
  for (std::size_t t = 0; t < 3; ++t) {
    const auto r = share(1000, t, 3, 64);
    CHECK(r.begin % 64 == 0);
    covered += r.end - r.begin;
  }
  CHECK(covered == 1000);
  // Fewer grains than threads: whole grains only, some threads get none.
  CHECK(share(10, 0, 3, 64).begin == share(10, 0, 3, 64).end);
  CHECK(share(10, 2, 3, 64).begin == 0);
  CHECK(share(10, 2, 3, 64).end == 10);
}

TEST_CASE("workers take the caller's flush-to-zero setting for each run", "[threads]") {
  thread_pool p(2);
  std::vector<int> flushing(2, -1);
  {
    simd::flush_denormals_scope scope(true);
    p.run([&](std::size_t t, std::size_t) { flushing[t] = simd::flush_denormals_scope::active() ? 1 : 0; });
  }
#if defined(__SSE__) || defined(__x86_64__)
  CHECK(flushing == std::vector<int>{1, 1});
#endif
  p.run([&](std::size_t t, std::size_t) { flushing[t] = simd::flush_denormals_scope::active() ? 1 : 0; });
  CHECK(flushing == std::vector<int>{0, 0});
}

TEST_CASE("the pool's accounting counts runs per job and measures waits and serial work", "[threads][stats]") {
  CHECK(thread_pool(2).stats() == nullptr);  // off unless asked for
  thread_pool p(2, true);
  REQUIRE(p.stats() != nullptr);
  using clock = std::chrono::steady_clock;
  auto busy = [](std::chrono::microseconds d) {
    const auto end = clock::now() + d;
    while (clock::now() < end) {
    }
  };
  // The worker works 300 us longer than the caller in each of 5 runs: the
  // caller waits at least that long each time.
  auto uneven = [&](std::size_t t, std::size_t) {
    if (t == 1) busy(std::chrono::microseconds(300));
  };
  for (int r = 0; r < 5; ++r) p.run(uneven);
  busy(std::chrono::milliseconds(2));  // serial work between runs
  auto even = [&](std::size_t, std::size_t) {};
  for (int r = 0; r < 3; ++r) p.run(even);
  const pool_stats& s = *p.stats();
  CHECK(s.runs == 8);
  REQUIRE(s.jobs.size() == 2);
  std::size_t waited_runs = 0;
  std::set<std::string> names;  // g++ and clang name lambdas differently; both name these two apart
  for (const auto& [name, row] : s.jobs) {
    CHECK((row.runs == 5 || row.runs == 3));
    if (row.runs == 5) {
      CHECK(row.caller_wait >= 5 * 300'000);
      CHECK(row.workers >= 5 * 300'000);
    }
    names.insert(pool_stats::job_name(name));
    CHECK(pool_stats::job_name(name).find("unsigned long") == std::string::npos);  // argument lists dropped
  }
  CHECK(names.size() == 2);
  for (std::size_t b = 0; b < pool_stats::wait_buckets; ++b) waited_runs += s.waits[b];
  CHECK(waited_runs == 8);
  CHECK(s.waits[0] + s.waits[1] + s.waits[2] <= 3);  // the uneven runs waited >= 300 us
  CHECK(s.serial >= 2'000'000);
  const std::string report = s.report();
  CHECK_THAT(report, Catch::Contains("2 threads, 8 runs"));
  CHECK_THAT(report, Catch::Contains("serial between runs"));
}

namespace {
template <bool TA, bool TB>
std::vector<float> product(std::size_t threads, std::size_t M, std::size_t N, std::size_t K) {
  set_num_threads(threads);
  rng g(M + 3 * N + 7 * K);
  const std::size_t lda = TA ? M : K, ldb = TB ? K : N;
  std::vector<float> a(M * K), b(K * N), c(M * N, -1.0f);
  g.fill_uniform(std::span<float>(a), -1, 1);
  g.fill_uniform(std::span<float>(b), -1, 1);
  aligned_buffer<float> pack(simd::gemm_blocking<float>::pack_a_size + simd::gemm_blocking<float>::pack_b_size);
  // The epilogue adds i * 1000 + j: wrong coordinates would show.
  struct target {
    float* c;
    std::size_t n;
  } t{c.data(), N};
  simd::tile_epilogue e{[](const void* p, std::size_t i0, std::size_t j0, std::size_t rows, std::size_t cols) {
                          const auto& x = *static_cast<const target*>(p);
                          for (std::size_t i = i0; i < i0 + rows; ++i)
                            for (std::size_t j = j0; j < j0 + cols; ++j)
                              x.c[i * x.n + j] += static_cast<float>(i * 1000 + j);
                        },
                        &t};
  simd::gemm<TA, TB>(M, N, K, a.data(), lda, b.data(), ldb, c.data(), N, pack.data(),
                     pack.data() + simd::gemm_blocking<float>::pack_a_size, e);
  return c;
}
template <bool TA, bool TB>
void same_on_threads(std::size_t M, std::size_t N, std::size_t K) {
  const auto one = product<TA, TB>(1, M, N, K);
  for (std::size_t threads : {2, 3}) {
    const auto many = product<TA, TB>(threads, M, N, K);
    INFO("M " << M << " N " << N << " K " << K << " TA " << TA << " TB " << TB << " threads " << threads);
    CHECK(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0);
  }
}
}  // namespace

TEST_CASE("a GEMM split across threads equals the one-thread GEMM bit for bit", "[threads][gemm]") {
  // Large enough to split (at least two full panels or row tiles and 2^18
  // multiply-adds), with ragged column and row tails, K tails and every
  // transpose. The tall ones split by rows: fewer panels than threads (N =
  // 10 takes the direct path; 20 and 40 are one or two panels of AVX2).
  // Columns after the last full panel are dealt out by rows: 784 and 785
  // columns (a weight gradient's and an input gradient's shapes), and a
  // tail over fewer rows than a tile, which only one thread computes. Tall
  // products (M > 2N) split by rows although they have panels enough.
  // N = 1024: an input gradient's W, rows 4 KB apart, copied panel by panel.
  const std::size_t shapes[][3] = {{64, 256, 784}, {37, 100, 300}, {64, 70, 128}, {131, 97, 65}, {5, 1000, 61},
                                   {1001, 10, 300}, {523, 20, 201}, {777, 40, 129}, {256, 784, 64},
                                   {64, 785, 256}, {4, 177, 300}, {13, 529, 1030}, {700, 100, 300},
                                   {1001, 256, 70}, {64, 1024, 300}};
  for (auto& s : shapes) {
    same_on_threads<false, false>(s[0], s[1], s[2]);
    same_on_threads<false, true>(s[0], s[1], s[2]);
    same_on_threads<true, false>(s[0], s[1], s[2]);
    same_on_threads<true, true>(s[0], s[1], s[2]);
  }
  set_num_threads(0);
}

TEST_CASE("column sums and moments in chunks of rows: within rounding of double sums, identical on any thread count", "[threads][reduce]") {
  // Sizes on both sides of the split threshold, column counts off the SIMD width.
  const std::size_t shapes[][2] = {{50176, 32}, {1003, 37}, {12544, 64}, {7, 5}};
  for (auto& s : shapes) {
    const std::size_t rows = s[0], cols = s[1];
    rng g(rows + cols);
    std::vector<float> x(rows * cols);
    g.fill_normal(std::span<float>(x));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 3 + 2 * x[i] + static_cast<float>(i % cols);
    std::vector<double> want_mean(cols, 0), want_var(cols, 0);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) want_mean[j] += x[i * cols + j];
    for (auto& m : want_mean) m /= static_cast<double>(rows);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) want_var[j] += (x[i * cols + j] - want_mean[j]) * (x[i * cols + j] - want_mean[j]);
    for (auto& v : want_var) v /= static_cast<double>(rows);
    auto moments_on = [&](std::size_t threads) {
      set_num_threads(threads);
      std::vector<float> m(cols), v(cols);
      simd::column_moments(x.data(), rows, cols, m.data(), v.data());
      m.insert(m.end(), v.begin(), v.end());
      return m;
    };
    const auto one = moments_on(1), two = moments_on(2), three = moments_on(3);
    CHECK(std::memcmp(one.data(), two.data(), two.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(one.data(), three.data(), two.size() * sizeof(float)) == 0);
    for (std::size_t j = 0; j < cols; ++j) {
      INFO("rows " << rows << " column " << j);
      CHECK(std::abs(one[j] - want_mean[j]) <= 2e-6 * (1 + std::abs(want_mean[j])));
      CHECK(std::abs(one[cols + j] - want_var[j]) <= 2e-6 * want_var[j]);
    }
    // Inside another parallel loop the sums run on the calling thread alone,
    // with the same result.
    set_num_threads(2);
    std::vector<float> nested(2 * cols);
    pool().run([&](std::size_t t, std::size_t) {
      if (t == 0) simd::column_moments(x.data(), rows, cols, nested.data(), nested.data() + cols);
    });
    CHECK(std::memcmp(nested.data(), one.data(), one.size() * sizeof(float)) == 0);
  }
  set_num_threads(0);
}

namespace {
// Rows [i0, i1) of M operands summed by add_rows_by_columns against a loop
// down the rows of acc, value by value in the same order: bit for bit.
template <std::size_t M>
void same_as_row_loop(std::size_t rows, std::size_t cols, std::size_t i0, std::size_t i1) {
  rng g(rows * 31 + cols * 7 + M);
  std::vector<float> x(M * rows * cols);
  g.fill_normal(std::span<float>(x));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] *= static_cast<float>(1 + i % 13);
  const std::size_t stride = padded<float>(cols);
  aligned_buffer<float> got(M * stride), want(M * stride);
  std::array<float*, M> acc;
  for (std::size_t m = 0; m < M; ++m) {
    acc[m] = got.data() + m * stride;
    for (std::size_t j = 0; j < cols; ++j) acc[m][j] = want.data()[m * stride + j] = 0.25f * static_cast<float>(j % 5);
  }
  simd::add_rows_by_columns<float, M>(i0, i1, cols, acc, [&]<class U>(std::size_t i, std::size_t j, std::array<U, M>& a) {
    for (std::size_t m = 0; m < M; ++m) a[m] = a[m] + simd::load<U>(x.data() + (m * rows + i) * cols + j);
  });
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t i = i0; i < i1; ++i)
      for (std::size_t j = 0; j < cols; ++j) want.data()[m * stride + j] += x[(m * rows + i) * cols + j];
  for (std::size_t m = 0; m < M; ++m) {
    INFO(M << " operands, rows [" << i0 << ", " << i1 << ") of " << rows << ", " << cols << " columns, operand " << m);
    CHECK(std::memcmp(got.data() + m * stride, want.data() + m * stride, cols * sizeof(float)) == 0);
  }
}
}  // namespace

TEST_CASE("column sums held in registers down the rows add in the order of a row-by-row loop", "[threads][reduce]") {
  // Column counts below, at and past a vector, a block (8 / M vectors) and
  // two blocks, with tails; row ranges empty, one row, and inside the operand.
  const std::size_t cols_list[] = {1, 5, simd::width<float>, simd::width<float> + 3, 37, 130, 300};
  for (std::size_t cols : cols_list) {
    for (auto [rows, i0, i1] : {std::array<std::size_t, 3>{7, 0, 7}, {300, 13, 257}, {3, 2, 2}, {9, 4, 5}}) {
      same_as_row_loop<1>(rows, cols, i0, i1);
      same_as_row_loop<2>(rows, cols, i0, i1);
      same_as_row_loop<3>(rows, cols, i0, i1);
      same_as_row_loop<4>(rows, cols, i0, i1);
    }
  }
}

namespace {
using Wide = nn::Sequential<nn::Dense<128, 256>, nn::ReLU, nn::Dense<256, 10>>;

struct trained {
  std::vector<double> losses;
  std::vector<float> weights;
};

template <class Optimizer>
trained train_on(std::size_t threads, Optimizer opt) {
  set_num_threads(threads);
  rng g(4);
  const std::size_t n = 300;
  std::vector<float> x(n * 128);
  std::vector<std::int32_t> y(n);
  g.fill_normal(std::span<float>(x));
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<std::int32_t>((x[i * 128] > 0) + 2 * (x[i * 128 + 1] > 0));
  const data::Dataset<std::int32_t> ds(n, 128, 1, x, y, "synthetic");
  Wide net{init::seed(9)};
  train::Trainer trainer{net, loss::CrossEntropy{}, opt};
  trained out;
  trainer.fit(ds, {.epochs = 3, .batch_size = 64, .shuffle = true, .seed = 2},
              [&](const train::epoch_result& r) { out.losses.push_back(r.loss); });
  const auto f = net.arena().flat();
  out.weights.assign(f.begin(), f.end());
  return out;
}
}  // namespace

TEST_CASE("training on two threads gives one thread's losses and weights exactly", "[threads][train]") {
  static_assert(Wide::parameter_count >= 32768, "large enough for the optimizer pass to split");
  for (int which = 0; which < 2; ++which) {
    auto run = [&](std::size_t threads) {
      return which == 0 ? train_on(threads, optim::Adam{{.lr = 1e-3f}})
                        : train_on(threads, optim::SGD{{.lr = 0.05f, .momentum = 0.9f}});
    };
    const auto one = run(1), two = run(2), again = run(2);
    CHECK(one.losses == two.losses);
    CHECK(two.losses == again.losses);
    CHECK(std::memcmp(one.weights.data(), two.weights.data(), one.weights.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(two.weights.data(), again.weights.data(), two.weights.size() * sizeof(float)) == 0);
    CHECK(one.losses.back() < one.losses.front());
  }
  set_num_threads(0);
}

// A convolution's weight gradient is summed per thread over its blocks of
// pixels and then over threads in thread order: the same for the same
// thread count, bit for bit, and within float rounding of one thread.
TEST_CASE("a CNN trained on 2 threads: bit-identical run after run, one thread's curve within 1e-5", "[threads][conv]") {
  using Cnn = nn::Sequential<nn::Unflatten<3, 16, 16>, nn::Conv2d<3, 32, 3, 1, 1>, nn::BatchNorm2d<32>, nn::ReLU,
                             nn::MaxPool2d<2>, nn::Conv2d<32, 48, 3, 1, 1>, nn::ReLU, nn::Flatten,
                             nn::Dense<48 * 8 * 8, 10>>;
  constexpr std::size_t rows = 48;
  std::vector<float> x(rows * 768);
  rng g(21);
  g.fill_normal(std::span<float>(x));
  std::vector<std::int32_t> y(rows);
  for (std::size_t i = 0; i < rows; ++i) y[i] = static_cast<std::int32_t>((i * 7) % 10);
  auto run = [&](std::size_t threads) {
    set_num_threads(threads);
    Cnn net{init::seed(3)};
    train::Trainer trainer{net, loss::CrossEntropy{}, optim::SGD{{.lr = 0.02f, .momentum = 0.9f}}};
    std::vector<float> losses;
    for (int s = 0; s < 6; ++s) losses.push_back(trainer.step(x.data(), y.data(), rows));
    return losses;
  };
  const auto one = run(1), two = run(2), again = run(2);
  set_num_threads(0);
  CHECK(two == again);
  for (std::size_t s = 0; s < one.size(); ++s) {
    INFO("step " << s << ": 1 thread " << one[s] << ", 2 threads " << two[s]);
    CHECK(std::abs(one[s] - two[s]) <= 1e-5f * std::abs(one[s]));
  }
  CHECK(one.back() < one.front());
}
