#pragma once
// The expression core: leaves, operators, compile-time reverse mode, plans.
#include "ingot/expr/grad.hpp"
#include "ingot/expr/leaves.hpp"
#include "ingot/expr/operators.hpp"
#include "ingot/expr/plan.hpp"
