/* test_concrete_ops.c — the concrete_ops suite: the selector ops of lib/ops/ops_concrete.h (the Gumbel-softmax, its
 * backward pass, the hard read-out), OpenCL against the reference, both against hand-computed answers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/mathf.h"
#include "ops/ops_concrete.h"
#include "test_ops_kit.h"

static const uint64_t SEED = 0x0123456789abcdefull;

/* OpenCL against the reference. Y = (Λ + G)/T is the same float expression on both paths, so the only
 * differences are exp (the builtin against glibc), Y − max in float where the device lacks double, and the
 * final roundings: a few float ulps, ~1e-6 relative at most. An index or counter mistake is O(M). */
#define ATOL 1e-7
#define RTOL 1e-5

/* One concrete_softmax on path p. */
static void run_softmax(int p, size_t K, size_t D, const float *LAMBDA, float T, uint64_t seed, uint32_t step,
                        int gumbel, float *M)
{
    clae_runtime *rt = test_rt(p);
    float *nan = fmalloc(K * D);
    for (size_t i = 0; i < K * D; i++) nan[i] = NAN;
    tbuf l = tb_new(rt, LAMBDA, K * D), m = tb_new(rt, nan, K * D);
    OK(clae_op_concrete_softmax(rt, K, D, l.b, T, seed, step, gumbel, m.b));
    float *after = fmalloc(K * D);
    tb_get(&l, after);
    ck_assert_msg(memcmp(after, LAMBDA, K * D * sizeof *after) == 0, "%s: LAMBDA is read only", path_name(p));
    tb_get(&m, M);
    tb_free(&l);
    tb_free(&m);
    free(after);
    free(nan);
}

/* Every row of M is a distribution: entries in [0, 1], summing to 1 within the rounding of D floats. */
static void assert_rows_sum_to_one(const float *M, size_t K, size_t D, const char *what, int p)
{
    for (size_t k = 0; k < K; k++) {
        double sum = 0;
        for (size_t d = 0; d < D; d++) {
            float v = M[k * D + d];
            ck_assert_msg(v >= 0.0f && v <= 1.0f, "%s (%s): M[%zu,%zu] = %.9g", what, path_name(p), k, d, (double)v);
            sum += v;
        }
        ck_assert_msg(fabs(sum - 1.0) <= 1e-6 * (double)D, "%s (%s): row %zu sums to %.9g", what, path_name(p), k,
                      sum);
    }
}

/* G[k,d] of the contract, by the public Philox and libm's log in double (not clae's float log). */
static double gumbel_want(size_t k, size_t D, size_t d, uint64_t seed, uint32_t step)
{
    const uint64_t e = (uint64_t)k * D + d;
    const uint32_t ctr[4] = {(uint32_t)e, (uint32_t)(e >> 32), step, CLAE_STREAM_GUMBEL};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    clae_philox4x32_10(ctr, key, w);
    const double u = ((double)(w[0] >> 9) * 2.0 + 1.0) * 0x1p-24;
    return -log(-log(u));
}

/* ---- concrete_softmax -------------------------------------------------------------------------- */

START_TEST(test_concrete_softmax_vs_ref)
{
    /* Odd K, D; temperatures from nearly flat (10) to nearly one-hot (0.01, where Y reaches ~2000 and most
     * exps underflow); with and without noise. */
    const size_t K = 5, D = 37, n = K * D;
    const float temps[3] = {10.0f, 1.0f, 0.01f};
    float *L = uniform(n, 61u, -2, 2), *M[2] = {fmalloc(n), fmalloc(n)};
    for (int t = 0; t < 3; t++)
        for (int gumbel = 0; gumbel < 2; gumbel++) {
            for (int p = 0; p < 2; p++) {
                run_softmax(p, K, D, L, temps[t], SEED, 7, gumbel, M[p]);
                assert_rows_sum_to_one(M[p], K, D, gumbel ? "with noise" : "without noise", p);
            }
            long bad = test_first_mismatch(M[1], M[0], n, ATOL, RTOL);
            ck_assert_msg(bad < 0, "T = %g, gumbel %d: M[%ld] = %.9g, ref %.9g", (double)temps[t], gumbel, bad,
                          bad < 0 ? 0.0 : (double)M[1][bad], bad < 0 ? 0.0 : (double)M[0][bad]);
        }
    for (int p = 0; p < 2; p++) free(M[p]);
    free(L);
}
END_TEST

