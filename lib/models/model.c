/* model.c — the dense autoencoder: weights, forward, loss, backward and optimizer step.
 * Composes the ops of ops.h (clae_op_*), so the same code runs on cpu-ref and every OpenCL device. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "models/model_internal.h"
#include "ops/gemm/gemm.h"

/* Records the thread's last error on the model and the runtime. */
static clae_status model_fail(clae_model *m, clae_status s)
{
    if (s != CLAE_OK) {
        clae_error_copy_to(m->error);
        clae_rt_fail(m->rt, s);
    }
    return s;
}

#define TRY(expr)                                                                                   \
    do {                                                                                            \
        clae_status s_ = (expr);                                                                    \
        if (s_ != CLAE_OK) return s_;                                                               \
    } while (0)

static size_t width(const clae_model *m, int i) { return clae_width(m, i); }

static int is_training_model(const clae_model *m) { return !(m->flags & CLAE_MODEL_INFERENCE); }

/* ---- the schedule ------------------------------------------------------------------------
 * A training step is: load, forward 0..M-1, loss, backward M-1..0 (each backward position
 * also applies that layer's update, so its weight gradient dies there). An inference pass
 * follows: load, forward 0..M-1, output. Inference-only models have only the latter. */

static int train_positions(const clae_model *m) { return is_training_model(m) ? 2 * m->M + 2 : 0; }
int clae_pos_load(const clae_model *m, int training) { return training ? 0 : train_positions(m); }
int clae_pos_forward(const clae_model *m, int training, int l) { return clae_pos_load(m, training) + 1 + l; }
int clae_pos_loss(const clae_model *m) { return m->M + 1; }
int clae_pos_backward(const clae_model *m, int l) { return m->M + 2 + (m->M - 1 - l); }
int clae_pos_output(const clae_model *m) { return train_positions(m) + m->M + 1; }
int clae_pos_last(const clae_model *m) { return train_positions(m) - 1; }

clae_status clae_model_plan_add(clae_model *m, const char *name, clae_buf *dst, size_t n, int first, int last)
{
    if (n > SIZE_MAX / sizeof(float)) return clae_fail(CLAE_ERR_DEVICE_MEM, "plan: tensor %s is too large", name);
    /* Room for the destination first, so plan.n never counts a tensor without one. */
    clae_buf **d = realloc(m->plan_dst, (size_t)(m->plan.n + 1) * sizeof *d);
    if (!d) return clae_fail(CLAE_ERR_NOMEM, "plan: out of host memory");
    m->plan_dst = d;
    int i = clae_plan_add(&m->plan, name, n * sizeof(float), first, last);
    if (i < 0) return CLAE_ERR_NOMEM;
    m->plan_dst[i] = dst;
    return CLAE_OK;
}

clae_status clae_model_plan_keep(clae_model *m, clae_buf *dst, int until)
{
    for (int i = 0; i < m->plan.n; i++) {
        if (m->plan_dst[i] != dst) continue;
        if (m->plan.tensors[i].last < until) m->plan.tensors[i].last = until;
        return CLAE_OK;
    }
    return clae_fail(CLAE_ERR_ARG, "plan: no planned tensor to keep alive");
}

#define PLAN(name, dst, n, first, last) TRY(clae_model_plan_add(m, (name), (dst), (n), (first), (last)))

/* The largest workspace the engine asks for over the GEMMs of one pass. */
static size_t gemm_workspace_floats(clae_model *m, int training)
{
    const clae_gemm_engine *g = m->rt->gemm;
    size_t B = (size_t)m->cfg.batch, most = 0;
    for (int l = 0; l < m->M; l++) {
        size_t in = width(m, l), out = width(m, l + 1), b;
        b = g->workspace_bytes(m->rt, 0, 1, B, out, in, in, in, out);
        if (b > most) most = b;
        if (!training) continue;
        b = g->workspace_bytes(m->rt, 1, 0, out, in, B, out, in, in);
        if (b > most) most = b;
        b = g->workspace_bytes(m->rt, 0, 0, B, in, out, out, in, in);
        if (b > most) most = b;
    }
    return (most + sizeof(float) - 1) / sizeof(float);
}

