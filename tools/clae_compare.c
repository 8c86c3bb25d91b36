/* clae_compare.c — placeholder for compare and bench (being written). */
#include <stdio.h>
#include "clae_cli.h"
const char cli_compare_help[] = "usage: clae compare (not yet)\n";
const char cli_bench_help[] = "usage: clae bench (not yet)\n";
int cli_compare(int argc, char **argv) { (void)argc, (void)argv; return CLI_EXIT_USAGE; }
int cli_bench(int argc, char **argv) { (void)argc, (void)argv; return CLI_EXIT_USAGE; }
