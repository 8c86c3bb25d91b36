/* model_step.c — what a training step and an inference pass do, position by position: load, each layer's
 * forward, the loss, each layer's backward. The dry run that plans the tensors walks exactly this code. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "layers/layer.h"

/* ---- the schedule ----------------------------------------------------------------------------- */

/* CLAE_PLAN=poison: every transient tensor is filled with NaN right after its last traced use, so a read
 * past its lifetime (which sharing memory would only sometimes expose) shows at once. */
static clae_status poison(clae_model *m, int pos)
{
    if (!m->poison_host || pos < 0) return CLAE_OK;
    for (int i = 0; i < m->plan.n; i++) {
        const clae_plan_tensor *t = &m->plan.tensors[i];
        if (!t->bytes || t->persistent || t->last != pos) continue;
        TRY(clae_buf_write(m->rt, *m->plan_dst[i], 0, m->poison_host, t->bytes / sizeof(float)));
    }
    return CLAE_OK;
}

void clae_model_pass_begin(clae_model *m, int training)
{
    if (m->tracing) {
        if (!training) m->n_train_pos = m->n_pos;
        return;
    }
    m->pass_start = training ? 0 : m->n_train_pos;
    m->pass_stop = training ? m->n_train_pos : m->n_pos;
    m->cursor = m->pass_start - 1;
}

clae_status clae_model_enter(clae_model *m, const char *fmt, ...)
{
    if (m->tracing) {
        if (m->n_pos == m->cap_pos) {
            int cap = m->cap_pos ? 2 * m->cap_pos : 64;
            void *p = realloc(m->pos_names, (size_t)cap * sizeof *m->pos_names);
            if (!p) return clae_fail(CLAE_ERR_NOMEM, "model: out of host memory for the schedule");
            m->pos_names = p;
            m->cap_pos = cap;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->pos_names[m->n_pos], CLAE_PLAN_NAME, fmt, ap);
        va_end(ap);
        m->cursor = m->n_pos++;
        return CLAE_OK;
    }
    if (m->cursor >= m->pass_start) TRY(poison(m, m->cursor));
    if (++m->cursor >= m->pass_stop)
        return clae_fail(CLAE_ERR_ARG, "model: the pass went past the %d positions its dry run traced",
                         m->pass_stop - m->pass_start);
    return CLAE_OK;
}

clae_status clae_model_pass_end(clae_model *m) { return m->tracing ? CLAE_OK : poison(m, m->cursor); }

/* ---- the passes ------------------------------------------------------------------------------- */

/* Uploads rows of x (and, for training, the rows' data-set indices). */
static clae_status load(clae_model *m, int training, const float *x, const uint32_t *row_ids, size_t rows)
{
    clae_net *net = &m->net;
    clae_net_pass *p = training ? &net->train : &net->infer;
    clae_model_pass_begin(m, training);
    TRY(clae_model_enter(m, training ? "load" : "infer load"));
    /* Nothing waits for the uploads (staged copies): a step or call waits once, for its result at the end.
     * At batch 1 the round trip of a blocking write was a third of an inference call. */
    if (m->in_mem) TRY(clae_buf_copy_from_mem(m->rt, p->val[0], 0, m->in_mem, m->in_off, rows * m->arch.input));
    else TRY(clae_buf_write_staged(m->rt, p->val[0], 0, x, rows * m->arch.input));
    if (!training && net->stochastic) {
        /* The draws are keyed by the rows' place in the call, so a row draws the same codes in any chunk. */
        uint32_t *ids = (uint32_t *)m->row_host;
        for (size_t r = 0; r < rows; r++) ids[r] = (uint32_t)(net->infer_first + r);
        return clae_buf_write_staged(m->rt, net->infer_row_ids, 0, m->row_host, rows);
    }
    if (!training) return CLAE_OK;
    uint32_t *ids = (uint32_t *)m->row_host; /* batch floats of scratch, the same size */
    for (size_t r = 0; r < rows; r++) ids[r] = row_ids ? row_ids[r] : (uint32_t)(net->steps * net->batch + r);
    return clae_buf_write_staged(m->rt, net->row_ids, 0, m->row_host, rows);
}

