/* test_aae.c — the aae suite: the adversarial autoencoder's three phases on the layer core: each phase's gradients by
 * finite differences with the other nets held, OpenCL against the reference, plans, resume, and codes that move
 * toward the prior on Fashion-MNIST. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_aae.h"
#include "test_util.h"

static clae_model *make(clae_runtime *rt, const char *spec, clae_loss loss, int batch, unsigned flags)
{
    return test_model_arch(rt, spec, loss, batch, 11, 0.0f, flags);
}

/* tanh in the encoder, so the generator phase's loss is smooth in its weights; the discriminator's relu kinks are
 * skipped as every gradient check skips them. */
#define SMALL "8,dense:6:tanh,dense:4:linear,adv:5x3@code,dense:6:tanh,dense:8:sigmoid"
#define SMALL_MIX "8,dense:6:tanh,dense:4:linear,adv:5:mix=3:lr_disc=0.002:lr_gen=0.0005@code,dense:6:tanh,dense:8:sigmoid"
/* Tied: the code layer's weight is also the first decoder layer's, so the generator phase must take only the
 * encoder's share of its gradient. */
#define TIED "8,dense:6:tanh,dense:4:linear,adv:5@code,dense:6:tanh:tied=1,dense:8:sigmoid:tied=0"

static size_t numel(clae_model *m, const char *name)
{
    int ndim;
    size_t shape[2] = {0, 1};
    ck_assert_msg(clae_model_tensor_info(m, name, &ndim, shape) == CLAE_OK, "%s: %s", name, clae_last_error());
    return shape[0] * (ndim == 2 ? shape[1] : 1);
}

static float phase_loss(clae_model *m, const float *x, size_t rows, clae_phase ph, const char *name, float *scratch,
                        size_t n)
{
    float loss = NAN;
    ck_assert_msg(clae_model_phase_gradient(m, x, rows, ph, name, &loss, scratch, n) == CLAE_OK, "%s",
                  clae_last_error());
    return loss;
}

typedef struct fd_report {
    int checked, skipped;
    double worst, largest; /* the worst relative error, the largest |gradient| checked */
} fd_report;

/* Central differences of phase ph's loss over every coordinate of parameter `name` against its phase gradient,
 * accumulated into *r. As test_gradient_check, but at three scales: where the differences at h, h/2 and h/4 disagree
 * a kink lies within h and the coordinate is skipped; |g_a − g_num|/(|g_a| + |g_num| + 1e-2) <= 5e-3 elsewhere. */
static void check_phase(clae_model *m, const float *x, size_t rows, clae_phase ph, const char *name, float h, fd_report *r)
{
    const size_t n = numel(m, name);
    float *theta = malloc(n * sizeof *theta), *g = malloc(n * sizeof *g), *scratch = malloc(n * sizeof *scratch);
    ck_assert_int_eq(clae_model_tensor_get(m, name, theta, n), CLAE_OK);
    float loss0 = NAN;
    ck_assert_msg(clae_model_phase_gradient(m, x, rows, ph, name, &loss0, g, n) == CLAE_OK, "%s", clae_last_error());
    ck_assert_msg(isfinite(loss0), "phase %d loss %g", (int)ph, (double)loss0);
    for (size_t i = 0; i < n; i++) {
        const float saved = theta[i], steps[6] = {h, -h, h / 2, -h / 2, h / 4, -h / 4};
        float L[6];
        for (int k = 0; k < 6; k++) {
            theta[i] = saved + steps[k];
            ck_assert_int_eq(clae_model_tensor_set(m, name, theta, n), CLAE_OK);
            L[k] = phase_loss(m, x, rows, ph, name, scratch, n);
        }
        theta[i] = saved;
        ck_assert_int_eq(clae_model_tensor_set(m, name, theta, n), CLAE_OK);
        /* Three scales: a relu kink close to the point can make two of them agree by chance. */
        double d_full = ((double)L[0] - L[1]) / (2.0 * h), d_half = ((double)L[2] - L[3]) / (double)h,
               d_quarter = ((double)L[4] - L[5]) / (0.5 * h);
        if (fabs(d_full - d_half) > 1e-3 * (fabs(d_full) + fabs(d_half)) + 4e-5 ||
            fabs(d_half - d_quarter) > 1e-3 * (fabs(d_half) + fabs(d_quarter)) + 8e-5) {
            r->skipped++;
            continue;
        }
        r->checked++;
        if (fabs(g[i]) > r->largest) r->largest = fabs(g[i]);
        double rel = fabs(g[i] - d_half) / (fabs(g[i]) + fabs(d_half) + 1e-2);
        if (rel > r->worst) r->worst = rel;
        ck_assert_msg(rel <= 5e-3, "phase %d %s[%zu]: analytic %.6g, numeric %.6g", (int)ph, name, i, (double)g[i], d_half);
    }
    free(theta);
    free(g);
    free(scratch);
}

