/* test_conv.c — the conv suite: convolutional autoencoders on the layer core, each image layer's gradient
 * checked by finite differences, OpenCL against the reference, plans, poison, and Fashion-MNIST runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Small nets that together use every image layer, with smooth units so finite differences see no kinks
 * but the max-pool's (skipped where h and h/2 disagree). */
static const char *const nets[] = {
    /* odd width: the pool drops the last column; unpool mirrors the pool */
    "1x6x5,conv:3:3:p1:tanh,maxpool:2,conv:3:3:p1:tanh@code,unpool,conv:1:3:p1:sigmoid",
    /* stride 2 down, transposed conv back up */
    "2x5x5,conv:3:3:s2:tanh@code,convT:2:3:s2:sigmoid",
    /* dense layers between, reshape and nearest upsampling; a penalty on a conv output */
    "1x4x4,conv:2:3:p1:tanh+l1:0.01,maxpool:2,flatten,dense:5:tanh@code,dense:8:tanh,reshape:2x2x2,upsample:2,"
    "conv:1:3:p1:sigmoid",
    /* stride 2 with padding, convT with padding, linear output for sse */
    "1x5x5,conv:2:3:s2:p1:tanh@code,convT:1:3:s2:p1:linear",
};
#define N_NETS ((int)(sizeof nets / sizeof nets[0]))

static clae_model *make(clae_runtime *rt, const char *spec, clae_loss loss, int batch, unsigned flags)
{
    return test_model_arch(rt, spec, loss, batch, 11, 0.0f, flags);
}

static clae_loss loss_of(const char *spec) { return strstr(spec, ":linear") && !strstr(spec, "dense") ? CLAE_LOSS_SSE : CLAE_LOSS_BCE; }

static size_t input_width(const clae_model *m)
{
    clae_model_config c;
    clae_model_get_config(m, &c);
    return (size_t)c.sizes[0];
}

/* Every weight and bias of every conv, convT and dense layer against central differences of the loss. */
START_TEST(test_conv_gradients)
{
    const char *spec = nets[_i];
    /* sse keeps the loss small, so float rounding does not swamp the differences */
    clae_model *m = make(test_rt_ref(), spec, CLAE_LOSS_SSE, 4, 0);
    const size_t D = input_width(m), rows = 3;
    float *x = malloc(rows * D * sizeof *x);
    test_fill_uniform(x, rows * D, 5u + (uint32_t)_i, 0.05f, 0.95f);
    test_gradient_report r = test_gradient_check(m, x, rows, 1e-2f);
    fprintf(stderr, "conv gradient check %-40.40s %4d coordinates, %2d skipped, worst %.2e\n", spec, r.checked, r.skipped,
            r.worst);
    free(x);
    clae_model_destroy(m);
}
END_TEST

/* Training steps on PoCL follow the reference: every parameter after 5 steps. */
START_TEST(test_conv_opencl_matches_reference)
{
    const char *spec = nets[_i];
    clae_model *m[2];
    for (int p = 0; p < 2; p++) m[p] = make(test_rt(p), spec, loss_of(spec), 8, 0);
    const size_t D = input_width(m[0]), rows = 8;
    float *x = malloc(rows * D * sizeof *x);
    test_fill_uniform(x, rows * D, 9u, 0.0f, 1.0f);
    for (int s = 0; s < 5; s++)
        for (int p = 0; p < 2; p++) {
            float loss;
            ck_assert_msg(clae_model_train_step(m[p], x, rows, &loss) == CLAE_OK, "%s path %d: %s", spec, p,
                          clae_last_error());
        }
    clae_model_config c;
    clae_model_get_config(m[0], &c);
    for (int l = 0; l < c.n_layers; l++) {
        char name[48];
        int ndim;
        size_t shape[2] = {0, 1};
        for (int which = 0; which < 2; which++) {
            snprintf(name, sizeof name, "layers.%d.%s", l, which ? "bias" : "weight");
            if (clae_model_tensor_info(m[0], name, &ndim, shape) != CLAE_OK) continue;
            size_t n = shape[0] * (ndim == 2 ? shape[1] : 1);
            float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
            ck_assert_int_eq(clae_model_tensor_get(m[0], name, a, n), CLAE_OK);
            ck_assert_int_eq(clae_model_tensor_get(m[1], name, b, n), CLAE_OK);
            ck_assert_allclose(b, a, n, 1e-5, 1e-4);
            free(a);
            free(b);
        }
    }
    free(x);
    for (int p = 0; p < 2; p++) clae_model_destroy(m[p]);
}
END_TEST

