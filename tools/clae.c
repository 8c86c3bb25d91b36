/* clae.c — entry point of the `clae` command-line tool: global options and the subcommand table.
 * Each subcommand lives in its own tools/clae_*.c file and is added to `commands` below. */
#include <stdio.h>
#include <string.h>

#include "clae_cli.h"

static const cli_command commands[] = {
    {"devices", "list the OpenCL devices and cpu-ref", cli_devices, cli_devices_help},
    {"train", "train an autoencoder (dense, conv, variational, adversarial, concrete, MDL) on IDX, CSV or NPY data", cli_train, cli_train_help},
    {"encode", "write a model's deep features of data to CSV or NPY", cli_encode, cli_encode_help},
    {"score", "per-row anomaly score of data: reconstruction error, or -log p(x)", cli_score, cli_score_help},
    {"reconstruct", "originals above reconstructions as a PNG grid, or reconstructions as CSV/NPY", cli_reconstruct, cli_reconstruct_help},
    {"select", "the input features a concrete autoencoder picked, and a mask PNG", cli_select, cli_select_help},
    {"sample", "decode codes drawn from a variational or adversarial autoencoder's prior (PNG grid, CSV, NPY)", cli_sample, cli_sample_help},
    {"grid", "train one model per combination of option values, ranked by test MSE (resumable)", cli_grid, cli_grid_help},
    {"compare", "run the same model on several devices and compare", cli_compare, cli_compare_help},
    {"bench", "samples/s of the standard workloads on one device", cli_bench, cli_bench_help},
    {"plan", "print the buffer plan of a model on a device", cli_plan, cli_plan_help},
    {"import", "make a clae model file of weights saved by PyTorch", cli_import, cli_import_help},
    {"pca", "PCA of the training data beside a linear autoencoder: test MSEs, principal angles", cli_pca, cli_pca_help},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_find_command(const char *name)
{
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (strcmp(commands[k].name, name) == 0) return &commands[k];
    return NULL;
}

void cli_print_help(const cli_command *cmd) { fputs(cmd->help, stdout); }

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: clae [--version] [--help] <command> [<args>]\n"
            "\n"
            "clae %s: a portable OpenCL autoencoder backend.\n"
            "\n"
            "Commands:\n",
            CLAE_VERSION_STRING);
    for (size_t k = 0; k < N_COMMANDS; k++) fprintf(out, "  %-10s %s\n", commands[k].name, commands[k].summary);
    fprintf(out,
            "\n"
            "'clae help <command>' or 'clae <command> --help' describes a command; every\n"
            "command takes --json (a JSON summary on stdout) and -q/--quiet (no notes).\n"
            "Exit status: 0 success, 1 a library error (message on stderr), 2 a bad command line,\n"
            "130 interrupted.\n"
            "Environment: CLAE_DEVICE (default device spec), CLAE_CACHE_DIR / CLAE_CACHE=off (kernel\n"
            "program cache), CLAE_DATA_DIR (where the default Fashion-MNIST files are).\n");
}

static int unknown_command(const char *name)
{
    const char *names[N_COMMANDS + 2];
    size_t n = 0;
    for (size_t k = 0; k < N_COMMANDS; k++) names[n++] = commands[k].name;
    names[n++] = "help";
    names[n++] = "version";
    const char *near = cli_closest(name, names, n);
    if (near)
        fprintf(stderr, "clae: '%s' is not a clae command; did you mean '%s'? See 'clae --help'.\n", name, near);
    else
        fprintf(stderr, "clae: '%s' is not a clae command. See 'clae --help'.\n", name);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *first = argv[1];
    if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0 || strcmp(first, "version") == 0) {
        printf("clae %s\n", CLAE_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(first, "help") == 0) {
        if (argc < 3) {
            print_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argc > 3) {
            fprintf(stderr, "clae help: takes one command name\n");
            return CLI_EXIT_USAGE;
        }
        const cli_command *cmd = cli_find_command(argv[2]);
        if (!cmd) return unknown_command(argv[2]);
        cli_print_help(cmd);
        return CLI_EXIT_OK;
    }
    if (first[0] == '-') {
        static const char *const global[] = {"--version", "--help", "-V", "-h"};
        const char *near = cli_closest(first, global, sizeof global / sizeof global[0]);
        char hint[64] = "";
        if (near) snprintf(hint, sizeof hint, "; did you mean %s?", near);
        fprintf(stderr, "clae: unknown option '%s'%s See 'clae --help'.\n", first, near ? hint : ".");
        return CLI_EXIT_USAGE;
    }
    const cli_command *cmd = cli_find_command(first);
    if (!cmd) return unknown_command(first);
    return cmd->run(argc - 1, argv + 1);
}
