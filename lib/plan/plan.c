/* plan.c — places tensors in one arena by lifetime: best fit among the tensors live at the same time.
 * The lower bound it reports is the most bytes live at any one schedule position. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "runtime/error.h"

static size_t align_up(size_t v, size_t a)
{
    if (!a) return v;
    return v > SIZE_MAX - (a - 1) ? SIZE_MAX : (v + a - 1) / a * a;
}

clae_status clae_plan_init(clae_plan *p, int n_steps, size_t align)
{
    memset(p, 0, sizeof *p);
    if (n_steps < 1) return clae_fail(CLAE_ERR_ARG, "plan: %d schedule positions", n_steps);
    p->n_steps = n_steps;
    p->align = align ? align : 1;
    p->step_names = calloc((size_t)n_steps, sizeof *p->step_names);
    if (!p->step_names) return clae_fail(CLAE_ERR_NOMEM, "plan: out of host memory");
    return CLAE_OK;
}

void clae_plan_free(clae_plan *p)
{
    free(p->tensors);
    free(p->step_names);
    memset(p, 0, sizeof *p);
}

void clae_plan_name_step(clae_plan *p, int step, const char *fmt, ...)
{
    if (step < 0 || step >= p->n_steps) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->step_names[step], CLAE_PLAN_NAME, fmt, ap);
    va_end(ap);
}

int clae_plan_add(clae_plan *p, const char *name, size_t bytes, int first, int last)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        clae_plan_tensor *t = realloc(p->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            clae_fail(CLAE_ERR_NOMEM, "plan: out of host memory");
            return -1;
        }
        p->tensors = t;
        p->cap = cap;
    }
    clae_plan_tensor *t = &p->tensors[p->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->bytes = bytes;
    if (first == CLAE_PLAN_ALWAYS) {
        t->persistent = 1;
        t->first = 0;
        t->last = p->n_steps - 1;
    } else {
        t->first = first < 0 ? 0 : (first >= p->n_steps ? p->n_steps - 1 : first);
        t->last = last < t->first ? t->first : (last >= p->n_steps ? p->n_steps - 1 : last);
    }
    return p->n++;
}

int clae_plan_lifetimes_overlap(const clae_plan *p, int i, int j)
{
    const clae_plan_tensor *a = &p->tensors[i], *b = &p->tensors[j];
    return a->first <= b->last && b->first <= a->last;
}

/* What the placement order sorts on; carried in the records so the comparator needs no global. */
typedef struct order_key {
    size_t bytes;
    int first, index;
} order_key;

/* Larger tensors first, then earlier first use, then insertion order, so the
 * placement is deterministic. */
static int by_size_desc(const void *x, const void *y)
{
    const order_key *a = x, *b = y;
    if (a->bytes != b->bytes) return a->bytes < b->bytes ? 1 : -1;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return a->index - b->index;
}

/* a + b, or SIZE_MAX when the sum would wrap (then the plan is refused). */
static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

typedef struct span {
    size_t lo, hi;
} span;

static int by_lo(const void *x, const void *y)
{
    const span *a = x, *b = y;
    return a->lo < b->lo ? -1 : (a->lo > b->lo ? 1 : 0);
}

static void compute_bounds(clae_plan *p)
{
    p->unplanned_bytes = 0;
    for (int i = 0; i < p->n; i++) p->unplanned_bytes = add_sat(p->unplanned_bytes, align_up(p->tensors[i].bytes, p->align));
    p->lower_bound_bytes = 0;
    p->lower_bound_step = 0;
    for (int s = 0; s < p->n_steps; s++) {
        size_t live = 0;
        for (int i = 0; i < p->n; i++)
            if (p->tensors[i].first <= s && s <= p->tensors[i].last) live = add_sat(live, p->tensors[i].bytes);
        if (live > p->lower_bound_bytes) {
            p->lower_bound_bytes = live;
            p->lower_bound_step = s;
        }
    }
}

clae_status clae_plan_place(clae_plan *p, int planned)
{
    p->planned = planned;
    p->peak_bytes = 0;
    compute_bounds(p);
    if (!planned) {
        size_t off = 0;
        for (int i = 0; i < p->n; i++) {
            p->tensors[i].offset = off;
            off = add_sat(off, align_up(p->tensors[i].bytes, p->align));
        }
        p->peak_bytes = off;
        return off == SIZE_MAX ? clae_fail(CLAE_ERR_DEVICE_MEM, "plan: the tensors' sizes overflow the address space")
                               : CLAE_OK;
    }
    order_key *order = malloc((size_t)(p->n ? p->n : 1) * sizeof *order);
    int *placed = malloc((size_t)(p->n ? p->n : 1) * sizeof *placed);
    span *busy = malloc((size_t)(p->n ? p->n : 1) * sizeof *busy);
    if (!order || !placed || !busy) {
        free(order);
        free(placed);
        free(busy);
        return clae_fail(CLAE_ERR_NOMEM, "plan: out of host memory");
    }
    for (int i = 0; i < p->n; i++) order[i] = (order_key){p->tensors[i].bytes, p->tensors[i].first, i};
    qsort(order, (size_t)p->n, sizeof *order, by_size_desc);
    int n_placed = 0;
    for (int k = 0; k < p->n; k++) {
        int i = order[k].index;
        clae_plan_tensor *t = &p->tensors[i];
        size_t need = align_up(t->bytes, p->align);
        /* Regions held by placed tensors that are live at the same time as t. */
        int nb = 0;
        for (int j = 0; j < n_placed; j++) {
            clae_plan_tensor *u = &p->tensors[placed[j]];
            if (u->bytes && clae_plan_lifetimes_overlap(p, i, placed[j]))
                busy[nb++] = (span){u->offset, add_sat(u->offset, align_up(u->bytes, p->align))};
        }
        qsort(busy, (size_t)nb, sizeof *busy, by_lo);
        /* Best fit: the smallest gap between busy regions that holds t; else past the last one. */
        size_t best = (size_t)-1, best_gap = (size_t)-1, cursor = 0;
        for (int j = 0; j < nb; j++) {
            if (busy[j].lo > cursor) {
                size_t gap = busy[j].lo - cursor;
                if (gap >= need && gap < best_gap) {
                    best_gap = gap;
                    best = cursor;
                }
            }
            if (busy[j].hi > cursor) cursor = busy[j].hi;
        }
        t->offset = best != (size_t)-1 ? best : cursor;
        if (t->bytes && add_sat(t->offset, need) > p->peak_bytes) p->peak_bytes = add_sat(t->offset, need);
        placed[n_placed++] = i;
    }
    free(order);
    free(placed);
    free(busy);
    if (p->peak_bytes == SIZE_MAX || p->unplanned_bytes == SIZE_MAX || p->lower_bound_bytes == SIZE_MAX)
        return clae_fail(CLAE_ERR_DEVICE_MEM, "plan: the tensors' sizes overflow the address space");
    return CLAE_OK;
}