/* The planner's independent overlap check, training and inference-only, both paths; and CLAE_PLAN=poison
 * changes nothing: the traced lifetimes cover every use. */
START_TEST(test_conv_plans)
{
    const char *spec = nets[_i];
    for (int p = 0; p < 2; p++)
        for (int f = 0; f < 2; f++) {
            clae_model *m = make(test_rt(p), spec, loss_of(spec), 8, (f ? CLAE_MODEL_INFERENCE : 0u) | CLAE_MODEL_PLAN_ONLY);
            char msg[512];
            const char *bad = test_check_model_plan(m, msg, sizeof msg);
            ck_assert_msg(bad == NULL, "%s path %d: %s", spec, p, bad);
            clae_model_destroy(m);
        }
    clae_model *m[2];
    for (int k = 0; k < 2; k++) {
        if (k) setenv("CLAE_PLAN", "poison", 1);
        m[k] = make(test_rt_ref(), spec, loss_of(spec), 8, 0);
        if (k) unsetenv("CLAE_PLAN");
    }
    const size_t D = input_width(m[0]), rows = 7;
    float *x = malloc(rows * D * sizeof *x);
    test_fill_uniform(x, rows * D, 3u, 0.0f, 1.0f);
    float loss[2];
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++) ck_assert_int_eq(clae_model_train_step(m[k], x, rows, &loss[k]), CLAE_OK);
    ck_assert_float_eq(loss[0], loss[1]);
    float *r[2];
    for (int k = 0; k < 2; k++) {
        r[k] = malloc(rows * D * sizeof *r[k]);
        ck_assert_int_eq(clae_model_reconstruct(m[k], x, rows, r[k]), CLAE_OK);
    }
    ck_assert_mem_eq(r[0], r[1], rows * D * sizeof *r[0]);
    for (int k = 0; k < 2; k++) {
        free(r[k]);
        clae_model_destroy(m[k]);
    }
    free(x);
}
END_TEST

/* A conv model's file holds its net; encode reads the code (after the pool marked @code). */
START_TEST(test_conv_file_and_encode)
{
    const char *spec = nets[0];
    clae_model *m = make(test_rt_ref(), spec, CLAE_LOSS_BCE, 4, 0);
    const char *path = test_tmp_path("conv.safetensors");
    ck_assert_int_eq(clae_model_save(m, path, NULL), CLAE_OK);
    clae_model *back = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), path, CLAE_MODEL_INFERENCE, 0, &back, NULL) == CLAE_OK, "%s",
                  clae_last_error());
    ck_assert_str_eq(clae_model_arch(back), clae_model_arch(m));
    const size_t D = 30, rows = 5, H = 3 * 3 * 2; /* the code: 3 channels of 3x2 (the conv after the pool) */
    clae_model_config c;
    clae_model_get_config(back, &c);
    ck_assert_int_eq(c.sizes[c.code_layer], (int)H);
    float x[5 * 30], a[5 * 18], b[5 * 18];
    test_fill_uniform(x, rows * D, 4u, 0.0f, 1.0f);
    ck_assert_int_eq(clae_model_encode(m, x, rows, a), CLAE_OK);
    ck_assert_int_eq(clae_model_encode(back, x, rows, b), CLAE_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    clae_model_destroy(back);
    clae_model_destroy(m);
}
END_TEST

/* ---- Fashion-MNIST ------------------------------------------------------------------------------ */

#define CONV_AE "1x28x28,conv:16:3:p1:relu,maxpool:2,conv:8:3:p1:relu,maxpool:2@code,unpool,conv:16:3:p1:relu,unpool," \
                "conv:1:3:p1:sigmoid"
#define TEST_ROWS 2000

static clae_dataset *fashion(const char *file, size_t rows)
{
    clae_dataset *ds = NULL;
    ck_assert_msg(clae_dataset_load(test_data_path(file), &ds) == CLAE_OK, "%s", clae_last_error());
    if (rows) clae_dataset_truncate(ds, rows);
    return ds;
}

