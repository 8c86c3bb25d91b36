/* model.c — a model: a net of layers built from a spec string, its tensors planned from a dry run of its own
 * step (lib/models/model_step.c), then placed in one arena; and the public calls that run it. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "ops/gemm/gemm.h"
#include "ops/mathf.h"
#include "ops/ops_vae.h"

/* Records the thread's last error on the model and the runtime. */
clae_status clae_model_record(clae_model *m, clae_status s)
{
    if (s != CLAE_OK) {
        clae_error_copy_to(m->error);
        clae_rt_fail(m->rt, s);
    }
    return s;
}

static int is_training_model(const clae_model *m) { return !(m->flags & CLAE_MODEL_INFERENCE); }

clae_layer *clae_model_dense(clae_model *m, int ordinal)
{
    for (int k = 0; k < m->net.n; k++)
        if (m->net.layer[k].kind->weights && m->net.layer[k].ordinal == ordinal) return &m->net.layer[k];
    return NULL;
}

const clae_param *clae_model_param(const clae_model *m, const char *name)
{
    for (int i = 0; i < m->net.n_params; i++)
        if (!strcmp(m->net.param[i].name, name)) return &m->net.param[i];
    return NULL;
}

/* ---- declaring tensors ------------------------------------------------------------------------ */

static clae_status model_declare(void *owner, const char *name, clae_buf *dst, size_t n, int persistent)
{
    clae_model *m = owner;
    if (n > SIZE_MAX / sizeof(float) / 2) return clae_fail(CLAE_ERR_DEVICE_MEM, "plan: tensor %s is too large", name);
    if (m->n_decl == m->cap_decl) {
        int cap = m->cap_decl ? 2 * m->cap_decl : 64;
        void *p = realloc(m->decl, (size_t)cap * sizeof *m->decl);
        if (!p) return clae_fail(CLAE_ERR_NOMEM, "plan: out of host memory");
        m->decl = p;
        m->cap_decl = cap;
    }
    model_tensor *t = &m->decl[m->n_decl++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dst = dst;
    t->n = n;
    t->persistent = persistent;
    t->first = t->last = -1;
    return CLAE_OK;
}

/* The values between layers (a layer in place shares its input's), their gradients where a layer reads
 * them, and the per-row loss. */
static clae_status declare_pass(clae_model *m, int training)
{
    clae_net *net = &m->net;
    clae_net_pass *p = training ? &net->train : &net->infer;
    const char *pre = training ? "" : "infer.";
    const size_t B = net->batch;
    p->training = training;
    TRY(clae_net_declare(net, &p->val[0], B * m->arch.input, 0, "%sact.0", pre));
    for (int k = 0; k < net->n; k++) {
        clae_layer *L = &net->layer[k];
        if (L->kind->in_place(L, training)) continue;
        if (L->kind == &clae_layer_noise) TRY(clae_net_declare(net, &p->val[k + 1], B * L->out, 0, "noisy_input"));
        else TRY(clae_net_declare(net, &p->val[k + 1], B * L->out, 0, "%sact.%d", pre, k + 1));
        if (training && (L->kind->weights || L->kind->learns || L->needs_dx))
            TRY(clae_net_declare(net, &p->grad[k + 1], B * L->out, 0, "grad.%d", k + 1));
    }
    return clae_net_declare(net, &m->pass[training].row_out, B, 0, "%srow_out", pre);
}

static clae_status declare_all(clae_model *m)
{
    clae_net *net = &m->net;
    for (int k = 0; k < net->n; k++) {
        clae_layer *L = &net->layer[k];
        TRY(L->kind->declare(net, L));
        for (int r = 0; r < L->n_reg; r++)
            if (L->reg[r].kind->declare) TRY(L->reg[r].kind->declare(net, L, &L->reg[r]));
    }
    if (is_training_model(m)) {
        TRY(declare_pass(m, 1));
        TRY(clae_net_declare(net, &net->row_ids, net->batch, 0, "row_ids"));
        const clae_layer *A = clae_model_adversary(m);
        size_t n = A ? clae_model_gen_state_size(m, A->index) : 0;
        if (n) TRY(clae_net_declare(net, &m->gen_state, n, 1, "aae.gen_state"));
    }
    if (net->stochastic) TRY(clae_net_declare(net, &net->infer_row_ids, net->batch, 0, "infer.row_ids"));
    return declare_pass(m, 0);
}

/* A layer in place works on its input's buffers: copied once the buffers exist (placeholders or memory). */
static void share_in_place(clae_model *m)
{
    clae_net *net = &m->net;
    for (int training = 0; training < 2; training++) {
        if (training && !is_training_model(m)) continue;
        clae_net_pass *p = training ? &net->train : &net->infer;
        for (int k = 0; k < net->n; k++) {
            if (!net->layer[k].kind->in_place(&net->layer[k], training)) continue;
            p->val[k + 1] = p->val[k];
            if (training) p->grad[k + 1] = p->grad[k];
        }
    }
}

/* ---- the dry run: every tensor's first and last use, and the GEMM workspace each pass asks for -- */

static clae_model *model_of(clae_trace *t) { return (clae_model *)(void *)((char *)t - offsetof(clae_model, trace)); }

static void trace_use(clae_trace *t, clae_buf b)
{
    clae_model *m = model_of(t);
    if (b.host || b.mem) return; /* not one of the placeholders */
    int lo = 0, hi = m->n_decl - 1;
    while (lo <= hi) { /* bases grow with the index */
        int mid = (lo + hi) / 2;
        model_tensor *d = &m->decl[mid];
        if (b.off < d->base) {
            hi = mid - 1;
        } else if (b.off >= d->base + d->n + 1) {
            lo = mid + 1;
        } else {
            if (d->first < 0 || m->cursor < d->first) d->first = m->cursor;
            if (m->cursor > d->last) d->last = m->cursor;
            return;
        }
    }
}

/* The workspace lives from the pass's first GEMM to its last, whether or not each asked for room:
 * the engine is lent it for the whole call, and a shorter batch may ask where the full one did not. */
static void trace_workspace(clae_trace *t, size_t bytes)
{
    clae_model *m = model_of(t);
    model_pass *p = &m->pass[m->tracing == 2];
    if (bytes > p->ws_bytes) p->ws_bytes = bytes;
    if (p->ws_first < 0) p->ws_first = m->cursor;
    p->ws_last = m->cursor;
}

/* Each distinct GEMM shape once, for clae_model_gemm_report. */
static void trace_gemm(clae_trace *t, int trans_a, int trans_b, size_t M, size_t N, size_t K)
{
    clae_model *m = model_of(t);
    const int training = m->tracing == 2;
    for (int i = 0; i < m->n_gemm; i++)
        if (m->gemm[i].ta == trans_a && m->gemm[i].tb == trans_b && m->gemm[i].M == M && m->gemm[i].N == N &&
            m->gemm[i].K == K && m->gemm[i].training == training)
            return;
    if (m->n_gemm == CLAE_MODEL_GEMMS) return;
    m->gemm[m->n_gemm].ta = trans_a;
    m->gemm[m->n_gemm].tb = trans_b;
    m->gemm[m->n_gemm].training = training;
    m->gemm[m->n_gemm].M = M;
    m->gemm[m->n_gemm].N = N;
    m->gemm[m->n_gemm].K = K;
    m->n_gemm++;
}

/* Runs a training step (training models) and an inference pass on placeholders, recording uses. */
static clae_status dry_run(clae_model *m)
{
    size_t base = 1;
    for (int i = 0; i < m->n_decl; i++) {
        model_tensor *d = &m->decl[i];
        d->base = base;
        *d->dst = (clae_buf){.off = base, .n = d->n};
        base += d->n + 1;
    }
    share_in_place(m);
    m->trace.use = trace_use;
    m->trace.workspace = trace_workspace;
    m->trace.gemm = trace_gemm;
    m->n_gemm = 0;
    for (int k = 0; k < 2; k++) m->pass[k].ws_first = m->pass[k].ws_last = -1;
    clae_rt_trace(m->rt, &m->trace);
    const size_t B = m->net.batch;
    clae_status s = CLAE_OK;
    float loss = 0.0f;
    if (is_training_model(m)) {
        m->tracing = 2;
        s = clae_model_run_step(m, NULL, NULL, B, &loss);
    }
    m->tracing = 1;
    /* A stochastic net's inference is traced drawing codes, so its log-likelihood tensors are planned too. */
    m->net.draws = m->net.stochastic ? 1 : 0;
    if (s == CLAE_OK) {
        clae_model_pass_begin(m, 0);
        s = clae_model_run_infer(m, NULL, B, m->net.n - 1);
    }
    if (s == CLAE_OK) s = clae_model_infer_output(m, B, m->row_host, m->row_host);
    if (s == CLAE_OK && m->net.stochastic) s = clae_model_infer_loglik(m, B, NULL, NULL);
    m->net.draws = 0;
    clae_rt_trace(m->rt, NULL);
    m->tracing = 0;
    if (!is_training_model(m)) m->n_train_pos = 0;
    return s;
}

/* The plan: persistent tensors for the model's life, the others from their first to their last traced use. */
static clae_status make_plan(clae_model *m)
{
    size_t align = m->rt->is_ref ? 64 : (m->rt->mem_align_bytes ? m->rt->mem_align_bytes : 128);
    TRY(clae_plan_init(&m->plan, m->n_pos, align));
    int n = m->n_decl + 2;
    m->plan_dst = calloc((size_t)n, sizeof *m->plan_dst);
    if (!m->plan_dst) return clae_fail(CLAE_ERR_NOMEM, "plan: out of host memory");
    for (int i = 0; i < m->n_decl; i++) {
        const model_tensor *d = &m->decl[i];
        int first = d->persistent ? CLAE_PLAN_ALWAYS : (d->first < 0 ? 0 : d->first);
        int last = d->persistent ? 0 : (d->last < 0 ? 0 : d->last);
        int at = clae_plan_add(&m->plan, d->name, d->n * sizeof(float), first, last);
        if (at < 0) return CLAE_ERR_NOMEM;
        m->plan_dst[at] = d->dst;
    }
    for (int k = 1; k >= 0; k--) {
        model_pass *p = &m->pass[k];
        if (!p->ws_bytes) continue;
        size_t floats = (p->ws_bytes + sizeof(float) - 1) / sizeof(float);
        int at = clae_plan_add(&m->plan, k ? "gemm_workspace" : "infer.gemm_workspace", floats * sizeof(float),
                               p->ws_first, p->ws_last);
        if (at < 0) return CLAE_ERR_NOMEM;
        m->plan_dst[at] = &p->gemm_ws;
    }
    for (int i = 0; i < m->n_pos; i++) clae_plan_name_step(&m->plan, i, "%s", m->pos_names[i]);
    return clae_plan_place(&m->plan, !(m->flags & CLAE_MODEL_UNPLANNED));
}

/* ---- memory ----------------------------------------------------------------------------------- */

static clae_status model_create(clae_runtime *rt, const clae_model_config *cfg, const clae_arch *arch, unsigned flags,
                                clae_model **out);

/* What an inference-only model of the same net would need. */
static clae_status inference_peak(clae_model *m)
{
    if (!is_training_model(m)) {
        m->inference_peak = m->plan.peak_bytes;
        return CLAE_OK;
    }
    clae_model *tmp = NULL;
    clae_status s = model_create(m->rt, &m->cfg, &m->arch,
                                 (m->flags & CLAE_MODEL_UNPLANNED) | CLAE_MODEL_INFERENCE | CLAE_MODEL_PLAN_ONLY, &tmp);
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
    for (int i = 0; i < p->n; i++) *m->plan_dst[i] = (clae_buf){0};
    if (p->planned) {
        TRY(clae_buf_alloc(m->rt, p->peak_bytes / sizeof(float), &m->arena));
        for (int i = 0; i < p->n; i++)
            if (p->tensors[i].bytes)
                *m->plan_dst[i] = clae_buf_view(m->arena, p->tensors[i].offset / sizeof(float),
                                                p->tensors[i].bytes / sizeof(float));
    } else {
        for (int i = 0; i < p->n; i++)
            if (p->tensors[i].bytes) TRY(clae_buf_alloc(m->rt, p->tensors[i].bytes / sizeof(float), m->plan_dst[i]));
    }
    share_in_place(m);
    /* GEMM engines take a whole memory object: give each workspace its own (the runtime makes it). */
    for (int k = 0; k < 2; k++)
        if (!m->rt->is_ref && m->pass[k].gemm_ws.mem) TRY(clae_buf_mem(m->rt, m->pass[k].gemm_ws, &m->pass[k].gemm_ws_mem));
    return CLAE_OK;
}

static void model_release(clae_model *m)
{
    for (int k = 0; k < 2; k++) clae_mem_release(m->pass[k].gemm_ws_mem);
    if (m->plan.planned) {
        clae_buf_free(&m->arena);
    } else if (m->plan_dst && !(m->flags & CLAE_MODEL_PLAN_ONLY)) {
        for (int i = 0; i < m->plan.n; i++) clae_buf_free(m->plan_dst[i]);
    }
    clae_plan_free(&m->plan);
    free(m->plan_dst);
    free(m->decl);
    free(m->pos_names);
    free(m->row_host);
    free(m->poison_host);
}

/* Zeroes every persistent tensor (biases, optimizer and regularizer state), then the layers set the
 * values that do not start at 0 (the weights). */
static clae_status init_tensors(clae_model *m)
{
    for (int i = 0; i < m->plan.n; i++)
        if (m->plan.tensors[i].bytes && m->plan.tensors[i].persistent) TRY(clae_buf_zero(m->rt, *m->plan_dst[i]));
    for (int k = 0; k < m->net.n; k++)
        if (m->net.layer[k].kind->init) TRY(m->net.layer[k].kind->init(&m->net, &m->net.layer[k]));
    return clae_rt_finish(m->rt);
}

static int env_is(const char *want0, const char *want1, const char *want2)
{
    const char *e = getenv("CLAE_PLAN");
    return e && (!strcmp(e, want0) || (want1 && !strcmp(e, want1)) || (want2 && !strcmp(e, want2)));
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

static clae_status model_build(clae_model *m)
{
    TRY(clae_model_config_validate_training(&m->cfg));
    const clae_layer *out = &m->arch.layer[m->arch.n - 1];
    if (m->cfg.loss == CLAE_LOSS_BCE && out->act != CLAE_ACT_SIGMOID)
        return clae_fail(CLAE_ERR_ARG, "config: loss bce needs a sigmoid output activation, not %s",
                         clae_activation_name(out->act));
    clae_net *net = &m->net;
    net->rt = m->rt;
    net->n = m->arch.n;
    memcpy(net->layer, m->arch.layer, sizeof net->layer);
    net->training_model = is_training_model(m);
    net->batch = (size_t)m->cfg.batch;
    net->seed = m->cfg.seed;
    net->init = m->cfg.init;
    net->hyper.kind = m->cfg.optimizer;
    net->loss_is_bce = m->cfg.loss == CLAE_LOSS_BCE;
    net->update = 1;
    net->backward_top = net->n - 1;
    for (int k = 0; k < net->n; k++) net->stochastic |= net->layer[k].kind == &clae_layer_gauss;
    net->declare = model_declare;
    net->owner = m;
    m->M = clae_arch_dense_count(&m->arch);
    m->row_host = malloc(net->batch * sizeof(float));
    if (!m->row_host) return clae_fail(CLAE_ERR_NOMEM, "model: out of host memory");
    TRY(declare_all(m));
    TRY(dry_run(m));
    TRY(make_plan(m));
    TRY(inference_peak(m));
    if (m->flags & CLAE_MODEL_PLAN_ONLY) return CLAE_OK;
    TRY(check_fits(m));
    TRY(allocate(m));
    if (env_is("poison", NULL, NULL)) TRY(make_poison(m));
    return init_tensors(m);
}

static clae_status model_create(clae_runtime *rt, const clae_model_config *cfg, const clae_arch *arch, unsigned flags,
                                clae_model **out)
{
    clae_model *m = calloc(1, sizeof *m);
    if (!m) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "model: out of host memory"));
    m->rt = rt;
    m->cfg = *cfg;
    m->arch = *arch;
    clae_arch_to_config(arch, &m->cfg);
    clae_arch_format(arch, m->spec, sizeof m->spec);
    m->flags = flags | (env_is("off", "0", "no") ? CLAE_MODEL_UNPLANNED : 0u);
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

clae_status clae_model_create_ex(clae_runtime *rt, const clae_model_config *cfg, unsigned flags, clae_model **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_model_create: out is NULL");
    *out = NULL;
    if (!rt) return clae_fail(CLAE_ERR_ARG, "clae_model_create: runtime is NULL");
    if (!cfg) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_model_create: config is NULL"));
    clae_arch *a = malloc(sizeof *a);
    if (!a) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "model: out of host memory"));
    clae_status s = clae_model_config_validate(cfg);
    if (s == CLAE_OK) s = clae_arch_from_config(cfg, 0, a);
    if (s == CLAE_OK) s = model_create(rt, cfg, a, flags, out);
    free(a);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

