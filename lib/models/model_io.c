/* model_io.c — model files and checkpoints: the model's persistent tensors under their plan names
 * in safetensors, with the configuration in the metadata so a file rebuilds its model alone. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "models/model_internal.h"

#define FORMAT_MODEL "clae-model-1"
#define FORMAT_CHECKPOINT "clae-checkpoint-1"

static clae_status model_fail(clae_model *m, clae_status s)
{
    if (s != CLAE_OK) {
        clae_error_copy_to(m->error);
        clae_rt_fail(m->rt, s);
    }
    return s;
}

/* Parameters are "layers.*"; checkpoints add every other persistent tensor. */
static int is_persistent(const clae_model *m, int i)
{
    const clae_plan_tensor *t = &m->plan.tensors[i];
    return t->bytes && t->persistent;
}

/* clae_fail formats into the buffer clae_last_error() returns: copy the cause first. */
static clae_status fail_with_cause(clae_status st, const char *path, const char *what)
{
    char cause[1024];
    snprintf(cause, sizeof cause, "%s", clae_last_error());
    return clae_fail(st, "%s: %s: %s", path, what, cause);
}

static int is_parameter(const clae_model *m, int i) { return strncmp(m->plan.tensors[i].name, "layers.", 7) == 0; }

/* The shape a persistent tensor is stored with: a weight and its optimizer state ("adam.m.layers.0.weight")
 * as out×in, the rest 1-D. */
static int tensor_shape(const clae_model *m, int i, size_t shape[2])
{
    const char *name = m->plan.tensors[i].name;
    size_t len = strlen(name);
    for (int k = 0; k < m->net.n_params; k++) {
        const clae_param *p = &m->net.param[k];
        size_t pl = strlen(p->name);
        if (p->rows < 2 || pl > len || strcmp(name + len - pl, p->name) || (pl < len && name[len - pl - 1] != '.')) continue;
        shape[0] = p->rows;
        shape[1] = p->cols;
        return 2;
    }
    shape[0] = m->plan.tensors[i].bytes / sizeof(float);
    return 1;
}

/* ---- tensors by name ------------------------------------------------------------------------ */

/* The plan index of a persistent tensor called name; CLAE_ERR_ARG naming it otherwise. */
static clae_status find_tensor(const clae_model *m, const char *name, const char *op, int *out)
{
    for (int i = 0; i < m->plan.n; i++) {
        if (strcmp(m->plan.tensors[i].name, name) != 0) continue;
        if (!is_persistent(m, i))
            return clae_fail(CLAE_ERR_ARG, "%s: tensor '%s' is transient (it lives only within a step, sharing "
                                           "memory with others)", op, name);
        *out = i;
        return CLAE_OK;
    }
    return clae_fail(CLAE_ERR_ARG, "%s: the model has no tensor '%s' (clae_model_plan_entry lists them)", op, name);
}

clae_status clae_model_tensor_info(const clae_model *m, const char *name, int *ndim, size_t shape[2])
{
    if (!m || !name || !ndim || !shape) return clae_fail(CLAE_ERR_ARG, "tensor_info: no argument may be NULL");
    if (m->flags & CLAE_MODEL_PLAN_ONLY) return clae_fail(CLAE_ERR_ARG, "tensor_info: the model has no memory (PLAN_ONLY)");
    int i;
    TRY(find_tensor(m, name, "tensor_info", &i));
    shape[1] = 1;
    *ndim = tensor_shape(m, i, shape);
    return CLAE_OK;
}

/* The element count of tensor i, checked against the caller's. */
static clae_status tensor_count(const clae_model *m, int i, size_t count, const char *op)
{
    size_t n = m->plan.tensors[i].bytes / sizeof(float);
    if (count != n)
        return clae_fail(CLAE_ERR_SHAPE, "%s: tensor '%s' holds %zu floats, the caller gave %zu", op,
                         m->plan.tensors[i].name, n, count);
    return CLAE_OK;
}

