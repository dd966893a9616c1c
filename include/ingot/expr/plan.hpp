#pragma once
// A plan turns a set of root expressions (a loss and its gradients, or a
// model's output) into straight-line code over preallocated buffers.
//
// At compile time it decides, per node:
//  - leaves read data bound from outside (parameters, a mini-batch);
//  - kernels (matmul, sums, softmax) get a buffer and run their own loop;
//  - an element-wise node is fused into the loop of its single consumer,
//    unless it is a root, is used more than once, or feeds a kernel that
//    needs memory; then it gets a buffer and one SIMD pass computes it and
//    every fused node below it;
//  - a matmul whose single consumer chain ends in such a pass with the same
//    shape (bias + activation) runs that pass as its GEMM epilogue, tile by
//    tile, writing into the same buffer.
// At run time it walks the nodes in order: no tape, no virtual calls, no
// allocation (buffers are sized once, for a maximum batch).
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ingot/core/aligned.hpp"
#include "ingot/expr/grad.hpp"
#include "ingot/simd/gemm.hpp"
#include "ingot/simd/rows.hpp"

namespace ingot::expr {

namespace detail {
template <class List>
struct topo_of_list;
template <class... Roots>
struct topo_of_list<type_list<Roots...>> {
  using type = topo_order_t<Roots...>;
};
}  // namespace detail

// The roots of a plan, named by a descriptor type whose ::type is a
// type_list of root expressions. Every member function of the plan is a
// template of the plan's type, so a descriptor with a short name (the
// trainer declares its own) keeps symbol names, and the compiler's work
// on them, from growing with the whole graph.
template <class T, class RootsDescriptor>
class basic_plan {
 public:
  using value_type = T;
  using roots = typename RootsDescriptor::type;
  using order = typename detail::topo_of_list<roots>::type;
  static constexpr std::size_t num_nodes = order::size;
  static constexpr std::size_t num_roots = roots::size;

 private:
  using graph = graph_table<order>;
  static constexpr std::size_t none = graph::none;
  template <class N>
  static constexpr std::size_t idx = node_index<N, order>;

  // Per node, by position in order:
  //  materialized  kernels, roots, nodes used twice and operands of kernels
  //                that need memory get a buffer; other element-wise nodes
  //                are fused into their single user's pass;
  //  fuse_target   the materialised element-wise node whose pass computes
  //                this node (following single users up);
  //  epilogue      for such a pass, the first matmul of its own shape fused
  //                into it: the GEMM runs the pass on each finished tile;
  //  partner       a softmax and a cross-entropy of the same logits (the
  //                loss and its gradient) are one kernel, run at whichever
  //                comes first: one pass gives the loss and the probabilities.
  struct decisions {
    std::array<bool, num_nodes> root{}, materialized{}, fused_matmul{};
    std::array<std::size_t, num_nodes> fuse_target{}, epilogue{}, partner{};
  };
  static constexpr decisions decide() {
    decisions d{};
    const auto& t = graph::table;
    [&]<class... R>(type_list<R...>) { ((d.root[idx<R>] = true), ...); }(roots{});
    for (std::size_t k = 0; k < num_nodes; ++k) {
      const auto& i = t.info[k];
      d.materialized[k] = i.cat == category::kernel ||
                          (i.cat == category::elementwise &&
                           (d.root[k] || graph::use_count(k) > 1 || t.memory_consumer[k]));
      d.epilogue[k] = none;
      d.partner[k] = none;
    }
    for (std::size_t k = 0; k < num_nodes; ++k)
      for (std::size_t j = 0; j < num_nodes; ++j)
        if (t.info[k].softmax && t.info[j].xent && t.info[k].operand0 == t.info[j].operand0) {
          d.partner[k] = j;
          d.partner[j] = k;
        }
    for (std::size_t k = num_nodes; k-- > 0;) {  // users come after their operands
      d.fuse_target[k] = none;
      if (graph::use_count(k) != 1 || d.root[k]) continue;
      const std::size_t u = t.edges[t.first_use[k]].user;
      if (t.info[u].cat == category::elementwise) d.fuse_target[k] = d.materialized[u] ? u : d.fuse_target[u];
    }
    for (std::size_t k = 0; k < num_nodes; ++k) {
      const std::size_t e = d.fuse_target[k];
      if (!t.info[k].matmul || e == none || d.epilogue[e] != none) continue;
      if (t.info[k].rows != t.info[e].rows || t.info[k].cols != t.info[e].cols) continue;
      d.epilogue[e] = k;
      d.fused_matmul[k] = true;
    }
    return d;
  }
  static constexpr decisions decided = decide();