/* Forward through layers [0, upto]. */
static clae_status forward(clae_model *m, clae_net_pass *p, size_t rows, int upto)
{
    for (int k = 0; k <= upto; k++) {
        clae_layer *L = &m->net.layer[k];
        TRY(clae_model_enter(m, "%sforward %d", p->training ? "" : "infer ", k));
        TRY(L->kind->forward(&m->net, L, p, rows));
    }
    return CLAE_OK;
}

/* The loss is two halves so that a training step never waits for the device in its middle: the per-row
 * loss kernel runs at the loss position, and its rows and the penalties are read back once the whole step
 * has been enqueued (those tensors live to the end of the step). */
static clae_status loss_enqueue(clae_model *m, size_t rows, int with_grad)
{
    clae_net_pass *p = &m->net.train;
    const clae_layer *out = &m->net.layer[m->net.n - 1];
    int n = m->net.n;
    clae_buf O = out->out_pre.n ? out->out_pre : p->val[n];
    if (!with_grad)
        return clae_op_loss_rows(m->rt, m->cfg.loss, O, p->val[n], p->val[0], rows, m->arch.input, m->pass[1].row_out);
    /* The backward pass's seed from the same pass over the rows (backward then skips loss_grad). */
    return clae_op_loss_rows_grad(m->rt, m->cfg.loss, out->act, O, p->val[n], p->val[0], rows, m->arch.input,
                                  m->pass[1].row_out, 1.0f / (float)rows, p->grad[n]);
}

/* Mean over rows of the per-row training loss (sum over features), plus the regularizers' penalties.
 * `step` is the step the loss belongs to, for the message. */
static clae_status loss_collect(clae_model *m, size_t rows, uint64_t step, float *loss)
{
    TRY(clae_buf_read(m->rt, m->pass[1].row_out, 0, m->row_host, rows));
    double penalty = 0.0;
    for (int k = 0; k < m->net.n; k++) {
        clae_layer *L = &m->net.layer[k];
        if (L->kind->penalty) TRY(L->kind->penalty(&m->net, L, &penalty));
        for (int r = 0; r < L->n_reg; r++)
            if (L->reg[r].kind->penalty) TRY(L->reg[r].kind->penalty(&m->net, L, &L->reg[r], &penalty));
    }
    if (m->tracing) return CLAE_OK;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) sum += m->row_host[r];
    m->last_penalty = (float)penalty;
    *loss = (float)(sum / (double)rows + penalty);
    /* Data-parallel parts judge the whole batch's loss, the same in every part (clae_parallel_step): a part
     * that stopped here alone would leave the others waiting in the reduction. */
    if (!isfinite(*loss) && !m->net.reduce)
        return clae_fail(CLAE_ERR_NUMERIC, "training loss is not finite (%g) at step %llu; lower --lr?", (double)*loss,
                         (unsigned long long)step);
    return CLAE_OK;
}

static clae_opt_hyper opt_hyper(const clae_model *m)
{
    const clae_model_config *c = &m->cfg;
    double t = (double)(m->net.steps + 1);
    clae_opt_hyper h = {
        .kind = c->optimizer, .lr = c->lr, .momentum = c->momentum,
        .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
        .bc1 = (float)(1.0 - pow((double)c->beta1, t)), .bc2 = (float)(1.0 - pow((double)c->beta2, t)),
        .rho = c->rho, .adadelta_eps = c->adadelta_eps,
    };
    return h;
}

/* The loss seeds ∂L/∂Z of the output layer (f' fused in), then each layer back-propagates, last first. */
static clae_status backward(clae_model *m, size_t rows, int seeded)
{
    clae_net *net = &m->net;
    clae_net_pass *p = &net->train;
    const int n = net->n;
    net->hyper = opt_hyper(m);
    net->phase = CLAE_PHASE_RECONSTRUCTION;
    net->backward_top = n - 1;
    TRY(clae_model_enter(m, "backward %d", n - 1));
    /* The dry run records loss_grad's uses even when the fused loss seeds G, so the plan also serves a step
     * without the loss (loss_grad here then reads x̂ and x, which must still be live). */
    if (!seeded || m->tracing)
        TRY(clae_op_loss_grad(m->rt, m->cfg.loss, net->layer[n - 1].act, p->val[n], p->val[0], rows * m->arch.input,
                              1.0f / (float)rows, p->grad[n]));
    for (int k = n - 1; k >= 0; k--) {
        if (k < n - 1) TRY(clae_model_enter(m, "backward %d", k));
        TRY(net->layer[k].kind->backward(net, &net->layer[k], rows));
    }
    return CLAE_OK;
}