/* Lists every tensor with its lifetime (see the schedule above). */
static clae_status plan_pass(clae_model *m, dense_pass *p, int training)
{
    int M = m->M;
    size_t B = (size_t)m->cfg.batch;
    const char *pre = training ? "" : "infer.";
    char name[CLAE_PLAN_NAME];
    p->training = training;
    int load = clae_pos_load(m, training);
    int end0 = training ? clae_pos_backward(m, 0) : clae_pos_output(m);
    snprintf(name, sizeof name, "%sact.0", pre);
    PLAN(name, &p->act[0], B * width(m, 0), load, end0);
    for (int i = 1; i <= M; i++) {
        /* act[i] feeds forward i and, in training, the dW of layer i and f' of layer i-1. */
        int last = training ? clae_pos_backward(m, i < M ? i : M - 1)
                            : (i < M ? clae_pos_forward(m, 0, i) : clae_pos_output(m));
        snprintf(name, sizeof name, "%sact.%d", pre, i);
        PLAN(name, &p->act[i], B * width(m, i), clae_pos_forward(m, training, i - 1), last);
    }
    if (training && m->cfg.loss == CLAE_LOSS_BCE)
        PLAN("out_pre", &p->out_pre, B * width(m, M), clae_pos_forward(m, 1, M - 1), clae_pos_loss(m));
    /* Training: made at the loss position, read at the end of the step (see train_step). */
    snprintf(name, sizeof name, "%srow_out", pre);
    if (training) PLAN(name, &p->row_out, B, clae_pos_loss(m), clae_pos_last(m));
    else PLAN(name, &p->row_out, B, clae_pos_output(m), clae_pos_output(m));
    size_t ws = gemm_workspace_floats(m, training);
    if (ws) {
        snprintf(name, sizeof name, "%sgemm_workspace", pre);
        PLAN(name, &p->gemm_ws, ws, clae_pos_forward(m, training, 0),
             training ? clae_pos_backward(m, 0) : clae_pos_forward(m, 0, M - 1));
    }
    return CLAE_OK;
}

static clae_status plan_tensors(clae_model *m)
{
    int M = m->M;
    int training = is_training_model(m);
    int adaptive = m->cfg.optimizer != CLAE_OPT_SGD;
    int two_state = m->cfg.optimizer == CLAE_OPT_ADAM || m->cfg.optimizer == CLAE_OPT_ADADELTA;
    const char *s1 = m->cfg.optimizer == CLAE_OPT_ADAM ? "adam.m" : m->cfg.optimizer == CLAE_OPT_ADADELTA ? "adadelta.eg2" : "velocity";
    const char *s2 = m->cfg.optimizer == CLAE_OPT_ADAM ? "adam.v" : "adadelta.edx2";
    char name[CLAE_PLAN_NAME];
    for (int l = 0; l < M; l++) {
        dense_layer *L = &m->layer[l];
        size_t nw = width(m, l + 1) * width(m, l), nb = width(m, l + 1);
        snprintf(name, sizeof name, "layers.%d.weight", l);
        PLAN(name, &L->W, nw, CLAE_PLAN_ALWAYS, 0);
        snprintf(name, sizeof name, "layers.%d.bias", l);
        PLAN(name, &L->b, nb, CLAE_PLAN_ALWAYS, 0);
        if (!training) continue;
        int back = clae_pos_backward(m, l);
        snprintf(name, sizeof name, "grad.layers.%d.weight", l);
        PLAN(name, &L->dW, nw, back, back);
        snprintf(name, sizeof name, "grad.layers.%d.bias", l);
        PLAN(name, &L->db, nb, back, back);
        if (adaptive) {
            snprintf(name, sizeof name, "%s.layers.%d.weight", s1, l);
            PLAN(name, &L->sW1, nw, CLAE_PLAN_ALWAYS, 0);
            snprintf(name, sizeof name, "%s.layers.%d.bias", s1, l);
            PLAN(name, &L->sb1, nb, CLAE_PLAN_ALWAYS, 0);
        }
        if (two_state) {
            snprintf(name, sizeof name, "%s.layers.%d.weight", s2, l);
            PLAN(name, &L->sW2, nw, CLAE_PLAN_ALWAYS, 0);
            snprintf(name, sizeof name, "%s.layers.%d.bias", s2, l);
            PLAN(name, &L->sb2, nb, CLAE_PLAN_ALWAYS, 0);
        }
        /* ∂L/∂Z of layer l is made at backward l+1 (or by the loss seed) and used up at backward l. */
        snprintf(name, sizeof name, "grad.z.%d", l);
        PLAN(name, &m->grad[l], (size_t)m->cfg.batch * nb, clae_pos_backward(m, l < M - 1 ? l + 1 : l), back);
    }
    if (training) {
        TRY(plan_pass(m, &m->train, 1));
        PLAN("row_ids", &m->row_ids, (size_t)m->cfg.batch, clae_pos_load(m, 1), clae_pos_last(m));
    }
    TRY(plan_pass(m, &m->infer, 0));
    for (int v = 0; v < m->n_variants; v++)
        if (m->variants[v]->plan) TRY(m->variants[v]->plan(m, &m->variant_state[v]));
    for (int l = 0; l < M; l++) clae_plan_name_step(&m->plan, clae_pos_forward(m, 0, l), "infer forward %d", l);
    clae_plan_name_step(&m->plan, clae_pos_load(m, 0), "infer load");
    clae_plan_name_step(&m->plan, clae_pos_output(m), "infer output");
    if (training) {
        clae_plan_name_step(&m->plan, clae_pos_load(m, 1), "load");
        for (int l = 0; l < M; l++) {
            clae_plan_name_step(&m->plan, clae_pos_forward(m, 1, l), "forward %d", l);
            clae_plan_name_step(&m->plan, clae_pos_backward(m, l), "backward %d", l);
        }
        clae_plan_name_step(&m->plan, clae_pos_loss(m), "loss");
    }
    return CLAE_OK;
}

