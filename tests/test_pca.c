/* test_pca.c — the pca suite: the PCA baseline against an independent Jacobi eigen-decomposition on data with a
 * known spectrum, the training-error identity, a linear autoencoder reaching PCA's subspace, and `clae pca`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "test_util.h"

/* The synthetic data: D features, a spectral gap after H, N rows. */
#define SYN_D 20
#define SYN_H 3
#define SYN_N 1000
#define SYN_SEED 1989u /* Baldi & Hornik's year */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* n standard normals by Box–Muller from the test's Philox uniforms (seed picks the stream). */
static void fill_normal(double *z, size_t n, uint32_t seed)
{
    float *u = malloc((n + 1) * sizeof *u);
    ck_assert_ptr_nonnull(u);
    test_fill_uniform(u, n + 1, seed, 0.0f, 1.0f);
    for (size_t i = 0; i < n; i += 2) {
        /* 1 − u lies in (0, 1], so the log is finite. */
        const double r = sqrt(-2.0 * log(1.0 - (double)u[i])), t = 2.0 * acos(-1.0) * (double)u[i + 1];
        z[i] = r * cos(t);
        if (i + 1 < n) z[i + 1] = r * sin(t);
    }
    free(u);
}

/* The population spectrum: 10, 6, 3, then 0.5·0.9^(i−3), well below the gap. */
static double syn_lambda(int i) { return i == 0 ? 10.0 : i == 1 ? 6.0 : i == 2 ? 3.0 : 0.5 * pow(0.9, i - 3); }

/* X = S·diag(√λ)·Qᵀ + μ (N × D floats, malloc'd), S ~ N(0, 1), Q orthogonal from Gram–Schmidt of a Gaussian
 * matrix, μ uniform in [−1, 2). */
static float *synthetic_rows(void)
{
    const int D = SYN_D;
    double Q[SYN_D * SYN_D], mu[SYN_D];
    fill_normal(Q, (size_t)D * D, SYN_SEED + 1);
    for (int j = 0; j < D; j++) { /* columns j of Q, orthonormalised in turn (twice for good measure) */
        for (int pass = 0; pass < 2; pass++)
            for (int a = 0; a < j; a++) {
                double r = 0.0;
                for (int i = 0; i < D; i++) r += Q[i * D + a] * Q[i * D + j];
                for (int i = 0; i < D; i++) Q[i * D + j] -= r * Q[i * D + a];
            }
        double n = 0.0;
        for (int i = 0; i < D; i++) n += Q[i * D + j] * Q[i * D + j];
        for (int i = 0; i < D; i++) Q[i * D + j] /= sqrt(n);
    }
    float muf[SYN_D];
    test_fill_uniform(muf, D, SYN_SEED + 2, -1.0f, 2.0f);
    for (int i = 0; i < D; i++) mu[i] = muf[i];
    double *S = malloc((size_t)SYN_N * D * sizeof *S);
    float *x = malloc((size_t)SYN_N * D * sizeof *x);
    ck_assert(S && x);
    fill_normal(S, (size_t)SYN_N * D, SYN_SEED);
    for (size_t n = 0; n < SYN_N; n++)
        for (int i = 0; i < D; i++) {
            double v = mu[i];
            for (int j = 0; j < D; j++) v += S[n * D + j] * sqrt(syn_lambda(j)) * Q[i * D + j];
            x[n * D + i] = (float)v;
        }
    free(S);
    return x;
}

static clae_dataset dataset_of(float *x, size_t rows, size_t cols)
{
    clae_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.rows = rows;
    ds.cols = cols;
    ds.x = x;
    snprintf(ds.path, sizeof ds.path, "synthetic.npy");
    ds.format = CLAE_FORMAT_NPY;
    return ds;
}

/* The independent reference: the covariance by the textbook two-pass formula, then cyclic Jacobi rotations
 * (Golub & Van Loan, the symmetric Schur decomposition) until the off-diagonal is below 1e-15 of the norm.
 * Eigenvalues into w (descending), eigenvectors into the columns of V (D×D row-major). */
