/* registry.c — the table of tests the harness runs. */
#include "tests.h"

#define ENTRY(name) {#name, name},
const test_case all_tests[] = {TESTS(ENTRY){0, 0}};
