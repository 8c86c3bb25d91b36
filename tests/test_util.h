/* test_util.h — shared fixtures for the Check suite: one cpu-ref and one OpenCL runtime per binary,
 * deterministic inputs, and the atol + rtol·|ref| comparison every op test uses. */
#ifndef CLAE_TEST_UTIL_H
#define CLAE_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clae.h"

/* The cpu-ref runtime, opened on first use and kept for the whole binary. */
clae_runtime *test_rt_ref(void);

/* The OpenCL runtime under test: $CLAE_TEST_DEVICE, else "cpu" (PoCL). Opened
 * once per binary so PoCL's cold compiles are paid once. Fails the test if
 * no OpenCL device can be opened. */
clae_runtime *test_rt_cl(void);

/* Both runtimes in order {cpu-ref, OpenCL}, for loops over paths. */
clae_runtime *test_rt(int i);

/* Fills x[0..n) with values uniform in [lo, hi) from Philox keyed by seed
 * (deterministic on every machine). */
void test_fill_uniform(float *x, size_t n, uint32_t seed, float lo, float hi);

/* Returns the index of the first i with |a[i] − ref[i]| > atol + rtol·|ref[i]|
 * (NaN anywhere counts as a mismatch unless both are NaN), or -1 if none. */
long test_first_mismatch(const float *a, const float *ref, size_t n, double atol, double rtol);

/* Asserts a ≈ ref elementwise, printing the first mismatch. */
#define ck_assert_allclose(a, ref, n, atol, rtol)                                                   \
    do {                                                                                            \
        long bad_ = test_first_mismatch((a), (ref), (n), (atol), (rtol));                           \
        ck_assert_msg(bad_ < 0, "mismatch at %ld: got %.9g, ref %.9g (atol %g, rtol %g)", bad_,     \
                      bad_ < 0 ? 0.0 : (double)(a)[bad_], bad_ < 0 ? 0.0 : (double)(ref)[bad_],     \
                      (double)(atol), (double)(rtol));                                              \
    } while (0)

/* Finite-difference check of every parameter of every layer of m against
 * clae_model_gradients (float32; README, The math: gradient checks): central differences with
 * step h on clae_model_loss, asserting |g_a − g_num| / (|g_a| + |g_num| + 1e-2)
 * <= 5e-3 (the 1e-2 guard is an absolute floor of 5e-5 for near-zero
 * gradients), g_num taken with step h/2. Where the central differences at h
 * and h/2 disagree (by more than 1e-3 relative + 4e-5, i.e. more than O(h²)
 * curvature and float noise explain) a kink (relu, a selection swap) lies
 * within h and the coordinate is skipped; fewer than 10% may be. */
typedef struct test_gradient_report {
    int checked, skipped;
    double worst; /* the largest relative error seen */
} test_gradient_report;
test_gradient_report test_gradient_check(clae_model *m, const float *x, size_t rows, float h);

/* A model of the reference configuration with this loss, batch, seed and rate (0: the default rate) and the net
 * of the spec string; fails the test, naming the spec, when it cannot be made. */
clae_model *test_model_arch(clae_runtime *rt, const char *spec, clae_loss loss, int batch, uint64_t seed, float lr,
                            unsigned flags);

/* The independent plan checker of test_plan.c: NULL if no two tensors live at
 * the same time share a byte, offsets are aligned and all fits in the peak;
 * otherwise a message (in msg) naming the first violation. */
const char *test_check_model_plan(clae_model *m, char *msg, size_t cap);

/* A fresh temporary directory per test: add test_tmp_setup/test_tmp_teardown as
 * a checked fixture (the teardown removes the files even when the test fails).
 * test_tmp_path names a file in it; 8 results stay valid at once. */
void test_tmp_setup(void);
void test_tmp_teardown(void);
const char *test_tmp_path(const char *name);
/* Removes path, a file or a directory with everything in it. */
void test_rm_rf(const char *path);

/* Path of the Fashion-MNIST files (env CLAE_DATA_DIR, else the Debian package's directory). */
const char *test_data_path(const char *file);

/* The OpenCL device spec the CLI suites run on (env CLAE_TEST_DEVICE, else "cpu"). */
const char *test_device(void);

/* The build directory holding the clae binary (env CLAE_BUILD, else "build"). */
const char *test_build_dir(void);

/* Running the built `clae` binary as a user would (the cli suites). */

/* The output of one run; free with run_free(). */
typedef struct run_result {
    int status; /* exit status, or -1 if killed by a signal */
    char *out, *err;
} run_result;

/* Runs `<test_build_dir()>/clae ARGS` (ARGS already shell-quoted where needed)
 * with stdin empty and stdout, stderr captured separately (through files in
 * the test's temporary directory, so it needs the test_tmp fixture),
 * inheriting the environment (CLAE_CACHE_DIR). */
run_result run_clae(const char *args);
/* run_clae behind a shell prefix, e.g. "VAR=1 mpirun -np 2 " (ending in a space): the command is
 * "PREFIX'<build>/clae' ARGS". */
run_result run_clae_after(const char *prefix, const char *args);
void run_free(run_result *r);

/* run_clae with args from a printf format, asserting the exit status; the
 * result is returned for further checks (free it with run_free()). */
run_result run_expect(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* test_tmp_path(name) quoted for the shell; 4 results stay valid at once. */
const char *q(const char *name);

/* Appends s to buf (a string of size bytes) in single quotes, so paths with
 * spaces and quotes survive the shell. */
void test_append_quoted(char *buf, size_t size, const char *s);

/* "args" with one path spliced in, quoted: fmt holds one %s. The result is a
 * static buffer, valid until the next call. */
const char *with_path(const char *fmt, const char *path);

/* The whole file as a NUL-terminated string (malloc'd; fails the test if it
 * cannot be read). */
char *test_slurp_text(const char *path);

#define ck_assert_contains(hay, needle)                                                                 \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected '%s' in:\n%s", (needle), (hay))

/* Suites, one per test file. */
/* The test MSE per element of predicting every test row by the training rows' mean: what any autoencoder
 * must beat. */
double test_mean_image_mse(const clae_dataset *train, const clae_dataset *test);

Suite *suite_runtime(void);
Suite *suite_ops(void);
Suite *suite_interop(void);
Suite *suite_fault(void);
/* The fault suite's environment cases (test_fault_env.c). */
TCase *tcase_fault_env(void);
Suite *suite_data(void);
Suite *suite_model(void);
Suite *suite_cli(void);
Suite *suite_variant_ops(void);
Suite *suite_conv_ops(void);
Suite *suite_vae_ops(void);
Suite *suite_concrete_ops(void);
Suite *suite_mdl_ops(void);
Suite *suite_aae_ops(void);
Suite *suite_rbm_ops(void);
Suite *suite_io(void);
Suite *suite_plan(void);
Suite *suite_variants(void);
Suite *suite_modelio(void);
Suite *suite_cli_use(void);
Suite *suite_cli_compare(void);
Suite *suite_cli_grid(void);
Suite *suite_cli_runs(void);
Suite *suite_golden(void);
Suite *suite_cli_data(void);
Suite *suite_cli_arch(void);
Suite *suite_layers(void);
Suite *suite_conv(void);
Suite *suite_vae(void);
Suite *suite_concrete(void);
Suite *suite_mdl(void);
Suite *suite_aae(void);
Suite *suite_pretrain(void);
Suite *suite_standalone(void);
Suite *suite_trainer(void);
Suite *suite_pca(void);
Suite *suite_parallel(void);
Suite *suite_cli_parallel(void);

#endif
