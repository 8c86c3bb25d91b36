/* test_vae_ops.c — the vae_ops suite: the Gaussian layer's ops of lib/ops/ops_vae.h (the reparameterized draw, its
 * KL term, the backward pass), OpenCL against the reference, both against hand-computed and closed-form answers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_vae.h"
#include "test_ops_kit.h"

static const clae_buf NONE = {0};
static const uint64_t SEED = 0x0123456789abcdefull;

static float clampf(float s) { return s < CLAE_LOGVAR_MIN ? CLAE_LOGVAR_MIN : s > CLAE_LOGVAR_MAX ? CLAE_LOGVAR_MAX : s; }

/* One gauss_sample on path p. MU, S NULL: absent (the empty buffer, no memory at all); eps NULL: ε not kept.
 * S_out (when S is given) receives S as the op left it. */
static void run_sample(int p, size_t rows, size_t L, const float *MU, const float *S, const uint32_t *ids,
                       uint32_t step, uint32_t tag, uint32_t k, uint32_t count, float *eps, float *Z, float *S_out)
{
    clae_runtime *rt = test_rt(p);
    const size_t n = rows * L;
    tbuf mu = tb_new(rt, MU, MU ? n : 0), s = tb_new(rt, S, S ? n : 0), id = tb_ids(rt, ids, rows);
    tbuf e = tb_new(rt, NULL, eps ? n : 0), z = tb_new(rt, NULL, n);
    OK(clae_op_gauss_sample(rt, rows, L, MU ? mu.b : NONE, S ? s.b : NONE, id.b, SEED, step, tag, k, count,
                            eps ? e.b : NONE, z.b));
    tb_get(&z, Z);
    if (eps) tb_get(&e, eps);
    if (S && S_out) tb_get(&s, S_out);
    tb_free(&mu);
    tb_free(&s);
    tb_free(&id);
    tb_free(&e);
    tb_free(&z);
}

/* |Z − (μ + exp(s/2)·ε)| within 1e-6 of the terms' magnitude: the only rounding allowed is exp's (an ulp or
 * three on OpenCL) and the final product and sum; an index or counter mistake is O(1). */
static void assert_z(const float *Z, const float *MU, const float *S, const float *eps, size_t n, const char *what,
                     int p)
{
    for (size_t i = 0; i < n; i++) {
        double sigma = S ? exp(0.5 * (double)S[i]) : 1.0, mu = MU ? (double)MU[i] : 0.0;
        double want = mu + sigma * (double)eps[i], tol = 1e-6 * (fabs(mu) + sigma * fabs((double)eps[i])) + 1e-30;
        ck_assert_msg(fabs((double)Z[i] - want) <= tol, "%s (%s): Z[%zu] = %.9g, want %.9g", what, path_name(p), i,
                      (double)Z[i], want);
    }
}

/* ---- gauss_sample ------------------------------------------------------------------------------ */