/* What an inference-only model of the same configuration would need. */
static clae_status inference_peak(clae_model *m)
{
    if (!is_training_model(m)) {
        m->inference_peak = m->plan.peak_bytes;
        return CLAE_OK;
    }
    clae_model *tmp = NULL;
    clae_status s = clae_model_create_ex(m->rt, &m->cfg, (m->flags & CLAE_MODEL_UNPLANNED) | CLAE_MODEL_INFERENCE | CLAE_MODEL_PLAN_ONLY, &tmp);
    if (s == CLAE_OK) m->inference_peak = tmp->plan.peak_bytes;
    clae_model_destroy(tmp);
    return s;
}

/* Fails cleanly, before any allocation, when the plan cannot fit the device. */
static clae_status check_fits(clae_model *m)
{
    const clae_device_info *d = &m->rt->info;
    size_t need = m->plan.peak_bytes, largest = need;
    if (!m->plan.planned) {
        largest = 0;
        for (int i = 0; i < m->plan.n; i++)
            if (m->plan.tensors[i].bytes > largest) largest = m->plan.tensors[i].bytes;
    }
    if (d->global_mem_bytes && need > d->global_mem_bytes)
        return clae_fail(CLAE_ERR_DEVICE_MEM,
                         "model needs %zu bytes (%.1f MiB) of device memory, but %s has %llu bytes (%.1f MiB); "
                         "lower the batch size or the layer widths",
                         need, need / 1048576.0, d->name, (unsigned long long)d->global_mem_bytes,
                         d->global_mem_bytes / 1048576.0);
    if (d->max_alloc_bytes && largest > d->max_alloc_bytes)
        return clae_fail(CLAE_ERR_DEVICE_MEM,
                         "model needs one %s of %zu bytes (%.1f MiB), but %s allows at most %llu bytes (%.1f MiB) "
                         "in one allocation; lower the batch size or the layer widths",
                         m->plan.planned ? "arena" : "buffer", largest, largest / 1048576.0, d->name,
                         (unsigned long long)d->max_alloc_bytes, d->max_alloc_bytes / 1048576.0);
    return CLAE_OK;
}

/* Hands every planned tensor its buffer: views of one arena, or separate allocations. */
static clae_status allocate(clae_model *m)
{
    clae_plan *p = &m->plan;
    if (p->planned) {
        TRY(clae_buf_alloc(m->rt, p->peak_bytes / sizeof(float), &m->arena));
        for (int i = 0; i < p->n; i++)
            *m->plan_dst[i] = p->tensors[i].bytes ? clae_buf_view(m->arena, p->tensors[i].offset / sizeof(float),
                                                                   p->tensors[i].bytes / sizeof(float))
                                                  : (clae_buf){0};
    } else {
        for (int i = 0; i < p->n; i++)
            if (p->tensors[i].bytes) TRY(clae_buf_alloc(m->rt, p->tensors[i].bytes / sizeof(float), m->plan_dst[i]));
    }
    /* GEMM engines take a whole memory object: give each workspace its own (the runtime makes it). */
    dense_pass *passes[2] = {&m->train, &m->infer};
    for (int k = 0; k < 2; k++)
        if (!m->rt->is_ref && passes[k]->gemm_ws.mem) TRY(clae_buf_mem(m->rt, passes[k]->gemm_ws, &passes[k]->gemm_ws_mem));
    return CLAE_OK;
}

static void model_release(clae_model *m)
{
    dense_pass *passes[2] = {&m->train, &m->infer};
    for (int k = 0; k < 2; k++)
        clae_mem_release(passes[k]->gemm_ws_mem);
    if (m->plan.planned) {
        clae_buf_free(&m->arena);
    } else if (m->plan_dst) {
        for (int i = 0; i < m->plan.n; i++) clae_buf_free(m->plan_dst[i]);
    }
    for (int v = 0; v < m->n_variants; v++)
        if (m->variants[v]->release) m->variants[v]->release(m->variant_state[v]);
    clae_plan_free(&m->plan);
    free(m->plan_dst);
    free(m->row_host);
    free(m->poison_host);
    m->poison_host = NULL;
    m->plan_dst = NULL;
    m->row_host = NULL;
}

/* Uniform limit a of layer l, W ~ U(−a, a): Glorot a = sqrt(6/(in+out)) (Glorot & Bengio 2010, eq. 16),
 * He a = sqrt(6/in), i.e. Var W = 2/in (He et al. 2015, eq. 10); AUTO takes He before relu units. */
static float init_limit(const clae_model *m, int l)
{
    double fan_in = (double)width(m, l), fan_out = (double)width(m, l + 1);
    clae_init init = m->cfg.init;
    if (init == CLAE_INIT_AUTO) init = m->cfg.activation[l] == CLAE_ACT_RELU ? CLAE_INIT_HE : CLAE_INIT_XAVIER;
    return init == CLAE_INIT_HE ? (float)sqrt(6.0 / fan_in) : (float)sqrt(6.0 / (fan_in + fan_out));
}

