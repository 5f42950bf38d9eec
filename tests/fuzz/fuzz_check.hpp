// Shared by the fuzz targets: a violated property prints what failed and aborts, which libFuzzer
// reports as a crash and saves the input that caused it.
#pragma once
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                        \
	do {                                                                                        \
		if (!(cond)) {                                                                          \
			std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
			std::abort();                                                                       \
		}                                                                                       \
	} while (0)
