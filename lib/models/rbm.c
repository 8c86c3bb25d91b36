/* rbm.c — one restricted Boltzmann machine trained by contrastive divergence (CD-1, Hinton 2002), the layer of RBM
 * pretraining (Hinton & Salakhutdinov 2006): Bernoulli or Gaussian visible units, Bernoulli or linear hidden ones. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/pretrain.h"
#include "ops/gemm/gemm.h"
#include "ops/ops_rbm.h"

#define TRY(expr)                                                                                   \
    do {                                                                                            \
        clae_status s_ = (expr);                                                                    \
        if (s_ != CLAE_OK) return s_;                                                               \
    } while (0)

enum { V0, P0, H0, V1, P1, W, GW, MW, C, GC, MC, A, GA, MA, IDS, ERR, N_BUFS };

/* The device tensors of one RBM at batch B: the data v0, the hidden means P0 and states H0, the reconstruction v1
 * and its hidden means P1; the parameters W (hidden × visible: the encoder layer's own layout), c (hidden), a
 * (visible), their statistics g· and momenta m·; the rows' indices and per-row errors. The GEMM engine is lent a
 * workspace for the largest of the RBM's products, as a model's plan lends its own. */
typedef struct rbm {
    clae_runtime *rt;
    const clae_rbm_spec *s;
    clae_buf b[N_BUFS];
    clae_buf ws;
    cl_mem ws_mem;
} rbm;

static void rbm_free(rbm *r)
{
    clae_rt_set_gemm_workspace(r->rt, NULL, 0);
    clae_mem_release(r->ws_mem);
    clae_buf_free(&r->ws);
    for (int i = 0; i < N_BUFS; i++) clae_buf_free(&r->b[i]);
}

