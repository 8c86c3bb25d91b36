/* test_variants.c — the regularized variants in the dense model: gradients of the full loss, OpenCL
 * against the reference, selection counts, plans, refused combinations and real Fashion-MNIST training. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "test_util.h"

/* One variant configuration on a small model. */
typedef struct variant_case {
    const char *what;
    const char *layers;
    clae_activation hidden, output;
    clae_loss loss;
    float h; /* finite-difference step */
    void (*set)(clae_model_config *c);
} variant_case;

static void set_mask(clae_model_config *c) { c->noise = CLAE_NOISE_MASK, c->noise_level = 0.3f; }
static void set_gauss(clae_model_config *c) { c->noise = CLAE_NOISE_GAUSSIAN, c->noise_level = 0.1f; }
static void set_saltpepper(clae_model_config *c) { c->noise = CLAE_NOISE_SALTPEPPER, c->noise_level = 0.3f; }
/* ρ and β away from the clamp so the check sees the smooth KL (ρ̂ clamped to [1e-6, 1−1e-6]). */
static void set_kl(clae_model_config *c) { c->sparsity = CLAE_SPARSITY_KL, c->sparsity_rho = 0.2f, c->sparsity_beta = 0.5f; }
static void set_l1(clae_model_config *c) { c->sparsity = CLAE_SPARSITY_L1, c->sparsity_lambda = 0.3f; }
static void set_l2(clae_model_config *c) { c->sparsity = CLAE_SPARSITY_L2, c->sparsity_lambda = 0.3f; }
static void set_ksparse(clae_model_config *c) { c->ksparse_k = 2; }
static void set_wta(clae_model_config *c) { c->wta_rate = 0.4f; }
static void set_contractive(clae_model_config *c) { c->contractive = 0.5f; }
static void set_dae_sparse(clae_model_config *c) { set_mask(c), set_l2(c); }
static void set_dae_contractive(clae_model_config *c) { set_gauss(c), set_contractive(c); }
static void set_h2o_small(clae_model_config *c) { c->sparsity = CLAE_SPARSITY_H2O, c->sparsity_rho = 0.2f, c->sparsity_beta = 0.5f; }

static const variant_case cases[] = {
    {"denoising mask", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, 1e-2f, set_mask},
    {"denoising gaussian", "9,6,4", CLAE_ACT_SIGMOID, CLAE_ACT_LINEAR, CLAE_LOSS_SSE, 1e-2f, set_gauss},
    {"denoising salt-and-pepper", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, 1e-2f, set_saltpepper},
    {"sparse kl sigmoid", "9,6,4", CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, 1e-2f, set_kl},
    {"sparse kl tanh", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_LINEAR, CLAE_LOSS_SSE, 1e-2f, set_kl},
    {"sparse l1", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, 1e-2f, set_l1},
    {"sparse l2", "9,6,4", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, 1e-2f, set_l2},
    {"k-sparse", "9,6,4", CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, 1e-2f, set_ksparse},
    {"winner-take-all", "9,6,4", CLAE_ACT_RELU, CLAE_ACT_LINEAR, CLAE_LOSS_SSE, 1e-2f, set_wta},
    {"contractive sigmoid", "9,6,4", CLAE_ACT_SIGMOID, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, 1e-2f, set_contractive},
    {"contractive tanh", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_LINEAR, CLAE_LOSS_SSE, 1e-2f, set_contractive},
    {"contractive relu", "9,6,4", CLAE_ACT_RELU, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, 1e-2f, set_contractive},
    {"denoising + sparse l2", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_BCE, 1e-2f, set_dae_sparse},
    {"denoising + contractive", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_SIGMOID, CLAE_LOSS_SSE, 1e-2f, set_dae_contractive},
    /* h2o adds nothing to the loss or its gradient; the case checks that, the plans and the paths. */
    {"sparse h2o", "9,6,4", CLAE_ACT_TANH, CLAE_ACT_LINEAR, CLAE_LOSS_SSE, 1e-2f, set_h2o_small},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

enum { GC_ROWS = 6 };

static clae_model *make_model(clae_runtime *rt, const variant_case *vc, int batch, uint64_t seed)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, vc->layers), CLAE_OK);
    clae_model_config_set_activations(&c, vc->hidden, vc->output);
    c.loss = vc->loss;
    c.batch = batch;
    c.seed = seed;
    vc->set(&c);
    clae_model *m;
    ck_assert_msg(clae_model_create(rt, &c, &m) == CLAE_OK, "%s: %s", vc->what, clae_last_error());
    /* Non-zero biases so every bias gradient is exercised away from symmetry. */
    for (int l = 0; l < c.n_layers; l++) {
        float b[16];
        test_fill_uniform(b, (size_t)c.sizes[l + 1], 300 + (uint32_t)l, -0.3f, 0.3f);
        ck_assert_int_eq(clae_model_set_layer(m, l, NULL, b), CLAE_OK);
    }
    return m;
}

/* The full loss of every variant, penalties and noise included (noise frozen:
 * the same step and rows give the same draws), against central differences. */
