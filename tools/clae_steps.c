/* clae_steps.c — the timed training run behind `clae compare` and `clae bench` (the library's trainer,
 * timed per step), and the helpers both use to print their figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clae_cli.h"
#include "clae_steps.h"

/* Records one step into the stats; the first step is left out of the timing
 * when there are more: it pays for first-use allocations and any lazy driver
 * work, which would distort short runs. */
static int record_step(const clae_train_report *ev, void *user)
{
    cli_step_stats *st = user;
    st->steps_done = (long)ev->steps;
    st->final_loss = ev->loss;
    if (ev->steps > 1 || st->steps_wanted == 1) {
        st->timed_steps++;
        st->timed_samples += ev->rows;
        st->timed_seconds += ev->step_seconds;
    }
    return 0;
}

/* Trains `steps` steps with the library's trainer, timing only the library
 * call (gathering rows is the host's work, the same for every device). No
 * divergence check: a comparison reports the losses whatever they are. */
int cli_run_steps(clae_model *m, const clae_dataset *ds, clae_batch_order order, long steps, cli_step_stats *st)
{
    memset(st, 0, sizeof *st);
    st->steps_wanted = steps;
    clae_trainer_options o;
    clae_trainer_options_default(&o);
    o.epochs = UINT64_MAX;
    o.max_steps = clae_model_steps(m) + (uint64_t)steps;
    o.order = order;
    o.diverge_factor = 0.0;
    o.on_step = record_step;
    o.user = st;
    return clae_model_train(m, ds, &o, NULL) == CLAE_OK ? 0 : -1;
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
