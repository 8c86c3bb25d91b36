/* model_uses.c — what the model kinds add to a model's public calls: decoding and prior samples (variational,
 * adversarial), log-likelihoods, an adversary's figures and phase gradients, selector picks, MDL code lengths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "ops/ops_aae.h"
#include "ops/ops_vae.h"

static clae_status tensor_gradient(clae_model *m, const float *x, size_t rows, const char *name, float *out, size_t count)
{
    TRY(clae_model_check_usable(m, 1, "tensor_gradient"));
    TRY(clae_model_check_rows(m, x, rows, "tensor_gradient"));
    const clae_param *P = name ? clae_model_param(m, name) : NULL;
    if (!P) return clae_fail(CLAE_ERR_ARG, "tensor_gradient: the model has no parameter '%s'", name ? name : "(null)");
    if (!out || count != P->value.n)
        return clae_fail(CLAE_ERR_ARG, "tensor_gradient: '%s' has %zu floats, not %zu", name, P->value.n, count);
    return clae_model_run_param_gradient(m, x, rows, P, out);
}

clae_status clae_model_tensor_gradient(clae_model *m, const float *x, size_t rows, const char *name, float *out,
                                       size_t count)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "tensor_gradient: model is NULL");
    WITH_PASS(m, 1, tensor_gradient(m, x, rows, name, out, count));
}

static clae_status adversary_stats(clae_model *m, clae_adversary_stats *out)
{
    const clae_layer *A = clae_model_adversary(m);
    if (!out) return clae_fail(CLAE_ERR_ARG, "adversary_stats: out is NULL");
    if (!A) return clae_fail(CLAE_ERR_ARG, "adversary_stats: the model has no adversary (an adversarial autoencoder's adv layer)");
    TRY(clae_model_check_usable(m, 1, "adversary_stats"));
    float v[4];
    TRY(clae_buf_read(m->rt, A->t[3], 0, v, 4));
    *out = (clae_adversary_stats){v[0], v[1], v[2], v[3]};
    return CLAE_OK;
}

clae_status clae_model_adversary_stats(clae_model *m, clae_adversary_stats *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "adversary_stats: model is NULL");
    return clae_model_record(m, adversary_stats(m, out));
}

static clae_status phase_gradient(clae_model *m, const float *x, size_t rows, clae_phase phase, const char *name,
                                  float *loss, float *out, size_t count)
{
    TRY(clae_model_check_usable(m, 1, "phase_gradient"));
    TRY(clae_model_check_rows(m, x, rows, "phase_gradient"));
    if ((int)phase < 0 || phase >= CLAE_PHASE_COUNT)
        return clae_fail(CLAE_ERR_ARG, "phase_gradient: phase %d; expected a clae_phase", (int)phase);
    if (phase != CLAE_PHASE_RECONSTRUCTION && !clae_model_adversary(m))
        return clae_fail(CLAE_ERR_ARG, "phase_gradient: the %s phase belongs to adversarial autoencoders; the model has "
                                       "no adversary", phase == CLAE_PHASE_DISCRIMINATOR ? "discriminator" : "generator");
    const clae_param *P = name ? clae_model_param(m, name) : NULL;
    if (!P) return clae_fail(CLAE_ERR_ARG, "phase_gradient: the model has no parameter '%s'", name ? name : "(null)");
    if (!out || count != P->value.n)
        return clae_fail(CLAE_ERR_ARG, "phase_gradient: '%s' has %zu floats, not %zu", name, P->value.n, count);
    memset(out, 0, count * sizeof *out);
    TRY(clae_model_run_phase_gradient(m, x, rows, phase, P, out, loss));
    if (!loss || phase == CLAE_PHASE_RECONSTRUCTION) return CLAE_OK;
    clae_adversary_stats a;
    TRY(adversary_stats(m, &a));
    *loss = phase == CLAE_PHASE_DISCRIMINATOR ? a.disc_loss : a.gen_loss;
    return CLAE_OK;
}

clae_status clae_model_phase_gradient(clae_model *m, const float *x, size_t rows, clae_phase phase, const char *name,
                                      float *loss, float *out, size_t count)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "phase_gradient: model is NULL");
    WITH_PASS(m, 1, phase_gradient(m, x, rows, phase, name, loss, out, count));
}

/* Decoding needs nothing of the encoder but the code: an unpool would need its pool's switches. */
static clae_status check_decodable(clae_model *m, const char *what)
{
    for (int k = m->arch.code + 1; k < m->net.n; k++)
        if (m->net.layer[k].kind == &clae_layer_unpool)
            return clae_fail(CLAE_ERR_ARG, "%s: the decoder's unpool needs the encoder's max-pool switches: nothing to "
                                           "decode a code alone with", what);
    return CLAE_OK;
}