/* ---- the adversarial phases (Makhzani et al. 2015, Section 2) ------------------------------------- */

clae_layer *clae_model_adversary(clae_model *m)
{
    for (int k = 0; k < m->net.n; k++)
        if (m->net.layer[k].kind->discriminate) return &m->net.layer[k];
    return NULL;
}

/* Puts in (enter) or takes back the optimizer state of the parameters the generator phase updates (those whose
 * users all lie before the adversary at k): the encoder learns to fool the discriminator with state of its own in
 * m->gen_state, as the paper's separate optimizers of the two phases have. */
static void use_gen_state(clae_model *m, int k, int enter)
{
    size_t off = 0;
    for (int i = 0; i < m->net.n_params; i++) {
        clae_param *P = &m->net.param[i];
        if (P->last_user >= k) continue;
        clae_buf *state[2] = {&P->s1, &P->s2};
        for (int j = 0; j < 2; j++) {
            if (!enter) {
                if (m->gen_saved[i][j].n) *state[j] = m->gen_saved[i][j];
                continue;
            }
            m->gen_saved[i][j] = *state[j];
            if (!state[j]->n) continue;
            *state[j] = clae_buf_view(m->gen_state, off, state[j]->n);
            off += state[j]->n;
        }
    }
}

size_t clae_model_gen_state_size(const clae_model *m, int k)
{
    const clae_optimizer o = m->cfg.optimizer;
    const size_t copies = o == CLAE_OPT_ADAM || o == CLAE_OPT_ADADELTA ? 2 : o == CLAE_OPT_SGD ? 0 : 1;
    size_t n = 0;
    for (int i = 0; i < m->net.n_params; i++)
        if (m->net.param[i].last_user < k) n += copies * m->net.param[i].rows * m->net.param[i].cols;
    return n;
}

/* After the reconstruction phase: the code again with the updated encoder; the discriminator's phase; the
 * generator's, whose gradient of the code the encoder's layers back-propagate and apply at the generator's rate
 * with the generator's optimizer state. The noise and prior draws are those of the step's reconstruction phase. */
static clae_status adversarial_phases(clae_model *m, size_t rows)
{
    clae_net *net = &m->net;
    clae_layer *A = clae_model_adversary(m);
    if (!A) return CLAE_OK;
    const int k = A->index;
    net->phase = CLAE_PHASE_DISCRIMINATOR;
    for (int j = 0; j < k; j++) {
        TRY(clae_model_enter(m, "adversary forward %d", j));
        TRY(net->layer[j].kind->forward(net, &net->layer[j], &net->train, rows));
    }
    TRY(clae_model_enter(m, "discriminator"));
    TRY(A->kind->discriminate(net, A, rows));
    net->phase = CLAE_PHASE_GENERATOR;
    TRY(clae_model_enter(m, "generator"));
    clae_opt_hyper h = net->hyper;
    TRY(A->kind->generate(net, A, rows, &h));
    const clae_opt_hyper rec = net->hyper;
    net->hyper = h;
    net->backward_top = k - 1;
    use_gen_state(m, k, 1);
    clae_status s = CLAE_OK;
    for (int j = k - 1; s == CLAE_OK && j >= 0; j--) {
        s = clae_model_enter(m, "generator backward %d", j);
        if (s == CLAE_OK) s = net->layer[j].kind->backward(net, &net->layer[j], rows);
    }
    use_gen_state(m, k, 0);
    net->hyper = rec;
    net->backward_top = net->n - 1;
    net->phase = CLAE_PHASE_RECONSTRUCTION;
    return s;
}

static clae_status run_step(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows, float *loss)
{
    clae_net *net = &m->net;
    net->update = 1;
    TRY(load(m, 1, x, row_ids, rows));
    TRY(forward(m, &net->train, rows, net->n - 1));
    TRY(clae_model_enter(m, "loss"));
    /* Without a loss pointer nothing of the loss runs: no kernel, no read, no wait. */
    if (loss) TRY(loss_enqueue(m, rows, 1));
    TRY(backward(m, rows, loss != NULL));
    TRY(adversarial_phases(m, rows));
    if (!m->tracing) net->steps++;
    /* Read only now, so the device runs the step through; the update is applied either way. */
    if (loss) TRY(loss_collect(m, rows, net->steps, loss));
    return clae_model_pass_end(m);
}

