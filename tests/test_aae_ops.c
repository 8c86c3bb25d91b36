/* test_aae_ops.c — the aae_ops suite: the adversarial autoencoder's ops of lib/ops/ops_aae.h (prior draws beside the
 * codes, the discriminator's logistic loss), OpenCL against the reference, both against the contract and the math. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_aae.h"
#include "test_ops_kit.h"

/* The contract's draws are recomputed here with one rounding per written operation, as the twins do: clang would
 * fuse a*b+c into an FMA and round differently (gcc in ISO C mode never does). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static const clae_buf NONE = {0};
static const uint64_t SEED = 0x0f1e2d3c4b5a6978ull; /* distinct words, so a swapped or dropped half shows */
static const double TWO_PI = 6.283185307179586;

/* ---- the contract, written here from lib/ops/ops_aae.h --------------------------------------------------- */

static void unit_words(uint64_t id, size_t L, size_t l, uint32_t step, uint32_t tag, uint32_t w[4])
{
    const uint64_t e = id * L + l;
    const uint32_t key[2] = {(uint32_t)SEED, (uint32_t)(SEED >> 32)};
    const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, tag};
    clae_philox4x32_10(ctr, key, w);
}

/* The component the contract gives row id: ⌊K·(w_0.0 >> 8)/2^24⌋ of unit 0's words. */
static uint32_t contract_component(uint32_t modes, uint64_t id, size_t L, uint32_t step, uint32_t tag)
{
    uint32_t w[4];
    unit_words(id, L, 0, step, tag, w);
    return (uint32_t)(((uint64_t)(w[0] >> 8) * modes) >> 24);
}

/* One prior row by the header's formulas, independently of clae_aae_prior_row. */
static void contract_row(uint32_t modes, uint64_t id, size_t L, uint32_t step, uint32_t tag, float *z)
{
    float n[64];
    ck_assert(L <= 64);
    for (size_t l = 0; l < L; l++) {
        uint32_t w[4];
        unit_words(id, L, l, step, tag, w);
        n[l] = clae_normal_bm(w[2], w[3]);
    }
    if (!modes) {
        memcpy(z, n, L * sizeof *z);
        return;
    }
    const uint32_t c = contract_component(modes, id, L, step, tag);
    const float u = (float)c / (float)modes, v0 = u + 0.75f, v = v0 >= 1.0f ? v0 - 1.0f : v0;
    const float cs = clae_cos2pif(u), sn = clae_cos2pif(v);
    for (size_t j = 0; j < L; j += 2) {
        const float a = 0.5f * n[j] + 1.4f, b = 0.05f * n[j + 1];
        z[j] = a * cs - b * sn;
        z[j + 1] = a * sn + b * cs;
    }
}

/* ---- aae_batch ------------------------------------------------------------------------------------------- */

/* One aae_batch on path p into a guarded OUT of out_n floats that starts as init (NULL: zeros); CODES NULL: the
 * empty buffer. Returns the op's status (OUT is read back, guards checked, either way). */
static clae_status run_batch(int p, size_t rows, size_t L, uint32_t modes, const uint32_t *ids, uint32_t step,
                             uint32_t tag, const float *CODES, size_t out_n, const float *init, float *OUT)
{
    clae_runtime *rt = test_rt(p);
    tbuf id = tb_ids(rt, ids, rows), c = tb_new(rt, CODES, CODES ? rows * L : 0), o = tb_new(rt, init, out_n);
    clae_status s = clae_op_aae_batch(rt, rows, L, modes, id.b, SEED, step, tag, CODES ? c.b : NONE, o.b);
    tb_get(&o, OUT);
    tb_free(&id);
    tb_free(&c);
    tb_free(&o);
    return s;
}

/* Codes with the values a float copy could lose: −0, a subnormal, the largest float. */
static float *odd_codes(size_t n, uint32_t seed)
{
    float *x = uniform(n, seed, -3, 3);
    x[0] = -0.0f;
    x[1] = 1e-40f;
    x[n - 1] = 3.4028235e38f;
    return x;
}

