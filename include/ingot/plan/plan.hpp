#pragma once
// The executor: a loop over a constexpr table of steps, over buffers
// preallocated for a maximum batch. Each step is a descriptor (the slots it
// reads and writes, its shapes) and a pointer to the function that runs its
// structure: one fused SIMD pass of an element-wise node, a kernel's
// run(ctx), a kernel carrying the pass as its epilogue, or joined nodes of
// one kernel in one loop (run_joined). It knows no node
// by name: everything a node does is in its own header. No tape, no virtual
// calls, no allocation after construction.
//
// Step functions are compiled per structure (skeleton, kernel kind), not per
// node, so a deep model of repeated layers compiles a handful of them.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "ingot/core/aligned.hpp"
#include "ingot/core/thread_pool.hpp"
#include "ingot/expr/grad.hpp"
#include "ingot/plan/context.hpp"
#include "ingot/plan/fused.hpp"
#include "ingot/plan/schedule.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::plan {

// In a root list: a root that the caller always writes to its own memory
// (bind_output), so the plan keeps no buffer for it.
template <class Root>
struct bound_output {};

namespace detail {
[[noreturn]] inline void unbound_leaf(std::string_view name) {
  throw std::logic_error("ingot: leaf '" + std::string(name) + "' is not bound");
}
[[noreturn]] inline void unbound_output() {
  throw std::logic_error("ingot: an output of this plan is written to memory given by bind_output, and none was given");
}

// A kernel's run, called out of line: every node of the same kernel (and
// the same kind of operand) shares one compiled copy.
template <auto Run, class Ctx>
INGOT_SHARED_CODE void call_kernel(const Ctx& ctx) {
  Run(ctx);
}

template <class R>
struct root_of {
  using type = R;
  static constexpr bool bound = false;
};
template <class R>
struct root_of<bound_output<R>> {
  using type = R;
  static constexpr bool bound = true;
};
template <class List>
struct split_roots;
template <class... R>
struct split_roots<type_list<R...>> {
  using type = type_list<typename root_of<R>::type...>;
  static constexpr std::array<bool, sizeof...(R)> bound = {root_of<R>::bound...};
};
}  // namespace detail

// The plan of the roots named by RootsDescriptor::type (a type_list whose
// entries may be wrapped in bound_output). Every member function is a
// template of the plan's type, so a descriptor with a short name (the
// trainer declares its own) keeps symbol names short.
template <class T, class RootsDescriptor>
class basic_plan {
  using split = detail::split_roots<typename RootsDescriptor::type>;

 public:
  using value_type = T;
  using roots = typename split::type;
  using graph_type = expr::graph<roots>;
  static constexpr std::size_t num_nodes = graph_type::size;
  static constexpr std::size_t num_roots = roots::size;

 private:
  using G = graph_type;
  using S = schedule<G, T, split::bound>;
  static constexpr const auto& sched = S::table;
  static constexpr std::size_t num_slots = S::num_slots;
  template <std::size_t K>
  using node = expr::node_t<G, K>;
  template <std::size_t K>
  static constexpr const expr::node_props& props = G::props(K);
  // Slot of node K's value. Every table lookup below goes through a
  // constexpr value like this one, so that no table is needed at run time.
  template <std::size_t K>
  static constexpr std::size_t slot_of = sched.slot[K];

  // The layout of the slots, copied out of the schedule so that the run-time
  // loops below index small arrays of this class.
  static constexpr std::array<slot_kind, num_slots> slot_kinds = [] {
    std::array<slot_kind, num_slots> a{};
    for (std::size_t s = 0; s < num_slots; ++s) a[s] = sched.slots[s].kind;
    return a;
  }();
  static constexpr std::array<std::size_t, num_slots> slot_offsets = [] {
    std::array<std::size_t, num_slots> a{};
    for (std::size_t s = 0; s < num_slots; ++s) a[s] = sched.slots[s].offset;
    return a;
  }();
  static constexpr std::array<std::size_t, num_roots> root_node = G::table.root;
  static constexpr std::array<std::size_t, num_roots> first_root = [] {
    std::array<std::size_t, num_roots> a{};
    for (std::size_t r = 0; r < num_roots; ++r) {
      a[r] = r;
      for (std::size_t q = 0; q < r; ++q)
        if (G::table.root[q] == G::table.root[r]) {
          a[r] = q;
          break;
        }
    }
    return a;
  }();

