// The packed GEMM against a plain triple loop, for every transpose
// combination and sizes around the register tile (6 x 16) and the cache
// blocks (KC 256, MC 72, NC 512), none of them multiples of the SIMD width.
#include <catch2/catch.hpp>
#include <cmath>
#include <ingot/ingot.hpp>
#include <vector>

using namespace ingot;

namespace {
// The tests that compare one product path with another run on one thread:
// on several, a split by columns gives each thread a narrower product,
// which can take another path than the whole product would (the threads
// test checks that splits agree with one thread).
struct one_thread {
  one_thread() { set_num_threads(1); }
  ~one_thread() { set_num_threads(0); }
};

template <bool TA, bool TB, class T>
void check_gemm(std::size_t M, std::size_t N, std::size_t K) {
  rng g(M * 131 + N * 7 + K);
  // Stored shapes: A is M x K (K x M when TA), B is K x N (N x K when TB).
  const std::size_t lda = TA ? M : K, ldb = TB ? K : N;
  std::vector<T> a(M * K), b(K * N), c(M * N, T(-7));
  g.fill_uniform(std::span<T>(a), -1, 1);
  g.fill_uniform(std::span<T>(b), -1, 1);
  aligned_buffer<T> pack(simd::gemm_blocking<T>::pack_a_size + simd::gemm_blocking<T>::pack_b_size);
  std::vector<int> visits(M * N, 0);
  struct counter {
    std::vector<int>* visits;
    std::size_t n;
  } count{&visits, N};
  simd::tile_epilogue epilogue{[](const void* p, std::size_t i0, std::size_t j0, std::size_t rows, std::size_t cols) {
                                 const auto& c = *static_cast<const counter*>(p);
                                 for (std::size_t i = i0; i < i0 + rows; ++i)
                                   for (std::size_t j = j0; j < j0 + cols; ++j) ++(*c.visits)[i * c.n + j];
                               },
                               &count};
  simd::gemm<TA, TB>(M, N, K, a.data(), lda, b.data(), ldb, c.data(), N, pack.data(),
                     pack.data() + simd::gemm_blocking<T>::pack_a_size, epilogue);
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t j = 0; j < N; ++j) {
      double ref = 0;
      for (std::size_t k = 0; k < K; ++k) {
        const double av = TA ? a[k * lda + i] : a[i * lda + k];
        const double bv = TB ? b[j * ldb + k] : b[k * ldb + j];
        ref += av * bv;
      }
      INFO("M " << M << " N " << N << " K " << K << " TA " << TA << " TB " << TB << " at " << i << "," << j);
      REQUIRE(std::abs(c[i * N + j] - ref) <= 1e-5 * std::sqrt(static_cast<double>(K)) + 1e-6);
      REQUIRE(visits[i * N + j] == 1);  // the epilogue sees every element once
    }
}

template <class T>
void all_shapes() {
  // Narrower than one register tile (N < NR: the direct path) and wider.
  const std::size_t shapes[][3] = {{1, 1, 1},     {5, 7, 3},     {6, 16, 8},   {13, 17, 29},  {73, 33, 300},
                                   {100, 530, 7}, {7, 1, 513},   {1, 10, 100}, {100, 1, 10},  {64, 10, 128},
                                   {9, 31, 17},   {70, 33, 1},   {13, 64, 20},  {5, 96, 263},
                                   {131, 10, 37}, {67, 20, 3},   {200, 5, 16}, {66, 17, 15},
                                   // A small batch against a wider weight (the forward product runs as
                                   // C^T = W X^T): K past one block, partial tiles both ways, MC crossed.
                                   {17, 40, 300}, {64, 100, 37}, {96, 97, 5}, {16, 17, 1}, {33, 530, 257},
                                   // More rows than 4 MC with K past one block: K is one block of
                                   // chains, and B's columns are split in blocks that hold all of K.
                                   {301, 300, 1100},
                                   // B's rows 4 KB apart or more: an input gradient's W read panel by
                                   // panel through the packed buffer, K past one block, N past NC.
                                   {70, 1024, 300}};
  for (auto& s : shapes) {
    check_gemm<false, false, T>(s[0], s[1], s[2]);
    check_gemm<false, true, T>(s[0], s[1], s[2]);
    check_gemm<true, false, T>(s[0], s[1], s[2]);
    check_gemm<true, true, T>(s[0], s[1], s[2]);
  }
}
}  // namespace

