/* test_vae.c — the vae suite: the variational autoencoder's Gaussian layer on the layer core: gradients by finite
 * differences (both heads), the KL term against its closed form, OpenCL against the reference, plans, sampling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clae_model *make(clae_runtime *rt, const char *spec, clae_loss loss, int batch, unsigned flags)
{
    return test_model_arch(rt, spec, loss, batch, 5, 0.0f, flags);
}

#define SMALL "8,dense:6:tanh,gauss:3:beta=0.5@code,dense:6:tanh,dense:8:sigmoid"

/* Every weight and bias, the log-variance head's too, against central differences of the loss (ε is keyed by
 * the step and the rows, so every evaluation draws the same noise). */
START_TEST(test_vae_gradients)
{
    clae_model *m = make(test_rt_ref(), SMALL, CLAE_LOSS_SSE, 4, 0);
    const size_t D = 8, rows = 3;
    float x[3 * 8];
    test_fill_uniform(x, rows * D, 21u, 0.05f, 0.95f);
    test_gradient_report r = test_gradient_check(m, x, rows, 1e-2f);
    fprintf(stderr, "vae gradient check (W, b of every layer): %d coordinates, %d skipped, worst %.2e\n", r.checked,
            r.skipped, r.worst);
    static const char *const heads[] = {"layers.1.logvar.weight", "layers.1.logvar.bias"};
    for (int h = 0; h < 2; h++) {
        int ndim;
        size_t shape[2] = {0, 1};
        ck_assert_int_eq(clae_model_tensor_info(m, heads[h], &ndim, shape), CLAE_OK);
        const size_t n = shape[0] * (ndim == 2 ? shape[1] : 1);
        float *theta = malloc(n * sizeof *theta), *g = malloc(n * sizeof *g);
        ck_assert_int_eq(clae_model_tensor_get(m, heads[h], theta, n), CLAE_OK);
        ck_assert_msg(clae_model_tensor_gradient(m, x, rows, heads[h], g, n) == CLAE_OK, "%s", clae_last_error());
        double worst = 0.0;
        for (size_t i = 0; i < n; i++) {
            const float h0 = 1e-2f, saved = theta[i];
            float Lp, Lm;
            theta[i] = saved + h0;
            ck_assert_int_eq(clae_model_tensor_set(m, heads[h], theta, n), CLAE_OK);
            ck_assert_int_eq(clae_model_loss(m, x, rows, &Lp), CLAE_OK);
            theta[i] = saved - h0;
            ck_assert_int_eq(clae_model_tensor_set(m, heads[h], theta, n), CLAE_OK);
            ck_assert_int_eq(clae_model_loss(m, x, rows, &Lm), CLAE_OK);
            theta[i] = saved;
            ck_assert_int_eq(clae_model_tensor_set(m, heads[h], theta, n), CLAE_OK);
            double num = ((double)Lp - Lm) / (2.0 * h0), rel = fabs(num - g[i]) / (fabs(num) + fabs(g[i]) + 1e-2);
            if (rel > worst) worst = rel;
            ck_assert_msg(rel < 5e-3, "%s[%zu]: analytic %.6g, numeric %.6g", heads[h], i, (double)g[i], num);
        }
        fprintf(stderr, "vae gradient check %s: %zu coordinates, worst %.2e\n", heads[h], n, worst);
        free(theta);
        free(g);
    }
    clae_model_destroy(m);
}
END_TEST

/* The reported penalty is β·KL(N(μ, e^s) ‖ N(0, I)) averaged over the rows, with μ and s computed here from the
 * heads' weights: KL = −½ Σ (1 + s − μ² − e^s). */