clae_status clae_model_create(clae_runtime *rt, const clae_model_config *cfg, clae_model **out)
{
    return clae_model_create_ex(rt, cfg, 0, out);
}

clae_status clae_model_create_arch(clae_runtime *rt, const clae_model_config *cfg, const char *spec, unsigned flags,
                                   clae_model **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_model_create_arch: out is NULL");
    *out = NULL;
    if (!rt) return clae_fail(CLAE_ERR_ARG, "clae_model_create_arch: runtime is NULL");
    clae_model_config def;
    if (!cfg) {
        clae_model_config_default(&def);
        cfg = &def;
    }
    clae_arch *a = malloc(sizeof *a);
    if (!a) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "model: out of host memory"));
    clae_status s = clae_arch_parse(spec, a);
    if (s == CLAE_OK) s = model_create(rt, cfg, a, flags, out);
    free(a);
    return s == CLAE_OK ? s : clae_rt_fail(rt, s);
}

clae_status clae_model_config_arch(const clae_model_config *cfg, int tied, char *buf, size_t cap)
{
    if (!cfg || !buf || !cap) return clae_fail(CLAE_ERR_ARG, "config_arch: config or buffer is NULL");
    clae_arch *a = malloc(sizeof *a);
    if (!a) return clae_fail(CLAE_ERR_NOMEM, "config_arch: out of host memory");
    clae_status s = clae_model_config_validate(cfg);
    if (s == CLAE_OK) s = clae_arch_from_config(cfg, tied, a);
    if (s == CLAE_OK) clae_arch_format(a, buf, cap);
    free(a);
    return s;
}