START_TEST(test_concrete_softmax_known)
{
    /* Without noise, M = softmax(Λ/T) row by row, hand-computed in double: Λ = (0, 1, 2) at T = 1 and T = 2, and
     * (1000, 999, −1000), where exp(Λ) alone would overflow: (1, e^-1, 0)/(1 + e^-1). */
    const float L[9] = {0, 1, 2, 1000, 999, -1000, -3, -3, -3};
    const double e1 = exp(1.0), e2 = exp(2.0), eh = exp(0.5);
    const double want1[9] = {1 / (1 + e1 + e2), e1 / (1 + e1 + e2), e2 / (1 + e1 + e2), 1 / (1 + 1 / e1),
                             (1 / e1) / (1 + 1 / e1), 0, 1.0 / 3, 1.0 / 3, 1.0 / 3};
    const double want2[3] = {1 / (1 + eh + e1), eh / (1 + eh + e1), e1 / (1 + eh + e1)};
    float M[9];
    for (int p = 0; p < 2; p++) {
        /* The seed and step are ignored without noise. */
        run_softmax(p, 3, 3, L, 1.0f, SEED + (uint64_t)p, 11u * (uint32_t)p, 0, M);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(fabs((double)M[i] - want1[i]) <= 1e-7 * want1[i] + 1e-30, "%s: T = 1, M[%d] = %.9g, want %.9g",
                          path_name(p), i, (double)M[i], want1[i]);
        run_softmax(p, 1, 3, L, 2.0f, SEED, 0, 0, M);
        for (int i = 0; i < 3; i++)
            ck_assert_msg(fabs((double)M[i] - want2[i]) <= 1e-7 * want2[i], "%s: T = 2, M[%d] = %.9g, want %.9g",
                          path_name(p), i, (double)M[i], want2[i]);
    }
}
END_TEST

START_TEST(test_concrete_gumbel_draws)
{
    /* With Λ = 0 and T = 1, log M[k,d] − log M[k,0] = G[k,d] − G[k,0]: the draws themselves, against the
     * contract's counter (e = k·D + d, step, stream 3, the seed as key) formed here. The G span ~20, so every M
     * stays far above underflow and its float rounding moves the log by ~1e-7; a wrong counter word, e, key or
     * transform is off by O(1). */
    const size_t K = 5, D = 37, n = K * D;
    const uint32_t step = 0x9e3779b9u;
    float *zero = fmalloc(n), *M = fmalloc(n), *M2 = fmalloc(n);
    memset(zero, 0, n * sizeof *zero);
    for (int p = 0; p < 2; p++) {
        run_softmax(p, K, D, zero, 1.0f, SEED, step, 1, M);
        for (size_t k = 0; k < K; k++)
            for (size_t d = 1; d < D; d++) {
                double got = log((double)M[k * D + d]) - log((double)M[k * D]);
                double want = gumbel_want(k, D, d, SEED, step) - gumbel_want(k, D, 0, SEED, step);
                ck_assert_msg(fabs(got - want) <= 1e-4, "%s: G[%zu,%zu] − G[%zu,0] = %.7g, want %.7g", path_name(p),
                              k, d, k, got, want);
            }
        /* Another step draws other noise: no row repeats an entry. */
        run_softmax(p, K, D, zero, 1.0f, SEED, step + 1, 1, M2);
        size_t same = 0;
        for (size_t i = 0; i < n; i++) same += M2[i] == M[i];
        ck_assert_msg(same == 0, "%s: step + 1 repeats %zu of %zu entries", path_name(p), same, n);
    }
    free(zero);
    free(M);
    free(M2);
}
END_TEST

/* ---- concrete_backward ------------------------------------------------------------------------- */

static void run_bwd(int p, size_t K, size_t D, float T, const float *M, const float *Gm, float *dL)
{
    clae_runtime *rt = test_rt(p);
    float *nan = fmalloc(K * D);
    for (size_t i = 0; i < K * D; i++) nan[i] = NAN;
    tbuf m = tb_new(rt, M, K * D), g = tb_new(rt, Gm, K * D), dl = tb_new(rt, nan, K * D);
    OK(clae_op_concrete_backward(rt, K, D, T, m.b, g.b, dl.b));
    tb_get(&dl, dL);
    tb_free(&m);
    tb_free(&g);
    tb_free(&dl);
    free(nan);
}

