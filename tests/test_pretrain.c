/* test_pretrain.c — the pretrain suite: one CD-1 step against the formulas by hand, RBMs on OpenCL against the
 * reference, greedy layer-wise and RBM pretraining unrolled into a working net, and beating training from scratch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "models/pretrain.h"
#include "ops/mathf.h"
#include "test_util.h"

static double sigm(double z) { return 1.0 / (1.0 + exp(-z)); }

static void philox_words(uint64_t seed, uint64_t e, uint32_t s, uint32_t tag, uint32_t w[4])
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), s, tag};
    clae_philox4x32_10(ctr, key, w);
}

static clae_dataset *dataset_of(const float *x, size_t rows, size_t cols)
{
    clae_dataset *d = calloc(1, sizeof *d);
    d->rows = rows, d->cols = cols;
    d->x = malloc(rows * cols * sizeof *d->x);
    memcpy(d->x, x, rows * cols * sizeof *d->x);
    snprintf(d->path, sizeof d->path, "<test rows>");
    return d;
}

/* One CD-1 step of a 3×2 RBM on two rows, on both paths, against the update computed here in double from the
 * formulas: the initial W from its documented Philox stream, H0 from stream 4 keyed by the rows' indices, then
 * v1, P1, the statistics with weight decay and the momentum update (m = −ε·g on the first step, μ·0 vanishing). */
START_TEST(test_rbm_cd1_by_hand)
{
    const float x[6] = {0.9f, 0.1f, 0.6f, 0.2f, 0.8f, 0.4f};
    const size_t V = 3, H = 2, B = 2;
    for (int units = 0; units < 2; units++)
        for (int p = 0; p < 2; p++) {
            clae_dataset *d = dataset_of(x, B, V);
            const clae_rbm_spec s = {.visible = V, .hidden = H, .visible_units = CLAE_RBM_BERNOULLI,
                                     .hidden_units = units ? CLAE_RBM_GAUSSIAN : CLAE_RBM_BERNOULLI, .batch = B,
                                     .seed = 77, .layer = 1, .epochs = 1, .lr = 0.1f, .weight_decay = 2e-4f};
            float W[6], c[2], a[3];
            int stopped = 0;
            ck_assert_msg(clae_rbm_train(test_rt(p), d, &s, W, c, a, NULL, NULL, NULL, &stopped) == CLAE_OK, "%s",
                          clae_last_error());
            /* By hand. */
            double W0[6], P0[2][2], H0[2][2], v1[2][3], P1[2][2];
            const double lim = 0.1 * sqrt(3.0);
            for (size_t e = 0; e < H * V; e++) {
                uint32_t w[4];
                philox_words(77, e, CLAE_RBM_INIT_STREAM + 1, 9, w);
                W0[e] = (double)(float)((float)lim * (2.0f * ((float)(w[0] >> 8) * 0x1p-24f) - 1.0f));
            }
            for (size_t r = 0; r < B; r++) {
                for (size_t j = 0; j < H; j++) {
                    double z = 0.0;
                    for (size_t i = 0; i < V; i++) z += W0[j * V + i] * x[r * V + i];
                    P0[r][j] = units ? z : sigm(z);
                    uint32_t w[4];
                    philox_words(77, r * H + j, 0, CLAE_STREAM_RBM, w);
                    H0[r][j] = units ? P0[r][j] + clae_normal_bm(w[2], w[3])
                                     : ((float)(w[0] >> 8) * 0x1p-24f < (float)P0[r][j] ? 1.0 : 0.0);
                }
                for (size_t i = 0; i < V; i++) {
                    double z = 0.0;
                    for (size_t j = 0; j < H; j++) z += H0[r][j] * W0[j * V + i];
                    v1[r][i] = sigm(z);
                }
                for (size_t j = 0; j < H; j++) {
                    double z = 0.0;
                    for (size_t i = 0; i < V; i++) z += W0[j * V + i] * v1[r][i];
                    P1[r][j] = units ? z : sigm(z);
                }
            }
            for (size_t j = 0; j < H; j++) {
                double gc = 0.0;
                for (size_t r = 0; r < B; r++) gc += (P1[r][j] - P0[r][j]) / B;
                ck_assert_msg(fabs(c[j] - (-0.1 * gc)) <= 1e-6, "%s c[%zu] %g, by hand %g", p ? "opencl" : "ref", j,
                              (double)c[j], -0.1 * gc);
                for (size_t i = 0; i < V; i++) {
                    double g = 2e-4 * W0[j * V + i];
                    for (size_t r = 0; r < B; r++) g += (P1[r][j] * v1[r][i] - P0[r][j] * x[r * V + i]) / B;
                    const double want = W0[j * V + i] - 0.1 * g;
                    ck_assert_msg(fabs(W[j * V + i] - want) <= 1e-6, "%s W[%zu,%zu] %.9g, by hand %.9g",
                                  p ? "opencl" : "ref", j, i, (double)W[j * V + i], want);
                }
            }
            for (size_t i = 0; i < V; i++) {
                double ga = 0.0;
                for (size_t r = 0; r < B; r++) ga += (v1[r][i] - x[r * V + i]) / B;
                ck_assert_msg(fabs(a[i] - (-0.1 * ga)) <= 1e-6, "a[%zu] %g, by hand %g", i, (double)a[i], -0.1 * ga);
            }
            clae_dataset_free(d);
        }
}
END_TEST