/* The products of a step, as (trans_a, trans_b, M, N, K, lda, ldb, ldc), for the workspace they ask. */
static size_t workspace_bytes(clae_runtime *rt, size_t B, size_t V, size_t H)
{
    const size_t shapes[][8] = {{0, 1, B, H, V, V, V, H}, {0, 0, B, V, H, H, V, V}, {1, 0, H, V, B, H, V, V}};
    size_t most = 0;
    for (size_t i = 0; rt->gemm->workspace_bytes && i < sizeof shapes / sizeof shapes[0]; i++) {
        const size_t *g = shapes[i];
        size_t w = rt->gemm->workspace_bytes(rt, (int)g[0], (int)g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
        if (w > most) most = w;
    }
    return most;
}

static clae_status rbm_alloc(rbm *r)
{
    const clae_rbm_spec *s = r->s;
    const size_t B = s->batch, V = s->visible, H = s->hidden;
    const size_t n[N_BUFS] = {B * V, B * H, B * H, B * V, B * H, H * V, H * V, H * V, H, H, H, V, V, V, B, B};
    for (int i = 0; i < N_BUFS; i++) TRY(clae_buf_alloc(r->rt, n[i], &r->b[i]));
    size_t ws = r->rt->is_ref ? 0 : workspace_bytes(r->rt, B, V, H);
    if (ws) {
        TRY(clae_buf_alloc(r->rt, (ws + sizeof(float) - 1) / sizeof(float), &r->ws));
        TRY(clae_buf_mem(r->rt, r->ws, &r->ws_mem));
        clae_rt_set_gemm_workspace(r->rt, r->ws_mem, ws);
    }
    /* W ~ U(−a, a) of the variance of Hinton & Salakhutdinov's 0.1·N(0, 1); biases and momenta start at 0. */
    for (int i = C; i <= MA; i++) TRY(clae_buf_zero(r->rt, r->b[i]));
    TRY(clae_buf_zero(r->rt, r->b[MW]));
    return clae_op_init_uniform(r->rt, r->b[W], H * V, s->seed, CLAE_RBM_INIT_STREAM + s->layer, 0.1f * sqrtf(3.0f));
}

/* The hidden means of rows v (n × V) into P: σ(v·Wᵀ + c) for Bernoulli units, v·Wᵀ + c for linear ones. */
static clae_status hidden_means(rbm *r, clae_buf v, size_t n, clae_buf P)
{
    const size_t V = r->s->visible, H = r->s->hidden;
    TRY(clae_op_gemm(r->rt, 0, 1, n, H, V, 1.0f, v, V, r->b[W], V, 0.0f, P, H));
    TRY(clae_op_bias_add(r->rt, P, r->b[C], n, H));
    return r->s->hidden_units == CLAE_RBM_BERNOULLI ? clae_op_act_forward(r->rt, CLAE_ACT_SIGMOID, P, P, n * H) : CLAE_OK;
}

/* One CD-1 step on the n rows in v0 (their data-set indices in ids), step number `step` keying the hidden states:
 *   P0 = means(v0), H0 = sample(P0), v1 = σ(H0·W + a) (Bernoulli visible) or H0·W + a (Gaussian), P1 = means(v1);
 *   gW = (P1ᵀ·v1 − P0ᵀ·v0)/n + wc·W, gc = colsum(P1 − P0)/n, ga = colsum(v1 − v0)/n;
 *   each parameter θ: m ← μ·m − ε·g, θ ← θ + m (the optimizer's momentum update). */
static clae_status cd1_step(rbm *r, size_t n, uint32_t step, const clae_opt_hyper *h)
{
    clae_runtime *rt = r->rt;
    const clae_rbm_spec *s = r->s;
    const size_t V = s->visible, H = s->hidden;
    clae_buf *b = r->b;
    TRY(hidden_means(r, b[V0], n, b[P0]));
    TRY(clae_op_rbm_sample(rt, s->hidden_units, n, H, b[P0], b[IDS], s->seed, step, CLAE_STREAM_RBM, b[H0]));
    TRY(clae_op_gemm(rt, 0, 0, n, V, H, 1.0f, b[H0], H, b[W], V, 0.0f, b[V1], V));
    TRY(clae_op_bias_add(rt, b[V1], b[A], n, V));
    if (s->visible_units == CLAE_RBM_BERNOULLI) TRY(clae_op_act_forward(rt, CLAE_ACT_SIGMOID, b[V1], b[V1], n * V));
    TRY(hidden_means(r, b[V1], n, b[P1]));
    const float inv = 1.0f / (float)n;
    TRY(clae_op_gemm(rt, 1, 0, H, V, n, inv, b[P1], H, b[V1], V, 0.0f, b[GW], V));
    TRY(clae_op_gemm(rt, 1, 0, H, V, n, -inv, b[P0], H, b[V0], V, 1.0f, b[GW], V));
    if (s->weight_decay > 0.0f) TRY(clae_op_axpy(rt, H * V, s->weight_decay, b[W], b[GW]));
    TRY(clae_op_rbm_bias_grad(rt, n, H, b[P0], b[P1], b[GC]));
    TRY(clae_op_rbm_bias_grad(rt, n, V, b[V0], b[V1], b[GA]));
    clae_buf none = {0};
    TRY(clae_op_opt_update(rt, h, b[W], b[GW], b[MW], none, H * V));
    TRY(clae_op_opt_update(rt, h, b[C], b[GC], b[MC], none, H));
    TRY(clae_op_opt_update(rt, h, b[A], b[GA], b[MA], none, V));
    return clae_op_row_sq_error(rt, b[V1], b[V0], n, V, b[ERR]);
}

/* The hidden means of every row of data into out (rows × hidden), a batch at a time. */
static clae_status all_hidden(rbm *r, const clae_dataset *data, float *out)
{
    const size_t B = r->s->batch, V = r->s->visible, H = r->s->hidden;
    for (size_t first = 0; first < data->rows; first += B) {
        const size_t n = data->rows - first < B ? data->rows - first : B;
        TRY(clae_buf_write(r->rt, r->b[V0], 0, data->x + first * V, n * V));
        TRY(hidden_means(r, r->b[V0], n, r->b[P0]));
        TRY(clae_buf_read(r->rt, r->b[P0], 0, out + first * H, n * H));
    }
    return CLAE_OK;
}

static clae_status train(rbm *r, const clae_dataset *data, float *W_out, float *c_out, float *a_out, float *hidden_out,
                         clae_rbm_epoch_fn on_epoch, void *user, int *stopped)
{
    const clae_rbm_spec *s = r->s;
    const size_t B = s->batch, V = s->visible, rows = data->rows;
    const uint64_t spe = (rows + B - 1) / B;
    TRY(rbm_alloc(r));
    size_t *order = malloc(rows * sizeof *order);
    float *xb = malloc(B * V * sizeof *xb), *err = malloc(B * sizeof *err);
    uint32_t *ids = malloc(B * sizeof *ids);
    clae_status st = order && xb && err && ids ? CLAE_OK : clae_fail(CLAE_ERR_NOMEM, "rbm: out of host memory");
    for (uint64_t e = 0; st == CLAE_OK && e < s->epochs && !*stopped; e++) {
        /* Hinton & Salakhutdinov's schedule: momentum 0.5 for the first five epochs, 0.9 after. */
        const clae_opt_hyper h = {.kind = CLAE_OPT_MOMENTUM, .lr = s->lr, .momentum = e < 5 ? 0.5f : 0.9f};
        clae_shuffle_order(rows, s->seed, (uint32_t)e, order);
        double sum = 0.0;
        for (uint64_t k = 0; st == CLAE_OK && k < spe; k++) {
            const size_t first = (size_t)k * B, n = rows - first < B ? rows - first : B;
            for (size_t i = 0; i < n; i++) ids[i] = (uint32_t)order[first + i];
            st = clae_dataset_gather(data, order + first, n, xb);
            if (st == CLAE_OK) st = clae_buf_write(r->rt, r->b[V0], 0, xb, n * V);
            if (st == CLAE_OK) st = clae_buf_write(r->rt, r->b[IDS], 0, (const float *)(const void *)ids, n);
            if (st == CLAE_OK) st = cd1_step(r, n, (uint32_t)(e * spe + k), &h);
            if (st == CLAE_OK) st = clae_buf_read(r->rt, r->b[ERR], 0, err, n);
            for (size_t i = 0; st == CLAE_OK && i < n; i++) sum += err[i];
        }
        const double mse = sum / ((double)rows * (double)V);
        if (st == CLAE_OK && !isfinite(mse))
            st = clae_fail(CLAE_ERR_NUMERIC, "rbm pretraining, layer %u: the reconstruction error became %g in epoch "
                                             "%llu; lower the rate", s->layer + 1, mse, (unsigned long long)e + 1);
        if (st == CLAE_OK && on_epoch && on_epoch(e + 1, mse, user)) *stopped = 1;
    }
    if (st == CLAE_OK) st = clae_buf_read(r->rt, r->b[W], 0, W_out, s->hidden * V);
    if (st == CLAE_OK) st = clae_buf_read(r->rt, r->b[C], 0, c_out, s->hidden);
    if (st == CLAE_OK) st = clae_buf_read(r->rt, r->b[A], 0, a_out, V);
    if (st == CLAE_OK && hidden_out) st = all_hidden(r, data, hidden_out);
    free(order);
    free(xb);
    free(err);
    free(ids);
    return st;
}

clae_status clae_rbm_train(clae_runtime *rt, const clae_dataset *data, const clae_rbm_spec *s, float *W_out,
                           float *c_out, float *a_out, float *hidden_out, clae_rbm_epoch_fn on_epoch, void *user,
                           int *stopped)
{
    rbm r = {.rt = rt, .s = s};
    clae_status st = train(&r, data, W_out, c_out, a_out, hidden_out, on_epoch, user, stopped);
    rbm_free(&r);
    return st;
}