START_TEST(test_vae_kl_closed_form)
{
    const char *spec = "4,gauss:3:beta=2@code,dense:4:sigmoid";
    for (int p = 0; p < 2; p++) {
        clae_model *m = make(test_rt(p), spec, CLAE_LOSS_BCE, 8, 0);
        const size_t D = 4, L = 3, rows = 5;
        float x[5 * 4], Wm[12], bm[3], Ws[12], bs[3];
        test_fill_uniform(x, rows * D, 8u, 0.0f, 1.0f);
        /* A log-variance head away from 0, so e^s matters. */
        test_fill_uniform(Ws, 12, 3u, -0.8f, 0.8f);
        test_fill_uniform(bs, 3, 4u, -1.0f, 1.0f);
        ck_assert_int_eq(clae_model_tensor_set(m, "layers.0.logvar.weight", Ws, 12), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_set(m, "layers.0.logvar.bias", bs, 3), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(m, "layers.0.weight", Wm, 12), CLAE_OK);
        ck_assert_int_eq(clae_model_tensor_get(m, "layers.0.bias", bm, 3), CLAE_OK);
        float loss;
        ck_assert_msg(clae_model_loss(m, x, rows, &loss) == CLAE_OK, "path %d: %s", p, clae_last_error());
        double kl = 0.0;
        for (size_t r = 0; r < rows; r++)
            for (size_t l = 0; l < L; l++) {
                double mu = bm[l], s = bs[l];
                for (size_t i = 0; i < D; i++) {
                    mu += (double)Wm[l * D + i] * x[r * D + i];
                    s += (double)Ws[l * D + i] * x[r * D + i];
                }
                kl += -0.5 * (1.0 + s - mu * mu - exp(s));
            }
        double want = 2.0 * kl / (double)rows, got = clae_model_last_penalty(m);
        ck_assert_msg(fabs(got - want) <= 1e-5 + 1e-5 * fabs(want), "path %d: penalty %.8g, closed form %.8g", p, got, want);
        clae_model_destroy(m);
    }
}
END_TEST

/* With the noise fixed by the step and the rows, PoCL follows the reference: loss, KL, every gradient, and the
 * weights after 5 steps. */
START_TEST(test_vae_opencl_matches_reference)
{
    clae_model *m[2];
    for (int p = 0; p < 2; p++) m[p] = make(test_rt(p), SMALL, CLAE_LOSS_BCE, 8, 0);
    const size_t D = 8, rows = 8;
    float x[8 * 8];
    test_fill_uniform(x, rows * D, 6u, 0.0f, 1.0f);
    float loss[2], pen[2];
    for (int p = 0; p < 2; p++) {
        ck_assert_msg(clae_model_loss(m[p], x, rows, &loss[p]) == CLAE_OK, "path %d: %s", p, clae_last_error());
        pen[p] = clae_model_last_penalty(m[p]);
    }
    ck_assert_msg(fabsf(loss[1] - loss[0]) <= 1e-5f * fabsf(loss[0]), "loss %g vs %g", loss[1], loss[0]);
    ck_assert_msg(fabsf(pen[1] - pen[0]) <= 1e-5f + 1e-5f * fabsf(pen[0]), "KL %g vs %g", pen[1], pen[0]);
    static const char *const names[] = {"layers.0.weight", "layers.1.weight", "layers.1.bias", "layers.1.logvar.weight",
                                        "layers.1.logvar.bias", "layers.3.weight"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        int ndim;
        size_t shape[2] = {0, 1};
        ck_assert_int_eq(clae_model_tensor_info(m[0], names[k], &ndim, shape), CLAE_OK);
        const size_t n = shape[0] * (ndim == 2 ? shape[1] : 1);
        float *g[2];
        for (int p = 0; p < 2; p++) {
            g[p] = malloc(n * sizeof *g[p]);
            ck_assert_msg(clae_model_tensor_gradient(m[p], x, rows, names[k], g[p], n) == CLAE_OK, "%s", clae_last_error());
        }
        ck_assert_allclose(g[1], g[0], n, 1e-5, 1e-4);
        for (int p = 0; p < 2; p++) free(g[p]);
    }
    for (int s = 0; s < 5; s++)
        for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_train_step(m[p], x, rows, &loss[p]), CLAE_OK);
    float w[2][6 * 8];
    for (int p = 0; p < 2; p++) ck_assert_int_eq(clae_model_tensor_get(m[p], "layers.1.logvar.weight", w[p], 18), CLAE_OK);
    ck_assert_allclose(w[1], w[0], 18, 1e-5, 1e-4);
    /* The same draws on both paths: the same log-likelihood estimates and reconstruction probabilities. */
    float ll[2][8], rp[2][8];
    for (int p = 0; p < 2; p++) {
        ck_assert_msg(clae_model_log_likelihood(m[p], x, rows, 4, ll[p]) == CLAE_OK, "%s", clae_last_error());
        ck_assert_int_eq(clae_model_recon_prob(m[p], x, rows, 4, rp[p]), CLAE_OK);
    }
    ck_assert_allclose(ll[1], ll[0], rows, 1e-4, 1e-5);
    ck_assert_allclose(rp[1], rp[0], rows, 1e-4, 1e-5);
    for (int p = 0; p < 2; p++) clae_model_destroy(m[p]);
}
END_TEST

