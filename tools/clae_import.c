/* clae_import.c — `clae import`: turn weights made elsewhere (a PyTorch model saved with
 * safetensors.torch.save_file) into a clae model file that every other command reads alone. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clae_cli.h"

const char cli_import_help[] =
    "usage: clae import --model WEIGHTS --out MODEL [--layers L] [--activation A]\n"
    "                   [--output-activation A] [model flags]\n"
    "\n"
    "Reads a safetensors file of weights alone: dense layer i as layers.<i>.weight\n"
    "(out x in, torch.nn.Linear's layout) and layers.<i>.bias, with no clae\n"
    "metadata, as PyTorch writes it with\n"
    "    safetensors.torch.save_file(model.state_dict(), 'weights.safetensors')\n"
    "for a model whose Linear layers live in an nn.ModuleList named layers. Writes a\n"
    "clae model file with the same weights and the architecture given here, which\n"
    "train --init, encode, score and reconstruct then read without more flags.\n"
    "\n"
    "  --model PATH            the weights-only file\n"
    "  --out PATH              the clae model file to write (temporary name, renamed)\n"
    "  --layers L              widths, checked against the tensors (default: read\n"
    "                          from them)\n"
    "  --activation A          hidden units (default relu)\n"
    "  --output-activation A   output units (default sigmoid)\n"
    "  any other model flag of clae train (--loss, --optimizer, ...) is recorded\n"
    "                          for a later train --init\n"
    "  --device SPEC           where the weights pass through (default cpu-ref)\n"
    "  --json                  print {model, out, layers, activation,\n"
    "                          output_activation} on stdout\n"
    "  --quiet, -q             no note on stderr\n"
    "\n"
    "The same conversion: clae train --init WEIGHTS --steps 0 --out MODEL.\n"
    "Exit status: 0 success, 1 a file error, 2 a bad command line.\n";

int cli_import(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *device = "cpu-ref";
    int quiet = 0, json = 0;
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    cli_args a;
    cli_args_init(&a, argc, argv);
    while (cli_next(&a)) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            if (a.failed) break;
            fputs(cli_import_help, stdout);
            return CLI_EXIT_OK;
        } else if (cli_opt(&a, "--model")) {
            in = a.value;
        } else if (cli_opt(&a, "--out")) {
            out = a.value;
        } else if (cli_opt(&a, "--device")) {
            device = a.value;
        } else if (cli_flag(&a, "--quiet") || cli_flag(&a, "-q")) {
            quiet = 1;
        } else if (cli_flag(&a, "--json")) {
            json = 1;
        } else if (cli_model_opt(&a, &mo)) {
            /* matched a model flag */
        } else {
            cli_unknown(&a);
        }
    }
    if (a.failed) return CLI_EXIT_USAGE;
    if (!in || !*in || !out || !*out) {
        fprintf(stderr, "clae import: --model PATH and --out PATH are required (see 'clae import --help')\n");
        return CLI_EXIT_USAGE;
    }
    if (cli_check_output("import", "--out", out) != 0) return CLI_EXIT_USAGE;
    clae_file_kind kind;
    if (clae_model_file_kind(in, &kind) != CLAE_OK) return cli_fail_lib();
    if (kind != CLAE_FILE_WEIGHTS) {
        fprintf(stderr, "clae import: --model %s: %s\n", in,
                kind == CLAE_FILE_OTHER ? "has no layers.0.weight tensor: not a dense model's weights"
                                        : "is already a clae file; use it as it is");
        return CLI_EXIT_FAIL;
    }
    if (!mo.layers && clae_model_config_from_weights(in, &mo.cfg) != CLAE_OK) return cli_fail_lib();
    int rc = cli_model_opts_finish("import", &mo);
    if (rc >= 0) return rc;

    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    rc = CLI_EXIT_OK;
    if (cli_runtime_open(device, quiet, &rt) != CLAE_OK || clae_model_import(rt, in, &mo.cfg, 0, &m) != CLAE_OK ||
        clae_model_save(m, out, NULL) != CLAE_OK) {
        rc = cli_fail_lib();
    } else if (json) {
        cJSON *j = cJSON_CreateObject();
        int ok = j && cJSON_AddStringToObject(j, "model", in) && cJSON_AddStringToObject(j, "out", out) &&
                 cli_json_add_layers(j, &mo.cfg) &&
                 cJSON_AddStringToObject(j, "activation", clae_activation_name(mo.cfg.activation[0])) &&
                 cJSON_AddStringToObject(j, "output_activation",
                                         clae_activation_name(mo.cfg.activation[mo.cfg.n_layers - 1]));
        if (!ok) {
            cJSON_Delete(j);
            j = NULL;
        }
        if (cli_json_print("import", j) != 0) rc = CLI_EXIT_FAIL;
    } else if (!quiet) {
        fprintf(stderr, "wrote %s: layers ", out);
        for (int l = 0; l <= mo.cfg.n_layers; l++) fprintf(stderr, "%s%d", l ? "," : "", mo.cfg.sizes[l]);
        fprintf(stderr, ", %s hidden and %s output units\n", clae_activation_name(mo.cfg.activation[0]),
                clae_activation_name(mo.cfg.activation[mo.cfg.n_layers - 1]));
    }
    clae_model_destroy(m);
    clae_runtime_close(rt);
    return rc;
}
