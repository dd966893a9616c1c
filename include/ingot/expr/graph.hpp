#pragma once
// The graph of an expression, worked out at compile time: every distinct
// node reachable from a set of roots, each with an integer id, in an order
// where operands come before their users, and how each node is used.
//
// How it stays cheap for deep models. Each node type gets one constexpr
// record (rec_of<N>), instantiated once however often the node is reached:
// its properties, a structural hash and pointers to its operands' records.
// The depth-first walk that orders the graph and removes duplicates then
// runs as ordinary constexpr code over those records (a hash set of record
// pointers), not as template recursion over growing type lists. It yields
// plain tables of ids (operands, users, roots) that the reverse-mode pass,
// the schedule and the executor read. A node's type is recovered from its
// id by one step from the node that discovered it (its parent's operand
// list), never by searching the list of all nodes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "ingot/core/type_list.hpp"
#include "ingot/expr/elementwise.hpp"
#include "ingot/expr/named.hpp"
#include "ingot/expr/outputs.hpp"

namespace ingot::expr {

// A node's operands, as a type_list.
template <class N>
using children_t = typename N::children;

inline constexpr std::size_t no_node = static_cast<std::size_t>(-1);
inline constexpr std::size_t max_outputs = 4;

// What the schedule and the executor need to know of a node, as values.
struct node_props {
  category cat{};
  std::size_t rows_ct = 0, cols = 0;  // shape of the node's value (output 0)
  std::size_t arity = 0;
  // leaves
  leaf_kind kind = leaf_kind::bound;
  leaf_role role = leaf_role::none;
  bool int_values = false;    // int32 storage (labels)
  bool checks_batch = false;  // has check_batch(batch)
  // element-wise
  bool indexed = false;  // the op reads its operands' storage by (row, col)
  bool cheap = false;    // the op is a few instructions (op_cheap)
  // kernels
  kernel_traits traits{};
  std::size_t outputs = 1;
  std::array<std::size_t, max_outputs> out_rows{}, out_cols{};
  std::array<bool, max_outputs> out_optional{};
  // outputs of multi-output kernels
  std::size_t output_index = 0;
  // what tells nodes of the same shape apart: a kernel's kind, an op, a leaf
  std::uint64_t kind_hash = 0;