/* Zeroes every persistent tensor (biases, optimizer and variant state) and draws the weights. */
static clae_status model_init_weights(clae_model *m)
{
    for (int i = 0; i < m->plan.n; i++)
        if (m->plan.tensors[i].bytes && m->plan.tensors[i].persistent) TRY(clae_buf_zero(m->rt, *m->plan_dst[i]));
    for (int l = 0; l < m->M; l++) {
        dense_layer *L = &m->layer[l];
        TRY(clae_op_init_uniform(m->rt, L->W, L->W.n, m->cfg.seed, (uint32_t)l, init_limit(m, l)));
    }
    for (int v = 0; v < m->n_variants; v++)
        if (m->variants[v]->init_state) TRY(m->variants[v]->init_state(m, m->variant_state[v]));
    return clae_rt_finish(m->rt);
}

static clae_status pick_variants(clae_model *m)
{
    for (int v = 0; v < clae_variant_count; v++) {
        const clae_variant *var = clae_variant_table[v];
        if (!var->enabled(&m->cfg)) continue; /* checked by clae_model_config_validate */
        if (m->n_variants == CLAE_MAX_VARIANTS) return clae_fail(CLAE_ERR_ARG, "too many variants combined");
        m->variants[m->n_variants++] = var;
    }
    return CLAE_OK;
}

/* CLAE_PLAN=poison: planned as usual, and every transient tensor is filled
 * with NaN right after its last planned use, so a read past its declared
 * lifetime (which sharing memory would only sometimes expose) shows at once. */
static int poison_by_env(void)
{
    const char *e = getenv("CLAE_PLAN");
    return e && !strcmp(e, "poison");
}

static clae_status make_poison(clae_model *m)
{
    size_t most = 0;
    for (int i = 0; i < m->plan.n; i++)
        if (!m->plan.tensors[i].persistent && m->plan.tensors[i].bytes > most) most = m->plan.tensors[i].bytes;
    m->poison_host = malloc(most ? most : sizeof(float));
    if (!m->poison_host) return clae_fail(CLAE_ERR_NOMEM, "model: out of host memory for CLAE_PLAN=poison");
    for (size_t k = 0; k < most / sizeof(float); k++) m->poison_host[k] = NAN;
    return CLAE_OK;
}

/* After schedule position pos (a no-op unless poisoning). */
static clae_status poison_after(clae_model *m, int pos)
{
    if (!m->poison_host) return CLAE_OK;
    for (int i = 0; i < m->plan.n; i++) {
        const clae_plan_tensor *t = &m->plan.tensors[i];
        if (!t->bytes || t->persistent || t->last != pos) continue;
        TRY(clae_buf_write(m->rt, *m->plan_dst[i], 0, m->poison_host, t->bytes / sizeof(float)));
    }
    return CLAE_OK;
}

static int plan_disabled_by_env(void)
{
    const char *e = getenv("CLAE_PLAN");
    return e && (!strcmp(e, "off") || !strcmp(e, "0") || !strcmp(e, "no"));
}

static clae_status model_build(clae_model *m)
{
    TRY(clae_model_config_validate(&m->cfg));
    TRY(pick_variants(m));
    int positions = train_positions(m) + m->M + 2;
    size_t align = m->rt->is_ref ? 64 : (m->rt->mem_align_bytes ? m->rt->mem_align_bytes : 128);
    TRY(clae_plan_init(&m->plan, positions, align));
    TRY(plan_tensors(m));
    TRY(clae_plan_place(&m->plan, !(m->flags & CLAE_MODEL_UNPLANNED)));
    TRY(inference_peak(m));
    if (m->flags & CLAE_MODEL_PLAN_ONLY) return CLAE_OK;
    TRY(check_fits(m));
    m->row_host = malloc((size_t)m->cfg.batch * sizeof(float));
    if (!m->row_host) return clae_fail(CLAE_ERR_NOMEM, "model: out of host memory");
    TRY(allocate(m));
    if (poison_by_env()) TRY(make_poison(m));
    return model_init_weights(m);
}

clae_status clae_model_create_ex(clae_runtime *rt, const clae_model_config *cfg, unsigned flags, clae_model **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_model_create: out is NULL");
    *out = NULL;
    if (!rt) return clae_fail(CLAE_ERR_ARG, "clae_model_create: runtime is NULL");
    if (!cfg) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_model_create: config is NULL"));
    clae_model *m = calloc(1, sizeof *m);
    if (!m) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "model: out of host memory"));
    m->rt = rt;
    m->cfg = *cfg;
    m->M = cfg->n_layers;
    m->flags = flags | (plan_disabled_by_env() ? CLAE_MODEL_UNPLANNED : 0u);
    clae_status s = model_build(m);
    if (s != CLAE_OK) {
        clae_rt_fail(rt, s);
        model_release(m);
        free(m);
        return s;
    }
    *out = m;
    return CLAE_OK;
}

clae_status clae_model_create(clae_runtime *rt, const clae_model_config *cfg, clae_model **out)
{
    return clae_model_create_ex(rt, cfg, 0, out);
}

