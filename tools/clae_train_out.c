/* clae_train_out.c — what `clae train` writes besides its models: the summary (lines or JSON), the --plot
 * chart and its points, and the message naming the first flag a --resume checkpoint disagrees with. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_png.h"
#include "clae_train.h"

int cli_curve_add(cli_curve *c, double x, double y)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        double *nx = realloc(c->x, cap * sizeof *nx);
        if (!nx) return -1;
        c->x = nx;
        double *ny = realloc(c->y, cap * sizeof *ny);
        if (!ny) return -1;
        c->y = ny;
        c->cap = cap;
    }
    c->x[c->n] = x;
    c->y[c->n] = y;
    c->n++;
    return 0;
}

void cli_curve_free(cli_curve *c)
{
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

/* Draws --plot. Returns 0, or prints the problem and returns -1. */
int cli_train_write_plot(const train_opts *o, const train_result *r)
{
    /* Test and train often coincide (the same distribution, a small model):
     * a solid line with filled squares under a dashed one with hollow
     * diamonds keeps both visible, and the per-step curve lies beneath. */
    clae_png_series s[3];
    size_t k = 0;
    if (r->test_curve.n)
        s[k++] = (clae_png_series){"test MSE", r->test_curve.x, r->test_curve.y, r->test_curve.n,
                                   CLAE_PNG_MARK_SQUARE, 0, 0};
    if (r->train_curve.n)
        s[k++] = (clae_png_series){"train MSE", r->train_curve.x, r->train_curve.y, r->train_curve.n,
                                   CLAE_PNG_MARK_DIAMOND, 6, 0};
    if (r->step_curve.n)
        s[k++] = (clae_png_series){"train batch MSE, per step", r->step_curve.x, r->step_curve.y, r->step_curve.n,
                                   CLAE_PNG_MARK_NONE, 0, 1};
    if (k == 0) {
        fprintf(stderr, "clae train: --plot %s: nothing was trained, so there is no curve to draw\n", o->plot);
        return -1;
    }
    char err[512];
    const char *ylabel = o->scale == CLAE_SCALE_NONE ? "MSE per element" : "MSE per element (scaled data)";
    if (clae_png_plot_lines(o->plot, "clae train: reconstruction error", s, k, "epoch", ylabel, err, sizeof err) != 0) {
        fprintf(stderr, "clae train: --plot: %s\n", err);
        return -1;
    }
    return 0;
}

static void print_layers(FILE *out, const clae_model_config *cfg)
{
    for (int l = 0; l <= cfg->n_layers; l++) fprintf(out, "%s%d", l ? "," : "", cfg->sizes[l]);
}

