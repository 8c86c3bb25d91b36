/* clae_model_opts.c — the model flags every model-building subcommand shares (train, plan, …):
 * parsed once here so --layers, --loss, --batch and the variant flags mean the same everywhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clae_cli.h"

#define MAX_BATCH (1L << 30)

void cli_model_opts_init(cli_model_opts *o)
{
    memset(o, 0, sizeof *o);
    clae_model_config_default(&o->cfg);
    o->hidden = o->cfg.activation[0];
    o->output = o->cfg.activation[o->cfg.n_layers - 1];
    o->batch = o->cfg.batch;
    o->lr = o->cfg.lr;
    o->vae_beta = 1.0f;
}

/* A float flag value within [lo, hi]; 0 on success. */
static int parse_float(cli_args *a, double lo, double hi, float *out)
{
    char *end = NULL;
    double v = strtod(a->value, &end);
    if (end == a->value || *end || !isfinite(v) || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' is not a number in [%g, %g]", a->value, lo, hi);
        cli_bad_value(a, msg);
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* --wta-rate P: a percent of the batch, "5" or "5%", in [1, 100]. Below 1 is most likely a
 * fraction meant as a share (0.05 for 5%), so it is refused with the percent it would be. */
static void parse_wta_rate(cli_args *a, cli_model_opts *o)
{
    char *end = NULL;
    double pct = strtod(a->value, &end);
    int percent_sign = end != a->value && *end == '%';
    end += percent_sign;
    if (end == a->value || *end || !isfinite(pct) || pct <= 0.0 || (percent_sign && pct < 1.0) || pct > 100.0) {
        cli_bad_value(a, "expected a percent of the batch in [1, 100], e.g. 5 or 5%");
        return;
    }
    if (pct < 1.0) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s is a percent of the batch, in [1, 100]; did you mean %g (%g%%)?", a->value,
                 pct * 100.0, pct * 100.0);
        cli_bad_value(a, msg);
        return;
    }
    /* One rounding, P/100 to the nearest float, whose shortest decimal is then P/100 as written
     * (the winner count in lib/models/variant_select.c counts from that decimal). */
    o->cfg.wta_rate = (float)(pct / 100.0);
}

/* KIND:VALUE, e.g. mask:0.25 or gaussian:0.1. */
static void parse_noise(cli_args *a, cli_model_opts *o)
{
    char kind[32];
    const char *colon = strchr(a->value, ':');
    size_t n = colon ? (size_t)(colon - a->value) : strlen(a->value);
    if (!colon || n >= sizeof kind) {
        cli_bad_value(a, "expected KIND:VALUE, e.g. gaussian:0.1, mask:0.25 or saltpepper:0.1");
        return;
    }
    memcpy(kind, a->value, n);
    kind[n] = '\0';
    if (clae_noise_parse(kind, &o->cfg.noise) != CLAE_OK || o->cfg.noise == CLAE_NOISE_NONE) {
        cli_bad_value(a, "expected KIND:VALUE with KIND one of gaussian, mask, saltpepper");
        return;
    }
    const char *saved = a->value;
    a->value = colon + 1;
    parse_float(a, 0.0, o->cfg.noise == CLAE_NOISE_GAUSSIAN ? 1e6 : 1.0, &o->cfg.noise_level);
    a->value = saved;
}

/* K0:STEPS for the k-sparse schedule. */
static void parse_schedule(cli_args *a, cli_model_opts *o)
{
    long k0 = 0, steps = 0;
    char tail = 0;
    if (sscanf(a->value, "%ld:%ld%c", &k0, &steps, &tail) != 2 || k0 < 1 || steps < 1 || k0 > (1L << 30) ||
        steps > (1L << 30)) {
        cli_bad_value(a, "expected K0:STEPS with positive integers, e.g. 100:2000");
        return;
    }
    o->cfg.ksparse_k_start = (int)k0;
    o->cfg.ksparse_schedule_steps = (int)steps;
}

