/* model.c — the dense autoencoder: weights, forward, loss, backward and optimizer step.
 * Composes ops from the table in ops.h, so the same code runs on cpu-ref and every OpenCL device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* One weight layer's tensors: parameters, their gradients and optimizer state. */
typedef struct dense_layer {
    clae_buf W, b;        /* W: out×in (PyTorch layout), b: out */
    clae_buf dW, db;      /* gradients of the last backward pass */
    clae_buf sW1, sW2;    /* optimizer state of W (momentum/Adam m/ADADELTA Eg2, Adam v/Edx2) */
    clae_buf sb1, sb2;    /* optimizer state of b */
} dense_layer;

struct clae_model {
    clae_runtime *rt;
    clae_model_config cfg;
    int M;                          /* weight layers */
    dense_layer layer[CLAE_MAX_LAYERS];
    clae_buf act[CLAE_MAX_LAYERS + 1]; /* act[0] = input batch, act[l] = output of weight layer l-1 */
    clae_buf out_pre;               /* output pre-activation O, needed by the fused bce loss */
    clae_buf grad[2];               /* ping-pong ∂L/∂Z of the layer being back-propagated */
    clae_buf row_out;               /* per-row loss or squared error */
    float *row_host;                /* host copy of row_out */
    uint64_t steps;
    char error[CLAE_ERROR_MAX];
};

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

static size_t width(const clae_model *m, int i) { return (size_t)m->cfg.sizes[i]; }

static size_t max_width(const clae_model *m)
{
    size_t w = 0;
    for (int i = 0; i <= m->M; i++)
        if (width(m, i) > w) w = width(m, i);
    return w;
}

/* Every tensor the model owns, so allocation and release walk one list. */
typedef struct tensor_ref {
    clae_buf *buf;
    size_t n;
} tensor_ref;

static int model_tensors(clae_model *m, tensor_ref *t, int cap)
{
    int k = 0;
    size_t B = (size_t)m->cfg.batch;
    int adaptive = m->cfg.optimizer != CLAE_OPT_SGD;
    int two_state = m->cfg.optimizer == CLAE_OPT_ADAM || m->cfg.optimizer == CLAE_OPT_ADADELTA;
    for (int l = 0; l < m->M && k + 8 <= cap; l++) {
        dense_layer *L = &m->layer[l];
        size_t nw = width(m, l + 1) * width(m, l), nb = width(m, l + 1);
        t[k++] = (tensor_ref){&L->W, nw};
        t[k++] = (tensor_ref){&L->b, nb};
        t[k++] = (tensor_ref){&L->dW, nw};
        t[k++] = (tensor_ref){&L->db, nb};
        t[k++] = (tensor_ref){&L->sW1, adaptive ? nw : 0};
        t[k++] = (tensor_ref){&L->sb1, adaptive ? nb : 0};
        t[k++] = (tensor_ref){&L->sW2, two_state ? nw : 0};
        t[k++] = (tensor_ref){&L->sb2, two_state ? nb : 0};
    }
    for (int i = 0; i <= m->M && k < cap; i++) t[k++] = (tensor_ref){&m->act[i], B * width(m, i)};
    if (k + 4 <= cap) {
        t[k++] = (tensor_ref){&m->out_pre, B * width(m, m->M)};
        t[k++] = (tensor_ref){&m->grad[0], B * max_width(m)};
        t[k++] = (tensor_ref){&m->grad[1], B * max_width(m)};
        t[k++] = (tensor_ref){&m->row_out, B};
    }
    return k;
}

#define MAX_TENSORS (8 * CLAE_MAX_LAYERS + CLAE_MAX_LAYERS + 8)

static void model_release(clae_model *m)
{
    tensor_ref t[MAX_TENSORS];
    int k = model_tensors(m, t, MAX_TENSORS);
    for (int i = 0; i < k; i++) clae_buf_free(t[i].buf);
    free(m->row_host);
    m->row_host = NULL;
}