START_TEST(test_gauss_sample_vs_ref)
{
    /* Odd sizes, sample k = 2 of 3, ids whose e passes 2^32 (its high word in the counter), and log-variances
     * over [−40, 30), beyond the clamp on both sides. */
    const size_t rows = 37, L = 13, n = rows * L;
    const uint32_t count = 3, k = 2, step = 7;
    uint32_t ids[37];
    for (size_t r = 0; r < rows; r++) ids[r] = 1000u + 7u * (uint32_t)r;
    ids[5] = 0xffffffffu;
    ids[20] = 0x80000001u;
    float *MU = uniform(n, 41u, -2, 2), *S = uniform(n, 42u, -40, 30);
    float *eps[2] = {fmalloc(n), fmalloc(n)}, *Z[2] = {fmalloc(n), fmalloc(n)}, *Sout[2] = {fmalloc(n), fmalloc(n)};
    size_t below = 0, above = 0;
    for (size_t i = 0; i < n; i++) below += S[i] < CLAE_LOGVAR_MIN, above += S[i] > CLAE_LOGVAR_MAX;
    ck_assert_msg(below > 10 && above > 10, "the input must reach past both clamp ends (%zu, %zu)", below, above);
    float *Sc = fmalloc(n), *eps_want = fmalloc(n);
    for (size_t i = 0; i < n; i++) Sc[i] = clampf(S[i]);
    /* ε from the contract's counter, by the public Philox and clae's Box–Muller. */
    const uint32_t key[2] = {(uint32_t)SEED, (uint32_t)(SEED >> 32)};
    for (size_t r = 0; r < rows; r++)
        for (size_t l = 0; l < L; l++) {
            uint64_t e = ((uint64_t)ids[r] * count + k) * L + l;
            const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, CLAE_STREAM_GAUSS};
            uint32_t w[4];
            clae_philox4x32_10(ctr, key, w);
            eps_want[r * L + l] = clae_normal_bm(w[2], w[3]);
        }
    for (int p = 0; p < 2; p++) {
        run_sample(p, rows, L, MU, S, ids, step, CLAE_STREAM_GAUSS, k, count, eps[p], Z[p], Sout[p]);
        assert_bits(eps[p], eps_want, n, "eps vs the contract's counter", p);
        assert_bits(Sout[p], Sc, n, "S clamped in place", p);
        assert_z(Z[p], MU, Sc, eps[p], n, "Z = mu + exp(s/2) eps", p);
    }
    for (size_t i = 0; i < n; i++) {
        if (S[i] < CLAE_LOGVAR_MIN) ck_assert_float_eq(Sout[1][i], CLAE_LOGVAR_MIN);
        if (S[i] > CLAE_LOGVAR_MAX) ck_assert_float_eq(Sout[1][i], CLAE_LOGVAR_MAX);
    }
    assert_bits(eps[1], eps[0], n, "eps vs ref", 1);
    long bad = test_first_mismatch(Z[1], Z[0], n, 1e-30, 1e-6);
    ck_assert_msg(bad < 0, "Z vs ref [%ld] = %.9g, ref %.9g", bad, bad < 0 ? 0.0 : (double)Z[1][bad],
                  bad < 0 ? 0.0 : (double)Z[0][bad]);
    /* Without EPS the same Z comes back (ε is drawn, just not kept). */
    float *Z2 = fmalloc(n);
    for (int p = 0; p < 2; p++) {
        run_sample(p, rows, L, MU, S, ids, step, CLAE_STREAM_GAUSS, k, count, NULL, Z2, NULL);
        assert_bits(Z2, Z[p], n, "Z without EPS", p);
    }
    free(Z2);
    free(Sc);
    free(eps_want);
    free(MU);
    free(S);
    for (int p = 0; p < 2; p++) free(eps[p]), free(Z[p]), free(Sout[p]);
}
END_TEST

START_TEST(test_gauss_sample_streams)
{
    /* Prior draws: no μ, no S, so Z = ε bit for bit on both paths; μ alone: Z = μ + ε, one rounding. */
    const size_t rows = 9, L = 11, n = rows * L;
    uint32_t ids[9], rev[9];
    for (size_t r = 0; r < rows; r++) ids[r] = 3u * (uint32_t)r + 1u;
    for (size_t r = 0; r < rows; r++) rev[r] = ids[rows - 1 - r];
    float *MU = uniform(n, 43u, -1, 1), *want = fmalloc(n);
    float *prior[2] = {fmalloc(n), fmalloc(n)}, *eps = fmalloc(n), *z = fmalloc(n);
    for (int p = 0; p < 2; p++) {
        run_sample(p, rows, L, NULL, NULL, ids, 5, CLAE_STREAM_PRIOR, 0, 1, eps, prior[p], NULL);
        assert_bits(prior[p], eps, n, "prior Z = eps", p);
        run_sample(p, rows, L, MU, NULL, ids, 5, CLAE_STREAM_PRIOR, 0, 1, NULL, z, NULL);
        for (size_t i = 0; i < n; i++) want[i] = MU[i] + prior[p][i];
        assert_bits(z, want, n, "Z = mu + eps without S", p);
        /* A row draws the same ε wherever it sits in the batch. */
        run_sample(p, rows, L, NULL, NULL, rev, 5, CLAE_STREAM_PRIOR, 0, 1, NULL, z, NULL);
        for (size_t r = 0; r < rows; r++) assert_bits(z + r * L, prior[p] + (rows - 1 - r) * L, L, "row moved", p);
        /* Tag 2 (ε of training), another step, another sample k of the same row: other draws, every one. */
        float *other = fmalloc(n);
        struct {
            uint32_t step, tag, k, count;
        } v[3] = {{5, CLAE_STREAM_GAUSS, 0, 1}, {6, CLAE_STREAM_PRIOR, 0, 1}, {5, CLAE_STREAM_PRIOR, 1, 2}};
        for (int j = 0; j < 3; j++) {
            run_sample(p, rows, L, NULL, NULL, ids, v[j].step, v[j].tag, v[j].k, v[j].count, NULL, other, NULL);
            size_t same = 0;
            for (size_t i = 0; i < n; i++) same += other[i] == prior[p][i];
            ck_assert_msg(same == 0, "%s: variant %d repeats %zu of %zu prior draws", path_name(p), j, same, n);
        }
        free(other);
    }
    assert_bits(prior[1], prior[0], n, "prior vs ref", 1);
    free(MU);
    free(want);
    free(eps);
    free(z);
    for (int p = 0; p < 2; p++) free(prior[p]);
}
END_TEST