/* Every gradient of each phase against central differences of that phase's loss, the other nets held (nothing is
 * updated, and the prior draws are keyed by the step and the rows): the discriminator's parameters for L_D, the
 * encoder's for L_G; a phase's gradient of a parameter it does not train is zero. */
START_TEST(test_aae_phase_gradients)
{
    static const char *const disc[] = {"aae.disc.0.weight", "aae.disc.0.bias", "aae.disc.1.weight", "aae.disc.1.bias",
                                       "aae.disc.2.weight", "aae.disc.2.bias"};
    static const char *const enc[] = {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"};
    const char *const specs[] = {SMALL, SMALL_MIX, TIED}, *const names[] = {"gauss", "mix=3", "tied"};
    /* Few rows, and inputs whose codes keep the discriminator's relu units off their kinks: every encoder coordinate
     * moves every code, so one unit near its kink (input seed 31 left one 6e-5 from it) would spoil them all. */
    const size_t D = 8, rows = 3;
    float x[3 * 8];
    test_fill_uniform(x, rows * D, 34u, 0.05f, 0.95f);
    for (int s = 0; s < 3; s++) {
        clae_model *m = make(test_rt_ref(), specs[s], CLAE_LOSS_SSE, 4, 0);
        /* A few steps first, so the discriminator is no longer at its start and the phases' losses are not flat. */
        float loss;
        for (int k = 0; k < 3; k++) ck_assert_int_eq(clae_model_train_step(m, x, rows, &loss), CLAE_OK);
        fd_report rd = {0, 0, 0.0, 0.0}, rg = {0, 0, 0.0, 0.0};
        for (size_t k = 0; k < sizeof disc / sizeof disc[0]; k++) {
            if (s && k >= 4) break; /* SMALL_MIX and TIED have one hidden layer */
            check_phase(m, x, rows, CLAE_PHASE_DISCRIMINATOR, disc[k], 1e-2f, &rd);
        }
        for (size_t k = 0; k < sizeof enc / sizeof enc[0]; k++) check_phase(m, x, rows, CLAE_PHASE_GENERATOR, enc[k], 1e-2f, &rg);
        fprintf(stderr, "aae gradient check %s: discriminator %d coordinates, %d skipped, worst %.2e, largest %.3f; "
                        "generator %d, %d skipped, worst %.2e, largest %.3f\n", names[s], rd.checked, rd.skipped,
                rd.worst, rd.largest, rg.checked, rg.skipped, rg.worst, rg.largest);
        ck_assert_msg(rd.skipped * 10 < rd.checked && rg.skipped * 10 < rg.checked, "too many kinks skipped");
        /* Gradients that are there to check: a discriminator that ignores the codes would pass with zeros. */
        ck_assert_msg(rd.largest > 0.01 && rg.largest > 0.01, "largest gradients %g, %g", rd.largest, rg.largest);
        /* The reconstruction phase is the plain autoencoder's, its loss and gradients clae_model_loss's and
         * clae_model_tensor_gradient's. */
        test_gradient_report r = test_gradient_check(m, x, rows, 1e-2f);
        ck_assert_int_gt(r.checked, 0);
        float g[8 * 6], g2[8 * 6], lr, lr2;
        ck_assert_int_eq(clae_model_phase_gradient(m, x, rows, CLAE_PHASE_RECONSTRUCTION, "layers.0.weight", &lr, g, 48),
                         CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_gradient(m, x, rows, "layers.0.weight", g2, 48), CLAE_OK);
        ck_assert_int_eq(clae_model_loss(m, x, rows, &lr2), CLAE_OK);
        ck_assert_mem_eq(g, g2, sizeof g);
        ck_assert_float_eq(lr, lr2);
        /* What a phase does not train gets nothing from it. */
        const char *untouched[2] = {"layers.3.weight", "aae.disc.0.bias"};
        const clae_phase by[2] = {CLAE_PHASE_GENERATOR, CLAE_PHASE_GENERATOR};
        for (int u = 0; u < 2; u++) {
            if (s == 2 && u == 0) continue; /* tied: layers.3 uses layers.0's weight */
            const size_t n = numel(m, untouched[u]);
            float *z = malloc(n * sizeof *z);
            ck_assert_int_eq(clae_model_phase_gradient(m, x, rows, by[u], untouched[u], NULL, z, n), CLAE_OK);
            for (size_t i = 0; i < n; i++) ck_assert_msg(z[i] == 0.0f, "%s[%zu] = %g in phase %d", untouched[u], i, (double)z[i], by[u]);
            free(z);
        }
        float zd[6 * 8];
        ck_assert_int_eq(clae_model_phase_gradient(m, x, rows, CLAE_PHASE_DISCRIMINATOR, "layers.0.weight", NULL, zd, 48), CLAE_OK);
        for (size_t i = 0; i < 48; i++) ck_assert(zd[i] == 0.0f);
        clae_model_destroy(m);
    }
}
END_TEST

/* The discriminator's logits recomputed in double from every parameter read back: d = V1·relu(V0·z + c0) + c1. */
static double logit(const float *V0, const float *c0, const float *V1, const float *c1, const double z[2])
{
    double d = c1[0];
    for (int u = 0; u < 4; u++) {
        double h = c0[u] + V0[u * 2] * z[0] + V0[u * 2 + 1] * z[1];
        d += V1[u] * (h > 0 ? h : 0);
    }
    return d;
}

/* L_D, L_G and the figures recomputed by hand in double: codes q(x) = x·W0ᵀ + b0, prior draws from the documented
 * Philox rows (ids 0..B−1 at step 0: a gradient call numbers its rows as the next step would), logits through the
 * discriminator. Nothing is updated, so both phases see the parameters read here. */
START_TEST(test_aae_losses_by_hand)
{
    const char *spec = "3,dense:2:linear@code,adv:4:lr_disc=0.01,dense:3:sigmoid";
    for (int p = 0; p < 2; p++) {
        clae_model *m = make(test_rt(p), spec, CLAE_LOSS_BCE, 5, 0);
        const size_t rows = 5;
        float x[15], W0[6], b0[2], V0[8], c0[4], V1[4], c1[1];
        test_fill_uniform(x, 15, 4u, 0.0f, 1.0f);
        ck_assert_int_eq(clae_model_tensor_get(m, "layers.0.weight", W0, 6), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(m, "layers.0.bias", b0, 2), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(m, "aae.disc.0.weight", V0, 8), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(m, "aae.disc.0.bias", c0, 4), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(m, "aae.disc.1.weight", V1, 4), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(m, "aae.disc.1.bias", c1, 1), CLAE_OK);
        float g[8], ld = NAN, lg = NAN;
        clae_adversary_stats st;
        ck_assert_int_eq(clae_model_phase_gradient(m, x, rows, CLAE_PHASE_GENERATOR, "layers.0.weight", &lg, g, 6), CLAE_OK);
        ck_assert_int_eq(clae_model_phase_gradient(m, x, rows, CLAE_PHASE_DISCRIMINATOR, "aae.disc.0.weight", &ld, g, 8),
                         CLAE_OK);
        ck_assert_int_eq(clae_model_adversary_stats(m, &st), CLAE_OK);
        double lg_want = 0.0, ld_want = 0.0;
        int fooled = 0, right = 0;
        for (size_t r = 0; r < rows; r++) {
            double z[2];
            float prior[2];
            for (int j = 0; j < 2; j++) {
                z[j] = b0[j];
                for (int i = 0; i < 3; i++) z[j] += (double)W0[j * 3 + i] * x[r * 3 + i];
            }
            const double d = logit(V0, c0, V1, c1, z);
            clae_aae_prior_row(0, 11, 0, CLAE_STREAM_AAE_PRIOR, r, 2, prior);
            const double zr[2] = {prior[0], prior[1]}, dr = logit(V0, c0, V1, c1, zr);
            lg_want += log1p(exp(-d)) / rows;
            ld_want += (log1p(exp(-dr)) + log1p(exp(d))) / rows;
            fooled += d > 0;
            right += (dr > 0) + (d < 0);
        }
        fprintf(stderr, "aae losses by hand (%s): L_G %.7f (by hand %.7f), L_D %.7f (by hand %.7f), accuracy %.2f, "
                        "fooled %.2f\n", p ? "opencl" : "ref", (double)lg, lg_want, (double)ld, ld_want,
                (double)st.disc_accuracy, (double)st.fooled);
        ck_assert_msg(fabs(lg - lg_want) <= 1e-5 * (1 + fabs(lg_want)), "L_G %g, by hand %g", (double)lg, lg_want);
        ck_assert_msg(fabs(ld - ld_want) <= 1e-5 * (1 + fabs(ld_want)), "L_D %g, by hand %g", (double)ld, ld_want);
        ck_assert_float_eq(st.gen_loss, lg);
        ck_assert_float_eq(st.disc_loss, ld);
        ck_assert_float_eq(st.fooled, (float)fooled / (float)rows);
        ck_assert_float_eq(st.disc_accuracy, (float)right / (float)(2 * rows));
        clae_model_destroy(m);
    }
}
END_TEST

static void all_params_close(clae_model *a, clae_model *b, double atol, double rtol)
{
    for (int i = 0;; i++) {
        clae_plan_entry e;
        if (clae_model_plan_entry(a, i, &e) != CLAE_OK) break;
        if (!e.persistent || !e.bytes) continue;
        const size_t n = e.bytes / sizeof(float);
        float *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v);
        ck_assert_int_eq(clae_model_tensor_get(a, e.name, u, n), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(b, e.name, v, n), CLAE_OK);
        long bad = test_first_mismatch(v, u, n, atol, rtol);
        ck_assert_msg(bad < 0, "%s[%ld]: %.9g vs %.9g", e.name, bad, bad < 0 ? 0.0 : (double)v[bad],
                      bad < 0 ? 0.0 : (double)u[bad]);
        free(u);
        free(v);
    }
}