START_TEST(test_variant_gradients)
{
    const variant_case *vc = &cases[_i];
    clae_model *m = make_model(test_rt_ref(), vc, GC_ROWS, 21 + (uint64_t)_i);
    float x[GC_ROWS * 9];
    test_fill_uniform(x, GC_ROWS * 9, 77, 0.0f, 1.0f);
    float L;
    ck_assert_int_eq(clae_model_loss(m, x, GC_ROWS, &L), CLAE_OK);
    int penalized = strstr(vc->what, "sparse l") || strstr(vc->what, "kl") || strstr(vc->what, "contractive");
    if (penalized) ck_assert_msg(clae_model_last_penalty(m) > 0.0f, "%s: no penalty in the loss", vc->what);
    test_gradient_report r = test_gradient_check(m, x, GC_ROWS, vc->h);
    fprintf(stderr, "variant gradient check %-26s %3d coordinates, %2d skipped at kinks, worst %.2e\n", vc->what,
            r.checked + r.skipped, r.skipped, r.worst);
    clae_model_destroy(m);
}
END_TEST

/* OpenCL against cpu-ref for the reconstruction, the loss (penalty included)
 * and every gradient, on a batch that is not a multiple of any tile.
 * Tolerance atol 1e-5 + rtol 1e-4: float sums in another order, plus a few
 * ulps of exp/tanh (the ops suite bounds each op more tightly). */
START_TEST(test_variant_paths_agree)
{
    const variant_case *vc = &cases[_i];
    enum { ROWS = 13 };
    float x[ROWS * 9];
    test_fill_uniform(x, ROWS * 9, 78, 0.0f, 1.0f);
    clae_model *m[2];
    float loss[2], pen[2], rec[2][ROWS * 9];
    for (int p = 0; p < 2; p++) {
        m[p] = make_model(test_rt(p), vc, ROWS, 5);
        ck_assert_int_eq(clae_model_loss(m[p], x, ROWS, &loss[p]), CLAE_OK);
        pen[p] = clae_model_last_penalty(m[p]);
        ck_assert_int_eq(clae_model_reconstruct(m[p], x, ROWS, rec[p]), CLAE_OK);
    }
    ck_assert_allclose(&loss[1], &loss[0], 1, 1e-5, 1e-4);
    ck_assert_allclose(&pen[1], &pen[0], 1, 1e-5, 1e-4);
    ck_assert_allclose(rec[1], rec[0], ROWS * 9, 1e-5, 1e-4);
    clae_model_config c;
    clae_model_get_config(m[0], &c);
    for (int l = 0; l < c.n_layers; l++) {
        float dW[2][64], db[2][16];
        for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_gradients(m[p], x, ROWS, l, dW[p], db[p]), CLAE_OK);
        size_t nw = (size_t)c.sizes[l] * (size_t)c.sizes[l + 1];
        ck_assert_allclose(dW[1], dW[0], nw, 1e-5, 1e-4);
        ck_assert_allclose(db[1], db[0], (size_t)c.sizes[l + 1], 1e-5, 1e-4);
    }
    /* Three training steps keep the paths together too. */
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < 3; s++) ck_assert_int_eq(clae_model_train_step(m[p], x, ROWS, &loss[p]), CLAE_OK);
    float w[2][64];
    for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_get_layer(m[p], 0, w[p], NULL), CLAE_OK);
    ck_assert_allclose(w[1], w[0], 54, 1e-5, 1e-4);
    clae_model_destroy(m[0]);
    clae_model_destroy(m[1]);
}
END_TEST

/* Every variant's plan passes the independent overlap checker (test_plan.c),
 * training and inference-only, on both paths. */
START_TEST(test_variant_plans_never_overlap)
{
    const variant_case *vc = &cases[_i];
    static const unsigned flags[] = {0, CLAE_MODEL_INFERENCE};
    for (int p = 0; p < 2; p++) {
        for (int f = 0; f < 2; f++) {
            clae_model_config c;
            clae_model_config_default(&c);
            ck_assert_int_eq(clae_model_config_set_layers(&c, "784,128,32"), CLAE_OK);
            clae_model_config_set_activations(&c, vc->hidden, CLAE_ACT_SIGMOID);
            c.batch = 100;
            vc->set(&c);
            clae_model *m;
            ck_assert_msg(clae_model_create_ex(test_rt(p), &c, flags[f] | CLAE_MODEL_PLAN_ONLY, &m) == CLAE_OK, "%s",
                          clae_last_error());
            char msg[512];
            const char *bad = test_check_model_plan(m, msg, sizeof msg);
            ck_assert_msg(bad == NULL, "%s path %d flags %u: %s", vc->what, p, flags[f], bad);
            clae_model_destroy(m);
        }
    }
}
END_TEST

/* Lifetimes are what the planner trusts: if a variant read a tensor after its
 * declared last use, the arena would hand those bytes to another tensor and
 * training would differ from the unplanned run. So 5 steps with the plan on
 * and off must give bit-identical weights, on both paths. */