void clae_model_destroy(clae_model *m)
{
    if (!m) return;
    model_release(m);
    free(m);
}

void clae_model_get_config(const clae_model *m, clae_model_config *out)
{
    if (m && out) *out = m->cfg;
}

clae_status clae_model_check_data(clae_model *m, const clae_dataset *ds)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "check_data: model is NULL");
    return model_fail(m, clae_model_config_check_data(&m->cfg, ds));
}

uint64_t clae_model_steps(const clae_model *m) { return m ? m->steps : 0; }

const char *clae_model_error(const clae_model *m) { return m ? m->error : ""; }

float clae_model_last_penalty(const clae_model *m) { return m ? m->last_penalty : 0.0f; }

void clae_model_describe(const clae_model *m, char *buf, size_t cap)
{
    size_t len = 0;
    if (!buf || !cap) return;
    buf[0] = '\0';
    if (!m) return;
    for (int v = 0; v < m->n_variants && len + 4 < cap; v++) {
        if (v) len += (size_t)snprintf(buf + len, cap - len, " + ");
        if (m->variants[v]->describe) m->variants[v]->describe(&m->cfg, buf + len, cap - len);
        else snprintf(buf + len, cap - len, "%s", m->variants[v]->name);
        len = strlen(buf);
    }
    if (!m->n_variants) snprintf(buf, cap, "dense");
}

/* The GEMM engine uses the pass's planned workspace while a public call runs. */
static void lend_workspace(clae_model *m, dense_pass *p)
{
    clae_rt_set_gemm_workspace(m->rt, p ? p->gemm_ws_mem : NULL, p ? p->gemm_ws.n * sizeof(float) : 0);
}

static clae_buf layer_input(const dense_pass *p) { return p->input.n ? p->input : p->act[0]; }

/* Uploads rows of x (and, for training, the rows' data-set indices). */
static clae_status load_input(clae_model *m, dense_pass *p, const float *x, const uint32_t *row_ids, size_t rows)
{
    TRY(clae_buf_write(m->rt, p->act[0], 0, x, rows * width(m, 0)));
    if (!p->training) return CLAE_OK;
    uint32_t *ids = (uint32_t *)m->row_host; /* batch floats of scratch, the same size */
    for (size_t r = 0; r < rows; r++) ids[r] = row_ids ? row_ids[r] : (uint32_t)(m->steps * (uint64_t)m->cfg.batch + r);
    TRY(clae_buf_write(m->rt, m->row_ids, 0, m->row_host, rows));
    for (int v = 0; v < m->n_variants; v++)
        if (m->variants[v]->make_input) TRY(m->variants[v]->make_input(m, m->variant_state[v], p, rows));
    return poison_after(m, clae_pos_load(m, p->training));
}

/* Forward through weight layers [0, upto): act[l+1] = f(act[l]·Wᵀ + b). The
 * output layer's pre-activation is kept in out_pre for the fused bce loss. */
static clae_status forward(clae_model *m, dense_pass *p, size_t rows, int upto)
{
    for (int l = 0; l < upto; l++) {
        dense_layer *L = &m->layer[l];
        size_t in = width(m, l), out = width(m, l + 1);
        clae_buf A = l == 0 ? layer_input(p) : p->act[l];
        clae_buf Z = (l == m->M - 1 && p->out_pre.n) ? p->out_pre : p->act[l + 1];
        TRY(clae_op_gemm(m->rt, 0, 1, rows, out, in, 1.0f, A, in, L->W, in, 0.0f, Z, out));
        TRY(clae_op_bias_add(m->rt, Z, L->b, rows, out));
        TRY(clae_op_act_forward(m->rt, m->cfg.activation[l], Z, p->act[l + 1], rows * out));
        for (int v = 0; v < m->n_variants; v++)
            if (m->variants[v]->after_activation)
                TRY(m->variants[v]->after_activation(m, m->variant_state[v], p, l + 1, rows, p->training));
        TRY(poison_after(m, clae_pos_forward(m, p->training, l)));
    }
    return CLAE_OK;
}

/* The loss is two halves so that a training step never waits for the device in its middle:
 * loss_enqueue runs the per-row loss kernel at the loss position (its inputs die there), and
 * loss_collect reads the rows and the variants' penalties back once the whole step has been
 * enqueued (those tensors live to the end of the step). */
static clae_status loss_enqueue(clae_model *m, size_t rows)
{
    dense_pass *p = &m->train;
    clae_buf O = p->out_pre.n ? p->out_pre : p->act[m->M];
    return clae_op_loss_rows(m->rt, m->cfg.loss, O, p->act[m->M], p->act[0], rows, width(m, m->M), p->row_out);
}

/* Mean over rows of the per-row training loss (sum over features), plus the variants' penalties.
 * `step` is the step the loss belongs to, for the message. */
