/* pretrain.c — greedy pretraining of a deep autoencoder's encoder, layer by layer from the input (README,
 * Pretraining): shallow (denoising) autoencoders or RBMs, their weights then unrolled into the deep net. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model_internal.h"
#include "models/pretrain.h"

static const char *const kind_names[CLAE_PRETRAIN_COUNT] = {"none", "layerwise", "rbm"};

const char *clae_pretrain_name(clae_pretrain_kind k)
{
    return (int)k >= 0 && k < CLAE_PRETRAIN_COUNT ? kind_names[k] : "?";
}

clae_status clae_pretrain_parse(const char *word, clae_pretrain_kind *out)
{
    for (int k = 0; word && out && k < CLAE_PRETRAIN_COUNT; k++)
        if (!strcmp(word, kind_names[k])) {
            *out = (clae_pretrain_kind)k;
            return CLAE_OK;
        }
    return clae_fail(CLAE_ERR_ARG, "pretraining '%s': expected none, layerwise or rbm", word ? word : "(null)");
}

void clae_pretrain_options_default(clae_pretrain_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->kind = CLAE_PRETRAIN_NONE;
    o->epochs = 1;
    o->weight_decay = 2e-4f;
}

/* The deep net as pretraining sees it: M dense layers of widths n_0 … n_M = n_0, symmetric, the code after layer
 * M/2 − 1; the noise layer in front, if any; whether the decoder uses the encoder's weights. */
typedef struct stack {
    int M, half, tied;
    size_t width[CLAE_MAX_LAYERS + 1];
    clae_activation act[CLAE_MAX_LAYERS];
    const clae_layer *noise;
} stack;

static clae_status read_stack(const clae_model *m, clae_pretrain_kind kind, stack *st)
{
    const clae_arch *a = &m->arch;
    memset(st, 0, sizeof *st);
    int code_layer = -1, ties = 0;
    st->width[0] = a->input;
    for (int k = 0; k < a->n; k++) {
        const clae_layer *L = &a->layer[k];
        if (L->kind == &clae_layer_noise && k == 0) {
            st->noise = L;
            continue;
        }
        if (L->kind != &clae_layer_dense)
            return clae_fail(CLAE_ERR_ARG, "pretraining builds the net from dense layers; %s is not one", L->label);
        st->act[st->M] = L->act;
        st->width[++st->M] = L->out;
        if (k == a->code) code_layer = st->M - 1;
        ties += L->tie >= 0;
    }
    const int M = st->M;
    st->half = M / 2;
    if (M < 2 || M % 2)
        return clae_fail(CLAE_ERR_ARG, "pretraining needs an even number of dense layers, the code in the middle; the net "
                                       "has %d", M);
    for (int l = 0; l <= M; l++)
        if (st->width[l] != st->width[M - l])
            return clae_fail(CLAE_ERR_ARG, "pretraining unrolls each encoder layer into its mirror decoder layer, so the "
                                           "widths must be symmetric: %zu against %zu", st->width[l], st->width[M - l]);
    if (code_layer != st->half - 1)
        return clae_fail(CLAE_ERR_ARG, "pretraining needs the code in the middle (after dense layer %d), not after layer %d",
                         st->half - 1, code_layer);
    for (int k = 0, l = 0; k < a->n; k++) {
        const clae_layer *L = &a->layer[k];
        if (L->kind != &clae_layer_dense) continue;
        if (ties && l >= st->half && L->tie != M - 1 - l)
            return clae_fail(CLAE_ERR_ARG, "pretraining a tied net needs every decoder layer tied to its mirror: %s", L->label);
        l++;
    }
    st->tied = ties > 0;
    if (kind != CLAE_PRETRAIN_RBM) return CLAE_OK;
    if (st->noise)
        return clae_fail(CLAE_ERR_ARG, "--pretrain rbm: an RBM does not corrupt its input; drop %s or use --pretrain "
                                       "layerwise (a denoising autoencoder per layer)", st->noise->label);
    for (int l = 0; l < M; l++) {
        const clae_activation f = st->act[l];
        /* Layers 0 … half−2 and their mirrors are Bernoulli units; the code may be linear, and so may the output. */
        const int edge = l == st->half - 1 || l == M - 1;
        if (f != CLAE_ACT_SIGMOID && !(edge && f == CLAE_ACT_LINEAR))
            return clae_fail(CLAE_ERR_ARG, "--pretrain rbm: dense layer %d is %s; RBM pretraining needs sigmoid units (the "
                                           "code and the output may be linear) as Hinton & Salakhutdinov's",
                             l, clae_activation_name(f));
    }
    return CLAE_OK;
}