clae_status clae_model_run_step(clae_model *m, const float *x, const uint32_t *row_ids, size_t rows, float *loss)
{
    m->net.in_step = 1;
    clae_status s = run_step(m, x, row_ids, rows, loss);
    m->net.in_step = 0;
    return s;
}

clae_status clae_model_run_loss(clae_model *m, const float *x, size_t rows, float *loss)
{
    clae_net *net = &m->net;
    TRY(load(m, 1, x, NULL, rows));
    TRY(forward(m, &net->train, rows, net->n - 1));
    TRY(clae_model_enter(m, "loss"));
    TRY(loss_enqueue(m, rows, 0));
    return loss_collect(m, rows, net->steps + 1, loss);
}

static clae_status run_gradients(clae_model *m, const float *x, size_t rows)
{
    clae_net *net = &m->net;
    TRY(load(m, 1, x, NULL, rows));
    TRY(forward(m, &net->train, rows, net->n - 1));
    TRY(clae_model_enter(m, "loss"));
    TRY(backward(m, rows, 0));
    return clae_model_pass_end(m);
}

clae_status clae_model_run_gradients(clae_model *m, const float *x, size_t rows, int l, float *dW, float *db)
{
    clae_net *net = &m->net;
    const clae_layer *L = clae_model_dense(m, l);
    net->update = 0;
    net->probe_W = L->W;
    net->probe_b = L->b;
    net->probe_dW = dW;
    net->probe_db = db;
    clae_status s = run_gradients(m, x, rows);
    if (s == CLAE_OK && dW && L->tie >= 0) {
        /* The shared weight's gradient is in its owner's layout; this layer's W is the transpose. */
        float *t = malloc(L->W->value.n * sizeof *t);
        if (!t) s = clae_fail(CLAE_ERR_NOMEM, "gradients: out of host memory");
        for (size_t i = 0; t && i < L->W->value.n; i++) t[i] = dW[i];
        for (size_t i = 0; t && i < L->out; i++)
            for (size_t j = 0; j < L->in; j++) dW[i * L->in + j] = t[j * L->out + i];
        free(t);
    }
    net->probe_W = net->probe_b = NULL;
    net->probe_dW = net->probe_db = NULL;
    net->update = 1;
    return s;
}

clae_status clae_model_run_param_gradient(clae_model *m, const float *x, size_t rows, const clae_param *P, float *out)
{
    clae_net *net = &m->net;
    net->update = 0;
    net->probe_W = P;
    net->probe_dW = out;
    clae_status s = run_gradients(m, x, rows);
    net->probe_W = NULL;
    net->probe_dW = NULL;
    net->update = 1;
    return s;
}

clae_status clae_model_run_phase_gradient(clae_model *m, const float *x, size_t rows, clae_phase phase, const clae_param *P,
                                          float *out, float *loss)
{
    clae_net *net = &m->net;
    net->update = 0;
    net->probe_W = P;
    net->probe_dW = out;
    net->probe_phase = phase;
    clae_status s = load(m, 1, x, NULL, rows);
    if (s == CLAE_OK) s = forward(m, &net->train, rows, net->n - 1);
    if (s == CLAE_OK) s = clae_model_enter(m, "loss");
    const int seeded = loss && phase == CLAE_PHASE_RECONSTRUCTION;
    if (s == CLAE_OK && seeded) s = loss_enqueue(m, rows, 1);
    if (s == CLAE_OK) s = backward(m, rows, seeded);
    if (s == CLAE_OK) s = adversarial_phases(m, rows);
    if (s == CLAE_OK && loss && phase == CLAE_PHASE_RECONSTRUCTION) s = loss_collect(m, rows, net->steps + 1, loss);
    if (s == CLAE_OK) s = clae_model_pass_end(m);
    net->probe_W = NULL;
    net->probe_dW = NULL;
    net->probe_phase = CLAE_PHASE_RECONSTRUCTION;
    net->phase = CLAE_PHASE_RECONSTRUCTION;
    net->backward_top = net->n - 1;
    net->update = 1;
    return s;
}

