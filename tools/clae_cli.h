/* clae_cli.h — what the pieces of the clae command-line tool share: the command table,
 * exit codes and the small argument parser every subcommand uses. */
#ifndef CLAE_CLI_H
#define CLAE_CLI_H

#include <stdint.h>

#include "clae.h"

/* Exit statuses, the same for every subcommand so scripts can tell a typo from
 * a failure of the data or the device. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1        /* the library reported an error */
#define CLI_EXIT_USAGE 2       /* bad command line */
#define CLI_EXIT_INTERRUPT 130 /* SIGINT, after a clean stop (128 + SIGINT) */

/* One subcommand. run() gets argv with argv[0] = the subcommand's name. */
typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `clae --help` */
    int (*run)(int argc, char **argv);
    const char *help; /* full text for `clae help NAME` and `clae NAME --help` */
} cli_command;

/* The table lives in clae.c; subcommands look themselves up to print help. */
const cli_command *cli_find_command(const char *name);
void cli_print_help(const cli_command *cmd);

/* Subcommands, one file each. */
int cli_devices(int argc, char **argv);
int cli_train(int argc, char **argv);
extern const char cli_devices_help[];
extern const char cli_train_help[];

/* A cursor over a subcommand's arguments. Usage:
 *     cli_args a; cli_args_init(&a, argc, argv);
 *     while (cli_next(&a)) {
 *         if (cli_flag(&a, "--json")) json = 1;
 *         else if (cli_opt(&a, "--data")) path = a.value;
 *         else cli_unknown(&a);
 *     }
 *     if (a.failed) return CLI_EXIT_USAGE;
 * Each matcher consumes what it matched; any error is printed once, sets
 * failed and ends the loop. */
typedef struct cli_args {
    const char *cmd; /* argv[0], for messages */
    int argc;
    char **argv;
    int i;             /* next argument to look at */
    const char *opt;   /* the option last matched, e.g. "--batch" */
    const char *value; /* its value */
    int failed;
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv);
int cli_next(const cli_args *a);
/* Matches `name` exactly (a switch without a value). */
int cli_flag(cli_args *a, const char *name);
/* Matches `name VALUE` or `name=VALUE` and sets a->value. */
int cli_opt(cli_args *a, const char *name);
/* Reports the current argument as unknown. */
void cli_unknown(cli_args *a);

/* Parse a->value as a number within [min, max]; on failure print an error
 * naming a->opt and what it expects, set failed and return -1. */
int cli_long(cli_args *a, long min, long max, long *out);
int cli_u64(cli_args *a, uint64_t *out);
int cli_positive_double(cli_args *a, double *out);
/* Prints "clae CMD: OPT: msg" and sets failed (for values only the caller can judge). */
void cli_bad_value(cli_args *a, const char *msg);

/* Prints "clae: <clae_last_error()>" and returns CLI_EXIT_FAIL. */
int cli_fail_lib(void);

/* Seconds from an arbitrary fixed point (monotonic). */
double cli_now(void);

/* The shortest decimal that reads back as f, as a double, so JSON shows 0.001
 * rather than 0.0010000000474974513. */
double cli_clean_float(float f);

#endif