  template <class N>
  static constexpr bool materialized = decided.materialized[idx<N>];
  template <class N>
  static constexpr bool fused_matmul = decided.fused_matmul[idx<N>];
  template <class N>
  using fuse_target = type_at_t<decided.fuse_target[idx<N>], order>;

  // The combined softmax + cross-entropy kernel runs at the first of the two.
  template <class N>
  static constexpr bool runs_combined = decided.partner[idx<N>] != none && decided.partner[idx<N>] > idx<N>;
  template <class N>
  static constexpr bool done_by_partner = decided.partner[idx<N>] != none && decided.partner[idx<N>] < idx<N>;

  template <class N>
  static constexpr bool bound_leaf = is_param_v<N> || is_data_v<N> || is_labels_v<N>;

  template <class N>
  static constexpr bool has_storage = materialized<N> || is_param_v<N> || is_data_v<N>;

  // A pass is flat when every value it reads has its shape (or is a
  // scalar constant): then rows x cols is one contiguous run.
  template <class Root, class N>
  static constexpr bool flat_operand() {
    if constexpr (is_constant_v<N> || is_inv_count_v<N>) return true;
    else if constexpr (!std::is_same_v<typename N::shape, typename Root::shape>) return false;
    else if constexpr (has_storage<N>) return true;
    else if constexpr (is_onehot_v<N> || N::cat != category::elementwise) return false;
    else return []<class... C>(type_list<C...>) { return (flat_operand<Root, C>() && ...); }(children_t<N>{});
  }
  template <class N>
  static constexpr bool flat_pass = []<class... C>(type_list<C...>) {
    return !is_onehot_v<N> && (flat_operand<N, C>() && ...);
  }(children_t<N>{});

  static constexpr bool any_matmul = []<class... N>(type_list<N...>) { return (is_matmul<N>::value || ...); }(order{});

 public:
  explicit basic_plan(std::size_t max_batch) : capacity_(max_batch) {
    if (max_batch == 0) throw std::invalid_argument("ingot: a plan needs a batch capacity of at least 1");
    std::size_t total = 0;
    std::array<std::size_t, num_nodes> offset{};
    for_each_node([&]<class N>() {
      if constexpr (materialized<N> && !fused_matmul<N>) {
        offset[idx<N>] = total;
        total += padded<T>(N::shape::size(max_batch));
      }
    });
    if constexpr (any_matmul) total += simd::gemm_blocking<T>::pack_a_size + simd::gemm_blocking<T>::pack_b_size;
    workspace_ = aligned_buffer<T>(total);
    ptr_.fill(nullptr);
    for_each_node([&]<class N>() {
      if constexpr (materialized<N> && !fused_matmul<N>) ptr_[idx<N>] = workspace_.data() + offset[idx<N>];
    });
    if constexpr (any_matmul) {
      pack_a_ = workspace_.data() + total - simd::gemm_blocking<T>::pack_a_size - simd::gemm_blocking<T>::pack_b_size;
      pack_b_ = pack_a_ + simd::gemm_blocking<T>::pack_a_size;
    }
    out_.fill(nullptr);
  }

  std::size_t capacity() const { return capacity_; }

  // Points a parameter or data leaf at row-major values; labels at int32s.
  // Leaves the roots do not depend on are ignored.
  template <node Leaf>
  void bind(const T* values) {
    static_assert(is_param_v<Leaf> || is_data_v<Leaf>, "ingot: bind takes a parameter or data leaf");
    if constexpr (contains_v<Leaf, order>) ptr_[idx<Leaf>] = const_cast<T*>(values);
  }
  template <node Leaf>
  void bind(const std::int32_t* labels) {
    static_assert(is_labels_v<Leaf>, "ingot: int32 values bind to a labels leaf");
    if constexpr (contains_v<Leaf, order>) ptr_[idx<Leaf>] = const_cast<std::int32_t*>(labels);
  }
  template <node Leaf>
  void bind(Leaf, const T* values) { bind<Leaf>(values); }
  template <node Leaf>
  void bind(Leaf, const std::int32_t* labels) { bind<Leaf>(labels); }

  // Root R is written to dst (e.g. a slot of a gradient arena) instead of
  // the plan's own buffer.
  template <std::size_t R>
  void bind_output(T* dst) {
    using N = type_at_t<R, roots>;
    out_[R] = dst;
    if (first_root_of<N>() == R) ptr_[idx<N>] = dst;
  }

  // Root R's values after run (rows x cols of its shape, row-major).
  template <std::size_t R>
  const T* output() const {
    return static_cast<const T*>(ptr_[idx<type_at_t<R, roots>>]);
  }

