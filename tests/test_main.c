/* test_main.c — runs every Check suite in one process (no fork) so the OpenCL runtime is opened once.
 * The exit status is the number of failed tests, capped at 1: make test fails on any failure. */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* Every suite, by the name its suite_create() gives it (the names argv[1] may pick). */
static const struct {
    const char *name;
    Suite *(*make)(void);
} suites[] = {
    {"runtime", suite_runtime},   {"ops", suite_ops},         {"variant_ops", suite_variant_ops},
    {"conv_ops", suite_conv_ops},   {"vae_ops", suite_vae_ops},   {"concrete_ops", suite_concrete_ops}, {"mdl_ops", suite_mdl_ops}, {"aae_ops", suite_aae_ops},
    {"rbm_ops", suite_rbm_ops},
    {"data", suite_data},         {"plan", suite_plan},       {"model", suite_model},
    {"variants", suite_variants}, {"io", suite_io},           {"modelio", suite_modelio},
    {"cli", suite_cli},           {"cli_use", suite_cli_use}, {"cli_compare", suite_cli_compare},
    {"cli_grid", suite_cli_grid},
    {"cli_runs", suite_cli_runs}, {"cli_data", suite_cli_data}, {"cli_arch", suite_cli_arch}, {"standalone", suite_standalone},
    {"golden", suite_golden},     {"trainer", suite_trainer}, {"layers", suite_layers}, {"conv", suite_conv}, {"vae", suite_vae}, {"concrete", suite_concrete}, {"mdl", suite_mdl}, {"aae", suite_aae}, {"pretrain", suite_pretrain},
    {"pca", suite_pca},           {"interop", suite_interop}, {"parallel", suite_parallel},
    {"cli_parallel", suite_cli_parallel},
    {"fault", suite_fault},
};
#define N_SUITES (sizeof suites / sizeof suites[0])

static void list_suites(void)
{
    fprintf(stderr, "suites:");
    for (size_t i = 0; i < N_SUITES; i++) fprintf(stderr, " %s", suites[i].name);
    fprintf(stderr, "\nusage: test_clae [SUITE [TEST_CASE]] (or CK_RUN_SUITE / CK_RUN_CASE)\n");
}

int main(int argc, char **argv)
{
    /* Optional: run one suite (argv[1]) or one test case (argv[2]); CK_RUN_SUITE/CK_RUN_CASE also work.
     * A name that matches nothing fails, so a typo never passes with 0 checks. */
    const char *want_suite = argc > 1 ? argv[1] : getenv("CK_RUN_SUITE");
    const char *want_case = argc > 2 ? argv[2] : argc > 1 ? NULL : getenv("CK_RUN_CASE");
    Suite *picked = NULL;
    SRunner *sr = NULL;
    for (size_t i = 0; i < N_SUITES; i++) {
        Suite *s = suites[i].make();
        if (want_suite && *want_suite && strcmp(want_suite, suites[i].name) == 0) picked = s;
        if (!sr) sr = srunner_create(s);
        else srunner_add_suite(sr, s);
    }
    if (want_suite && *want_suite && !picked) {
        fprintf(stderr, "test_clae: no suite named '%s'\n", want_suite);
        list_suites();
        srunner_free(sr);
        return EXIT_FAILURE;
    }
    if (picked && want_case && *want_case && !suite_tcase(picked, want_case)) {
        fprintf(stderr, "test_clae: suite '%s' has no test case '%s' (see its suite_%s() in tests/)\n", want_suite,
                want_case, want_suite);
        srunner_free(sr);
        return EXIT_FAILURE;
    }
    /* PoCL's worker threads do not survive fork(), and one shared runtime keeps the suite fast. */
    srunner_set_fork_status(sr, CK_NOFORK);
    if (argc > 1) srunner_run(sr, argv[1], argc > 2 ? argv[2] : NULL, CK_NORMAL);
    else srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr), ran = srunner_ntests_run(sr);
    srunner_free(sr);
    if (ran == 0) {
        fprintf(stderr, "test_clae: no test ran\n");
        list_suites();
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