clae_status clae_model_config_set_arch(clae_model_config *cfg, const char *spec, char *canonical, size_t cap)
{
    if (!cfg) return clae_fail(CLAE_ERR_ARG, "config_set_arch: config is NULL");
    clae_arch *a = malloc(sizeof *a);
    if (!a) return clae_fail(CLAE_ERR_NOMEM, "arch: out of host memory");
    clae_status s = clae_arch_parse(spec, a);
    if (s == CLAE_OK) clae_arch_to_config(a, cfg);
    if (s == CLAE_OK && canonical && cap) clae_arch_format(a, canonical, cap);
    free(a);
    return s;
}

void clae_model_destroy(clae_model *m)
{
    if (!m) return;
    clae_model_reduce_release(m);
    model_release(m);
    free(m);
}

const char *clae_model_arch(const clae_model *m) { return m ? m->spec : ""; }

void clae_model_get_config(const clae_model *m, clae_model_config *out)
{
    if (m && out) *out = m->cfg;
}

clae_status clae_model_check_data(clae_model *m, const clae_dataset *ds)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "check_data: model is NULL");
    return clae_model_record(m, clae_model_config_check_data(&m->cfg, ds));
}

uint64_t clae_model_steps(const clae_model *m) { return m ? m->net.steps : 0; }