START_TEST(test_gauss_prior_moments)
{
    /* 100 000 prior draws (1000 rows × 100): the standard errors of the mean and variance are 1/√N ≈ 0.0032
     * and √(2/N) ≈ 0.0045; the tolerances 0.015 and 0.02 are over 4 of them (the seed is fixed, so this is a
     * check of the transform, not a flaky statistical test). */
    const size_t rows = 1000, L = 100, n = rows * L;
    uint32_t *ids = malloc(rows * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)r;
    float *z = fmalloc(n);
    for (int p = 0; p < 2; p++) {
        run_sample(p, rows, L, NULL, NULL, ids, 0, CLAE_STREAM_PRIOR, 0, 1, NULL, z, NULL);
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++) sum += z[i];
        double mean = sum / (double)n;
        for (size_t i = 0; i < n; i++) sq += ((double)z[i] - mean) * ((double)z[i] - mean);
        double var = sq / (double)(n - 1);
        ck_assert_msg(fabs(mean) < 0.015, "%s: mean of %zu prior draws %g", path_name(p), n, mean);
        ck_assert_msg(fabs(var - 1.0) < 0.02, "%s: variance of %zu prior draws %g", path_name(p), n, var);
    }
    free(z);
    free(ids);
}
END_TEST

/* ---- gauss_kl ---------------------------------------------------------------------------------- */

/* gauss_kl on path p; rows_out NULL: kl_rows absent (the empty buffer). Returns pen[0]. */
static float run_kl(int p, size_t rows, size_t L, float beta, const float *MU, const float *S, float *rows_out)
{
    clae_runtime *rt = test_rt(p);
    tbuf mu = tb_new(rt, MU, rows * L), s = tb_new(rt, S, rows * L), pen = tb_new(rt, NULL, 1);
    tbuf kr = tb_new(rt, NULL, rows_out ? rows : 0);
    OK(clae_op_gauss_kl(rt, rows, L, beta, mu.b, s.b, pen.b, rows_out ? kr.b : NONE));
    float out;
    tb_get(&pen, &out);
    if (rows_out) tb_get(&kr, rows_out);
    tb_free(&mu);
    tb_free(&s);
    tb_free(&pen);
    tb_free(&kr);
    return out;
}

START_TEST(test_gauss_kl_known)
{
    /* −½(1 + s − μ² − e^s) per unit: (μ, s) = (0, 0) → 0; (1, 0) → ½; (2, 0) → 2; (0, 1) → (e − 2)/2.
     * Rows: ½ and 2 + (e − 2)/2; with β = ½ over 2 rows, pen = ¼·(½ + 2 + (e − 2)/2). */
    const float MU[4] = {0, 1, 2, 0}, S[4] = {0, 0, 0, 1};
    const double e = exp(1.0), row1 = 2.0 + (e - 2.0) / 2.0, want = 0.25 * (0.5 + row1);
    for (int p = 0; p < 2; p++) {
        float kr[2];
        float pen = run_kl(p, 2, 2, 0.5f, MU, S, kr);
        ck_assert_msg(fabs((double)kr[0] - 0.5) < 1e-7, "%s: row 0 %.9g, want 0.5", path_name(p), (double)kr[0]);
        ck_assert_msg(fabs((double)kr[1] - row1) < 1e-6 * row1, "%s: row 1 %.9g, want %.9g", path_name(p),
                      (double)kr[1], row1);
        ck_assert_msg(fabs((double)pen - want) < 1e-6 * want, "%s: pen %.9g, want %.9g", path_name(p), (double)pen,
                      want);
        /* Without kl_rows the penalty is the same number, and β = 0 gives 0. */
        ck_assert_float_eq(run_kl(p, 2, 2, 0.5f, MU, S, NULL), pen);
        ck_assert_float_eq(run_kl(p, 2, 2, 0.0f, MU, S, NULL), 0.0f);
    }
}
END_TEST