/* One layer's result, until all are unrolled into the deep net together. */
typedef struct layer_weights {
    float *W_enc, *b_enc, *W_dec, *b_dec; /* out×in, out, in×out (NULL when tied), in */
} layer_weights;

typedef struct pretrain_run {
    clae_model *m;
    const clae_pretrain_options *o;
    clae_pretrain_report r;
    double t0;
    const clae_dataset *data; /* the current layer's input rows */
    clae_model *shallow;      /* layerwise: the current layer's autoencoder */
    float *err;               /* its per-row errors */
    clae_status failed;       /* a callback's failure, which the trainer sees as a stop */
} pretrain_run;

static int report_epoch(pretrain_run *p, uint64_t epoch, double mse)
{
    p->r.epoch = epoch;
    p->r.recon_mse = mse;
    p->r.seconds = clae_now_seconds() - p->t0;
    if (p->o->on_epoch && p->o->on_epoch(&p->r, p->o->user)) p->r.stopped = 1;
    return p->r.stopped;
}

static int rbm_epoch(uint64_t epoch, double mse, void *user) { return report_epoch(user, epoch, mse); }

/* After each epoch of a shallow autoencoder: its reconstruction error of every training row. */
static int shallow_epoch(const clae_train_report *tr, void *user)
{
    pretrain_run *p = user;
    p->failed = clae_model_row_errors(p->shallow, p->data->x, p->data->rows, p->err);
    if (p->failed != CLAE_OK) return 1;
    double sum = 0.0;
    for (size_t i = 0; i < p->data->rows; i++) sum += p->err[i];
    return report_epoch(p, tr->epoch + 1, sum / (double)p->data->rows);
}

/* A data set of rows × cols floats in x (taken over), for the next layer. */
static clae_status codes_dataset(float *x, size_t rows, size_t cols, int layer, clae_dataset **out)
{
    clae_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        free(x);
        return clae_fail(CLAE_ERR_NOMEM, "pretraining: out of host memory");
    }
    d->rows = rows, d->cols = cols, d->x = x, d->format = CLAE_FORMAT_NPY;
    snprintf(d->path, sizeof d->path, "<the codes of pretrained layer %d>", layer);
    *out = d;
    return CLAE_OK;
}

/* Layer l as a shallow autoencoder n_l → n_{l+1} → n_l (denoising when the deep net corrupts its input; tied when
 * it is tied), with the deep layer's activation and its mirror's, trained on the codes of the layer below. */
