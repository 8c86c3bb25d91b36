/* clae_use.c — placeholder for encode, score and reconstruct (being written). */
#include <stdio.h>
#include "clae_cli.h"
const char cli_encode_help[] = "usage: clae encode (not yet)\n";
const char cli_score_help[] = "usage: clae score (not yet)\n";
const char cli_reconstruct_help[] = "usage: clae reconstruct (not yet)\n";
int cli_encode(int argc, char **argv) { (void)argc, (void)argv; return CLI_EXIT_USAGE; }
int cli_score(int argc, char **argv) { (void)argc, (void)argv; return CLI_EXIT_USAGE; }
int cli_reconstruct(int argc, char **argv) { (void)argc, (void)argv; return CLI_EXIT_USAGE; }