clae_status clae_model_tensor_get(clae_model *m, const char *name, float *out, size_t count)
{
    if (!m || !name || !out) return clae_fail(CLAE_ERR_ARG, "tensor_get: model, name and out must not be NULL");
    if (m->flags & CLAE_MODEL_PLAN_ONLY) return clae_fail(CLAE_ERR_ARG, "tensor_get: the model has no memory (PLAN_ONLY)");
    int i;
    clae_status s = find_tensor(m, name, "tensor_get", &i);
    if (s == CLAE_OK) s = tensor_count(m, i, count, "tensor_get");
    if (s == CLAE_OK) s = clae_buf_read(m->rt, *m->plan_dst[i], 0, out, count);
    return model_fail(m, s);
}

clae_status clae_model_tensor_set(clae_model *m, const char *name, const float *in, size_t count)
{
    if (!m || !name || !in) return clae_fail(CLAE_ERR_ARG, "tensor_set: model, name and in must not be NULL");
    if (m->flags & CLAE_MODEL_PLAN_ONLY) return clae_fail(CLAE_ERR_ARG, "tensor_set: the model has no memory (PLAN_ONLY)");
    int i;
    clae_status s = find_tensor(m, name, "tensor_set", &i);
    if (s == CLAE_OK) s = tensor_count(m, i, count, "tensor_set");
    for (size_t k = 0; s == CLAE_OK && k < count; k++)
        if (!isfinite(in[k]))
            s = clae_fail(CLAE_ERR_ARG, "tensor_set: %s[%zu] is %g; expected a finite value", name, k, (double)in[k]);
    if (s == CLAE_OK) s = clae_buf_write(m->rt, *m->plan_dst[i], 0, in, count);
    if (s == CLAE_OK) s = clae_rt_finish(m->rt);
    return model_fail(m, s);
}

/* Tensor i of the plan into *host (grown to fit; the caller frees it), and in *bad the index of its first
 * non-finite value (its length when there is none). */
static clae_status read_tensor(clae_model *m, int i, float **host, size_t *bad)
{
    const size_t n = m->plan.tensors[i].bytes / sizeof(float);
    float *grown = realloc(*host, n * sizeof *grown);
    if (!grown) return clae_fail(CLAE_ERR_NOMEM, "out of host memory for tensor '%s'", m->plan.tensors[i].name);
    *host = grown;
    TRY(clae_buf_read(m->rt, *m->plan_dst[i], 0, grown, n));
    for (*bad = 0; *bad < n && isfinite(grown[*bad]); ++*bad) {}
    return CLAE_OK;
}

/* ---- configuration <-> metadata ------------------------------------------------------------ */