static clae_status layerwise_one(pretrain_run *p, const stack *st, int l, layer_weights *w, float *next)
{
    const clae_model *m = p->m;
    const size_t in = st->width[l], out = st->width[l + 1];
    char spec[512];
    size_t len = 0;
    clae_appendf(spec, sizeof spec, &len, "%zu", in);
    if (st->noise) {
        char level[32];
        clae_format_float(level, sizeof level, st->noise->farg[0]);
        clae_appendf(spec, sizeof spec, &len, ",noise:%s:%s", clae_noise_name((clae_noise)st->noise->iarg[0]), level);
    }
    clae_appendf(spec, sizeof spec, &len, ",dense:%zu:%s,dense:%zu:%s%s", out, clae_activation_name(st->act[l]), in,
                 clae_activation_name(st->act[st->M - 1 - l]), st->tied ? ":tied=0" : "");
    clae_model_config cfg = m->cfg;
    cfg.seed = m->cfg.seed + (uint64_t)l + 1;
    /* The first layer rebuilds the data with the model's loss; the layers above rebuild codes, not probabilities. */
    if (l > 0) cfg.loss = CLAE_LOSS_SSE;
    if (p->o->lr > 0.0f) cfg.lr = p->o->lr;
    clae_status s = clae_model_create_arch(m->rt, &cfg, spec, 0, &p->shallow);
    if (s == CLAE_OK && st->noise) s = clae_model_fit_feature_stats(p->shallow, p->data);
    if (s != CLAE_OK) return s;
    clae_trainer_options to;
    clae_trainer_options_default(&to);
    to.epochs = p->o->epochs;
    to.on_epoch_end = shallow_epoch;
    to.user = p;
    s = clae_model_train(p->shallow, p->data, &to, NULL);
    if (s == CLAE_OK) s = p->failed;
    if (s == CLAE_OK) s = clae_model_get_layer(p->shallow, 0, w->W_enc, w->b_enc);
    if (s == CLAE_OK) s = clae_model_get_layer(p->shallow, 1, w->W_dec, w->b_dec);
    if (s == CLAE_OK && next) s = clae_model_encode(p->shallow, p->data->x, p->data->rows, next);
    clae_model_destroy(p->shallow);
    p->shallow = NULL;
    return s;
}

/* Layer l as an RBM of n_l visible and n_{l+1} hidden units on the hidden means of the one below: Bernoulli units,
 * but Gaussian visible ones under a linear output and linear hidden ones under a linear code (ε 0.001 there, as
 * for Hinton & Salakhutdinov's top layer); unrolled as W_enc = W, b_enc = c, W_dec = Wᵀ, b_dec = a. */
static clae_status rbm_one(pretrain_run *p, const stack *st, int l, layer_weights *w, float *next)
{
    const clae_model *m = p->m;
    clae_rbm_spec s = {
        .visible = st->width[l], .hidden = st->width[l + 1],
        .visible_units = l == 0 && st->act[st->M - 1] == CLAE_ACT_LINEAR ? CLAE_RBM_GAUSSIAN : CLAE_RBM_BERNOULLI,
        .hidden_units = st->act[l] == CLAE_ACT_LINEAR ? CLAE_RBM_GAUSSIAN : CLAE_RBM_BERNOULLI,
        .batch = (size_t)m->cfg.batch, .seed = m->cfg.seed + (uint64_t)l + 1, .layer = (uint32_t)l,
        .epochs = p->o->epochs, .weight_decay = p->o->weight_decay,
    };
    s.lr = p->o->lr > 0.0f ? p->o->lr : s.hidden_units == CLAE_RBM_GAUSSIAN ? 0.001f : 0.1f;
    int stopped = 0;
    TRY(clae_rbm_train(m->rt, p->data, &s, w->W_enc, w->b_enc, w->b_dec, next, rbm_epoch, p, &stopped));
    if (w->W_dec)
        for (size_t i = 0; i < s.visible; i++)
            for (size_t j = 0; j < s.hidden; j++) w->W_dec[i * s.hidden + j] = w->W_enc[j * s.visible + i];
    return CLAE_OK;
}

static void free_weights(layer_weights *w, int n)
{
    for (int l = 0; l < n; l++) {
        free(w[l].W_enc);
        free(w[l].b_enc);
        free(w[l].W_dec);
        free(w[l].b_dec);
    }
}

static clae_status alloc_weights(const stack *st, int l, layer_weights *w)
{
    const size_t in = st->width[l], out = st->width[l + 1];
    w->W_enc = malloc(in * out * sizeof(float));
    w->b_enc = malloc(out * sizeof(float));
    w->W_dec = st->tied ? NULL : malloc(in * out * sizeof(float));
    w->b_dec = malloc(in * sizeof(float));
    if (!w->W_enc || !w->b_enc || (!st->tied && !w->W_dec) || !w->b_dec)
        return clae_fail(CLAE_ERR_NOMEM, "pretraining: out of host memory for layer %d", l);
    return CLAE_OK;
}