START_TEST(test_gauss_kl_vs_ref)
{
    /* μ in [−3, 3), s in [−5, 5): terms from ~0 to ~70, against the closed form summed in double. The inputs
     * are the same floats on every path, so only the exp builtin, the float row sums and the final rounding
     * differ: rtol 1e-5 is far below any indexing mistake. */
    const size_t rows = 301, L = 17, n = rows * L;
    float *MU = uniform(n, 44u, -3, 3), *S = uniform(n, 45u, -5, 5);
    float *kr[2] = {fmalloc(rows), fmalloc(rows)}, *want = fmalloc(rows), pen[2];
    const float beta = 0.75f;
    double total = 0;
    for (size_t r = 0; r < rows; r++) {
        double row = 0;
        for (size_t l = 0; l < L; l++) {
            double m = MU[r * L + l], s = S[r * L + l];
            row += -0.5 * (1.0 + s - m * m - exp(s));
        }
        want[r] = (float)row;
        total += row;
    }
    const float want_pen = (float)((double)beta * total / (double)rows);
    for (int p = 0; p < 2; p++) {
        pen[p] = run_kl(p, rows, L, beta, MU, S, kr[p]);
        long bad = test_first_mismatch(kr[p], want, rows, 1e-5, 1e-5);
        ck_assert_msg(bad < 0, "%s: kl_rows[%ld] = %.9g, closed form %.9g", path_name(p), bad,
                      bad < 0 ? 0.0 : (double)kr[p][bad], bad < 0 ? 0.0 : (double)want[bad]);
        ck_assert_msg(fabs((double)pen[p] - want_pen) <= 1e-5 + 1e-5 * fabs(want_pen), "%s: pen %.9g, closed form %.9g",
                      path_name(p), (double)pen[p], (double)want_pen);
        ck_assert_float_eq(run_kl(p, rows, L, beta, MU, S, NULL), pen[p]);
    }
    ck_assert_allclose(kr[1], kr[0], rows, 1e-5, 1e-5);
    ck_assert_allclose(&pen[1], &pen[0], 1, 1e-5, 1e-5);
    for (int p = 0; p < 2; p++) free(kr[p]);
    free(want);
    free(MU);
    free(S);
}
END_TEST

/* ---- gauss_backward ---------------------------------------------------------------------------- */

static void run_bwd(int p, size_t rows, size_t L, float beta, const float *MU, const float *S, const float *EPS,
                    const float *GZ, float *GMU, float *GS)
{
    clae_runtime *rt = test_rt(p);
    const size_t n = rows * L;
    float *nan = fmalloc(n);
    for (size_t i = 0; i < n; i++) nan[i] = NAN;
    tbuf mu = tb_new(rt, MU, n), s = tb_new(rt, S, n), e = tb_new(rt, EPS, n), gz = tb_new(rt, GZ, n);
    tbuf gmu = tb_new(rt, nan, n), gs = tb_new(rt, nan, n);
    OK(clae_op_gauss_backward(rt, rows, L, beta, mu.b, s.b, e.b, gz.b, gmu.b, gs.b));
    float *gz_after = fmalloc(n);
    tb_get(&gz, gz_after);
    assert_bits(gz_after, GZ, n, "G_Z is read only", p);
    tb_get(&gmu, GMU);
    tb_get(&gs, GS);
    tb_free(&mu);
    tb_free(&s);
    tb_free(&e);
    tb_free(&gz);
    tb_free(&gmu);
    tb_free(&gs);
    free(gz_after);
    free(nan);
}

START_TEST(test_gauss_backward_vs_ref)
{
    /* GMU has no exp: one product and one sum, bit for bit. GS goes through exp, an ulp or so apart. */
    const size_t rows = 41, L = 9, n = rows * L;
    const float beta = 1.5f;
    float *MU = uniform(n, 46u, -2, 2), *S = uniform(n, 47u, -6, 6), *EPS = uniform(n, 48u, -3, 3);
    float *GZ = uniform(n, 49u, -1, 1);
    float *gmu[2] = {fmalloc(n), fmalloc(n)}, *gs[2] = {fmalloc(n), fmalloc(n)};
    for (int p = 0; p < 2; p++) run_bwd(p, rows, L, beta, MU, S, EPS, GZ, gmu[p], gs[p]);
    assert_bits(gmu[1], gmu[0], n, "GMU vs ref", 1);
    ck_assert_allclose(gs[1], gs[0], n, 1e-6, 1e-5);
    for (int p = 0; p < 2; p++) free(gmu[p]), free(gs[p]);
    free(MU);
    free(S);
    free(EPS);
    free(GZ);
}
END_TEST

/* Where the clamp held the log-variance (it now sits on a bound), it no longer moves the loss: GS is 0 there, on both
 * paths, and GS elsewhere is untouched by the rule. */
