/* test_main.c — runs every Check suite in one process (no fork) so the OpenCL runtime is opened once.
 * The exit status is the number of failed tests, capped at 1: make test fails on any failure. */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

int main(int argc, char **argv)
{
    SRunner *sr = srunner_create(suite_runtime());
    srunner_add_suite(sr, suite_ops());
    srunner_add_suite(sr, suite_variant_ops());
    srunner_add_suite(sr, suite_data());
    srunner_add_suite(sr, suite_plan());
    srunner_add_suite(sr, suite_model());
    srunner_add_suite(sr, suite_variants());
    srunner_add_suite(sr, suite_io());
    srunner_add_suite(sr, suite_modelio());
    srunner_add_suite(sr, suite_cli());
    srunner_add_suite(sr, suite_cli_use());
    srunner_add_suite(sr, suite_cli_compare());
    srunner_add_suite(sr, suite_cli_runs());
    /* PoCL's worker threads do not survive fork(), and one shared runtime keeps the suite fast. */
    srunner_set_fork_status(sr, CK_NOFORK);
    /* Optional: run one suite (argv[1]) or one test case (argv[2]); CK_RUN_SUITE/CK_RUN_CASE also work. */
    if (argc > 1) srunner_run(sr, argv[1], argc > 2 ? argv[2] : NULL, CK_NORMAL);
    else srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