START_TEST(test_variant_plan_on_off_identical)
{
    const variant_case *vc = &cases[_i];
    enum { ROWS = 11 };
    float x[ROWS * 9];
    test_fill_uniform(x, ROWS * 9, 79, 0.0f, 1.0f);
    for (int p = 0; p < 2; p++) {
        float w[2][4][64];
        memset(w, 0, sizeof w); /* layers hold fewer than 64 weights: compare whole arrays */
        for (int mode = 0; mode < 2; mode++) {
            clae_model_config c;
            clae_model_config_default(&c);
            ck_assert_int_eq(clae_model_config_set_layers(&c, vc->layers), CLAE_OK);
            clae_model_config_set_activations(&c, vc->hidden, vc->output);
            c.loss = vc->loss;
            c.batch = ROWS;
            vc->set(&c);
            clae_model *m;
            ck_assert_int_eq(clae_model_create_ex(test_rt(p), &c, mode ? CLAE_MODEL_UNPLANNED : 0, &m), CLAE_OK);
            float L;
            for (int s = 0; s < 5; s++) ck_assert_int_eq(clae_model_train_step(m, x, ROWS, &L), CLAE_OK);
            for (int l = 0; l < 4; l++) ck_assert_int_eq(clae_model_get_layer(m, l, w[mode][l], NULL), CLAE_OK);
            clae_model_destroy(m);
        }
        for (int l = 0; l < 4; l++) ck_assert_msg(memcmp(w[0][l], w[1][l], sizeof w[0][l]) == 0,
                                                  "%s path %d layer %d: plan on and off differ", vc->what, p, l);
    }
}
END_TEST

/* k-sparse codes have exactly k non-zeros per row (round(α·k) at inference). */
START_TEST(test_ksparse_code_counts)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "33,20"), CLAE_OK);
    clae_model_config_set_activations(&c, CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID);
    c.batch = 16;
    c.ksparse_k = 4;
    enum { ROWS = 37 };
    float x[ROWS * 33], codes[ROWS * 20];
    test_fill_uniform(x, ROWS * 33, 9, 0.0f, 1.0f);
    for (int p = 0; p < 2; p++) {
        for (int a = 1; a <= 2; a++) {
            c.ksparse_alpha = (float)a;
            clae_model *m;
            ck_assert_int_eq(clae_model_create(test_rt(p), &c, &m), CLAE_OK);
            float L;
            ck_assert_int_eq(clae_model_train_step(m, x, 16, &L), CLAE_OK);
            ck_assert_int_eq(clae_model_encode(m, x, ROWS, codes), CLAE_OK);
            for (int r = 0; r < ROWS; r++) {
                int nz = 0;
                for (int j = 0; j < 20; j++) nz += codes[r * 20 + j] != 0.0f;
                ck_assert_msg(nz == 4 * a, "path %d alpha %d row %d: %d non-zeros", p, a, r, nz);
            }
            clae_model_destroy(m);
        }
    }
}
END_TEST

/* The k schedule starts dense and reaches k: after the schedule, codes at α=1 have k non-zeros. */
START_TEST(test_ksparse_schedule_learns)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "33,20"), CLAE_OK);
    clae_model_config_set_activations(&c, CLAE_ACT_LINEAR, CLAE_ACT_SIGMOID);
    c.batch = 32;
    c.ksparse_k = 3;
    c.ksparse_k_start = 20;
    c.ksparse_schedule_steps = 10;
    c.lr = 1e-2f;
    float x[32 * 33];
    test_fill_uniform(x, 32 * 33, 10, 0.0f, 1.0f);
    clae_model *m;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c, &m), CLAE_OK);
    float L0 = 0, L = 0;
    for (int s = 0; s < 40; s++) ck_assert_int_eq(clae_model_train_step(m, x, 32, s == 12 ? &L0 : &L), CLAE_OK);
    ck_assert_msg(L < L0, "loss %g -> %g after the schedule", L0, L);
    char d[128];
    clae_model_describe(m, d, sizeof d);
    ck_assert_ptr_nonnull(strstr(d, "from 20 over 10 steps"));
    clae_model_destroy(m);
}
END_TEST