static clae_status pretrain(clae_model *m, const clae_dataset *train, const clae_pretrain_options *o,
                            clae_pretrain_report *report)
{
    TRY(clae_model_check_usable(m, 1, "pretrain"));
    if (!train || !o) return clae_fail(CLAE_ERR_ARG, "pretrain: train data and options must not be NULL");
    if (o->kind <= CLAE_PRETRAIN_NONE || o->kind >= CLAE_PRETRAIN_COUNT)
        return clae_fail(CLAE_ERR_ARG, "pretrain: kind %d; expected layerwise or rbm", (int)o->kind);
    if (!o->epochs || !(o->lr >= 0.0f) || !isfinite(o->lr) || !(o->weight_decay >= 0.0f) || !isfinite(o->weight_decay))
        return clae_fail(CLAE_ERR_ARG, "pretrain: epochs %llu, lr %g, weight decay %g; expected at least 1 epoch and "
                                       "finite rates >= 0", (unsigned long long)o->epochs, (double)o->lr,
                         (double)o->weight_decay);
    TRY(clae_model_config_check_data(&m->cfg, train));
    if (!train->rows) return clae_fail(CLAE_ERR_ARG, "pretrain: %s has no rows", train->path);
    stack st;
    TRY(read_stack(m, o->kind, &st));
    layer_weights w[CLAE_MAX_LAYERS / 2];
    memset(w, 0, sizeof w);
    pretrain_run p = {.m = m, .o = o, .data = train};
    p.r.layers = st.half;
    p.r.epochs = o->epochs;
    p.err = malloc(train->rows * sizeof *p.err);
    clae_dataset *owned = NULL; /* the codes the current layer trains on, from the layer below */
    clae_status s = p.err ? CLAE_OK : clae_fail(CLAE_ERR_NOMEM, "pretraining: out of host memory");
    int done = 0;
    for (int l = 0; s == CLAE_OK && l < st.half && !p.r.stopped; l++) {
        p.r.layer = l;
        p.t0 = clae_now_seconds();
        s = alloc_weights(&st, l, &w[l]);
        float *next = NULL;
        if (s == CLAE_OK && l + 1 < st.half) {
            next = malloc(train->rows * st.width[l + 1] * sizeof *next);
            if (!next) s = clae_fail(CLAE_ERR_NOMEM, "pretraining: out of host memory for the codes of layer %d", l);
        }
        if (s == CLAE_OK) s = o->kind == CLAE_PRETRAIN_RBM ? rbm_one(&p, &st, l, &w[l], next) : layerwise_one(&p, &st, l, &w[l], next);
        if (s == CLAE_OK) done = l + 1;
        clae_dataset_free(owned);
        owned = NULL;
        if (s == CLAE_OK && next) {
            s = codes_dataset(next, train->rows, st.width[l + 1], l, &owned);
            p.data = owned;
        } else {
            free(next);
        }
    }
    /* Unrolled together at the end, so that a failure leaves the model's weights as they were. */
    for (int l = 0; s == CLAE_OK && l < done; l++) {
        s = clae_model_set_layer(m, l, w[l].W_enc, w[l].b_enc);
        if (s == CLAE_OK) s = clae_model_set_layer(m, st.M - 1 - l, w[l].W_dec, w[l].b_dec);
    }
    if (s == CLAE_OK && report) *report = p.r;
    clae_dataset_free(owned);
    free(p.err);
    free_weights(w, st.half);
    return s;
}

clae_status clae_model_pretrain(clae_model *m, const clae_dataset *train, const clae_pretrain_options *o,
                                clae_pretrain_report *report)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "pretrain: model is NULL");
    return clae_model_record(m, pretrain(m, train, o, report));
}