static int count_epochs(uint64_t epoch, double mse, void *user)
{
    double *seen = user;
    seen[epoch - 1] = mse;
    return 0;
}

/* Ten epochs of an RBM on random data, Bernoulli and Gaussian units: PoCL follows the reference (the states are the
 * same bits wherever the hidden means agree), and the one-step reconstruction error falls. */
START_TEST(test_rbm_opencl_matches_reference)
{
    const size_t rows = 150, V = 12, H = 5;
    float *x = malloc(rows * V * sizeof *x);
    test_fill_uniform(x, rows * V, 5u, 0.0f, 1.0f);
    for (size_t i = 0; i < rows * V; i++) x[i] = x[i] * x[i]; /* skewed, so there is something to learn */
    clae_dataset *d = dataset_of(x, rows, V);
    for (int units = 0; units < 2; units++) {
        const clae_rbm_spec s = {.visible = V, .hidden = H, .visible_units = units ? CLAE_RBM_GAUSSIAN : CLAE_RBM_BERNOULLI,
                                 .hidden_units = units ? CLAE_RBM_GAUSSIAN : CLAE_RBM_BERNOULLI, .batch = 32,
                                 .seed = 3, .layer = 0, .epochs = 10, .lr = units ? 0.01f : 0.1f, .weight_decay = 2e-4f};
        float W[2][60], c[2][5], a[2][12], hid[2][150 * 5];
        double mse[2][10];
        for (int p = 0; p < 2; p++) {
            int stopped = 0;
            ck_assert_msg(clae_rbm_train(test_rt(p), d, &s, W[p], c[p], a[p], hid[p], count_epochs, mse[p], &stopped) ==
                              CLAE_OK, "%s", clae_last_error());
        }
        fprintf(stderr, "rbm %s units, 10 epochs: one-step reconstruction error %.5f -> %.5f (ref), %.5f -> %.5f "
                        "(opencl)\n", units ? "gaussian" : "bernoulli", mse[0][0], mse[0][9], mse[1][0], mse[1][9]);
        ck_assert_allclose(W[1], W[0], H * V, 1e-5, 1e-4);
        ck_assert_allclose(c[1], c[0], H, 1e-5, 1e-4);
        ck_assert_allclose(a[1], a[0], V, 1e-5, 1e-4);
        ck_assert_allclose(hid[1], hid[0], rows * H, 1e-5, 1e-4);
        for (int p = 0; p < 2; p++) ck_assert_msg(mse[p][9] < 0.9 * mse[p][0], "error %g -> %g", mse[p][0], mse[p][9]);
    }
    clae_dataset_free(d);
    free(x);
}
END_TEST

static double test_mse(clae_model *m, const clae_dataset *ds)
{
    float *err = malloc(ds->rows * sizeof *err);
    ck_assert_int_eq(clae_model_row_errors(m, ds->x, ds->rows, err), CLAE_OK);
    double sum = 0.0;
    for (size_t i = 0; i < ds->rows; i++) sum += err[i];
    free(err);
    return sum / (double)ds->rows;
}