static void jacobi_reference(const float *x, size_t N, int D, double *w, double *V)
{
    double mu[SYN_D] = {0}, A[SYN_D * SYN_D] = {0};
    for (size_t n = 0; n < N; n++)
        for (int i = 0; i < D; i++) mu[i] += x[n * D + i];
    for (int i = 0; i < D; i++) mu[i] /= (double)N;
    for (size_t n = 0; n < N; n++)
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) A[i * D + j] += ((double)x[n * D + i] - mu[i]) * ((double)x[n * D + j] - mu[j]);
    double norm = 0.0;
    for (int i = 0; i < D * D; i++) {
        A[i] /= (double)N;
        norm += A[i] * A[i];
    }
    for (int i = 0; i < D * D; i++) V[i] = (i / D == i % D);
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0;
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                if (i != j) off += A[i * D + j] * A[i * D + j];
        if (off <= 1e-30 * norm) break;
        for (int p = 0; p < D - 1; p++)
            for (int q = p + 1; q < D; q++) {
                const double apq = A[p * D + q];
                if (apq == 0.0) continue;
                const double tau = (A[q * D + q] - A[p * D + p]) / (2.0 * apq);
                const double t = (tau >= 0 ? 1.0 : -1.0) / (fabs(tau) + sqrt(1.0 + tau * tau));
                const double c = 1.0 / sqrt(1.0 + t * t), s = t * c;
                for (int k = 0; k < D; k++) { /* A ← A·J */
                    const double akp = A[k * D + p], akq = A[k * D + q];
                    A[k * D + p] = c * akp - s * akq;
                    A[k * D + q] = s * akp + c * akq;
                }
                for (int k = 0; k < D; k++) { /* A ← Jᵀ·A */
                    const double apk = A[p * D + k], aqk = A[q * D + k];
                    A[p * D + k] = c * apk - s * aqk;
                    A[q * D + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < D; k++) { /* V ← V·J */
                    const double vkp = V[k * D + p], vkq = V[k * D + q];
                    V[k * D + p] = c * vkp - s * vkq;
                    V[k * D + q] = s * vkp + c * vkq;
                }
            }
    }
    /* Sort descending (selection sort moves V's columns along). */
    for (int i = 0; i < D; i++) w[i] = A[i * D + i];
    for (int i = 0; i < D; i++) {
        int best = i;
        for (int j = i + 1; j < D; j++)
            if (w[j] > w[best]) best = j;
        double t = w[i];
        w[i] = w[best];
        w[best] = t;
        for (int k = 0; k < D; k++) {
            t = V[k * D + i];
            V[k * D + i] = V[k * D + best];
            V[k * D + best] = t;
        }
    }
}