static clae_status meta_set(clae_st_writer *w, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static clae_status meta_set(clae_st_writer *w, const char *key, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return clae_st_writer_set_meta(w, key, value);
}

/* Floats as %.9g read back exactly. The net is its spec string ("arch"); "layers" and "variant" are
 * there for people and other tools reading the header. */
static clae_status write_config(clae_st_writer *w, const clae_model *m)
{
    const clae_model_config *c = &m->cfg;
    char list[1024] = "", desc[256];
    size_t len = 0;
    for (int i = 0; i <= c->n_layers; i++) len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", c->sizes[i]);
    clae_model_describe(m, desc, sizeof desc);
    TRY(meta_set(w, "clae_version", "%s", CLAE_VERSION_STRING));
    TRY(meta_set(w, "arch", "%s", m->spec));
    TRY(meta_set(w, "layers", "%s", list));
    TRY(meta_set(w, "loss", "%s", clae_loss_name(c->loss)));
    TRY(meta_set(w, "optimizer", "%s", clae_optimizer_name(c->optimizer)));
    TRY(meta_set(w, "init", "%s", clae_init_name(c->init)));
    TRY(meta_set(w, "lr", "%.9g", (double)c->lr));
    TRY(meta_set(w, "momentum", "%.9g", (double)c->momentum));
    TRY(meta_set(w, "beta1", "%.9g", (double)c->beta1));
    TRY(meta_set(w, "beta2", "%.9g", (double)c->beta2));
    TRY(meta_set(w, "eps", "%.9g", (double)c->eps));
    TRY(meta_set(w, "rho", "%.9g", (double)c->rho));
    TRY(meta_set(w, "adadelta_eps", "%.9g", (double)c->adadelta_eps));
    TRY(meta_set(w, "batch", "%d", c->batch));
    TRY(meta_set(w, "seed", "%llu", (unsigned long long)c->seed));
    TRY(meta_set(w, "steps", "%llu", (unsigned long long)m->net.steps));
    return meta_set(w, "variant", "%s", desc);
}

static clae_status meta_word(const clae_st_file *f, const char *key, const char **out)
{
    *out = clae_st_meta(f, key);
    if (!*out) return clae_fail(CLAE_ERR_FORMAT, "%s: metadata field '%s' is missing", clae_st_path(f), key);
    return CLAE_OK;
}

static clae_status meta_float(const clae_st_file *f, const char *key, float *out)
{
    double v;
    TRY(clae_st_meta_double(f, key, &v));
    *out = (float)v;
    return CLAE_OK;
}

static clae_status meta_int(const clae_st_file *f, const char *key, int *out)
{
    uint64_t v;
    TRY(clae_st_meta_u64(f, key, &v));
    if (v > 1000000000ULL) return clae_fail(CLAE_ERR_FORMAT, "%s: metadata field '%s' = %llu is out of range",
                                            clae_st_path(f), key, (unsigned long long)v);
    *out = (int)v;
    return CLAE_OK;
}

/* Parses word with parse(); a failure names the file and field. */
#define META_ENUM(f, key, parse, dst)                                                               \
    do {                                                                                            \
        const char *w_;                                                                             \
        TRY(meta_word((f), (key), &w_));                                                            \
        if (parse(w_, (dst)) != CLAE_OK)                                                            \
            return clae_fail(CLAE_ERR_FORMAT, "%s: metadata field '%s' = '%s' is not a known value", \
                             clae_st_path(f), (key), w_);                                           \
    } while (0)

/* The training hyperparameters, in every version's files. */
static clae_status read_training(const clae_st_file *f, clae_model_config *c, uint64_t *steps)
{
    META_ENUM(f, "loss", clae_loss_parse, &c->loss);
    META_ENUM(f, "optimizer", clae_optimizer_parse, &c->optimizer);
    META_ENUM(f, "init", clae_init_parse, &c->init);
    TRY(meta_float(f, "lr", &c->lr));
    TRY(meta_float(f, "momentum", &c->momentum));
    TRY(meta_float(f, "beta1", &c->beta1));
    TRY(meta_float(f, "beta2", &c->beta2));
    TRY(meta_float(f, "eps", &c->eps));
    TRY(meta_float(f, "rho", &c->rho));
    TRY(meta_float(f, "adadelta_eps", &c->adadelta_eps));
    TRY(meta_int(f, "batch", &c->batch));
    TRY(clae_st_meta_u64(f, "seed", &c->seed));
    return clae_st_meta_u64(f, "steps", steps);
}

/* Files before the spec string: one field per configuration member. */
static clae_status read_fields(const clae_st_file *f, clae_model_config *c)
{
    const char *layers, *acts;
    TRY(meta_word(f, "layers", &layers));
    if (clae_model_config_set_layers(c, layers) != CLAE_OK)
        return clae_fail(CLAE_ERR_FORMAT, "%s: metadata field 'layers' = '%s' is not a layer list", clae_st_path(f), layers);
    TRY(meta_word(f, "activations", &acts));
    const char *p = acts;
    for (int l = 0; l < c->n_layers; l++) {
        char word[32];
        size_t n = strcspn(p, ",");
        if (!n || n >= sizeof word)
            return clae_fail(CLAE_ERR_FORMAT, "%s: metadata field 'activations' = '%s' does not list %d activations",
                             clae_st_path(f), acts, c->n_layers);
        memcpy(word, p, n);
        word[n] = '\0';
        if (clae_activation_parse(word, &c->activation[l]) != CLAE_OK)
            return clae_fail(CLAE_ERR_FORMAT, "%s: metadata field 'activations': '%s' is not an activation",
                             clae_st_path(f), word);
        p += n + (p[n] == ',');
    }
    TRY(meta_int(f, "code_layer", &c->code_layer));
    META_ENUM(f, "sparsity", clae_sparsity_parse, &c->sparsity);
    TRY(meta_float(f, "sparsity_rho", &c->sparsity_rho));
    TRY(meta_float(f, "sparsity_beta", &c->sparsity_beta));
    TRY(meta_float(f, "sparsity_lambda", &c->sparsity_lambda));
    TRY(meta_int(f, "ksparse_k", &c->ksparse_k));
    TRY(meta_float(f, "ksparse_alpha", &c->ksparse_alpha));
    TRY(meta_int(f, "ksparse_k_start", &c->ksparse_k_start));
    TRY(meta_int(f, "ksparse_schedule_steps", &c->ksparse_schedule_steps));
    TRY(meta_float(f, "wta_rate", &c->wta_rate));
    META_ENUM(f, "noise", clae_noise_parse, &c->noise);
    TRY(meta_float(f, "noise_level", &c->noise_level));
    TRY(meta_float(f, "contractive", &c->contractive));
    return CLAE_OK;
}

/* The configuration (and, into spec when non-NULL, CLAE_SPEC_MAX bytes, the net's spec string: "" for an
 * old file, whose net is the configuration's). */
static clae_status read_config_spec(const clae_st_file *f, clae_model_config *c, uint64_t *steps, char *spec)
{
    const char *fmt = clae_st_meta(f, "format");
    if (!fmt && clae_st_find(f, "layers.0.weight"))
        return clae_fail(CLAE_ERR_FORMAT,
                         "%s: weights only, without clae's metadata (as safetensors.torch.save_file writes): give "
                         "the architecture (clae: --layers, --activation, --output-activation; the library: "
                         "clae_model_import)",
                         clae_st_path(f));
    if (!fmt || (strcmp(fmt, FORMAT_MODEL) && strcmp(fmt, FORMAT_CHECKPOINT)))
        return clae_fail(CLAE_ERR_FORMAT, "%s: not a clae model file (metadata 'format' is %s%s%s; expected %s or %s)",
                         clae_st_path(f), fmt ? "'" : "", fmt ? fmt : "missing", fmt ? "'" : "", FORMAT_MODEL,
                         FORMAT_CHECKPOINT);
    clae_model_config_default(c);
    TRY(read_training(f, c, steps));
    const char *arch = clae_st_meta(f, "arch");
    if (spec) spec[0] = '\0';
    if (arch) {
        clae_arch *a = malloc(sizeof *a);
        if (!a) return clae_fail(CLAE_ERR_NOMEM, "%s: out of host memory", clae_st_path(f));
        clae_status s = clae_arch_parse(arch, a);
        if (s == CLAE_OK) clae_arch_to_config(a, c);
        free(a);
        if (s != CLAE_OK) return fail_with_cause(CLAE_ERR_FORMAT, clae_st_path(f), "metadata field 'arch' is not valid");
        if (spec) snprintf(spec, CLAE_SPEC_MAX, "%s", arch);
        if (clae_model_config_validate_training(c) != CLAE_OK)
            return fail_with_cause(CLAE_ERR_FORMAT, clae_st_path(f), "the recorded configuration is not valid");
        return CLAE_OK;
    }
    TRY(read_fields(f, c));
    if (clae_model_config_validate(c) != CLAE_OK)
        return fail_with_cause(CLAE_ERR_FORMAT, clae_st_path(f), "the recorded configuration is not valid");
    return CLAE_OK;
}

static clae_status read_config(const clae_st_file *f, clae_model_config *c, uint64_t *steps)
{
    return read_config_spec(f, c, steps, NULL);
}

/* ---- writing --------------------------------------------------------------------------------- */

static clae_status add_scaling(clae_st_writer *w, const clae_scaling *sc)
{
    clae_scale_kind kind = sc ? sc->kind : CLAE_SCALE_NONE;
    TRY(clae_st_writer_set_meta(w, "scaling", clae_scale_kind_name(kind)));
    if (kind == CLAE_SCALE_NONE) return CLAE_OK;
    size_t shape[1] = {sc->cols};
    TRY(clae_st_writer_add_f32(w, "scaling.offset", sc->offset, 1, shape));
    return clae_st_writer_add_f32(w, "scaling.scale", sc->scale, 1, shape);
}

/* Writes the persistent tensors (all of them, or the parameters alone). */
static clae_status save_file(clae_model *m, const char *path, int checkpoint, const clae_train_position *pos,
                             const clae_scaling *sc)
{
    if (!path) return clae_fail(CLAE_ERR_ARG, "save: path is NULL");
    if (m->flags & CLAE_MODEL_PLAN_ONLY) return clae_fail(CLAE_ERR_ARG, "save: the model has no memory (PLAN_ONLY)");
    if (sc && sc->kind != CLAE_SCALE_NONE && sc->cols != m->arch.input)
        return clae_fail(CLAE_ERR_SHAPE, "save %s: the scaling has %zu columns but the model's input has %zu", path,
                         sc->cols, m->arch.input);
    clae_st_writer *w = NULL;
    TRY(clae_st_writer_create(&w));
    clae_status s = clae_st_writer_set_meta(w, "format", checkpoint ? FORMAT_CHECKPOINT : FORMAT_MODEL);
    if (s == CLAE_OK) s = write_config(w, m);
    if (s == CLAE_OK && checkpoint) s = meta_set(w, "epoch", "%llu", (unsigned long long)(pos ? pos->epoch : 0));
    if (s == CLAE_OK && checkpoint)
        s = meta_set(w, "step_in_epoch", "%llu", (unsigned long long)(pos ? pos->step_in_epoch : 0));
    float *host = NULL;
    for (int i = 0; s == CLAE_OK && i < m->plan.n; i++) {
        if (!is_persistent(m, i) || (!checkpoint && !is_parameter(m, i))) continue;
        size_t n = m->plan.tensors[i].bytes / sizeof(float), shape[2];
        int ndim = tensor_shape(m, i, shape);
        size_t bad;
        s = read_tensor(m, i, &host, &bad);
        /* A diverged run must not replace a good file with NaNs. */
        if (s == CLAE_OK && bad < n)
            s = clae_fail(CLAE_ERR_NUMERIC,
                          "save %s: tensor '%s' holds a non-finite value (%g at index %zu): the weights "
                          "diverged, so nothing was written",
                          path, m->plan.tensors[i].name, (double)host[bad], bad);
        if (s == CLAE_OK) s = clae_st_writer_add_f32(w, m->plan.tensors[i].name, host, ndim, shape);
    }
    free(host);
    if (s == CLAE_OK) s = add_scaling(w, sc);
    if (s == CLAE_OK) s = clae_st_writer_save(w, path);
    clae_st_writer_free(w);
    return s;
}

clae_status clae_model_check_finite(clae_model *m, const char *when)
{
    clae_status s = CLAE_OK;
    float *host = NULL;
    for (int i = 0; s == CLAE_OK && i < m->plan.n; i++) {
        if (!is_persistent(m, i)) continue;
        size_t bad;
        s = read_tensor(m, i, &host, &bad);
        if (s == CLAE_OK && bad < m->plan.tensors[i].bytes / sizeof(float))
            s = clae_fail(CLAE_ERR_NUMERIC, "tensor '%s' holds a non-finite value (%g at index %zu) %s: training "
                          "stopped", m->plan.tensors[i].name, (double)host[bad], bad, when);
    }
    free(host);
    return s;
}

clae_status clae_model_save(clae_model *m, const char *path, const clae_scaling *scaling)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "save: model is NULL");
    return model_fail(m, save_file(m, path, 0, NULL, scaling));
}

