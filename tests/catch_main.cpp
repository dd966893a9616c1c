// Catch2's main, compiled once into a static library for every test program.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