static clae_status decode(clae_model *m, const float *codes, size_t rows, float *out)
{
    TRY(clae_model_check_usable(m, 0, "decode"));
    TRY(check_decodable(m, "decode"));
    if (!codes || !out) return clae_fail(CLAE_ERR_ARG, "decode: codes or output is NULL");
    const size_t B = (size_t)m->cfg.batch, H = m->arch.layer[m->arch.code].out, D = m->arch.input;
    for (size_t first = 0; first < rows; first += B) {
        size_t n = rows - first < B ? rows - first : B;
        TRY(clae_model_run_decode(m, codes + first * H, n));
        TRY(clae_model_infer_output(m, n, NULL, out + first * D));
    }
    return CLAE_OK;
}

clae_status clae_model_decode(clae_model *m, const float *codes, size_t rows, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "decode: model is NULL");
    WITH_PASS(m, 0, decode(m, codes, rows, out));
}

/* Codes from the model's prior, by Philox (stream CLAE_STREAM_PRIOR, element i·L + l, step 0, key seed), the same
 * on every device: N(0, I) for a variational autoencoder, the adversary's prior for an adversarial one. */
static clae_status sample(clae_model *m, size_t count, uint64_t seed, float *out)
{
    const clae_layer *C = &m->arch.layer[m->arch.code], *A = clae_model_adversary(m);
    if (C->kind != &clae_layer_gauss && !A)
        return clae_fail(CLAE_ERR_ARG, "sample: the model has no prior to draw from (its code is neither a gauss layer "
                                       "nor matched against a prior by an adv layer)");
    const size_t L = C->out;
    const uint32_t modes = A ? (uint32_t)A->iarg[3] : 0;
    float *z = malloc((count ? count : 1) * L * sizeof *z);
    if (!z) return clae_fail(CLAE_ERR_NOMEM, "sample: out of host memory for %zu codes", count);
    for (size_t i = 0; i < count; i++) clae_aae_prior_row(modes, seed, 0, CLAE_STREAM_PRIOR, i, L, z + i * L);
    clae_status s = decode(m, z, count, out);
    free(z);
    return s;
}

clae_status clae_model_sample(clae_model *m, size_t count, uint64_t seed, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "sample: model is NULL");
    WITH_PASS(m, 0, sample(m, count, seed, out));
}

/* K draws of z ~ q(z|x) per row: log w_k = log p(x|z_k) + log N(z_k; 0, I) − log N(z_k; μ, σ²), and either the
 * importance-weighted estimate log p̂(x) = logsumexp_k log w_k − log K (Burda et al. 2015) or the mean of
 * log p(x|z_k), the reconstruction probability of An & Cho (2015). In double, per row. */
static clae_status draws_per_row(clae_model *m, const float *x, size_t rows, unsigned K, int iwae, float *out,
                                 const char *what)
{
    TRY(clae_model_check_usable(m, 0, what));
    if (!x || !out) return clae_fail(CLAE_ERR_ARG, "%s: input or output is NULL", what);
    if (!m->net.stochastic || m->arch.layer[m->arch.code].kind != &clae_layer_gauss)
        return clae_fail(CLAE_ERR_ARG, "%s: the model's code is not a gauss layer (a variational autoencoder)", what);
    if (K < 1) return clae_fail(CLAE_ERR_ARG, "%s: at least one draw per row", what);
    const size_t B = (size_t)m->cfg.batch, D = m->arch.input;
    double *best = malloc(B * sizeof *best), *acc = malloc(B * sizeof *acc), *lp = malloc(2 * B * sizeof *lp);
    clae_status s = (best && acc && lp) ? CLAE_OK : clae_fail(CLAE_ERR_NOMEM, "%s: out of host memory", what);
    for (size_t first = 0; s == CLAE_OK && first < rows; first += B) {
        size_t n = rows - first < B ? rows - first : B;
        m->net.infer_first = first;
        for (unsigned k = 0; s == CLAE_OK && k < K; k++) {
            m->net.draws = K;
            m->net.draw = k;
            s = clae_model_run_infer(m, x + first * D, n, m->net.n - 1);
            if (s == CLAE_OK) s = clae_model_infer_output(m, n, NULL, NULL);
            if (s == CLAE_OK) s = clae_model_infer_loglik(m, n, lp, lp + B);
            for (size_t r = 0; s == CLAE_OK && r < n; r++) {
                double v = iwae ? lp[r] + lp[B + r] : lp[r];
                if (!iwae) {
                    acc[r] = k ? acc[r] + v : v;
                } else if (!k) {
                    best[r] = v, acc[r] = 1.0;
                } else if (v > best[r]) { /* logsumexp, rescaled to the running maximum */
                    acc[r] = acc[r] * exp(best[r] - v) + 1.0, best[r] = v;
                } else {
                    acc[r] += exp(v - best[r]);
                }
            }
        }
        for (size_t r = 0; s == CLAE_OK && r < n; r++)
            out[first + r] = (float)(iwae ? best[r] + log(acc[r]) - log((double)K) : acc[r] / K);
    }
    m->net.draws = m->net.draw = 0;
    m->net.infer_first = 0;
    free(best);
    free(acc);
    free(lp);
    return s;
}