clae_status clae_model_run_infer(clae_model *m, const float *x, size_t rows, int upto)
{
    TRY(load(m, 0, x, NULL, rows));
    return forward(m, &m->net.infer, rows, upto);
}

clae_status clae_model_run_decode(clae_model *m, const float *codes, size_t rows)
{
    clae_net_pass *p = &m->net.infer;
    const int code = m->arch.code;
    clae_model_pass_begin(m, 0);
    /* As if the inference pass had just made the code: at its position, the code's buffer is live. */
    m->cursor = m->pass_start + 1 + code;
    TRY(clae_buf_write(m->rt, p->val[code + 1], 0, codes, rows * m->arch.layer[code].out));
    for (int k = code + 1; k < m->net.n; k++) {
        clae_layer *L = &m->net.layer[k];
        TRY(clae_model_enter(m, "infer forward %d", k));
        TRY(L->kind->forward(&m->net, L, p, rows));
    }
    return CLAE_OK;
}

clae_status clae_model_infer_loglik(clae_model *m, size_t rows, double *logp, double *logratio)
{
    clae_net_pass *p = &m->net.infer;
    const int n = m->net.n, code = m->arch.code;
    const clae_layer *out = &m->net.layer[n - 1], *G = &m->net.layer[code];
    const size_t D = m->arch.input, L = G->out;
    if (m->cfg.loss == CLAE_LOSS_BCE && !out->t[0].n)
        return clae_fail(CLAE_ERR_ARG, "log-likelihood: the output layer keeps no logits at inference (a dense output "
                                       "layer is needed)");
    /* log p(x|z): −(bce of the logits), or the Gaussian of σ_x = 1: −(½Σ(x − x̂)² + (D/2)·log 2π). */
    TRY(clae_op_loss_rows(m->rt, m->cfg.loss, out->t[0], p->val[n], p->val[0], rows, D, m->pass[0].row_out));
    TRY(clae_buf_read(m->rt, m->pass[0].row_out, 0, m->row_host, rows));
    /* log N(z; 0, I) − log N(z; μ, σ²) = ½ Σ_l (ε² + s − z²), from the draw's own ε, s and z. */
    float *eps = malloc(3 * rows * L * sizeof *eps);
    if (!eps) return clae_fail(CLAE_ERR_NOMEM, "log-likelihood: out of host memory");
    float *s = eps + rows * L, *z = s + rows * L;
    clae_status st = clae_buf_read(m->rt, G->t[7], 0, eps, rows * L);
    if (st == CLAE_OK) st = clae_buf_read(m->rt, G->t[6], 0, s, rows * L);
    if (st == CLAE_OK) st = clae_buf_read(m->rt, p->val[code + 1], 0, z, rows * L);
    const double c = m->cfg.loss == CLAE_LOSS_BCE ? 0.0 : 0.5 * (double)D * log(2.0 * 3.14159265358979323846);
    for (size_t r = 0; st == CLAE_OK && !m->tracing && logp && r < rows; r++) {
        double ratio = 0.0;
        for (size_t l = 0; l < L; l++) {
            size_t i = r * L + l;
            ratio += 0.5 * ((double)eps[i] * eps[i] + s[i] - (double)z[i] * z[i]);
        }
        logp[r] = -((double)m->row_host[r] + c);
        logratio[r] = ratio;
    }
    free(eps);
    return st;
}

clae_status clae_model_infer_output(clae_model *m, size_t rows, float *err, float *out)
{
    clae_net_pass *p = &m->net.infer;
    const size_t D = m->arch.input;
    const int n = m->net.n;
    TRY(clae_model_enter(m, "infer output"));
    if (err) {
        TRY(clae_op_row_sq_error(m->rt, p->val[n], p->val[0], rows, D, m->pass[0].row_out));
        TRY(clae_buf_read(m->rt, m->pass[0].row_out, 0, err, rows));
        if (!m->tracing)
            for (size_t r = 0; r < rows; r++) err[r] = (float)((double)err[r] / (double)D);
    }
    if (out) TRY(clae_buf_read(m->rt, p->val[n], 0, out, rows * D));
    return clae_model_pass_end(m);
}
