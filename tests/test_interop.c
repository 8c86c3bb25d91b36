/* test_interop.c — clae on the caller's OpenCL objects: clae_runtime_wrap's contract (retain and release, the
 * queue checks) and the *_cl calls on caller-made buffers, whose results must equal the host-array calls'. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "test_util.h"

#define OKS(expr) ck_assert_msg((expr) == CLAE_OK, "%s: %s", #expr, clae_last_error())

/* The caller's own context and in-order queue on the device the suite tests. */
typedef struct caller {
    cl_context ctx;
    cl_device_id dev;
    cl_command_queue q;
} caller;

static caller caller_open(cl_command_queue_properties props)
{
    clae_runtime *rt = test_rt_cl();
    caller c = {NULL, rt->device, NULL};
    cl_int err;
    cl_context_properties cp[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->platform, 0};
    c.ctx = clCreateContext(cp, 1, &c.dev, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    c.q = clCreateCommandQueue(c.ctx, c.dev, props, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return c;
}

static void caller_close(caller *c)
{
    clReleaseCommandQueue(c->q);
    clReleaseContext(c->ctx);
}

static cl_uint ctx_refs(cl_context ctx)
{
    cl_uint n = 0;
    ck_assert_int_eq(clGetContextInfo(ctx, CL_CONTEXT_REFERENCE_COUNT, sizeof n, &n, NULL), CL_SUCCESS);
    return n;
}

static cl_uint queue_refs(cl_command_queue q)
{
    cl_uint n = 0;
    ck_assert_int_eq(clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof n, &n, NULL), CL_SUCCESS);
    return n;
}

/* Wrapping holds one reference each to the context and queue and close gives exactly those back, leaving the
 * caller's objects working; a queue of another context, an out-of-order queue and NULLs are refused. */
START_TEST(test_wrap_contract)
{
    caller c = caller_open(0), other = caller_open(0);
    clae_runtime *rt = NULL;
    ck_assert_int_eq(clae_runtime_wrap(NULL, c.dev, c.q, &rt), CLAE_ERR_ARG);
    ck_assert_ptr_null(rt);
    ck_assert_int_eq(clae_runtime_wrap(c.ctx, c.dev, other.q, &rt), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "another context"), "%s", clae_last_error());
    cl_int err;
    cl_command_queue ooo = clCreateCommandQueue(c.ctx, c.dev, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    if (err == CL_SUCCESS) { /* a device without out-of-order queues cannot make one to refuse */
        ck_assert_int_eq(clae_runtime_wrap(c.ctx, c.dev, ooo, &rt), CLAE_ERR_ARG);
        ck_assert_msg(strstr(clae_last_error(), "in-order"), "%s", clae_last_error());
        clReleaseCommandQueue(ooo);
    }
    const cl_uint ctx0 = ctx_refs(c.ctx), q0 = queue_refs(c.q);
    OKS(clae_runtime_wrap(c.ctx, c.dev, c.q, &rt));
    ck_assert_ptr_eq(rt->ctx, c.ctx);
    ck_assert_ptr_eq(rt->queue, c.q);
    ck_assert_uint_eq(ctx_refs(c.ctx), ctx0 + 1);
    ck_assert_uint_eq(queue_refs(c.q), q0 + 1);
    clae_device_info info, want;
    OKS(clae_runtime_device(rt, &info));
    OKS(clae_runtime_device(test_rt_cl(), &want));
    ck_assert_str_eq(info.id, want.id);
    clae_runtime_close(rt);
    ck_assert_uint_eq(ctx_refs(c.ctx), ctx0);
    ck_assert_uint_eq(queue_refs(c.q), q0);
    /* The caller's queue still takes work. */
    float one = 1.0f, back = 0.0f;
    cl_mem b = clCreateBuffer(c.ctx, CL_MEM_READ_WRITE, sizeof one, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    ck_assert_int_eq(clEnqueueFillBuffer(c.q, b, &one, sizeof one, 0, sizeof one, 0, NULL, NULL), CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(c.q, b, CL_TRUE, 0, sizeof back, &back, 0, NULL, NULL), CL_SUCCESS);
    ck_assert(back == 1.0f);
    clReleaseMemObject(b);
    caller_close(&c);
    caller_close(&other);
}
END_TEST

static cl_mem upload(const caller *c, const float *x, size_t off, size_t n)
{
    cl_int err;
    cl_mem m = clCreateBuffer(c->ctx, CL_MEM_READ_WRITE, (off + n) * sizeof(float), NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    if (x && n) ck_assert_int_eq(clEnqueueWriteBuffer(c->q, m, CL_TRUE, off * sizeof(float), n * sizeof(float), x, 0, NULL, NULL),
                            CL_SUCCESS);
    return m;
}

static void download(const caller *c, cl_mem m, size_t off, float *out, size_t n)
{
    ck_assert_int_eq(clFinish(c->q), CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(c->q, m, CL_TRUE, off * sizeof(float), n * sizeof(float), out, 0, NULL, NULL),
                     CL_SUCCESS);
}

static void assert_same_bits(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof(float)) == 0, "%s[%zu]: %.9g (buffers) != %.9g (host arrays)", what, i,
                      (double)a[i], (double)b[i]);
}

/* A whole train/encode loop on caller-made buffers (offsets non-zero, more rows than a batch) gives the weights,
 * losses, codes, reconstructions and row errors of the host-array calls bit for bit. */
START_TEST(test_cl_calls_equal_host_calls)
{
    caller c = caller_open(0);
    clae_runtime *rt = NULL;
    OKS(clae_runtime_wrap(c.ctx, c.dev, c.q, &rt));
    clae_model_config cfg;
    clae_model_config_default(&cfg);
    OKS(clae_model_config_set_layers(&cfg, "40,24,8,24,40"));
    cfg.batch = 16;
    cfg.seed = 1234;
    clae_model *host = NULL, *dev = NULL;
    OKS(clae_model_create(rt, &cfg, &host));
    OKS(clae_model_create(rt, &cfg, &dev));
    const size_t D = 40, N = 48, K = 8, xoff = 5;
    float *x = malloc(N * D * sizeof *x);
    ck_assert_ptr_nonnull(x);
    test_fill_uniform(x, N * D, 77u, 0.0f, 1.0f);
    cl_mem X = upload(&c, x, xoff, N * D);
    for (int s = 0; s < 4; s++) {
        const size_t first = (size_t)(s % 3) * cfg.batch;
        float lh = 0.0f, ld = 0.0f;
        OKS(clae_model_train_step(host, x + first * D, (size_t)cfg.batch, s == 3 ? NULL : &lh));
        OKS(clae_model_train_step_cl(dev, X, xoff + first * D, (size_t)cfg.batch, s == 3 ? NULL : &ld));
        ck_assert_msg(memcmp(&lh, &ld, sizeof lh) == 0, "step %d: loss %.9g on buffers, %.9g on host arrays", s,
                      (double)ld, (double)lh);
    }
    for (int l = 0; l < 4; l++) {
        size_t nw = 0, nb = 0;
        OKS(clae_model_layer_sizes(host, l, &nw, &nb));
        float *w[2] = {malloc(nw * sizeof(float)), malloc(nw * sizeof(float))};
        float *b[2] = {malloc(nb * sizeof(float)), malloc(nb * sizeof(float))};
        OKS(clae_model_get_layer(dev, l, w[0], b[0]));
        OKS(clae_model_get_layer(host, l, w[1], b[1]));
        assert_same_bits(w[0], w[1], nw, "weights");
        assert_same_bits(b[0], b[1], nb, "biases");
        for (int i = 0; i < 2; i++) {
            free(w[i]);
            free(b[i]);
        }
    }
    /* Inference over 48 rows: three chunks of the batch. */
    float *want = malloc(N * D * sizeof *want), *got = malloc(N * D * sizeof *got);
    ck_assert(want && got);
    cl_mem out = upload(&c, NULL, 3, N * D);
    OKS(clae_model_encode(host, x, N, want));
    OKS(clae_model_encode_cl(dev, X, xoff, N, out, 3));
    download(&c, out, 3, got, N * K);
    assert_same_bits(got, want, N * K, "codes");
    OKS(clae_model_reconstruct(host, x, N, want));
    OKS(clae_model_reconstruct_cl(dev, X, xoff, N, out, 3));
    download(&c, out, 3, got, N * D);
    assert_same_bits(got, want, N * D, "reconstruction");
    OKS(clae_model_row_errors(host, x, N, want));
    OKS(clae_model_row_errors_cl(dev, X, xoff, N, out, 3));
    download(&c, out, 3, got, N);
    assert_same_bits(got, want, N, "row errors");
    /* Refusals name the buffer: too small, NULL, a cpu-ref model. */
    ck_assert_int_eq(clae_model_encode_cl(dev, X, xoff + 1, N, out, 3), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "x holds"), "%s", clae_last_error());
    ck_assert_int_eq(clae_model_reconstruct_cl(dev, X, xoff, N, out, 4), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "the output holds"), "%s", clae_last_error());
    ck_assert_int_eq(clae_model_train_step_cl(dev, NULL, 0, 4, NULL), CLAE_ERR_ARG);
    ck_assert_int_eq(clae_model_train_step_cl(dev, X, 0, (size_t)cfg.batch + 1, NULL), CLAE_ERR_ARG);
    clae_model *ref = NULL;
    OKS(clae_model_create(test_rt_ref(), &cfg, &ref));
    ck_assert_int_eq(clae_model_row_errors_cl(ref, X, 0, 1, out, 0), CLAE_ERR_ARG);
    ck_assert_msg(strstr(clae_last_error(), "cpu-ref"), "%s", clae_last_error());
    clae_model_destroy(ref);
    clReleaseMemObject(X);
    clReleaseMemObject(out);
    free(x);
    free(want);
    free(got);
    clae_model_destroy(host);
    clae_model_destroy(dev);
    clae_runtime_close(rt);
    caller_close(&c);
}
END_TEST

Suite *suite_interop(void)
{
    Suite *s = suite_create("interop");
    TCase *tc = tcase_create("interop");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_wrap_contract);
    tcase_add_test(tc, test_cl_calls_equal_host_calls);
    suite_add_tcase(s, tc);
    return s;
}
