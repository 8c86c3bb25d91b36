/* config.c — model configuration: defaults, the layer-list parser, validation, enum names.
 * Everything here is host-only and shared by the API, the CLI and the tests. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "models/model_internal.h"
#include "runtime/error.h"

static const char *const activation_names[CLAE_ACT_COUNT] = {"linear", "sigmoid", "tanh", "relu"};
static const char *const loss_names[CLAE_LOSS_COUNT] = {"sse", "bce"};
static const char *const optimizer_names[CLAE_OPT_COUNT] = {"sgd", "momentum", "nesterov", "adam",
                                                            "adadelta"};
static const char *const init_names[CLAE_INIT_COUNT] = {"auto", "xavier", "he"};
static const char *const sparsity_names[CLAE_SPARSITY_COUNT] = {"none", "kl", "l1", "l2", "h2o"};
static const char *const noise_names[CLAE_NOISE_COUNT] = {"none", "gaussian", "mask", "saltpepper"};

static const char *name_of(const char *const *names, int count, int value)
{
    return (value >= 0 && value < count) ? names[value] : "unknown";
}

/* Looks `word` up in names (case-insensitive); on failure the message lists the choices. */
static clae_status parse_word(const char *what, const char *const *names, int count, const char *word,
                              int *out)
{
    for (int i = 0; word && i < count; i++) {
        if (strcasecmp(word, names[i]) == 0) {
            *out = i;
            return CLAE_OK;
        }
    }
    clae_fail(CLAE_ERR_ARG, "unknown %s '%s'; expected one of:", what, word ? word : "(null)");
    for (int i = 0; i < count; i++) clae_fail_append(" %s", names[i]);
    return CLAE_ERR_ARG;
}

const char *clae_activation_name(clae_activation a) { return name_of(activation_names, CLAE_ACT_COUNT, (int)a); }
const char *clae_loss_name(clae_loss l) { return name_of(loss_names, CLAE_LOSS_COUNT, (int)l); }
const char *clae_optimizer_name(clae_optimizer o) { return name_of(optimizer_names, CLAE_OPT_COUNT, (int)o); }
const char *clae_init_name(clae_init i) { return name_of(init_names, CLAE_INIT_COUNT, (int)i); }
const char *clae_sparsity_name(clae_sparsity k) { return name_of(sparsity_names, CLAE_SPARSITY_COUNT, (int)k); }
const char *clae_noise_name(clae_noise n) { return name_of(noise_names, CLAE_NOISE_COUNT, (int)n); }

/* One parser per enum: the word's index in its name table. */
#define DEFINE_PARSER(type, fn, label, names, count)                                                \
    clae_status fn(const char *word, type *out)                                                     \
    {                                                                                               \
        int v = 0;                                                                                  \
        if (!out) return clae_fail(CLAE_ERR_ARG, "%s: output is NULL", label);                      \
        clae_status s = parse_word(label, names, count, word, &v);                                  \
        if (s == CLAE_OK) *out = (type)v;                                                           \
        return s;                                                                                   \
    }

DEFINE_PARSER(clae_activation, clae_activation_parse, "activation", activation_names, CLAE_ACT_COUNT)
DEFINE_PARSER(clae_loss, clae_loss_parse, "loss", loss_names, CLAE_LOSS_COUNT)
DEFINE_PARSER(clae_optimizer, clae_optimizer_parse, "optimizer", optimizer_names, CLAE_OPT_COUNT)
DEFINE_PARSER(clae_init, clae_init_parse, "init", init_names, CLAE_INIT_COUNT)
DEFINE_PARSER(clae_sparsity, clae_sparsity_parse, "sparsity", sparsity_names, CLAE_SPARSITY_COUNT)
DEFINE_PARSER(clae_noise, clae_noise_parse, "noise", noise_names, CLAE_NOISE_COUNT)

void clae_model_config_set_activations(clae_model_config *cfg, clae_activation hidden,
                                       clae_activation output)
{
    if (!cfg) return;
    for (int l = 0; l < cfg->n_layers; l++) cfg->activation[l] = (l == cfg->n_layers - 1) ? output : hidden;
}

