/* test_mdl.c — the mdl suite: the minimum-description-length code layer on the layer core: gradients by finite
 * differences (the encoder's and the prior's), OpenCL against the reference, plans, and the code length falling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clae_model *make(clae_runtime *rt, const char *spec, int batch)
{
    return test_model_arch(rt, spec, CLAE_LOSS_SSE, batch, 13, 0.0f, 0);
}

/* A wide σ_x keeps the rate's share of the loss visible next to the residual's. */
#define SMALL "8,dense:6:tanh,dense:3:linear,mdl:sigma=0.5:lambda=2@code,dense:6:tanh,dense:8:sigmoid"

static void fd_check(clae_model *m, const float *x, size_t rows, const char *name)
{
    int ndim;
    size_t shape[2] = {0, 1};
    ck_assert_int_eq(clae_model_tensor_info(m, name, &ndim, shape), CLAE_OK);
    const size_t n = shape[0] * (ndim == 2 ? shape[1] : 1);
    float *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g);
    ck_assert_int_eq(clae_model_tensor_get(m, name, th, n), CLAE_OK);
    ck_assert_msg(clae_model_tensor_gradient(m, x, rows, name, g, n) == CLAE_OK, "%s", clae_last_error());
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float h = 1e-2f, saved = th[i];
        float Lp, Lm;
        th[i] = saved + h;
        ck_assert_int_eq(clae_model_tensor_set(m, name, th, n), CLAE_OK);
        ck_assert_int_eq(clae_model_loss(m, x, rows, &Lp), CLAE_OK);
        th[i] = saved - h;
        ck_assert_int_eq(clae_model_tensor_set(m, name, th, n), CLAE_OK);
        ck_assert_int_eq(clae_model_loss(m, x, rows, &Lm), CLAE_OK);
        th[i] = saved;
        ck_assert_int_eq(clae_model_tensor_set(m, name, th, n), CLAE_OK);
        double num = ((double)Lp - Lm) / (2.0 * h), rel = fabs(num - g[i]) / (fabs(num) + fabs(g[i]) + 1e-2);
        if (rel > worst) worst = rel;
        ck_assert_msg(rel < 5e-3, "%s[%zu]: analytic %.6g, numeric %.6g", name, i, (double)g[i], num);
    }
    fprintf(stderr, "mdl gradient check %s: %zu coordinates, worst %.2e\n", name, n, worst);
    free(th);
    free(g);
}

/* Every weight and bias, and the prior's location and log-scale, against central differences of the loss (the
 * noise is keyed by the step and the rows, so each evaluation draws the same). */
START_TEST(test_mdl_gradients)
{
    clae_model *m = make(test_rt_ref(), SMALL, 4);
    float x[3 * 8];
    test_fill_uniform(x, 24, 31u, 0.05f, 0.95f);
    /* A prior away from its start, so both of its gradients are exercised. */
    float loc[3] = {0.3f, -0.2f, 0.1f}, ls[3] = {0.4f, -0.3f, 0.2f};
    ck_assert_int_eq(clae_model_tensor_set(m, "mdl.prior.loc", loc, 3), CLAE_OK);
    ck_assert_int_eq(clae_model_tensor_set(m, "mdl.prior.log_scale", ls, 3), CLAE_OK);
    test_gradient_report r = test_gradient_check(m, x, 3, 1e-2f);
    fprintf(stderr, "mdl gradient check (W, b of every layer): %d coordinates, %d skipped, worst %.2e\n", r.checked,
            r.skipped, r.worst);
    fd_check(m, x, 3, "mdl.prior.loc");
    fd_check(m, x, 3, "mdl.prior.log_scale");
    clae_model_destroy(m);
}
END_TEST

/* PoCL follows the reference: loss, the prior's gradients, five steps; inference codes are whole numbers. */
START_TEST(test_mdl_opencl_matches_reference)
{
    clae_model *m[2];
    for (int p = 0; p < 2; p++) m[p] = make(test_rt(p), SMALL, 8);
    float x[8 * 8], loss[2], g[2][3];
    test_fill_uniform(x, 64, 32u, 0.0f, 1.0f);
    for (int p = 0; p < 2; p++) {
        ck_assert_msg(clae_model_loss(m[p], x, 8, &loss[p]) == CLAE_OK, "path %d: %s", p, clae_last_error());
        ck_assert_int_eq(clae_model_tensor_gradient(m[p], x, 8, "mdl.prior.log_scale", g[p], 3), CLAE_OK);
    }
    ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-5f * fabsf(loss[0]), "loss %g vs %g", loss[1], loss[0]);
    ck_assert_allclose(g[1], g[0], 3, 1e-6, 1e-4);
    for (int s = 0; s < 5; s++)
        for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_train_step(m[p], x, 8, &loss[p]), CLAE_OK);
    float w[2][18], codes[2][8 * 3], bits[2][8];
    for (int p = 0; p < 2; p++) {
        ck_assert_int_eq(clae_model_tensor_get(m[p], "layers.1.weight", w[p], 18), CLAE_OK);
        ck_assert_int_eq(clae_model_encode(m[p], x, 8, codes[p]), CLAE_OK);
        ck_assert_int_eq(clae_model_code_length(m[p], x, 8, bits[p]), CLAE_OK);
    }
    ck_assert_allclose(w[1], w[0], 18, 1e-5, 1e-4);
    for (size_t i = 0; i < 24; i++) ck_assert_float_eq(codes[0][i], roundf(codes[0][i]));
    ck_assert_allclose(bits[1], bits[0], 8, 1e-3, 1e-5);
    for (int p = 0; p < 2; p++) clae_model_destroy(m[p]);
}
END_TEST

