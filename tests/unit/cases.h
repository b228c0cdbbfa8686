/*
 * cases.h - table-driven cmocka tests: CASES(fn, table) appends one test
 * per row of `table` (rows with a `name` member) to `tests[n]`, the row
 * as the test's initial state.  The caller declares `tests` (large
 * enough) and `size_t n`.
 */
#ifndef FIREBREAK_TEST_CASES_H
#define FIREBREAK_TEST_CASES_H

#include <stdint.h>

#define CASES(fn, table) \
	do { \
		for (size_t i_ = 0; i_ < sizeof(table) / sizeof(table[0]); i_++) { \
			tests[n].name = table[i_].name; \
			tests[n].test_func = fn; \
			tests[n].setup_func = NULL; \
			tests[n].teardown_func = NULL; \
			/* cmocka's state is a void *; the rows stay const */ \
			tests[n].initial_state = (void *)(uintptr_t)&table[i_]; \
			n++; \
		} \
	} while (0)

#endif