clae_status clae_model_save_checkpoint(clae_model *m, const char *path, const clae_train_position *pos,
                                       const clae_scaling *scaling)
{
    if (!m) return clae_fail(CLAE_ERR_ARG, "save_checkpoint: model is NULL");
    if (m->flags & CLAE_MODEL_INFERENCE)
        return model_fail(m, clae_fail(CLAE_ERR_ARG, "save_checkpoint: an inference-only model has no training state"));
    return model_fail(m, save_file(m, path, 1, pos, scaling));
}

/* ---- reading --------------------------------------------------------------------------------- */

/* A file without clae's "format" but with "layers.0.weight": weights from elsewhere. */
static int weights_only(const clae_st_file *f) { return !clae_st_meta(f, "format") && clae_st_find(f, "layers.0.weight"); }

clae_status clae_model_file_kind(const char *path, clae_file_kind *out)
{
    if (!path || !out) return clae_fail(CLAE_ERR_ARG, "file_kind: path and out must not be NULL");
    *out = CLAE_FILE_OTHER;
    clae_st_file *f = NULL;
    TRY(clae_st_open_header(path, &f));
    const char *fmt = clae_st_meta(f, "format");
    if (fmt && !strcmp(fmt, FORMAT_MODEL)) *out = CLAE_FILE_MODEL;
    else if (fmt && !strcmp(fmt, FORMAT_CHECKPOINT)) *out = CLAE_FILE_CHECKPOINT;
    else if (weights_only(f)) *out = CLAE_FILE_WEIGHTS;
    clae_st_close(f);
    return CLAE_OK;
}