START_TEST(test_incompatible_combinations_refused)
{
    struct {
        void (*a)(clae_model_config *), (*b)(clae_model_config *);
        clae_activation code;
        const char *why;
    } bad[] = {
        {set_ksparse, set_wta, CLAE_ACT_LINEAR, "--wta-rate"},
        {set_ksparse, set_l1, CLAE_ACT_LINEAR, "--sparsity"},
        {set_wta, set_kl, CLAE_ACT_SIGMOID, "--sparsity"},
        {set_ksparse, set_contractive, CLAE_ACT_LINEAR, "--contractive"},
        {set_wta, set_contractive, CLAE_ACT_RELU, "--contractive"},
        {set_kl, set_kl, CLAE_ACT_RELU, "--sparsity kl needs sigmoid or tanh"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clae_model_config c;
        clae_model_config_default(&c);
        clae_model_config_set_activations(&c, bad[i].code, CLAE_ACT_SIGMOID);
        bad[i].a(&c);
        bad[i].b(&c);
        clae_model *m = NULL;
        ck_assert_int_eq(clae_model_create_ex(test_rt_ref(), &c, CLAE_MODEL_PLAN_ONLY, &m), CLAE_ERR_ARG);
        ck_assert_msg(strstr(clae_last_error(), bad[i].why) != NULL, "case %zu: %s", i, clae_last_error());
    }
    /* k larger than the code layer. */
    clae_model_config c;
    clae_model_config_default(&c);
    c.ksparse_k = 65;
    clae_model *m = NULL;
    ck_assert_int_eq(clae_model_create(test_rt_ref(), &c, &m), CLAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(clae_last_error(), "64 units"));
}
END_TEST

/* ---- one epoch of Fashion-MNIST per variant family ------------------------------------------ */

typedef struct fashion_case {
    const char *what;
    const char *layers;
    clae_activation hidden;
    float lr;
    void (*set)(clae_model_config *c);
} fashion_case;

static void set_kl_default(clae_model_config *c) { c->sparsity = CLAE_SPARSITY_KL; }
static void set_ksparse_25(clae_model_config *c) { c->ksparse_k = 25; }
static void set_wta_5(clae_model_config *c) { c->wta_rate = 0.05f; }
static void set_h2o(clae_model_config *c) { c->sparsity = CLAE_SPARSITY_H2O, c->sparsity_rho = -0.1f, c->sparsity_beta = 0.1f; }
static void set_contractive_01(clae_model_config *c) { c->contractive = 0.1f; }
static void set_mask_25(clae_model_config *c) { c->noise = CLAE_NOISE_MASK, c->noise_level = 0.25f; }

static const fashion_case fashion[] = {
    {"sparse kl", "784,256,64", CLAE_ACT_SIGMOID, 1e-2f, set_kl_default},
    {"sparse l1", "784,256,64", CLAE_ACT_RELU, 1e-3f, set_l1},
    {"sparse h2o", "784,256,64", CLAE_ACT_TANH, 1e-3f, set_h2o},
    {"k-sparse", "784,100", CLAE_ACT_LINEAR, 1e-3f, set_ksparse_25},
    {"winner-take-all", "784,256,64", CLAE_ACT_RELU, 5e-3f, set_wta_5},
    {"denoising", "784,256,64", CLAE_ACT_RELU, 1e-3f, set_mask_25},
    {"contractive", "784,256,64", CLAE_ACT_SIGMOID, 5e-3f, set_contractive_01},
};

/* One epoch over 5,000 training images (batch 64, shuffled, rows' indices
 * passed for the noise) beats the mean-image baseline on 2,000 test images. */
START_TEST(test_variant_fashion_one_epoch)
{
    const fashion_case *fc = &fashion[_i];
    clae_dataset *train, *test;
    ck_assert_int_eq(clae_dataset_load_idx(test_data_path("train-images-idx3-ubyte.gz"), &train), CLAE_OK);
    ck_assert_int_eq(clae_dataset_load_idx(test_data_path("t10k-images-idx3-ubyte.gz"), &test), CLAE_OK);
    clae_dataset_truncate(train, 5000);
    clae_dataset_truncate(test, 2000);
    size_t D = train->cols, B = 64;
    double mean[784] = {0}, base = 0.0;
    for (size_t r = 0; r < train->rows; r++)
        for (size_t i = 0; i < D; i++) mean[i] += train->x[r * D + i] / (double)train->rows;
    for (size_t r = 0; r < test->rows; r++)
        for (size_t i = 0; i < D; i++) base += pow(test->x[r * D + i] - mean[i], 2) / (double)(test->rows * D);

    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, fc->layers), CLAE_OK);
    clae_model_config_set_activations(&c, fc->hidden, CLAE_ACT_SIGMOID);
    c.batch = (int)B;
    c.lr = fc->lr;
    fc->set(&c);
    clae_model *m;
    ck_assert_msg(clae_model_create(test_rt_cl(), &c, &m) == CLAE_OK, "%s", clae_last_error());
    size_t *order = malloc(train->rows * sizeof *order);
    uint32_t ids[64];
    float *xb = malloc(B * D * sizeof *xb);
    clae_shuffle_order(train->rows, c.seed, 0, order);
    for (size_t first = 0; first < train->rows; first += B) {
        size_t n = train->rows - first < B ? train->rows - first : B;
        for (size_t k = 0; k < n; k++) ids[k] = (uint32_t)order[first + k];
        ck_assert_int_eq(clae_dataset_gather(train, order + first, n, xb), CLAE_OK);
        float L;
        ck_assert_msg(clae_model_train_step_rows(m, xb, ids, n, &L) == CLAE_OK, "%s", clae_model_error(m));
    }
    float *err = malloc(test->rows * sizeof *err);
    ck_assert_int_eq(clae_model_row_errors(m, test->x, test->rows, err), CLAE_OK);
    double mse = 0.0;
    for (size_t r = 0; r < test->rows; r++) mse += err[r] / (double)test->rows;
    size_t H = (size_t)c.sizes[c.code_layer];
    float *codes = malloc(test->rows * H * sizeof *codes);
    ck_assert_int_eq(clae_model_encode(m, test->x, test->rows, codes), CLAE_OK);
    double code_mean = 0.0;
    for (size_t i = 0; i < test->rows * H; i++) code_mean += codes[i] / (double)(test->rows * H);
    fprintf(stderr, "variant fashion %-16s test MSE %.5f (baseline %.5f), mean code activation %.4f\n", fc->what, mse,
            base, code_mean);
    ck_assert_msg(mse < base, "%s: test MSE %g not below the mean-image baseline %g", fc->what, mse, base);
    if (c.sparsity == CLAE_SPARSITY_KL) {
        /* KL pulls the mean code activation toward ρ = 0.05 (without it sigmoid codes sit
         * near 0.5): the test asks |mean − ρ| < 0.02 after one epoch. */
        ck_assert_msg(fabs(code_mean - c.sparsity_rho) < 0.02, "mean code activation %g, rho %g", code_mean,
                      (double)c.sparsity_rho);
    }
    free(codes);
    free(err);
    free(xb);
    free(order);
    clae_model_destroy(m);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