/* With the prior draws keyed by the step and the rows, PoCL follows the reference: every phase's loss and every
 * parameter's gradient in it, the figures, and every persistent tensor (weights, both optimizers' state, the
 * discriminator) after five steps, for both priors. */
START_TEST(test_aae_opencl_matches_reference)
{
    static const char *const names[] = {"layers.0.weight", "layers.1.bias", "layers.3.weight", "aae.disc.0.weight",
                                        "aae.disc.1.bias"};
    const char *const specs[] = {SMALL, SMALL_MIX};
    const size_t D = 8, rows = 7;
    float x[7 * 8];
    test_fill_uniform(x, rows * D, 6u, 0.0f, 1.0f);
    for (int s = 0; s < 2; s++) {
        clae_model *m[2];
        for (int p = 0; p < 2; p++) m[p] = make(test_rt(p), specs[s], CLAE_LOSS_BCE, 8, 0);
        for (clae_phase ph = CLAE_PHASE_RECONSTRUCTION; ph < CLAE_PHASE_COUNT; ph++)
            for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
                const size_t n = numel(m[0], names[k]);
                float *g[2], loss[2];
                for (int p = 0; p < 2; p++) {
                    g[p] = malloc(n * sizeof *g[p]);
                    ck_assert_msg(clae_model_phase_gradient(m[p], x, rows, ph, names[k], &loss[p], g[p], n) == CLAE_OK,
                                  "%s", clae_last_error());
                }
                ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-5f * (1.0f + fabsf(loss[0])), "phase %d loss %g vs %g",
                              (int)ph, (double)loss[1], (double)loss[0]);
                ck_assert_allclose(g[1], g[0], n, 1e-6, 1e-4);
                for (int p = 0; p < 2; p++) free(g[p]);
            }
        float loss[2];
        for (int step = 0; step < 5; step++)
            for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_train_step(m[p], x, rows, &loss[p]), CLAE_OK);
        ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-4f * fabsf(loss[0]), "loss %g vs %g", (double)loss[1], (double)loss[0]);
        clae_adversary_stats st[2];
        for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_adversary_stats(m[p], &st[p]), CLAE_OK);
        ck_assert_msg(fabsf(st[1].disc_loss - st[0].disc_loss) <= 1e-4f && fabsf(st[1].gen_loss - st[0].gen_loss) <= 1e-4f,
                      "L_D %g vs %g, L_G %g vs %g", (double)st[1].disc_loss, (double)st[0].disc_loss,
                      (double)st[1].gen_loss, (double)st[0].gen_loss);
        ck_assert_float_eq(st[1].disc_accuracy, st[0].disc_accuracy);
        all_params_close(m[0], m[1], 1e-5, 1e-4);
        /* Prior samples decode alike: the mixture's draws are the same bits on both paths. */
        float smp[2][12 * 8];
        for (int p = 0; p < 2; p++) ck_assert_msg(clae_model_sample(m[p], 12, 77, smp[p]) == CLAE_OK, "%s", clae_last_error());
        ck_assert_allclose(smp[1], smp[0], 12 * 8, 1e-5, 1e-4);
        for (int p = 0; p < 2; p++) clae_model_destroy(m[p]);
    }
}
END_TEST

