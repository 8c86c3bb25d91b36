/* test_model.c — the dense autoencoder: configuration, identical initial weights on both paths,
 * finite-difference gradients of the whole loss, inference consistency and real training on Fashion-MNIST. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "test_util.h"

/* ---- configuration ---------------------------------------------------- */

START_TEST(test_config_layers)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(c.n_layers, 4);
    ck_assert_int_eq(c.sizes[0], 784);
    ck_assert_int_eq(c.sizes[2], 64);
    ck_assert_int_eq(c.code_layer, 2);
    ck_assert_int_eq(c.activation[0], CLAE_ACT_RELU);
    ck_assert_int_eq(c.activation[3], CLAE_ACT_SIGMOID);
    ck_assert_int_eq(clae_model_config_validate(&c), CLAE_OK);

    /* The symmetric shorthand mirrors the encoder. */
    ck_assert_int_eq(clae_model_config_set_layers(&c, "784,1000,500,250,30"), CLAE_OK);
    ck_assert_int_eq(c.n_layers, 8);
    int want[] = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
    for (int i = 0; i <= 8; i++) ck_assert_int_eq(c.sizes[i], want[i]);
    ck_assert_int_eq(c.code_layer, 4);
    ck_assert_int_eq(c.activation[7], CLAE_ACT_SIGMOID);
    ck_assert_int_eq(c.activation[6], CLAE_ACT_RELU);

    ck_assert_int_eq(clae_model_config_set_layers(&c, "784,x,64"), CLAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "entry 2"));
    ck_assert_int_eq(clae_model_config_set_layers(&c, "784"), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "784,64,"), CLAE_ERR_ARG);

    clae_model_config_default(&c);
    c.loss = CLAE_LOSS_BCE;
    c.activation[c.n_layers - 1] = CLAE_ACT_LINEAR;
    ck_assert_int_eq(clae_model_config_validate(&c), CLAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "sigmoid"));
    clae_model_config_default(&c);
    c.batch = 0;
    ck_assert_int_eq(clae_model_config_validate(&c), CLAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "batch"));

    clae_optimizer o;
    ck_assert_int_eq(clae_optimizer_parse("ADAM", &o), CLAE_OK);
    ck_assert_int_eq(o, CLAE_OPT_ADAM);
    ck_assert_int_eq(clae_optimizer_parse("rmsprop", &o), CLAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "adadelta"));
}
END_TEST

/* ---- identical initial weights ---------------------------------------- */

START_TEST(test_init_identical_on_both_paths)
{
    clae_model_config c;
    clae_model_config_default(&c);
    clae_model *m[2];
    for (int p = 0; p < 2; p++)
        ck_assert_msg(clae_model_create(test_rt(p), &c, &m[p]) == CLAE_OK, "%s", clae_last_error());
    for (int l = 0; l < c.n_layers; l++) {
        size_t nw = (size_t)c.sizes[l + 1] * (size_t)c.sizes[l];
        float *w0 = malloc(nw * sizeof *w0), *w1 = malloc(nw * sizeof *w1);
        float *b1 = malloc((size_t)c.sizes[l + 1] * sizeof *b1);
        ck_assert_int_eq(clae_model_get_layer(m[0], l, w0, NULL), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(m[1], l, w1, b1), CLAE_OK);
        ck_assert_msg(memcmp(w0, w1, nw * sizeof *w0) == 0, "layer %d weights differ between paths", l);
        /* He uniform before relu, Glorot before the sigmoid output (Glorot & Bengio 2010; He et al. 2015). */
        double a = c.activation[l] == CLAE_ACT_RELU ? sqrt(6.0 / c.sizes[l]) : sqrt(6.0 / (c.sizes[l] + c.sizes[l + 1]));
        double mean = 0.0, maxabs = 0.0;
        for (size_t i = 0; i < nw; i++) {
            mean += w0[i];
            if (fabs(w0[i]) > maxabs) maxabs = fabs(w0[i]);
        }
        mean /= (double)nw;
        ck_assert_msg(maxabs <= a && maxabs > 0.9 * a, "layer %d max |w| %g vs limit %g", l, maxabs, a);
        ck_assert_msg(fabs(mean) < 0.05 * a, "layer %d mean %g", l, mean);
        for (int j = 0; j < c.sizes[l + 1]; j++) ck_assert(b1[j] == 0.0f);
        free(w0);
        free(w1);
        free(b1);
    }
    /* A different seed gives different weights. */
    clae_model *other;
    c.seed = 43;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c, &other), CLAE_OK);
    float wa[8], wb[8];
    float *full = malloc((size_t)c.sizes[1] * c.sizes[0] * sizeof *full);
    ck_assert_int_eq(clae_model_get_layer(other, 0, full, NULL), CLAE_OK);
    memcpy(wb, full, sizeof wb);
    ck_assert_int_eq(clae_model_get_layer(m[0], 0, full, NULL), CLAE_OK);
    memcpy(wa, full, sizeof wa);
    ck_assert(memcmp(wa, wb, sizeof wa) != 0);
    free(full);
    clae_model_destroy(other);
    clae_model_destroy(m[0]);
    clae_model_destroy(m[1]);
}
END_TEST