clae_status clae_model_read_config(const char *path, clae_model_config *out)
{
    if (!path || !out) return clae_fail(CLAE_ERR_ARG, "read_config: path and out must not be NULL");
    clae_st_file *f = NULL;
    uint64_t steps = 0;
    TRY(clae_st_open_header(path, &f));
    clae_status s = read_config(f, out, &steps);
    clae_st_close(f);
    return s;
}

clae_status clae_model_config_from_weights(const char *path, clae_model_config *cfg)
{
    if (!path || !cfg) return clae_fail(CLAE_ERR_ARG, "config_from_weights: path and cfg must not be NULL");
    if (cfg->n_layers < 1 || cfg->n_layers > CLAE_MAX_LAYERS)
        return clae_fail(CLAE_ERR_ARG, "config_from_weights: cfg has %d layers; start from clae_model_config_default",
                         cfg->n_layers);
    const clae_activation hidden = cfg->activation[0], output = cfg->activation[cfg->n_layers - 1];
    clae_st_file *f = NULL;
    TRY(clae_st_open_header(path, &f));
    clae_status s = CLAE_OK;
    int sizes[CLAE_MAX_LAYERS + 1], M = 0;
    for (;; M++) {
        char name[48];
        snprintf(name, sizeof name, "layers.%d.weight", M);
        const clae_st_tensor *t = clae_st_find(f, name);
        if (!t) break;
        if (M == CLAE_MAX_LAYERS) {
            s = clae_fail(CLAE_ERR_FORMAT, "%s: more than %d dense layers (layers.%d.weight)", path, CLAE_MAX_LAYERS, M);
            break;
        }
        if (t->ndim != 2 || t->shape[0] == 0 || t->shape[1] == 0 || t->shape[0] > 1000000000u ||
            t->shape[1] > 1000000000u) {
            s = clae_fail(CLAE_ERR_SHAPE, "%s: tensor '%s' is not a non-empty out x in matrix (torch.nn.Linear's "
                                          "weight layout)", path, name);
            break;
        }
        if (M == 0) sizes[0] = (int)t->shape[1];
        else if ((size_t)sizes[M] != t->shape[1]) {
            s = clae_fail(CLAE_ERR_SHAPE, "%s: tensor '%s' takes %zu inputs but layers.%d.weight gives %d outputs", path,
                          name, t->shape[1], M - 1, sizes[M]);
            break;
        }
        sizes[M + 1] = (int)t->shape[0];
    }
    clae_st_close(f);
    if (s != CLAE_OK) return s;
    if (M == 0) return clae_fail(CLAE_ERR_FORMAT, "%s: no tensor 'layers.0.weight': not a dense model's weights", path);
    cfg->n_layers = M;
    memcpy(cfg->sizes, sizes, (size_t)(M + 1) * sizeof *sizes);
    cfg->code_layer = M / 2 > 0 ? M / 2 : 1;
    clae_model_config_set_activations(cfg, hidden, output);
    return CLAE_OK;
}