int cli_train_print_json(const train_opts *o, const clae_device_info *dev, clae_model *m, const train_result *r,
                         const clae_dataset *train, const clae_dataset *test)
{
    const clae_model_config *c = &o->cfg;
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON *j = cJSON_CreateObject();
    cJSON *layers = cJSON_CreateArray();
    int ok = j && layers && cJSON_AddStringToObject(j, "device", dev->name) &&
             cJSON_AddStringToObject(j, "device_id", dev->id) &&
             cJSON_AddNumberToObject(j, "epochs", (double)r->epochs_done) &&
             cJSON_AddNumberToObject(j, "steps", (double)clae_model_steps(m)) &&
             cJSON_AddNumberToObject(j, "batch", c->batch) &&
             cJSON_AddNumberToObject(j, "parts", o->n_devices ? o->n_devices : o->mpi_size) &&
             (!r->devices[0] || cJSON_AddStringToObject(j, "devices", r->devices)) &&
             (!o->mpi || (cJSON_AddNumberToObject(j, "ranks", o->mpi_size) &&
                          cJSON_AddNumberToObject(j, "comm_seconds", r->comm_seconds) &&
                          /* comm_seconds' whole: the training loop's time, as the text summary's "of … s". */
                          cJSON_AddNumberToObject(j, "train_seconds", r->train_seconds)));
    if (ok) {
        cJSON_AddItemToObject(j, "layers", layers);
        for (int l = 0; ok && l <= c->n_layers; l++) {
            cJSON *n = cJSON_CreateNumber(c->sizes[l]);
            ok = n && cJSON_AddItemToArray(layers, n);
        }
    } else {
        cJSON_Delete(layers);
    }
    ok = ok && cJSON_AddStringToObject(j, "activation", clae_activation_name(c->activation[0])) &&
         cJSON_AddStringToObject(j, "output_activation", clae_activation_name(c->activation[c->n_layers - 1])) &&
         cJSON_AddStringToObject(j, "loss", clae_loss_name(c->loss)) &&
         cJSON_AddStringToObject(j, "optimizer", clae_optimizer_name(c->optimizer)) &&
         cJSON_AddNumberToObject(j, "lr", cli_clean_float(c->lr)) &&
         cJSON_AddStringToObject(j, "variant", r->variant) &&
         cJSON_AddNumberToObject(j, "penalty", r->penalty) &&
         /* NaN (nothing trained in this run) is written as null by cJSON. */
         cJSON_AddNumberToObject(j, "train_loss", r->train_loss) &&
         cJSON_AddNumberToObject(j, "test_mse", r->test_mse) &&
         cJSON_AddNumberToObject(j, "samples_per_sec",
                                 r->train_seconds > 0 ? round((double)r->samples / r->train_seconds * 10) / 10 : 0) &&
         cJSON_AddNumberToObject(j, "seconds", round(r->seconds * 1000) / 1000) &&
         /* Raw keeps a 64-bit seed exact; a JSON double would round it above 2^53. */
         cJSON_AddRawToObject(j, "seed", seed) &&
         cJSON_AddNumberToObject(j, "train_rows", (double)train->rows) &&
         cJSON_AddNumberToObject(j, "test_rows", (double)test->rows) &&
         cJSON_AddStringToObject(j, "scale", clae_scale_kind_name(o->scale)) &&
         cJSON_AddBoolToObject(j, "resumed", r->resumed) &&
         cJSON_AddBoolToObject(j, "interrupted", r->interrupted) &&
         (isnan(r->code_mean) || cJSON_AddNumberToObject(j, "code_mean_activation", r->code_mean)) &&
         /* An adversarial autoencoder: its last epoch's phases. */
         (isnan(r->disc_accuracy) || (cJSON_AddNumberToObject(j, "disc_loss", r->disc_loss) &&
                                      cJSON_AddNumberToObject(j, "disc_accuracy", r->disc_accuracy) &&
                                      cJSON_AddNumberToObject(j, "gen_loss", r->gen_loss) &&
                                      cJSON_AddNumberToObject(j, "fooled", r->fooled))) &&
         (!o->out || cJSON_AddStringToObject(j, "model", o->out)) &&
         (!o->checkpoint || cJSON_AddStringToObject(j, "checkpoint", o->checkpoint)) &&
         (!o->plot || cJSON_AddStringToObject(j, "plot", o->plot));
    /* Pretraining: each layer's reconstruction error after its last epoch. */
    if (ok && o->pretrain.kind != CLAE_PRETRAIN_NONE && r->pretrained_layers) {
        cJSON *pre = cJSON_AddObjectToObject(j, "pretrain"), *arr = pre ? cJSON_AddArrayToObject(pre, "layers") : NULL;
        ok = arr && cJSON_AddStringToObject(pre, "kind", clae_pretrain_name(o->pretrain.kind)) &&
             cJSON_AddNumberToObject(pre, "epochs", (double)o->pretrain.epochs);
        for (int l = 0; ok && l < r->pretrained_layers; l++) {
            cJSON *one = cJSON_CreateObject();
            ok = one && cJSON_AddItemToArray(arr, one) && cJSON_AddNumberToObject(one, "recon_mse", r->pretrain_mse[l]) &&
                 cJSON_AddNumberToObject(one, "seconds", round(r->pretrain_seconds[l] * 1000) / 1000);
        }
    }
    /* A minimum-description-length code: its length on the test rows, in bits per row. */
    float *bits = ok ? malloc(test->rows * sizeof *bits) : NULL;
    if (bits && clae_model_code_length(m, test->x, test->rows, bits) == CLAE_OK) {
        double mean = 0.0;
        for (size_t i = 0; i < test->rows; i++) mean += bits[i] / (double)test->rows;
        ok = cJSON_AddNumberToObject(j, "code_length_bits", mean) != NULL;
    }
    free(bits);
    /* A concrete autoencoder: the features its selectors picked, and how sure they are. */
    size_t k = 0;
    double sure = 0.0;
    if (ok && clae_model_selection(m, NULL, 0, &k, &sure) == CLAE_OK) {
        size_t *picks = malloc(k * sizeof *picks);
        cJSON *arr = cJSON_AddArrayToObject(j, "selected");
        ok = picks && arr && clae_model_selection(m, picks, k, &k, &sure) == CLAE_OK &&
             cJSON_AddNumberToObject(j, "selection_mean_max_prob", sure);
        for (size_t i = 0; ok && i < k; i++) ok = cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)picks[i]));
        free(picks);
    }
    char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        fprintf(stderr, "clae train: out of memory building JSON\n");
        return -1;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