static clae_status loss_collect(clae_model *m, size_t rows, uint64_t step, float *loss)
{
    TRY(clae_buf_read(m->rt, m->train.row_out, 0, m->row_host, rows));
    double sum = 0.0, penalty = 0.0;
    for (size_t r = 0; r < rows; r++) sum += m->row_host[r];
    for (int v = 0; v < m->n_variants; v++)
        if (m->variants[v]->penalty) TRY(m->variants[v]->penalty(m, m->variant_state[v], rows, &penalty));
    m->last_penalty = (float)penalty;
    *loss = (float)(sum / (double)rows + penalty);
    if (!isfinite(*loss))
        return clae_fail(CLAE_ERR_NUMERIC, "training loss is not finite (%g) at step %llu; lower --lr?",
                         (double)*loss, (unsigned long long)step);
    return CLAE_OK;
}

static clae_opt_hyper opt_hyper(const clae_model *m)
{
    const clae_model_config *c = &m->cfg;
    double t = (double)(m->steps + 1);
    clae_opt_hyper h = {
        .kind = c->optimizer, .lr = c->lr, .momentum = c->momentum,
        .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
        .bc1 = (float)(1.0 - pow((double)c->beta1, t)), .bc2 = (float)(1.0 - pow((double)c->beta2, t)),
        .rho = c->rho, .adadelta_eps = c->adadelta_eps,
    };
    return h;
}

/* What a backward pass does besides forming the gradients. */
typedef struct backward_mode {
    int update;        /* apply each layer's optimizer step as soon as its gradient exists */
    int probe_layer;   /* copy this layer's gradients to the host (-1: none) */
    float *dW, *db;
} backward_mode;

/* Backward pass: dW_l = G_Zᵀ·A_l, db_l = colsum(G_Z), G_A = G_Z·W_l. Layer l's update runs right after its
 * input gradient is formed, so its weight gradient dies at once (the plan
 * counts on it; the math is unchanged since G_{l-1} used the old W_l). */
static clae_status backward(clae_model *m, size_t rows, const backward_mode *mode)
{
    dense_pass *p = &m->train;
    int M = m->M;
    clae_opt_hyper h = opt_hyper(m);
    TRY(clae_op_loss_grad(m->rt, m->cfg.loss, m->cfg.activation[M - 1], p->act[M], p->act[0], rows * width(m, M),
                       1.0f / (float)rows, m->grad[M - 1]));
    for (int l = M - 1; l >= 0; l--) {
        dense_layer *L = &m->layer[l];
        size_t in = width(m, l), out = width(m, l + 1);
        clae_buf G = m->grad[l];
        clae_buf A = l == 0 ? layer_input(p) : p->act[l];
        for (int v = 0; v < m->n_variants; v++)
            if (m->variants[v]->grad_z) TRY(m->variants[v]->grad_z(m, m->variant_state[v], l, G, rows));
        TRY(clae_op_gemm(m->rt, 1, 0, out, in, rows, 1.0f, G, out, A, in, 0.0f, L->dW, in));
        TRY(clae_op_colsum(m->rt, G, rows, out, L->db));
        for (int v = 0; v < m->n_variants; v++)
            if (m->variants[v]->grad_w) TRY(m->variants[v]->grad_w(m, m->variant_state[v], l, rows));
        if (l > 0) {
            clae_buf Gprev = m->grad[l - 1];
            TRY(clae_op_gemm(m->rt, 0, 0, rows, in, out, 1.0f, G, out, L->W, in, 0.0f, Gprev, in));
            for (int v = 0; v < m->n_variants; v++)
                if (m->variants[v]->grad_act) TRY(m->variants[v]->grad_act(m, m->variant_state[v], l, Gprev, rows));
            TRY(clae_op_act_backward(m->rt, m->cfg.activation[l - 1], p->act[l], Gprev, rows * in));
        }
        if (l == mode->probe_layer) {
            if (mode->dW) TRY(clae_buf_read(m->rt, L->dW, 0, mode->dW, L->dW.n));
            if (mode->db) TRY(clae_buf_read(m->rt, L->db, 0, mode->db, L->db.n));
        }
        if (mode->update) {
            for (int v = 0; v < m->n_variants; v++)
                if (m->variants[v]->around_update) TRY(m->variants[v]->around_update(m, m->variant_state[v], l, &h, 1));
            TRY(clae_op_opt_update(m->rt, &h, L->W, L->dW, L->sW1, L->sW2, L->W.n));
            TRY(clae_op_opt_update(m->rt, &h, L->b, L->db, L->sb1, L->sb2, L->b.n));
            for (int v = 0; v < m->n_variants; v++)
                if (m->variants[v]->around_update) TRY(m->variants[v]->around_update(m, m->variant_state[v], l, &h, 0));
        }
        /* Backward 0 is the step's last position, which the step's end (the loss read) still
         * belongs to: the caller poisons it when the step is done. */
        if (l > 0) TRY(poison_after(m, clae_pos_backward(m, l)));
    }
    return CLAE_OK;
}

static clae_status check_rows(clae_model *m, const float *x, size_t rows, const char *what)
{
    if (!x) return clae_fail(CLAE_ERR_ARG, "%s: input is NULL", what);
    if (rows < 1 || rows > (size_t)m->cfg.batch)
        return clae_fail(CLAE_ERR_ARG, "%s: %zu rows; expected 1..%d (the model's batch size)", what, rows,
                         m->cfg.batch);
    return CLAE_OK;
}