/* The planner's overlap check for training and inference on both paths; CLAE_PLAN=poison changes nothing; an
 * inference-only model has no discriminator; a checkpoint holds the discriminator and both optimizers, so a resumed
 * run repeats the uninterrupted one bit for bit. */
START_TEST(test_aae_plans_and_resume)
{
    for (int p = 0; p < 2; p++)
        for (int f = 0; f < 2; f++) {
            clae_model *m = make(test_rt(p), TIED, CLAE_LOSS_BCE, 8, (f ? CLAE_MODEL_INFERENCE : 0u) | CLAE_MODEL_PLAN_ONLY);
            char msg[512];
            const char *bad = test_check_model_plan(m, msg, sizeof msg);
            ck_assert_msg(bad == NULL, "path %d: %s", p, bad);
            clae_plan_entry e;
            int disc = 0;
            for (int i = 0; clae_model_plan_entry(m, i, &e) == CLAE_OK; i++) disc += !strncmp(e.name, "aae.", 4);
            ck_assert_msg(f ? disc == 0 : disc > 0, "path %d, inference %d: %d aae tensors", p, f, disc);
            clae_model_destroy(m);
        }
    const size_t D = 8, rows = 6;
    float x[6 * 8], loss[2];
    test_fill_uniform(x, rows * D, 7u, 0.0f, 1.0f);
    clae_model *m[2];
    for (int k = 0; k < 2; k++) {
        if (k) setenv("CLAE_PLAN", "poison", 1);
        m[k] = make(test_rt_ref(), SMALL, CLAE_LOSS_BCE, 8, 0);
        if (k) unsetenv("CLAE_PLAN");
    }
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++) ck_assert_int_eq(clae_model_train_step(m[k], x, rows, &loss[k]), CLAE_OK);
    ck_assert_float_eq(loss[0], loss[1]);
    all_params_close(m[0], m[1], 0.0, 0.0);
    /* Resume: m[0] has taken 3 steps; a checkpoint of it restored into a fresh model, then 2 more steps each. */
    const char *ck = test_tmp_path("aae.ckpt");
    ck_assert_msg(clae_model_save_checkpoint(m[0], ck, NULL, NULL) == CLAE_OK, "%s", clae_last_error());
    clae_model *r = make(test_rt_ref(), SMALL, CLAE_LOSS_BCE, 8, 0);
    ck_assert_msg(clae_model_restore_checkpoint(r, ck, NULL) == CLAE_OK, "%s", clae_last_error());
    for (int s = 0; s < 2; s++) {
        ck_assert_int_eq(clae_model_train_step(m[0], x, rows, &loss[0]), CLAE_OK);
        ck_assert_int_eq(clae_model_train_step(r, x, rows, &loss[1]), CLAE_OK);
    }
    ck_assert_float_eq(loss[0], loss[1]);
    all_params_close(m[0], r, 0.0, 0.0);
    /* A model file holds the autoencoder alone; it loads for inference and samples. */
    const char *path = test_tmp_path("aae.safetensors");
    ck_assert_int_eq(clae_model_save(m[0], path, NULL), CLAE_OK);
    clae_model *inf = NULL;
    ck_assert_msg(clae_model_load(test_rt_ref(), path, CLAE_MODEL_INFERENCE, 0, &inf, NULL) == CLAE_OK, "%s", clae_last_error());
    float a[4 * 8], b[4 * 8];
    ck_assert_int_eq(clae_model_sample(inf, 4, 5, a), CLAE_OK);
    ck_assert_int_eq(clae_model_sample(m[0], 4, 5, b), CLAE_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    clae_adversary_stats st;
    ck_assert_int_eq(clae_model_adversary_stats(inf, &st), CLAE_ERR_ARG);
    clae_model_destroy(inf);
    clae_model_destroy(r);
    for (int k = 0; k < 2; k++) clae_model_destroy(m[k]);
}
END_TEST

