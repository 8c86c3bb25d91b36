/* clae_progress.h — the training progress report on stderr: a live bar that fits the terminal's width,
 * a plain line at most every 10 seconds otherwise (logs, CI), nothing when quiet. */
#ifndef CLAE_PROGRESS_H
#define CLAE_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

/* Seconds between two plain lines when stderr is not a terminal: an epoch
 * shorter than this leaves only the caller's one summary line per epoch. */
#define CLI_PROGRESS_LOG_SECONDS 10.0

typedef struct cli_progress {
    FILE *out;
    int tty;   /* redraw one line with \r */
    int quiet; /* print nothing */
    int epoch, epochs;   /* 1-based epoch being run, of epochs */
    size_t steps;        /* steps in this epoch */
    size_t first_step;   /* steps already done when the epoch (re)started (a resumed run) */
    double t_start;      /* when the epoch's first step began */
    double t_drawn;      /* when the bar was last drawn (TTY) */
    double t_logged;     /* when the last plain line was written, or the epoch began (non-TTY) */
    int drawn;           /* a TTY line is on screen and must be cleared */
} cli_progress;

/* Decides TTY or not from `out`. */
void cli_progress_init(cli_progress *p, FILE *out, int quiet);

/* Starts epoch `epoch` (1-based) of `epochs`, with `steps` steps. */
void cli_progress_epoch(cli_progress *p, int epoch, int epochs, size_t steps);

/* Tells the report that this epoch resumes with `done` of its steps already
 * taken (before this process started), so the step count shows the position
 * in the epoch while rate and ETA count only the steps timed here. Call after
 * cli_progress_epoch(). */
void cli_progress_resume(cli_progress *p, size_t done);

/* Reports that `step` steps (1-based count) and `samples` samples are done with
 * the running mean loss `loss`. Draws only when it is time to: on a terminal
 * at most ten times a second, in one line no wider than the terminal
 * (TIOCGWINSZ, else $COLUMNS, else 80; fields are dropped before the line
 * would wrap); elsewhere a line when CLI_PROGRESS_LOG_SECONDS have passed
 * since the last one or the epoch's start, never for the epoch's last step
 * (the caller's epoch summary says it). */
void cli_progress_step(cli_progress *p, size_t step, size_t samples, double loss);

/* On a terminal, replaces the live line with `text` (e.g. while testing), so a
 * long pause never looks like a hang; elsewhere prints nothing. */
void cli_progress_status(cli_progress *p, const char *text);

/* Removes the live line so the next message starts on a clean line. */
void cli_progress_clear(cli_progress *p);

/* A duration as m:ss or h:mm:ss. */
void cli_format_duration(double seconds, char *buf, size_t size);

/* The width of the terminal `out` is, else $COLUMNS, else 80 (at least 20). */
int cli_terminal_columns(FILE *out);

/* The live line for a terminal `columns` wide (without \r or escapes) into
 * buf: the bar shrinks, then the rate and the step count are dropped, and
 * what is left is cut so the line never reaches the last column. */
void cli_progress_format(char *buf, size_t cap, int columns, int epoch, int epochs, size_t step, size_t steps,
                         double rate, double loss, const char *eta);

#endif