/* Glorot/He uniform limit for layer l (Appendix B): He before relu units under AUTO. */
static float init_limit(const clae_model *m, int l)
{
    double fan_in = (double)width(m, l), fan_out = (double)width(m, l + 1);
    clae_init init = m->cfg.init;
    if (init == CLAE_INIT_AUTO) init = m->cfg.activation[l] == CLAE_ACT_RELU ? CLAE_INIT_HE : CLAE_INIT_XAVIER;
    return init == CLAE_INIT_HE ? (float)sqrt(6.0 / fan_in) : (float)sqrt(6.0 / (fan_in + fan_out));
}

static clae_status model_init_weights(clae_model *m)
{
    const clae_ops *ops = m->rt->ops;
    tensor_ref t[MAX_TENSORS];
    int k = model_tensors(m, t, MAX_TENSORS);
    for (int i = 0; i < k; i++)
        if (t[i].n) TRY(clae_buf_zero(m->rt, *t[i].buf));
    for (int l = 0; l < m->M; l++) {
        dense_layer *L = &m->layer[l];
        TRY(ops->init_uniform(m->rt, L->W, L->W.n, m->cfg.seed, (uint32_t)l, init_limit(m, l)));
    }
    return clae_rt_finish(m->rt);
}

clae_status clae_model_create(clae_runtime *rt, const clae_model_config *cfg, clae_model **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "clae_model_create: out is NULL");
    *out = NULL;
    if (!rt) return clae_fail(CLAE_ERR_ARG, "clae_model_create: runtime is NULL");
    clae_status s = clae_model_config_validate(cfg);
    if (s != CLAE_OK) return clae_rt_fail(rt, s);
    clae_model *m = calloc(1, sizeof *m);
    if (!m) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "model: out of host memory"));
    m->rt = rt;
    m->cfg = *cfg;
    m->M = cfg->n_layers;
    m->row_host = malloc((size_t)cfg->batch * sizeof(float));
    if (!m->row_host) s = clae_fail(CLAE_ERR_NOMEM, "model: out of host memory");
    tensor_ref t[MAX_TENSORS];
    int k = model_tensors(m, t, MAX_TENSORS);
    for (int i = 0; s == CLAE_OK && i < k; i++)
        if (t[i].n) s = clae_buf_alloc(rt, t[i].n, t[i].buf);
    if (s == CLAE_OK) s = model_init_weights(m);
    if (s != CLAE_OK) {
        clae_rt_fail(rt, s);
        model_release(m);
        free(m);
        return s;
    }
    *out = m;
    return CLAE_OK;
}

void clae_model_destroy(clae_model *m)
{
    if (!m) return;
    model_release(m);
    free(m);
}

void clae_model_get_config(const clae_model *m, clae_model_config *out) { *out = m->cfg; }

clae_status clae_model_check_data(clae_model *m, const clae_dataset *ds)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "check_data: model is NULL");
    return model_fail(m, clae_model_config_check_data(&m->cfg, ds));
}

uint64_t clae_model_steps(const clae_model *m) { return m->steps; }

const char *clae_model_error(const clae_model *m) { return m ? m->error : ""; }

/* Uploads rows of x into the input activation. */
static clae_status load_input(clae_model *m, const float *x, size_t rows)
{
    return clae_buf_write(m->rt, m->act[0], 0, x, rows * width(m, 0));
}

/* Forward through weight layers [0, upto): act[l+1] = f(act[l]·Wᵀ + b). The
 * output layer's pre-activation is kept in out_pre for the fused bce loss. */
static clae_status forward(clae_model *m, size_t rows, int upto)
{
    const clae_ops *ops = m->rt->ops;
    for (int l = 0; l < upto; l++) {
        dense_layer *L = &m->layer[l];
        size_t in = width(m, l), out = width(m, l + 1);
        clae_buf Z = (l == m->M - 1) ? m->out_pre : m->act[l + 1];
        TRY(ops->gemm(m->rt, 0, 1, rows, out, in, 1.0f, m->act[l], in, L->W, in, 0.0f, Z, out));
        TRY(ops->bias_add(m->rt, Z, L->b, rows, out));
        TRY(ops->act_forward(m->rt, m->cfg.activation[l], Z, m->act[l + 1], rows * out));
    }
    return CLAE_OK;
}

