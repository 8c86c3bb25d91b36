/* clae_steps.h — what `clae compare` and `clae bench` share: where each step's rows come from, the
 * timed training loop and the helpers that format its figures (tables, JSON). */
#ifndef CLAE_STEPS_H
#define CLAE_STEPS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "clae.h"

#define CLI_STEPS_DEFAULT 20
#define CLI_STEPS_MAX 100000000L

/* Where the rows of each step come from. compare follows clae train exactly
 * (a fresh shuffle per epoch, a short last batch), so a compare run is the
 * start of a train run; bench takes consecutive full batches so every timed
 * step does the same work. */
typedef struct cli_batch_source {
    const clae_dataset *ds;
    size_t batch;
    int shuffle;
    uint64_t seed;
    size_t *order; /* ds->rows entries (shuffle only) */
    uint32_t epoch;
    size_t pos;    /* next row: within the epoch (shuffle), or overall (bench) */
} cli_batch_source;

typedef struct cli_step_stats {
    long steps_done;
    long timed_steps;
    size_t timed_samples;
    double timed_seconds;
    float final_loss;
} cli_step_stats;

/* Starts at row 0 (epoch 0 of the shuffle when shuffle is set); -1 out of memory. */
int cli_source_init(cli_batch_source *s, const clae_dataset *ds, size_t batch, int shuffle, uint64_t seed);
/* The next step's row ids into idx and ids (batch entries each); returns the row count. */
size_t cli_source_next(cli_batch_source *s, size_t *idx, uint32_t *ids);
void cli_source_free(cli_batch_source *s);

/* Trains `steps` steps from src into st, the first left out of the timing when
 * there are more; 0, -1 after a library failure (clae_last_error()) or -2 out
 * of host memory. */
int cli_run_steps(clae_model *m, cli_batch_source *src, long steps, cli_step_stats *st);
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