/* ---- finite-difference gradient check --------------------------------- */

/* One gradient-check configuration: a small deep AE so the float32 loss is
 * resolved finely enough for central differences in float32. */
typedef struct gc_case {
    const char *layers;
    clae_activation hidden, output;
    clae_loss loss;
    float h; /* central-difference step: larger where smooth, small near relu kinks */
} gc_case;

static const gc_case gc_cases[] = {
    {"7,5,3", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, 1e-2f},
    {"7,5,3", CLAE_ACT_SIGMOID, CLAE_ACT_LINEAR, CLAE_LOSS_SSE, 1e-2f},
    {"7,6,4", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, 1e-2f},
    {"7,6,4", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, 1e-2f},
    {"7,4", CLAE_ACT_LINEAR, CLAE_ACT_TANH, CLAE_LOSS_SSE, 1e-2f},
};

/* Central differences on every parameter of every tensor (test_gradient_check in
 * test_util.c states the tolerance and how kinks are recognised). */
START_TEST(test_gradient_check_reference)
{
    const gc_case *gc = &gc_cases[_i];
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, gc->layers), CLAE_OK);
    clae_model_config_set_activations(&c, gc->hidden, gc->output);
    c.loss = gc->loss;
    c.batch = 5;
    c.seed = 7 + (uint64_t)_i;
    clae_model *m;
    ck_assert_msg(clae_model_create(test_rt_ref(), &c, &m) == CLAE_OK, "%s", clae_last_error());

    size_t rows = 5, D = (size_t)c.sizes[0];
    float x[5 * 7];
    test_fill_uniform(x, rows * D, 99, 0.0f, 1.0f);
    /* Non-zero biases so every bias gradient is exercised away from symmetry. */
    for (int l = 0; l < c.n_layers; l++) {
        float b[16];
        test_fill_uniform(b, (size_t)c.sizes[l + 1], 500 + (uint32_t)l, -0.3f, 0.3f);
        ck_assert_int_eq(clae_model_set_layer(m, l, NULL, b), CLAE_OK);
    }
    test_gradient_report r = test_gradient_check(m, x, rows, gc->h);
    fprintf(stderr, "gradient check case %d: %d coordinates, %d skipped at kinks, worst %.2e\n", _i,
            r.checked + r.skipped, r.skipped, r.worst);
    clae_model_destroy(m);
}
END_TEST

/* ---- inference consistency -------------------------------------------- */

/* row_errors equals the MSE of reconstruct, encode has the code width, and
 * chunking over more rows than the batch gives the same rows; OpenCL matches
 * cpu-ref within atol 1e-5 + rtol 1e-4 (float GEMM sums of up to 784 terms). */