/* One shuffled epoch (the library's trainer, PoCL), then the mean squared error per pixel on the test rows. */
static double epoch_then_test_mse(clae_model *m, const clae_dataset *train, const clae_dataset *test)
{
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    clae_train_report r;
    ck_assert_msg(clae_model_fit_feature_stats(m, train) == CLAE_OK, "%s", clae_last_error());
    ck_assert_msg(clae_model_train(m, train, &o, &r) == CLAE_OK, "%s", clae_last_error());
    float *err = malloc(test->rows * sizeof *err);
    ck_assert_int_eq(clae_model_row_errors(m, test->x, test->rows, err), CLAE_OK);
    double sum = 0.0;
    for (size_t i = 0; i < test->rows; i++) sum += err[i];
    free(err);
    return sum / (double)test->rows;
}

static size_t parameters(const clae_model *m)
{
    clae_model_config c;
    clae_model_get_config(m, &c);
    size_t total = 0;
    for (int l = 0; l < c.n_layers; l++) {
        size_t nw, nb;
        ck_assert_int_eq(clae_model_layer_sizes(m, l, &nw, &nb), CLAE_OK);
        total += nw + nb;
    }
    return total;
}

/* One epoch of the conv AE beats one epoch of the dense 784-256-64-256-784 reference. */
START_TEST(test_conv_fashion_beats_dense)
{
    clae_dataset *train = fashion("train-images-idx3-ubyte.gz", 0), *test = fashion("t10k-images-idx3-ubyte.gz", TEST_ROWS);
    clae_model_config c;
    clae_model_config_default(&c);
    clae_model *conv = NULL, *dense = NULL;
    ck_assert_msg(clae_model_create_arch(test_rt(1), &c, CONV_AE, 0, &conv) == CLAE_OK, "%s", clae_last_error());
    ck_assert_int_eq(clae_model_create(test_rt(1), &c, &dense), CLAE_OK);
    double mc = epoch_then_test_mse(conv, train, test), md = epoch_then_test_mse(dense, train, test);
    fprintf(stderr, "fashion 1 epoch: conv AE %zu parameters test MSE %.5f; dense 784-256-64-256-784 %zu parameters test "
                    "MSE %.5f; mean image %.5f\n",
            parameters(conv), mc, parameters(dense), md, test_mean_image_mse(train, test));
    ck_assert_msg(mc < md, "conv AE test MSE %g does not beat the dense reference's %g", mc, md);
    clae_model_destroy(conv);
    clae_model_destroy(dense);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

/* A denoising conv AE (mask noise on the input) beats the mean image on clean test images. */
START_TEST(test_denoising_conv_beats_mean_image)
{
    clae_dataset *train = fashion("train-images-idx3-ubyte.gz", 10000), *test = fashion("t10k-images-idx3-ubyte.gz", TEST_ROWS);
    clae_model_config c;
    clae_model_config_default(&c);
    c.lr = 0.01f; /* 40 steps: a tenth of a full epoch's, so a larger rate */
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create_arch(test_rt(1), &c,
                                         "1x28x28,noise:mask:0.25,conv:16:3:p1:relu,maxpool:2,conv:8:3:p1:relu,maxpool:2@code,"
                                         "unpool,conv:16:3:p1:relu,unpool,conv:1:3:p1:sigmoid",
                                         0, &m) == CLAE_OK,
                  "%s", clae_last_error());
    double mse = epoch_then_test_mse(m, train, test), base = test_mean_image_mse(train, test);
    fprintf(stderr, "fashion denoising conv AE (mask 0.25), 1 epoch of 10000 rows at lr 0.01: test MSE %.5f, mean image %.5f\n", mse, base);
    ck_assert_msg(mse < base, "denoising conv AE test MSE %g does not beat the mean image's %g", mse, base);
    clae_model_destroy(m);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

Suite *suite_conv(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_loop_test(tc, test_conv_gradients, 0, N_NETS);
    tcase_add_loop_test(tc, test_conv_opencl_matches_reference, 0, N_NETS);
    tcase_add_loop_test(tc, test_conv_plans, 0, N_NETS);
    tcase_add_test(tc, test_conv_file_and_encode);
    suite_add_tcase(s, tc);
    TCase *fm = tcase_create("fashion");
    tcase_set_timeout(fm, 900);
    tcase_add_test(fm, test_conv_fashion_beats_dense);
    tcase_add_test(fm, test_denoising_conv_beats_mean_image);
    suite_add_tcase(s, fm);
    return s;
}