const char *clae_model_error(const clae_model *m) { return m ? m->error : ""; }

float clae_model_last_penalty(const clae_model *m) { return m ? m->last_penalty : 0.0f; }

/* What the net adds to plain dense layers, in net order (corruption, then per layer its regularizers and
 * selections, ties), each description once. */
void clae_model_describe(const clae_model *m, char *buf, size_t cap)
{
    if (!buf || !cap) return;
    buf[0] = '\0';
    if (!m) return;
    size_t len = 0;
    for (int k = 0; k < m->net.n; k++) {
        const clae_layer *L = &m->net.layer[k];
        for (int r = -1; r < L->n_reg; r++) {
            char one[160] = "";
            if (r < 0 && L->kind->describe) L->kind->describe(L, one, sizeof one);
            if (r >= 0) L->reg[r].kind->describe(&L->reg[r], one, sizeof one);
            if (!one[0] || strstr(buf, one)) continue;
            len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", len ? " + " : "", one);
            if (len >= cap) return;
        }
    }
    if (!buf[0]) snprintf(buf, cap, "dense");
}

/* ---- the public calls -------------------------------------------------------------------------- */

clae_status clae_model_check_rows(clae_model *m, const float *x, size_t rows, const char *what)
{
    if (!x) return clae_fail(CLAE_ERR_ARG, "%s: input is NULL", what);
    if (rows < 1 || rows > (size_t)m->cfg.batch)
        return clae_fail(CLAE_ERR_ARG, "%s: %zu rows; expected 1..%d (the model's batch size)", what, rows,
                         m->cfg.batch);
    return CLAE_OK;
}

