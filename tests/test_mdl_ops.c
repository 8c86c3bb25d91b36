/* test_mdl_ops.c — the mdl_ops suite: the MDL autoencoder's ops of lib/ops/ops_mdl.h (uniform noise or rounding of
 * the code, its rate under the logistic prior, the backward pass), OpenCL against the reference and both against
 * the contract's counters, hand-computed bin masses and finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_mdl.h"
#include "test_ops_kit.h"

static const clae_buf NONE = {0};
static const uint64_t SEED = 0xfedcba9876543210ull;

/* One mdl_quantize on path p; ids NULL: row_ids absent (the empty buffer). */
static void run_quant(int p, size_t rows, size_t L, const float *Y, const uint32_t *ids, uint32_t step, int noise,
                      float *T)
{
    clae_runtime *rt = test_rt(p);
    tbuf y = tb_new(rt, Y, rows * L), id = tb_ids(rt, ids, ids ? rows : 0), t = tb_new(rt, NULL, rows * L);
    OK(clae_op_mdl_quantize(rt, rows, L, y.b, ids ? id.b : NONE, SEED, step, noise, t.b));
    tb_get(&t, T);
    tb_free(&y);
    tb_free(&id);
    tb_free(&t);
}

/* ---- mdl_quantize ------------------------------------------------------------------------------ */

START_TEST(test_mdl_quantize_noise)
{
    /* Odd sizes and ids whose e = id·L + l passes 2^32 (its high word in the counter): T bit for bit the contract's
     * Y + (u − ½) on both paths; from Y = 0 the noise itself, strictly inside (−½, ½) and spread over it. */
    const size_t rows = 37, L = 13, n = rows * L;
    const uint32_t step = 9;
    uint32_t ids[37];
    for (size_t r = 0; r < rows; r++) ids[r] = 500u + 11u * (uint32_t)r;
    ids[3] = 0xffffffffu;
    ids[30] = 0x80000001u;
    float *Y = uniform(n, 61u, -3, 3), *zero = fmalloc(n), *want = fmalloc(n), *u_want = fmalloc(n);
    float *T[2] = {fmalloc(n), fmalloc(n)}, *U = fmalloc(n);
    memset(zero, 0, n * sizeof *zero);
    const uint32_t key[2] = {(uint32_t)SEED, (uint32_t)(SEED >> 32)};
    for (size_t r = 0; r < rows; r++)
        for (size_t l = 0; l < L; l++) {
            uint64_t e = (uint64_t)ids[r] * L + l;
            const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, CLAE_STREAM_UNIFORM};
            uint32_t w[4];
            clae_philox4x32_10(ctr, key, w);
            u_want[r * L + l] = clae_u01_open(w[0]) - 0.5f;
            want[r * L + l] = Y[r * L + l] + u_want[r * L + l];
        }
    for (int p = 0; p < 2; p++) {
        run_quant(p, rows, L, Y, ids, step, 1, T[p]);
        assert_bits(T[p], want, n, "T = Y + (u - 1/2) vs the contract's counter", p);
        run_quant(p, rows, L, zero, ids, step, 1, U);
        assert_bits(U, u_want, n, "the noise from Y = 0", p);
        float lo = 1, hi = -1;
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(U[i] > -0.5f && U[i] < 0.5f, "%s: noise[%zu] = %.9g outside (-1/2, 1/2)", path_name(p), i,
                          (double)U[i]);
            lo = U[i] < lo ? U[i] : lo;
            hi = U[i] > hi ? U[i] : hi;
        }
        ck_assert_msg(lo < -0.45f && hi > 0.45f, "%s: %zu noise values span only [%g, %g]", path_name(p), n,
                      (double)lo, (double)hi);
        /* Another step draws other noise, every value. */
        run_quant(p, rows, L, zero, ids, step + 1, 1, U);
        size_t same = 0;
        for (size_t i = 0; i < n; i++) same += U[i] == u_want[i];
        ck_assert_msg(same == 0, "%s: step + 1 repeats %zu of %zu noise values", path_name(p), same, n);
    }
    assert_bits(T[1], T[0], n, "T vs ref", 1);
    free(Y);
    free(zero);
    free(want);
    free(u_want);
    free(U);
    for (int p = 0; p < 2; p++) free(T[p]);
}
END_TEST