START_TEST(test_gauss_backward_clamped)
{
    const size_t rows = 7, L = 6, n = rows * L;
    float *MU = uniform(n, 51u, -1, 1), *S = uniform(n, 52u, -3, 3), *EPS = uniform(n, 53u, -2, 2);
    float *GZ = uniform(n, 54u, 0.5f, 1);
    for (size_t i = 0; i < n; i += 5) S[i] = i % 2 ? CLAE_LOGVAR_MAX : CLAE_LOGVAR_MIN;
    for (int p = 0; p < 2; p++) {
        float *gmu = fmalloc(n), *gs = fmalloc(n);
        run_bwd(p, rows, L, 1.0f, MU, S, EPS, GZ, gmu, gs);
        for (size_t i = 0; i < n; i++) {
            if (i % 5 == 0) ck_assert_msg(gs[i] == 0.0f, "%s: GS[%zu] = %g at the clamp bound", path_name(p), i, (double)gs[i]);
            else ck_assert_msg(gs[i] != 0.0f, "%s: GS[%zu] is 0 inside the clamp", path_name(p), i);
        }
        free(gmu), free(gs);
    }
    free(MU), free(S), free(EPS), free(GZ);
}
END_TEST

/* F(μ, s) = Σ w·Z + pen on the reference, with Z from gauss_sample (the same counters, so the same ε) and pen from
 * gauss_kl, summed in double. */
static double loss_ref(size_t rows, size_t L, float beta, const float *MU, const float *S, const uint32_t *ids,
                       const float *w)
{
    const size_t n = rows * L;
    float *z = fmalloc(n), *s_out = fmalloc(n);
    run_sample(0, rows, L, MU, S, ids, 3, CLAE_STREAM_GAUSS, 1, 2, NULL, z, s_out);
    double f = (double)run_kl(0, rows, L, beta, MU, S, NULL);
    for (size_t i = 0; i < n; i++) f += (double)w[i] * (double)z[i];
    free(z);
    free(s_out);
    return f;
}

START_TEST(test_gauss_backward_fd)
{
    /* The backward formulas are the derivatives of the forward ones: central differences of F in every μ and s
     * (step 1e-3, inside the clamp) against GMU and GS from G_Z = w. The float rounding of pen and Z over 2h
     * is ~1e-4 at most; a wrong factor (½, β/rows, σ) is off by 0.1 or more. */
    const size_t rows = 3, L = 4, n = rows * L;
    const float beta = 0.7f, h = 1e-3f;
    const uint32_t ids[3] = {4, 0, 17};
    float *MU = uniform(n, 50u, -1.5f, 1.5f), *S = uniform(n, 51u, -2, 2), *w = uniform(n, 52u, -1, 1);
    float *eps = fmalloc(n), *z = fmalloc(n), *s_out = fmalloc(n), *gmu = fmalloc(n), *gs = fmalloc(n);
    run_sample(0, rows, L, MU, S, ids, 3, CLAE_STREAM_GAUSS, 1, 2, eps, z, s_out);
    run_bwd(0, rows, L, beta, MU, S, eps, w, gmu, gs);
    for (size_t i = 0; i < n; i++) {
        for (int which = 0; which < 2; which++) {
            float *x = which ? S : MU, x0 = x[i];
            x[i] = x0 + h;
            double fp = loss_ref(rows, L, beta, MU, S, ids, w);
            x[i] = x0 - h;
            double fm = loss_ref(rows, L, beta, MU, S, ids, w);
            x[i] = x0;
            double fd = (fp - fm) / (2.0 * (double)h), g = which ? gs[i] : gmu[i];
            ck_assert_msg(fabs(fd - g) <= 1e-3 + 1e-3 * fabs(fd), "d F / d %s[%zu]: backward %.7g, differences %.7g",
                          which ? "s" : "mu", i, g, fd);
        }
    }
    free(MU);
    free(S);
    free(w);
    free(eps);
    free(z);
    free(s_out);
    free(gmu);
    free(gs);
}
END_TEST

Suite *suite_vae_ops(void)
{
    Suite *s = suite_create("vae_ops");
    TCase *tc = tcase_create("vae_ops");
    /* The first OpenCL test pays PoCL's program builds when the cache is cold. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gauss_sample_vs_ref);
    tcase_add_test(tc, test_gauss_sample_streams);
    tcase_add_test(tc, test_gauss_prior_moments);
    tcase_add_test(tc, test_gauss_kl_known);
    tcase_add_test(tc, test_gauss_kl_vs_ref);
    tcase_add_test(tc, test_gauss_backward_vs_ref);
    tcase_add_test(tc, test_gauss_backward_clamped);
    tcase_add_test(tc, test_gauss_backward_fd);
    suite_add_tcase(s, tc);
    return s;
}