clae_status clae_model_log_likelihood(clae_model *m, const float *x, size_t rows, unsigned samples, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "log_likelihood: model is NULL");
    WITH_PASS(m, 0, draws_per_row(m, x, rows, samples, 1, out, "log_likelihood"));
}

clae_status clae_model_recon_prob(clae_model *m, const float *x, size_t rows, unsigned samples, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "recon_prob: model is NULL");
    WITH_PASS(m, 0, draws_per_row(m, x, rows, samples, 0, out, "recon_prob"));
}

clae_status clae_model_selection(const clae_model *m, size_t *picks, size_t cap, size_t *count, double *mean_max_prob)
{
    if (!m || !count) return clae_fail(CLAE_ERR_ARG, "selection: model and count must not be NULL");
    const clae_layer *L = NULL;
    for (int k = 0; k < m->net.n; k++)
        if (m->net.layer[k].kind == &clae_layer_concrete) L = &m->net.layer[k];
    if (!L) return clae_fail(CLAE_ERR_ARG, "selection: the model has no concrete selector");
    const size_t K = L->out, D = L->in;
    *count = K;
    if (picks && cap < K) return clae_fail(CLAE_ERR_ARG, "selection: room for %zu picks, the selector makes %zu", cap, K);
    float *lam = malloc(K * D * sizeof *lam);
    if (!lam) return clae_fail(CLAE_ERR_NOMEM, "selection: out of host memory");
    clae_status s = clae_buf_read(m->rt, L->W->value, 0, lam, K * D);
    double total = 0.0;
    for (size_t k = 0; s == CLAE_OK && k < K; k++) {
        const float *row = lam + k * D;
        size_t best = 0;
        for (size_t d = 1; d < D; d++)
            if (row[d] > row[best]) best = d;
        double sum = 0.0; /* softmax at temperature 1: the pick's probability */
        for (size_t d = 0; d < D; d++) sum += exp((double)row[d] - row[best]);
        total += 1.0 / sum;
        if (picks) picks[k] = best;
    }
    if (mean_max_prob) *mean_max_prob = total / (double)K;
    free(lam);
    return s;
}

/* Per row, the two-part code of the rounded code ŷ and the residual (Hinton & Zemel 1994): rate −Σ log2 P(ŷ) plus
 * Σ (x − x̂)²/(2σ_x² ln 2) + D·(½ log2(2πσ_x²) − log2 Δ_x), in bits. */
static clae_status code_length(clae_model *m, const float *x, size_t rows, float *out)
{
    TRY(clae_model_check_usable(m, 0, "code_length"));
    if (!x || !out) return clae_fail(CLAE_ERR_ARG, "code_length: input or output is NULL");
    const clae_layer *Q = NULL;
    for (int k = 0; k < m->net.n; k++)
        if (m->net.layer[k].kind == &clae_layer_mdl) Q = &m->net.layer[k];
    if (!Q) return clae_fail(CLAE_ERR_ARG, "code_length: the model has no mdl layer (a minimum-description-length code)");
    const size_t B = (size_t)m->cfg.batch, D = m->arch.input;
    const double sigma = Q->farg[0], delta = Q->farg[1], ln2 = log(2.0);
    const double per_row = (double)D * (0.5 * log2(2.0 * 3.14159265358979323846 * sigma * sigma) - log2(delta));
    float *rate = malloc(B * sizeof *rate), *mse = malloc(B * sizeof *mse);
    clae_status s = rate && mse ? CLAE_OK : clae_fail(CLAE_ERR_NOMEM, "code_length: out of host memory");
    for (size_t first = 0; s == CLAE_OK && first < rows; first += B) {
        size_t n = rows - first < B ? rows - first : B;
        s = clae_model_run_infer(m, x + first * D, n, m->net.n - 1);
        if (s == CLAE_OK) s = clae_buf_read(m->rt, Q->t[2], 0, rate, n);
        if (s == CLAE_OK) s = clae_model_infer_output(m, n, mse, NULL);
        for (size_t r = 0; s == CLAE_OK && r < n; r++)
            out[first + r] = (float)(rate[r] + (double)mse[r] * (double)D / (2.0 * sigma * sigma * ln2) + per_row);
    }
    free(rate);
    free(mse);
    return s;
}

clae_status clae_model_code_length(clae_model *m, const float *x, size_t rows, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "code_length: model is NULL");
    WITH_PASS(m, 0, code_length(m, x, rows, out));
}