START_TEST(test_inference_paths_agree)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "33,17,5"), CLAE_OK);
    c.batch = 8;
    size_t rows = 19, D = 33, H = 5; /* 19 rows: two full chunks and a partial one */
    float *x = malloc(rows * D * sizeof *x);
    test_fill_uniform(x, rows * D, 3, 0.0f, 1.0f);
    float *rec[2], *err[2], *code[2];
    for (int p = 0; p < 2; p++) {
        clae_model *m;
        ck_assert_msg(clae_model_create(test_rt(p), &c, &m) == CLAE_OK, "%s", clae_last_error());
        rec[p] = malloc(rows * D * sizeof(float));
        err[p] = malloc(rows * sizeof(float));
        code[p] = malloc(rows * H * sizeof(float));
        ck_assert_int_eq(clae_model_reconstruct(m, x, rows, rec[p]), CLAE_OK);
        ck_assert_int_eq(clae_model_row_errors(m, x, rows, err[p]), CLAE_OK);
        ck_assert_int_eq(clae_model_encode(m, x, rows, code[p]), CLAE_OK);
        for (size_t r = 0; r < rows; r++) {
            double mse = 0.0;
            for (size_t i = 0; i < D; i++) mse += ((double)rec[p][r * D + i] - x[r * D + i]) * ((double)rec[p][r * D + i] - x[r * D + i]);
            mse /= (double)D;
            ck_assert_msg(fabs(mse - err[p][r]) <= 1e-6 + 1e-5 * mse, "path %d row %zu: %g vs %g", p, r, mse, err[p][r]);
        }
        /* Too many rows for one training step is an argument error, not a crash. */
        float L;
        ck_assert_int_eq(clae_model_train_step(m, x, rows, &L), CLAE_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(clae_model_error(m), "batch"));
        clae_model_destroy(m);
    }
    ck_assert_allclose(rec[1], rec[0], rows * D, 1e-5, 1e-4);
    ck_assert_allclose(err[1], err[0], rows, 1e-6, 1e-4);
    ck_assert_allclose(code[1], code[0], rows * H, 1e-5, 1e-4);
    for (int p = 0; p < 2; p++) {
        free(rec[p]);
        free(err[p]);
        free(code[p]);
    }
    free(x);
}
END_TEST

/* ---- data shape ---------------------------------------------------------- */

START_TEST(test_dimension_mismatch)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "100,20"), CLAE_OK);
    clae_model *m;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c, &m), CLAE_OK);
    clae_dataset ds = {.rows = 2, .cols = 784, .x = NULL};
    snprintf(ds.path, sizeof ds.path, "%s", "some/images.idx");
    ck_assert_int_eq(clae_model_check_data(m, &ds), CLAE_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "some/images.idx"));
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "784"));
    ck_assert_ptr_nonnull(strstr(clae_model_error(m), "100"));
    ds.cols = 100;
    ck_assert_int_eq(clae_model_check_data(m, &ds), CLAE_OK);
    clae_model_destroy(m);
}
END_TEST

/* ---- training on Fashion-MNIST ----------------------------------------- */

typedef struct fm_data {
    clae_dataset *train, *test;
    double baseline_mse; /* MSE of predicting the training mean image on the test set */
} fm_data;

static fm_data load_fashion(size_t train_rows, size_t test_rows)
{
    fm_data d;
    ck_assert_msg(clae_dataset_load_idx(test_data_path("train-images-idx3-ubyte.gz"), &d.train) == CLAE_OK, "%s",
                  clae_last_error());
    ck_assert_msg(clae_dataset_load_idx(test_data_path("t10k-images-idx3-ubyte.gz"), &d.test) == CLAE_OK, "%s",
                  clae_last_error());
    clae_dataset_truncate(d.train, train_rows);
    clae_dataset_truncate(d.test, test_rows);
    size_t D = d.train->cols;
    double *mean = calloc(D, sizeof *mean);
    for (size_t r = 0; r < d.train->rows; r++)
        for (size_t i = 0; i < D; i++) mean[i] += d.train->x[r * D + i];
    for (size_t i = 0; i < D; i++) mean[i] /= (double)d.train->rows;
    double se = 0.0;
    for (size_t r = 0; r < d.test->rows; r++)
        for (size_t i = 0; i < D; i++) se += (d.test->x[r * D + i] - mean[i]) * (d.test->x[r * D + i] - mean[i]);
    d.baseline_mse = se / ((double)d.test->rows * (double)D);
    free(mean);
    return d;
}

static double test_mse(clae_model *m, const clae_dataset *test)
{
    float *err = malloc(test->rows * sizeof *err);
    ck_assert_msg(clae_model_row_errors(m, test->x, test->rows, err) == CLAE_OK, "%s", clae_model_error(m));
    double s = 0.0;
    for (size_t r = 0; r < test->rows; r++) s += err[r];
    free(err);
    return s / (double)test->rows;
}

