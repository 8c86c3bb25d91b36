/* clae_steps.h — what `clae compare` and `clae bench` share: the timed training run (on the library's
 * trainer, in either one's batch order) and the helpers that format its figures (tables, JSON). */
#ifndef CLAE_STEPS_H
#define CLAE_STEPS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "clae.h"

#define CLI_STEPS_DEFAULT 20
#define CLI_STEPS_MAX 100000000L

typedef struct cli_step_stats {
    long steps_wanted;
    long steps_done;
    long timed_steps;
    size_t timed_samples;
    double timed_seconds;
    float final_loss;
} cli_step_stats;

/* Trains `steps` steps of m on ds with clae_model_train into st, the first
 * left out of the timing when there are more. compare takes clae train's
 * order (CLAE_BATCHES_SHUFFLED: a fresh shuffle per epoch, a short last
 * batch), so a compare run is the start of a train run; bench takes
 * CLAE_BATCHES_WRAP so every timed step does the same work. 0, or -1 after a
 * library failure (clae_last_error()); st->steps_done says how far it got. */
int cli_run_steps(clae_model *m, const clae_dataset *ds, clae_batch_order order, long steps, cli_step_stats *st);
double cli_ms_per_step(const cli_step_stats *st);
double cli_samples_per_sec(const cli_step_stats *st);

/* A library message into buf (cap bytes) on one line: line breaks become "; ". */
void cli_copy_message(char *buf, size_t cap, const char *msg);
/* The layer widths as "784,256,64,256,784". */
void cli_format_layers(const clae_model_config *c, char *buf, size_t cap);
/* v rounded to `digits` significant digits (for JSON). */
double cli_round_sig(double v, int digits);
/* Adds the number v to o, or null when have is 0; 0 out of memory. */
int cli_json_add_num(cJSON *o, const char *key, int have, double v);
/* s, or "-" when it is NULL or empty. */
const char *cli_or_dash(const char *s);
/* The larger of w and the length of s (a table column's width). */
int cli_col_width(int w, const char *s);

#endif