/* Mean over rows of the per-row training loss (sum over features). */
static clae_status batch_loss(clae_model *m, size_t rows, float *loss)
{
    const clae_ops *ops = m->rt->ops;
    TRY(ops->loss_rows(m->rt, m->cfg.loss, m->out_pre, m->act[m->M], m->act[0], rows, width(m, m->M),
                       m->row_out));
    TRY(clae_buf_read(m->rt, m->row_out, 0, m->row_host, rows));
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) sum += m->row_host[r];
    *loss = (float)(sum / (double)rows);
    if (!isfinite(*loss))
        return clae_fail(CLAE_ERR_NUMERIC, "training loss is not finite (%g) at step %llu; lower --lr?",
                         (double)*loss, (unsigned long long)m->steps + 1);
    return CLAE_OK;
}

/* Backward pass (VARIANTS.md §2.2): fills every layer's dW and db. */
static clae_status backward(clae_model *m, size_t rows)
{
    const clae_ops *ops = m->rt->ops;
    int M = m->M;
    clae_buf G = m->grad[0], Gnext = m->grad[1];
    TRY(ops->loss_grad(m->rt, m->cfg.loss, m->cfg.activation[M - 1], m->act[M], m->act[0],
                       rows * width(m, M), 1.0f / (float)rows, G));
    for (int l = M - 1; l >= 0; l--) {
        dense_layer *L = &m->layer[l];
        size_t in = width(m, l), out = width(m, l + 1);
        TRY(ops->gemm(m->rt, 1, 0, out, in, rows, 1.0f, G, out, m->act[l], in, 0.0f, L->dW, in));
        TRY(ops->colsum(m->rt, G, rows, out, L->db));
        if (l > 0) {
            TRY(ops->gemm(m->rt, 0, 0, rows, in, out, 1.0f, G, out, L->W, in, 0.0f, Gnext, in));
            TRY(ops->act_backward(m->rt, m->cfg.activation[l - 1], m->act[l], Gnext, rows * in));
            clae_buf tmp = G;
            G = Gnext;
            Gnext = tmp;
        }
    }
    return CLAE_OK;
}

static clae_status update(clae_model *m)
{
    const clae_ops *ops = m->rt->ops;
    const clae_model_config *c = &m->cfg;
    double t = (double)(m->steps + 1);
    clae_opt_hyper h = {
        .kind = c->optimizer, .lr = c->lr, .momentum = c->momentum,
        .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
        .bc1 = (float)(1.0 - pow((double)c->beta1, t)), .bc2 = (float)(1.0 - pow((double)c->beta2, t)),
        .rho = c->rho, .adadelta_eps = c->adadelta_eps,
    };
    for (int l = 0; l < m->M; l++) {
        dense_layer *L = &m->layer[l];
        TRY(ops->opt_update(m->rt, &h, L->W, L->dW, L->sW1, L->sW2, L->W.n));
        TRY(ops->opt_update(m->rt, &h, L->b, L->db, L->sb1, L->sb2, L->b.n));
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

static clae_status train_step(clae_model *m, const float *x, size_t rows, float *loss)
{
    TRY(check_rows(m, x, rows, "train_step"));
    TRY(load_input(m, x, rows));
    TRY(forward(m, rows, m->M));
    if (loss) TRY(batch_loss(m, rows, loss));
    TRY(backward(m, rows));
    TRY(update(m));
    m->steps++;
    return CLAE_OK;
}

clae_status clae_model_train_step(clae_model *m, const float *x, size_t rows, float *loss)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "train_step: model is NULL");
    return model_fail(m, train_step(m, x, rows, loss));
}