  constexpr bool batched() const { return is_batched(rows_ct); }
};

inline constexpr std::size_t max_arity = 4;

struct node_rec {
  std::array<const node_rec*, max_arity> children;
  std::size_t arity;
  std::uint64_t hash;
  node_props props;
};

namespace detail {
constexpr std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

// A node's properties, read through class templates whose members are
// integral constants. A node's record (rec_of below) is the only object
// made per node: every further object or function instantiated with an
// expression type costs the compiler a long symbol name, which is what
// made compile time grow steeply with depth.
// The hash of a short type's name: what tells apart nodes of the same
// shape and operands (tanh and relu of x, a sum over rows or columns).
template <class Kind>
constexpr std::uint64_t kind_name_hash() {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : std::string_view(__PRETTY_FUNCTION__)) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

struct kind_defaults {
  static constexpr leaf_kind kind = leaf_kind::bound;
  static constexpr leaf_role role = leaf_role::none;
  static constexpr bool int_values = false, checks_batch = false, indexed = false, cheap = false;
  static constexpr std::size_t output_index = 0;
};
template <class N, category Cat = N::cat>
struct kind_props;
// A leaf's type is short (its name, shape and role): it is its own kind.
template <class N>
struct kind_props<N, category::leaf> : kind_defaults {
  static constexpr leaf_kind kind = N::kind;
  static constexpr leaf_role role = N::role;
  static constexpr bool int_values = [] {
    if constexpr (requires { typename N::element; }) return std::is_integral_v<typename N::element>;
    else return false;
  }();
  static constexpr bool checks_batch = requires { N::check_batch(std::size_t{}); };
  static constexpr std::uint64_t kind_hash = kind_name_hash<N>();
};
template <class N>
struct kind_props<N, category::elementwise> : kind_defaults {
  static constexpr bool indexed = op_indexed<typename N::op>;
  static constexpr bool cheap = op_cheap<typename N::op>;
  static constexpr std::uint64_t kind_hash = kind_name_hash<typename N::op>();
};
// A kernel's kind is the type that holds its loop (matmul_kernel<TA, TB>,
// sum_kernel<Axis>, ...), named by the node's `kind`.
template <class N>
struct kind_props<N, category::kernel> : kind_defaults {
  static constexpr std::uint64_t kind_hash = kind_name_hash<typename N::kind>();
};
template <class N>
struct kind_props<N, category::output> : kind_defaults {
  static constexpr std::size_t output_index = N::index;
  static constexpr std::uint64_t kind_hash = 1;
};

template <class N>
struct traits_of {
  static constexpr kernel_traits value{};
};
template <class N>
  requires(N::cat == category::kernel)
struct traits_of<N> {
  static constexpr kernel_traits value = N::traits;
};

// Shape of output I (output 0 is the node's own shape).
template <class N, std::size_t I, bool Exists = (I < num_outputs<N>)>
struct output_dims {
  static constexpr std::size_t rows = 0, cols = 0;
  static constexpr bool optional = false;
};
template <class N>
struct output_dims<N, 0, true> {
  static constexpr std::size_t rows = N::shape::rows_ct, cols = N::shape::cols;
  static constexpr bool optional = false;
};
template <class N, std::size_t I>
  requires(I > 0)
struct output_dims<N, I, true> {
  static constexpr std::size_t rows = N::template output_shape<I>::rows_ct;
  static constexpr std::size_t cols = N::template output_shape<I>::cols;
  static constexpr bool optional = N::output_optional(I);
};

// A node's hash: its kind, shape and outputs, then its operands'. Two
// nodes with equal hashes compute the same values and are one node: node
// identity is by hash, never by address (the compiler does not fold
// comparisons of addresses under AddressSanitizer).
constexpr std::uint64_t node_hash(const node_props& p, std::uint64_t kind_hash,
                                  std::array<std::uint64_t, max_arity> children) {
  std::uint64_t h = mix(mix(mix(mix(mix(mix(static_cast<std::uint64_t>(p.cat), p.rows_ct), p.cols), p.arity),
                                  p.output_index),
                              p.outputs),
                          kind_hash);
  for (std::size_t c = 0; c < p.arity; ++c) h = mix(h, children[c]);
  return h;
}
}  // namespace detail

template <class N>
struct rec_of;

namespace detail {
template <class N, class Children = children_t<N>>
struct make_rec;
template <class N, class... C>
struct make_rec<N, type_list<C...>> {
  static_assert(sizeof...(C) <= max_arity, "ingot: a node has at most 4 operands");
  using K = detail::kind_props<N>;
  template <std::size_t I>
  using out = detail::output_dims<N, I>;
  static constexpr node_rec value{
      {&rec_of<C>::value...},
      sizeof...(C),
      detail::node_hash({.cat = N::cat,
                         .rows_ct = N::shape::rows_ct,
                         .cols = N::shape::cols,
                         .arity = sizeof...(C),
                         .outputs = num_outputs<N>,
                         .output_index = K::output_index},
                        K::kind_hash, {rec_of<C>::value.hash...}),
      {.cat = N::cat,
       .rows_ct = N::shape::rows_ct,
       .cols = N::shape::cols,
       .arity = sizeof...(C),
       .kind = K::kind,
       .role = K::role,
       .int_values = K::int_values,
       .checks_batch = K::checks_batch,
       .indexed = K::indexed,
       .cheap = K::cheap,
       .traits = detail::traits_of<N>::value,
       .outputs = num_outputs<N>,
       .out_rows = {out<0>::rows, out<1>::rows, out<2>::rows, out<3>::rows},
       .out_cols = {out<0>::cols, out<1>::cols, out<2>::cols, out<3>::cols},
       .out_optional = {out<0>::optional, out<1>::optional, out<2>::optional, out<3>::optional},
       .output_index = K::output_index,
       .kind_hash = K::kind_hash}};
};
}  // namespace detail

// One record per node, shared by every graph the node is part of; a named
// node shares its definition's record.
template <class N>
struct rec_of : detail::make_rec<N> {};
template <class Def>
struct rec_of<named<Def>> : rec_of<resolve_t<named<Def>>> {};

namespace detail {
// A growable array for constexpr code. std::vector works too, but the
// compiler interprets every layer of its implementation; this keeps the
// graph walk several times cheaper to evaluate.
template <class T>
class stack_array {
 public:
  constexpr stack_array() = default;
  constexpr stack_array(const stack_array&) = delete;
  constexpr ~stack_array() { delete[] data_; }
  constexpr void push_back(const T& v) {
    if (size_ == cap_) {
      cap_ = cap_ ? 2 * cap_ : 64;
      T* grown = new T[cap_];
      for (std::size_t i = 0; i < size_; ++i) grown[i] = data_[i];
      delete[] data_;
      data_ = grown;
    }
    data_[size_++] = v;
  }
  constexpr void pop_back() { --size_; }
  constexpr T& back() { return data_[size_ - 1]; }
  constexpr T& operator[](std::size_t i) { return data_[i]; }
  constexpr const T& operator[](std::size_t i) const { return data_[i]; }
  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0, cap_ = 0;
};

// Depth-first, operands first in slot order, each node once. Out receives
// each node in post-order (its id) through out.node(rec, parent, slot,
// root), then out.child(id) for each operand, then out.root(id) for each
// root, and finally out.parents_found(id_of) to turn the parents, given in
// discovery order (a parent is finished after its operands), into ids.
struct found_node {
  const node_rec* rec = nullptr;
  std::size_t id = no_node, parent = no_node, slot = 0, root = no_node;
};

template <class Out>
constexpr void walk(const node_rec* const* roots, std::size_t num_roots, Out& out) {
  stack_array<found_node> found;  // in discovery order
  std::size_t mask = 255;
  std::size_t* table = new std::size_t[mask + 1];  // open addressing over `found`
  for (std::size_t i = 0; i <= mask; ++i) table[i] = no_node;
  auto find = [&](const node_rec* r) {
    for (std::size_t h = r->hash & mask;; h = (h + 1) & mask) {
      if (table[h] == no_node || found[table[h]].rec->hash == r->hash) return table[h];
    }
  };
  auto place = [&](std::size_t d) {
    std::size_t h = found[d].rec->hash & mask;
    while (table[h] != no_node) h = (h + 1) & mask;
    table[h] = d;
  };
  auto discover = [&](const node_rec* r, std::size_t parent, std::size_t slot, std::size_t root) {
    found.push_back({r, no_node, parent, slot, root});
    if (found.size() * 2 > mask) {
      delete[] table;
      mask = 2 * mask + 1;
      table = new std::size_t[mask + 1];
      for (std::size_t i = 0; i <= mask; ++i) table[i] = no_node;
      for (std::size_t d = 0; d < found.size(); ++d) place(d);
    } else {
      place(found.size() - 1);
    }
    return found.size() - 1;
  };

  struct frame {
    std::size_t d, next;
  };
  stack_array<frame> stack;
  std::size_t next_id = 0;
  // Roots are walked last to first: gradient roots come in layer order,
  // and the last layer's gradient is a part of the one before it.
  for (std::size_t ri = num_roots; ri-- > 0;) {
    if (find(roots[ri]) != no_node) continue;
    stack.push_back({discover(roots[ri], no_node, 0, ri), 0});
    while (!stack.empty()) {
      frame& top = stack.back();
      const node_rec* r = found[top.d].rec;
      if (top.next < r->arity) {
        const std::size_t slot = top.next++;
        const std::size_t parent = top.d;
        if (find(r->children[slot]) == no_node) stack.push_back({discover(r->children[slot], parent, slot, no_node), 0});
      } else {
        found_node& f = found[top.d];
        f.id = next_id++;
        out.node(f.rec, f.parent, f.slot, f.root);
        for (std::size_t c = 0; c < r->arity; ++c) out.child(found[find(r->children[c])].id);
        stack.pop_back();
      }
    }
  }
  for (std::size_t ri = 0; ri < num_roots; ++ri) out.root(found[find(roots[ri])].id);
  out.parents_found([&](std::size_t d) { return d == no_node ? no_node : found[d].id; });
  delete[] table;
}

struct graph_size {
  std::size_t nodes = 0, edges = 0;
  constexpr void node(const node_rec*, std::size_t, std::size_t, std::size_t) { ++nodes; }
  constexpr void child(std::size_t) { ++edges; }
  constexpr void root(std::size_t) {}
  template <class F>
  constexpr void parents_found(F&&) {}
};
template <std::size_t R>
constexpr graph_size measure(const std::array<const node_rec*, R>& roots) {
  graph_size s;
  walk(roots.data(), R, s);
  return s;
}
}  // namespace detail

// The tables of a graph of N nodes, E operand edges and R roots.
template <std::size_t N, std::size_t E, std::size_t R>
struct graph_tables {
  std::array<const node_rec*, N> rec{};
  std::array<std::size_t, N + 1> first_child{};
  std::array<std::size_t, E> child{};  // operand ids; node k's are child[first_child[k] ..]
  std::array<std::size_t, N + 1> first_use{};
  std::array<std::size_t, E> user{}, user_slot{};  // node k is operand user_slot[e] of user[e], e in first_use[k] ..
  std::array<std::size_t, N> parent{}, parent_slot{}, root_index{};
  std::array<std::size_t, R> root{};     // id of root r
  std::array<std::size_t, N> by_hash{};  // ids ordered by their records' hashes
};

namespace detail {
// Heap sort of ids by their records' hashes (no recursion, n log n).
constexpr void sort_by_hash(std::size_t* ids, std::size_t n, const node_rec* const* rec) {
  auto key = [&](std::size_t i) { return rec[ids[i]]->hash; };
  auto sift = [&](std::size_t i, std::size_t end) {
    for (;;) {
      std::size_t c = 2 * i + 1;
      if (c >= end) return;
      if (c + 1 < end && key(c + 1) > key(c)) ++c;
      if (key(i) >= key(c)) return;
      const std::size_t t = ids[i];
      ids[i] = ids[c];
      ids[c] = t;
      i = c;
    }
  };
  for (std::size_t i = n / 2; i-- > 0;) sift(i, n);
  for (std::size_t end = n; end-- > 1;) {
    const std::size_t t = ids[0];
    ids[0] = ids[end];
    ids[end] = t;
    sift(0, end);
  }
}
}  // namespace detail

namespace detail {
template <std::size_t N, std::size_t E, std::size_t R>
struct tabulator {
  graph_tables<N, E, R> t{};
  std::size_t k = 0, e = 0, r = 0;
  constexpr void node(const node_rec* rec, std::size_t parent, std::size_t slot, std::size_t root) {
    t.rec[k] = rec;
    t.parent[k] = parent;
    t.parent_slot[k] = slot;
    t.root_index[k] = root;
    t.first_child[k] = e;
    t.first_child[++k] = e;
  }
  constexpr void child(std::size_t id) {
    t.child[e++] = id;
    t.first_child[k] = e;
  }
  constexpr void root(std::size_t id) { t.root[r++] = id; }
  template <class F>
  constexpr void parents_found(F&& id_of) {
    for (std::size_t i = 0; i < N; ++i) t.parent[i] = id_of(t.parent[i]);
  }
};

template <std::size_t N, std::size_t E, std::size_t R>
constexpr graph_tables<N, E, R> tabulate(const std::array<const node_rec*, R>& roots) {
  tabulator<N, E, R> out;
  walk(roots.data(), R, out);
  graph_tables<N, E, R>& t = out.t;
  // Uses, grouped by operand (a counting sort of the edges).
  for (std::size_t i = 0; i < E; ++i) ++t.first_use[t.child[i] + 1];
  for (std::size_t k = 0; k < N; ++k) t.first_use[k + 1] += t.first_use[k];
  std::array<std::size_t, N + 1> fill = t.first_use;
  for (std::size_t k = 0; k < N; ++k)
    for (std::size_t i = t.first_child[k]; i < t.first_child[k + 1]; ++i) {
      const std::size_t at = fill[t.child[i]]++;
      t.user[at] = k;
      t.user_slot[at] = i - t.first_child[k];
    }
  // Ids by hash, for lookups of a node's id in logarithmic time.
  for (std::size_t k = 0; k < N; ++k) t.by_hash[k] = k;
  sort_by_hash(t.by_hash.data(), N, t.rec.data());
  return t;
}
}  // namespace detail

namespace detail {
template <class... Roots>
struct reversed_roots {
  using list = type_list<Roots...>;
  template <std::size_t... I>
  static auto make(std::index_sequence<I...>) -> type_list<type_at_t<sizeof...(Roots) - 1 - I, list>...>;
  using type = decltype(make(std::index_sequence_for<Roots...>{}));
};
template <class List>
struct recs_of;
template <class... N>
struct recs_of<type_list<N...>> {
  static constexpr std::array<const node_rec*, sizeof...(N)> value = {&rec_of<N>::value...};
};
template <class T, std::size_t R>
constexpr std::array<T, R> reverse(const std::array<T, R>& a) {
  std::array<T, R> out{};
  for (std::size_t i = 0; i < R; ++i) out[i] = a[R - 1 - i];
  return out;
}
}  // namespace detail

// The graph of a list of roots (whose order is kept: root r is the r-th).
template <class Roots>
struct graph;
template <class... Roots>
struct graph<type_list<Roots...>> {
  using roots = type_list<Roots...>;
  static constexpr std::size_t num_roots = sizeof...(Roots);
  // The records are made last root first, like the walk: each gradient's
  // record then finds the next layer's already made, and the compiler's
  // recursion stays as shallow as one layer.
  static constexpr std::array<const node_rec*, num_roots> root_recs =
      detail::reverse(detail::recs_of<typename detail::reversed_roots<Roots...>::type>::value);
  static constexpr detail::graph_size counts = detail::measure(root_recs);
  static constexpr std::size_t size = counts.nodes;
  static constexpr std::size_t num_edges = counts.edges;
  static constexpr graph_tables<size, num_edges, num_roots> table =
      detail::tabulate<size, num_edges, num_roots>(root_recs);