static clae_status check_usable(clae_model *m, int training, const char *what)
{
    if (m->flags & CLAE_MODEL_PLAN_ONLY)
        return clae_fail(CLAE_ERR_ARG, "%s: the model was created with CLAE_MODEL_PLAN_ONLY and has no memory", what);
    if (training && !is_training_model(m))
        return clae_fail(CLAE_ERR_ARG, "%s: the model was created for inference only (CLAE_MODEL_INFERENCE)", what);
    return CLAE_OK;
}

static clae_status train_step(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows, float *loss)
{
    TRY(check_usable(m, 1, "train_step"));
    TRY(check_rows(m, x, rows, "train_step"));
    TRY(load_input(m, &m->train, x, row_ids, rows));
    TRY(forward(m, &m->train, rows, m->M));
    /* Without a loss pointer nothing of the loss runs: no kernel, no read, no wait. */
    if (loss) TRY(loss_enqueue(m, rows));
    TRY(poison_after(m, clae_pos_loss(m)));
    backward_mode mode = {1, -1, NULL, NULL};
    TRY(backward(m, rows, &mode));
    m->steps++;
    /* Read only now, so the device runs the step through; the update is applied either way. */
    if (loss) TRY(loss_collect(m, rows, m->steps, loss));
    return poison_after(m, clae_pos_last(m));
}

static clae_status train_step_marked(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows, float *loss)
{
    m->in_step = 1;
    clae_status s = train_step(m, x, row_ids, rows, loss);
    m->in_step = 0;
    return s;
}

/* Runs fn with the training pass's GEMM workspace lent, and records any failure on the model. */
#define WITH_PASS(m, pass, call)                                                                    \
    do {                                                                                            \
        lend_workspace((m), (pass));                                                                \
        clae_status s_call_ = (call);                                                               \
        lend_workspace((m), NULL);                                                                  \
        return model_fail((m), s_call_);                                                            \
    } while (0)

clae_status clae_model_train_step_rows(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows,
                                       float *loss)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "train_step: model is NULL");
    WITH_PASS(m, &m->train, train_step_marked(m, x, row_ids, rows, loss));
}

clae_status clae_model_train_step(clae_model *m, const float *x, size_t rows, float *loss)
{
    return clae_model_train_step_rows(m, x, NULL, rows, loss);
}

static clae_status model_loss(clae_model *m, const float *x, size_t rows, float *loss)
{
    TRY(check_usable(m, 1, "loss"));
    TRY(check_rows(m, x, rows, "loss"));
    if (!loss) return clae_fail(CLAE_ERR_ARG, "loss: output is NULL");
    TRY(load_input(m, &m->train, x, NULL, rows));
    TRY(forward(m, &m->train, rows, m->M));
    TRY(loss_enqueue(m, rows));
    return loss_collect(m, rows, m->steps + 1, loss);
}

clae_status clae_model_loss(clae_model *m, const float *x, size_t rows, float *loss)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "loss: model is NULL");
    WITH_PASS(m, &m->train, model_loss(m, x, rows, loss));
}

static clae_status model_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db)
{
    TRY(check_usable(m, 1, "gradients"));
    TRY(check_rows(m, x, rows, "gradients"));
    if (l < 0 || l >= m->M) return clae_fail(CLAE_ERR_ARG, "gradients: layer %d out of range 0..%d", l, m->M - 1);
    TRY(load_input(m, &m->train, x, NULL, rows));
    TRY(forward(m, &m->train, rows, m->M));
    backward_mode mode = {0, l, dW, db};
    TRY(backward(m, rows, &mode));
    return poison_after(m, clae_pos_last(m));
}

clae_status clae_model_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "gradients: model is NULL");
    WITH_PASS(m, &m->train, model_gradients(m, x, rows, l, dW, db));
}

/* Runs the inference path over any number of rows in chunks of the batch size:
 * forward through `upto` layers, then hands each chunk to `emit`. */
typedef clae_status (*chunk_fn)(clae_model *m, size_t first, size_t rows, void *out);

static clae_status for_each_chunk(clae_model *m, const float *x, size_t rows, int upto, chunk_fn emit,
                                  void *out, const char *what)
{
    TRY(check_usable(m, 0, what));
    if (!x || !out) return clae_fail(CLAE_ERR_ARG, "%s: input or output is NULL", what);
    size_t B = (size_t)m->cfg.batch, D = width(m, 0);
    for (size_t first = 0; first < rows; first += B) {
        size_t n = rows - first < B ? rows - first : B;
        TRY(load_input(m, &m->infer, x + first * D, NULL, n));
        TRY(forward(m, &m->infer, n, upto));
        TRY(emit(m, first, n, out));
    }
    return CLAE_OK;
}

/* The layer emit_features reads; set by the public call that runs the chunks. */
typedef struct features_out {
    int layer;
    float *out;
} features_out;