/* One epoch on 5,000 images, the reference model at batch 64, on cpu-ref and
 * OpenCL with the same seed and batches. Both must beat the mean-image
 * baseline on 2,000 test images, and their weights must agree after the first
 * 20 steps within atol 1e-4 + rtol 1e-3 (float sums in a different order,
 * amplified by Adam's normalised steps). */
START_TEST(test_train_fashion_one_epoch)
{
    fm_data d = load_fashion(5000, 2000);
    clae_model_config c;
    clae_model_config_default(&c);
    c.batch = 64;
    size_t D = d.train->cols, B = (size_t)c.batch;
    size_t *order = malloc(d.train->rows * sizeof *order);
    float *batch = malloc(B * D * sizeof *batch);
    clae_shuffle_order(d.train->rows, c.seed, 0, order);
    size_t nw0 = (size_t)c.sizes[1] * D;
    float *w20[2];
    double mse[2], first_loss[2], last_loss[2];
    for (int p = 0; p < 2; p++) {
        clae_model *m;
        ck_assert_msg(clae_model_create(test_rt(p), &c, &m) == CLAE_OK, "%s", clae_last_error());
        ck_assert_int_eq(clae_model_check_data(m, d.train), CLAE_OK);
        w20[p] = malloc(nw0 * sizeof(float));
        size_t step = 0;
        for (size_t first = 0; first < d.train->rows; first += B, step++) {
            size_t n = d.train->rows - first < B ? d.train->rows - first : B;
            ck_assert_int_eq(clae_dataset_gather(d.train, order + first, n, batch), CLAE_OK);
            float L;
            ck_assert_msg(clae_model_train_step(m, batch, n, &L) == CLAE_OK, "%s", clae_model_error(m));
            if (step == 0) first_loss[p] = L;
            last_loss[p] = L;
            if (step == 19) ck_assert_int_eq(clae_model_get_layer(m, 0, w20[p], NULL), CLAE_OK);
        }
        mse[p] = test_mse(m, d.test);
        fprintf(stderr, "train_fashion %s: loss %.2f -> %.2f, test MSE %.5f (mean-image baseline %.5f)\n",
                p ? "opencl" : "cpu-ref", first_loss[p], last_loss[p], mse[p], d.baseline_mse);
        ck_assert_msg(mse[p] < d.baseline_mse, "path %d: test MSE %g not below baseline %g", p, mse[p], d.baseline_mse);
        ck_assert(last_loss[p] < first_loss[p]);
        clae_model_destroy(m);
    }
    double maxd = 0.0;
    for (size_t i = 0; i < nw0; i++)
        if (fabs((double)w20[0][i] - w20[1][i]) > maxd) maxd = fabs((double)w20[0][i] - w20[1][i]);
    fprintf(stderr, "train_fashion: max |dW| between paths after 20 steps: %.3g\n", maxd);
    ck_assert_allclose(w20[1], w20[0], nw0, 1e-4, 1e-3);
    ck_assert_msg(fabs(mse[0] - mse[1]) <= 1e-3 * mse[0] + 1e-5, "final test MSE differs: %g vs %g", mse[0], mse[1]);
    free(w20[0]);
    free(w20[1]);
    free(order);
    free(batch);
    clae_dataset_free(d.train);
    clae_dataset_free(d.test);
}
END_TEST

/* Every optimizer lowers the loss of a small model on a fixed batch, on both
 * paths, and the two paths stay together (atol 1e-4 + rtol 1e-3). */