  static constexpr const node_props& props(std::size_t k) { return table.rec[k]->props; }
  static constexpr std::size_t use_count(std::size_t k) { return table.first_use[k + 1] - table.first_use[k]; }
  static constexpr std::size_t child(std::size_t k, std::size_t slot) { return table.child[table.first_child[k] + slot]; }
  // Id of the node whose record is r, or no_node (a binary search by hash).
  static constexpr std::size_t find(const node_rec* r) {
    std::size_t lo = 0, hi = size;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (table.rec[table.by_hash[mid]]->hash < r->hash) lo = mid + 1;
      else hi = mid;
    }
    return lo < size && table.rec[table.by_hash[lo]]->hash == r->hash ? table.by_hash[lo] : no_node;
  }
  template <class N>
  static constexpr std::size_t id_of = find(&rec_of<N>::value);
  template <class N>
  static constexpr bool contains = id_of<N> != no_node;
};

template <class... Roots>
using graph_of = graph<type_list<Roots...>>;

namespace detail {
template <class G, std::size_t K, bool Root = (G::table.root_index[K] != no_node)>
struct node_at;
template <class G, std::size_t K>
struct node_at<G, K, true> {
  using type = resolve_t<type_at_t<G::table.root_index[K], typename G::roots>>;
};
template <class G, std::size_t K>
struct node_at<G, K, false> {
  using type =
      resolve_t<type_at_t<G::table.parent_slot[K], children_t<typename node_at<G, G::table.parent[K]>::type>>>;
};
}  // namespace detail