START_TEST(test_mdl_quantize_round)
{
    /* Inference rounds, halves away from zero, with no row ids at all: the same bits as C's roundf on both paths,
     * and the halves by hand. */
    const size_t rows = 5, L = 7, n = rows * L;
    float *Y = uniform(n, 62u, -4, 4), *want = fmalloc(n), *T = fmalloc(n);
    const float halves[8] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f};
    const float rounded[8] = {1, -1, 2, -2, 3, -3, 0, -0.0f};
    memcpy(Y, halves, sizeof halves);
    for (size_t i = 0; i < n; i++) want[i] = roundf(Y[i]);
    for (int p = 0; p < 2; p++) {
        run_quant(p, rows, L, Y, NULL, 3, 0, T);
        assert_bits(T, want, n, "T = roundf(Y)", p);
        assert_bits(T, rounded, 8, "halves away from zero", p);
    }
    free(Y);
    free(want);
    free(T);
}
END_TEST

/* ---- mdl_rate ---------------------------------------------------------------------------------- */

/* mdl_rate on path p; rows_out NULL: rate_rows absent. Returns pen[0]. */
static float run_rate(int p, size_t rows, size_t L, const float *T, const float *loc, const float *ls, float weight,
                      float *rows_out)
{
    clae_runtime *rt = test_rt(p);
    tbuf t = tb_new(rt, T, rows * L), m = tb_new(rt, loc, L), s = tb_new(rt, ls, L), pen = tb_new(rt, NULL, 1);
    tbuf rr = tb_new(rt, NULL, rows_out ? rows : 0);
    OK(clae_op_mdl_rate(rt, rows, L, t.b, m.b, s.b, weight, rows_out ? rr.b : NONE, pen.b));
    float out;
    tb_get(&pen, &out);
    if (rows_out) tb_get(&rr, rows_out);
    tb_free(&t);
    tb_free(&m);
    tb_free(&s);
    tb_free(&pen);
    tb_free(&rr);
    return out;
}

static double sigd(double u) { return 1.0 / (1.0 + exp(-u)); }

START_TEST(test_mdl_rate_known)
{
    /* Row 0: t = 0 at loc 0, s = 1: P = σ(½) − σ(−½); t = 3 at loc ½, s = 2: P = σ(−1) − σ(−3/2) (a = 3/2, b = 1).
     * Row 1: t = −1 at loc 0, s = 1: P = σ(−½) − σ(−3/2); t = 40 at loc ½, s = 2: P ≈ e^(−19.75) ≈ 2.6e-9 stays
     * above the bound, so no clamp here: the bound is the vs-ref test's. */
    const float T[4] = {0, 3, -1, 40}, loc[2] = {0, 0.5f}, ls[2] = {0, logf(2.0f)};
    const double s1 = exp((double)logf(2.0f));
    const double a1 = 3.0 / s1, b1 = 2.0 / s1, a3 = 40.0 / s1, b3 = 39.0 / s1;
    const double P[4] = {sigd(0.5) - sigd(-0.5), sigd(-b1) - sigd(-a1), sigd(-0.5) - sigd(-1.5),
                         sigd(-b3) - sigd(-a3)};
    ck_assert(P[3] > CLAE_MDL_P_MIN && P[3] < 1e-8);
    const double r0 = -log2(P[0]) - log2(P[1]), r1 = -log2(P[2]) - log2(P[3]), want = 0.5 * (r0 + r1) / 2.0;
    for (int p = 0; p < 2; p++) {
        float rr[2];
        float pen = run_rate(p, 2, 2, T, loc, ls, 0.5f, rr);
        ck_assert_msg(fabs((double)rr[0] - r0) < 1e-5 * r0, "%s: row 0 %.9g, want %.9g", path_name(p), (double)rr[0],
                      r0);
        ck_assert_msg(fabs((double)rr[1] - r1) < 1e-5 * r1, "%s: row 1 %.9g, want %.9g", path_name(p), (double)rr[1],
                      r1);
        ck_assert_msg(fabs((double)pen - want) < 1e-5 * want, "%s: pen %.9g, want %.9g", path_name(p), (double)pen,
                      want);
        ck_assert_float_eq(run_rate(p, 2, 2, T, loc, ls, 0.5f, NULL), pen);
        ck_assert_float_eq(run_rate(p, 2, 2, T, loc, ls, 0.0f, NULL), 0.0f);
    }
}
END_TEST

