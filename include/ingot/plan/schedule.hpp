#pragma once
// The schedule of a plan, decided at compile time from the graph's tables
// and the nodes' traits alone (no node is named here):
//  - which values get storage (a slot): kernel outputs, roots, values used
//    twice, operands of kernels that need them in memory; every other
//    element-wise node is fused into the loop of its single user;
//  - where a fused node is computed (its fuse target) and at which step of
//    the plan each node's work happens;
//  - epilogues: a kernel that accepts one and whose single use chain ends in
//    an element-wise pass of its own shape runs that pass on each finished
//    tile, writing into the pass's buffer;
//  - joined kernels: nodes of a joinable kernel (sums over the rows of
//    operands of one shape) run in one loop at one of their steps, when
//    what each reads is ready there and nothing reads its value before;
//  - buffer reuse: each slot lives from the step that writes it to the last
//    step that reads it, and slots whose lifetimes do not overlap share
//    memory. Batched slots are packed in per-row units (a slot of C columns
//    takes C units of `capacity` rows each), other slots in elements; roots
//    bound to outside memory, leaves and in-place epilogue targets take no
//    workspace.
#include <array>
#include <cstddef>

#include "ingot/core/aligned.hpp"
#include "ingot/expr/graph.hpp"

namespace ingot::plan {

using expr::category;
using expr::no_node;

enum class slot_kind {
  leaf,   // bound from outside: a parameter, data, labels, state or random values
  root,   // a root bound to outside memory (bind_output)
  rows,   // workspace, batched: offset and size in per-row units
  fixed,  // workspace, not batched: offset and size in elements
};

// One storage location: output `output` of node `node`.
struct slot_info {
  std::size_t node = no_node, output = 0;
  slot_kind kind = slot_kind::fixed;
  std::size_t size = 0, offset = 0;   // units (rows) or elements (fixed)
  std::size_t start = 0, end = 0;     // first and last step that touch it
};

// S is a capacity: one slot per node and one per extra output of a
// multi-output kernel; slot_count says how many are used.
template <std::size_t N, std::size_t S>
struct schedule_table {
  // Per node.
  std::array<bool, N> materialized{};       // has a slot of its own
  std::array<bool, N> executes{};           // its step runs a loop
  std::array<std::size_t, N> fuse_target{}; // fused element-wise node: whose loop computes it
  std::array<std::size_t, N> host{};        // element-wise pass run as the epilogue of this kernel
  std::array<std::size_t, N> fused_into{};  // kernel run at this pass's step, as its epilogue host
  std::array<std::size_t, N> joined_into{}; // kernel run in the loop of this node of its kind (the host)
  std::array<std::size_t, N> join_begin{}, join_count{};  // a host's members: join_members[begin, begin + count)
  std::array<std::size_t, N> join_members{};
  std::array<std::size_t, N> step{};        // the step at which its value is computed
  std::array<std::size_t, N> slot{};        // slot holding its value (output 0), or no_node
  std::array<std::array<std::size_t, expr::max_outputs>, N> out_slot{};
  std::array<bool, N> flat{};               // an element-wise tree reads all its values at one flat index
  // Per slot.
  std::array<slot_info, S> slots{};
  std::size_t slot_count = 0;
  std::size_t row_units = 0;       // packed size of the batched region, per row
  std::size_t fixed_elements = 0;  // packed size of the fixed region
  std::size_t unpacked_row_units = 0, unpacked_fixed_elements = 0;  // sizes without reuse
};

namespace detail {

// A user that reads the operand's storage directly.
template <class G>
constexpr bool needs_memory(std::size_t u) {
  const auto& p = G::props(u);
  return (p.cat == category::kernel && p.traits.operands_in_memory) || (p.cat == category::elementwise && p.indexed);
}

// An element-wise value used more than once is computed again in each
// user's loop rather than stored, when that is cheap: every user reads it
// element by element at its own shape (a pass of the same shape, or a
// kernel that computes its operand 0 in its own loop), there are few users,
// and the tree recomputed is small. Storing it costs a pass that writes it
// and a read of it in every user; recomputing costs each user the reads of
// the tree's inputs, which it often reads anyway (x - mean in BatchNorm's
// forward and backward, a masked gradient summed twice and used once more).
// A tree of up to 8 cheap nodes: the gradient masked by ReLU before a max
// pooling that computes the activation on the spot is 7 (the unpooled
// gradient times the step of relu((x - mean) s + b)); at 4 it was stored
// by a pass of its own, and the CNN's step took longer than with the
// activation stored.
inline constexpr std::size_t recompute_max_users = 4, recompute_max_nodes = 8;
// Nodes that one joined loop runs (a kernel and the others it takes), and
// the candidates, in step order, among which a group is looked for.
inline constexpr std::size_t max_joined = 4, join_window = 8;
// The nodes of the tree that computing k on the spot evaluates, or more
// than recompute_max_nodes when one of them is not cheap.
template <class G, std::size_t N>
constexpr std::size_t fused_tree_nodes(std::size_t k, const std::array<bool, N>& materialized) {
  if (!G::props(k).cheap) return recompute_max_nodes + 1;
  std::size_t c = 1;
  for (std::size_t i = 0; i < G::props(k).arity; ++i) {
    const std::size_t ch = G::child(k, i);
    if (G::props(ch).cat == category::elementwise && !materialized[ch]) c += fused_tree_nodes<G>(ch, materialized);
  }
  return c;
}
// The values of k's shape that its tree reads from memory (rows, columns
// and scalars stretched over it cost little).
template <class G, std::size_t N>
constexpr std::size_t full_tree_inputs(std::size_t k, std::size_t rows_ct, std::size_t cols,
                                       const std::array<bool, N>& materialized) {
  std::size_t c = 0;
  for (std::size_t i = 0; i < G::props(k).arity; ++i) {
    const std::size_t ch = G::child(k, i);
    const auto& pc = G::props(ch);
    if (pc.cat == category::elementwise && !materialized[ch]) c += full_tree_inputs<G>(ch, rows_ct, cols, materialized);
    else if (pc.rows_ct == rows_ct && pc.cols == cols) ++c;
  }
  return c;
}
template <class G, std::size_t N>
constexpr bool recomputable(std::size_t k, const std::array<bool, N>& materialized) {
  const auto& p = G::props(k);
  if (p.cat != category::elementwise || p.indexed || G::use_count(k) > recompute_max_users) return false;
  for (std::size_t e = G::table.first_use[k]; e < G::table.first_use[k + 1]; ++e) {
    const auto& pu = G::props(G::table.user[e]);
    if (pu.cat == category::elementwise) {
      if (pu.indexed || pu.rows_ct != p.rows_ct || pu.cols != p.cols) return false;
    } else if (pu.cat == category::kernel) {
      if (pu.traits.operands_in_memory || G::table.user_slot[e] != 0) return false;
    } else {
      return false;
    }
  }
  if (fused_tree_nodes<G>(k, materialized) > recompute_max_nodes) return false;
  // Storing costs a pass that reads the tree's inputs and writes the value,
  // then a read per user; recomputing, every user reads the inputs.
  const std::size_t inputs = full_tree_inputs<G>(k, p.rows_ct, p.cols, materialized), users = G::use_count(k);
  return users * inputs <= inputs + 1 + users;
}

template <class G>
constexpr std::size_t single_user(std::size_t k) {
  return G::table.user[G::table.first_use[k]];
}

constexpr std::size_t max_of(std::size_t a, std::size_t b) { return a > b ? a : b; }

template <class G>
constexpr std::size_t slot_capacity() {
  std::size_t s = 0;
  for (std::size_t k = 0; k < G::size; ++k) s += G::props(k).outputs;
  return s;
}

template <class G, class T, std::size_t R>
constexpr schedule_table<G::size, slot_capacity<G>()> decide(const std::array<bool, R>& bound) {
  constexpr std::size_t n = G::size;
  const auto& g = G::table;
  schedule_table<n, slot_capacity<G>()> d{};
  for (std::size_t k = 0; k < n; ++k) {
    d.fuse_target[k] = d.host[k] = d.fused_into[k] = d.joined_into[k] = d.slot[k] = no_node;
    d.out_slot[k].fill(no_node);
  }
  std::array<bool, n> is_root{}, bound_root{}, seen_root{};
  for (std::size_t r = 0; r < R; ++r) {
    const std::size_t k = g.root[r];
    is_root[k] = true;
    if (!seen_root[k]) bound_root[k] = bound[r];  // the first occurrence decides
    seen_root[k] = true;
  }

  // Storage and fusion.
  std::array<bool, n> recomputed{};  // used more than once, computed again in each user's loop
  for (std::size_t k = 0; k < n; ++k) {
    const auto& p = G::props(k);
    if (p.cat == category::kernel) {
      d.materialized[k] = true;
      continue;
    }
    if (p.cat != category::elementwise) continue;
    bool memory = false;
    for (std::size_t e = g.first_use[k]; e < g.first_use[k + 1]; ++e) memory = memory || needs_memory<G>(g.user[e]);
    // A value read at broadcast positions (a row or a scalar stretched over
    // its user's shape) is computed once rather than once per element.
    bool broadcast = false;
    if (G::use_count(k) == 1) {
      const auto& pu = G::props(single_user<G>(k));
      broadcast = pu.cat == category::elementwise && (pu.rows_ct != p.rows_ct || pu.cols != p.cols);
    }
    d.materialized[k] = is_root[k] || G::use_count(k) > 1 || memory || broadcast;
    if (d.materialized[k] && !is_root[k] && !memory && G::use_count(k) > 1 && recomputable<G>(k, d.materialized))
      d.materialized[k] = false, recomputed[k] = true;
  }
  std::array<bool, n> through_recomputed{};  // its value reaches a pass through a recomputed node
  for (std::size_t k = n; k-- > 0;) {  // users come after their operands
    if (G::props(k).cat != category::elementwise || d.materialized[k]) continue;
    if (recomputed[k]) {
      d.fuse_target[k] = g.user[g.first_use[k + 1] - 1];  // one of its users (steps below take the last)
      through_recomputed[k] = true;
      continue;
    }
    const std::size_t u = single_user<G>(k);
    if (G::props(u).cat == category::elementwise) {
      d.fuse_target[k] = d.materialized[u] ? u : d.fuse_target[u];
      through_recomputed[k] = !d.materialized[u] && through_recomputed[u];
    } else {
      d.fuse_target[k] = u;  // a kernel that computes its operand in its own loop
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    const auto& p = G::props(k);
    if (p.cat != category::kernel || !p.traits.epilogue || p.outputs != 1 || is_root[k] || G::use_count(k) != 1)
      continue;
    const std::size_t u = single_user<G>(k);
    if (G::props(u).cat != category::elementwise || (!d.materialized[u] && through_recomputed[u])) continue;
    const std::size_t e = d.materialized[u] ? u : d.fuse_target[u];
    if (e == no_node || G::props(e).cat != category::elementwise || !d.materialized[e] || d.host[e] != no_node) continue;
    if (G::props(e).rows_ct != p.rows_ct || G::props(e).cols != p.cols) continue;
    d.host[e] = k;
    d.fused_into[k] = e;
  }

  // Steps: where each node's value is computed.
  for (std::size_t k = 0; k < n; ++k) {
    const auto& p = G::props(k);
    d.executes[k] = (p.cat == category::elementwise && d.materialized[k]) ||
                    (p.cat == category::kernel && d.fused_into[k] == no_node);
    if (d.executes[k]) d.step[k] = k;
    else if (p.cat == category::output) d.step[k] = d.step[G::child(k, 0)];
  }
  for (std::size_t k = n; k-- > 0;) {
    if (d.fused_into[k] != no_node) {
      d.step[k] = d.step[d.fused_into[k]];
    } else if (d.fuse_target[k] != no_node) {
      // A fused value is computed at its user's step; one computed again in
      // each of its users at the last of theirs, so that what it reads
      // lives until then.
      std::size_t last = 0;
      for (std::size_t e = g.first_use[k]; e < g.first_use[k + 1]; ++e) last = max_of(last, d.step[g.user[e]]);
      d.step[k] = last;
    }
  }

  // Joined kernels: a joinable kernel (the host) takes into its loop other
  // nodes of its kind whose operand has its shape: an earlier one when
  // nothing reads its value until after the host's step, a later one when
  // everything its operand reads is written before it (and not by another
  // node of the loop).
  auto read_only_after = [&](std::size_t k, std::size_t at) {
    for (std::size_t e = g.first_use[k]; e < g.first_use[k + 1]; ++e) {
      const std::size_t u = g.user[e];
      if (G::props(u).cat != category::output) {
        if (d.step[u] <= at) return false;
        continue;
      }
      for (std::size_t f = g.first_use[u]; f < g.first_use[u + 1]; ++f)
        if (d.step[g.user[f]] <= at) return false;
    }
    return true;
  };
  using group = std::array<std::size_t, max_joined>;
  // Whether every value the operand tree of k reads from memory is written
  // before step at, by none of the first `count` nodes of members.
  auto ready_before = [&](std::size_t k, std::size_t at, const group& members, std::size_t count) {
    auto visit = [&](auto& self, std::size_t c) -> bool {
      const auto& pc = G::props(c);
      if (pc.cat == category::leaf) return true;
      if (pc.cat == category::elementwise && !d.materialized[c]) {
        for (std::size_t i = 0; i < pc.arity; ++i)
          if (!self(self, G::child(c, i))) return false;
        return true;
      }
      const std::size_t writer = pc.cat == category::output ? G::child(c, 0) : c;
      for (std::size_t m = 0; m < count; ++m)
        if (members[m] == writer) return false;
      return d.step[writer] < at;
    };
    return visit(visit, G::child(k, 0));
  };
  std::array<std::size_t, n> candidates{};
  std::size_t num_candidates = 0;
  for (std::size_t k = 0; k < n; ++k)
    if (G::props(k).cat == category::kernel && G::props(k).traits.joinable && d.executes[k]) candidates[num_candidates++] = k;
  std::array<bool, n> placed{};
  // Node h and the nodes among candidates [lo, hi) it would take, in
  // members (h last); their count.
  auto gather = [&](std::size_t h, group& members, std::size_t lo, std::size_t hi) {
    const auto& ph = G::props(h);
    const auto& operand = G::props(G::child(h, 0));
    const std::size_t at = d.step[h];
    std::size_t count = 0;
    auto fits = [&](std::size_t j) {
      const auto& pj = G::props(j);
      const auto& pa = G::props(G::child(j, 0));
      return j != h && !placed[j] && pj.kind_hash == ph.kind_hash && pa.rows_ct == operand.rows_ct &&
             pa.cols == operand.cols;
    };
    for (std::size_t c = lo; c < hi && count + 1 < max_joined; ++c) {
      const std::size_t j = candidates[c];
      if (j < h && fits(j) && read_only_after(j, at)) members[count++] = j;
    }
    members[count] = h;  // a later node must not read the host either
    for (std::size_t c = lo; c < hi && count + 1 < max_joined; ++c) {
      const std::size_t j = candidates[c];
      if (j > h && fits(j) && ready_before(j, at, members, count + 1)) members[count++] = j, members[count] = h;
    }
    return count + 1;
  };
  // The steps of what j's operand tree computes on the spot follow j's.
  auto follow = [&](auto& self, std::size_t c) -> void {
    const auto& pc = G::props(c);
    if (pc.cat != category::elementwise || d.materialized[c]) return;
    std::size_t last = 0;
    for (std::size_t e = g.first_use[c]; e < g.first_use[c + 1]; ++e) last = max_of(last, d.step[g.user[e]]);
    d.step[c] = last;
    for (std::size_t i = 0; i < pc.arity; ++i) self(self, G::child(c, i));
  };
  // Groups form among nearby candidates only (a window in step order), so
  // that a deep model's many sums of one shape cost the compiler little:
  // the first unplaced candidate joins the best host of its window.
  for (std::size_t first = 0; first < num_candidates; ++first) {
    if (placed[candidates[first]]) continue;
    const std::size_t last = first + join_window < num_candidates ? first + join_window : num_candidates;
    std::size_t best = no_node, best_size = 1;
    group members{};
    for (std::size_t c = first; c < last; ++c) {
      const std::size_t h = candidates[c];
      if (placed[h]) continue;
      group taken{};
      const std::size_t size = gather(h, taken, first, last);
      if (size > best_size) best = h, best_size = size, members = taken;
    }
    if (best == no_node) continue;
    placed[best] = true;
    for (std::size_t m = 0; m + 1 < best_size; ++m) {
      const std::size_t j = members[m];
      placed[j] = true;
      d.joined_into[j] = best;
      d.executes[j] = false;
      d.step[j] = d.step[best];
      for (std::size_t e = g.first_use[j]; e < g.first_use[j + 1]; ++e)
        if (G::props(g.user[e]).cat == category::output) d.step[g.user[e]] = d.step[j];
      follow(follow, G::child(j, 0));
    }
  }
  // Each host's members, in step order, for the executor.
  for (std::size_t j = 0; j < n; ++j)
    if (d.joined_into[j] != no_node) ++d.join_count[d.joined_into[j]];
  for (std::size_t k = 0, at = 0; k < n; ++k) d.join_begin[k] = at, at += d.join_count[k];
  {
    std::array<std::size_t, n> filled{};
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t h = d.joined_into[j];
      if (h != no_node) d.join_members[d.join_begin[h] + filled[h]++] = j;
    }
  }

  // The last step that reads output i of node k (n: after the plan), and
  // whether the output is read at all.
  auto last_read = [&](std::size_t k, std::size_t i, bool& read) {
    std::size_t end = d.step[k];
    read = i == 0 && is_root[k];
    for (std::size_t e = g.first_use[k]; e < g.first_use[k + 1]; ++e) {
      const std::size_t u = g.user[e];
      const auto& pu = G::props(u);
      if (pu.cat == category::output) {
        if (pu.output_index != i) continue;
        read = true;
        if (is_root[u]) end = n;
        for (std::size_t f = g.first_use[u]; f < g.first_use[u + 1]; ++f) end = max_of(end, d.step[g.user[f]]);
      } else if (i == 0) {
        read = true;
        end = max_of(end, d.step[u]);
      }
    }
    return i == 0 && is_root[k] ? n : end;
  };

  // Slots: each leaf bound from outside, each materialised value, each
  // output its kernel writes (an optional one only when read); a kernel run
  // as an epilogue writes into the pass's slot and an output_of node names
  // its kernel's.
  std::size_t& s = d.slot_count;
  for (std::size_t k = 0; k < n; ++k) {
    const auto& p = G::props(k);
    if (p.cat == category::leaf) {
      if (p.kind != expr::leaf_kind::bound) continue;
      d.slot[k] = s;
      d.slots[s++] = {k, 0, slot_kind::leaf, 0, 0, 0, n};
      continue;
    }
    if (!d.materialized[k] || d.fused_into[k] != no_node) continue;
    for (std::size_t i = 0; i < p.outputs; ++i) {
      bool read = false;
      const std::size_t end = last_read(k, i, read);
      if (p.out_optional[i] && !read) continue;
      slot_info si{k, i, slot_kind::fixed, 0, 0, d.step[k], end};
      if (i == 0 && bound_root[k]) {
        si.kind = slot_kind::root;
      } else if (is_batched(p.out_rows[i])) {
        si.kind = slot_kind::rows;
        si.size = rows_per_sample(p.out_rows[i]) * p.out_cols[i];
      } else {
        si.size = padded<T>(p.out_rows[i] * p.out_cols[i]);
      }
      d.out_slot[k][i] = s;
      if (i == 0) d.slot[k] = s;
      d.slots[s++] = si;
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (d.fused_into[k] != no_node) {
      d.slot[k] = d.slot[d.fused_into[k]];
      d.out_slot[k][0] = d.slot[k];
    } else if (G::props(k).cat == category::output) {
      d.slot[k] = d.out_slot[G::child(k, 0)][G::props(k).output_index];
    }
  }

  // Flat reads: a pass whose every value has its own shape (or is a scalar)
  // reads one contiguous run, whatever the rows. A stored 1 x 1 operand (a
  // single output's bias) is read as one value wherever it is used, so it
  // keeps a pass flat too: a regression head's loss over a batch of one
  // column is then summed in vectors rather than one row at a time. (A 1 x 1
  // value computed inside the pass keeps the general rule.)
  for (std::size_t k = 0; k < n; ++k) {
    const auto& p = G::props(k);
    if (p.cat != category::elementwise) continue;
    bool flat = !p.indexed;
    for (std::size_t c = 0; c < p.arity && flat; ++c) {
      const std::size_t ch = G::child(k, c);
      const auto& pc = G::props(ch);
      if (pc.cat == category::leaf && pc.kind == expr::leaf_kind::scalar) continue;
      if (pc.rows_ct == 1 && pc.cols == 1 && (d.slot[ch] != no_node || pc.cat == category::leaf)) continue;
      if (pc.rows_ct != p.rows_ct || pc.cols != p.cols) flat = false;
      else if (d.slot[ch] == no_node) flat = pc.cat == category::elementwise && d.flat[ch];
    }
    d.flat[k] = flat;
  }

  // Packing, first fit, in the order slots are written (by their first
  // step, then their order of creation: a joined kernel's output is written
  // at its host's step). A slot's memory returns to a list of free holes,
  // sorted by offset and merged with its neighbours, once the step after its
  // last read begins; new slots take the first hole that fits, or the top.
  constexpr std::size_t cap = slot_capacity<G>();
  // Slot ids by their last read and by their first step (counting sorts).
  std::array<std::size_t, cap> by_end{}, by_start{}, position{};
  {
    std::array<std::size_t, n + 2> first{}, start{};
    for (std::size_t i = 0; i < s; ++i) ++first[d.slots[i].end + 1], ++start[d.slots[i].start + 1];
    for (std::size_t t = 0; t <= n; ++t) first[t + 1] += first[t], start[t + 1] += start[t];
    for (std::size_t i = 0; i < s; ++i) by_end[first[d.slots[i].end]++] = i;
    for (std::size_t i = 0; i < s; ++i) by_start[start[d.slots[i].start]++] = i;
    for (std::size_t q = 0; q < s; ++q) position[by_start[q]] = q;
  }
  std::array<std::size_t, cap + 1> hole_at{}, hole_size{};  // free holes below the top, by offset
  auto pack = [&](slot_kind kind, std::size_t& total, std::size_t& unpacked) {
    std::size_t holes = 0, released = 0;
    auto release = [&](std::size_t at, std::size_t size) {
      std::size_t pos = 0;
      while (pos < holes && hole_at[pos] < at) ++pos;
      for (std::size_t h = holes; h > pos; --h) {
        hole_at[h] = hole_at[h - 1];
        hole_size[h] = hole_size[h - 1];
      }
      hole_at[pos] = at;
      hole_size[pos] = size;
      ++holes;
      if (pos + 1 < holes && hole_at[pos] + hole_size[pos] == hole_at[pos + 1]) {  // merge with the next
        hole_size[pos] += hole_size[pos + 1];
        for (std::size_t h = pos + 1; h + 1 < holes; ++h) {
          hole_at[h] = hole_at[h + 1];
          hole_size[h] = hole_size[h + 1];
        }
        --holes;
      }
      if (pos > 0 && hole_at[pos - 1] + hole_size[pos - 1] == hole_at[pos]) {  // and with the previous
        hole_size[pos - 1] += hole_size[pos];
        for (std::size_t h = pos; h + 1 < holes; ++h) {
          hole_at[h] = hole_at[h + 1];
          hole_size[h] = hole_size[h + 1];
        }
        --holes;
      }
    };
    for (std::size_t q = 0; q < s; ++q) {
      slot_info& si = d.slots[by_start[q]];
      if (si.kind != kind) continue;
      unpacked += si.size;
      for (; released < s && d.slots[by_end[released]].end < si.start; ++released) {
        const slot_info& dead = d.slots[by_end[released]];
        if (dead.kind == kind && position[by_end[released]] < q) release(dead.offset, dead.size);
      }
      std::size_t h = 0;
      while (h < holes && hole_size[h] < si.size) ++h;
      if (h < holes) {
        si.offset = hole_at[h];
        hole_at[h] += si.size;
        hole_size[h] -= si.size;
        if (hole_size[h] == 0) {
          for (std::size_t q = h; q + 1 < holes; ++q) {
            hole_at[q] = hole_at[q + 1];
            hole_size[q] = hole_size[q + 1];
          }
          --holes;
        }
      } else if (holes > 0 && hole_at[holes - 1] + hole_size[holes - 1] == total) {
        // The last hole touches the top: grow the region by what is missing.
        si.offset = hole_at[holes - 1];
        total = si.offset + si.size;
        --holes;
      } else {
        si.offset = total;
        total += si.size;
      }
    }
  };
  pack(slot_kind::rows, d.row_units, d.unpacked_row_units);
  pack(slot_kind::fixed, d.fixed_elements, d.unpacked_fixed_elements);
  return d;
}
}  // namespace detail

// The schedule of graph G whose root r is bound to outside memory when
// Bound[r]; T is the element type (for padding).
template <class G, class T, auto Bound>
struct schedule {
  static constexpr auto table = detail::decide<G, T>(Bound);
  static constexpr std::size_t num_slots = table.slot_count;
};

}  // namespace ingot::plan