START_TEST(test_pca_recovers_spectrum)
{
    float *x = synthetic_rows();
    clae_dataset ds = dataset_of(x, SYN_N, SYN_D);
    clae_pca *p = NULL;
    ck_assert_msg(clae_pca_fit(&ds, SYN_H, &p) == CLAE_OK, "%s", clae_last_error());
    ck_assert_uint_eq(clae_pca_dim(p), SYN_D);
    ck_assert_int_eq(clae_pca_components(p), SYN_H);
    const double *lam = clae_pca_eigenvalues(p), *U = clae_pca_directions(p), *mu = clae_pca_mean(p);
    double w[SYN_D], V[SYN_D * SYN_D];
    jacobi_reference(x, SYN_N, SYN_D, w, V);
    /* The spectrum of the empirical covariance: LAPACK's and Jacobi's agree to 1e-12 of the largest eigenvalue
     * (both are backward stable; the covariances differ only in summation order). */
    double worst = 0.0;
    for (int i = 0; i < SYN_D; i++) {
        const double d = fabs(lam[i] - w[i]) / w[0];
        if (d > worst) worst = d;
        ck_assert_msg(d <= 1e-12, "eigenvalue %d: LAPACK %.17g, Jacobi %.17g", i, lam[i], w[i]);
        if (i > 0) ck_assert_msg(lam[i] <= lam[i - 1], "eigenvalues not descending at %d", i);
    }
    /* ... and they are the population's up to sampling noise: the top three within 15% (N = 1000 rows). */
    for (int i = 0; i < SYN_H; i++)
        ck_assert_msg(fabs(lam[i] - syn_lambda(i)) <= 0.15 * syn_lambda(i), "λ_%d = %g, population %g", i, lam[i],
                      syn_lambda(i));
    /* The directions: orthonormal to 1e-13, each within 1e-10 of Jacobi's (the gaps are wide: 6 → 3 → 0.5), its
     * largest component positive. */
    for (int a = 0; a < SYN_H; a++) {
        double dot = 0.0, big = 0.0;
        for (int i = 0; i < SYN_D; i++) {
            dot += U[i * SYN_H + a] * V[i * SYN_D + a];
            if (fabs(U[i * SYN_H + a]) > fabs(big)) big = U[i * SYN_H + a];
        }
        ck_assert_msg(fabs(fabs(dot) - 1.0) <= 1e-10, "direction %d: |u·v| = %.17g", a, fabs(dot));
        ck_assert_msg(big > 0.0, "direction %d: largest component %g is negative", a, big);
        for (int b = 0; b < SYN_H; b++) {
            double g = 0.0;
            for (int i = 0; i < SYN_D; i++) g += U[i * SYN_H + a] * U[i * SYN_H + b];
            ck_assert_msg(fabs(g - (a == b)) <= 1e-13, "UᵀU[%d][%d] = %.17g", a, b, g);
        }
    }
    for (int i = 0; i < SYN_D; i++) {
        double m = 0.0;
        for (size_t n = 0; n < SYN_N; n++) m += x[n * SYN_D + i];
        ck_assert_msg(fabs(m / SYN_N - mu[i]) <= 1e-12, "mean %d", i);
    }
    /* The identity: the training rows' mean reconstruction error is (1/D)·Σ_{i>H} λ_i, to 1e-9 relative. */
    double mse = 0.0, tail = 0.0, all = 0.0;
    ck_assert_int_eq(clae_pca_mse(p, x, SYN_N, &mse), CLAE_OK);
    for (int i = 0; i < SYN_D; i++) {
        all += w[i];
        if (i >= SYN_H) tail += w[i];
    }
    tail /= SYN_D;
    const double ident = clae_pca_identity_mse(p);
    fprintf(stderr, "pca synthetic D=%d H=%d N=%d: λ = %.4f %.4f %.4f | %.4f …; |Δλ|/λ_1 ≤ %.1e; train MSE %.12g, "
                    "(1/D)Σ_{i>H}λ_i %.12g (relative difference %.1e)\n",
            SYN_D, SYN_H, SYN_N, lam[0], lam[1], lam[2], lam[3], worst, mse, ident, fabs(mse - ident) / ident);
    ck_assert_msg(fabs(mse - ident) <= 1e-9 * ident, "train MSE %.17g, identity %.17g", mse, ident);
    ck_assert_msg(fabs(ident - tail) <= 1e-12 * ident, "identity %.17g, Jacobi's tail %.17g", ident, tail);
    ck_assert_msg(fabs(clae_pca_explained_variance(p) - (all - SYN_D * tail) / all) <= 1e-12, "explained variance");
    /* The float per-row errors average to the double mean within float rounding. */
    float err[SYN_N];
    ck_assert_int_eq(clae_pca_row_errors(p, x, SYN_N, err), CLAE_OK);
    double s = 0.0;
    for (int n = 0; n < SYN_N; n++) s += err[n];
    ck_assert_msg(fabs(s / SYN_N - mse) <= 1e-6 * mse, "mean of row errors %.9g, mse %.9g", s / SYN_N, mse);
    clae_pca_free(p);
    /* With every component kept the reconstruction is the data itself. */
    ck_assert_int_eq(clae_pca_fit(&ds, SYN_D, &p), CLAE_OK);
    ck_assert_int_eq(clae_pca_mse(p, x, SYN_N, &mse), CLAE_OK);
    ck_assert_msg(mse <= 1e-12 * w[0] && fabs(clae_pca_identity_mse(p)) <= 1e-15, "k = D: MSE %g", mse);
    clae_pca_free(p);
    free(x);
}
END_TEST