START_TEST(test_mdl_plans)
{
    for (int p = 0; p < 2; p++) {
        clae_model_config c;
        clae_model_config_default(&c);
        c.loss = CLAE_LOSS_SSE;
        c.batch = 8;
        clae_model *m = NULL;
        ck_assert_int_eq(clae_model_create_arch(test_rt(p), &c, SMALL, CLAE_MODEL_PLAN_ONLY, &m), CLAE_OK);
        char msg[512];
        const char *bad = test_check_model_plan(m, msg, sizeof msg);
        ck_assert_msg(bad == NULL, "path %d: %s", p, bad);
        clae_model_destroy(m);
    }
    clae_model *m[2];
    for (int k = 0; k < 2; k++) {
        if (k) setenv("CLAE_PLAN", "poison", 1);
        m[k] = make(test_rt_ref(), SMALL, 8);
        if (k) unsetenv("CLAE_PLAN");
    }
    float x[6 * 8], loss[2];
    test_fill_uniform(x, 48, 33u, 0.0f, 1.0f);
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++) ck_assert_int_eq(clae_model_train_step(m[k], x, 6, &loss[k]), CLAE_OK);
    ck_assert_float_eq(loss[0], loss[1]);
    for (int k = 0; k < 2; k++) clae_model_destroy(m[k]);
    /* bce is refused: the residual's code is Gaussian. */
    clae_model_config c;
    clae_model_config_default(&c);
    clae_model *none = NULL;
    ck_assert_int_eq(clae_model_create_arch(test_rt_ref(), &c, SMALL, 0, &none), CLAE_ERR_ARG);
}
END_TEST

/* Fashion-MNIST on PoCL: training shortens the code of held-out images. */
START_TEST(test_mdl_fashion_code_length)
{
    clae_dataset *train = NULL, *test = NULL;
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &train) == CLAE_OK);
    ck_assert(clae_dataset_load(test_data_path("t10k-images-idx3-ubyte.gz"), &test) == CLAE_OK);
    clae_dataset_truncate(train, 20000);
    clae_dataset_truncate(test, 500);
    clae_model *m = make(test_rt(1), "784,dense:256:relu,dense:32:linear,mdl:sigma=0.1@code,dense:256:relu,dense:784:sigmoid",
                         100);
    float *bits = malloc(test->rows * sizeof *bits);
    double before = 0.0, after = 0.0;
    ck_assert_msg(clae_model_code_length(m, test->x, test->rows, bits) == CLAE_OK, "%s", clae_last_error());
    for (size_t i = 0; i < test->rows; i++) before += bits[i] / (double)test->rows;
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = 2;
    clae_train_report r;
    ck_assert_msg(clae_model_train(m, train, &o, &r) == CLAE_OK, "%s", clae_last_error());
    ck_assert_int_eq(clae_model_code_length(m, test->x, test->rows, bits), CLAE_OK);
    for (size_t i = 0; i < test->rows; i++) after += bits[i] / (double)test->rows;
    fprintf(stderr, "fashion mdl 784-256-32 (sigma 0.1), 2 epochs of 20000 rows: %.1f -> %.1f bits per test image "
                    "(%.3f bits per pixel)\n", before, after, after / 784.0);
    ck_assert_msg(after < 0.5 * before, "code length %g -> %g bits: not halved", before, after);
    free(bits);
    clae_model_destroy(m);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

Suite *suite_mdl(void)
{
    Suite *s = suite_create("mdl");
    TCase *tc = tcase_create("mdl");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_mdl_gradients);
    tcase_add_test(tc, test_mdl_opencl_matches_reference);
    tcase_add_test(tc, test_mdl_plans);
    tcase_add_test(tc, test_mdl_fashion_code_length);
    suite_add_tcase(s, tc);
    return s;
}
