/* clae_sample.c — `clae sample`: new data from a variational or adversarial autoencoder, codes drawn from its prior
 * and decoded, as a PNG grid of images or the rows themselves (CSV, NPY). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_png.h"

const char cli_sample_help[] =
    "usage: clae sample --model M --out grid.png|samples.csv|samples.npy [--count N] [--seed S] [options]\n"
    "       clae sample --model M --out walk.png --data P --from I --to J [--steps N]\n"
    "\n"
    "Draws N codes from the prior of a variational autoencoder (a model whose code is a\n"
    "gauss layer, e.g. --arch 784,dense:500:tanh,gauss:20@code,dense:500:tanh,\n"
    "dense:784:sigmoid: z ~ N(0, I)) or of an adversarial one (--model aae: the prior its\n"
    "adv layer matched the codes to, N(0, I) or a mixture) and decodes them. The draws\n"
    "are Philox numbers keyed by --seed, so every device decodes the same codes. As a\n"
    "PNG (*.png) the rows are drawn as square grayscale images (the model's width\n"
    "must be a square number: 784 = 28x28); as CSV or NPY they are written as they\n"
    "are, one row per sample.\n"
    "\n"
    "With --data, a walk through the code space instead: rows I and J of P are encoded\n"
    "(a variational model gives their means), N codes on the straight line between\n"
    "them, z_t = (1 - t)*z_I + t*z_J for t = 0, 1/(N-1), ..., 1, are decoded, and the\n"
    "images are written in that order. Any model whose decoder needs only its code can\n"
    "walk (not one with unpool layers).\n"
    "\n"
    "  --model M               the model file (clae train --out)\n"
    "  --out FILE              the file to write; its extension picks the format\n"
    "  --count N               how many samples (default 64)\n"
    "  --seed S                the draws' seed (default 1)\n"
    "  --data P --from I --to J  walk from row I to row J of P (rows count from 0)\n"
    "  --steps N               codes on the walk, the ends included (default 10)\n"
    "  --device SPEC           P:D index, type word (gpu, cpu, cpu-ref) or name part\n"
    "                          (default $CLAE_DEVICE, else the '*' of 'clae devices')\n"
    "  --json                  one JSON object: model, out, kind (prior or walk), count,\n"
    "                          seed (prior draws)\n"
    "  --quiet, -q             nothing on stderr but errors\n"
    "  --help                  show this help\n";

/* The rows under a header x0,x1,…, as reconstruct writes data without a header of its own. */
static clae_status save_csv(const char *path, const float *x, size_t rows, size_t D)
{
    char **names = calloc(D, sizeof *names), *text = malloc(D * 24);
    clae_status st = CLAE_ERR_NOMEM;
    if (names && text) {
        for (size_t c = 0; c < D; c++) {
            names[c] = text + c * 24;
            snprintf(names[c], 24, "x%zu", c);
        }
        st = clae_matrix_save_csv(path, x, rows, D, (const char *const *)names);
    } else {
        fprintf(stderr, "clae sample: out of memory for a header of %zu columns\n", D);
    }
    free(names);
    free(text);
    return st;
}

/* Decodes n codes evenly spaced from row i's code to row j's into x; 0, or -1 after printing why. */
static int walk(clae_model *m, const clae_model_config *c, const char *data, size_t i, size_t j, size_t n, float *x)
{
    clae_dataset *ds = NULL;
    size_t need = (i > j ? i : j) + 1;
    if (cli_load_data(data, (long)need, c, &ds) != CLAE_OK) {
        fprintf(stderr, "clae sample: %s\n", clae_last_error());
        return -1;
    }
    int rc = -1;
    const size_t H = (size_t)c->sizes[c->code_layer], D = ds->cols;
    float *ends = malloc(2 * (H + D) * sizeof *ends), *z = malloc(n * H * sizeof *z);
    if (ds->rows < need) {
        fprintf(stderr, "clae sample: --data %s has %zu rows; --from %zu --to %zu need %zu\n", data, ds->rows, i, j, need);
    } else if (!ends || !z) {
        fprintf(stderr, "clae sample: out of memory\n");
    } else {
        memcpy(ends, ds->x + i * D, D * sizeof *ends);
        memcpy(ends + D, ds->x + j * D, D * sizeof *ends);
        float *codes = ends + 2 * D;
        if (clae_model_encode(m, ends, 2, codes) != CLAE_OK) {
            cli_fail_lib();
        } else {
            for (size_t k = 0; k < n; k++) {
                double t = (double)k / (double)(n - 1);
                for (size_t h = 0; h < H; h++) z[k * H + h] = (float)((1.0 - t) * codes[h] + t * codes[H + h]);
            }
            if (clae_model_decode(m, z, n, x) != CLAE_OK) cli_fail_lib();
            else rc = 0;
        }
    }
    free(ends);
    free(z);
    clae_dataset_free(ds);
    return rc;
}