/* Row r of OUT equals the contract and clae_aae_prior_row for ids[r], bit for bit. */
static void assert_draws(const float *OUT, size_t rows, size_t L, uint32_t modes, const uint32_t *ids, uint32_t step,
                         uint32_t tag, int p)
{
    float want[64], host[64];
    char what[96];
    for (size_t r = 0; r < rows; r++) {
        contract_row(modes, ids[r], L, step, tag, want);
        clae_aae_prior_row(modes, SEED, step, tag, ids[r], L, host);
        snprintf(what, sizeof what, "modes %u, row %zu (id %u): clae_aae_prior_row vs the contract", modes, r, ids[r]);
        assert_bits(host, want, L, what, 0);
        snprintf(what, sizeof what, "modes %u, row %zu (id %u): draw vs the contract", modes, r, ids[r]);
        assert_bits(OUT + r * L, want, L, what, p);
    }
}

START_TEST(test_aae_batch_normal)
{
    /* N(0, I) on odd sizes: the draws bit for bit the contract's (and clae_aae_prior_row's) on both paths, the
     * codes half CODES bit for bit, OpenCL equal to the reference; a row's draw is the same at any position. */
    const size_t rows = 37, L = 13, n = rows * L;
    const uint32_t step = 11, tag = CLAE_STREAM_AAE_PRIOR;
    uint32_t ids[37], rev[37];
    tb_odd_ids(ids);
    for (size_t r = 0; r < rows; r++) rev[r] = ids[rows - 1 - r];
    float *CODES = odd_codes(n, 81u), *out[2] = {fmalloc(2 * n), fmalloc(2 * n)}, *half = fmalloc(n);
    float *big = fmalloc(2 * n), *sentinel = fmalloc(2 * n);
    for (size_t i = 0; i < 2 * n; i++) sentinel[i] = 7777.0f;
    for (int p = 0; p < 2; p++) {
        OK(run_batch(p, rows, L, 0, ids, step, tag, CODES, 2 * n, NULL, out[p]));
        assert_draws(out[p], rows, L, 0, ids, step, tag, p);
        assert_bits(out[p] + n, CODES, n, "codes half vs CODES", p);
        assert_bits(out[p] + 29 * L, out[p] + 7 * L, L, "the same id at rows 7 and 29", p);
        /* Without CODES only the draws: an OUT of rows·L (its guards catch more), and in a larger OUT the
         * second half stays as it was. */
        OK(run_batch(p, rows, L, 0, ids, step, tag, NULL, n, NULL, half));
        assert_bits(half, out[p], n, "draws without CODES", p);
        OK(run_batch(p, rows, L, 0, ids, step, tag, NULL, 2 * n, sentinel, big));
        assert_bits(big, out[p], n, "draws without CODES (large OUT)", p);
        assert_bits(big + n, sentinel + n, n, "OUT past rows·L without CODES", p);
        /* The batch reversed: each row's draw moves with it. */
        OK(run_batch(p, rows, L, 0, rev, step, tag, NULL, n, NULL, half));
        for (size_t r = 0; r < rows; r++) assert_bits(half + r * L, out[p] + (rows - 1 - r) * L, L, "row moved", p);
        /* Another step or another tag draws other values, every one of them. */
        for (int j = 0; j < 2; j++) {
            OK(run_batch(p, rows, L, 0, ids, j ? step : step + 1, j ? tag + 1 : tag, NULL, n, NULL, half));
            size_t same = 0;
            for (size_t i = 0; i < n; i++) same += half[i] == out[p][i];
            ck_assert_msg(same == 0, "%s: %s repeats %zu of %zu draws", path_name(p), j ? "tag + 1" : "step + 1",
                          same, n);
        }
    }
    assert_bits(out[1], out[0], 2 * n, "OUT vs ref", 1);
    free(CODES);
    free(half);
    free(big);
    free(sentinel);
    for (int p = 0; p < 2; p++) free(out[p]);
}
END_TEST

