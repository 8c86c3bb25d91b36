/* example_interop.c — an application that has its own OpenCL context and kernels shares them with clae: its kernel
 * makes the training rows on the device, clae trains and encodes them there, its kernel reads the codes. */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>

#include <clae.h>

/* The application's own kernels: rows of D pixels in [0, 1] (a soft bar at a position that depends on the row),
 * and the squared length of each row of codes. */
static const char *app_source =
    "__kernel void make_rows(__global float *x, uint D) {\n"
    "    uint r = get_global_id(1), c = get_global_id(0);\n"
    "    if (c >= D) return;\n"
    "    float center = (float)(r % 7) * (float)D / 7.0f;\n"
    "    float d = ((float)c - center) / 3.0f;\n"
    "    x[r * D + c] = exp(-d * d);\n"
    "}\n"
    "__kernel void code_norms(__global const float *z, uint K, __global float *out) {\n"
    "    uint r = get_global_id(0);\n"
    "    float s = 0.0f;\n"
    "    for (uint k = 0; k < K; k++) s += z[r * K + k] * z[r * K + k];\n"
    "    out[r] = s;\n"
    "}\n";

static int fail(const char *what, cl_int err)
{
    fprintf(stderr, "example_interop: %s failed (%d)\n", what, err);
    return 1;
}

int main(void)
{
    /* The application's OpenCL: the first device of the first platform, one context, one in-order queue. */
    cl_platform_id platform;
    cl_device_id device;
    cl_int err;
    if ((err = clGetPlatformIDs(1, &platform, NULL)) != CL_SUCCESS) return fail("clGetPlatformIDs", err);
    if ((err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL)) != CL_SUCCESS)
        return fail("clGetDeviceIDs", err);
    cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS) return fail("clCreateContext", err);
    cl_command_queue queue = clCreateCommandQueue(ctx, device, 0, &err);
    if (err != CL_SUCCESS) return fail("clCreateCommandQueue", err);
    cl_program prog = clCreateProgramWithSource(ctx, 1, &app_source, NULL, &err);
    if (err != CL_SUCCESS || (err = clBuildProgram(prog, 1, &device, "", NULL, NULL)) != CL_SUCCESS)
        return fail("building the application's kernels", err);

    enum { D = 64, K = 8, ROWS = 256, BATCH = 64, EPOCHS = 30 };
    cl_mem x = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof(float) * D * ROWS, NULL, &err);
    cl_mem codes = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof(float) * K * ROWS, NULL, &err);
    cl_mem norms = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof(float) * ROWS, NULL, &err);
    if (err != CL_SUCCESS) return fail("clCreateBuffer", err);
    cl_kernel make_rows = clCreateKernel(prog, "make_rows", &err);
    cl_kernel code_norms = clCreateKernel(prog, "code_norms", &err);
    if (err != CL_SUCCESS) return fail("clCreateKernel", err);
    cl_uint d = D, k = K;
    clSetKernelArg(make_rows, 0, sizeof x, &x);
    clSetKernelArg(make_rows, 1, sizeof d, &d);
    size_t grid[2] = {D, ROWS};
    if ((err = clEnqueueNDRangeKernel(queue, make_rows, 2, NULL, grid, NULL, 0, NULL, NULL)) != CL_SUCCESS)
        return fail("make_rows", err);

    /* clae on the same context and queue: its commands follow make_rows, no copy through the host. */
    clae_runtime *rt = NULL;
    clae_model *m = NULL;
    clae_model_config cfg;
    clae_model_config_default(&cfg);
    cfg.batch = BATCH;
    cfg.lr = 3e-3f;
    if (clae_runtime_wrap(ctx, device, queue, &rt) != CLAE_OK || clae_model_config_set_layers(&cfg, "64,32,8,32,64") != CLAE_OK ||
        clae_model_create(rt, &cfg, &m) != CLAE_OK) {
        fprintf(stderr, "example_interop: %s\n", clae_last_error());
        return 1;
    }
    float first = 0.0f, loss = 0.0f;
    for (int e = 0; e < EPOCHS; e++)
        for (size_t r = 0; r < ROWS; r += BATCH) {
            /* The loss is asked for once an epoch: without it a step does not wait for the device at all. */
            float *want = r + BATCH == ROWS ? &loss : NULL;
            if (clae_model_train_step_cl(m, x, r * D, BATCH, want) != CLAE_OK) {
                fprintf(stderr, "example_interop: %s\n", clae_last_error());
                return 1;
            }
            if (e == 0 && want) first = loss;
        }
    if (clae_model_encode_cl(m, x, 0, ROWS, codes, 0) != CLAE_OK) {
        fprintf(stderr, "example_interop: %s\n", clae_last_error());
        return 1;
    }
    /* The application's kernel reads clae's codes straight away: the in-order queue orders them. */
    clSetKernelArg(code_norms, 0, sizeof codes, &codes);
    clSetKernelArg(code_norms, 1, sizeof k, &k);
    clSetKernelArg(code_norms, 2, sizeof norms, &norms);
    size_t rows = ROWS;
    if ((err = clEnqueueNDRangeKernel(queue, code_norms, 1, NULL, &rows, NULL, 0, NULL, NULL)) != CL_SUCCESS)
        return fail("code_norms", err);
    float out[ROWS];
    if ((err = clEnqueueReadBuffer(queue, norms, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL)) != CL_SUCCESS)
        return fail("reading the norms", err);
    printf("example_interop: loss %.4f -> %.4f over %d epochs on the application's buffer; |code|^2 of rows 0..6:",
           (double)first, (double)loss, EPOCHS);
    for (int r = 0; r < 7; r++) printf(" %.3f", (double)out[r]);
    printf("\n");
    int ok = loss < first;
    clae_model_destroy(m);
    clae_runtime_close(rt); /* clae's references only: the application's objects are still its own */
    clReleaseKernel(make_rows);
    clReleaseKernel(code_norms);
    clReleaseMemObject(x);
    clReleaseMemObject(codes);
    clReleaseMemObject(norms);
    clReleaseProgram(prog);
    clReleaseCommandQueue(queue);
    clReleaseContext(ctx);
    if (!ok) fprintf(stderr, "example_interop: the loss did not fall\n");
    return ok ? 0 : 1;
}