clae_status clae_model_import(clae_runtime *rt, const char *path, const clae_model_config *cfg, unsigned flags,
                              clae_model **out)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "import: out is NULL");
    *out = NULL;
    if (!rt || !path || !cfg) return clae_fail(CLAE_ERR_ARG, "import: runtime, path and cfg must not be NULL");
    clae_model *m = NULL;
    TRY(clae_model_create_ex(rt, cfg, flags & ~CLAE_MODEL_PLAN_ONLY, &m));
    clae_status s = clae_model_load_weights(m, path);
    if (s != CLAE_OK) {
        clae_model_destroy(m);
        return s;
    }
    *out = m;
    return CLAE_OK;
}

/* Copies every persistent tensor of m found in f (parameters only, or all)
 * after checking its shape; a tensor m needs but f lacks is an error. */
static clae_status restore_tensors(clae_model *m, const clae_st_file *f, int all)
{
    for (int i = 0; i < m->plan.n; i++) {
        if (!is_persistent(m, i) || (!all && !is_parameter(m, i))) continue;
        size_t shape[2];
        int ndim = tensor_shape(m, i, shape);
        const float *data;
        if (!clae_st_find(f, m->plan.tensors[i].name))
            return clae_fail(CLAE_ERR_FORMAT, "%s: tensor '%s' is missing%s", clae_st_path(f), m->plan.tensors[i].name,
                             all && !is_parameter(m, i) ? " (is the file a checkpoint of this configuration?)" : "");
        TRY(clae_st_get_f32(f, m->plan.tensors[i].name, ndim, shape, &data));
        TRY(clae_buf_write(m->rt, *m->plan_dst[i], 0, data, m->plan.tensors[i].bytes / sizeof(float)));
    }
    return clae_rt_finish(m->rt);
}