static int match_model_opt(cli_args *a, cli_model_opts *o);

/* --prior gauss | mix:K (K components, 1..65536). */
static void parse_prior(cli_args *a, cli_model_opts *o)
{
    char *end = NULL;
    if (!strcmp(a->value, "gauss")) {
        o->prior_modes = 0;
        return;
    }
    long k = strncmp(a->value, "mix:", 4) ? 0 : strtol(a->value + 4, &end, 10);
    if (k < 1 || k > 65536 || !end || *end) {
        cli_bad_value(a, "expected gauss or mix:K with K components in 1..65536 (e.g. mix:10)");
        return;
    }
    o->prior_modes = k;
}

int cli_model_opt(cli_args *a, cli_model_opts *o)
{
    const int first = a->i;
    if (!match_model_opt(a, o)) return 0;
    /* Every flag that describes the net rather than how it trains. */
    static const char *const net[] = {"--layers", "--activation", "--output-activation", "--sparsity", "--rho",
                                      "--beta", "--lambda", "--ksparse", "--ksparse-alpha", "--ksparse-schedule",
                                      "--wta-rate", "--noise", "--contractive", "--tied", "--model", "--vae-beta", "--select",
                                      "--prior", "--disc", "--lr-disc", "--lr-gen"};
    for (size_t k = 0; k < sizeof net / sizeof net[0]; k++)
        if (!strncmp(a->argv[first], net[k], strlen(net[k])) &&
            (a->argv[first][strlen(net[k])] == '\0' || a->argv[first][strlen(net[k])] == '='))
            o->net_flags = 1;
    for (int k = first; k < a->i && o->n_given < CLI_MODEL_MAX_ARGS; k++) o->given[o->n_given++] = a->argv[k];
    return 1;
}