START_TEST(test_pca_refuses_bad_input)
{
    float x[4 * 3] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    clae_dataset ds = dataset_of(x, 4, 3);
    clae_pca *p = (clae_pca *)&ds; /* must come back NULL */
    ck_assert_int_eq(clae_pca_fit(&ds, 0, &p), CLAE_ERR_ARG);
    ck_assert_ptr_null(p);
    ck_assert_contains(clae_last_error(), "synthetic.npy");
    ck_assert_contains(clae_last_error(), "3 columns: expected 1 to 3");
    ck_assert_int_eq(clae_pca_fit(&ds, 4, &p), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_pca_fit(NULL, 1, &p), CLAE_ERR_ARG);
    x[7] = NAN;
    ck_assert_int_eq(clae_pca_fit(&ds, 1, &p), CLAE_ERR_NUMERIC);
    ck_assert_contains(clae_last_error(), "column 1");
    x[7] = 7.0f;
    ck_assert_int_eq(clae_pca_fit(&ds, 2, &p), CLAE_OK);
    ck_assert_int_eq(clae_pca_mse(p, x, 0, &(double){0}), CLAE_ERR_ARG);
    /* Principal angles need the decoder of D,dense:k,...: a net whose last layer has another shape is named. */
    double cos2[2];
    clae_model *m = test_model_arch(test_rt_ref(), "3,dense:1:linear,dense:3:linear", CLAE_LOSS_SSE, 4, 1, 0.0f, 0);
    ck_assert_int_eq(clae_model_principal_angles(m, p, cos2), CLAE_ERR_SHAPE);
    ck_assert_contains(clae_last_error(), "3,dense:1:linear");
    ck_assert_contains(clae_last_error(), "dense 3×2 decoder");
    clae_model_destroy(m);
    /* A decoder of rank 1 spans too little. */
    m = test_model_arch(test_rt_ref(), "3,dense:2:linear,dense:3:linear", CLAE_LOSS_SSE, 4, 1, 0.0f, 0);
    const float W[6] = {1, 2, 1, 2, 1, 2};
    ck_assert_int_eq(clae_model_set_layer(m, 1, W, NULL), CLAE_OK);
    ck_assert_int_eq(clae_model_principal_angles(m, p, cos2), CLAE_ERR_NUMERIC);
    ck_assert_contains(clae_last_error(), "span fewer than 2 dimensions");
    clae_model_destroy(m);
    clae_pca_free(p);
}
END_TEST

/* Baldi & Hornik (1989): a linear autoencoder with a bottleneck of H trained to its minimum spans the top-H
 * principal subspace and reaches PCA-H's error. Full-batch Adam on the synthetic data, on both paths. */
#define AE_STEPS 3000
#define AE_LR 1e-2f

START_TEST(test_linear_ae_reaches_pca)
{
    float *x = synthetic_rows();
    clae_dataset ds = dataset_of(x, SYN_N, SYN_D);
    clae_pca *p = NULL;
    ck_assert_int_eq(clae_pca_fit(&ds, SYN_H, &p), CLAE_OK);
    const double ident = clae_pca_identity_mse(p);
    char spec[64];
    snprintf(spec, sizeof spec, "%d,dense:%d:linear,dense:%d:linear", SYN_D, SYN_H, SYN_D);
    for (int path = 0; path < 2; path++) {
        clae_model *m = test_model_arch(test_rt(path), spec, CLAE_LOSS_SSE, SYN_N, 7, AE_LR, 0);
        const double t0 = now();
        for (int t = 0; t < AE_STEPS; t++) ck_assert_int_eq(clae_model_train_step(m, x, SYN_N, NULL), CLAE_OK);
        const double secs = now() - t0;
        float err[SYN_N];
        ck_assert_int_eq(clae_model_row_errors(m, x, SYN_N, err), CLAE_OK);
        double mse = 0.0;
        for (int n = 0; n < SYN_N; n++) mse += err[n];
        mse /= SYN_N;
        double cosines[SYN_H];
        ck_assert_msg(clae_model_principal_angles(m, p, cosines) == CLAE_OK, "%s", clae_last_error());
        fprintf(stderr, "pca linear AE %s (%s, Adam %g, full batch, %d steps, %.1f s): MSE %.9g vs (1/D)Σ_{i>H}λ_i "
                        "%.9g (relative %+.2e); cosines %.9f %.9f %.9f\n",
                path ? "OpenCL" : "cpu-ref", spec, (double)AE_LR, AE_STEPS, secs, mse, ident, (mse - ident) / ident,
                cosines[0], cosines[1], cosines[2]);
        /* Float32 reaches cosines within 1e-9 of 1 and the MSE within 4e-8 of PCA's (both paths); the bounds leave
         * a thousandfold and a few hundredfold. An autoencoder cannot beat PCA on its training rows, so the MSE
         * is above (to float rounding). */
        for (int j = 0; j < SYN_H; j++)
            ck_assert_msg(cosines[j] >= 1.0 - 1e-6, "%s: cosine %d = %.9f", path ? "OpenCL" : "cpu-ref", j, cosines[j]);
        ck_assert_msg(mse >= ident * (1.0 - 1e-6) && mse <= ident * (1.0 + 1e-5), "%s: MSE %.9g, PCA's %.9g",
                      path ? "OpenCL" : "cpu-ref", mse, ident);
        clae_model_destroy(m);
    }
    clae_pca_free(p);
    free(x);
}
END_TEST

/* Fashion-MNIST from the command line: PCA-32 of 10 000 training rows against a linear 784-32-784 autoencoder
 * trained five epochs on the OpenCL device, tested on 1 000 rows. */