clae_status clae_model_check_usable(clae_model *m, int training, const char *what)
{
    if (m->flags & CLAE_MODEL_PLAN_ONLY)
        return clae_fail(CLAE_ERR_ARG, "%s: the model was created with CLAE_MODEL_PLAN_ONLY and has no memory", what);
    if (training && !is_training_model(m))
        return clae_fail(CLAE_ERR_ARG, "%s: the model was created for inference only (CLAE_MODEL_INFERENCE)", what);
    return CLAE_OK;
}

/* The GEMM engine uses the pass's planned workspace while a public call runs. */
void clae_model_lend_workspace(clae_model *m, const model_pass *p)
{
    clae_rt_set_gemm_workspace(m->rt, p ? p->gemm_ws_mem : NULL, p ? p->gemm_ws.n * sizeof(float) : 0);
}


static clae_status train_step(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows, float *loss)
{
    TRY(clae_model_check_usable(m, 1, "train_step"));
    TRY(clae_model_check_rows(m, x, rows, "train_step"));
    return clae_model_run_step(m, x, row_ids, rows, loss);
}

clae_status clae_model_train_step_rows(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows,
                                       float *loss)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "train_step: model is NULL");
    WITH_PASS(m, 1, train_step(m, x, row_ids, rows, loss));
}

