/* plan.h — the buffer planner: tensors with lifetimes over one step's schedule, placed by best fit
 * into a single arena so tensors that are never live together share memory. */
#ifndef CLAE_PLAN_H
#define CLAE_PLAN_H

#include <stddef.h>

#include "clae.h"

#define CLAE_PLAN_NAME 48

/* Lifetime bounds for tensors that live for the whole model (parameters, optimizer state). */
#define CLAE_PLAN_ALWAYS (-1)

typedef struct clae_plan_tensor {
    char name[CLAE_PLAN_NAME];
    size_t bytes;  /* 0 for tensors the configuration does not need */
    int first;     /* first schedule position that touches it, or CLAE_PLAN_ALWAYS */
    int last;      /* last schedule position that touches it (inclusive) */
    size_t offset; /* assigned by clae_plan_place: byte offset inside the arena */
    int persistent; /* added with CLAE_PLAN_ALWAYS: lives as long as the model (parameters, state) */
} clae_plan_tensor;

typedef struct clae_plan {
    clae_plan_tensor *tensors;
    int n, cap;
    int n_steps;              /* schedule positions 0..n_steps-1 */
    char (*step_names)[CLAE_PLAN_NAME];
    size_t align;             /* every offset is a multiple of this (bytes) */
    size_t peak_bytes;        /* arena size after placement */
    size_t unplanned_bytes;   /* Σ bytes, each tensor alone (aligned) */
    size_t lower_bound_bytes; /* max over positions of the bytes live there */
    int lower_bound_step;     /* a position where that maximum is reached */
    int planned;              /* 0: every tensor got its own region (CLAE_PLAN=off) */
} clae_plan;

/* Starts an empty plan with n_steps schedule positions and the given alignment. */
clae_status clae_plan_init(clae_plan *p, int n_steps, size_t align);
void clae_plan_free(clae_plan *p);

/* Names schedule position `step` (for printing). */
void clae_plan_name_step(clae_plan *p, int step, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Adds a tensor; returns its index or -1 (error set) on allocation failure.
 * first/last are clamped to the schedule; CLAE_PLAN_ALWAYS means persistent. */
int clae_plan_add(clae_plan *p, const char *name, size_t bytes, int first, int last);

/* Assigns offsets. planned = 1: best fit by offset among tensors whose
 * lifetimes overlap, largest tensors first; planned = 0: one region each, in
 * order (for debugging and the plan-off tests). Computes the summary fields.
 * CLAE_ERR_DEVICE_MEM if the sizes overflow the address space. */
clae_status clae_plan_place(clae_plan *p, int planned);

/* 1 if tensors i and j are live at some common position. */
int clae_plan_lifetimes_overlap(const clae_plan *p, int i, int j);

#endif