int cli_sample(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *device = NULL, *data = NULL;
    long count = 64, from = -1, to = -1, steps = 10;
    uint64_t seed = 1;
    int quiet = 0, json = 0;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_sample_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--model")) {
            model = a.value;
        } else if (cli_opt(&a, "--out")) {
            out = a.value;
        } else if (cli_opt(&a, "--count")) {
            if (a.value) cli_long(&a, 1, 1L << 20, &count);
        } else if (cli_opt(&a, "--seed")) {
            if (a.value) cli_u64(&a, &seed);
        } else if (cli_opt(&a, "--device")) {
            device = a.value;
        } else if (cli_opt(&a, "--data")) {
            data = a.value;
        } else if (cli_opt(&a, "--from")) {
            if (a.value) cli_long(&a, 0, 1L << 40, &from);
        } else if (cli_opt(&a, "--to")) {
            if (a.value) cli_long(&a, 0, 1L << 40, &to);
        } else if (cli_opt(&a, "--steps")) {
            if (a.value) cli_long(&a, 2, 1L << 16, &steps);
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            quiet = 1;
        } else if (cli_flag(&a, "--json")) {
            json = 1;
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    if (!model || !out) {
        fprintf(stderr, "clae sample: --model M and --out FILE are required (see 'clae sample --help')\n");
        return CLI_EXIT_USAGE;
    }
    const int png = cli_ends_with(out, ".png"), npy = cli_ends_with(out, ".npy");
    if (!png && !npy && !cli_ends_with(out, ".csv")) {
        fprintf(stderr, "clae sample: --out %s: the name must end in .png (a picture), .csv or .npy (the rows)\n", out);
        return CLI_EXIT_USAGE;
    }
    if (data && (from < 0 || to < 0)) {
        fprintf(stderr, "clae sample: --data walks from --from I to --to J: give both rows\n");
        return CLI_EXIT_USAGE;
    }
    if (cli_check_output("sample", "--out", out) != 0) return CLI_EXIT_USAGE;

    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    if (cli_runtime_open(device, quiet, &rt) != CLAE_OK || clae_model_load(rt, model, CLAE_MODEL_INFERENCE, 0, &m, NULL) != CLAE_OK) {
        int rc = cli_fail_lib();
        clae_runtime_close(rt);
        return rc;
    }
    clae_model_config c;
    clae_model_get_config(m, &c);
    const size_t D = (size_t)c.sizes[0], side = (size_t)lround(sqrt((double)D));
    int rc = CLI_EXIT_OK;
    if (data) count = steps;
    float *x = malloc((size_t)count * D * sizeof *x);
    if (!x) {
        fprintf(stderr, "clae sample: out of memory for %ld rows of %zu\n", count, D);
        rc = CLI_EXIT_FAIL;
    } else if (png && side * side != D) {
        fprintf(stderr, "clae sample: --out %s: the model's width %zu is not a square number of pixels; write .csv or "
                        ".npy instead\n", out, D);
        rc = CLI_EXIT_USAGE;
    } else if (data ? walk(m, &c, data, (size_t)from, (size_t)to, (size_t)count, x) != 0
                    : clae_model_sample(m, (size_t)count, seed, x) != CLAE_OK) {
        rc = data ? CLI_EXIT_FAIL : cli_fail_lib();
    } else {
        char err[512] = "";
        clae_status st = CLAE_OK;
        if (png) st = clae_png_write_gray_grid(out, x, (size_t)count, side, side, data ? (size_t)count : 0, err, sizeof err) ? CLAE_ERR_IO : CLAE_OK;
        else if (npy) st = clae_matrix_save_npy(out, x, (size_t)count, D);
        else st = save_csv(out, x, (size_t)count, D);
        if (st == CLAE_ERR_NOMEM) {
            rc = CLI_EXIT_FAIL;
        } else if (st != CLAE_OK) {
            fprintf(stderr, "clae sample: %s\n", err[0] ? err : clae_last_error());
            rc = CLI_EXIT_FAIL;
        } else if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "model", model);
            cJSON_AddStringToObject(j, "out", out);
            cJSON_AddStringToObject(j, "kind", data ? "walk" : "prior");
            cJSON_AddNumberToObject(j, "count", (double)count);
            if (!data) cJSON_AddNumberToObject(j, "seed", (double)seed);
            rc = cli_json_print("sample", j) != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
        } else if (!quiet) {
            fprintf(stderr, "%ld %s of %s written to %s\n", count, data ? "steps of a walk between two codes" : "samples from the prior", model, out);
        }
    }
    free(x);
    clae_model_destroy(m);
    clae_runtime_close(rt);
    return rc;
}