/* Where an adversary may stand, and what it may not be combined with, each refused naming the token. */
START_TEST(test_aae_spec_checks)
{
    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"8,dense:6:tanh,dense:4:linear,topk:2,adv@code,dense:8:sigmoid", "right after the dense or conv layer that makes the code"},
        {"8,dense:4:linear@code,dense:6:tanh,adv,dense:8:sigmoid", "right after the dense or conv layer"},
        {"8,dense:6:tanh+l1:0.1,dense:4:linear,adv@code,dense:8:sigmoid", "l1:0.1 cannot be combined with adv"},
        {"8,dense:6:tanh,gauss:4,dense:4:linear,adv@code,dense:8:sigmoid", "cannot be combined with adv"},
        {"8,dense:6:tanh,dense:3:linear,adv:mix=4@code,dense:8:sigmoid", "pairs of code units"},
        {"8,dense:6:tanh,dense:4:linear,adv:5x5x5x5@code,dense:8:sigmoid", "more than 3 hidden layers"},
        {"8,dense:6:tanh,dense:4:linear,adv:5:colour=red@code,dense:8:sigmoid", "unknown argument 'colour=red'"},
        {"8,dense:6:tanh,dense:4:linear,adv:lr_gen=-1@code,dense:8:sigmoid", "lr_gen -1 must be finite"},
        {"8,dense:4:linear,adv", "the adversary regularizes the code"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char canon[512];
        clae_model_config c;
        clae_model_config_default(&c);
        ck_assert_msg(clae_model_config_set_arch(&c, bad[i].spec, canon, sizeof canon) == CLAE_ERR_ARG, "%s accepted",
                      bad[i].spec);
        ck_assert_msg(strstr(clae_last_error(), bad[i].says), "%s: '%s' lacks '%s'", bad[i].spec, clae_last_error(),
                      bad[i].says);
    }
    /* The canonical form spells the defaults out and reads back the same. */
    char canon[512], again[512];
    clae_model_config c;
    clae_model_config_default(&c);
    ck_assert_int_eq(clae_model_config_set_arch(&c, "8,dense:4:linear@code,adv:mix=2,dense:8:sigmoid", canon, sizeof canon),
                     CLAE_OK);
    ck_assert_str_eq(canon, "8,dense:4:linear,adv:256x256:mix=2@code,dense:8:sigmoid");
    ck_assert_int_eq(clae_model_config_set_arch(&c, canon, again, sizeof again), CLAE_OK);
    ck_assert_str_eq(canon, again);
    /* A plain autoencoder has no adversary: no figures, no adversarial phases. */
    clae_model *ae = make(test_rt_ref(), "8,dense:3:tanh,dense:8:sigmoid", CLAE_LOSS_BCE, 4, 0);
    clae_adversary_stats st;
    float x[8] = {0}, g[24];
    ck_assert_int_eq(clae_model_adversary_stats(ae, &st), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_model_phase_gradient(ae, x, 1, CLAE_PHASE_GENERATOR, "layers.0.weight", NULL, g, 24), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_model_phase_gradient(ae, x, 1, CLAE_PHASE_RECONSTRUCTION, "layers.0.weight", NULL, g, 24), CLAE_OK);
    clae_model_destroy(ae);
}
END_TEST