/* 13 × 7 codes around varied priors with t − loc over [−30, 30): the tails reach far past the bound at every
 * scale, and the middle has rates of a few bits. */
static void tail_data(size_t rows, size_t L, float **T, float **loc, float **ls)
{
    *loc = uniform(L, 71u, -2, 2);
    *ls = uniform(L, 72u, -1, 1.5f);
    *T = uniform(rows * L, 73u, -30, 30);
    for (size_t r = 0; r < rows; r++)
        for (size_t l = 0; l < L; l++) {
            float *t = &(*T)[r * L + l];
            /* A third of the codes near loc, so most units have both clamped and free rows. */
            if ((r + l) % 3 == 0) *t *= 0.1f;
            *t += (*loc)[l];
        }
}

/* Codes whose P the reference's own arithmetic puts below the bound. */
static size_t count_bound(size_t rows, size_t L, const float *T, const float *loc, const float *ls)
{
    size_t c = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t l = 0; l < L; l++) {
            double s = exp((double)ls[l]), t = T[r * L + l], a = (t + 0.5 - loc[l]) / s, b = (t - 0.5 - loc[l]) / s;
            double P = t - loc[l] > 0 ? sigd(-b) - sigd(-a) : sigd(a) - sigd(b);
            c += P < CLAE_MDL_P_MIN;
        }
    return c;
}

START_TEST(test_mdl_rate_vs_ref)
{
    const size_t rows = 13, L = 7, n = rows * L;
    float *T, *loc, *ls;
    tail_data(rows, L, &T, &loc, &ls);
    size_t bound = count_bound(rows, L, T, loc, ls);
    ck_assert_msg(bound > 10 && bound < n - 20, "%zu of %zu codes at the bound: want both kinds", bound, n);
    float *rr[2] = {fmalloc(rows), fmalloc(rows)}, pen[2];
    for (int p = 0; p < 2; p++) {
        pen[p] = run_rate(p, rows, L, T, loc, ls, 0.3f, rr[p]);
        ck_assert_float_eq(run_rate(p, rows, L, T, loc, ls, 0.3f, NULL), pen[p]);
        /* Every row is at most L bound terms of −log2(1e-9) ≈ 29.9 bits. */
        for (size_t r = 0; r < rows; r++)
            ck_assert_msg(rr[p][r] > 0 && rr[p][r] <= (float)L * 29.9f, "%s: rate_rows[%zu] = %g", path_name(p), r,
                          (double)rr[p][r]);
    }
    ck_assert_allclose(rr[1], rr[0], rows, 1e-5, 1e-5);
    ck_assert_allclose(&pen[1], &pen[0], 1, 1e-5, 1e-5);
    for (int p = 0; p < 2; p++) free(rr[p]);
    free(T);
    free(loc);
    free(ls);
}
END_TEST

/* ---- mdl_rate_backward ------------------------------------------------------------------------- */

/* GT starts at G0 (the op adds to it); dloc and dlogscale start as NaN (the op overwrites them). */
static void run_bwd(int p, size_t rows, size_t L, const float *T, const float *loc, const float *ls, float weight,
                    const float *G0, float *GT, float *dloc, float *dls)
{
    clae_runtime *rt = test_rt(p);
    float nan[64];
    ck_assert(L <= 64);
    for (size_t i = 0; i < L; i++) nan[i] = NAN;
    tbuf t = tb_new(rt, T, rows * L), m = tb_new(rt, loc, L), s = tb_new(rt, ls, L), g = tb_new(rt, G0, rows * L);
    tbuf dm = tb_new(rt, nan, L), ds = tb_new(rt, nan, L);
    OK(clae_op_mdl_rate_backward(rt, rows, L, t.b, m.b, s.b, weight, g.b, dm.b, ds.b));
    tb_get(&g, GT);
    tb_get(&dm, dloc);
    tb_get(&ds, dls);
    tb_free(&t);
    tb_free(&m);
    tb_free(&s);
    tb_free(&g);
    tb_free(&dm);
    tb_free(&ds);
}