START_TEST(test_concrete_backward_vs_ref)
{
    /* The same M and Gm on both paths: c_k and the row differ only by the sum's precision where the device has
     * no double. Every row of dΛ sums to c(1 − Σ M)/T, 0 but for the rounding of M (which matters at T = 0.01,
     * where the row is one-hot to float precision and its other entries are ~1e-14), of c_k and of the terms. */
    const size_t K = 5, D = 37, n = K * D;
    const float temps[3] = {10.0f, 1.0f, 0.01f};
    float *L = uniform(n, 62u, -2, 2), *Gm = uniform(n, 63u, -1, 1), *M = fmalloc(n);
    float *dL[2] = {fmalloc(n), fmalloc(n)};
    for (int t = 0; t < 3; t++) {
        run_softmax(0, K, D, L, temps[t], SEED, 3, 1, M);
        for (int p = 0; p < 2; p++) {
            run_bwd(p, K, D, temps[t], M, Gm, dL[p]);
            for (size_t k = 0; k < K; k++) {
                /* Σ M − 1 as (M_top − 1) + the others, so entries below double's ε of 1 still count. */
                size_t top = 0;
                for (size_t d = 1; d < D; d++) top = M[k * D + d] > M[k * D + top] ? d : top;
                double sum = 0, mag = 0, c = 0, cmag = 0, excess = (double)M[k * D + top] - 1.0;
                for (size_t d = 0; d < D; d++) {
                    const size_t i = k * D + d;
                    sum += dL[p][i], mag += fabs((double)dL[p][i]);
                    c += (double)M[i] * Gm[i], cmag += fabs((double)M[i] * Gm[i]);
                    if (d != top) excess += M[i];
                }
                /* A device without double rounds c_k to float: that moves the sum by up to an ulp of c_k over T. */
                const double tol = 1e-6 * mag + (1.01 * fabs(c * excess) + 2e-7 * cmag) / temps[t] + 1e-30;
                ck_assert_msg(fabs(sum) <= tol, "%s, T = %g: row %zu of dLAMBDA sums to %.3g (of %.3g, tolerance %.3g)",
                              path_name(p), (double)temps[t], k, sum, mag, tol);
            }
        }
        long bad = test_first_mismatch(dL[1], dL[0], n, ATOL / temps[t], RTOL);
        ck_assert_msg(bad < 0, "T = %g: dLAMBDA[%ld] = %.9g, ref %.9g", (double)temps[t], bad,
                      bad < 0 ? 0.0 : (double)dL[1][bad], bad < 0 ? 0.0 : (double)dL[0][bad]);
    }
    for (int p = 0; p < 2; p++) free(dL[p]);
    free(L);
    free(Gm);
    free(M);
}
END_TEST

/* F(Λ) = Σ w·M(Λ) on the reference with the noise of (SEED, step 5), summed in double. */
static double loss_ref(size_t K, size_t D, const float *L, float T, const float *w)
{
    float *M = fmalloc(K * D);
    run_softmax(0, K, D, L, T, SEED, 5, 1, M);
    double f = 0;
    for (size_t i = 0; i < K * D; i++) f += (double)w[i] * (double)M[i];
    free(M);
    return f;
}

START_TEST(test_concrete_backward_fd)
{
    /* The backward pass is the derivative of the forward one with the noise held fixed: central differences of F
     * in every Λ (step 1e-3, the actual float step taken) against dΛ from Gm = w, at T = 1 and T = 0.5. The float
     * rounding of M moves F by ~1e-7, ~1e-4 after dividing by 2h; a missing 1/T or c_k is off by 0.1 or more. */
    const size_t K = 3, D = 7, n = K * D;
    const float temps[2] = {1.0f, 0.5f}, h = 1e-3f;
    float *L = uniform(n, 64u, -1, 1), *w = uniform(n, 65u, -1, 1), *M = fmalloc(n), *dL = fmalloc(n);
    for (int t = 0; t < 2; t++) {
        const float T = temps[t];
        run_softmax(0, K, D, L, T, SEED, 5, 1, M);
        run_bwd(0, K, D, T, M, w, dL);
        double biggest = 0;
        for (size_t i = 0; i < n; i++) {
            const float x0 = L[i], xp = x0 + h, xm = x0 - h;
            L[i] = xp;
            double fp = loss_ref(K, D, L, T, w);
            L[i] = xm;
            double fm = loss_ref(K, D, L, T, w);
            L[i] = x0;
            double fd = (fp - fm) / ((double)xp - (double)xm);
            if (fabs(fd) > biggest) biggest = fabs(fd);
            ck_assert_msg(fabs(fd - (double)dL[i]) <= 1e-3 + 1e-3 * fabs(fd),
                          "T = %g: d F / d LAMBDA[%zu]: backward %.7g, differences %.7g", (double)T, i,
                          (double)dL[i], fd);
        }
        ck_assert_msg(biggest > 0.05, "T = %g: the gradient is too small (%g) to tell a wrong factor", (double)T,
                      biggest);
    }
    free(L);
    free(w);
    free(M);
    free(dL);
}
END_TEST

/* ---- concrete_argmax and gather_cols ----------------------------------------------------------- */