static int match_model_opt(cli_args *a, cli_model_opts *o)
{
    if (cli_opt(a, "--layers")) {
        o->layers = a->value;
    } else if (cli_opt(a, "--arch")) {
        o->arch = a->value;
    } else if (cli_flag(a, "--tied")) {
        o->tied = 1;
    } else if (cli_opt(a, "--model")) {
        if (a->value && strcmp(a->value, "ae") && strcmp(a->value, "vae") && strcmp(a->value, "aae") &&
            strcmp(a->value, "concrete") && strcmp(a->value, "mdl"))
            cli_bad_value(a, "expected ae, vae, aae, concrete or mdl (a model file goes to encode, score, reconstruct or "
                             "sample)");
        o->mdl = a->value && !strcmp(a->value, "mdl");
        o->aae = a->value && !strcmp(a->value, "aae");
        o->vae = a->value && !strcmp(a->value, "vae");
        o->concrete = a->value && !strcmp(a->value, "concrete");
    } else if (cli_opt(a, "--select")) {
        if (a->value) cli_long(a, 1, 1L << 20, &o->select_k);
    } else if (cli_opt(a, "--vae-beta")) {
        if (a->value) parse_float(a, 0.0, 1e6, &o->vae_beta);
    } else if (cli_opt(a, "--prior")) {
        if (a->value) parse_prior(a, o);
    } else if (cli_opt(a, "--disc")) {
        if (a->value && (!*a->value || strspn(a->value, "0123456789,") != strlen(a->value) || a->value[0] == ',' ||
                         strstr(a->value, ",,") || a->value[strlen(a->value) - 1] == ','))
            cli_bad_value(a, "expected the discriminator's hidden widths, e.g. 1000,1000");
        o->disc = a->value;
    } else if (cli_opt(a, "--lr-disc")) {
        if (a->value) parse_float(a, 1e-30, 1e6, &o->lr_disc);
    } else if (cli_opt(a, "--lr-gen")) {
        if (a->value) parse_float(a, 1e-30, 1e6, &o->lr_gen);
    } else if (cli_opt(a, "--activation")) {
        if (a->value && clae_activation_parse(a->value, &o->hidden) != CLAE_OK) cli_bad_value(a, clae_last_error());
        o->activations_given = 1;
    } else if (cli_opt(a, "--output-activation")) {
        if (a->value && clae_activation_parse(a->value, &o->output) != CLAE_OK) cli_bad_value(a, clae_last_error());
        o->activations_given = 1;
    } else if (cli_opt(a, "--loss")) {
        o->loss_given = 1;
        if (a->value && clae_loss_parse(a->value, &o->cfg.loss) != CLAE_OK) cli_bad_value(a, clae_last_error());
    } else if (cli_opt(a, "--optimizer")) {
        if (a->value && clae_optimizer_parse(a->value, &o->cfg.optimizer) != CLAE_OK)
            cli_bad_value(a, clae_last_error());
    } else if (cli_opt(a, "--lr")) {
        if (a->value) cli_positive_double(a, &o->lr);
        o->lr_given = 1;
    } else if (cli_opt(a, "--momentum")) {
        if (a->value) parse_float(a, 0.0, 0.999999, &o->cfg.momentum);
    } else if (cli_opt(a, "--adam-beta1")) {
        if (a->value) parse_float(a, 0.0, 0.999999, &o->cfg.beta1);
    } else if (cli_opt(a, "--adam-beta2")) {
        if (a->value) parse_float(a, 0.0, 0.999999999, &o->cfg.beta2);
    } else if (cli_opt(a, "--adam-eps")) {
        if (a->value) parse_float(a, 1e-30, 1.0, &o->cfg.eps);
    } else if (cli_opt(a, "--adadelta-rho")) {
        if (a->value) parse_float(a, 0.0, 0.999999999, &o->cfg.rho);
    } else if (cli_opt(a, "--adadelta-eps")) {
        if (a->value) parse_float(a, 1e-30, 1.0, &o->cfg.adadelta_eps);
    } else if (cli_opt(a, "--batch")) {
        if (a->value) cli_long(a, 1, MAX_BATCH, &o->batch);
    } else if (cli_opt(a, "--seed")) {
        if (a->value) cli_u64(a, &o->cfg.seed);
    } else if (cli_opt(a, "--sparsity")) {
        if (a->value && clae_sparsity_parse(a->value, &o->cfg.sparsity) != CLAE_OK) cli_bad_value(a, clae_last_error());
    } else if (cli_opt(a, "--rho")) {
        if (a->value) parse_float(a, -1.0, 1.0, &o->cfg.sparsity_rho);
    } else if (cli_opt(a, "--beta")) {
        if (a->value) parse_float(a, 0.0, 1e9, &o->cfg.sparsity_beta);
    } else if (cli_opt(a, "--lambda")) {
        if (a->value) parse_float(a, 0.0, 1e9, &o->cfg.sparsity_lambda);
    } else if (cli_opt(a, "--ksparse")) {
        long k = 0;
        if (a->value && cli_long(a, 1, 1L << 30, &k) == 0) o->cfg.ksparse_k = (int)k;
    } else if (cli_opt(a, "--ksparse-alpha")) {
        if (a->value) parse_float(a, 1e-6, 1e6, &o->cfg.ksparse_alpha);
    } else if (cli_opt(a, "--ksparse-schedule")) {
        if (a->value) parse_schedule(a, o);
    } else if (cli_opt(a, "--wta-rate")) {
        if (a->value) parse_wta_rate(a, o);
    } else if (cli_opt(a, "--noise")) {
        if (a->value) parse_noise(a, o);
    } else if (cli_opt(a, "--contractive")) {
        if (a->value) parse_float(a, 1e-12, 1e9, &o->cfg.contractive);
    } else {
        return 0;
    }
    return 1;
}

/* --model vae and --model mdl: the expanded spec's code layer "dense:H:ACT@code" (H its width) becomes
 * `with` ("%d" stands for H); from here on the net is that spec. */