/* ---- h2o sparsity (H2O Deep Learning: average_activation, sparsity_beta) ------------------- */

/* A 3-4-2-4-3 tanh model (three hidden layers) with h2o sparsity and the given optimizer. */
static clae_model *h2o_model(clae_runtime *rt, clae_optimizer opt, float rho, float beta, int batch)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "3,4,2"), CLAE_OK);
    clae_model_config_set_activations(&c, CLAE_ACT_TANH, CLAE_ACT_LINEAR);
    c.loss = CLAE_LOSS_SSE;
    c.optimizer = opt;
    c.lr = 0.05f;
    c.batch = batch;
    c.seed = 9;
    c.sparsity = CLAE_SPARSITY_H2O;
    c.sparsity_rho = rho;
    c.sparsity_beta = beta;
    clae_model *m;
    ck_assert_msg(clae_model_create(rt, &c, &m) == CLAE_OK, "%s", clae_last_error());
    return m;
}

/* One ADADELTA step of a three-hidden-layer model on cpu-ref, replayed by hand. h2o's step acts
 * on every hidden layer's bias after its update, with that update's rate:
 *     Eg2 = (1−ρ_d)·g²,  r = √(ε/(Eg2 + ε)),  b ← b − r·g − r·β·(ā − ρ)
 * with g the loss gradient alone and ā = 0.001·Σ_n 0.999^(B−1−n)·a_n. The output bias gets only
 * −r·g. Adding β(ā − ρ) to g instead (the semantics before) gives another r and another step,
 * and acting only on the code layer would leave layers 0 and 2 without their push. */
START_TEST(test_h2o_step_by_hand)
{
    enum { B = 4 };
    const float rho = 0.3f, beta = 1.0f;
    clae_model *m = h2o_model(test_rt_ref(), CLAE_OPT_ADADELTA, rho, beta, B);
    clae_model_config c;
    clae_model_get_config(m, &c);
    float x[B * 3];
    test_fill_uniform(x, B * 3, 31, 0.0f, 1.0f);
    float a[B * 4], db[4][4], b0[4][4], b1[4][4];
    float ema[4][4] = {{0}};
    for (int l = 0; l < 4; l++) {
        size_t w = (size_t)c.sizes[l + 1];
        ck_assert_int_eq(clae_model_gradients(m, x, B, l, NULL, db[l]), CLAE_OK);
        ck_assert_int_eq(clae_model_get_layer(m, l, NULL, b0[l]), CLAE_OK);
        if (l == 3) break;
        ck_assert_int_eq(clae_model_encode_layer(m, x, B, l + 1, a), CLAE_OK);
        for (size_t n = 0; n < B; n++)
            for (size_t j = 0; j < w; j++) ema[l][j] = 0.999f * ema[l][j] + 0.001f * a[n * w + j];
    }
    float loss;
    ck_assert_int_eq(clae_model_train_step(m, x, B, &loss), CLAE_OK);
    double worst_old = 0.0;
    for (int l = 0; l < 4; l++) {
        ck_assert_int_eq(clae_model_get_layer(m, l, NULL, b1[l]), CLAE_OK);
        for (int j = 0; j < c.sizes[l + 1]; j++) {
            double rd = c.rho, eps = c.adadelta_eps, g = db[l][j];
            double r = sqrt(eps / ((1.0 - rd) * g * g + eps));
            double push = l < 3 ? beta * ((double)ema[l][j] - rho) : 0.0;
            double want = b0[l][j] - r * g - r * push;
            ck_assert_msg(fabs(b1[l][j] - want) <= 1e-7 + 1e-5 * fabs(want),
                          "layer %d bias %d: %.9g, by hand %.9g (gradient %.3g, push %.3g)", l, j, (double)b1[l][j],
                          want, g, push);
            if (l < 3) {
                double go = g + push, ro = sqrt(eps / ((1.0 - rd) * go * go + eps));
                double d = fabs((b0[l][j] - ro * go) - want);
                if (d > worst_old) worst_old = d;
            }
        }
    }
    /* The hand replay tells the two semantics apart by far more than its tolerance. */
    ck_assert_msg(worst_old > 1e-3, "old semantics differ by only %g", worst_old);
    clae_model_destroy(m);
}
END_TEST

