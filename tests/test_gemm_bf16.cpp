// Products at bfloat16 precision (set_matmul_precision): the rounding to
// bfloat16, every transpose against a double-precision sum of the rounded
// operands, the same bits on one thread and on two, narrow products left in
// float, and an MLP trained with them. Where the build's target has no
// AVX-512 BF16 the setting must leave every product in float, bit for bit.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ingot/ingot.hpp>
#include <limits>
#include <vector>

using namespace ingot;
using simd::bf16::round_to_bf16;
using simd::bf16::to_float;

namespace {
float from_bits(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

struct product {
  std::vector<float> c;
  std::vector<int> visits;
};

template <bool TA, bool TB>
product multiply(std::size_t M, std::size_t N, std::size_t K, const std::vector<float>& a, const std::vector<float>& b,
                 matmul_precision precision) {
  const matmul_precision_scope scope(precision);
  const std::size_t lda = TA ? M : K, ldb = TB ? K : N;
  product p{std::vector<float>(M * N, -7.f), std::vector<int>(M * N, 0)};
  aligned_buffer<float> pack(simd::gemm_blocking<float>::pack_a_size + simd::gemm_blocking<float>::pack_b_size);
  struct counter {
    std::vector<int>* visits;
    std::size_t n;
  } count{&p.visits, N};
  simd::tile_epilogue epilogue{[](const void* q, std::size_t i0, std::size_t j0, std::size_t rows, std::size_t cols) {
                                 const auto& c = *static_cast<const counter*>(q);
                                 for (std::size_t i = i0; i < i0 + rows; ++i)
                                   for (std::size_t j = j0; j < j0 + cols; ++j) ++(*c.visits)[i * c.n + j];
                               },
                               &count};
  simd::gemm<TA, TB>(M, N, K, a.data(), lda, b.data(), ldb, p.c.data(), N, pack.data(),
                     pack.data() + simd::gemm_blocking<float>::pack_a_size, epilogue);
  return p;
}

template <bool TA, bool TB>
void check_shape(std::size_t M, std::size_t N, std::size_t K) {
  INFO("M " << M << " N " << N << " K " << K << " TA " << TA << " TB " << TB);
  rng g(M * 131 + N * 7 + K);
  std::vector<float> a(M * K), b(K * N);
  g.fill_uniform(std::span<float>(a), -1, 1);
  g.fill_uniform(std::span<float>(b), -1, 1);
  const product bf = multiply<TA, TB>(M, N, K, a, b, matmul_precision::bfloat16);
  const product fl = multiply<TA, TB>(M, N, K, a, b, matmul_precision::float32);
  if constexpr (!bf16_matmul_available) {
    REQUIRE(std::memcmp(bf.c.data(), fl.c.data(), bf.c.size() * sizeof(float)) == 0);
    return;
  }
  const std::size_t lda = TA ? M : K, ldb = TB ? K : N;
  auto rounded = [](float v) { return static_cast<double>(to_float(round_to_bf16(v))); };
  double largest_float_gap = 0;
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t j = 0; j < N; ++j) {
      double sum = 0, magnitude = 0;
      for (std::size_t k = 0; k < K; ++k) {
        const double p = rounded(TA ? a[k * lda + i] : a[i * lda + k]) * rounded(TB ? b[j * ldb + k] : b[k * ldb + j]);
        sum += p;
        magnitude += std::abs(p);
      }
      INFO("at " << i << "," << j);
      REQUIRE(bf.visits[i * N + j] == 1);
      // Float sums of exact products: within a few float roundings of all
      // the terms' magnitude.
      REQUIRE(std::abs(bf.c[i * N + j] - sum) <= 1e-6 * magnitude);
      largest_float_gap = std::max(largest_float_gap, std::abs(fl.c[i * N + j] - sum) / magnitude);
    }
  // The float product is measurably further from the rounded operands' sum:
  // the bfloat16 path really ran.
  CHECK(largest_float_gap > 1e-5);
}

template <bool TA, bool TB>
void all_shapes() {
  // Around the tile (8 x 32), odd K (a zero last pair), K past one block
  // (2048), tall and wide products, and a narrow one (N = 16).
  const std::size_t shapes[][3] = {{1, 16, 1},   {5, 17, 3},     {8, 32, 2},     {13, 33, 29},   {73, 47, 301},
                                   {100, 130, 785}, {9, 40, 2100}, {301, 300, 1100}, {1000, 20, 64}, {40, 600, 7}};
  for (const auto& s : shapes) check_shape<TA, TB>(s[0], s[1], s[2]);
}
}  // namespace

