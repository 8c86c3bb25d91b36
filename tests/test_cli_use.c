/* test_cli_use.c — placeholder until the cli_use suite is written. */
#include "test_util.h"
Suite *suite_cli_use(void) { return suite_create("cli_use"); }