static clae_status read_scaling(const clae_st_file *f, size_t cols, clae_scaling *out)
{
    memset(out, 0, sizeof *out);
    clae_scale_kind kind = CLAE_SCALE_NONE;
    const char *word = clae_st_meta(f, "scaling");
    if (word && clae_scale_kind_parse(word, &kind) != CLAE_OK)
        return clae_fail(CLAE_ERR_FORMAT, "%s: metadata field 'scaling' = '%s' is not a scaling", clae_st_path(f), word);
    if (kind == CLAE_SCALE_NONE) return CLAE_OK;
    const float *offset, *scale;
    size_t shape[1] = {cols};
    TRY(clae_st_get_f32(f, "scaling.offset", 1, shape, &offset));
    TRY(clae_st_get_f32(f, "scaling.scale", 1, shape, &scale));
    clae_status s = clae_scaling_set(kind, cols, offset, scale, out);
    if (s != CLAE_OK) return fail_with_cause(CLAE_ERR_FORMAT, clae_st_path(f), "stored scaling is not valid");
    return CLAE_OK;
}

clae_status clae_model_load(clae_runtime *rt, const char *path, unsigned flags, int batch, clae_model **out,
                            clae_scaling *scaling)
{
    if (!out) return clae_fail(CLAE_ERR_ARG, "load: out is NULL");
    *out = NULL;
    if (scaling) memset(scaling, 0, sizeof *scaling);
    if (!rt || !path) return clae_fail(CLAE_ERR_ARG, "load: runtime and path must not be NULL");
    clae_st_file *f = NULL;
    clae_model_config cfg;
    uint64_t steps = 0;
    clae_model *m = NULL;
    char *spec = malloc(CLAE_SPEC_MAX);
    if (!spec) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "load: out of host memory"));
    clae_status s = clae_st_open(path, &f);
    if (s == CLAE_OK) s = read_config_spec(f, &cfg, &steps, spec);
    if (s == CLAE_OK && batch > 0) cfg.batch = batch;
    if (s == CLAE_OK) s = spec[0] ? clae_model_create_arch(rt, &cfg, spec, flags, &m) : clae_model_create_ex(rt, &cfg, flags, &m);
    free(spec);
    if (s == CLAE_OK && !(flags & CLAE_MODEL_PLAN_ONLY)) s = restore_tensors(m, f, 0);
    if (s == CLAE_OK && scaling) s = read_scaling(f, (size_t)cfg.sizes[0], scaling);
    if (s == CLAE_OK) m->net.steps = steps;
    clae_st_close(f);
    if (s != CLAE_OK) {
        clae_model_destroy(m);
        if (scaling) clae_scaling_free(scaling);
        return clae_rt_fail(rt, s);
    }
    *out = m;
    return CLAE_OK;
}

