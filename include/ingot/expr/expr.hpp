#pragma once
// The expression core: leaves, operators, kernels and compile-time reverse
// mode. Plans that evaluate expressions are in ingot/plan.
#include "ingot/expr/grad.hpp"
#include "ingot/expr/leaves.hpp"
#include "ingot/expr/operators.hpp"