  // The ids the run-time loops visit, so that only nodes with work to do
  // instantiate code: the steps that run a loop, and the leaves to check.
  template <class Pred>
  static constexpr std::size_t count_ids(Pred pred) {
    std::size_t c = 0;
    for (std::size_t k = 0; k < num_nodes; ++k) c += pred(k);
    return c;
  }
  template <std::size_t Count, class Pred>
  static constexpr std::array<std::size_t, Count> ids(Pred pred) {
    std::array<std::size_t, Count> a{};
    std::size_t c = 0;
    for (std::size_t k = 0; k < num_nodes; ++k)
      if (pred(k)) a[c++] = k;
    return a;
  }
  static constexpr auto is_step = [](std::size_t k) { return sched.executes[k]; };
  static constexpr auto is_bound_leaf = [](std::size_t k) {
    return G::props(k).cat == expr::category::leaf && G::props(k).kind == expr::leaf_kind::bound;
  };
  static constexpr auto is_batch_checked = [](std::size_t k) { return G::props(k).checks_batch; };
  static constexpr auto steps = ids<count_ids(is_step)>(is_step);
  static constexpr auto batch_checked = ids<count_ids(is_batch_checked)>(is_batch_checked);
  // The slots of bound leaves with the leaves' names, and the slots a
  // caller must bind with bind_output, checked by one loop each per run.
  static constexpr auto bound_leaves = ids<count_ids(is_bound_leaf)>(is_bound_leaf);
  static constexpr auto root_slots = [] {
    std::array<std::size_t, num_roots> a{};
    for (std::size_t r = 0; r < num_roots; ++r) a[r] = sched.slot[G::table.root[r]];
    return a;
  }();
  static constexpr auto bound_leaf_slots = [] {
    std::array<std::size_t, bound_leaves.size()> a{};
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = sched.slot[bound_leaves[i]];
    return a;
  }();
  static constexpr auto bound_leaf_names = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<std::string_view, sizeof...(I)>{node<bound_leaves[I]>::name.view()...};
  }(std::make_index_sequence<bound_leaves.size()>{});
  static constexpr std::size_t count_bound_roots() {
    std::size_t c = 0;
    for (std::size_t s = 0; s < num_slots; ++s) c += sched.slots[s].kind == slot_kind::root;
    return c;
  }
  static constexpr auto bound_root_slots = [] {
    std::array<std::size_t, count_bound_roots()> a{};
    std::size_t c = 0;
    for (std::size_t s = 0; s < num_slots; ++s)
      if (sched.slots[s].kind == slot_kind::root) a[c++] = s;
    return a;
  }();

  template <std::size_t R>
  static constexpr bool root_has_storage() {
    return sched.slot[root_node[R]] != no_node;
  }
  static_assert([]<std::size_t... R>(std::index_sequence<R...>) {
    return (root_has_storage<R>() && ...);
  }(std::make_index_sequence<num_roots>{}), "ingot: a plan's root must be a value with storage, not a constant");

 public:
  explicit basic_plan(std::size_t max_batch) : capacity_(max_batch), stride_(padded<T>(max_batch)) {
    if (max_batch == 0) throw std::invalid_argument("ingot: a plan needs a batch capacity of at least 1");
    constexpr std::size_t row_units = sched.row_units, fixed = sched.fixed_elements;
    const std::size_t rows_region = row_units * stride_;
    const std::size_t scratch =
        [&]<std::size_t... I>(std::index_sequence<I...>) {
          std::size_t m = 0;
          ((m = std::max(m, structure_of<steps[I]>::kind::template scratch_size<T>(max_batch))), ...);
          return m;
        }(std::make_index_sequence<steps.size()>{});
    workspace_ = aligned_buffer<T>(rows_region + fixed + scratch);
    T* base = workspace_.data();
    for (std::size_t s = 0; s < num_slots; ++s) {
      if (slot_kinds[s] == slot_kind::rows) slot_ptr_[s] = base + slot_offsets[s] * stride_;
      else if (slot_kinds[s] == slot_kind::fixed) slot_ptr_[s] = base + rows_region + slot_offsets[s];
      else slot_ptr_[s] = nullptr;
    }
    scratch_ = scratch ? base + rows_region + fixed : nullptr;
    out_.fill(nullptr);
  }

  std::size_t capacity() const { return capacity_; }
  // Elements of T the plan holds (buffers and scratch), for a look at reuse.
  std::size_t workspace_size() const { return workspace_.size(); }
  // Per-row units of the batched buffers, packed by liveness and as a sum.
  static constexpr std::size_t packed_row_units = sched.row_units;
  static constexpr std::size_t unpacked_row_units = sched.unpacked_row_units;
  static constexpr std::size_t packed_fixed_elements = sched.fixed_elements;
  static constexpr std::size_t unpacked_fixed_elements = sched.unpacked_fixed_elements;

  // Points a parameter, data, state or random leaf at row-major values;
  // labels at int32s. Leaves the roots do not depend on are ignored.
  template <expr::node Leaf>
  void bind(const T* values) {
    static_assert(expr::is_leaf_v<Leaf> && !expr::is_labels_v<Leaf> && Leaf::kind == expr::leaf_kind::bound,
                  "ingot: bind takes a parameter, data, state or random leaf (labels take int32 values)");
    if constexpr (G::template contains<Leaf>) slot_ptr_[slot_of<G::template id_of<Leaf>>] = const_cast<T*>(values);
  }
  template <expr::node Leaf>
  void bind(const std::int32_t* labels) {
    static_assert(expr::is_labels_v<Leaf>, "ingot: int32 values bind to a labels leaf");
    if constexpr (G::template contains<Leaf>) slot_ptr_[slot_of<G::template id_of<Leaf>>] = const_cast<std::int32_t*>(labels);
  }
  template <expr::node Leaf>
  void bind(Leaf, const T* values) { bind<Leaf>(values); }
  template <expr::node Leaf>
  void bind(Leaf, const std::int32_t* labels) { bind<Leaf>(labels); }

  // Every leaf of the given role whose name is in Arena (a parameter or a
  // state arena) is pointed at the arena's values of that name. The names
  // are matched at compile time; the binding is one loop.
  template <expr::leaf_role Role, class Arena>
  void bind_by_name(Arena& arena) {
    static constexpr auto pairs = match_names<Role, Arena>();
    for (const auto& [slot, index] : pairs) slot_ptr_[slot] = arena.value_at(index);
  }

  // Root R is written to dst (e.g. a slot of a gradient arena) instead of
  // the plan's own buffer.
  template <std::size_t R>
  void bind_output(T* dst) {
    bind_output(R, dst);
  }
  void bind_output(std::size_t r, T* dst) {
    out_[r] = dst;
    if (first_root[r] == r) slot_ptr_[root_slots[r]] = dst;
  }

  // Root R's values after run (rows x cols of its shape, row-major).
  template <std::size_t R>
  const T* output() const {
    if constexpr (first_root[R] != R) {
      if (out_[R]) return out_[R];
    }
    return static_cast<const T*>(slot_ptr_[slot_of<root_node[R]>]);
  }

  void run(std::size_t batch_size) {
    run(batch_size, [](std::size_t) {});
  }
  // The same, calling after_step(i) after step i of num_steps: with
  // root_ready_step, a caller can use a finished gradient (start its
  // all-reduce) while the steps that follow compute the others.
  template <class AfterStep>
  void run(std::size_t batch_size, AfterStep&& after_step) {
    if (batch_size == 0 || batch_size > capacity_)
      throw std::invalid_argument("ingot: batch of " + std::to_string(batch_size) + " rows; this plan takes 1 to " +
                                  std::to_string(capacity_));
    batch_ = batch_size;
    for (std::size_t i = 0; i < bound_leaf_slots.size(); ++i)
      if (!slot_ptr_[bound_leaf_slots[i]]) detail::unbound_leaf(bound_leaf_names[i]);
    for (std::size_t s : bound_root_slots)
      if (!slot_ptr_[s]) detail::unbound_output();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (node<batch_checked[I]>::check_batch(batch_), ...);
    }(std::make_index_sequence<batch_checked.size()>{});
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((scalars_[I] = static_cast<T>(node<scalar_ids[I]>::value(batch_))), ...);
    }(std::make_index_sequence<scalar_ids.size()>{});
    static constexpr auto fns = step_fns(std::make_index_sequence<steps.size()>{});
    for (std::size_t i = 0; i < fns.size(); ++i) {
      fns[i](*this, tables.desc[i]);
      after_step(i);
    }
    [&]<std::size_t... R>(std::index_sequence<R...>) { (copy_output<R>(), ...); }(std::make_index_sequence<num_roots>{});
  }

  // What the schedule decided, for tests and for a look at the plan.
  template <expr::node N>
  static constexpr bool is_materialized() { return sched.materialized[G::template id_of<N>]; }
  template <expr::node N>
  static constexpr bool is_epilogue_fused() { return sched.fused_into[G::template id_of<N>] != no_node; }
  // Whether N's kernel runs inside the loop of another node of its kind.
  template <expr::node N>
  static constexpr bool is_joined() { return sched.joined_into[G::template id_of<N>] != no_node; }
  // Whether N, an element-wise node, reads all its values at one flat index
  // (one contiguous run, in vectors, whatever the row length).
  template <expr::node N>
  static constexpr bool reads_flat() { return sched.flat[G::template id_of<N>]; }
  // How many kernels run an element-wise pass as their epilogue.
  static constexpr std::size_t num_epilogues() {
    return count_ids([](std::size_t k) { return sched.fused_into[k] != no_node; });
  }
  template <expr::node N>
  static constexpr bool has_output(std::size_t o) { return sched.out_slot[G::template id_of<N>][o] != no_node; }

 private:
  template <std::size_t R>
  void copy_output() {
    if constexpr (first_root[R] != R) {
      const T* src = static_cast<const T*>(slot_ptr_[slot_of<root_node[R]>]);
      if (out_[R] && out_[R] != src)
        std::memcpy(out_[R], src, node<root_node[R]>::shape::size(batch_) * sizeof(T));
    }
  }

  // (slot, arena index) of every bound leaf of the role named in Arena.
  template <expr::leaf_role Role, class Arena>
  static constexpr auto match_names() {
    constexpr auto count = [] {
      std::size_t c = 0;
      for (std::size_t i = 0; i < bound_leaves.size(); ++i)
        if (G::props(bound_leaves[i]).role == Role && Arena::index_of_name(bound_leaf_names[i]) != no_node) ++c;
      return c;
    }();
    std::array<std::pair<std::size_t, std::size_t>, count> out{};
    std::size_t c = 0;
    for (std::size_t i = 0; i < bound_leaves.size(); ++i) {
      if (G::props(bound_leaves[i]).role != Role) continue;
      const std::size_t index = Arena::index_of_name(bound_leaf_names[i]);
      if (index != no_node) out[c++] = {bound_leaf_slots[i], index};
    }
    return out;
  }

  // Fused trees. A tree is rooted at an element-wise pass (or at the
  // operand a kernel computes in its own loop); its inputs are the values
  // it reads from memory and the scalars computed at run time, numbered in
  // pre-order; everything else in it is computed on the spot.
  static constexpr bool is_scalar_leaf(std::size_t k) {
    const auto& p = G::props(k);
    return p.cat == expr::category::leaf && p.kind == expr::leaf_kind::scalar;
  }
  static constexpr bool is_input(std::size_t k) { return sched.slot[k] != no_node || is_scalar_leaf(k); }
  static constexpr std::size_t count_inputs(std::size_t k, bool expand) {
    if (!expand && is_input(k)) return 1;
    std::size_t n = 0;
    for (std::size_t c = 0; c < G::props(k).arity; ++c) n += count_inputs(G::child(k, c), false);
    return n;
  }

  static constexpr read_mode mode_of(std::size_t k, std::size_t rows, std::size_t cols) {
    const auto& p = G::props(k);
    if (is_scalar_leaf(k)) return read_mode::value;
    if (p.rows_ct == 1 && p.cols == 1) return read_mode::scalar;
    if (p.rows_ct == rows && p.cols == cols) return read_mode::full;
    return p.rows_ct == 1 ? read_mode::row : read_mode::column;
  }

  // Where the inputs of node K's operands start, given K's own start.
  static constexpr std::array<std::size_t, expr::max_arity> child_bases(std::size_t k, std::size_t base) {
    std::array<std::size_t, expr::max_arity> b{};
    for (std::size_t c = 0; c < G::props(k).arity; ++c) {
      b[c] = base;
      base += count_inputs(G::child(k, c), false);
    }
    return b;
  }

  // The skeleton (see fused.hpp) of node K inside a tree whose output has
  // shape Rows x Cols, its inputs numbered from Base. Class templates only:
  // computing a type this way instantiates no function.
  template <std::size_t K, std::size_t Base, std::size_t Rows, std::size_t Cols, bool Expand = false,
            bool Input = !Expand && is_input(K), class Seq = std::make_index_sequence<props<K>.arity>>
  struct skeleton {
    using type = sk_input<Base, mode_of(K, Rows, Cols)>;
  };
  template <std::size_t K, std::size_t Base, std::size_t Rows, std::size_t Cols, bool Expand, std::size_t... C>
  struct skeleton<K, Base, Rows, Cols, Expand, false, std::index_sequence<C...>> {
    static constexpr auto base = child_bases(K, Base);
    using op = typename node<K>::op;
    using type = std::conditional_t<props<K>.indexed, sk_indexed<op, base[C]...>,
                                    sk_op<op, typename skeleton<G::child(K, C), base[C], Rows, Cols>::type...>>;
  };
  template <std::size_t K, bool Expand>
  using tree_skeleton = typename skeleton<K, 0, props<K>.rows_ct, props<K>.cols, Expand>::type;

  // The steps as data. Each step is a descriptor (slots, shapes, the range
  // of its tree inputs) and a pointer to the function that runs its
  // structure: nodes with the same skeleton and kernel kind share that
  // function, so a deep model compiles a handful of step functions, not one
  // per node, and run() is a loop over a table.
  struct input_ref {
    std::size_t slot = no_node;    // the buffer it reads, or
    std::size_t scalar = no_node;  // its entry in the run's scalars
  };
  struct tree_ref {
    std::size_t first = 0, count = 0;  // range in step_inputs
  };
  struct step_desc {
    tree_ref pass{};  // an element-wise step: its tree, output, shape
    std::size_t out_slot = no_node, rows_ct = 0, cols = 0;
    std::size_t kernel_rows_ct = 0;  // the kernel (the step's own, or the pass's host)
    std::array<std::size_t, expr::max_arity> operand_slot{}, operand_rows{}, operand_cols{};
    std::array<std::size_t, expr::max_outputs> output_slot{}, output_cols{};
    std::size_t arity = 0, outputs = 0;
    tree_ref lazy{};  // the kernel's operand 0 when computed in the kernel's loop
    std::size_t lazy_cols = 0;
    std::size_t joined_first = 0, joined_count = 0;  // range in the joined kernels' descriptors
  };

  static constexpr auto is_scalar_id = [](std::size_t k) { return is_scalar_leaf(k); };
  static constexpr auto scalar_ids = ids<count_ids(is_scalar_id)>(is_scalar_id);
  static constexpr std::size_t scalar_index(std::size_t k) {
    for (std::size_t i = 0; i < scalar_ids.size(); ++i)
      if (scalar_ids[i] == k) return i;
    return no_node;
  }
  // The kernel a step runs: its own node, the host of its pass, or none.
  static constexpr std::size_t kernel_of(std::size_t k) {
    return G::props(k).cat == expr::category::kernel ? k : sched.host[k];
  }
  static constexpr bool kernel_is_lazy(std::size_t k) { return !G::props(k).traits.operands_in_memory; }
  // The kernels run in kernel H's loop besides H, in step order.
  static constexpr std::size_t joined_id(std::size_t h, std::size_t i) {
    return sched.join_members[sched.join_begin[h] + i];
  }
  static constexpr std::size_t total_joined = count_ids([](std::size_t k) { return sched.joined_into[k] != no_node; });
  static constexpr std::size_t total_inputs = [] {
    std::size_t n = 0;
    for (std::size_t k = 0; k < num_nodes; ++k) {
      if (!sched.executes[k] && sched.joined_into[k] == no_node) continue;
      if (G::props(k).cat == expr::category::elementwise) n += count_inputs(k, true);
      const std::size_t h = kernel_of(k);
      if (h != no_node && kernel_is_lazy(h)) n += count_inputs(G::child(h, 0), false);
    }
    return n;
  }();
  struct step_tables {
    std::array<step_desc, steps.size()> desc{};
    std::array<step_desc, total_joined + 1> joined{};
    std::array<input_ref, total_inputs + 1> inputs{};
    std::size_t max_tree_inputs = 0;
  };
  static constexpr step_tables make_step_tables() {
    step_tables t{};
    std::size_t n = 0;
    auto add_tree = [&](std::size_t root, bool expand) {
      const tree_ref r{n, count_inputs(root, expand)};
      auto visit = [&](auto& self, std::size_t k, bool whole) -> void {
        if (!whole && is_input(k)) {
          t.inputs[n++] = is_scalar_leaf(k) ? input_ref{no_node, scalar_index(k)} : input_ref{sched.slot[k], no_node};
          return;
        }
        for (std::size_t c = 0; c < G::props(k).arity; ++c) self(self, G::child(k, c), false);
      };
      visit(visit, root, expand);
      t.max_tree_inputs = std::max(t.max_tree_inputs, r.count);
      return r;
    };
    std::size_t joined = 0;
    auto describe_kernel = [&](step_desc& d, std::size_t h) {
      const auto& p = G::props(h);
      d.kernel_rows_ct = p.rows_ct;
      d.arity = p.arity;
      d.outputs = p.outputs;
      for (std::size_t c = 0; c < p.arity; ++c) {
        const std::size_t ch = G::child(h, c);
        d.operand_slot[c] = sched.slot[ch];
        d.operand_rows[c] = G::props(ch).rows_ct;
        d.operand_cols[c] = G::props(ch).cols;
      }
      for (std::size_t o = 0; o < p.outputs; ++o) {
        d.output_slot[o] = sched.out_slot[h][o];
        d.output_cols[o] = p.out_cols[o];
      }
      if (kernel_is_lazy(h)) {
        d.lazy = add_tree(G::child(h, 0), false);
        d.lazy_cols = G::props(G::child(h, 0)).cols;
      }
    };
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::size_t k = steps[i];
      step_desc& d = t.desc[i];
      if (G::props(k).cat == expr::category::elementwise) {
        d.pass = add_tree(k, true);
        d.out_slot = sched.slot[k];
        d.rows_ct = G::props(k).rows_ct;
        d.cols = G::props(k).cols;
      }
      const std::size_t h = kernel_of(k);
      if (h == no_node) continue;
      d.joined_first = joined;
      d.joined_count = sched.join_count[h];
      for (std::size_t m = 0; m < d.joined_count; ++m) describe_kernel(t.joined[joined++], joined_id(h, m));
      describe_kernel(d, h);
    }
    return t;
  }
  static constexpr step_tables tables = make_step_tables();

 public:
  static constexpr std::size_t num_steps = steps.size();
  // The step after which root R holds its final value: the last step that
  // writes its slot. A root that repeats another, or that no step writes,
  // counts as ready after the last step.
  static constexpr std::array<std::size_t, num_roots> root_ready_step = [] {
    std::array<std::size_t, num_roots> a{};
    for (std::size_t r = 0; r < num_roots; ++r) {
      const std::size_t last = steps.size() ? steps.size() - 1 : 0;
      bool found = false;
      for (std::size_t i = 0; i < steps.size() && first_root[r] == r; ++i) {
        const step_desc& d = tables.desc[i];
        bool writes = d.out_slot == root_slots[r];
        for (std::size_t o = 0; o < d.outputs; ++o) writes = writes || d.output_slot[o] == root_slots[r];
        for (std::size_t j = d.joined_first; j < d.joined_first + d.joined_count; ++j)
          for (std::size_t o = 0; o < tables.joined[j].outputs; ++o)
            writes = writes || tables.joined[j].output_slot[o] == root_slots[r];
        if (writes) {
          a[r] = i;
          found = true;
        }
      }
      if (!found) a[r] = last;
    }
    return a;
  }();

 private:
  static_assert([] {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::size_t h = kernel_of(steps[i]);
      if (h == no_node) continue;
      if (kernel_is_lazy(h) && G::props(h).arity != 1) return false;
      if (!kernel_is_lazy(h))
        for (std::size_t c = 0; c < G::props(h).arity; ++c)
          if (tables.desc[i].operand_slot[c] == no_node) return false;
    }
    return true;
  }(), "ingot: internal error, a kernel operand without storage (or a lazy kernel with several operands)");

  // What a step function is compiled for: the skeleton of its pass (void for
  // a kernel step), its kernel kind (void for a pass alone), how the kernel
  // reads operand 0 (a skeleton, or void when it is in memory) and how the
  // kernels joined into its loop read theirs (a type_list of joined_operand).
  template <class Lazy, bool Flat>
  struct joined_operand {};
  template <class Pass, class Kind, class Lazy, bool LazyFlat, bool PassFlat, class Joined = type_list<>>
  struct step_structure {};
  struct no_kernel {
    template <class>
    static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  };
  static constexpr bool reads_flat(std::size_t k) {
    return sched.slot[k] != no_node || (G::props(k).cat == expr::category::elementwise && sched.flat[k]);
  }

  // The skeleton of a tree, or void: std::conditional_t would compute both.
  template <std::size_t K, bool Expand, bool Use>
  struct skeleton_or_void {
    using type = void;
  };
  template <std::size_t K, bool Expand>
  struct skeleton_or_void<K, Expand, true> {
    using type = tree_skeleton<K, Expand>;
  };
  template <std::size_t K, std::size_t H = kernel_of(K)>
  struct structure_of {
    using kind = no_kernel;
    using type = step_structure<tree_skeleton<K, true>, void, void, false, sched.flat[K]>;
  };
  template <std::size_t H>
  struct lazy_operand {
    static constexpr bool lazy = kernel_is_lazy(H);
    using skeleton = typename skeleton_or_void<G::child(H, 0), false, lazy>::type;
    static constexpr bool flat = lazy && reads_flat(G::child(H, 0));
  };
  template <std::size_t H, class Seq = std::make_index_sequence<sched.join_count[H]>>
  struct joined_of;
  template <std::size_t H, std::size_t... I>
  struct joined_of<H, std::index_sequence<I...>> {
    using type = type_list<joined_operand<typename lazy_operand<joined_id(H, I)>::skeleton,
                                          lazy_operand<joined_id(H, I)>::flat>...>;
  };
  template <std::size_t K, std::size_t H>
    requires(H != no_node)
  struct structure_of<K, H> {
    using kind = typename node<H>::kind;
    using pass = typename skeleton_or_void<K, true, K != H>::type;
    using type = step_structure<pass, kind, typename lazy_operand<H>::skeleton, lazy_operand<H>::flat, false,
                                typename joined_of<H>::type>;
  };

  // The run-time inputs of a tree: its buffers and scalars.
  template <std::size_t N>
  struct tree_inputs {
    std::array<const void*, N> in{};
    std::array<T, N> values{};
  };
  static constexpr std::size_t tree_capacity = tables.max_tree_inputs > 0 ? tables.max_tree_inputs : 1;
  INGOT_STEP_GLUE void gather(tree_ref r, tree_inputs<tree_capacity>& t) const {
    for (std::size_t i = 0; i < r.count; ++i) {
      const input_ref& x = tables.inputs[r.first + i];
      if (x.slot != no_node) t.in[i] = slot_ptr_[x.slot];
      else t.values[i] = scalars_[x.scalar];
    }
  }
  INGOT_STEP_GLUE std::size_t rows_of(std::size_t rows_ct) const { return rows_at(rows_ct, batch_); }

  // Node d's kernel context; a lazy operand's inputs go to lazy_in, which
  // must outlive the context.
  template <class Lazy, bool LazyFlat>
  INGOT_STEP_GLUE kernel_context<T, Lazy, LazyFlat> context(const step_desc& d,
                                                             tree_inputs<tree_capacity>& lazy_in) const {
    kernel_context<T, Lazy, LazyFlat> ctx;
    ctx.batch_rows = batch_;
    ctx.last_row = rows_of(d.kernel_rows_ct);
    for (std::size_t i = 0; i < d.arity; ++i) {
      ctx.operands[i] = d.operand_slot[i] == no_node ? nullptr : slot_ptr_[d.operand_slot[i]];
      ctx.operand_rows[i] = rows_of(d.operand_rows[i]);
      ctx.operand_cols[i] = d.operand_cols[i];
    }
    for (std::size_t o = 0; o < d.outputs; ++o) {
      ctx.outputs[o] = d.output_slot[o] == no_node ? nullptr : static_cast<T*>(slot_ptr_[d.output_slot[o]]);
      ctx.output_cols[o] = d.output_cols[o];
    }
    ctx.scratch_memory = scratch_;
    if constexpr (!std::is_void_v<Lazy>) {
      gather(d.lazy, lazy_in);
      ctx.lazy_args = pass_args<T>{lazy_in.in.data(), lazy_in.values.data(), nullptr, d.lazy_cols};
    }
    return ctx;
  }
  template <class Kind, class Lazy, bool LazyFlat>
  INGOT_STEP_GLUE void run_kernel(const step_desc& d, const simd::tile_epilogue& tile) const {
    tree_inputs<tree_capacity> lazy_in;
    auto ctx = context<Lazy, LazyFlat>(d, lazy_in);
    ctx.tile = tile;
    Kind::run(ctx);
  }
  // Node d's kernel and the kernels joined into its loop, in one run.
  template <class Kind, class Lazy, bool LazyFlat, class... JLazy, bool... JFlat>
  INGOT_STEP_GLUE void run_joined(const step_desc& d, type_list<joined_operand<JLazy, JFlat>...>) const {
    std::array<tree_inputs<tree_capacity>, sizeof...(JLazy) + 1> in;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      Kind::run_joined(context<JLazy, JFlat>(tables.joined[d.joined_first + I], in[I])...,
                       context<Lazy, LazyFlat>(d, in[sizeof...(I)]));
    }(std::index_sequence_for<JLazy...>{});
  }

  // One step: a fused pass (with the kernel it carries as its epilogue
  // host, if any), or a kernel.
  template <class Structure>
  struct step_runner;
  template <class Pass, class Kind, class Lazy, bool LazyFlat, bool PassFlat, class Joined>
  struct step_runner<step_structure<Pass, Kind, Lazy, LazyFlat, PassFlat, Joined>> {
    INGOT_SHARED_CODE static void run(const basic_plan& plan, const step_desc& d) {
      if constexpr (Joined::size > 0) {
        static_assert(std::is_void_v<Pass>, "ingot: internal error, a joined kernel hosting an epilogue");
        plan.template run_joined<Kind, Lazy, LazyFlat>(d, Joined{});
      } else if constexpr (std::is_void_v<Pass>) {
        plan.template run_kernel<Kind, Lazy, LazyFlat>(d, simd::tile_epilogue{});
      } else {
        using pass = fused_pass<Pass, T>;
        tree_inputs<tree_capacity> in;
        plan.gather(d.pass, in);
        const pass_args<T> a{in.in.data(), in.values.data(), static_cast<T*>(plan.slot_ptr_[d.out_slot]), d.cols};
        if constexpr (!std::is_void_v<Kind>)
          plan.template run_kernel<Kind, Lazy, LazyFlat>(d, simd::tile_epilogue{&pass::tile, &a});
        else
          run_pass<pass, PassFlat>(a, plan.rows_of(d.rows_ct), d.cols);
      }
    }
  };
  // An element-wise pass alone: large ones are split across the pool's
  // threads in static shares (whole cache lines of a flat run, or whole
  // rows). Every value is computed by the same expression whatever the
  // split, so results do not depend on the thread count.
  static constexpr std::size_t parallel_pass_min_values = std::size_t{1} << 15;
  template <class Pass, bool Flat>
  static void run_pass(const pass_args<T>& a, std::size_t rows, std::size_t cols) {
    const std::size_t n = rows * cols;
    thread_pool& threads = pool();
    if (n < parallel_pass_min_values || threads.size() == 1) {
      if constexpr (Flat) Pass::flat_range(a, 0, n);
      else Pass::rows(a, 0, rows, 0, cols);
      return;
    }
    threads.run([&](std::size_t t, std::size_t parts) {
      if constexpr (Flat) {
        const thread_range r = share(n, t, parts, cache_line / sizeof(T));
        if (r.begin < r.end) Pass::flat_range(a, r.begin, r.end);
      } else {
        const thread_range r = share(rows, t, parts);
        if (r.begin < r.end) Pass::rows(a, r.begin, r.end, 0, cols);
      }
    });
  }
  using step_fn = void (*)(const basic_plan&, const step_desc&);
  static constexpr auto step_fns = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<step_fn, sizeof...(I)>{&step_runner<typename structure_of<steps[I]>::type>::run...};
  };

  std::size_t capacity_;
  std::size_t stride_;  // rows per unit of the batched region (capacity, padded to a cache line)
  std::size_t batch_ = 0;
  aligned_buffer<T> workspace_;
  std::array<void*, num_slots> slot_ptr_{};
  std::array<T*, num_roots> out_{};
  std::array<T, scalar_ids.size()> scalars_{};
  T* scratch_ = nullptr;
};

template <class... Roots>
struct roots_list {
  using type = type_list<Roots...>;
};

}  // namespace ingot::plan

namespace ingot::expr {
// plan<T, Loss, Grad...>: the plan of the given root expressions.
template <class T, node... Roots>
using plan = ingot::plan::basic_plan<T, ingot::plan::roots_list<Roots...>>;
}  // namespace ingot::expr