static int rewrite_code_layer(const char *cmd, cli_model_opts *o, const char *model, const char *with)
{
    if (o->auto_input) {
        fprintf(stderr, "clae %s: --model %s needs the input width in --layers (not auto)\n", cmd, model);
        return CLI_EXIT_USAGE;
    }
    char *at = strstr(o->spec, "@code"), *start = at;
    while (start && start > o->spec && start[-1] != ',') start--;
    if (!at || strncmp(start, "dense:", 6)) {
        fprintf(stderr, "clae %s: --model %s: no dense code layer in %s\n", cmd, model, o->spec);
        return CLI_EXIT_USAGE;
    }
    char layer[256], spec[sizeof o->spec];
    snprintf(layer, sizeof layer, with, o->cfg.sizes[o->cfg.code_layer]);
    snprintf(spec, sizeof spec, "%.*s%s%s", (int)(start - o->spec), o->spec, layer, at);
    if (clae_model_config_set_arch(&o->cfg, spec, o->spec, sizeof o->spec) != CLAE_OK) {
        fprintf(stderr, "clae %s: --model %s: %s\n", cmd, model, clae_last_error());
        return CLI_EXIT_USAGE;
    }
    o->arch = o->spec;
    return -1;
}

/* --model vae: the code layer becomes "gauss:H[:beta=B]". */
static int make_vae(const char *cmd, cli_model_opts *o)
{
    const clae_model_config *c = &o->cfg;
    if (c->sparsity != CLAE_SPARSITY_NONE || c->ksparse_k || c->wta_rate > 0.0f || c->contractive > 0.0f) {
        fprintf(stderr, "clae %s: --model vae: the Gaussian layer makes the code; drop --sparsity, --ksparse, "
                        "--wta-rate and --contractive (or spell the net with --arch)\n", cmd);
        return CLI_EXIT_USAGE;
    }
    char with[64] = "gauss:%d";
    if (o->vae_beta != 1.0f) snprintf(with, sizeof with, "gauss:%%d:beta=%.9g", (double)o->vae_beta);
    return rewrite_code_layer(cmd, o, "vae", with);
}

/* --model aae: the code layer becomes "dense:H:linear,adv[:W1xW2...][:mix=K][:lr_disc=R][:lr_gen=R]": a linear
 * code, which a prior over all of R^H can be matched by. */
static int make_aae(const char *cmd, cli_model_opts *o)
{
    const clae_model_config *c = &o->cfg;
    if (c->sparsity != CLAE_SPARSITY_NONE || c->ksparse_k || c->wta_rate > 0.0f || c->contractive > 0.0f) {
        fprintf(stderr, "clae %s: --model aae: the adversary shapes the code; drop --sparsity, --ksparse, --wta-rate "
                        "and --contractive (or spell the net with --arch)\n", cmd);
        return CLI_EXIT_USAGE;
    }
    char with[256] = "dense:%d:linear,adv";
    size_t len = strlen(with);
    if (o->disc) {
        len += (size_t)snprintf(with + len, sizeof with - len, ":");
        for (const char *p = o->disc; *p && len < sizeof with - 1; p++) with[len++] = *p == ',' ? 'x' : *p;
        with[len] = '\0';
    }
    if (o->prior_modes) len += (size_t)snprintf(with + len, sizeof with - len, ":mix=%ld", o->prior_modes);
    if (o->lr_disc > 0.0f) len += (size_t)snprintf(with + len, sizeof with - len, ":lr_disc=%.9g", (double)o->lr_disc);
    if (o->lr_gen > 0.0f && len < sizeof with)
        snprintf(with + len, sizeof with - len, ":lr_gen=%.9g", (double)o->lr_gen);
    /* Adversarial training is only stable at small steps (README, Adversarial autoencoders); a replayed
     * configuration keeps the rate of the run that wrote it. */
    if (!o->lr_given && !o->replayed) o->lr = o->cfg.lr = CLI_AAE_LR;
    return rewrite_code_layer(cmd, o, "aae", with);
}