clae_status clae_model_train_step(clae_model *m, const float *x, size_t rows, float *loss)
{
    return clae_model_train_step_rows(m, x, NULL, rows, loss);
}

static clae_status model_loss(clae_model *m, const float *x, size_t rows, float *loss)
{
    TRY(clae_model_check_usable(m, 1, "loss"));
    TRY(clae_model_check_rows(m, x, rows, "loss"));
    if (!loss) return clae_fail(CLAE_ERR_ARG, "loss: output is NULL");
    return clae_model_run_loss(m, x, rows, loss);
}

clae_status clae_model_loss(clae_model *m, const float *x, size_t rows, float *loss)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "loss: model is NULL");
    WITH_PASS(m, 1, model_loss(m, x, rows, loss));
}

static clae_status model_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db)
{
    TRY(clae_model_check_usable(m, 1, "gradients"));
    TRY(clae_model_check_rows(m, x, rows, "gradients"));
    if (l < 0 || l >= m->M) return clae_fail(CLAE_ERR_ARG, "gradients: layer %d out of range 0..%d", l, m->M - 1);
    return clae_model_run_gradients(m, x, rows, l, dW, db);
}

clae_status clae_model_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "gradients: model is NULL");
    WITH_PASS(m, 1, model_gradients(m, x, rows, l, dW, db));
}