/* Per code unit, mean and standard deviation over the rows; the distance to N(0, I)'s moments,
 * (1/L)·Σ_l [mean_l² + (sd_l − 1)²]. */
static double moment_distance(const float *z, size_t rows, size_t L, double *worst_mean, double *worst_sd)
{
    double dist = 0.0;
    *worst_mean = *worst_sd = 0.0;
    for (size_t l = 0; l < L; l++) {
        double s = 0.0, s2 = 0.0;
        for (size_t r = 0; r < rows; r++) s += z[r * L + l];
        double mean = s / rows;
        for (size_t r = 0; r < rows; r++) s2 += (z[r * L + l] - mean) * (z[r * L + l] - mean);
        double sd = sqrt(s2 / rows);
        dist += (mean * mean + (sd - 1.0) * (sd - 1.0)) / L;
        if (fabs(mean) > *worst_mean) *worst_mean = fabs(mean);
        if (fabs(sd - 1.0) > *worst_sd) *worst_sd = fabs(sd - 1.0);
    }
    return dist;
}

/* Fashion-MNIST on PoCL: the adversary moves the codes of held-out images toward N(0, I) — their moments end far
 * closer to the prior's than those of the same autoencoder trained the same way without it — and the
 * reconstructions still beat the mean image by far. Adversarial training needs many small steps: Adam at 1e-4
 * (5e-5 for the adversarial phases, the adversary's default of half the rate), batch 100, 20 epochs of 20 000
 * rows; at 1e-3 the discriminator wins and the codes run off. */