/* The planner's overlap check and poison, as for every net; decode(encode(x)) is reconstruct(x) (inference
 * codes are μ); samples are the same on both paths. */
START_TEST(test_vae_plans_decode_sample)
{
    for (int p = 0; p < 2; p++)
        for (int f = 0; f < 2; f++) {
            clae_model *m = make(test_rt(p), SMALL, CLAE_LOSS_BCE, 8, (f ? CLAE_MODEL_INFERENCE : 0u) | CLAE_MODEL_PLAN_ONLY);
            char msg[512];
            const char *bad = test_check_model_plan(m, msg, sizeof msg);
            ck_assert_msg(bad == NULL, "path %d: %s", p, bad);
            clae_model_destroy(m);
        }
    clae_model *m[2];
    for (int k = 0; k < 2; k++) {
        if (k) setenv("CLAE_PLAN", "poison", 1);
        m[k] = make(test_rt_ref(), SMALL, CLAE_LOSS_BCE, 8, 0);
        if (k) unsetenv("CLAE_PLAN");
    }
    const size_t D = 8, rows = 6;
    float x[6 * 8], loss[2];
    test_fill_uniform(x, rows * D, 7u, 0.0f, 1.0f);
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++) ck_assert_int_eq(clae_model_train_step(m[k], x, rows, &loss[k]), CLAE_OK);
    ck_assert_float_eq(loss[0], loss[1]);
    float codes[6 * 3], a[6 * 8], b[6 * 8];
    ck_assert_int_eq(clae_model_encode(m[0], x, rows, codes), CLAE_OK);
    ck_assert_int_eq(clae_model_decode(m[0], codes, rows, a), CLAE_OK);
    ck_assert_int_eq(clae_model_reconstruct(m[0], x, rows, b), CLAE_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    for (int k = 0; k < 2; k++) clae_model_destroy(m[k]);
    /* The same prior draws decode to the same images on both paths. */
    float s[2][20 * 8];
    for (int p = 0; p < 2; p++) {
        clae_model *v = make(test_rt(p), SMALL, CLAE_LOSS_BCE, 8, 0);
        ck_assert_msg(clae_model_sample(v, 20, 99, s[p]) == CLAE_OK, "%s", clae_last_error());
        clae_model_destroy(v);
    }
    ck_assert_allclose(s[1], s[0], 20 * 8, 1e-6, 1e-5);
    /* A plain autoencoder has no prior. */
    clae_model *ae = make(test_rt_ref(), "8,dense:3:tanh,dense:8:sigmoid", CLAE_LOSS_BCE, 8, 0);
    ck_assert_int_eq(clae_model_sample(ae, 4, 1, s[0]), CLAE_ERR_ARG);
    clae_model_destroy(ae);
}
END_TEST

