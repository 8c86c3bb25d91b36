/* test_modelio.c — placeholder until the modelio suite is written. */
#include "test_util.h"
Suite *suite_modelio(void) { return suite_create("modelio"); }