START_TEST(test_aae_fashion_moments)
{
    clae_dataset *train = NULL, *test = NULL;
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &train) == CLAE_OK);
    ck_assert(clae_dataset_load(test_data_path("t10k-images-idx3-ubyte.gz"), &test) == CLAE_OK);
    clae_dataset_truncate(train, 20000);
    clae_dataset_truncate(test, 2000);
    const double mean_image = test_mean_image_mse(train, test);
    const char *specs[2] = {"784,dense:512:relu,dense:8:linear@code,dense:512:relu,dense:784:sigmoid",
                            "784,dense:512:relu,dense:8:linear,adv@code,dense:512:relu,dense:784:sigmoid"};
    double dist[2], mse[2], wm[2], ws[2];
    const size_t L = 8;
    float *z = malloc(test->rows * L * sizeof *z), *err = malloc(test->rows * sizeof *err);
    clae_train_report r;
    for (int k = 0; k < 2; k++) {
        clae_model_config c;
        clae_model_config_default(&c);
        c.batch = 100;
        c.lr = 1e-4f;
        clae_model *m = NULL;
        ck_assert_msg(clae_model_create_arch(test_rt(1), &c, specs[k], 0, &m) == CLAE_OK, "%s", clae_last_error());
        clae_trainer_options o;
        clae_trainer_options_default(&o);
        o.epochs = 20;
        ck_assert_msg(clae_model_train(m, train, &o, &r) == CLAE_OK, "%s", clae_last_error());
        ck_assert_int_eq(clae_model_encode(m, test->x, test->rows, z), CLAE_OK);
        ck_assert_int_eq(clae_model_row_errors(m, test->x, test->rows, err), CLAE_OK);
        mse[k] = 0.0;
        for (size_t i = 0; i < test->rows; i++) mse[k] += err[i] / test->rows;
        dist[k] = moment_distance(z, test->rows, L, &wm[k], &ws[k]);
        if (k)
            fprintf(stderr, "fashion aae 784-512-8 (disc 256x256), 20 epochs of 20000 rows: last epoch L_D %.3f, "
                            "discriminator accuracy %.3f, L_G %.3f, fooled %.3f\n", r.epoch_disc_loss,
                    r.epoch_disc_accuracy, r.epoch_gen_loss, r.epoch_fooled);
        fprintf(stderr, "fashion %s: test MSE %.5f (mean image %.5f); code moments' distance to N(0, I) %.4f "
                        "(worst |mean| %.3f, worst |sd - 1| %.3f)\n", k ? "aae" : "ae ", mse[k], mean_image, dist[k],
                wm[k], ws[k]);
        ck_assert_msg(mse[k] < 0.4 * mean_image, "test MSE %g vs the mean image's %g", mse[k], mean_image);
        clae_model_destroy(m);
    }
    ck_assert_msg(dist[1] < 0.1 * dist[0], "moment distance %g with the adversary, %g without", dist[1], dist[0]);
    ck_assert_msg(dist[1] < 0.1 && wm[1] < 0.4 && ws[1] < 0.4, "distance %g, worst |mean| %g, worst |sd - 1| %g",
                  dist[1], wm[1], ws[1]);
    ck_assert(r.epoch_disc_accuracy > 0.5 && r.epoch_disc_accuracy < 1.0);
    free(z);
    free(err);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

Suite *suite_aae(void)
{
    Suite *s = suite_create("aae");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 600);
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(t, test_aae_phase_gradients);
    tcase_add_test(t, test_aae_losses_by_hand);
    tcase_add_test(t, test_aae_opencl_matches_reference);
    tcase_add_test(t, test_aae_plans_and_resume);
    tcase_add_test(t, test_aae_spec_checks);
    suite_add_tcase(s, t);
    TCase *f = tcase_create("fashion");
    tcase_set_timeout(f, 900);
    tcase_add_test(f, test_aae_fashion_moments);
    suite_add_tcase(s, f);
    return s;
}