static clae_status emit_features(clae_model *m, size_t first, size_t rows, void *arg)
{
    features_out *f = arg;
    size_t w = width(m, f->layer);
    return clae_buf_read(m->rt, m->infer.act[f->layer], 0, f->out + first * w, rows * w);
}

static clae_status emit_output(clae_model *m, size_t first, size_t rows, void *out)
{
    size_t w = width(m, m->M);
    return clae_buf_read(m->rt, m->infer.act[m->M], 0, (float *)out + first * w, rows * w);
}

static clae_status emit_row_errors(clae_model *m, size_t first, size_t rows, void *out)
{
    size_t D = width(m, m->M);
    TRY(clae_op_row_sq_error(m->rt, m->infer.act[m->M], m->infer.act[0], rows, D, m->infer.row_out));
    float *err = (float *)out + first;
    TRY(clae_buf_read(m->rt, m->infer.row_out, 0, err, rows));
    for (size_t r = 0; r < rows; r++) err[r] = (float)((double)err[r] / (double)D);
    return CLAE_OK;
}

clae_status clae_model_encode_layer(clae_model *m, const float *x, size_t rows, int layer, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "encode: model is NULL");
    if (layer < 1 || layer > m->M)
        return model_fail(m, clae_fail(CLAE_ERR_ARG, "encode: layer %d out of range 1..%d", layer, m->M));
    features_out f = {layer, out};
    WITH_PASS(m, &m->infer, for_each_chunk(m, x, rows, layer, emit_features, out ? &f : NULL, "encode"));
}

clae_status clae_model_encode(clae_model *m, const float *x, size_t rows, float *codes)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "encode: model is NULL");
    return clae_model_encode_layer(m, x, rows, m->cfg.code_layer, codes);
}

clae_status clae_model_reconstruct(clae_model *m, const float *x, size_t rows, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "reconstruct: model is NULL");
    WITH_PASS(m, &m->infer, for_each_chunk(m, x, rows, m->M, emit_output, out, "reconstruct"));
}

clae_status clae_model_row_errors(clae_model *m, const float *x, size_t rows, float *err)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "row_errors: model is NULL");
    WITH_PASS(m, &m->infer, for_each_chunk(m, x, rows, m->M, emit_row_errors, err, "row_errors"));
}

/* ---- the plan, for clae plan and the tests ------------------------------------------------ */

clae_status clae_model_plan_summary(const clae_model *m, clae_plan_summary *out)
{
    if (!m || !out) return clae_fail(CLAE_ERR_ARG, "plan_summary: model and out must not be NULL");
    const clae_plan *p = &m->plan;
    out->planned = p->planned;
    out->n_tensors = p->n;
    out->n_steps = p->n_steps;
    out->align_bytes = p->align;
    out->peak_bytes = p->peak_bytes;
    out->lower_bound_bytes = p->lower_bound_bytes;
    out->lower_bound_step = p->lower_bound_step;
    out->unplanned_bytes = p->unplanned_bytes;
    out->inference_peak_bytes = m->inference_peak;
    return CLAE_OK;
}

clae_status clae_model_plan_entry(const clae_model *m, int i, clae_plan_entry *out)
{
    if (!m || !out || i < 0 || i >= m->plan.n)
        return clae_fail(CLAE_ERR_ARG, "plan_entry: index %d out of range 0..%d", i, m ? m->plan.n - 1 : -1);
    const clae_plan_tensor *t = &m->plan.tensors[i];
    snprintf(out->name, sizeof out->name, "%s", t->name);
    out->bytes = t->bytes;
    out->offset = t->offset;
    out->first = t->first;
    out->last = t->last;
    out->persistent = t->persistent;
    return CLAE_OK;
}

const char *clae_model_plan_step_name(const clae_model *m, int step)
{
    if (!m || step < 0 || step >= m->plan.n_steps) return "";
    return m->plan.step_names[step];
}

static clae_status layer_index_ok(const clae_model *m, int l, const char *what)
{
    if (l < 0 || l >= m->M) return clae_fail(CLAE_ERR_ARG, "%s: layer %d out of range 0..%d", what, l, m->M - 1);
    return CLAE_OK;
}

clae_status clae_model_get_layer(clae_model *m, int l, float *W, float *b)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "get_layer: model is NULL");
    clae_status s = layer_index_ok(m, l, "get_layer");
    if (s == CLAE_OK && W) s = clae_buf_read(m->rt, m->layer[l].W, 0, W, m->layer[l].W.n);
    if (s == CLAE_OK && b) s = clae_buf_read(m->rt, m->layer[l].b, 0, b, m->layer[l].b.n);
    return model_fail(m, s);
}

clae_status clae_model_set_layer(clae_model *m, int l, const float *W, const float *b)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "set_layer: model is NULL");
    clae_status s = layer_index_ok(m, l, "set_layer");
    if (s == CLAE_OK && W) s = clae_buf_write(m->rt, m->layer[l].W, 0, W, m->layer[l].W.n);
    if (s == CLAE_OK && b) s = clae_buf_write(m->rt, m->layer[l].b, 0, b, m->layer[l].b.n);
    return model_fail(m, s);
}