  void run(std::size_t batch_size) {
    if (batch_size == 0 || batch_size > capacity_)
      throw std::invalid_argument("ingot: batch of " + std::to_string(batch_size) + " rows; this plan takes 1 to " +
                                  std::to_string(capacity_));
    batch_ = batch_size;
    for_each_node([&]<class N>() {
      if constexpr (bound_leaf<N>) {
        if (!ptr_[idx<N>]) throw std::logic_error("ingot: leaf '" + std::string(N::name.view()) + "' is not bound");
      }
      if constexpr (fused_matmul<N>) ptr_[idx<N>] = ptr_[idx<fuse_target<N>>];
    });
    for_each_node([&]<class N>() { exec<N>(); });
    copy_duplicate_outputs(std::make_index_sequence<num_roots>{});
  }

  template <node N>
  static constexpr bool is_materialized() { return materialized<N>; }
  template <node N>
  static constexpr bool is_epilogue_fused() { return fused_matmul<N>; }
  // True for a softmax or cross-entropy node computed by the combined kernel.
  template <node N>
  static constexpr bool is_combined_softmax_xent() { return decided.partner[idx<N>] != none; }

 private:
  template <class F>
  static void for_each_node(F&& f) {
    [&]<class... N>(type_list<N...>) { (f.template operator()<N>(), ...); }(order{});
  }

  template <class N>
  static constexpr std::size_t first_root_of() {
    return index_in_v<N, roots>;
  }

  template <std::size_t... R>
  void copy_duplicate_outputs(std::index_sequence<R...>) {
    (copy_output<R>(), ...);
  }
  template <std::size_t R>
  void copy_output() {
    using N = type_at_t<R, roots>;
    if constexpr (first_root_of<N>() != R) {
      if (out_[R] && out_[R] != ptr_[idx<N>])
        std::memcpy(out_[R], ptr_[idx<N>], N::shape::size(batch_) * sizeof(T));
    }
  }

  template <class N>
  T* data() const {
    return static_cast<T*>(ptr_[idx<N>]);
  }

  // The value of N at (i, j) of its consumer's index space, as V (a batch of
  // columns j.. or one scalar). Broadcast dimensions read row 0 / column 0.
  template <class N, class V, bool Flat>
  V load(std::size_t i, std::size_t j) const {
    if constexpr (is_constant_v<N>) {
      return V(static_cast<T>(N::value));
    } else if constexpr (is_inv_count_v<N>) {
      return V(static_cast<T>(N::value(batch_)));
    } else if constexpr (has_storage<N>) {
      const T* p = data<N>();
      if constexpr (Flat) {
        return simd::load<V>(p + j);
      } else {
        const std::size_t r = N::shape::rows_ct == 1 ? 0 : i;
        if constexpr (N::shape::cols == 1) return V(p[r]);
        else return simd::load<V>(p + r * N::shape::cols + j);
      }
    } else {
      return compute<N, V, Flat>(i, j);
    }
  }

  // N's own formula applied to its operands' values at (i, j).
  template <class N, class V, bool Flat>
  V compute(std::size_t i, std::size_t j) const {
    if constexpr (is_onehot_v<N>) {
      using L = type_at_t<0, children_t<N>>;
      return simd::onehot_row<V>(j, static_cast<const std::int32_t*>(ptr_[idx<L>])[i]);
    } else {
      return [&]<class... C>(type_list<C...>) { return N::op::apply(load<C, V, Flat>(i, j)...); }(children_t<N>{});
    }
  }

  // One SIMD pass writing N over rows [r0, r1) and columns [c0, c1).
  template <class N>
  void pass(std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
    using V = simd::vec<T>;
    constexpr std::size_t W = simd::width<T>;
    constexpr std::size_t C = N::shape::cols;
    T* out = data<N>();
    for (std::size_t i = r0; i < r1; ++i) {
      std::size_t j = c0;
      for (; j + W <= c1; j += W) simd::store(out + i * C + j, compute<N, V, false>(i, j));
      for (; j < c1; ++j) out[i * C + j] = compute<N, T, false>(i, j);
    }
  }

  template <class N>
  void full_pass() {
    if constexpr (flat_pass<N>) {
      using V = simd::vec<T>;
      constexpr std::size_t W = simd::width<T>;
      const std::size_t n = N::shape::size(batch_);
      T* out = data<N>();
      std::size_t k = 0;
      for (; k + W <= n; k += W) simd::store(out + k, compute<N, V, true>(0, k));
      for (; k < n; ++k) out[k] = compute<N, T, true>(0, k);
    } else {
      pass<N>(0, N::shape::rows(batch_), 0, N::shape::cols);
    }
  }

  template <class M, class Epilogue>
  void run_matmul(Epilogue&& epilogue) {
    using A = type_at_t<0, children_t<M>>;
    using B = type_at_t<1, children_t<M>>;
    const std::size_t rows = M::shape::rows(batch_);
    const std::size_t k = M::trans_a ? A::shape::rows(batch_) : A::shape::cols;
    simd::gemm<M::trans_a, M::trans_b>(rows, M::shape::cols, k, data<A>(), A::shape::cols, data<B>(),
                                       B::shape::cols, data<M>(), M::shape::cols, pack_a_, pack_b_, epilogue);
  }