/* A short run on both paths: they agree on every parameter, and h2o's controller brings each
 * hidden layer's mean activation over the data to ρ, while without it (β = 0) the means sit
 * elsewhere. */
START_TEST(test_h2o_every_hidden_layer_reaches_rho)
{
    enum { B = 256, ROWS = 256, STEPS = 150 };
    const float rho = -0.3f;
    float *x = malloc(ROWS * 3 * sizeof *x), *a = malloc(ROWS * 4 * sizeof *a);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(a);
    test_fill_uniform(x, ROWS * 3, 32, 0.0f, 1.0f);
    double mean[2][2][3];
    float W[2][16], bias[2][4][4];
    for (int on = 0; on < 2; on++)
        for (int p = 0; p < 2; p++) {
            clae_model *m = h2o_model(test_rt(p), CLAE_OPT_SGD, rho, on ? 2.0f : 0.0f, B);
            for (int t = 0; t < STEPS; t++) {
                size_t first = (size_t)(t % (ROWS / B)) * B;
                ck_assert_int_eq(clae_model_train_step(m, x + first * 3, B, NULL), CLAE_OK);
            }
            for (int i = 1; i <= 3; i++) {
                int w = i == 2 ? 2 : 4;
                ck_assert_int_eq(clae_model_encode_layer(m, x, ROWS, i, a), CLAE_OK);
                double sum = 0.0;
                for (size_t k = 0; k < (size_t)ROWS * (size_t)w; k++) sum += a[k];
                mean[on][p][i - 1] = sum / (double)(ROWS * w);
            }
            if (on) {
                ck_assert_int_eq(clae_model_get_layer(m, 1, W[p], NULL), CLAE_OK);
                for (int l = 0; l < 4; l++) ck_assert_int_eq(clae_model_get_layer(m, l, NULL, bias[p][l]), CLAE_OK);
            }
            clae_model_destroy(m);
        }
    for (int i = 0; i < 3; i++) {
        fprintf(stderr, "h2o hidden layer %d mean activation: %.4f (ref %.4f), without the controller %.4f, rho %g\n",
                i + 1, mean[1][1][i], mean[1][0][i], mean[0][0][i], (double)rho);
        ck_assert_msg(fabs(mean[1][0][i] - rho) < 0.03, "layer %d: mean %g, rho %g", i + 1, mean[1][0][i], (double)rho);
        ck_assert_msg(fabs(mean[1][1][i] - mean[1][0][i]) < 1e-3, "layer %d: paths %g and %g", i + 1, mean[1][1][i],
                      mean[1][0][i]);
        ck_assert_msg(fabs(mean[0][0][i] - rho) > 0.1, "layer %d: %g is near rho without the controller", i + 1,
                      mean[0][0][i]);
    }
    ck_assert_allclose(W[1], W[0], 8, 1e-4, 1e-3);
    for (int l = 0; l < 4; l++) ck_assert_allclose(bias[1][l], bias[0][l], l == 1 ? 2 : l == 3 ? 3 : 4, 1e-4, 1e-3);
    free(x);
    free(a);
}
END_TEST

/* ---- denoising: the fill values come from the training data ---------------------------------- */

/* Layer 0's weight gradient of a model whose every input is corrupted (ν = 1) to a per-feature
 * value v: X̃ has v in every row, so dW_0[j,i] = Σ_n G_Z0[n,j]·v_i = db_0[j]·v_i. */
static void expect_filled_with(clae_model *m, const float *x, size_t rows, const float *v, const char *what)
{
    float dW[6], db[2];
    ck_assert_int_eq(clae_model_gradients(m, x, rows, 0, dW, db), CLAE_OK);
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 3; i++) {
            double want = (double)db[j] * v[i];
            ck_assert_msg(fabs(dW[j * 3 + i] - want) <= 1e-6 + 1e-5 * fabs(want), "%s: dW[%d,%d] %.9g, db·v %.9g",
                          what, j, i, (double)dW[j * 3 + i], want);
        }
}

static clae_model *noisy_model(clae_runtime *rt, clae_noise kind, int batch)
{
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_layers(&c, "3,2,3"), CLAE_OK);
    clae_model_config_set_activations(&c, CLAE_ACT_TANH, CLAE_ACT_LINEAR);
    c.loss = CLAE_LOSS_SSE;
    c.batch = batch;
    c.noise = kind;
    c.noise_level = 1.0f;
    clae_model *m;
    ck_assert_msg(clae_model_create(rt, &c, &m) == CLAE_OK, "%s", clae_last_error());
    return m;
}

/* Masking writes each feature's training mean and salt-and-pepper its training min or max (as
 * clae_model_fit_feature_stats finds them), on both paths; a checkpoint stores the values and a
 * restored model corrupts exactly as the saved one. Before any statistics: mean 0, min 0, max 1. */