/* --model mdl: the code layer becomes "dense:H:linear,mdl", trained with sse (the residual's code is Gaussian). */
static int make_mdl(const char *cmd, cli_model_opts *o)
{
    clae_model_config *c = &o->cfg;
    if (c->sparsity != CLAE_SPARSITY_NONE || c->ksparse_k || c->wta_rate > 0.0f) {
        fprintf(stderr, "clae %s: --model mdl: its rate is the code's penalty; drop --sparsity, --ksparse and "
                        "--wta-rate (or spell the net with --arch)\n", cmd);
        return CLI_EXIT_USAGE;
    }
    if (o->loss_given && c->loss != CLAE_LOSS_SSE) {
        fprintf(stderr, "clae %s: --model mdl: the residual's code is Gaussian: use --loss sse\n", cmd);
        return CLI_EXIT_USAGE;
    }
    c->loss = CLAE_LOSS_SSE;
    return rewrite_code_layer(cmd, o, "mdl", "dense:%d:linear,mdl");
}

/* --model concrete: D,concrete:K@code,dense:H1,...,dense:D from --layers D,H1,... (a last width equal to D is
 * the output's). The temperature schedule's length is the run's, which train sets once it knows the data. */
static int make_concrete(const char *cmd, cli_model_opts *o)
{
    if (o->select_k < 1) {
        fprintf(stderr, "clae %s: --model concrete needs --select K, the number of features to pick\n", cmd);
        return CLI_EXIT_USAGE;
    }
    if (o->arch || o->tied || o->vae) {
        fprintf(stderr, "clae %s: --model concrete builds its own net: drop --arch, --tied and --model vae\n", cmd);
        return CLI_EXIT_USAGE;
    }
    const char *list = o->layers ? o->layers : "784,320";
    char widths[1024], spec[sizeof o->spec];
    snprintf(widths, sizeof widths, "%s", list);
    char *save = NULL, *first = strtok_r(widths, ",", &save);
    if (!first) {
        fprintf(stderr, "clae %s: --layers %s: expected D,H1,...\n", cmd, list);
        return CLI_EXIT_USAGE;
    }
    const char *hidden = clae_activation_name(o->hidden), *out = clae_activation_name(o->output);
    size_t len = (size_t)snprintf(spec, sizeof spec, "%s,concrete:%ld@code", first, o->select_k);
    for (char *w = strtok_r(NULL, ",", &save); w && len < sizeof spec; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, first) && !strtok_r(NULL, ",", &save)) break; /* the output width, given back */
        len += (size_t)snprintf(spec + len, sizeof spec - len, ",dense:%s:%s", w, hidden);
    }
    if (len < sizeof spec) snprintf(spec + len, sizeof spec - len, ",dense:%s:%s", first, out);
    if (clae_model_config_set_arch(&o->cfg, spec, o->spec, sizeof o->spec) != CLAE_OK) {
        fprintf(stderr, "clae %s: --model concrete: %s\n", cmd, clae_last_error());
        return CLI_EXIT_USAGE;
    }
    o->arch = o->spec;
    return -1;
}