START_TEST(test_aae_batch_mixture_vs_ref)
{
    /* Mixtures of 1, 3, 10 and the most components over 6 units (and 10 over 2): every draw the contract's bit for
     * bit on both paths, so one component per row for all its pairs; codes copied; OpenCL equal to the reference. */
    const size_t rows = 37;
    const struct {
        uint32_t modes;
        size_t L;
    } cases[] = {{1, 6}, {3, 6}, {10, 6}, {CLAE_AAE_MAX_MODES, 6}, {10, 2}};
    uint32_t ids[37];
    tb_odd_ids(ids);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const size_t L = cases[k].L, n = rows * L;
        const uint32_t modes = cases[k].modes, step = 5 + (uint32_t)k;
        float *CODES = odd_codes(n, 82u + (uint32_t)k), *out[2] = {fmalloc(2 * n), fmalloc(2 * n)};
        for (int p = 0; p < 2; p++) {
            OK(run_batch(p, rows, L, modes, ids, step, CLAE_STREAM_AAE_PRIOR, CODES, 2 * n, NULL, out[p]));
            assert_draws(out[p], rows, L, modes, ids, step, CLAE_STREAM_AAE_PRIOR, p);
            assert_bits(out[p] + n, CODES, n, "codes half vs CODES", p);
            assert_bits(out[p] + 29 * L, out[p] + 7 * L, L, "the same id at rows 7 and 29", p);
        }
        assert_bits(out[1], out[0], 2 * n, "mixture OUT vs ref", 1);
        /* Three or more components: the rows do not all share one. */
        if (modes >= 3) {
            uint32_t seen = 0;
            for (size_t r = 0; r < rows; r++)
                seen |= 1u << (contract_component(modes, ids[r], L, step, CLAE_STREAM_AAE_PRIOR) % 32);
            ck_assert_msg(seen & (seen - 1), "modes %u: all 37 rows drew one component", modes);
        }
        free(CODES);
        for (int p = 0; p < 2; p++) free(out[p]);
    }
}
END_TEST

START_TEST(test_aae_batch_normal_moments)
{
    /* 20 000 N(0, I) rows of 4 units on each path: per unit the standard errors of the mean, the variance and the
     * correlation with the next unit are 1/√N ≈ 0.0071, √(2/N) ≈ 0.010 and 0.0071; the tolerances 0.03, 0.045 and
     * 0.03 are over 4 of them (the seed is fixed, so this checks the transform, not luck). */
    const size_t rows = 20000, L = 4, n = rows * L;
    uint32_t *ids = malloc(rows * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)r;
    float *z = fmalloc(n);
    for (int p = 0; p < 2; p++) {
        OK(run_batch(p, rows, L, 0, ids, 2, CLAE_STREAM_AAE_PRIOR, NULL, n, NULL, z));
        double mean[4] = {0}, var[4] = {0};
        for (size_t l = 0; l < L; l++) {
            for (size_t r = 0; r < rows; r++) mean[l] += z[r * L + l];
            mean[l] /= (double)rows;
            for (size_t r = 0; r < rows; r++) var[l] += (z[r * L + l] - mean[l]) * (z[r * L + l] - mean[l]);
            var[l] /= (double)(rows - 1);
            ck_assert_msg(fabs(mean[l]) < 0.03, "%s: unit %zu mean %g", path_name(p), l, mean[l]);
            ck_assert_msg(fabs(var[l] - 1.0) < 0.045, "%s: unit %zu variance %g", path_name(p), l, var[l]);
        }
        for (size_t l = 0; l + 1 < L; l++) {
            double cov = 0;
            for (size_t r = 0; r < rows; r++) cov += (z[r * L + l] - mean[l]) * (z[r * L + l + 1] - mean[l + 1]);
            double corr = cov / (double)(rows - 1) / sqrt(var[l] * var[l + 1]);
            ck_assert_msg(fabs(corr) < 0.03, "%s: units %zu, %zu correlate %g", path_name(p), l, l + 1, corr);
        }
    }
    free(z);
    free(ids);
}
END_TEST

