/* clae_steps.c — the batch source and timed training loop behind `clae compare` and `clae bench`, and the
 * helpers both use to print their figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clae_cli.h"
#include "clae_steps.h"

int cli_source_init(cli_batch_source *s, const clae_dataset *ds, size_t batch, int shuffle, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->ds = ds;
    s->batch = batch;
    s->shuffle = shuffle;
    s->seed = seed;
    if (shuffle) {
        s->order = malloc(ds->rows * sizeof *s->order);
        if (!s->order) return -1;
        clae_shuffle_order(ds->rows, seed, 0, s->order);
    }
    return 0;
}

/* The next step's row ids into idx (size_t, for gather) and ids (uint32, for the
 * model); returns the row count. */
size_t cli_source_next(cli_batch_source *s, size_t *idx, uint32_t *ids)
{
    const size_t rows = s->ds->rows;
    size_t n;
    if (s->shuffle) {
        if (s->pos >= rows) {
            s->epoch++;
            s->pos = 0;
            clae_shuffle_order(rows, s->seed, s->epoch, s->order);
        }
        n = rows - s->pos < s->batch ? rows - s->pos : s->batch;
        for (size_t k = 0; k < n; k++) idx[k] = s->order[s->pos + k];
    } else {
        n = s->batch;
        for (size_t k = 0; k < n; k++) idx[k] = (s->pos + k) % rows;
    }
    s->pos += n;
    for (size_t k = 0; k < n; k++) ids[k] = (uint32_t)idx[k];
    return n;
}

void cli_source_free(cli_batch_source *s) { free(s->order); }

/* Trains `steps` steps from src, timing only the library call (gathering rows
 * is the host's work, the same for every device). The first step is left out
 * of the timing when there are more: it pays for first-use allocations and any
 * lazy driver work, which would distort short runs. Returns 0, -1 after a
 * library failure (message in clae_last_error()) or -2 out of host memory. */
int cli_run_steps(clae_model *m, cli_batch_source *src, long steps, cli_step_stats *st)
{
    memset(st, 0, sizeof *st);
    const size_t cols = src->ds->cols, batch = src->batch;
    size_t *idx = malloc(batch * sizeof *idx);
    uint32_t *ids = malloc(batch * sizeof *ids);
    float *xb = malloc(batch * cols * sizeof *xb);
    int rc = 0;
    if (!idx || !ids || !xb) {
        rc = -2;
        goto done;
    }
    for (long s = 0; s < steps; s++) {
        size_t n = cli_source_next(src, idx, ids);
        if (clae_dataset_gather(src->ds, idx, n, xb) != CLAE_OK) {
            rc = -1;
            goto done;
        }
        float loss = 0.0f;
        double t0 = cli_now();
        if (clae_model_train_step_rows(m, xb, ids, n, &loss) != CLAE_OK) {
            rc = -1;
            goto done;
        }
        double dt = cli_now() - t0;
        st->steps_done = s + 1;
        st->final_loss = loss;
        if (s > 0 || steps == 1) {
            st->timed_steps++;
            st->timed_samples += n;
            st->timed_seconds += dt;
        }
    }
done:
    free(idx);
    free(ids);
    free(xb);
    return rc;
}

double cli_ms_per_step(const cli_step_stats *st)
{
    return st->timed_steps > 0 ? 1000.0 * st->timed_seconds / (double)st->timed_steps : 0.0;
}

double cli_samples_per_sec(const cli_step_stats *st)
{
    return st->timed_seconds > 0 ? (double)st->timed_samples / st->timed_seconds : 0.0;
}

/* Copies a library message into buf with line breaks folded into "; ", so a
 * table row or CSV record stays one line. */
void cli_copy_message(char *buf, size_t cap, const char *msg)
{
    size_t n = 0;
    for (const char *p = msg; *p && n + 3 < cap; p++) {
        if (*p == '\n' || *p == '\r') {
            if (p[1] == '\0' || (p[0] == '\r' && p[1] == '\n')) continue;
            buf[n++] = ';';
            buf[n++] = ' ';
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
}

void cli_format_layers(const clae_model_config *c, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int l = 0; l <= c->n_layers && n < cap; l++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%d", l ? "," : "", c->sizes[l]);
}

/* Rounds to `digits` significant digits for JSON, so 123.456789 ms prints as
 * 123.457 instead of 17 digits of timer noise. */
double cli_round_sig(double v, int digits)
{
    if (v == 0.0 || !isfinite(v)) return v;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    return strtod(buf, NULL);
}

/* Adds a number, or null when the value was never measured. */
int cli_json_add_num(cJSON *o, const char *key, int have, double v)
{
    return have ? cJSON_AddNumberToObject(o, key, v) != NULL : cJSON_AddNullToObject(o, key) != NULL;
}


const char *cli_or_dash(const char *s) { return (s && *s) ? s : "-"; }

int cli_col_width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}