void clae_model_config_default(clae_model_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    clae_model_config_set_layers(cfg, "784,256,64,256,784");
    clae_model_config_set_activations(cfg, CLAE_ACT_RELU, CLAE_ACT_SIGMOID);
    cfg->loss = CLAE_LOSS_BCE;
    cfg->optimizer = CLAE_OPT_ADAM;
    cfg->init = CLAE_INIT_AUTO;
    cfg->lr = 1e-3f;
    cfg->momentum = 0.9f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->rho = 0.99f;
    cfg->adadelta_eps = 1e-8f;
    cfg->batch = 256;
    cfg->seed = 42;
    /* Variant parameters at their papers' usual values (Ng's ρ 0.05 and β 3, corruption ν 0.25);
     * each variant stays off until asked for. */
    cfg->sparsity_rho = 0.05f;
    cfg->sparsity_beta = 3.0f;
    cfg->sparsity_lambda = 1e-3f;
    cfg->ksparse_alpha = 1.0f;
    cfg->noise_level = 0.25f;
}

clae_status clae_model_config_set_layers(clae_model_config *cfg, const char *list)
{
    int sizes[2 * CLAE_MAX_LAYERS + 2];
    int n = 0;
    const char *p = list;
    if (!cfg) return clae_fail(CLAE_ERR_ARG, "layers: config is NULL");
    if (!list || !*list) return clae_fail(CLAE_ERR_ARG, "layers: empty list; expected e.g. 784,256,64");
    while (*p) {
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v <= 0 || v > 1000000000L || (*end && *end != ',')) {
            return clae_fail(CLAE_ERR_ARG, "layers: entry %d of '%s' is not a positive width", n + 1, list);
        }
        if (n >= CLAE_MAX_LAYERS + 1)
            return clae_fail(CLAE_ERR_ARG, "layers: '%s' has more than %d widths", list, CLAE_MAX_LAYERS + 1);
        sizes[n++] = (int)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) return clae_fail(CLAE_ERR_ARG, "layers: '%s' ends with a comma", list);
    }
    if (n < 2) return clae_fail(CLAE_ERR_ARG, "layers: '%s' needs at least an input and a code width", list);
    /* A list that does not come back to its input width is the encoder half: mirror it. */
    if (sizes[n - 1] != sizes[0]) {
        if (2 * n - 1 > CLAE_MAX_LAYERS + 1)
            return clae_fail(CLAE_ERR_ARG, "layers: '%s' mirrored has more than %d widths", list,
                             CLAE_MAX_LAYERS + 1);
        for (int i = n - 2; i >= 0; i--) sizes[n++] = sizes[i];
    }
    if (n < 3) return clae_fail(CLAE_ERR_ARG, "layers: '%s' has no hidden layer", list);
    clae_activation hidden = cfg->n_layers > 1 ? cfg->activation[0] : CLAE_ACT_RELU;
    clae_activation output = cfg->n_layers > 0 ? cfg->activation[cfg->n_layers - 1] : CLAE_ACT_SIGMOID;
    cfg->n_layers = n - 1;
    for (int i = 0; i < n; i++) cfg->sizes[i] = sizes[i];
    cfg->code_layer = cfg->n_layers / 2;
    /* Keep the previous hidden/output activations for the new depth. */
    clae_model_config_set_activations(cfg, hidden, output);
    return CLAE_OK;
}

static int rate_ok(float v) { return isfinite(v) && v >= 0.0f; }

clae_status clae_model_config_validate_training(const clae_model_config *cfg)
{
    if (!cfg) return clae_fail(CLAE_ERR_ARG, "config: NULL");
    if ((int)cfg->loss < 0 || cfg->loss >= CLAE_LOSS_COUNT) return clae_fail(CLAE_ERR_ARG, "config: unknown loss");
    if ((int)cfg->optimizer < 0 || cfg->optimizer >= CLAE_OPT_COUNT)
        return clae_fail(CLAE_ERR_ARG, "config: unknown optimizer");
    if ((int)cfg->init < 0 || cfg->init >= CLAE_INIT_COUNT) return clae_fail(CLAE_ERR_ARG, "config: unknown init");
    if (cfg->batch < 1) return clae_fail(CLAE_ERR_ARG, "config: batch %d; expected at least 1", cfg->batch);
    if (!rate_ok(cfg->lr) || (cfg->optimizer != CLAE_OPT_ADADELTA && cfg->lr <= 0.0f))
        return clae_fail(CLAE_ERR_ARG, "config: lr %g; expected a positive finite rate", (double)cfg->lr);
    if (!rate_ok(cfg->momentum) || cfg->momentum >= 1.0f)
        return clae_fail(CLAE_ERR_ARG, "config: momentum %g; expected 0 <= momentum < 1", (double)cfg->momentum);
    if (!rate_ok(cfg->beta1) || cfg->beta1 >= 1.0f || !rate_ok(cfg->beta2) || cfg->beta2 >= 1.0f)
        return clae_fail(CLAE_ERR_ARG, "config: Adam betas (%g, %g); expected values in [0, 1)",
                         (double)cfg->beta1, (double)cfg->beta2);
    if (!(cfg->eps > 0.0f) || !(cfg->adadelta_eps > 0.0f) || !rate_ok(cfg->rho) || cfg->rho >= 1.0f)
        return clae_fail(CLAE_ERR_ARG, "config: eps must be > 0 and rho in [0, 1)");
    return CLAE_OK;
}