START_TEST(test_every_optimizer_learns)
{
    clae_optimizer opt = (clae_optimizer)_i;
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "33,16,7"), CLAE_OK);
    clae_model_config_set_activations(&c, CLAE_ACT_TANH, CLAE_ACT_SIGMOID);
    c.batch = 32;
    c.optimizer = opt;
    /* Rates that are stable for this model; ADADELTA has none (its step size adapts from 0). */
    static const float lr[CLAE_OPT_COUNT] = {0.1f, 0.02f, 0.02f, 1e-2f, 1.0f};
    c.lr = lr[opt];
    size_t D = 33, B = 32;
    float x[32 * 33];
    test_fill_uniform(x, B * D, 11, 0.0f, 1.0f);
    float *w[2];
    for (int p = 0; p < 2; p++) {
        clae_model *m;
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &m), CLAE_OK);
        float L0 = 0, L = 0;
        for (int s = 0; s < 60; s++) ck_assert_int_eq(clae_model_train_step(m, x, B, s == 0 ? &L0 : &L), CLAE_OK);
        fprintf(stderr, "%s on path %d: loss %g -> %g after 60 steps\n", clae_optimizer_name(opt), p, L0, L);
        ck_assert_msg(L < 0.97f * L0, "%s on path %d: loss %g -> %g", clae_optimizer_name(opt), p, L0, L);
        ck_assert_int_eq((int)clae_model_steps(m), 60);
        w[p] = malloc(16 * 33 * sizeof(float));
        ck_assert_int_eq(clae_model_get_layer(m, 0, w[p], NULL), CLAE_OK);
        clae_model_destroy(m);
    }
    ck_assert_allclose(w[1], w[0], 16 * 33, 1e-4, 1e-3);
    free(w[0]);
    free(w[1]);
}
END_TEST

/* ---- the reported loss ------------------------------------------------ */

/* The loss is read back only at the end of a step, after the update has been enqueued, so
 * every tensor it reads (the per-row losses, the penalties) must outlive the backward pass;
 * and loss = NULL skips it. Per configuration and path: the step's loss equals, bit for bit,
 * clae_model_loss on the same weights just before (a tensor reused by the backward pass would
 * change it), and a model stepped with loss = NULL ends with the same bits in every weight. */
START_TEST(test_step_loss_read_at_end_and_optional)
{
    static const char *const names[] = {"dense bce", "sparse kl sse", "contractive bce", "k-sparse sse"};
    const int k = _i;
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "40,24,8"), CLAE_OK);
    c.batch = 16;
    if (k == 1) {
        clae_model_config_set_activations(&c, CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID);
        c.loss = CLAE_LOSS_SSE;
        c.sparsity = CLAE_SPARSITY_KL;
    } else if (k == 2) {
        clae_model_config_set_activations(&c, CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID);
        c.contractive = 0.1f;
    } else if (k == 3) {
        clae_model_config_set_activations(&c, CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID);
        c.loss = CLAE_LOSS_SSE;
        c.ksparse_k = 3;
    }
    const size_t D = 40, B = 16;
    float x[16 * 40];
    for (int p = 0; p < 2; p++) {
        clae_model *with, *without;
        ck_assert_msg(clae_model_create(test_rt(p), &c, &with) == CLAE_OK, "%s", clae_last_error());
        ck_assert_int_eq(clae_model_create(test_rt(p), &c, &without), CLAE_OK);
        float first = 0.0f, last = 0.0f;
        test_fill_uniform(x, B * D, 100u, 0.0f, 1.0f);
        for (int s = 0; s < 6; s++) {
            float before, during, pen_before;
            ck_assert_int_eq(clae_model_loss(with, x, B, &before), CLAE_OK);
            pen_before = clae_model_last_penalty(with);
            ck_assert_int_eq(clae_model_train_step(with, x, B, &during), CLAE_OK);
            ck_assert_msg(memcmp(&before, &during, sizeof before) == 0, "%s, path %d, step %d: loss %.9g, step said %.9g",
                          names[k], p, s, (double)before, (double)during);
            ck_assert(memcmp(&pen_before, &(float){clae_model_last_penalty(with)}, sizeof(float)) == 0);
            ck_assert_int_eq(clae_model_train_step(without, x, B, NULL), CLAE_OK);
            if (s == 0) first = during;
            last = during;
        }
        ck_assert_msg(last < first, "%s, path %d: loss %g -> %g", names[k], p, (double)first, (double)last);
        if (k == 1 || k == 2) ck_assert_msg(clae_model_last_penalty(with) > 0.0f, "%s: no penalty", names[k]);
        ck_assert(clae_model_last_penalty(without) == 0.0f);
        ck_assert_int_eq((int)clae_model_steps(without), 6);
        for (int l = 0; l < c.n_layers; l++) {
            size_t nw = (size_t)c.sizes[l + 1] * (size_t)c.sizes[l], nb = (size_t)c.sizes[l + 1];
            float *w[2] = {malloc(nw * sizeof(float)), malloc(nw * sizeof(float))};
            float *b[2] = {malloc(nb * sizeof(float)), malloc(nb * sizeof(float))};
            ck_assert_int_eq(clae_model_get_layer(with, l, w[0], b[0]), CLAE_OK);
            ck_assert_int_eq(clae_model_get_layer(without, l, w[1], b[1]), CLAE_OK);
            ck_assert_msg(memcmp(w[0], w[1], nw * sizeof(float)) == 0 && memcmp(b[0], b[1], nb * sizeof(float)) == 0,
                          "%s, path %d: layer %d differs with loss = NULL", names[k], p, l);
            for (int i = 0; i < 2; i++) {
                free(w[i]);
                free(b[i]);
            }
        }
        clae_model_destroy(with);
        clae_model_destroy(without);
    }
}
END_TEST