TEST_CASE("round_to_bf16 rounds to nearest even, keeps NaN and infinity, and zeroes denormals", "[gemm][bf16]") {
  CHECK(round_to_bf16(1.0f) == 0x3f80);
  CHECK(round_to_bf16(-2.0f) == 0xc000);
  CHECK(round_to_bf16(from_bits(0x3f808000u)) == 0x3f80);  // a tie: down to the even neighbour
  CHECK(round_to_bf16(from_bits(0x3f818000u)) == 0x3f82);  // a tie: up to the even neighbour
  CHECK(round_to_bf16(from_bits(0x3f808001u)) == 0x3f81);  // just past the tie
  CHECK(round_to_bf16(from_bits(0x3f807fffu)) == 0x3f80);
  CHECK(round_to_bf16(from_bits(0x7f7fffffu)) == 0x7f80);  // the largest float rounds to infinity
  CHECK(round_to_bf16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(round_to_bf16(-std::numeric_limits<float>::infinity()) == 0xff80);
  const std::uint16_t nan = round_to_bf16(from_bits(0x7f800001u));  // a signalling NaN whose payload is all low bits
  CHECK((nan & 0x7f80) == 0x7f80);
  CHECK((nan & 0x007f) != 0);
  CHECK(round_to_bf16(from_bits(0x00000123u)) == 0x0000);
  CHECK(round_to_bf16(from_bits(0x80400000u)) == 0x8000);
  CHECK(to_float(0x3f81) == 1.0f + 1.0f / 128);
}

TEST_CASE("bfloat16 products match the rounded operands' sums, every transpose", "[gemm][bf16]") {
  all_shapes<false, false>();
  all_shapes<false, true>();
  all_shapes<true, false>();
  all_shapes<true, true>();
}

TEST_CASE("bfloat16 products are the same bits on one thread and on two", "[gemm][bf16][threads]") {
  // Tall (split by rows), wide (by columns) and a layer's three products.
  const std::size_t shapes[][3] = {{1000, 40, 64}, {64, 600, 301}, {64, 256, 784}, {256, 784, 64}, {77, 130, 2100}};
  for (const auto& s : shapes) {
    const std::size_t M = s[0], N = s[1], K = s[2];
    rng g(M + N + K);
    std::vector<float> a(M * K), b(K * N);
    g.fill_uniform(std::span<float>(a), -1, 1);
    g.fill_uniform(std::span<float>(b), -1, 1);
    set_num_threads(1);
    const product one = multiply<false, true>(M, N, K, a, b, matmul_precision::bfloat16);
    const product one_t = multiply<true, false>(M, N, K, a, b, matmul_precision::bfloat16);
    set_num_threads(2);
    const product two = multiply<false, true>(M, N, K, a, b, matmul_precision::bfloat16);
    const product two_t = multiply<true, false>(M, N, K, a, b, matmul_precision::bfloat16);
    INFO("M " << M << " N " << N << " K " << K);
    CHECK(std::memcmp(one.c.data(), two.c.data(), one.c.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(one_t.c.data(), two_t.c.data(), one_t.c.size() * sizeof(float)) == 0);
    CHECK(two.visits == std::vector<int>(M * N, 1));
  }
  set_num_threads(0);
}

TEST_CASE("products narrower than 16 columns stay float at bfloat16 precision", "[gemm][bf16]") {
  const std::size_t M = 200, N = 10, K = 128;
  rng g(3);
  std::vector<float> a(M * K), b(K * N);
  g.fill_uniform(std::span<float>(a), -1, 1);
  g.fill_uniform(std::span<float>(b), -1, 1);
  const product bf = multiply<false, true>(M, N, K, a, b, matmul_precision::bfloat16);
  const product fl = multiply<false, true>(M, N, K, a, b, matmul_precision::float32);
  CHECK(std::memcmp(bf.c.data(), fl.c.data(), bf.c.size() * sizeof(float)) == 0);
}

TEST_CASE("matmul_precision_scope sets the precision and restores the previous one", "[gemm][bf16]") {
  REQUIRE(get_matmul_precision() == matmul_precision::float32);
  {
    const matmul_precision_scope scope(matmul_precision::bfloat16);
    CHECK(get_matmul_precision() == matmul_precision::bfloat16);
  }
  CHECK(get_matmul_precision() == matmul_precision::float32);
}

namespace {
using Net = nn::Sequential<nn::Dense<64, 48>, nn::ReLU, nn::Dense<48, 32>, nn::ReLU, nn::Dense<32, 4>>;

std::vector<double> train_losses(matmul_precision precision) {
  const matmul_precision_scope scope(precision);
  rng g(5);
  const std::size_t n = 256;
  std::vector<float> x(n * 64);
  std::vector<std::int32_t> y(n);
  g.fill_normal(std::span<float>(x));
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<std::int32_t>((x[i * 64] > 0) + 2 * (x[i * 64 + 1] > 0));
  Net net{init::seed(2)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 3e-3f}}};
  std::vector<double> losses;
  for (int epoch = 0; epoch < 8; ++epoch)
    for (std::size_t first = 0; first < n; first += 64) losses.push_back(trainer.step(x.data() + first * 64, y.data() + first, 64));
  return losses;
}
}  // namespace

TEST_CASE("an MLP trained with bfloat16 products follows the float run closely", "[gemm][bf16][train]") {
  const auto fl = train_losses(matmul_precision::float32);
  const auto bf = train_losses(matmul_precision::bfloat16);
  REQUIRE(bf.size() == fl.size());
  double largest = 0;
  for (std::size_t s = 0; s < fl.size(); ++s) largest = std::max(largest, std::abs(bf[s] - fl[s]) / fl[s]);
  INFO("largest relative difference of a step's loss " << largest);
  CHECK(largest < 0.03);
  CHECK(bf.back() < 0.75 * bf.front());
  if constexpr (bf16_matmul_available) CHECK(largest > 0);
  else CHECK(largest == 0);
}