#define FM_TRAIN 10000
#define FM_TEST 1000
#define FM_K 32
#define FM_MARGIN 0.15 /* the autoencoder's test MSE at most 15% above PCA's (measured: 7.5%) */

static double json_num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number '%s'", key);
    return v->valuedouble;
}

START_TEST(test_pca_cli_fashion)
{
    /* The OpenCL device under test, as test_rt_cl() picks it. */
    const char *env = getenv("CLAE_TEST_DEVICE");
    char dev[256] = "";
    test_append_quoted(dev, sizeof dev, env && *env ? env : "cpu");
    const double t0 = now();
    run_result r = run_expect(0, "pca --components %d --limit %d --test-limit %d --epochs 5 --lr 3e-3 --batch 64 "
                                 "--device %s --json -q",
                              FM_K, FM_TRAIN, FM_TEST, dev);
    const double secs = now() - t0;
    ck_assert_msg(r.err[0] == '\0', "-q printed:\n%s", r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_msg(j != NULL, "not JSON:\n%s", r.out);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers"), *cos = cJSON_GetObjectItemCaseSensitive(j, "cosines");
    ck_assert(cJSON_IsArray(layers) && cJSON_GetArraySize(layers) == 3);
    ck_assert_int_eq(cJSON_GetArrayItem(layers, 1)->valueint, FM_K);
    ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "device")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "device_id")));
    ck_assert_int_eq((int)json_num(j, "train_rows"), FM_TRAIN);
    ck_assert_int_eq((int)json_num(j, "test_rows"), FM_TEST);
    const double tr = json_num(j, "pca_train_mse"), id = json_num(j, "pca_identity_mse"), ev = json_num(j, "explained_variance");
    const double pte = json_num(j, "pca_test_mse"), ae = json_num(j, "ae_test_mse"), ratio = json_num(j, "ratio");
    const double minc = json_num(j, "min_cosine"), maxa = json_num(j, "max_angle_degrees");
    /* The identity on real data, in double. */
    ck_assert_msg(fabs(tr - id) <= 1e-9 * id, "train MSE %.17g, identity %.17g", tr, id);
    ck_assert(ev > 0.5 && ev < 1.0);
    /* PCA-32 far below the mean image; the autoencoder close above PCA (a test set may favour either a little). */
    clae_dataset *trn = NULL, *tst = NULL;
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &trn) == CLAE_OK);
    ck_assert(clae_dataset_load(test_data_path("t10k-images-idx3-ubyte.gz"), &tst) == CLAE_OK);
    clae_dataset_truncate(trn, FM_TRAIN);
    clae_dataset_truncate(tst, FM_TEST);
    const double base = test_mean_image_mse(trn, tst);
    clae_dataset_free(trn);
    clae_dataset_free(tst);
    ck_assert_msg(pte < 0.25 * base, "PCA-32 test MSE %g, mean image %g", pte, base);
    ck_assert_msg(fabs(ratio - ae / pte) <= 1e-12 * ratio, "ratio %g is not %g / %g", ratio, ae, pte);
    ck_assert_msg(ae >= 0.98 * pte && ae <= (1.0 + FM_MARGIN) * pte, "AE test MSE %g, PCA's %g", ae, pte);
    /* The cosines: 32, descending, in [0, 1]; the leading half of the subspace found to 0.99 or better (the last
     * directions are nearly tied: λ_32 and λ_33 differ by about 2%, so five epochs leave them mixed). */
    ck_assert(cJSON_IsArray(cos) && cJSON_GetArraySize(cos) == FM_K);
    int found = 0;
    for (int i = 0; i < FM_K; i++) {
        const double c = cJSON_GetArrayItem(cos, i)->valuedouble;
        ck_assert(c >= 0.0 && c <= 1.0);
        if (i > 0) ck_assert(c <= cJSON_GetArrayItem(cos, i - 1)->valuedouble);
        if (i < FM_K / 2) ck_assert_msg(c >= 0.99, "cosine %d = %g", i, c);
        found += c >= 0.99;
    }
    ck_assert(minc == cJSON_GetArrayItem(cos, FM_K - 1)->valuedouble);
    ck_assert(fabs(maxa - acos(minc) * 180.0 / acos(-1.0)) < 1e-9);
    fprintf(stderr, "pca cli Fashion-MNIST %d/%d rows, K=%d: PCA train %.6f = identity %.6f, explained %.4f, PCA test "
                    "%.6f, linear AE (5 epochs, Adam 3e-3, batch 64, on %s) %.6f, ratio %.4f, %d of %d cosines >= 0.99, "
                    "min cosine %.4f (%.1f°), mean image %.5f; PCA %.2f s, AE %.2f s, whole run %.1f s\n",
            FM_TRAIN, FM_TEST, FM_K, tr, id, ev, pte, dev, ae, ratio, found, FM_K, minc, maxa, base, json_num(j, "pca_seconds"),
            json_num(j, "ae_seconds"), secs);
    cJSON_Delete(j);
    run_free(&r);
}
END_TEST

