/* test_cli_compare.c — placeholder until the cli_compare suite is written. */
#include "test_util.h"
Suite *suite_cli_compare(void) { return suite_create("cli_compare"); }