clae_status clae_model_config_validate(const clae_model_config *cfg)
{
    if (!cfg) return clae_fail(CLAE_ERR_ARG, "config: NULL");
    int M = cfg->n_layers;
    if (M < 1 || M > CLAE_MAX_LAYERS)
        return clae_fail(CLAE_ERR_ARG, "config: n_layers %d out of range 1..%d", M, CLAE_MAX_LAYERS);
    for (int i = 0; i <= M; i++)
        if (cfg->sizes[i] <= 0)
            return clae_fail(CLAE_ERR_ARG, "config: sizes[%d] = %d; expected a positive width", i, cfg->sizes[i]);
    if (cfg->sizes[M] != cfg->sizes[0])
        return clae_fail(CLAE_ERR_ARG, "config: output width %d differs from input width %d", cfg->sizes[M],
                         cfg->sizes[0]);
    if (cfg->code_layer < 1 || cfg->code_layer >= M)
        return clae_fail(CLAE_ERR_ARG, "config: code_layer %d out of range 1..%d", cfg->code_layer, M - 1 < 1 ? 1 : M - 1);
    for (int l = 0; l < M; l++)
        if ((int)cfg->activation[l] < 0 || cfg->activation[l] >= CLAE_ACT_COUNT)
            return clae_fail(CLAE_ERR_ARG, "config: activation[%d] is not a known activation", l);
    if (cfg->loss == CLAE_LOSS_BCE && cfg->activation[M - 1] != CLAE_ACT_SIGMOID)
        return clae_fail(CLAE_ERR_ARG, "config: loss bce needs a sigmoid output activation, not %s",
                         clae_activation_name(cfg->activation[M - 1]));
    clae_status st = clae_model_config_validate_training(cfg);
    if (st != CLAE_OK) return st;
    if ((int)cfg->sparsity < 0 || cfg->sparsity >= CLAE_SPARSITY_COUNT)
        return clae_fail(CLAE_ERR_ARG, "config: unknown sparsity penalty");
    if ((int)cfg->noise < 0 || cfg->noise >= CLAE_NOISE_COUNT) return clae_fail(CLAE_ERR_ARG, "config: unknown noise");
    if (cfg->ksparse_k < 0 || cfg->ksparse_k_start < 0 || cfg->ksparse_schedule_steps < 0)
        return clae_fail(CLAE_ERR_ARG, "config: k-sparse k, k_start and schedule steps must not be negative");
    if (!isfinite(cfg->wta_rate) || cfg->wta_rate < 0.0f || cfg->wta_rate > 1.0f)
        return clae_fail(CLAE_ERR_ARG, "config: wta_rate %g; expected a share of the batch in (0, 1]",
                         (double)cfg->wta_rate);
    if (!rate_ok(cfg->contractive)) return clae_fail(CLAE_ERR_ARG, "config: contractive λ must be >= 0");
    /* The variants are layers and regularizers of the net the fields expand to: checked there, together. */
    clae_arch *a = malloc(sizeof *a);
    if (!a) return clae_fail(CLAE_ERR_NOMEM, "config: out of host memory");
    clae_status s = clae_arch_from_config(cfg, 0, a);
    free(a);
    return s;
}

clae_status clae_model_config_check_data(const clae_model_config *cfg, const clae_dataset *ds)
{
    if (!cfg || !ds) return clae_fail(CLAE_ERR_ARG, "check_data: config or dataset is NULL");
    if (ds->cols != (size_t)cfg->sizes[0])
        return clae_fail(CLAE_ERR_SHAPE,
                         "%s: data has %zu columns but the model's input layer has %d "
                         "(--layers must start with the data width)",
                         ds->path[0] ? ds->path : "(data)", ds->cols, cfg->sizes[0]);
    return CLAE_OK;
}