clae_status clae_model_load_weights(clae_model *m, const char *path)
{
    if (!m || !path) return clae_fail(CLAE_ERR_ARG, "load_weights: model and path must not be NULL");
    clae_st_file *f = NULL;
    clae_status s = clae_st_open(path, &f);
    if (s == CLAE_OK) s = restore_tensors(m, f, 0);
    clae_st_close(f);
    return model_fail(m, s);
}

clae_status clae_model_restore_checkpoint(clae_model *m, const char *path, clae_train_position *pos)
{
    if (!m || !path) return clae_fail(CLAE_ERR_ARG, "restore_checkpoint: model and path must not be NULL");
    if (m->flags & (CLAE_MODEL_INFERENCE | CLAE_MODEL_PLAN_ONLY))
        return model_fail(m, clae_fail(CLAE_ERR_ARG, "restore_checkpoint: an inference-only or plan-only model has no "
                                                     "training state to restore"));
    clae_st_file *f = NULL;
    clae_status s = clae_st_open(path, &f);
    const char *fmt = s == CLAE_OK ? clae_st_meta(f, "format") : NULL;
    if (s == CLAE_OK && (!fmt || strcmp(fmt, FORMAT_CHECKPOINT)))
        s = clae_fail(CLAE_ERR_FORMAT, "%s: not a clae checkpoint (metadata 'format' is '%s'; expected %s)", path,
                      fmt ? fmt : "missing", FORMAT_CHECKPOINT);
    uint64_t steps = 0, epoch = 0, in_epoch = 0;
    if (s == CLAE_OK) s = clae_st_meta_u64(f, "steps", &steps);
    if (s == CLAE_OK) s = clae_st_meta_u64(f, "epoch", &epoch);
    if (s == CLAE_OK) s = clae_st_meta_u64(f, "step_in_epoch", &in_epoch);
    if (s == CLAE_OK) s = restore_tensors(m, f, 1);
    clae_st_close(f);
    if (s != CLAE_OK) return model_fail(m, s);
    m->net.steps = steps;
    if (pos) {
        pos->epoch = epoch;
        pos->step_in_epoch = in_epoch;
    }
    return CLAE_OK;
}