START_TEST(test_denoise_fill_values)
{
    enum { ROWS = 5, D = 3 };
    float data[ROWS * D] = {1, -2, 10, 3, 0, 20, 2, 4, 30, 0, 1, 40, 4, 2, 50};
    const float mean[D] = {2, 1, 30}, lo[D] = {0, -2, 10}, hi[D] = {4, 4, 50}, zero[D] = {0, 0, 0},
                one[D] = {1, 1, 1};
    clae_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.rows = ROWS;
    ds.cols = D;
    ds.x = data;
    for (int p = 0; p < 2; p++) {
        /* Masking. */
        clae_model *m = noisy_model(test_rt(p), CLAE_NOISE_MASK, ROWS);
        expect_filled_with(m, data, ROWS, zero, "mask before the statistics");
        ck_assert_int_eq(clae_model_fit_feature_stats(m, &ds), CLAE_OK);
        expect_filled_with(m, data, ROWS, mean, "mask");
        const char *ck = test_tmp_path("mask.ckpt");
        ck_assert_int_eq(clae_model_save_checkpoint(m, ck, NULL, NULL), CLAE_OK);
        clae_model *r = noisy_model(test_rt(p), CLAE_NOISE_MASK, ROWS);
        ck_assert_int_eq(clae_model_restore_checkpoint(r, ck, NULL), CLAE_OK);
        expect_filled_with(r, data, ROWS, mean, "mask after restore");
        clae_model_destroy(r);
        clae_model_destroy(m);

        /* Salt-and-pepper: the checkpoint holds the fitted min and max; setting min = max = v
         * makes every corrupted input v, so each of the two is seen on its own. */
        m = noisy_model(test_rt(p), CLAE_NOISE_SALTPEPPER, ROWS);
        ck_assert_int_eq(clae_model_set_feature_stats(m, NULL, one, NULL), CLAE_OK);
        expect_filled_with(m, data, ROWS, one, "salt-and-pepper at the default max 1, min set to 1");
        ck_assert_int_eq(clae_model_fit_feature_stats(m, &ds), CLAE_OK);
        ck = test_tmp_path("sp.ckpt");
        ck_assert_int_eq(clae_model_save_checkpoint(m, ck, NULL, NULL), CLAE_OK);
        clae_st_file *f;
        ck_assert_int_eq(clae_st_open(ck, &f), CLAE_OK);
        const float *got;
        size_t shape[1] = {D};
        ck_assert_int_eq(clae_st_get_f32(f, "noise.feature_min", 1, shape, &got), CLAE_OK);
        ck_assert(memcmp(got, lo, sizeof lo) == 0);
        ck_assert_int_eq(clae_st_get_f32(f, "noise.feature_max", 1, shape, &got), CLAE_OK);
        ck_assert(memcmp(got, hi, sizeof hi) == 0);
        ck_assert(clae_st_find(f, "noise.feature_mean") == NULL); /* salt-and-pepper does not use it */
        clae_st_close(f);
        ck_assert_int_eq(clae_model_set_feature_stats(m, NULL, lo, lo), CLAE_OK);
        expect_filled_with(m, data, ROWS, lo, "pepper");
        ck_assert_int_eq(clae_model_set_feature_stats(m, NULL, hi, hi), CLAE_OK);
        expect_filled_with(m, data, ROWS, hi, "salt");
        /* Refused: min above max, a non-finite value, data of another width. */
        ck_assert_int_eq(clae_model_set_feature_stats(m, NULL, hi, lo), CLAE_ERR_ARG);
        ck_assert(strstr(clae_model_error(m), "feature 0") != NULL);
        const float bad[D] = {0, NAN, 0};
        ck_assert_int_eq(clae_model_set_feature_stats(m, bad, NULL, NULL), CLAE_ERR_ARG);
        clae_dataset narrow = ds;
        narrow.cols = 2;
        ck_assert_int_eq(clae_model_fit_feature_stats(m, &narrow), CLAE_ERR_SHAPE);
        clae_model_destroy(m);
    }
}
END_TEST

/* The CLI fits the fill values on the scaled training rows and a checkpoint keeps them: after
 * --scale minmax column c's mean is (mean_c − min_c)/(max_c − min_c); unscaled, salt-and-pepper
 * writes the column's own min and max; after --scale normalize every mean is 0 (as h2o's input_dropout_ratio drops to the mean). A resumed run
 * keeps the checkpoint's values. */