/* --model evaluates a file (angles only for a one-hidden-layer linear net of width K), --out writes the basis
 * the library computes, and bad input is refused naming the flag or file. */
START_TEST(test_pca_cli_model_out_and_errors)
{
    const int rows = 2000;
    run_result r = run_expect(0, "train --arch 784,dense:16:linear,dense:784:linear --loss sse --limit %d --test-limit "
                                 "100 --epochs 1 --device cpu-ref -q --out %s",
                              rows, q("lin.safetensors"));
    run_free(&r);
    r = run_expect(0, "pca --components 16 --limit %d --test-limit 500 --model %s --out %s --device cpu-ref", rows,
                   q("lin.safetensors"), q("basis.npy"));
    ck_assert_contains(r.out, "PCA-16  train MSE");
    ck_assert_contains(r.out, "ratio AE/PCA");
    ck_assert_contains(r.out, "principal angles    min cosine");
    ck_assert_contains(r.out, "lin.safetensors");
    run_free(&r);
    /* The basis: 784 × 16, the library's directions in float. */
    clae_dataset *b = NULL, *trn = NULL;
    ck_assert(clae_dataset_load_npy(test_tmp_path("basis.npy"), &b) == CLAE_OK);
    ck_assert_uint_eq(b->rows, 784);
    ck_assert_uint_eq(b->cols, 16);
    ck_assert(clae_dataset_load(test_data_path("train-images-idx3-ubyte.gz"), &trn) == CLAE_OK);
    clae_dataset_truncate(trn, (size_t)rows);
    clae_pca *p = NULL;
    ck_assert(clae_pca_fit(trn, 16, &p) == CLAE_OK);
    const double *U = clae_pca_directions(p);
    for (size_t i = 0; i < 784 * 16; i++) ck_assert_msg(b->x[i] == (float)U[i], "basis element %zu", i);
    clae_pca_free(p);
    clae_dataset_free(trn);
    clae_dataset_free(b);
    /* Another width: no angles, and the reason. */
    r = run_expect(0, "pca --components 8 --limit 500 --test-limit 100 --model %s --device cpu-ref -q",
                   q("lin.safetensors"));
    ck_assert_contains(r.out, "principal angles    none: the model 784,dense:16:linear");
    ck_assert_contains(r.out, "not a one-hidden-layer linear net of width 8");
    run_free(&r);
    static const struct {
        int status;
        const char *args, *want;
    } bad[] = {
        {2, "pca --components 0", "--components"},
        {2, "pca --limit 100", "--components K is required"},
        {2, "pca --components 785 --limit 100 --test-limit 10", "--components 785"},
        {2, "pca --components 785 --limit 100 --test-limit 10", "has 784 columns; expected 1 to 784"},
        {1, "pca --components 8 --data /nonexistent/rows.npy", "/nonexistent/rows.npy"},
        {2, "pca --components 8 --out basis.txt", "must end in .npy"},
        {2, "pca --components 8 --model m.safetensors --epochs 3", "evaluated as it is"},
        {2, "pca --components 8 --epoch 3", "did you mean --epochs"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        r = run_expect(bad[k].status, "%s", bad[k].args);
        ck_assert_msg(strstr(r.err, bad[k].want) != NULL, "clae %s: '%s' not in:\n%s", bad[k].args, bad[k].want, r.err);
        run_free(&r);
    }
}
END_TEST

Suite *suite_pca(void)
{
    Suite *s = suite_create("pca");
    TCase *tc = tcase_create("pca");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(tc, test_pca_recovers_spectrum);
    tcase_add_test(tc, test_pca_refuses_bad_input);
    tcase_add_test(tc, test_linear_ae_reaches_pca);
    tcase_add_test(tc, test_pca_cli_fashion);
    tcase_add_test(tc, test_pca_cli_model_out_and_errors);
    suite_add_tcase(s, tc);
    return s;
}