START_TEST(test_aae_batch_mixture_geometry)
{
    /* 20 000 draws of 10 components over 2 units on each path. Each draw is assigned the centre 1.4·(cos θ, sin θ),
     * θ = 2πk/10, nearest in angle and measured in that centre's frame: radial ρ, tangential τ.
     * - every |τ| < 0.3 (6 tangential σ): each draw lies along the ray through its centre;
     * - k is the contract's component for ≥ 99% of draws, and every other draw lies within 0.8 of the origin
     *   (a = 0.5·n + 1.4 below 0.7, where the tangential part can turn the angle past π/10);
     * - each of the 10 counts within 4 binomial σ (√(N·0.1·0.9) ≈ 42.4, so ±170) of 2000;
     * - mean ρ within 0.015 of 1.4 and sd ρ within 0.01 of 0.5 (4 standard errors: 0.0035 and 0.0025);
     * - mean τ within 0.0015 of 0 and sd τ within 0.0025 of 0.05 (5%: 4 standard errors are 2%, and the few draws
     *   near the origin given a neighbour's frame add about 1%). */
    const size_t rows = 20000, L = 2, n = rows * L;
    const uint32_t K = 10, step = 4;
    uint32_t *ids = malloc(rows * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)(3 * r + 1);
    float *z = fmalloc(n);
    for (int p = 0; p < 2; p++) {
        OK(run_batch(p, rows, L, K, ids, step, CLAE_STREAM_AAE_PRIOR, NULL, n, NULL, z));
        size_t count[10] = {0}, agree = 0;
        double srho = 0, srho2 = 0, stau = 0, stau2 = 0;
        for (size_t r = 0; r < rows; r++) {
            const double x = z[r * L], y = z[r * L + 1];
            long k = lround(atan2(y, x) * K / TWO_PI);
            k = ((k % (long)K) + (long)K) % (long)K;
            const double th = TWO_PI * (double)k / K;
            const double rho = x * cos(th) + y * sin(th), tau = -x * sin(th) + y * cos(th);
            ck_assert_msg(fabs(tau) < 0.3, "%s: draw %zu (%g, %g) lies %g off the ray of centre %ld", path_name(p),
                          r, x, y, tau, k);
            if ((uint32_t)k == contract_component(K, ids[r], L, step, CLAE_STREAM_AAE_PRIOR)) agree++;
            else
                ck_assert_msg(hypot(x, y) < 0.8, "%s: draw %zu (%g, %g) far from the origin nearest centre %ld, not "
                              "its component", path_name(p), r, x, y, k);
            count[k]++;
            srho += rho, srho2 += rho * rho, stau += tau, stau2 += tau * tau;
        }
        ck_assert_msg(agree >= rows - rows / 100, "%s: nearest centre is the component for %zu of %zu draws",
                      path_name(p), agree, rows);
        for (uint32_t k = 0; k < K; k++)
            ck_assert_msg(labs((long)count[k] - 2000) <= 170, "%s: component %u drawn %zu times of %zu",
                          path_name(p), k, count[k], rows);
        const double N = (double)rows, mrho = srho / N, mtau = stau / N;
        const double sdrho = sqrt((srho2 - N * mrho * mrho) / (N - 1));
        const double sdtau = sqrt((stau2 - N * mtau * mtau) / (N - 1));
        ck_assert_msg(fabs(mrho - 1.4) < 0.015, "%s: mean radial %g", path_name(p), mrho);
        ck_assert_msg(fabs(sdrho - 0.5) < 0.01, "%s: radial sd %g", path_name(p), sdrho);
        ck_assert_msg(fabs(mtau) < 0.0015, "%s: mean tangential %g", path_name(p), mtau);
        ck_assert_msg(fabs(sdtau - 0.05) < 0.0025, "%s: tangential sd %g", path_name(p), sdtau);
    }
    free(z);
    free(ids);
}
END_TEST