void cli_train_print_summary(const train_opts *o, const clae_device_info *dev, clae_model *m, const train_result *r)
{
    printf("device      %s (%s)\n", dev->name, dev->id);
    if (r->devices[0]) printf("devices     %s (each batch split across them)\n", r->devices);
    if (o->mpi)
        printf("ranks       %d (MPI; rank 0 spent %.3g s of %.3g s in collectives)\n", o->mpi_size, r->comm_seconds,
               r->train_seconds);
    printf("layers      ");
    print_layers(stdout, &o->cfg);
    printf("\nloss        %s, %s lr %g\n", clae_loss_name(o->cfg.loss), clae_optimizer_name(o->cfg.optimizer),
           cli_clean_float(o->cfg.lr));
    printf("epochs      %ld%s\n", r->epochs_done, r->interrupted ? " (interrupted)" : "");
    printf("steps       %llu\n", (unsigned long long)clae_model_steps(m));
    printf("variant     %s\n", r->variant);
    if (o->scale != CLAE_SCALE_NONE) printf("scale       %s\n", clae_scale_kind_name(o->scale));
    if (r->penalty != 0.0) printf("penalty     %.6g\n", r->penalty);
    if (!isnan(r->code_mean)) printf("code mean   %.6g\n", r->code_mean);
    for (int l = 0; l < r->pretrained_layers; l++)
        printf("%-11s %s layer %d: recon_mse %.6g (%.1f s)\n", l ? "" : "pretrain", clae_pretrain_name(o->pretrain.kind),
               l + 1, r->pretrain_mse[l], r->pretrain_seconds[l]);
    if (!isnan(r->disc_accuracy))
        printf("adversary   disc_loss %.6g, disc_accuracy %.4f, gen_loss %.6g, fooled %.4f\n", r->disc_loss,
               r->disc_accuracy, r->gen_loss, r->fooled);
    printf("train_loss  %.6g\n", r->train_loss);
    printf("test_mse    %.6g\n", r->test_mse);
    printf("samples/s   %.0f\n", r->train_seconds > 0 ? (double)r->samples / r->train_seconds : 0.0);
    printf("seconds     %.2f\n", r->seconds);
    if (o->out) printf("model       %s\n", o->out);
    if (o->checkpoint) printf("checkpoint  %s\n", o->checkpoint);
    if (o->plot) printf("plot        %s\n", o->plot);
}