static void load_fashion(size_t rows, size_t test_rows, clae_dataset **train, clae_dataset **test)
{
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), train) == CLAE_OK);
    ck_assert(clae_dataset_load(test_data_path("t10k-images-idx3-ubyte.gz"), test) == CLAE_OK);
    clae_dataset_truncate(*train, rows);
    clae_dataset_truncate(*test, test_rows);
}

static int reports(const clae_pretrain_report *r, void *user)
{
    int *calls = user;
    ck_assert(r->layer >= 0 && r->layer < r->layers && r->epoch >= 1 && r->epoch <= r->epochs);
    ck_assert(isfinite(r->recon_mse) && r->recon_mse >= 0.0);
    (*calls)++;
    return 0;
}

/* Pretraining alone, before any fine-tuning, unrolls into a working autoencoder (a wrong order or transpose would
 * not be one): its test MSE falls far below the initial net's, for both kinds, plain, denoising and tied nets;
 * an RBM's decoder layer is its encoder layer transposed. */
START_TEST(test_pretrain_unrolls)
{
    clae_dataset *train, *test;
    load_fashion(5000, 500, &train, &test);
    static const struct {
        const char *spec;
        clae_pretrain_kind kind;
    } cases[] = {
        {"784,dense:128:sigmoid,dense:32:sigmoid@code,dense:128:sigmoid,dense:784:sigmoid", CLAE_PRETRAIN_RBM},
        {"784,dense:128:sigmoid,dense:32:linear@code,dense:128:sigmoid,dense:784:sigmoid", CLAE_PRETRAIN_RBM},
        {"784,dense:128:sigmoid,dense:32:sigmoid@code,dense:128:sigmoid:tied=1,dense:784:sigmoid:tied=0", CLAE_PRETRAIN_RBM},
        {"784,dense:128:relu,dense:32:relu@code,dense:128:relu,dense:784:sigmoid", CLAE_PRETRAIN_LAYERWISE},
        {"784,noise:mask:0.25,dense:128:relu,dense:32:relu@code,dense:128:relu,dense:784:sigmoid", CLAE_PRETRAIN_LAYERWISE},
        {"784,dense:128:sigmoid,dense:32:sigmoid@code,dense:128:sigmoid:tied=1,dense:784:sigmoid:tied=0", CLAE_PRETRAIN_LAYERWISE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        clae_model *m = test_model_arch(test_rt(1), cases[k].spec, CLAE_LOSS_BCE, 100, 42, 0.0f, 0);
        ck_assert_int_eq(clae_model_fit_feature_stats(m, train), CLAE_OK);
        const double before = test_mse(m, test);
        clae_pretrain_options o;
        clae_pretrain_options_default(&o);
        o.kind = cases[k].kind;
        o.epochs = 3;
        int calls = 0;
        o.on_epoch = reports;
        o.user = &calls;
        clae_pretrain_report r;
        ck_assert_msg(clae_model_pretrain(m, train, &o, &r) == CLAE_OK, "%s", clae_last_error());
        ck_assert_int_eq(calls, 2 * 3);
        ck_assert_int_eq(r.layers, 2);
        ck_assert_uint_eq(clae_model_steps(m), 0);
        const double after = test_mse(m, test);
        fprintf(stderr, "pretrain %-9s %s: test MSE %.5f at init, %.5f unrolled (layer 2's reconstruction %.5f)\n",
                clae_pretrain_name(o.kind), cases[k].spec, before, after, r.recon_mse);
        ck_assert_msg(after < 0.6 * before, "%s: %g -> %g", cases[k].spec, before, after);
        if (o.kind == CLAE_PRETRAIN_RBM && !strstr(cases[k].spec, "tied")) {
            float *We = malloc(128 * 784 * sizeof *We), *Wd = malloc(784 * 128 * sizeof *Wd);
            ck_assert_int_eq(clae_model_get_layer(m, 0, We, NULL), CLAE_OK);
            ck_assert_int_eq(clae_model_get_layer(m, 3, Wd, NULL), CLAE_OK);
            for (size_t i = 0; i < 784; i++)
                for (size_t j = 0; j < 128; j++) ck_assert(Wd[i * 128 + j] == We[j * 784 + i]);
            free(We);
            free(Wd);
        }
        clae_model_destroy(m);
    }
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

/* Nets pretraining cannot build are refused, naming what is wrong, and the weights stay as they were. */
START_TEST(test_pretrain_refusals)
{
    static const struct {
        const char *spec;
        clae_pretrain_kind kind;
        const char *says;
    } bad[] = {
        {"8,dense:6:sigmoid,dense:4:sigmoid@code,dense:8:sigmoid", CLAE_PRETRAIN_RBM, "even number of dense layers"},
        {"8,dense:6:sigmoid,dense:4:sigmoid@code,dense:5:sigmoid,dense:8:sigmoid", CLAE_PRETRAIN_RBM, "symmetric"},
        {"8,dense:6:sigmoid@code,dense:4:sigmoid,dense:6:sigmoid,dense:8:sigmoid", CLAE_PRETRAIN_LAYERWISE, "the code in the middle"},
        {"8,dense:6:relu,dense:4:sigmoid@code,dense:6:sigmoid,dense:8:sigmoid", CLAE_PRETRAIN_RBM, "sigmoid units"},
        {"8,noise:mask:0.2,dense:6:sigmoid,dense:4:sigmoid@code,dense:6:sigmoid,dense:8:sigmoid", CLAE_PRETRAIN_RBM, "does not corrupt"},
        {"1x4x4,conv:2:3:p1:relu,flatten,dense:4:relu@code,dense:32:relu,dense:16:sigmoid", CLAE_PRETRAIN_LAYERWISE, "not one"},
    };
    float x[16 * 4];
    test_fill_uniform(x, 16 * 4, 2u, 0.0f, 1.0f);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        clae_model *m = test_model_arch(test_rt_ref(), bad[k].spec, CLAE_LOSS_BCE, 4, 1, 0.0f, 0);
        clae_model_config c;
        clae_model_get_config(m, &c);
        clae_dataset *d = dataset_of(x, 4, (size_t)c.sizes[0]);
        float w0[256], w1[256];
        size_t nw, nb;
        ck_assert_int_eq(clae_model_layer_sizes(m, 0, &nw, &nb), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(m, 0, w0, NULL), CLAE_OK);
        clae_pretrain_options o;
        clae_pretrain_options_default(&o);
        o.kind = bad[k].kind;
        ck_assert_int_eq(clae_model_pretrain(m, d, &o, NULL), CLAE_ERR_ARG);
        ck_assert_msg(strstr(clae_last_error(), bad[k].says), "%s: '%s' lacks '%s'", bad[k].spec, clae_last_error(),
                      bad[k].says);
        ck_assert_int_eq(clae_model_get_layer(m, 0, w1, NULL), CLAE_OK);
        ck_assert_mem_eq(w0, w1, nw * sizeof *w0);
        clae_dataset_free(d);
        clae_model_destroy(m);
    }
    clae_pretrain_kind k;
    ck_assert_int_eq(clae_pretrain_parse("rbm", &k), CLAE_OK);
    ck_assert_int_eq(k, CLAE_PRETRAIN_RBM);
    ck_assert_int_eq(clae_pretrain_parse("dbn", &k), CLAE_ERR_ARG);
}
END_TEST

/* Fashion-MNIST on PoCL, a deep autoencoder of sigmoid units, 784-256-64-256-784 (bce, Adam 1e-3, batch 256,
 * 20 000 rows): two epochs of pretraining per layer then three of fine-tuning reach a lower test MSE than five
 * epochs from the same initialisation, for both kinds (measured: about 0.021 after RBMs and 0.027 after shallow
 * autoencoders, against 0.036 from scratch); the test asks for 15% at least. */
START_TEST(test_pretrain_beats_scratch)
{
    clae_dataset *train, *test;
    load_fashion(20000, 2000, &train, &test);
    const char *spec = "784,dense:256:sigmoid,dense:64:sigmoid@code,dense:256:sigmoid,dense:784:sigmoid";
    double mse[3];
    for (int k = 0; k < 3; k++) {
        clae_model *m = test_model_arch(test_rt(1), spec, CLAE_LOSS_BCE, 256, 42, 0.0f, 0);
        clae_trainer_options t;
        clae_trainer_options_default(&t);
        t.epochs = 5;
        if (k) {
            clae_pretrain_options o;
            clae_pretrain_options_default(&o);
            o.kind = k == 1 ? CLAE_PRETRAIN_RBM : CLAE_PRETRAIN_LAYERWISE;
            o.epochs = 2;
            ck_assert_msg(clae_model_pretrain(m, train, &o, NULL) == CLAE_OK, "%s", clae_last_error());
            t.epochs = 3;
        }
        ck_assert_msg(clae_model_train(m, train, &t, NULL) == CLAE_OK, "%s", clae_last_error());
        mse[k] = test_mse(m, test);
        clae_model_destroy(m);
    }
    fprintf(stderr, "fashion 784-256-64 sigmoid, 20000 rows: test MSE %.5f from scratch (5 epochs), %.5f after RBMs "
                    "(2 + 3), %.5f after shallow autoencoders (2 + 3)\n", mse[0], mse[1], mse[2]);
    ck_assert_msg(mse[1] < 0.85 * mse[0] && mse[2] < 0.85 * mse[0], "scratch %g, rbm %g, layerwise %g", mse[0], mse[1],
                  mse[2]);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

/* From the CLI: --pretrain with --checkpoint, stopped after one epoch and resumed, ends with the very weights of an
 * uninterrupted run (the checkpoint holds the pretrained net; pretraining is not run again), and --json reports
 * each layer. */
START_TEST(test_pretrain_cli_resume)
{
    const char *common = "--layers 784,64,16 --activation sigmoid --pretrain rbm --pretrain-epochs 2 --limit 2000 "
                         "--test-limit 200 --batch 100 --device cpu";
    run_result r = run_expect(0, "train %s --epochs 2 --json -q --out %s", common, q("whole.st"));
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(j, "pretrain");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(pre, "kind")->valuestring, "rbm");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pre, "layers")), 2);
    cJSON_Delete(j);
    run_free(&r);
    r = run_expect(0, "train %s --epochs 1 -q --checkpoint %s", common, q("ck.st"));
    run_free(&r);
    r = run_expect(0, "train %s --epochs 2 --resume --checkpoint %s --out %s", common, q("ck.st"), q("resumed.st"));
    ck_assert_contains(r.err, "not run again");
    ck_assert_msg(!strstr(r.err, "pretrain rbm layer"), "pretraining ran again:\n%s", r.err);
    run_free(&r);
    clae_model *a = NULL, *b = NULL;
    ck_assert_int_eq(clae_model_load(test_rt_ref(), test_tmp_path("whole.st"), CLAE_MODEL_INFERENCE, 0, &a, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_load(test_rt_ref(), test_tmp_path("resumed.st"), CLAE_MODEL_INFERENCE, 0, &b, NULL), CLAE_OK);
    for (int l = 0; l < 4; l++) {
        size_t nw, nb;
        ck_assert_int_eq(clae_model_layer_sizes(a, l, &nw, &nb), CLAE_OK);
        float *u = malloc((nw + nb) * sizeof *u), *v = malloc((nw + nb) * sizeof *v);
        ck_assert_int_eq(clae_model_get_layer(a, l, u, u + nw), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(b, l, v, v + nw), CLAE_OK);
        ck_assert_msg(!memcmp(u, v, (nw + nb) * sizeof *u), "layer %d differs after resume", l);
        free(u);
        free(v);
    }
    clae_model_destroy(a);
    clae_model_destroy(b);
    r = run_expect(1, "train --layers 784,64,16 --activation relu --pretrain rbm --limit 200 --device cpu-ref -q");
    ck_assert_contains(r.err, "sigmoid units");
    run_free(&r);
    r = run_expect(2, "train --pretrain dbn --limit 200 --device cpu-ref -q");
    ck_assert_contains(r.err, "layerwise or rbm");
    run_free(&r);
    r = run_expect(2, "train --pretrain rbm --init %s --limit 200 --device cpu-ref -q", q("whole.st"));
    ck_assert_contains(r.err, "choose one");
    run_free(&r);
}
END_TEST

Suite *suite_pretrain(void)
{
    Suite *s = suite_create("pretrain");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 600);
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(t, test_rbm_cd1_by_hand);
    tcase_add_test(t, test_rbm_opencl_matches_reference);
    tcase_add_test(t, test_pretrain_refusals);
    tcase_add_test(t, test_pretrain_unrolls);
    tcase_add_test(t, test_pretrain_cli_resume);
    suite_add_tcase(s, t);
    TCase *f = tcase_create("fashion");
    tcase_set_timeout(f, 900);
    tcase_add_test(f, test_pretrain_beats_scratch);
    suite_add_tcase(s, f);
    return s;
}
