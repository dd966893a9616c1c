#pragma once
// Header-only by default. A program that includes ingot from many
// translation units can compile the library's non-template code (the
// safetensors and checkpoint JSON codecs) once: define
// INGOT_SEPARATE_COMPILATION for every file of the program and include
// <ingot/separate_compilation.hpp> in exactly one .cpp. Then no other
// translation unit parses nlohmann/json, which is about a third of the
// time it takes to include <ingot/ingot.hpp>.
#ifdef INGOT_SEPARATE_COMPILATION
#define INGOT_DECL
#else
#define INGOT_DECL inline
#endif
