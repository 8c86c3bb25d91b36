/* clae_select.c — `clae select`: the input features a concrete autoencoder's selectors picked, as a list or JSON,
 * and for image data a mask PNG with the picked pixels white. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"
#include "clae_png.h"

const char cli_select_help[] =
    "usage: clae select --model M [--out mask.png] [--json] [--device SPEC]\n"
    "\n"
    "Prints the input features (columns, counted from 0) that the selectors of a\n"
    "concrete autoencoder (clae train --model concrete --select K) picked: for each\n"
    "selector the feature with the largest logit, one per line in selector order,\n"
    "then how many distinct features that makes and the mean probability of the\n"
    "picks at temperature 1 (training has converged near 1; Abid et al. stop at\n"
    "0.998). With --out, a PNG mask of the model's square input (784 = 28x28):\n"
    "picked pixels white, the rest black.\n"
    "\n"
    "  --model M               the model file\n"
    "  --out FILE              the mask PNG\n"
    "  --json                  one JSON object: model, selected (an array), distinct,\n"
    "                          mean_max_prob, and out when written\n"
    "  --device SPEC           where to load the model (default cpu-ref is enough)\n"
    "  --quiet, -q             no summary line on stderr\n"
    "  --help                  show this help\n";

int cli_select(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *device = "cpu-ref";
    int json = 0, quiet = 0;
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_select_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--model")) {
            model = a.value;
        } else if (cli_opt(&a, "--out")) {
            out = a.value;
        } else if (cli_opt(&a, "--device")) {
            device = a.value;
        } else if (cli_flag(&a, "--json")) {
            json = 1;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            quiet = 1;
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    if (!model) {
        fprintf(stderr, "clae select: --model M is required (see 'clae select --help')\n");
        return CLI_EXIT_USAGE;
    }
    if (out && cli_check_output("select", "--out", out) != 0) return CLI_EXIT_USAGE;
    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    size_t K = 0;
    double sure = 0.0;
    if (cli_runtime_open(device, quiet, &rt) != CLAE_OK || clae_model_load(rt, model, CLAE_MODEL_INFERENCE, 0, &m, NULL) != CLAE_OK ||
        clae_model_selection(m, NULL, 0, &K, &sure) != CLAE_OK) {
        int rc = cli_fail_lib();
        clae_model_destroy(m);
        clae_runtime_close(rt);
        return rc;
    }
    clae_model_config c;
    clae_model_get_config(m, &c);
    const size_t D = (size_t)c.sizes[0], side = (size_t)lround(sqrt((double)D));
    size_t *picks = malloc(K * sizeof *picks);
    float *mask = calloc(D, sizeof *mask);
    int rc = CLI_EXIT_OK;
    if (!picks || !mask || clae_model_selection(m, picks, K, &K, &sure) != CLAE_OK) {
        rc = picks && mask ? cli_fail_lib() : CLI_EXIT_FAIL;
        goto done;
    }
    size_t distinct = 0;
    for (size_t k = 0; k < K; k++) {
        distinct += mask[picks[k]] == 0.0f;
        mask[picks[k]] = 1.0f;
    }
    if (out) {
        char err[512] = "";
        if (side * side != D) {
            fprintf(stderr, "clae select: --out %s: the model's width %zu is not a square image\n", out, D);
            rc = CLI_EXIT_USAGE;
            goto done;
        }
        if (clae_png_write_gray_grid(out, mask, 1, side, side, 1, err, sizeof err) != 0) {
            fprintf(stderr, "clae select: %s\n", err);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
    }
    if (json) {
        cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "selected");
        for (size_t k = 0; arr && k < K; k++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)picks[k]));
        cJSON_AddStringToObject(j, "model", model);
        cJSON_AddNumberToObject(j, "distinct", (double)distinct);
        cJSON_AddNumberToObject(j, "mean_max_prob", sure);
        if (out) cJSON_AddStringToObject(j, "out", out);
        rc = cli_json_print("select", j) != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    } else {
        for (size_t k = 0; k < K; k++) printf("%zu\n", picks[k]);
        if (!quiet) fprintf(stderr, "%zu selectors, %zu distinct features, mean pick probability %.4f\n", K, distinct, sure);
    }
done:
    free(picks);
    free(mask);
    clae_model_destroy(m);
    clae_runtime_close(rt);
    return rc;
}