/* What a chunk of the inference pass hands back: the value after layer `upto` (width w), or the
 * reconstruction, or the per-row errors. */
typedef struct infer_out {
    int upto;
    size_t w;
    float *values, *recon, *errors;
} infer_out;

static clae_status infer_chunks(clae_model *m, const float *x, size_t rows, const infer_out *o, const char *what)
{
    TRY(clae_model_check_usable(m, 0, what));
    if (!x || (!o->values && !o->recon && !o->errors)) return clae_fail(CLAE_ERR_ARG, "%s: input or output is NULL", what);
    const size_t B = (size_t)m->cfg.batch, D = m->arch.input;
    for (size_t first = 0; first < rows; first += B) {
        size_t n = rows - first < B ? rows - first : B;
        TRY(clae_model_run_infer(m, x + first * D, n, o->upto));
        if (o->values) TRY(clae_buf_read(m->rt, m->net.infer.val[o->upto + 1], 0, o->values + first * o->w, n * o->w));
        else TRY(clae_model_infer_output(m, n, o->errors ? o->errors + first : NULL, o->recon ? o->recon + first * D : NULL));
    }
    return CLAE_OK;
}

clae_status clae_model_encode_layer(clae_model *m, const float *x, size_t rows, int layer, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "encode: model is NULL");
    if (layer < 1 || layer > m->M)
        return clae_model_record(m, clae_fail(CLAE_ERR_ARG, "encode: layer %d out of range 1..%d", layer, m->M));
    int end = clae_arch_dense_end(&m->arch, layer - 1);
    infer_out o = {end, m->arch.layer[end].out, out, NULL, NULL};
    WITH_PASS(m, 0, infer_chunks(m, x, rows, &o, "encode"));
}

clae_status clae_model_encode(clae_model *m, const float *x, size_t rows, float *codes)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "encode: model is NULL");
    infer_out o = {m->arch.code, m->arch.layer[m->arch.code].out, codes, NULL, NULL};
    WITH_PASS(m, 0, infer_chunks(m, x, rows, &o, "encode"));
}

clae_status clae_model_reconstruct(clae_model *m, const float *x, size_t rows, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "reconstruct: model is NULL");
    infer_out o = {m->net.n - 1, 0, NULL, out, NULL};
    WITH_PASS(m, 0, infer_chunks(m, x, rows, &o, "reconstruct"));
}

clae_status clae_model_row_errors(clae_model *m, const float *x, size_t rows, float *err)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "row_errors: model is NULL");
    infer_out o = {m->net.n - 1, 0, NULL, NULL, err};
    WITH_PASS(m, 0, infer_chunks(m, x, rows, &o, "row_errors"));
}

/* ---- the plan, for clae plan and the tests ---------------------------------------------------- */

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

/* ---- weights by layer --------------------------------------------------------------------------- */