int cli_model_opts_finish(const char *cmd, cli_model_opts *o)
{
    if (o->concrete) {
        /* The decoder's widths are read from --layers here, not expanded as an autoencoder's. */
        int rc = make_concrete(cmd, o);
        if (rc >= 0) return rc;
        o->cfg.batch = (int)o->batch;
        o->cfg.lr = (float)o->lr;
        if (clae_model_config_validate_training(&o->cfg) != CLAE_OK) {
            fprintf(stderr, "clae %s: %s\n", cmd, clae_last_error());
            return CLI_EXIT_USAGE;
        }
        return -1;
    }
    const char *layers = o->layers;
    char expanded[1024];
    if (cli_expand_layers(cmd, o, &layers, expanded, sizeof expanded) != 0) return CLI_EXIT_USAGE;
    if (layers && clae_model_config_set_layers(&o->cfg, layers) != CLAE_OK) {
        fprintf(stderr, "clae %s: --%s\n", cmd, clae_last_error());
        return CLI_EXIT_USAGE;
    }
    /* After the layer list, which may have changed how many layers there are;
     * a replayed configuration keeps its own per-layer activations otherwise. */
    if (o->layers || o->activations_given) clae_model_config_set_activations(&o->cfg, o->hidden, o->output);
    o->cfg.batch = (int)o->batch;
    o->cfg.lr = (float)o->lr;
    if (!(o->cfg.lr > 0.0f) || !isfinite(o->cfg.lr)) {
        fprintf(stderr, "clae %s: --lr: %g is not representable as a positive float\n", cmd, o->lr);
        return CLI_EXIT_USAGE;
    }
    if (o->arch) {
        if (o->net_flags) {
            fprintf(stderr, "clae %s: --arch describes the whole net; give it without --layers, --activation, "
                            "--output-activation, --tied or the variant flags\n", cmd);
            return CLI_EXIT_USAGE;
        }
        if (clae_model_config_set_arch(&o->cfg, o->arch, o->spec, sizeof o->spec) != CLAE_OK) {
            fprintf(stderr, "clae %s: --arch: %s\n", cmd, clae_last_error());
            return CLI_EXIT_USAGE;
        }
        clae_activation out = o->cfg.activation[o->cfg.n_layers - 1];
        if (o->cfg.loss == CLAE_LOSS_BCE && out != CLAE_ACT_SIGMOID) {
            fprintf(stderr, "clae %s: --arch: the output layer is %s, but --loss bce needs sigmoid (or give --loss sse)\n",
                    cmd, clae_activation_name(out));
            return CLI_EXIT_USAGE;
        }
    }
    /* A spec's net is checked above; its fields in cfg are only what a configuration can hold of it. */
    if ((o->arch ? clae_model_config_validate_training(&o->cfg) : clae_model_config_validate(&o->cfg)) != CLAE_OK) {
        fprintf(stderr, "clae %s: %s\n", cmd, clae_last_error());
        return CLI_EXIT_USAGE;
    }
    if (!o->arch && clae_model_config_arch(&o->cfg, o->tied, o->spec, sizeof o->spec) != CLAE_OK) {
        fprintf(stderr, "clae %s: %s\n", cmd, clae_last_error());
        return CLI_EXIT_USAGE;
    }
    if ((o->disc || o->prior_modes || o->lr_disc > 0.0f || o->lr_gen > 0.0f) && !o->aae) {
        fprintf(stderr, "clae %s: --prior, --disc, --lr-disc and --lr-gen belong to --model aae (in a spec: adv)\n", cmd);
        return CLI_EXIT_USAGE;
    }
    if (o->aae && !o->arch) return make_aae(cmd, o);
    if (o->mdl && !o->arch) return make_mdl(cmd, o);
    return o->vae && !o->arch ? make_vae(cmd, o) : -1;
}

int cli_model_opts_replay(const char *cmd, cli_model_opts *o, const clae_model_config *base)
{
    char *words[CLI_MODEL_MAX_ARGS + 1];
    const int n = o->n_given;
    words[0] = (char *)cmd;
    memcpy(words + 1, o->given, (size_t)n * sizeof *words);
    const int allow_auto = o->allow_auto;
    cli_model_opts_init(o);
    o->allow_auto = allow_auto;
    o->cfg = *base;
    o->hidden = base->activation[0];
    o->output = base->activation[base->n_layers - 1];
    o->batch = base->batch;
    o->lr = base->lr;
    o->replayed = 1;
    cli_args a;
    cli_args_init(&a, n + 1, words);
    while (cli_next(&a))
        if (!cli_model_opt(&a, o)) cli_unknown(&a); /* cannot happen: these words matched before */
    if (a.failed) return CLI_EXIT_USAGE;
    return cli_model_opts_finish(cmd, o);
}