// The node types of a graph, by id. Every id is resolved once, parents
// before the nodes they discovered (ids from the last down), so that each
// resolution is one step and the compiler never recurses deeply.
template <class G>
struct graph_nodes {
  template <std::size_t... I>
  static auto resolve(std::index_sequence<I...>) -> type_list<typename detail::node_at<G, G::size - 1 - I>::type...>;
  using resolved = decltype(resolve(std::make_index_sequence<G::size>{}));
  template <std::size_t K>
  using at = typename detail::node_at<G, K>::type;
};

template <class G, std::size_t K>
using node_t = typename graph_nodes<G>::template at<K>;

// The bound leaves of G with the given role (parameters, state, random
// masks, data), in id order, as a type_list.
template <class G, leaf_role Role>
struct leaves_with_role {
  static constexpr std::size_t count = [] {
    std::size_t c = 0;
    for (std::size_t k = 0; k < G::size; ++k) c += G::props(k).cat == category::leaf && G::props(k).role == Role;
    return c;
  }();
  static constexpr std::array<std::size_t, count> ids = [] {
    std::array<std::size_t, count> out{};
    std::size_t c = 0;
    for (std::size_t k = 0; k < G::size; ++k)
      if (G::props(k).cat == category::leaf && G::props(k).role == Role) out[c++] = k;
    return out;
  }();
  template <std::size_t... I>
  static auto make(std::index_sequence<I...>) -> type_list<node_t<G, ids[I]>...>;
  using type = decltype(make(std::make_index_sequence<count>{}));
};
template <class G, leaf_role Role>
using leaves_with_role_t = typename leaves_with_role<G, Role>::type;

}  // namespace ingot::expr