START_TEST(test_mdl_backward_vs_ref)
{
    /* The tail data again: GT adds to a non-zero G0, exactly G0 where the bound holds P, and every output within
     * 1e-5 relative of the reference. */
    const size_t rows = 13, L = 7, n = rows * L;
    float *T, *loc, *ls;
    tail_data(rows, L, &T, &loc, &ls);
    float *G0 = uniform(n, 74u, -1, 1), *GT[2] = {fmalloc(n), fmalloc(n)}, dloc[2][7], dls[2][7];
    for (int p = 0; p < 2; p++) {
        run_bwd(p, rows, L, T, loc, ls, 0.8f, G0, GT[p], dloc[p], dls[p]);
        size_t held = 0, moved = 0;
        for (size_t i = 0; i < n; i++) held += GT[p][i] == G0[i], moved += GT[p][i] != G0[i];
        ck_assert_msg(held == count_bound(rows, L, T, loc, ls) && moved > 20, "%s: GT kept G0 at %zu codes, moved %zu",
                      path_name(p), held, moved);
        for (size_t l = 0; l < L; l++) ck_assert(isfinite(dloc[p][l]) && isfinite(dls[p][l]));
    }
    ck_assert_allclose(GT[1], GT[0], n, 1e-6, 1e-5);
    ck_assert_allclose(dloc[1], dloc[0], L, 1e-6, 1e-5);
    ck_assert_allclose(dls[1], dls[0], L, 1e-6, 1e-5);
    for (int p = 0; p < 2; p++) free(GT[p]);
    free(G0);
    free(T);
    free(loc);
    free(ls);
}
END_TEST

START_TEST(test_mdl_backward_fd)
{
    /* The backward formulas are the derivatives of the forward ones: central differences of pen on the reference in
     * every t, loc and logscale (step 5e-3, |t − loc| ≤ 3 so P stays far above the bound) against GT (from G0 = 0),
     * dloc and dlogscale. pen's float rounding over 2h is ~1e-4; a wrong sign, factor or ln 2 is off by 0.05 or
     * more. */
    const size_t rows = 3, L = 4, n = rows * L;
    const float weight = 0.9f, h = 5e-3f;
    float *loc = uniform(L, 75u, -1, 1), *ls = uniform(L, 76u, -0.5f, 0.5f), *T = uniform(n, 77u, -3, 3);
    for (size_t i = 0; i < n; i++) T[i] += loc[i % L];
    float *zero = fmalloc(n), *GT = fmalloc(n), dloc[4], dls[4];
    memset(zero, 0, n * sizeof *zero);
    run_bwd(0, rows, L, T, loc, ls, weight, zero, GT, dloc, dls);
    for (int which = 0; which < 3; which++) {
        float *x = which == 0 ? T : which == 1 ? loc : ls;
        const float *g = which == 0 ? GT : which == 1 ? dloc : dls;
        for (size_t i = 0; i < (which ? L : n); i++) {
            float x0 = x[i];
            x[i] = x0 + h;
            double fp = run_rate(0, rows, L, T, loc, ls, weight, NULL);
            x[i] = x0 - h;
            double fm = run_rate(0, rows, L, T, loc, ls, weight, NULL);
            x[i] = x0;
            double fd = (fp - fm) / (2.0 * (double)h);
            ck_assert_msg(fabs(fd - g[i]) <= 2e-3 + 1e-3 * fabs(fd),
                          "d pen / d %s[%zu]: backward %.7g, differences %.7g",
                          which == 0 ? "t" : which == 1 ? "loc" : "logscale", i, (double)g[i], fd);
        }
    }
    free(loc);
    free(ls);
    free(T);
    free(zero);
    free(GT);
}
END_TEST

Suite *suite_mdl_ops(void)
{
    Suite *s = suite_create("mdl_ops");
    TCase *tc = tcase_create("mdl_ops");
    /* The first OpenCL test pays PoCL's program builds when the cache is cold. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mdl_quantize_noise);
    tcase_add_test(tc, test_mdl_quantize_round);
    tcase_add_test(tc, test_mdl_rate_known);
    tcase_add_test(tc, test_mdl_rate_vs_ref);
    tcase_add_test(tc, test_mdl_backward_vs_ref);
    tcase_add_test(tc, test_mdl_backward_fd);
    suite_add_tcase(s, tc);
    return s;
}