static clae_status get_layer(clae_model *m, int l, float *W, float *b)
{
    if (l < 0 || l >= m->M) return clae_fail(CLAE_ERR_ARG, "get_layer: layer %d out of range 0..%d", l, m->M - 1);
    const clae_layer *L = clae_model_dense(m, l);
    if (W && L->tie < 0) TRY(clae_buf_read(m->rt, L->W->value, 0, W, L->W->value.n));
    if (W && L->tie >= 0) {
        /* Stored once, as the encoder's out×in: this layer's W is its transpose. */
        float *t = malloc(L->W->value.n * sizeof *t);
        if (!t) return clae_fail(CLAE_ERR_NOMEM, "get_layer: out of host memory");
        clae_status s = clae_buf_read(m->rt, L->W->value, 0, t, L->W->value.n);
        for (size_t i = 0; s == CLAE_OK && i < L->out; i++)
            for (size_t j = 0; j < L->in; j++) W[i * L->in + j] = t[j * L->out + i];
        free(t);
        TRY(s);
    }
    if (b) TRY(clae_buf_read(m->rt, L->b->value, 0, b, L->b->value.n));
    return CLAE_OK;
}

clae_status clae_model_layer_sizes(const clae_model *m, int l, size_t *nw, size_t *nb)
{
    if (!m || !nw || !nb) return clae_fail(CLAE_ERR_ARG, "layer_sizes: model and outputs must not be NULL");
    if (l < 0 || l >= m->M) return clae_fail(CLAE_ERR_ARG, "layer_sizes: layer %d out of range 0..%d", l, m->M - 1);
    const clae_layer *L = clae_model_dense((clae_model *)m, l);
    *nw = L->W->value.n;
    *nb = L->b->value.n;
    return CLAE_OK;
}

clae_status clae_model_get_layer(clae_model *m, int l, float *W, float *b)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "get_layer: model is NULL");
    return clae_model_record(m, get_layer(m, l, W, b));
}

static clae_status set_layer(clae_model *m, int l, const float *W, const float *b)
{
    if (l < 0 || l >= m->M) return clae_fail(CLAE_ERR_ARG, "set_layer: layer %d out of range 0..%d", l, m->M - 1);
    const clae_layer *L = clae_model_dense(m, l);
    if (W && L->tie >= 0)
        return clae_fail(CLAE_ERR_ARG, "set_layer: layer %d uses layer %d's weight transposed (tied); set layer %d", l,
                         L->tie, L->tie);
    if (W) TRY(clae_buf_write(m->rt, L->W->value, 0, W, L->W->value.n));
    if (b) TRY(clae_buf_write(m->rt, L->b->value, 0, b, L->b->value.n));
    return CLAE_OK;
}

clae_status clae_model_set_layer(clae_model *m, int l, const float *W, const float *b)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "set_layer: model is NULL");
    return clae_model_record(m, set_layer(m, l, W, b));
}

clae_status clae_model_gemm_report(const clae_model *m, char *buf, size_t cap)
{
    if (!m || !buf || !cap) return clae_fail(CLAE_ERR_ARG, "clae_model_gemm_report: model and buffer must not be NULL");
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < m->n_gemm; i++) {
        char how[256];
        clae_op_gemm_describe(m->rt, m->gemm[i].ta, m->gemm[i].tb, m->gemm[i].M, m->gemm[i].N, m->gemm[i].K, how,
                              sizeof how);
        int w = snprintf(buf + len, cap - len, "%-9s %c%c M=%zu N=%zu K=%zu: %s\n",
                         m->gemm[i].training ? "training" : "inference", m->gemm[i].ta ? 'T' : 'N',
                         m->gemm[i].tb ? 'T' : 'N', m->gemm[i].M, m->gemm[i].N, m->gemm[i].K, how);
        if (w < 0 || (size_t)w >= cap - len)
            return clae_fail(CLAE_ERR_ARG, "clae_model_gemm_report: %zu bytes are too few for %d GEMMs", cap, m->n_gemm);
        len += (size_t)w;
    }
    return CLAE_OK;
}