/* Fashion-MNIST on PoCL: the ELBO on held-out images rises with training, and clae sample writes a PNG. */
START_TEST(test_vae_fashion_elbo_and_sample)
{
    clae_dataset *train = NULL, *test = NULL;
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &train) == CLAE_OK);
    ck_assert(clae_dataset_load(test_data_path("t10k-images-idx3-ubyte.gz"), &test) == CLAE_OK);
    clae_dataset_truncate(train, 20000);
    clae_dataset_truncate(test, 200);
    clae_model_config c;
    clae_model_config_default(&c);
    c.batch = 200;
    clae_model *m = NULL;
    ck_assert_msg(clae_model_create_arch(test_rt(1), &c, "784,dense:400:tanh,gauss:20@code,dense:400:tanh,dense:784:sigmoid",
                                         0, &m) == CLAE_OK,
                  "%s", clae_last_error());
    float before, after;
    ck_assert_msg(clae_model_loss(m, test->x, test->rows, &before) == CLAE_OK, "%s", clae_last_error());
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = 2;
    clae_train_report r;
    ck_assert_msg(clae_model_train(m, train, &o, &r) == CLAE_OK, "%s", clae_last_error());
    ck_assert_int_eq(clae_model_loss(m, test->x, test->rows, &after), CLAE_OK);
    fprintf(stderr, "fashion vae 784-400-20, 2 epochs of 20000 rows: test ELBO %.2f -> %.2f nats per image (KL %.2f)\n",
            -(double)before, -(double)after, (double)clae_model_last_penalty(m));
    ck_assert_msg(-after > -before + 150.0f, "ELBO %g -> %g: not 150 nats better", -(double)before, -(double)after);
    /* The importance-weighted estimate cannot fall with more draws (in expectation: here over 100 rows), repeats
     * itself exactly, and the reconstruction probability tells images from noise (An & Cho 2015). */
    const size_t n = 100, D = 784;
    float *ll1 = malloc(n * sizeof *ll1), *ll32 = malloc(n * sizeof *ll32), *again = malloc(n * sizeof *again);
    float *noise = malloc(n * D * sizeof *noise), *rp_img = malloc(n * sizeof *rp_img), *rp_noise = malloc(n * sizeof *rp_noise);
    ck_assert_msg(clae_model_log_likelihood(m, test->x, n, 1, ll1) == CLAE_OK, "%s", clae_last_error());
    ck_assert_int_eq(clae_model_log_likelihood(m, test->x, n, 32, ll32), CLAE_OK);
    ck_assert_int_eq(clae_model_log_likelihood(m, test->x, n, 32, again), CLAE_OK);
    ck_assert_mem_eq(ll32, again, n * sizeof *ll32);
    test_fill_uniform(noise, n * D, 12u, 0.0f, 1.0f);
    ck_assert_int_eq(clae_model_recon_prob(m, test->x, n, 8, rp_img), CLAE_OK);
    ck_assert_int_eq(clae_model_recon_prob(m, noise, n, 8, rp_noise), CLAE_OK);
    double m1 = 0, m32 = 0, mi = 0, mn = 0;
    for (size_t i = 0; i < n; i++) {
        m1 += ll1[i] / n, m32 += ll32[i] / n, mi += rp_img[i] / n, mn += rp_noise[i] / n;
        ck_assert_msg(rp_img[i] <= 0.0f, "a Bernoulli log-probability above 0: %g", (double)rp_img[i]);
    }
    fprintf(stderr, "fashion vae: log p(x) by 1 draw %.2f, by 32 draws %.2f nats; reconstruction log-probability "
                    "images %.1f, uniform noise %.1f\n", m1, m32, mi, mn);
    ck_assert_msg(m32 >= m1, "32 draws %g below 1 draw %g", m32, m1);
    ck_assert_msg(mi > mn + 100.0, "images %g, noise %g", mi, mn);
    free(ll1), free(ll32), free(again), free(noise), free(rp_img), free(rp_noise);
    const char *path = test_tmp_path("vae.safetensors");
    ck_assert_int_eq(clae_model_save(m, path, NULL), CLAE_OK);
    run_result rr = run_expect(0, "sample --model %s --count 16 --out %s -q", q("vae.safetensors"), q("s.png"));
    run_free(&rr);
    FILE *f = fopen(test_tmp_path("s.png"), "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char sig[8];
    ck_assert_int_eq(fread(sig, 1, 8, f), 8);
    fclose(f);
    ck_assert_mem_eq(sig, "\x89PNG\r\n\x1a\n", 8);
    rr = run_expect(0, "sample --model %s --count 4 --seed 3 --out %s -q", q("vae.safetensors"), q("s.npy"));
    run_free(&rr);
    rr = run_expect(0, "score --model %s --data %s --limit 50 --nll --samples 8 --json -q", q("vae.safetensors"),
                    test_data_path("t10k-images-idx3-ubyte.gz"));
    run_free(&rr);
    clae_model_destroy(m);
    clae_dataset_free(train);
    clae_dataset_free(test);
}
END_TEST

Suite *suite_vae(void)
{
    Suite *s = suite_create("vae");
    TCase *tc = tcase_create("vae");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(tc, test_vae_gradients);
    tcase_add_test(tc, test_vae_kl_closed_form);
    tcase_add_test(tc, test_vae_opencl_matches_reference);
    tcase_add_test(tc, test_vae_plans_decode_sample);
    tcase_add_test(tc, test_vae_fashion_elbo_and_sample);
    suite_add_tcase(s, tc);
    return s;
}