/* ---- winner-take-all's winner count ---------------------------------- */

/* ⌈P·B/100⌉ winners per code unit (at least one), exactly, on both paths: the float share
 * 0.05f is 0.0500000007, and ⌈0.05f·100⌉ was 6. The count is read off the selection mask the
 * training forward leaves (an unplanned model, so no other tensor reuses its memory). */
START_TEST(test_wta_winner_count_exact)
{
    static const struct {
        double pct;
        int batch, rows, want;
    } cases[] = {
        {5, 100, 100, 5}, {5, 20, 20, 1},  {5, 50, 50, 3},    {10, 20, 20, 2}, {20, 50, 50, 10},
        {30, 100, 100, 30}, {7, 100, 100, 7}, {1, 50, 50, 1}, {100, 20, 20, 20}, {5, 100, 60, 3},
        {2.5, 100, 100, 3}, {3, 100, 100, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        clae_model_config c;
        clae_model_config_default(&c);
        ck_assert_int_eq(clae_model_config_set_layers(&c, "12,10"), CLAE_OK);
        clae_model_config_set_activations(&c, CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID);
        c.batch = cases[k].batch;
        c.wta_rate = (float)(cases[k].pct / 100.0); /* as --wta-rate P sets it */
        const size_t rows = (size_t)cases[k].rows, D = 12, H = 10;
        float *x = malloc(rows * D * sizeof *x), *mask = malloc(rows * H * sizeof *mask);
        test_fill_uniform(x, rows * D, 7u + (uint32_t)k, 0.0f, 1.0f);
        for (int p = 0; p < 2; p++) {
            clae_model *m;
            ck_assert_msg(clae_model_create_ex(test_rt(p), &c, CLAE_MODEL_UNPLANNED, &m) == CLAE_OK, "%s",
                          clae_last_error());
            float loss;
            ck_assert_int_eq(clae_model_loss(m, x, rows, &loss), CLAE_OK);
            const clae_buf *b = NULL;
            for (int i = 0; i < m->plan.n; i++)
                if (strcmp(m->plan.tensors[i].name, "select.mask") == 0) b = m->plan_dst[i];
            ck_assert_ptr_nonnull(b);
            ck_assert_int_eq(clae_buf_read(m->rt, *b, 0, mask, rows * H), CLAE_OK);
            for (size_t j = 0; j < H; j++) {
                int won = 0;
                for (size_t r = 0; r < rows; r++) won += mask[r * H + j] != 0.0f;
                ck_assert_msg(won == cases[k].want, "%g%% of %zu rows, path %d, unit %zu: %d winners, want %d",
                              cases[k].pct, rows, p, j, won, cases[k].want);
            }
            clae_model_destroy(m);
        }
        free(x);
        free(mask);
    }
}
END_TEST

Suite *suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_config_layers);
    tcase_add_test(tc, test_dimension_mismatch);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradients");
    tcase_add_loop_test(tc, test_gradient_check_reference, 0, (int)(sizeof gc_cases / sizeof gc_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("paths");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_init_identical_on_both_paths);
    tcase_add_test(tc, test_inference_paths_agree);
    tcase_add_loop_test(tc, test_every_optimizer_learns, 0, CLAE_OPT_COUNT);
    tcase_add_loop_test(tc, test_step_loss_read_at_end_and_optional, 0, 4);
    tcase_add_test(tc, test_wta_winner_count_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("train");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_train_fashion_one_epoch);
    suite_add_tcase(s, tc);
    return s;
}