START_TEST(test_denoise_cli_fits_on_scaled_data)
{
    /* Own copies: run_clae takes test_tmp_path slots of its own. */
    char csv[1024], csv2[1024], ck[3][1024];
    snprintf(csv, sizeof csv, "%s", test_tmp_path("d.csv"));
    snprintf(csv2, sizeof csv2, "%s", test_tmp_path("e.csv"));
    for (int k = 0; k < 3; k++) snprintf(ck[k], sizeof ck[k], "%s", test_tmp_path(k == 0 ? "m.ckpt" : k == 1 ? "sp.ckpt" : "n.ckpt"));
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    fputs("a,b,c\n", f);
    const double v[4][3] = {{1, 10, -5}, {3, 30, 5}, {2, 20, 0}, {6, 0, 10}};
    for (int r = 0; r < 4; r++) fprintf(f, "%g,%g,%g\n", v[r][0], v[r][1], v[r][2]);
    fclose(f);
    for (int k = 0; k < 3; k++) {
        const char *scale = k == 2 ? "normalize" : k == 1 ? "none" : "minmax", *noise = k == 1 ? "saltpepper:0.5" : "mask:0.5";
        char args[8192];
        snprintf(args, sizeof args,
                 "train --device cpu-ref --batch 2 --steps 3 -q --layers 3,2 --loss sse --output-activation linear "
                 "--scale %s --noise %s --data '%s' --test '%s' --checkpoint '%s'",
                 scale, noise, csv, csv, ck[k]);
        run_result r = run_clae(args);
        ck_assert_msg(r.status == 0, "%s\n%s", args, r.err);
        run_free(&r);
        clae_st_file *st;
        ck_assert_int_eq(clae_st_open(ck[k], &st), CLAE_OK);
        const size_t shape[1] = {3};
        const float *got;
        for (int c = 0; c < 3; c++) {
            double sum = 0, lo = 1e30, hi = -1e30;
            for (int i = 0; i < 4; i++) {
                sum += v[i][c];
                lo = v[i][c] < lo ? v[i][c] : lo;
                hi = v[i][c] > hi ? v[i][c] : hi;
            }
            if (k == 1) {
                ck_assert_int_eq(clae_st_get_f32(st, "noise.feature_min", 1, shape, &got), CLAE_OK);
                ck_assert_msg(got[c] == (float)lo, "min of column %d is %g", c, (double)got[c]);
                ck_assert_int_eq(clae_st_get_f32(st, "noise.feature_max", 1, shape, &got), CLAE_OK);
                ck_assert_msg(got[c] == (float)hi, "max of column %d is %g", c, (double)got[c]);
                continue;
            }
            double want = k == 0 ? (sum / 4 - lo) / (hi - lo) : 0.0;
            ck_assert_int_eq(clae_st_get_f32(st, "noise.feature_mean", 1, shape, &got), CLAE_OK);
            ck_assert_msg(fabs(got[c] - want) < 1e-6, "%s: mean of column %d is %g, want %g", scale, c, (double)got[c],
                          want);
        }
        clae_st_close(st);
    }
    /* Resuming with other data keeps the checkpoint's values (the run it continues used them). */
    f = fopen(csv2, "w");
    ck_assert_ptr_nonnull(f);
    fputs("a,b,c\n9,0,0\n0,9,0\n0,0,9\n9,9,9\n", f);
    fclose(f);
    clae_st_file *st;
    ck_assert_int_eq(clae_st_open(ck[0], &st), CLAE_OK);
    const size_t shape[1] = {3};
    const float *got;
    float before[3];
    ck_assert_int_eq(clae_st_get_f32(st, "noise.feature_mean", 1, shape, &got), CLAE_OK);
    memcpy(before, got, sizeof before);
    clae_st_close(st);
    char args[4096];
    snprintf(args, sizeof args, "train --device cpu-ref -q --steps 5 --data '%s' --test '%s' --checkpoint '%s' --resume",
             csv2, csv2, ck[0]);
    run_result r = run_clae(args);
    ck_assert_msg(r.status == 0, "%s\n%s", args, r.err);
    run_free(&r);
    ck_assert_int_eq(clae_st_open(ck[0], &st), CLAE_OK);
    ck_assert_int_eq(clae_st_get_f32(st, "noise.feature_mean", 1, shape, &got), CLAE_OK);
    ck_assert(memcmp(got, before, sizeof before) == 0);
    clae_st_close(st);
}
END_TEST

Suite *suite_variants(void)
{
    Suite *s = suite_create("variants");
    TCase *tc = tcase_create("math");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_variant_gradients, 0, N_CASES);
    tcase_add_loop_test(tc, test_variant_paths_agree, 0, N_CASES);
    tcase_add_loop_test(tc, test_variant_plans_never_overlap, 0, N_CASES);
    tcase_add_loop_test(tc, test_variant_plan_on_off_identical, 0, N_CASES);
    tcase_add_test(tc, test_ksparse_code_counts);
    tcase_add_test(tc, test_ksparse_schedule_learns);
    tcase_add_test(tc, test_incompatible_combinations_refused);
    tcase_add_test(tc, test_h2o_step_by_hand);
    tcase_add_test(tc, test_h2o_every_hidden_layer_reaches_rho);
    suite_add_tcase(s, tc);
    tc = tcase_create("denoise");
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(tc, test_denoise_fill_values);
    tcase_add_test(tc, test_denoise_cli_fits_on_scaled_data);
    suite_add_tcase(s, tc);
    tc = tcase_create("fashion");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_variant_fashion_one_epoch, 0, (int)(sizeof fashion / sizeof fashion[0]));
    suite_add_tcase(s, tc);
    return s;
}