START_TEST(test_aae_batch_args)
{
    /* Refused by the entry on both paths with CLAE_ERR_ARG naming the op, OUT left as it was: a mixture over an odd
     * number of units, more components than CLAE_AAE_MAX_MODES, and buffers too short. The limits themselves pass. */
    const size_t rows = 5, L = 3, n = rows * 4;
    const uint32_t ids[5] = {1, 2, 3, 4, 5};
    float *sentinel = fmalloc(2 * n), *out = fmalloc(2 * n), *CODES = uniform(n, 83u, -1, 1);
    for (size_t i = 0; i < 2 * n; i++) sentinel[i] = 7777.0f;
    for (int p = 0; p < 2; p++) {
        const struct {
            uint32_t modes;
            size_t L;
        } bad[] = {{1, L}, {10, L}, {3, 1}, {CLAE_AAE_MAX_MODES + 1, 4}, {0xffffffffu, 2}};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            clae_status s = run_batch(p, rows, bad[k].L, bad[k].modes, ids, 1, 6, NULL, 2 * n, sentinel, out);
            ck_assert_msg(s == CLAE_ERR_ARG, "%s: modes %u over %zu units gave %s", path_name(p), bad[k].modes,
                          bad[k].L, clae_status_string(s));
            ck_assert_msg(strstr(clae_last_error(), "aae_batch") != NULL, "message: %s", clae_last_error());
            assert_bits(out, sentinel, 2 * n, "OUT after a refused call", p);
        }
        clae_runtime *rt = test_rt(p);
        tbuf id = tb_ids(rt, ids, rows), id_short = tb_ids(rt, ids, rows - 1), c = tb_new(rt, CODES, rows * 4);
        tbuf c_short = tb_new(rt, CODES, rows * 4 - 1), o = tb_new(rt, NULL, 2 * n), o1 = tb_new(rt, NULL, n - 1);
        tbuf o2 = tb_new(rt, NULL, 2 * n - 1);
        ck_assert(clae_op_aae_batch(rt, rows, 4, 0, id_short.b, SEED, 1, 6, c.b, o.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_aae_batch(rt, rows, 4, 0, id.b, SEED, 1, 6, c_short.b, o.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_aae_batch(rt, rows, 4, 0, id.b, SEED, 1, 6, c.b, o2.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_aae_batch(rt, rows, 4, 0, id.b, SEED, 1, 6, NONE, o1.b) == CLAE_ERR_ARG);
        /* The limits: odd L without a mixture, the most components over even L, OUT of exactly rows·L. */
        OK(clae_op_aae_batch(rt, rows, L, 0, id.b, SEED, 1, 6, NONE, o.b));
        OK(clae_op_aae_batch(rt, rows, 4, CLAE_AAE_MAX_MODES, id.b, SEED, 1, 6, c.b, o.b));
        OK(clae_op_aae_batch(rt, rows - 1, 4, 3, id.b, SEED, 1, 6, NONE, o1.b));
        tb_get(&o1, out); /* checks the guards */
        tb_free(&id);
        tb_free(&id_short);
        tb_free(&c);
        tb_free(&c_short);
        tb_free(&o);
        tb_free(&o1);
        tb_free(&o2);
    }
    free(sentinel);
    free(out);
    free(CODES);
}
END_TEST

/* ---- aae_logit_loss -------------------------------------------------------------------------------------- */

/* One aae_logit_loss on path p: G (rows + fake) and out (loss, accuracy) read back, both starting as NaN so
 * every value must be written. */
static clae_status run_loss(int p, size_t rows, size_t fake, const float *D, float *G, float out[2])
{
    clae_runtime *rt = test_rt(p);
    const size_t n = rows + fake;
    float *nan = fmalloc(n);
    for (size_t i = 0; i < n; i++) nan[i] = NAN;
    const float nan2[2] = {NAN, NAN};
    tbuf d = tb_new(rt, D, n), g = tb_new(rt, nan, n), o = tb_new(rt, nan2, 2);
    clae_status s = clae_op_aae_logit_loss(rt, rows, fake, d.b, g.b, o.b);
    tb_get(&g, G);
    tb_get(&o, out);
    float *d_after = fmalloc(n);
    tb_get(&d, d_after);
    assert_bits(d_after, D, n, "D is read only", p);
    free(d_after);
    tb_free(&d);
    tb_free(&g);
    tb_free(&o);
    free(nan);
    return s;
}

/* The contract in double with the plain formulas: softplus(z) = log1p(exp(z)) (exact enough in double for
 * |z| ≤ 700; in float, log σ(d) or log(1 − σ(d)) would be −inf at |d| = 60), σ(d) = 1/(1 + exp(−d)). */
static double loss_want(size_t rows, size_t fake, const float *D, double *G, size_t *right)
{
    double sum = 0;
    *right = 0;
    for (size_t i = 0; i < rows + fake; i++) {
        const double d = D[i], t = i < rows ? 1.0 : 0.0;
        sum += i < rows ? log1p(exp(-d)) : log1p(exp(d));
        if (G) G[i] = (1.0 / (1.0 + exp(-d)) - t) / (double)rows;
        *right += i < rows ? D[i] > 0.0f : D[i] < 0.0f;
    }
    return sum / (double)rows;
}

START_TEST(test_aae_logit_loss_known)
{
    /* rows 2, fake 2, D = {2, −1 | 0.5, −3}: right are 2 (real) and −3 (fake), so accuracy ½; loss
     * ½·(sp(−2) + sp(1) + sp(0.5) + sp(−3)), seeds ((σ(2) − 1)/2, (σ(−1) − 1)/2, σ(0.5)/2, σ(−3)/2), written out by
     * hand in double. Then rows 3, fake 0, D = {0, 1, −2}: a zero logit is wrong (accuracy exactly 1/3 as a float),
     * loss ⅓·(sp(0) + sp(−1) + sp(2)). Loss and seeds within 1e-6 relative (the float rounding and an ulp or two
     * of exp); any label, sign or divisor mistake is off by 10% or more. */
    const float D1[4] = {2, -1, 0.5f, -3}, D2[3] = {0, 1, -2};
#define SP(z) log(1.0 + exp(z))
#define SIG(z) (1.0 / (1.0 + exp(-(z))))
    const double loss1 = 0.5 * (SP(-2.0) + SP(1.0) + SP(0.5) + SP(-3.0));
    const double G1[4] = {(SIG(2.0) - 1) / 2, (SIG(-1.0) - 1) / 2, SIG(0.5) / 2, SIG(-3.0) / 2};
    const double loss2 = (SP(0.0) + SP(-1.0) + SP(2.0)) / 3;
    const double G2[3] = {(SIG(0.0) - 1) / 3, (SIG(1.0) - 1) / 3, (SIG(-2.0) - 1) / 3};
#undef SP
#undef SIG
    for (int p = 0; p < 2; p++) {
        float G[4], out[2];
        OK(run_loss(p, 2, 2, D1, G, out));
        ck_assert_msg(fabs(out[0] - loss1) <= 1e-6 * loss1, "%s: loss %.9g, want %.9g", path_name(p), (double)out[0],
                      loss1);
        ck_assert_msg(out[1] == 0.5f, "%s: accuracy %.9g, want 0.5", path_name(p), (double)out[1]);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabs(G[i] - G1[i]) <= 1e-6 * fabs(G1[i]), "%s: G[%d] %.9g, want %.9g", path_name(p), i,
                          (double)G[i], G1[i]);
        OK(run_loss(p, 3, 0, D2, G, out));
        ck_assert_msg(fabs(out[0] - loss2) <= 1e-6 * loss2, "%s: loss %.9g, want %.9g", path_name(p), (double)out[0],
                      loss2);
        ck_assert_msg(out[1] == (float)(1.0 / 3.0), "%s: accuracy %.9g, want 1/3", path_name(p), (double)out[1]);
        for (int i = 0; i < 3; i++)
            ck_assert_msg(fabs(G[i] - G2[i]) <= 1e-6 * fabs(G2[i]), "%s: G[%d] %.9g, want %.9g", path_name(p), i,
                          (double)G[i], G2[i]);
    }
}
END_TEST

START_TEST(test_aae_logit_loss_vs_ref)
{
    /* 37 real logits, then 37 fake or none, over [−60, 60) (log σ and log(1 − σ) in float would be −inf there)
     * with exact zeros and −0 among both labels: OpenCL against the reference and both against the contract in
     * double. Seeds within 1e-6 relative + 2^-23/rows (σ near 1 is rounded to the grid of 2^-24 below 1 before
     * 1 is subtracted, so an ulp of exp can move it a step; /rows carries that over), the loss within 1e-6
     * relative, the accuracy exactly (right / (rows + fake), an integer count). */
    const size_t rows = 37;
    float *D = uniform(2 * rows, 84u, -60, 60);
    const size_t zeros[] = {0, 5, 35, 38, 50, 73};
    for (size_t k = 0; k < sizeof zeros / sizeof zeros[0]; k++) D[zeros[k]] = k % 2 ? -0.0f : 0.0f;
    /* The extremes, and either side of the label boundary classified wrong, so a boundary one off shows. */
    D[1] = 60, D[2] = -60, D[40] = 60, D[41] = -60, D[36] = -1.5f, D[37] = 2.5f;
    for (size_t fake = 0; fake <= rows; fake += rows) {
        const size_t n = rows + fake;
        float *G[2] = {fmalloc(n), fmalloc(n)}, out[2][2], *Gw = fmalloc(n);
        double *Gd = malloc(n * sizeof *Gd);
        ck_assert_ptr_nonnull(Gd);
        size_t right;
        const double loss = loss_want(rows, fake, D, Gd, &right);
        const float acc = (float)((double)right / (double)n);
        for (size_t i = 0; i < n; i++) Gw[i] = (float)Gd[i];
        const double gatol = ldexp(1.0, -23) / (double)rows;
        for (int p = 0; p < 2; p++) {
            OK(run_loss(p, rows, fake, D, G[p], out[p]));
            ck_assert_msg(isfinite(out[p][0]) && fabs(out[p][0] - loss) <= 1e-6 * loss,
                          "%s, fake %zu: loss %.9g, want %.9g", path_name(p), fake, (double)out[p][0], loss);
            ck_assert_msg(out[p][1] == acc, "%s, fake %zu: accuracy %.9g, want %zu/%zu", path_name(p), fake,
                          (double)out[p][1], right, n);
            long bad = test_first_mismatch(G[p], Gw, n, gatol, 1e-6);
            ck_assert_msg(bad < 0, "%s, fake %zu: G[%ld] = %.9g, contract %.9g", path_name(p), fake, bad,
                          bad < 0 ? 0.0 : (double)G[p][bad], bad < 0 ? 0.0 : Gd[bad]);
        }
        ck_assert_allclose(G[1], G[0], n, gatol, 1e-6);
        ck_assert_allclose(&out[1][0], &out[0][0], 1, 0.0, 1e-6);
        ck_assert_float_eq(out[1][1], out[0][1]);
        for (int p = 0; p < 2; p++) free(G[p]);
        free(Gw);
        free(Gd);
    }
    free(D);
}
END_TEST

START_TEST(test_aae_logit_loss_fd)
{
    /* The seeds are the derivative of the loss: central differences of out[0] on the reference in every logit
     * (step 1e-2, divided by the step the floats really took) against G, for fake = rows and fake = 0. The logits
     * are in [−4, 4) with a zero and ±20; the loss is a few units, so its float rounding over 2h is ~5e-5 and the
     * truncation h²/6·max|sp'''|/rows ~3e-7: tolerance 2e-4 + 1e-3·|fd|. A wrong label or divisor is off by at
     * least σ(−4)/(2·rows) ≈ 2e-3. */
    const size_t rows = 5;
    const float h = 1e-2f;
    float *D = uniform(2 * rows, 85u, -4, 4);
    D[1] = 0, D[3] = 20, D[7] = -20, D[8] = 20;
    for (size_t fake = 0; fake <= rows; fake += rows) {
        const size_t n = rows + fake;
        float G[10], out[2], Gs[10];
        OK(run_loss(0, rows, fake, D, G, out));
        for (size_t i = 0; i < n; i++) {
            const float x0 = D[i], xp = x0 + h, xm = x0 - h;
            D[i] = xp;
            OK(run_loss(0, rows, fake, D, Gs, out));
            const double fp = out[0];
            D[i] = xm;
            OK(run_loss(0, rows, fake, D, Gs, out));
            const double fm = out[0];
            D[i] = x0;
            const double fd = (fp - fm) / ((double)xp - (double)xm);
            ck_assert_msg(fabs(fd - G[i]) <= 2e-4 + 1e-3 * fabs(fd),
                          "fake %zu: d loss / d D[%zu] = %.7g, seed %.7g", fake, i, fd, (double)G[i]);
        }
    }
    free(D);
}
END_TEST

START_TEST(test_aae_logit_loss_args)
{
    /* No real rows (with or without fake ones), or a buffer too short: CLAE_ERR_ARG on both paths, nothing run. */
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf d = tb_new(rt, NULL, 8), g = tb_new(rt, NULL, 8), o = tb_new(rt, NULL, 2), s7 = tb_new(rt, NULL, 7);
        tbuf o1 = tb_new(rt, NULL, 1);
        ck_assert(clae_op_aae_logit_loss(rt, 0, 4, d.b, g.b, o.b) == CLAE_ERR_ARG);
        ck_assert_msg(strstr(clae_last_error(), "aae_logit_loss") != NULL, "message: %s", clae_last_error());
        ck_assert(clae_op_aae_logit_loss(rt, 0, 0, d.b, g.b, o.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_aae_logit_loss(rt, 4, 4, s7.b, g.b, o.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_aae_logit_loss(rt, 4, 4, d.b, s7.b, o.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_aae_logit_loss(rt, 4, 4, d.b, g.b, o1.b) == CLAE_ERR_ARG);
        OK(clae_op_aae_logit_loss(rt, 4, 4, d.b, g.b, o.b));
        OK(clae_op_aae_logit_loss(rt, 7, 0, s7.b, g.b, o.b));
        float out[2];
        tb_get(&o, out);
        /* All seven logits are 0: loss ln 2, none classified right. */
        ck_assert_msg(fabs(out[0] - log(2.0)) < 1e-6 && out[1] == 0.0f, "%s: zeros give %g, %g", path_name(p),
                      (double)out[0], (double)out[1]);
        tb_free(&d);
        tb_free(&g);
        tb_free(&o);
        tb_free(&s7);
        tb_free(&o1);
    }
}
END_TEST

Suite *suite_aae_ops(void)
{
    Suite *s = suite_create("aae_ops");
    TCase *tc = tcase_create("aae_ops");
    /* The first OpenCL test pays PoCL's program builds when the cache is cold. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_aae_batch_normal);
    tcase_add_test(tc, test_aae_batch_mixture_vs_ref);
    tcase_add_test(tc, test_aae_batch_normal_moments);
    tcase_add_test(tc, test_aae_batch_mixture_geometry);
    tcase_add_test(tc, test_aae_batch_args);
    tcase_add_test(tc, test_aae_logit_loss_known);
    tcase_add_test(tc, test_aae_logit_loss_vs_ref);
    tcase_add_test(tc, test_aae_logit_loss_fd);
    tcase_add_test(tc, test_aae_logit_loss_args);
    suite_add_tcase(s, tc);
    return s;
}
