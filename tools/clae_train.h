/* clae_train.h — what `clae train`'s two files share: the parsed command line, the run's results and
 * curves, and the summary, JSON, plot and resume-check printers of clae_train_out.c. */
#ifndef CLAE_TRAIN_H
#define CLAE_TRAIN_H

#include <stddef.h>

#include "clae.h"
#include "clae_cli.h"

#define CLI_MAX_DEVICES 8 /* --devices' list at most */

typedef struct train_opts {
    char data[1024], test[1024];
    int data_given, test_given;
    const char *device;
    int device_given; /* --device was on the command line (--devices sets `device` too) */
    /* Data parallelism: --devices' list (the first is `device`, the others train replicas in this process), or
     * --mpi (this process is rank mpi_rank of mpi_size started by mpirun). */
    char devices[CLI_MAX_DEVICES][256];
    int n_devices; /* 0 without --devices */
    int mpi, mpi_rank, mpi_size;
    long epochs, limit, test_limit; /* limits: 0 = all rows */
    long max_steps;                 /* 0 = no limit */
    int no_training;                /* --steps 0: build (or convert) the model, test and save it */
    long checkpoint_every;          /* 0 = only at the end */
    int no_shuffle, resume;
    const char *out, *init, *checkpoint, *plot;
    clae_scale_kind scale;
    int scale_given;
    cli_data_opts cols;      /* --skip-columns, --label-column */
    double validation_split; /* 0: none */
    int json, quiet;
    cli_model_opts model;
    clae_model_config cfg; /* model.cfg once parsed */
    clae_pretrain_options pretrain; /* --pretrain, --pretrain-epochs, --pretrain-lr */
} train_opts;

/* A growing list of chart points. */
typedef struct cli_curve {
    double *x, *y;
    size_t n, cap;
} cli_curve;

/* Appends the point (x, y); -1 out of memory. */
int cli_curve_add(cli_curve *c, double x, double y);
/* Frees the points and empties c. */
void cli_curve_free(cli_curve *c);

typedef struct train_result {
    long epochs_done;
    double train_loss, test_mse;
    double train_seconds, seconds;
    size_t samples;
    int interrupted;
    int resumed;
    clae_train_position start; /* where this run began */
    char variant[256];         /* clae_model_describe() */
    double penalty;            /* the regularizers' share of the last step's loss */
    double code_mean;          /* mean code activation over the test set (sparse variants), else NAN */
    /* An adversarial autoencoder's last epoch: its phases' mean losses, the discriminator's accuracy and the share
     * of codes that fooled it (clae_train_report's epoch_*); NAN for other models. */
    double disc_loss, disc_accuracy, gen_loss, fooled;
    /* Pretraining (--pretrain): each encoder layer's reconstruction error after its last epoch, and its seconds. */
    int pretrained_layers;
    double pretrain_mse[CLAE_MAX_LAYERS / 2], pretrain_seconds[CLAE_MAX_LAYERS / 2];
    cli_curve test_curve, train_curve, step_curve; /* --plot */
    char devices[1024];  /* --devices: the devices' names, ", "-separated ("" without) */
    double comm_seconds; /* --mpi: this rank's seconds in MPI collectives */
} train_result;

/* `clae train`'s own parser: fills o from argv (argv[0] "train"); -1 to go on, or an exit status after printing
 * why. `clae grid` checks each combination's flags with it, so the grid refuses exactly what train would. */
int cli_train_parse(int argc, char **argv, train_opts *o);

/* Draws --plot. Returns 0, or prints the problem and returns -1. */
int cli_train_write_plot(const train_opts *o, const train_result *r);
/* The summary as one JSON line on stdout (--json); -1 after printing why. */
int cli_train_print_json(const train_opts *o, const clae_device_info *dev, clae_model *m, const train_result *r,
                         const clae_dataset *train, const clae_dataset *test);
/* The summary as aligned lines on stdout. */
void cli_train_print_summary(const train_opts *o, const clae_device_info *dev, clae_model *m, const train_result *r);
/* The first setting in which the checkpoint's model f differs from the
 * command line's c, as "--flag: the checkpoint has X, the command line Y" in
 * buf (cap bytes); 0 if none. */
int cli_train_config_mismatch(const clae_model_config *f, const clae_model_config *c, char *buf, size_t cap);

#endif