static clae_status model_loss(clae_model *m, const float *x, size_t rows, float *loss)
{
    TRY(check_rows(m, x, rows, "loss"));
    if (!loss) return clae_fail(CLAE_ERR_ARG, "loss: output is NULL");
    TRY(load_input(m, x, rows));
    TRY(forward(m, rows, m->M));
    return batch_loss(m, rows, loss);
}

clae_status clae_model_loss(clae_model *m, const float *x, size_t rows, float *loss)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "loss: model is NULL");
    return model_fail(m, model_loss(m, x, rows, loss));
}

static clae_status model_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db)
{
    TRY(check_rows(m, x, rows, "gradients"));
    if (l < 0 || l >= m->M) return clae_fail(CLAE_ERR_ARG, "gradients: layer %d out of range 0..%d", l, m->M - 1);
    TRY(load_input(m, x, rows));
    TRY(forward(m, rows, m->M));
    TRY(backward(m, rows));
    if (dW) TRY(clae_buf_read(m->rt, m->layer[l].dW, 0, dW, m->layer[l].dW.n));
    if (db) TRY(clae_buf_read(m->rt, m->layer[l].db, 0, db, m->layer[l].db.n));
    return CLAE_OK;
}

clae_status clae_model_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "gradients: model is NULL");
    return model_fail(m, model_gradients(m, x, rows, l, dW, db));
}

/* Runs the inference path over any number of rows in chunks of the batch size:
 * forward through `upto` layers, then hands each chunk to `emit`. */
typedef clae_status (*chunk_fn)(clae_model *m, size_t first, size_t rows, void *out);

static clae_status for_each_chunk(clae_model *m, const float *x, size_t rows, int upto, chunk_fn emit,
                                  void *out, const char *what)
{
    if (!x || !out) return clae_fail(CLAE_ERR_ARG, "%s: input or output is NULL", what);
    size_t B = (size_t)m->cfg.batch, D = width(m, 0);
    for (size_t first = 0; first < rows; first += B) {
        size_t n = rows - first < B ? rows - first : B;
        TRY(load_input(m, x + first * D, n));
        TRY(forward(m, n, upto));
        TRY(emit(m, first, n, out));
    }
    return CLAE_OK;
}

static clae_status emit_codes(clae_model *m, size_t first, size_t rows, void *out)
{
    size_t w = width(m, m->cfg.code_layer);
    return clae_buf_read(m->rt, m->act[m->cfg.code_layer], 0, (float *)out + first * w, rows * w);
}

static clae_status emit_output(clae_model *m, size_t first, size_t rows, void *out)
{
    size_t w = width(m, m->M);
    return clae_buf_read(m->rt, m->act[m->M], 0, (float *)out + first * w, rows * w);
}

static clae_status emit_row_errors(clae_model *m, size_t first, size_t rows, void *out)
{
    size_t D = width(m, m->M);
    TRY(m->rt->ops->row_sq_error(m->rt, m->act[m->M], m->act[0], rows, D, m->row_out));
    float *err = (float *)out + first;
    TRY(clae_buf_read(m->rt, m->row_out, 0, err, rows));
    for (size_t r = 0; r < rows; r++) err[r] = (float)((double)err[r] / (double)D);
    return CLAE_OK;
}

clae_status clae_model_encode(clae_model *m, const float *x, size_t rows, float *codes)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "encode: model is NULL");
    return model_fail(m, for_each_chunk(m, x, rows, m->cfg.code_layer, emit_codes, codes, "encode"));
}

clae_status clae_model_reconstruct(clae_model *m, const float *x, size_t rows, float *out)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "reconstruct: model is NULL");
    return model_fail(m, for_each_chunk(m, x, rows, m->M, emit_output, out, "reconstruct"));
}

clae_status clae_model_row_errors(clae_model *m, const float *x, size_t rows, float *err)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "row_errors: model is NULL");
    return model_fail(m, for_each_chunk(m, x, rows, m->M, emit_row_errors, err, "row_errors"));
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