TEST_CASE("gemm matches the triple loop in float", "[gemm]") { all_shapes<float>(); }
TEST_CASE("gemm matches the triple loop in double", "[gemm]") { all_shapes<double>(); }

TEST_CASE("gemm with K = 0 gives zeros and still runs the epilogue", "[gemm]") {
  std::vector<float> c(12, 5.0f);
  aligned_buffer<float> pack(simd::gemm_blocking<float>::pack_a_size + simd::gemm_blocking<float>::pack_b_size);
  int tiles = 0;
  const simd::tile_epilogue count_tiles{
      [](const void* p, std::size_t, std::size_t, std::size_t, std::size_t) { ++*static_cast<int*>(const_cast<void*>(p)); },
      &tiles};
  simd::gemm<false, false>(3, 4, 0, static_cast<const float*>(nullptr), 0, static_cast<const float*>(nullptr), 4,
                           c.data(), 4, pack.data(), pack.data() + simd::gemm_blocking<float>::pack_a_size, count_tiles);
  for (float v : c) CHECK(v == 0.0f);
  CHECK(tiles == 1);
}

TEST_CASE("a narrow product's rows do not depend on how many rows are computed together", "[gemm]") {
  const one_thread single;
  // The direct path sums sixteen rows at a time (AVX-512), then four, then
  // the rest one by one; each row must come out bit for bit the same either
  // way (a prediction must not depend on its batch size). K shorter than a
  // vector, one vector, a vector and a tail, several; one output column
  // (stored as a vector) and three (stored with a stride).
  for (std::size_t N : {1, 3})
    for (std::size_t K : {1, 5, 10, 16, 21, 33, 100}) {
      constexpr std::size_t M = 37;
      rng g(5 + K * 17 + N);
      std::vector<float> a(M * K), b(N * K), all(M * N), one(N);
      g.fill_uniform(std::span<float>(a), -1, 1);
      g.fill_uniform(std::span<float>(b), -1, 1);
      aligned_buffer<float> pack(simd::gemm_blocking<float>::pack_a_size + simd::gemm_blocking<float>::pack_b_size);
      float* pb = pack.data() + simd::gemm_blocking<float>::pack_a_size;
      simd::gemm<false, true>(M, N, K, a.data(), K, b.data(), K, all.data(), N, pack.data(), pb);
      for (std::size_t i = 0; i < M; ++i) {
        simd::gemm<false, true>(1, N, K, a.data() + i * K, K, b.data(), K, one.data(), N, pack.data(), pb);
        for (std::size_t j = 0; j < N; ++j) {
          INFO("N " << N << " K " << K << " row " << i << " column " << j);
          REQUIRE(one[j] == all[i * N + j]);
        }
      }
    }
}