  template <class N>
  void reduce() {
    using A = type_at_t<0, children_t<N>>;
    using V = simd::vec<T>;
    constexpr std::size_t W = simd::width<T>;
    constexpr std::size_t C = A::shape::cols;
    const std::size_t rows = A::shape::rows(batch_);
    T* out = data<N>();
    if constexpr (N::axis == -1) {
      constexpr bool flat = has_storage<A> || (A::cat == category::elementwise && flat_pass<A>);
      const std::size_t n = flat ? rows * C : C;
      V acc(T(0));
      T tail = 0;
      for (std::size_t i = 0; i < (flat ? 1 : rows); ++i) {
        std::size_t j = 0;
        for (; j + W <= n; j += W) acc += load<A, V, flat>(i, j);
        for (; j < n; ++j) tail += load<A, T, flat>(i, j);
      }
      out[0] = simd::hsum(acc) + tail;
    } else if constexpr (N::axis == 0) {
      for (std::size_t j = 0; j < C; ++j) out[j] = T(0);
      for (std::size_t i = 0; i < rows; ++i) {
        std::size_t j = 0;
        for (; j + W <= C; j += W) simd::store(out + j, simd::load<V>(out + j) + load<A, V, false>(i, j));
        for (; j < C; ++j) out[j] += load<A, T, false>(i, j);
      }
    } else {
      for (std::size_t i = 0; i < rows; ++i) {
        V acc(T(0));
        T tail = 0;
        std::size_t j = 0;
        for (; j + W <= C; j += W) acc += load<A, V, false>(i, j);
        for (; j < C; ++j) tail += load<A, T, false>(i, j);
        out[i] = simd::hsum(acc) + tail;
      }
    }
  }

  template <class N>
  void exec() {
    if constexpr (N::cat == category::leaf || !materialized<N>) {
      return;
    } else if constexpr (N::cat == category::elementwise) {
      if constexpr (decided.epilogue[idx<N>] != none) {
        using M = type_at_t<decided.epilogue[idx<N>], order>;
        run_matmul<M>([this](std::size_t i0, std::size_t j0, std::size_t mr, std::size_t nr) {
          pass<N>(i0, i0 + mr, j0, j0 + nr);
        });
      } else {
        full_pass<N>();
      }
    } else if constexpr (is_matmul<N>::value) {
      if constexpr (!fused_matmul<N>) run_matmul<N>(simd::no_epilogue{});
    } else if constexpr (is_sum<N>::value) {
      reduce<N>();
    } else {
      using A = type_at_t<0, children_t<N>>;
      const std::size_t rows = A::shape::rows(batch_);
      if constexpr (done_by_partner<N>) {
        return;
      } else if constexpr (runs_combined<N>) {
        using P = type_at_t<decided.partner[idx<N>], order>;
        using Xent = std::conditional_t<is_xent<N>::value, N, P>;
        using Softmax = std::conditional_t<is_xent<N>::value, P, N>;
        using L = type_at_t<1, children_t<Xent>>;
        simd::softmax_xent_rows(data<A>(), static_cast<const std::int32_t*>(ptr_[idx<L>]), data<Xent>(), rows,
                                A::shape::cols, data<Softmax>());
      } else if constexpr (is_softmax<N>::value) {
        simd::softmax_rows(data<A>(), data<N>(), rows, A::shape::cols);
      } else if constexpr (is_log_softmax<N>::value) {
        simd::log_softmax_rows(data<A>(), data<N>(), rows, A::shape::cols);
      } else {
        static_assert(is_xent<N>::value, "ingot: internal error, a kernel without an evaluator");
        using L = type_at_t<1, children_t<N>>;
        simd::softmax_xent_rows(data<A>(), static_cast<const std::int32_t*>(ptr_[idx<L>]), data<N>(), rows,
                                A::shape::cols, static_cast<T*>(nullptr));
      }
    }
  }

  std::size_t capacity_;
  std::size_t batch_ = 0;
  aligned_buffer<T> workspace_;
  std::array<void*, num_nodes> ptr_{};
  std::array<T*, num_roots> out_{};
  T* pack_a_ = nullptr;
  T* pack_b_ = nullptr;
};

template <node... Roots>
struct roots_list {
  using type = type_list<Roots...>;
};

// plan<T, Loss, Grad...>: the plan of the given root expressions.
template <class T, node... Roots>
using plan = basic_plan<T, roots_list<Roots...>>;

}  // namespace ingot::expr
