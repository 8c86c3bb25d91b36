/* clae_mpi.c — `clae train --mpi`: this process's rank among mpirun's, and the sums the trainer's data-parallel
 * split needs (clae_gradient_reduce_fn) through MPI_Allreduce. Without Open MPI at build time, --mpi says so. */
#include "clae_cli.h"

#include <stdio.h>

#ifdef CLAE_WITH_MPI
#include <mpi.h>

static int mpi_up;
static double comm_seconds;

int cli_mpi_built(void) { return 1; }

int cli_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    int provided = 0;
    /* One thread calls MPI: the trainer's reduce hook runs on the thread that called clae_model_train. */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "clae train: --mpi: MPI_Init failed\n");
        return -1;
    }
    mpi_up = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

clae_status cli_mpi_sum(float *values, size_t n, void *user)
{
    (void)user;
    const double t0 = MPI_Wtime();
    /* MPI counts are ints: a bucket larger than 2^31 floats goes in pieces (the same pieces in every rank). */
    while (n > 0) {
        const int chunk = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, values, chunk, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return CLAE_ERR_IO;
        values += chunk;
        n -= (size_t)chunk;
    }
    comm_seconds += MPI_Wtime() - t0;
    return CLAE_OK;
}

int cli_mpi_any(int flag)
{
    int any = flag != 0;
    const double t0 = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    comm_seconds += MPI_Wtime() - t0;
    return any;
}

double cli_mpi_comm_seconds(void) { return comm_seconds; }

void cli_mpi_abort(int rc)
{
    if (mpi_up) MPI_Abort(MPI_COMM_WORLD, rc ? rc : 1);
}

void cli_mpi_finalize(void)
{
    if (mpi_up) MPI_Finalize();
    mpi_up = 0;
}

#else

int cli_mpi_built(void) { return 0; }

int cli_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    (void)argc;
    (void)argv;
    *rank = 0;
    *size = 1;
    fprintf(stderr, "clae train: --mpi: this clae was built without MPI; install Open MPI (libopenmpi-dev, "
                    "openmpi-bin: tools/install-deps.sh) and rebuild, then run it under mpirun\n");
    return -1;
}

clae_status cli_mpi_sum(float *values, size_t n, void *user)
{
    (void)values;
    (void)n;
    (void)user;
    return CLAE_ERR_ARG;
}

int cli_mpi_any(int flag) { return flag; }
double cli_mpi_comm_seconds(void) { return 0.0; }
void cli_mpi_abort(int rc) { (void)rc; }
void cli_mpi_finalize(void) {}

#endif
