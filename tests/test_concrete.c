/* test_concrete.c — the concrete suite: the concrete autoencoder's selector on the layer core: its gradient by finite
 * differences, OpenCL against the reference, plans, and 50 Fashion-MNIST pixels that beat 50 random ones. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clae_model *make_lr(clae_runtime *rt, const char *spec, clae_loss loss, int batch, float lr)
{
    return test_model_arch(rt, spec, loss, batch, 9, lr, 0);
}

static clae_model *make(clae_runtime *rt, const char *spec, clae_loss loss, int batch)
{
    return make_lr(rt, spec, loss, batch, 1e-3f);
}

/* A warm temperature keeps the softmax away from one-hot, where its gradient vanishes. */
#define SMALL "10,concrete:3:t0=2:tb=0.5:steps=100@code,dense:6:tanh,dense:10:sigmoid"

START_TEST(test_concrete_gradient)
{
    clae_model *m = make(test_rt_ref(), SMALL, CLAE_LOSS_SSE, 4);
    const size_t D = 10, rows = 4, n = 3 * 10;
    float x[4 * 10], lam[30], g[30];
    test_fill_uniform(x, rows * D, 2u, 0.0f, 1.0f);
    test_gradient_report r = test_gradient_check(m, x, rows, 1e-2f);
    ck_assert_int_eq(clae_model_tensor_get(m, "selector.logits", lam, n), CLAE_OK);
    ck_assert_msg(clae_model_tensor_gradient(m, x, rows, "selector.logits", g, n) == CLAE_OK, "%s", clae_last_error());
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float h = 1e-2f, saved = lam[i];
        float Lp, Lm;
        lam[i] = saved + h;
        ck_assert_int_eq(clae_model_tensor_set(m, "selector.logits", lam, n), CLAE_OK);
        ck_assert_int_eq(clae_model_loss(m, x, rows, &Lp), CLAE_OK);
        lam[i] = saved - h;
        ck_assert_int_eq(clae_model_tensor_set(m, "selector.logits", lam, n), CLAE_OK);
        ck_assert_int_eq(clae_model_loss(m, x, rows, &Lm), CLAE_OK);
        lam[i] = saved;
        ck_assert_int_eq(clae_model_tensor_set(m, "selector.logits", lam, n), CLAE_OK);
        double num = ((double)Lp - Lm) / (2.0 * h), rel = fabs(num - g[i]) / (fabs(num) + fabs(g[i]) + 1e-2);
        if (rel > worst) worst = rel;
        ck_assert_msg(rel < 5e-3, "selector.logits[%zu]: analytic %.6g, numeric %.6g", i, (double)g[i], num);
    }
    fprintf(stderr, "concrete gradient check: decoder %d coordinates (worst %.2e), selector logits 30 (worst %.2e)\n",
            r.checked, r.worst, worst);
    clae_model_destroy(m);
}
END_TEST

/* The same Gumbel draws on both paths: loss, the logits' gradient and five steps agree; the picks are equal. */
START_TEST(test_concrete_opencl_matches_reference)
{
    clae_model *m[2];
    for (int p = 0; p < 2; p++) m[p] = make(test_rt(p), SMALL, CLAE_LOSS_BCE, 8);
    const size_t D = 10, rows = 8, n = 30;
    float x[8 * 10], loss[2], g[2][30];
    test_fill_uniform(x, rows * D, 4u, 0.0f, 1.0f);
    for (int p = 0; p < 2; p++) {
        ck_assert_msg(clae_model_loss(m[p], x, rows, &loss[p]) == CLAE_OK, "path %d: %s", p, clae_last_error());
        ck_assert_int_eq(clae_model_tensor_gradient(m[p], x, rows, "selector.logits", g[p], n), CLAE_OK);
    }
    ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-5f * fabsf(loss[0]), "loss %g vs %g", loss[1], loss[0]);
    ck_assert_allclose(g[1], g[0], n, 1e-6, 1e-4);
    for (int s = 0; s < 5; s++)
        for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_train_step(m[p], x, rows, &loss[p]), CLAE_OK);
    float lam[2][30];
    size_t picks[2][3], k[2];
    for (int p = 0; p < 2; p++) {
        ck_assert_int_eq(clae_model_tensor_get(m[p], "selector.logits", lam[p], n), CLAE_OK);
        ck_assert_int_eq(clae_model_selection(m[p], picks[p], 3, &k[p], NULL), CLAE_OK);
    }
    ck_assert_allclose(lam[1], lam[0], n, 1e-5, 1e-4);
    ck_assert_mem_eq(picks[0], picks[1], sizeof picks[0]);
    /* Inference reads the picked columns themselves. */
    float codes[8 * 3];
    ck_assert_int_eq(clae_model_encode(m[1], x, rows, codes), CLAE_OK);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < 3; j++) ck_assert_float_eq(codes[r * 3 + j], x[r * D + picks[1][j]]);
    for (int p = 0; p < 2; p++) clae_model_destroy(m[p]);
}
END_TEST