/* The first setting in which the checkpoint's model differs from the command
 * line's, as "--flag: file X, command line Y" in buf; 0 if none. A resumed run
 * is only exact when everything that shapes the steps is the same. */
int cli_train_config_mismatch(const clae_model_config *f, const clae_model_config *c, char *buf, size_t cap)
{
#define DIFF_INT(field, name)                                                                                 \
    if (f->field != c->field) {                                                                             \
        snprintf(buf, cap, "%s: the checkpoint has %lld, the command line %lld", name, (long long)f->field, \
                 (long long)c->field);                                                                      \
        return 1;                                                                                            \
    }
#define DIFF_FLOAT(field, name)                                                                               \
    if (f->field != c->field) {                                                                             \
        snprintf(buf, cap, "%s: the checkpoint has %.9g, the command line %.9g", name, cli_clean_float(f->field), \
                 cli_clean_float(c->field));                                                                \
        return 1;                                                                                            \
    }
#define DIFF_NAME(field, name, namefn)                                                                        \
    if (f->field != c->field) {                                                                             \
        snprintf(buf, cap, "%s: the checkpoint has %s, the command line %s", name, namefn(f->field),        \
                 namefn(c->field));                                                                         \
        return 1;                                                                                            \
    }
    int same_layers = f->n_layers == c->n_layers;
    for (int l = 0; same_layers && l <= f->n_layers; l++) same_layers = f->sizes[l] == c->sizes[l];
    if (!same_layers) {
        char a[256] = "", b[256] = "";
        for (int l = 0; l <= f->n_layers; l++)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s%d", l ? "," : "", f->sizes[l]);
        for (int l = 0; l <= c->n_layers; l++)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%s%d", l ? "," : "", c->sizes[l]);
        snprintf(buf, cap, "--layers: the checkpoint has %s, the command line %s", a, b);
        return 1;
    }
    for (int l = 0; l < f->n_layers; l++) {
        const char *flag = l == f->n_layers - 1 ? "--output-activation" : "--activation";
        DIFF_NAME(activation[l], flag, clae_activation_name)
    }
    DIFF_INT(code_layer, "code layer")
    DIFF_NAME(loss, "--loss", clae_loss_name)
    DIFF_NAME(optimizer, "--optimizer", clae_optimizer_name)
    DIFF_NAME(init, "weight init", clae_init_name)
    DIFF_FLOAT(lr, "--lr")
    DIFF_FLOAT(momentum, "--momentum")
    DIFF_FLOAT(beta1, "--adam-beta1")
    DIFF_FLOAT(beta2, "--adam-beta2")
    DIFF_FLOAT(eps, "--adam-eps")
    DIFF_FLOAT(rho, "--adadelta-rho")
    DIFF_FLOAT(adadelta_eps, "--adadelta-eps")
    DIFF_INT(batch, "--batch")
    DIFF_INT(seed, "--seed")
    DIFF_NAME(sparsity, "--sparsity", clae_sparsity_name)
    if (f->sparsity != CLAE_SPARSITY_NONE) {
        DIFF_FLOAT(sparsity_rho, "--rho")
        DIFF_FLOAT(sparsity_beta, "--beta")
        DIFF_FLOAT(sparsity_lambda, "--lambda")
    }
    DIFF_INT(ksparse_k, "--ksparse")
    if (f->ksparse_k) {
        DIFF_FLOAT(ksparse_alpha, "--ksparse-alpha")
        DIFF_INT(ksparse_k_start, "--ksparse-schedule")
        DIFF_INT(ksparse_schedule_steps, "--ksparse-schedule")
    }
    DIFF_FLOAT(wta_rate, "--wta-rate")
    DIFF_NAME(noise, "--noise", clae_noise_name)
    DIFF_FLOAT(noise_level, "--noise")
    DIFF_FLOAT(contractive, "--contractive")
#undef DIFF_INT
#undef DIFF_FLOAT
#undef DIFF_NAME
    return 0;
}
