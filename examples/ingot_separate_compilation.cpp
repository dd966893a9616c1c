// ingot's non-template code, compiled once for the programs of this tree.
// A program of several .cpp files does the same: compile every file with
// -DINGOT_SEPARATE_COMPILATION and include this header in one of them.
#include <ingot/separate_compilation.hpp>