START_TEST(test_concrete_plans)
{
    for (int p = 0; p < 2; p++) {
        clae_model_config c;
        clae_model_config_default(&c);
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
        m[k] = make(test_rt_ref(), SMALL, CLAE_LOSS_BCE, 8);
        if (k) unsetenv("CLAE_PLAN");
    }
    float x[6 * 10], loss[2];
    test_fill_uniform(x, 60, 5u, 0.0f, 1.0f);
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++) ck_assert_int_eq(clae_model_train_step(m[k], x, 6, &loss[k]), CLAE_OK);
    ck_assert_float_eq(loss[0], loss[1]);
    for (int k = 0; k < 2; k++) clae_model_destroy(m[k]);
}
END_TEST

/* Trains spec on train for EPOCHS epochs; fixed != NULL pins the selector to those K pixels (one-hot logits at
 * ±1000, which the softmax cannot leave: their gradient is 0). Returns the test MSE, and the picks when asked. */
enum { K = 50, D = 784, ROWS = 20000, EPOCHS = 10, BATCH = 100 };

static double train_and_test(const char *spec, const clae_dataset *train, const clae_dataset *test, const size_t *fixed,
                             size_t *picks, double *sure)
{
    /* A rate of 0.03: the logits must travel far in a few thousand steps (the paper trains 300 epochs at 1e-3). */
    clae_model *m = make_lr(test_rt(1), spec, CLAE_LOSS_BCE, BATCH, 0.03f);
    if (fixed) {
        float *lam = malloc((size_t)K * D * sizeof *lam);
        for (size_t i = 0; i < (size_t)K * D; i++) lam[i] = -1000.0f;
        for (int i = 0; i < K; i++) lam[(size_t)i * D + fixed[i]] = 1000.0f;
        ck_assert_int_eq(clae_model_tensor_set(m, "selector.logits", lam, (size_t)K * D), CLAE_OK);
        free(lam);
    }
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = EPOCHS;
    clae_train_report r;
    ck_assert_msg(clae_model_train(m, train, &o, &r) == CLAE_OK, "%s", clae_last_error());
    float *err = malloc(test->rows * sizeof *err);
    ck_assert_int_eq(clae_model_row_errors(m, test->x, test->rows, err), CLAE_OK);
    double mse = 0.0;
    for (size_t i = 0; i < test->rows; i++) mse += err[i] / (double)test->rows;
    free(err);
    size_t k = 0;
    if (picks) ck_assert_int_eq(clae_model_selection(m, picks, K, &k, sure), CLAE_OK);
    clae_model_destroy(m);
    return mse;
}

/* K = 50 on Fashion-MNIST (PoCL): the selector picks 50 distinct pixels, and a decoder trained on them reconstructs
 * better than the same decoder trained the same way on 50 random pixels (the paper's way of scoring a selection). */
START_TEST(test_concrete_fashion_50_pixels)
{
    clae_dataset *train = NULL, *test = NULL;
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &train) == CLAE_OK);
    ck_assert(clae_dataset_load(test_data_path("t10k-images-idx3-ubyte.gz"), &test) == CLAE_OK);
    clae_dataset_truncate(train, ROWS);
    clae_dataset_truncate(test, 1000);
    char spec[256];
    snprintf(spec, sizeof spec, "784,concrete:%d:steps=%d@code,dense:320:relu,dense:784:sigmoid", K, EPOCHS * ROWS / BATCH);
    size_t picks[K], random[K];
    double sure = 0.0;
    double mse_concrete = train_and_test(spec, train, test, NULL, picks, &sure);
    int distinct = 0;
    for (int i = 0; i < K; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= picks[j] == picks[i];
        distinct += !seen;
    }
    for (int n = 0, e = 0; n < K; e++) {
        const uint32_t ctr[4] = {(uint32_t)e, 0, 0, 77}, key[2] = {1, 2};
        uint32_t w[4];
        clae_philox4x32_10(ctr, key, w);
        size_t d = w[0] % D;
        int seen = 0;
        for (int i = 0; i < n; i++) seen |= random[i] == d;
        if (!seen) random[n++] = d;
    }
    double mse_selected = train_and_test(spec, train, test, picks, NULL, NULL);
    double mse_random = train_and_test(spec, train, test, random, NULL, NULL);
    fprintf(stderr, "fashion concrete K=50, %d epochs of %d rows: %d distinct pixels (mean pick probability %.3f), "
                    "test MSE %.5f; a decoder on those pixels %.5f, on 50 random pixels %.5f\n",
            EPOCHS, ROWS, distinct, sure, mse_concrete, mse_selected, mse_random);
    ck_assert_int_eq(distinct, K);
    ck_assert_msg(mse_selected < 0.95 * mse_random, "selected pixels %g do not beat random ones %g by 5%%", mse_selected,
                  mse_random);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

Suite *suite_concrete(void)
{
    Suite *s = suite_create("concrete");
    TCase *tc = tcase_create("concrete");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_concrete_gradient);
    tcase_add_test(tc, test_concrete_opencl_matches_reference);
    tcase_add_test(tc, test_concrete_plans);
    tcase_add_test(tc, test_concrete_fashion_50_pixels);
    suite_add_tcase(s, tc);
    return s;
}