START_TEST(test_concrete_argmax_ties)
{
    /* Row 0: the maximum at 3 and 7 → 3; row 1: all equal → 0; row 2: at the last column; row 3: all negative,
     * −∞ first, the maximum −1 at every fifth column → 5; rows 4..: random, against a loop here. Exact. */
    const size_t K = 9, D = 37, n = K * D;
    float *L = uniform(n, 66u, -1, 1), want[9], idx[9];
    L[0 * D + 3] = L[0 * D + 7] = 5.0f;
    for (size_t d = 0; d < D; d++) L[1 * D + d] = 0.25f;
    L[2 * D + D - 1] = 2.0f;
    for (size_t d = 0; d < D; d++) L[3 * D + d] = -1.0f - (float)((d * 7) % 5);
    L[3 * D] = -INFINITY;
    want[0] = 3, want[1] = 0, want[2] = (float)(D - 1), want[3] = 5;
    for (size_t k = 4; k < K; k++) {
        size_t best = 0;
        for (size_t d = 1; d < D; d++)
            if (L[k * D + d] > L[k * D + best]) best = d;
        want[k] = (float)best;
    }
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf l = tb_new(rt, L, n), ix = tb_new(rt, NULL, K);
        OK(clae_op_concrete_argmax(rt, K, D, l.b, ix.b));
        tb_get(&ix, idx);
        for (size_t k = 0; k < K; k++)
            ck_assert_msg(idx[k] == want[k], "%s: idx[%zu] = %g, want %g", path_name(p), k, (double)idx[k],
                          (double)want[k]);
        tb_free(&l);
        tb_free(&ix);
    }
    free(L);
}
END_TEST

START_TEST(test_gather_cols)
{
    /* S[r,k] = X[r, idx[k]] bit for bit, with the first and last columns and one picked twice. */
    const size_t rows = 13, D = 37, K = 5;
    const float idx[5] = {36, 0, 5, 5, 20};
    float *X = uniform(rows * D, 67u, -3, 3), *S = fmalloc(rows * K);
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf x = tb_new(rt, X, rows * D), ix = tb_new(rt, idx, K), s = tb_new(rt, NULL, rows * K);
        OK(clae_op_gather_cols(rt, rows, D, K, x.b, ix.b, s.b));
        tb_get(&s, S);
        for (size_t r = 0; r < rows; r++)
            for (size_t k = 0; k < K; k++)
                ck_assert_msg(memcmp(&S[r * K + k], &X[r * D + (size_t)idx[k]], sizeof *S) == 0,
                              "%s: S[%zu,%zu] = %.9g, want X[%zu,%g] = %.9g", path_name(p), r, k,
                              (double)S[r * K + k], r, (double)idx[k], (double)X[r * D + (size_t)idx[k]]);
        tb_free(&x);
        tb_free(&ix);
        tb_free(&s);
    }
    free(X);
    free(S);
}
END_TEST

START_TEST(test_concrete_args)
{
    /* No selectors, no features, a temperature that is not positive and finite, or a short buffer: refused on both
     * paths before anything runs. */
    for (int p = 0; p < 2; p++) {
        clae_runtime *rt = test_rt(p);
        tbuf a = tb_new(rt, NULL, 12), b = tb_new(rt, NULL, 12), c = tb_new(rt, NULL, 12);
        ck_assert(clae_op_concrete_softmax(rt, 0, 4, a.b, 1.0f, SEED, 0, 1, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_softmax(rt, 3, 0, a.b, 1.0f, SEED, 0, 1, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_softmax(rt, 3, 4, a.b, 0.0f, SEED, 0, 1, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_softmax(rt, 3, 4, a.b, NAN, SEED, 0, 1, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_softmax(rt, 3, 4, a.b, INFINITY, SEED, 0, 1, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_softmax(rt, 3, 5, a.b, 1.0f, SEED, 0, 1, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_backward(rt, 3, 4, -1.0f, a.b, b.b, c.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_backward(rt, 4, 4, 1.0f, a.b, b.b, c.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_concrete_argmax(rt, 13, 1, a.b, b.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_gather_cols(rt, 3, 4, 13, a.b, b.b, c.b) == CLAE_ERR_ARG);
        ck_assert(clae_op_gather_cols(rt, 4, 4, 3, a.b, b.b, c.b) == CLAE_ERR_ARG);
        OK(clae_op_concrete_softmax(rt, 3, 4, a.b, 1.0f, SEED, 0, 1, b.b));
        tb_free(&a);
        tb_free(&b);
        tb_free(&c);
    }
}
END_TEST

Suite *suite_concrete_ops(void)
{
    Suite *s = suite_create("concrete_ops");
    TCase *tc = tcase_create("concrete_ops");
    /* The first OpenCL test pays PoCL's program builds when the cache is cold. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_concrete_softmax_vs_ref);
    tcase_add_test(tc, test_concrete_softmax_known);
    tcase_add_test(tc, test_concrete_gumbel_draws);
    tcase_add_test(tc, test_concrete_backward_vs_ref);
    tcase_add_test(tc, test_concrete_backward_fd);
    tcase_add_test(tc, test_concrete_argmax_ties);
    tcase_add_test(tc, test_gather_cols);
    tcase_add_test(tc, test_concrete_args);
    suite_add_tcase(s, tc);
    return s;
}