TEST_CASE("a forward product's rows do not depend on the batch size", "[gemm]") {
  const one_thread single;
  // Up to 96 rows, Y = X W^T is computed as C^T = W X^T; above, directly.
  // Each row of Y must come out bit for bit the same either way, with K
  // past one block (partial sums added to C) and the epilogue applied once.
  // Both take a K of up to 8 x 256 as one block (chains of 256 summed in
  // registers); K = 1500 also splits the 200 columns into two blocks of
  // packed B. K = 2900 is longer than the longest K block, so partial sums
  // also go through Y.
  constexpr std::size_t N = 200, Big = 101;
  for (std::size_t K : {300, 1500, 2900}) {
    rng g(11);
    std::vector<float> x(Big * K), w(N * K);
    g.fill_uniform(std::span<float>(x), -1, 1);
    g.fill_uniform(std::span<float>(w), -1, 1);
    aligned_buffer<float> pack(simd::gemm_blocking<float>::pack_a_size + simd::gemm_blocking<float>::pack_b_size);
    float* pb = pack.data() + simd::gemm_blocking<float>::pack_a_size;
    struct relu {
      float* c;
      std::size_t ldc;
    };
    auto product = [&](std::size_t rows) {
      std::vector<float> y(rows * N, -3.0f);
      relu r{y.data(), N};
      const simd::tile_epilogue epilogue{
          [](const void* p, std::size_t i0, std::size_t j0, std::size_t m, std::size_t n) {
            const auto& e = *static_cast<const relu*>(p);
            for (std::size_t i = i0; i < i0 + m; ++i)
              for (std::size_t j = j0; j < j0 + n; ++j) e.c[i * e.ldc + j] = std::max(e.c[i * e.ldc + j], 0.0f) + 1.0f;
          },
          &r};
      simd::gemm<false, true>(rows, N, K, x.data(), K, w.data(), K, y.data(), N, pack.data(), pb, epilogue);
      return y;
    };
    const std::vector<float> all = product(Big);
    for (std::size_t rows : {16, 17, 64, 96}) {
      const std::vector<float> part = product(rows);
      for (std::size_t i = 0; i < rows * N; ++i) {
        INFO("K " << K << ", " << rows << " rows, element " << i);
        REQUIRE(part[i] == all[i]);
      }
    }
  }
}

TEST_CASE("an input-gradient product's rows do not depend on the batch size", "[gemm]") {
  const one_thread single;
  // dX = dY W with W row-major: up to 4 x 72 rows W is read in place panel
  // by panel, above it is packed. Each row must come out bit for bit the
  // same either way, with K past one block (partial sums added to C), N past
  // one block of columns and a last panel narrower than NR (packed either
  // way), and the epilogue applied once per element. With N = 1024 (rows 4
  // KB apart) the panels read in place are copied to the packed buffer
  // one by one first.
  constexpr std::size_t Big = 300;
  const std::size_t width = simd::gemm_blocking<float>::NR;
  for (const auto& [N, K] :
       {std::pair<std::size_t, std::size_t>{3 * width + 5, 300}, {530, 40}, {2 * width, 600}, {1024, 300}}) {
    rng g(12);
    std::vector<float> dy(Big * K), w(K * N);
    g.fill_uniform(std::span<float>(dy), -1, 1);
    g.fill_uniform(std::span<float>(w), -1, 1);
    aligned_buffer<float> pack(simd::gemm_blocking<float>::pack_a_size + simd::gemm_blocking<float>::pack_b_size);
    float* pb = pack.data() + simd::gemm_blocking<float>::pack_a_size;
    struct scale {
      float* c;
      std::size_t ldc;
    };
    auto product = [&](std::size_t rows) {
      std::vector<float> dx(rows * N, -3.0f);
      scale e{dx.data(), N};
      const simd::tile_epilogue epilogue{
          [](const void* p, std::size_t i0, std::size_t j0, std::size_t m, std::size_t n) {
            const auto& s = *static_cast<const scale*>(p);
            for (std::size_t i = i0; i < i0 + m; ++i)
              for (std::size_t j = j0; j < j0 + n; ++j) s.c[i * s.ldc + j] = s.c[i * s.ldc + j] * 0.5f - 1.0f;
          },
          &e};
      simd::gemm<false, false>(rows, N, K, dy.data(), K, w.data(), N, dx.data(), N, pack.data(), pb, epilogue);
      return dx;
    };
    const std::vector<float> all = product(Big);
    for (std::size_t rows : {1, 7, 64, 97, 288}) {
      const std::vector<float> part = product(rows);
      for (std::size_t i = 0; i < rows * N; ++i) {
        INFO("N " << N << ", K " << K << ", " << rows << " rows, element " << i);
        REQUIRE(part[i] == all[i]);
      }
    }
  }
}

namespace {
// C = op(A) op(B) over the first m rows and n columns of the stored A
// (Mfull x K, or K x Mfull when TA) and B (K x Nfull, or Nfull x K when TB).
template <bool TA, bool TB>
std::vector<float> leading_product(const std::vector<float>& a, const std::vector<float>& b, std::size_t Mfull,
                                   std::size_t Nfull, std::size_t K, std::size_t m, std::size_t n) {
  aligned_buffer<float> pack(simd::gemm_blocking<float>::pack_a_size + simd::gemm_blocking<float>::pack_b_size);
  std::vector<float> c(m * n, -5.0f);
  simd::gemm<TA, TB>(m, n, K, a.data(), TA ? Mfull : K, b.data(), TB ? K : Nfull, c.data(), n, pack.data(),
                     pack.data() + simd::gemm_blocking<float>::pack_a_size);
  return c;
}

template <bool TA, bool TB>
void check_tile_rows(std::size_t Mfull, std::size_t Nfull, std::size_t K, std::initializer_list<std::size_t> ms,
                     std::initializer_list<std::size_t> ns) {
  rng g(Mfull * 3 + Nfull * 5 + K);
  std::vector<float> a(Mfull * K), b(K * Nfull);
  g.fill_uniform(std::span<float>(a), -1, 1);
  g.fill_uniform(std::span<float>(b), -1, 1);
  const std::vector<float> full = leading_product<TA, TB>(a, b, Mfull, Nfull, K, Mfull, Nfull);
  auto compare = [&](std::size_t m, std::size_t n) {
    const std::vector<float> part = leading_product<TA, TB>(a, b, Mfull, Nfull, K, m, n);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        INFO("TA " << TA << " TB " << TB << ", " << m << " x " << n << " of " << Mfull << " x " << Nfull << ", K "
                   << K << ", at " << i << "," << j);
        REQUIRE(part[i * n + j] == full[i * Nfull + j]);
      }
  };
  for (std::size_t m : ms) compare(m, Nfull);
  for (std::size_t n : ns) compare(Mfull, n);
}
}  // namespace

TEST_CASE("a register tile of fewer than six rows gives each row the bits of a full tile", "[gemm]") {
  const one_thread single;
  // A tile of 1-5 rows runs only its own rows' multiply-adds; each element
  // must still be the full tile's chain over k. Products of 1-6 and 61-66
  // rows (tiles of every height at the end) against the first rows of a
  // larger product, on every kernel path.
  // Y = X W^T at a small batch runs as C^T = W X^T: its tiles are rows of
  // W, so the columns vary (41-46 columns, 40 rows).
  check_tile_rows<false, true>(40, 60, 300, {}, {41, 42, 43, 44, 45, 46});
  // Above 96 rows, X is read in place against a packed W^T, K = 300 one
  // block of two chains.
  check_tile_rows<false, true>(110, 40, 300, {97, 98, 99, 100, 101, 102}, {});
  // Weight gradient dY^T X: a packed A, zero-padded to six rows.
  check_tile_rows<true, false>(72, 40, 64, {1, 2, 3, 4, 5, 6, 61, 62, 63, 64, 65, 66}, {});
  check_tile_rows<true, true>(72, 40, 64, {1, 2, 3, 4, 5, 61, 62, 63, 64, 65}, {});
  // Input gradient dY W: W read in place up to 4 MC rows, packed above.
  check_tile_rows<false, false>(72, 64, 128, {1, 2, 3, 4, 5, 6, 61, 62, 63, 64, 65, 66}, {});
  check_tile_rows<false, false>(300, 64, 128, {289, 290, 291, 292, 293, 294}, {});
}
