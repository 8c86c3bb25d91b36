/* runtime.c — runtime open/close, kernels and launches, buffers and stats.
 * Everything the ops need from OpenCL goes through here; cpu-ref runs the same API on host memory. */
#include "runtime/runtime_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Open / close                                                              */
/* ------------------------------------------------------------------------ */

static clae_status open_opencl(clae_runtime *rt, cl_platform_id platform, cl_device_id device)
{
    cl_int err;
    rt->platform = platform;
    rt->device = device;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    rt->ctx = clCreateContext(props, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return clae_fail(CLAE_ERR_OPENCL, "%s: clCreateContext failed: %s", rt->info.name, clae_cl_error_name(err));
    rt->queue = clCreateCommandQueue(rt->ctx, device, 0, &err);
    if (err != CL_SUCCESS)
        return clae_fail(CLAE_ERR_OPENCL, "%s: clCreateCommandQueue failed: %s", rt->info.name,
                         clae_cl_error_name(err));

    clae_rt_probe_device(rt);
    clae_rt_cache_dir_from_env(rt->cache_dir, sizeof rt->cache_dir);
    /* Nothing is compiled here: a model uses a few of the programs, and each costs a compile
     * when cold, so each is built when one of its kernels is first asked for. */
    return clae_rt_scan_programs(rt);
}

clae_status clae_rt_wrap(cl_context ctx, cl_device_id device, cl_command_queue queue, clae_runtime **out)
{
    *out = NULL;
    if (!ctx || !device || !queue)
        return clae_fail(CLAE_ERR_ARG, "clae_runtime_wrap: context, device and queue must not be NULL");
    /* The queue must belong to that context and device, and run its commands in order: clae enqueues a step
     * as a sequence whose order is its only synchronisation. */
    cl_context qctx = NULL;
    cl_device_id qdev = NULL;
    cl_command_queue_properties qp = 0;
    if (clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL) != CL_SUCCESS ||
        clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qdev, &qdev, NULL) != CL_SUCCESS ||
        clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qp, &qp, NULL) != CL_SUCCESS)
        return clae_fail(CLAE_ERR_ARG, "clae_runtime_wrap: the queue cannot be queried (not a valid cl_command_queue?)");
    if (qctx != ctx || qdev != device)
        return clae_fail(CLAE_ERR_ARG, "clae_runtime_wrap: the queue belongs to another %s",
                         qctx != ctx ? "context" : "device");
    if (qp & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
        return clae_fail(CLAE_ERR_ARG, "clae_runtime_wrap: the queue is out of order; clae needs an in-order queue");
    clae_rt_device_list l;
    long idx;
    clae_status s = clae_rt_find_device_handle(device, &l, &idx);
    if (s != CLAE_OK) return s;
    clae_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        clae_rt_device_list_free(&l);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory wrapping a runtime");
    }
    rt->info = l.info[idx];
    rt->platform = l.platform[idx];
    clae_rt_device_list_free(&l);
    /* clae's own references, released at clae_runtime_close; the caller's stay the caller's. */
    rt->wrapped = 1;
    rt->device = device;
    rt->ctx = ctx;
    rt->queue = queue;
    clRetainContext(ctx);
    clRetainCommandQueue(queue);
    clae_rt_probe_device(rt);
    clae_rt_cache_dir_from_env(rt->cache_dir, sizeof rt->cache_dir);
    s = clae_rt_scan_programs(rt);
    if (s != CLAE_OK) {
        clae_runtime_close(rt);
        return s;
    }
    *out = rt;
    return CLAE_OK;
}

clae_status clae_rt_open(const char *spec, clae_runtime **out)
{
    *out = NULL;
    clae_rt_device_list l;
    long idx;
    clae_status s = clae_rt_find_device(spec, &l, &idx);
    if (s != CLAE_OK) return s;

    clae_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        clae_rt_device_list_free(&l);
        return clae_fail(CLAE_ERR_NOMEM, "out of memory opening a runtime");
    }
    rt->info = l.info[idx];
    /* The default fell through to cpu-ref because OpenCL is missing: a user who expected their GPU must hear
     * why, not find out from the speed. A cpu-ref asked for by name needs no note. */
    const char *env = getenv("CLAE_DEVICE");
    if (rt->info.type == CLAE_DEVICE_CPU_REF && (!spec || !*spec) && (!env || !*env) && l.no_opencl[0])
        snprintf(rt->note, sizeof rt->note, "%s: running on cpu-ref, the plain C reference path", l.no_opencl);
    if (rt->info.type == CLAE_DEVICE_CPU_REF) {
        rt->is_ref = 1;
        rt->mem_align_bytes = sizeof(float);
        rt->has_fp64 = 1;
        rt->vector_width_float = 1;
    } else {
        s = open_opencl(rt, l.platform[idx], l.device[idx]);
    }
    clae_rt_device_list_free(&l);
    if (s != CLAE_OK) {
        clae_runtime_close(rt);
        return s;
    }
    *out = rt;
    return CLAE_OK;
}

void clae_runtime_close(clae_runtime *rt)
{
    if (!rt) return;
    for (int i = 0; i < rt->n_kernels; i++)
        if (rt->kernels[i].kernel) clReleaseKernel(rt->kernels[i].kernel);
    for (int i = 0; i < rt->n_programs; i++)
        if (rt->programs[i]) clReleaseProgram(rt->programs[i]);
    free(rt->decls);
    if (rt->queue) {
        /* A wrapped queue is the caller's to finish: clae waits only for the staged write whose host copy it
         * is about to free. */
        if (!rt->wrapped) clFinish(rt->queue);
        else if (rt->stage_event) clWaitForEvents(1, &rt->stage_event);
        clReleaseCommandQueue(rt->queue);
    }
    if (rt->stage_event) clReleaseEvent(rt->stage_event);
    if (rt->ctx) clReleaseContext(rt->ctx);
    if (rt->gemm_state_free) rt->gemm_state_free(rt->gemm_state);
    free(rt->stage); /* after clFinish: no write reads it any more */
    free(rt);
}

clae_status clae_runtime_device(const clae_runtime *rt, clae_device_info *out)
{
    if (!rt || !out) return clae_fail(CLAE_ERR_ARG, "clae_runtime_device: runtime and out must not be NULL");
    *out = rt->info;
    return CLAE_OK;
}

const char *clae_runtime_build_options(const clae_runtime *rt) { return rt ? rt->options : ""; }

const char *clae_runtime_error(const clae_runtime *rt) { return rt ? rt->error : ""; }

clae_status clae_runtime_stats_get(const clae_runtime *rt, clae_runtime_stats *out)
{
    if (!rt || !out) return clae_fail(CLAE_ERR_ARG, "clae_runtime_stats_get: runtime and out must not be NULL");
    *out = rt->stats;
    return CLAE_OK;
}

const char *clae_runtime_cache_dir(const clae_runtime *rt) { return rt ? rt->cache_dir : ""; }

const char *clae_runtime_note(const clae_runtime *rt)
{
    if (!rt) return "";
    return rt->note[0] ? rt->note : rt->cache_note;
}

clae_status clae_rt_fail(clae_runtime *rt, clae_status status)
{
    if (rt) clae_error_copy_to(rt->error);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Kernels and launches                                                      */
/* ------------------------------------------------------------------------ */

/* The work-group size of a new kernel: see clae_rt_kernel_wg. */
static size_t kernel_wg(const clae_runtime *rt, cl_kernel k)
{
    size_t wg = 64, kmax = 0;
    const char *d = strstr(rt->options, "-DCLAE_WG=");
    if (d) {
        long v = strtol(d + strlen("-DCLAE_WG="), NULL, 10);
        if (v > 0) wg = (size_t)v;
    }
    if (clGetKernelWorkGroupInfo(k, rt->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL) == CL_SUCCESS &&
        kmax > 0 && kmax < wg)
        wg = kmax;
    return wg;
}

/* Program p's kernel `name` into the kernel table, building p first if it is not built yet:
 * CLAE_OK with *out set, CLAE_OK with *out NULL when p does not make it, or p's build failure. */
static clae_status kernel_from(clae_runtime *rt, int p, const char *name, cl_kernel *out, size_t *wg, cl_int *err)
{
    clae_status s = clae_rt_build_program(rt, p);
    if (s != CLAE_OK) return s;
    cl_kernel k = clCreateKernel(rt->programs[p], name, err);
    if (*err != CL_SUCCESS || !k) return CLAE_OK;
    clae_kernel_entry *e = &rt->kernels[rt->n_kernels++];
    clae_rt_copy_str(e->name, sizeof e->name, name);
    e->kernel = k;
    e->wg = kernel_wg(rt, k);
    if (wg) *wg = e->wg;
    *out = k;
    return CLAE_OK;
}

clae_status clae_rt_kernel_get(clae_runtime *rt, const char *name, cl_kernel *out, size_t *wg)
{
    if (out) *out = NULL;
    if (!rt || !name || !out)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_rt_kernel_get: runtime, name and out must not be NULL"));
    if (rt->is_ref)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: cpu-ref has no OpenCL kernels", name));
    for (int i = 0; i < rt->n_kernels; i++)
        if (strcmp(rt->kernels[i].name, name) == 0) {
            if (wg) *wg = rt->kernels[i].wg;
            *out = rt->kernels[i].kernel;
            return CLAE_OK;
        }
    if (strlen(name) >= sizeof rt->kernels[0].name)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: name too long", name));
    if (rt->n_kernels >= CLAE_MAX_KERNELS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: more than %d kernels in use", name,
                                          CLAE_MAX_KERNELS));
    cl_int err = CL_INVALID_KERNEL_NAME;
    /* First the programs the scan at open saw declare it, in name order as when every program
     * was built at open; only these get built. */
    unsigned char tried[CLAE_MAX_PROGRAMS] = {0};
    for (size_t d = 0; d < rt->n_decls; d++) {
        if (strcmp(rt->decls[d].name, name) != 0) continue;
        int p = rt->decls[d].program;
        tried[p] = 1;
        clae_status s = kernel_from(rt, p, name, out, wg, &err);
        if (s != CLAE_OK) return clae_rt_fail(rt, s);
        if (*out) return CLAE_OK;
    }
    /* Then, should the scan have missed a declaration (one a macro writes), every other program,
     * as an eager build would have found it. An unknown name pays for building them all; the
     * library's own kernels never get here (the runtime suite checks each one's placement). */
    for (int p = 0; p < rt->n_programs; p++) {
        if (tried[p]) continue;
        clae_status s = kernel_from(rt, p, name, out, wg, &err);
        if (s != CLAE_OK) return clae_rt_fail(rt, s);
        if (*out) return CLAE_OK;
    }
    return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "kernel %s: not found in any of %d programs (%s)", name,
                                      rt->n_programs, clae_cl_error_name(err)));
}

cl_kernel clae_rt_kernel(clae_runtime *rt, const char *name) { return clae_rt_kernel_wg(rt, name, NULL); }

cl_kernel clae_rt_kernel_wg(clae_runtime *rt, const char *name, size_t *wg)
{
    cl_kernel k = NULL;
    if (!rt || !name) return NULL;
    clae_rt_kernel_get(rt, name, &k, wg);
    return k;
}

static size_t round_up(size_t v, size_t m) { return m ? (v + m - 1) / m * m : v; }

clae_status clae_rt_enqueue_1d(clae_runtime *rt, cl_kernel k, const char *what, size_t global, size_t local)
{
    if (!rt || rt->is_ref || !k)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: enqueue needs an OpenCL runtime and kernel",
                                          what ? what : "kernel"));
    /* An empty range is legal for callers but CL_INVALID_GLOBAL_WORK_SIZE for OpenCL. */
    if (global == 0) return CLAE_OK;
    size_t g = round_up(global, local);
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, 1, NULL, &g, local ? &local : NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "%s: clEnqueueNDRangeKernel (global %zu, local %zu) failed: %s",
                                          what ? what : "kernel", g, local, clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_rt_enqueue_2d(clae_runtime *rt, cl_kernel k, const char *what, size_t g0, size_t g1, size_t l0,
                               size_t l1)
{
    if (!rt || rt->is_ref || !k)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: enqueue needs an OpenCL runtime and kernel",
                                          what ? what : "kernel"));
    if (g0 == 0 || g1 == 0) return CLAE_OK;
    int use_local = l0 > 0 && l1 > 0;
    size_t g[2] = {use_local ? round_up(g0, l0) : g0, use_local ? round_up(g1, l1) : g1};
    size_t l[2] = {l0, l1};
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, 2, NULL, g, use_local ? l : NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL,
                                          "%s: clEnqueueNDRangeKernel (global %zux%zu, local %zux%zu) failed: %s",
                                          what ? what : "kernel", g[0], g[1], l0, l1, clae_cl_error_name(err)));
    return CLAE_OK;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

clae_status clae_buf_alloc(clae_runtime *rt, size_t n, clae_buf *out)
{
    if (!rt || !out) return clae_fail(CLAE_ERR_ARG, "clae_buf_alloc: runtime and out must not be NULL");
    memset(out, 0, sizeof *out);
    /* A zero-length buffer still gets real memory so every buffer is valid to
     * pass as a kernel argument. */
    size_t alloc = n ? n : 1;
    if (alloc > SIZE_MAX / sizeof(float))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_alloc: %zu floats overflow size_t", n));
    size_t bytes = alloc * sizeof(float);
    if (rt->is_ref) {
        float *p = calloc(alloc, sizeof(float));
        if (!p) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "out of memory allocating %zu bytes", bytes));
        out->host = p;
    } else {
        if (rt->info.max_alloc_bytes && bytes > rt->info.max_alloc_bytes)
            return clae_rt_fail(rt, clae_fail(CLAE_ERR_DEVICE_MEM,
                                              "%s: a buffer of %zu bytes exceeds the device's largest allocation "
                                              "(%llu bytes)",
                                              rt->info.name, bytes, (unsigned long long)rt->info.max_alloc_bytes));
        cl_int err;
        cl_mem m = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (err != CL_SUCCESS) {
            clae_status s = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
                             err == CL_INVALID_BUFFER_SIZE)
                                ? CLAE_ERR_DEVICE_MEM
                                : CLAE_ERR_OPENCL;
            return clae_rt_fail(rt, clae_fail(s, "%s: clCreateBuffer of %zu bytes failed: %s", rt->info.name, bytes,
                                              clae_cl_error_name(err)));
        }
        out->mem = m;
    }
    out->n = n;
    out->owns = 1;
    return CLAE_OK;
}

void clae_buf_free(clae_buf *b)
{
    if (!b) return;
    if (b->owns) {
        free(b->host);
        if (b->mem) clReleaseMemObject(b->mem);
    }
    memset(b, 0, sizeof *b);
}

clae_buf clae_buf_view(clae_buf parent, size_t off, size_t n)
{
    /* No status to return here, so a view is clamped to its parent; the
     * read/write helpers then reject any access past its end. */
    if (off > parent.n) off = parent.n;
    if (n > parent.n - off) n = parent.n - off;
    clae_buf v;
    v.host = parent.host ? parent.host + off : NULL;
    v.mem = parent.mem;
    /* A dry run's placeholders (neither host nor device memory) are told apart by their offsets. */
    v.off = (parent.mem || !parent.host) ? parent.off + off : 0;
    v.n = n;
    v.owns = 0;
    return v;
}

clae_status clae_buf_mem(clae_runtime *rt, clae_buf b, cl_mem *out)
{
    *out = NULL;
    if (!b.mem) return CLAE_OK;
    size_t whole = 0;
    if (clGetMemObjectInfo(b.mem, CL_MEM_SIZE, sizeof whole, &whole, NULL) == CL_SUCCESS && b.off == 0 &&
        whole == b.n * sizeof(float)) {
        clRetainMemObject(b.mem);
        *out = b.mem;
        return CLAE_OK;
    }
    cl_buffer_region region = {b.off * sizeof(float), b.n * sizeof(float)};
    cl_int err;
    *out = clCreateSubBuffer(b.mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clCreateSubBuffer (offset %zu, %zu bytes) failed: %s",
                                          region.origin, region.size, clae_cl_error_name(err)));
    }
    return CLAE_OK;
}

void clae_mem_release(cl_mem mem)
{
    if (mem) clReleaseMemObject(mem);
}

static clae_status check_range(clae_runtime *rt, const char *what, clae_buf b, size_t off, size_t n)
{
    if (!rt) return clae_fail(CLAE_ERR_ARG, "%s: runtime must not be NULL", what);
    if (off > b.n || n > b.n - off)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: floats [%zu, %zu) outside a buffer of %zu", what, off,
                                          off + n, b.n));
    if (n > 0 && !rt->trace && (rt->is_ref ? !b.host : !b.mem))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "%s: buffer does not belong to this runtime's device", what));
    return CLAE_OK;
}

void clae_rt_trace(clae_runtime *rt, clae_trace *t) { rt->trace = t; }

void clae_rt_trace_use(clae_runtime *rt, clae_buf b)
{
    if (rt->trace && b.n) rt->trace->use(rt->trace, b);
}

/* In a dry run a transfer only reports its buffer (see clae_trace). */
static int traced(clae_runtime *rt, clae_buf b)
{
    if (!rt->trace) return 0;
    clae_rt_trace_use(rt, b);
    return 1;
}

clae_status clae_buf_write(clae_runtime *rt, clae_buf dst, size_t off, const float *src, size_t n)
{
    clae_status s = check_range(rt, "clae_buf_write", dst, off, n);
    if (s != CLAE_OK || n == 0 || traced(rt, dst)) return s;
    if (!src) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_write: source must not be NULL"));
    if (rt->is_ref) {
        memcpy(dst.host + off, src, n * sizeof(float));
        return CLAE_OK;
    }
    cl_int err = clEnqueueWriteBuffer(rt->queue, dst.mem, CL_TRUE, (dst.off + off) * sizeof(float),
                                      n * sizeof(float), src, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clEnqueueWriteBuffer of %zu floats failed: %s", n,
                                          clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_buf_write_staged(clae_runtime *rt, clae_buf dst, size_t off, const float *src, size_t n)
{
    if (!rt || rt->is_ref || n == 0 || !src) return clae_buf_write(rt, dst, off, src, n); /* nothing to overlap */
    clae_status s = check_range(rt, "clae_buf_write_staged", dst, off, n);
    if (s != CLAE_OK || traced(rt, dst)) return s;
    if (n > rt->stage_cap - rt->stage_used) {
        /* Earlier staged writes may still be reading what is there: wait for them, then start over. */
        if (rt->stage_pending && (s = clae_rt_finish(rt)) != CLAE_OK) return s;
        rt->stage_used = 0;
        if (n > rt->stage_cap) {
            size_t cap = n > 2 * rt->stage_cap ? n : 2 * rt->stage_cap;
            float *p = realloc(rt->stage, cap * sizeof *p);
            if (!p)
                return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "clae_buf_write_staged: no host memory for %zu floats", cap));
            rt->stage = p;
            rt->stage_cap = cap;
        }
    }
    float *copy = rt->stage + rt->stage_used;
    memcpy(copy, src, n * sizeof(float));
    cl_event ev = NULL;
    cl_int err = clEnqueueWriteBuffer(rt->queue, dst.mem, CL_FALSE, (dst.off + off) * sizeof(float),
                                      n * sizeof(float), copy, 0, NULL, rt->wrapped ? &ev : NULL);
    if (ev) {
        if (rt->stage_event) clReleaseEvent(rt->stage_event);
        rt->stage_event = ev;
    }
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clEnqueueWriteBuffer of %zu floats failed: %s", n,
                                          clae_cl_error_name(err)));
    rt->stage_used += n;
    rt->stage_pending = 1;
    return CLAE_OK;
}

clae_status clae_buf_copy_from_mem(clae_runtime *rt, clae_buf dst, size_t dst_off, cl_mem src, size_t src_off, size_t n)
{
    clae_status s = check_range(rt, "clae_buf_copy_from_mem", dst, dst_off, n);
    if (s != CLAE_OK || n == 0 || traced(rt, dst)) return s;
    if (rt->is_ref || !src) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_copy_from_mem: needs an OpenCL runtime and a source"));
    cl_int err = clEnqueueCopyBuffer(rt->queue, src, dst.mem, src_off * sizeof(float), (dst.off + dst_off) * sizeof(float),
                                     n * sizeof(float), 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "copying %zu floats from the caller's buffer (at float %zu) failed: %s",
                                          n, src_off, clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_buf_copy_to_mem(clae_runtime *rt, clae_buf src, size_t src_off, cl_mem dst, size_t dst_off, size_t n)
{
    clae_status s = check_range(rt, "clae_buf_copy_to_mem", src, src_off, n);
    if (s != CLAE_OK || n == 0 || traced(rt, src)) return s;
    if (rt->is_ref || !dst) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_copy_to_mem: needs an OpenCL runtime and a destination"));
    cl_int err = clEnqueueCopyBuffer(rt->queue, src.mem, dst, (src.off + src_off) * sizeof(float), dst_off * sizeof(float),
                                     n * sizeof(float), 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "copying %zu floats into the caller's buffer (at float %zu) failed: %s",
                                          n, dst_off, clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_host_staging_alloc(clae_runtime *rt, size_t n, clae_host_staging *out)
{
    if (!rt || !out) return clae_fail(CLAE_ERR_ARG, "clae_host_staging_alloc: runtime and out must not be NULL");
    memset(out, 0, sizeof *out);
    const size_t alloc = n ? n : 1;
    if (alloc > SIZE_MAX / sizeof(float))
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_host_staging_alloc: %zu floats overflow size_t", n));
    const size_t bytes = alloc * sizeof(float);
    if (rt->is_ref) {
        out->ptr = calloc(alloc, sizeof(float));
        if (!out->ptr) return clae_rt_fail(rt, clae_fail(CLAE_ERR_NOMEM, "out of memory allocating %zu bytes", bytes));
        out->n = n;
        return CLAE_OK;
    }
    cl_int err;
    cl_mem m = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES
                                              ? CLAE_ERR_DEVICE_MEM : CLAE_ERR_OPENCL,
                                          "%s: host staging of %zu bytes: clCreateBuffer failed: %s", rt->info.name,
                                          bytes, clae_cl_error_name(err)));
    void *p = clEnqueueMapBuffer(rt->queue, m, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, NULL, NULL, &err);
    if (err != CL_SUCCESS || !p) {
        clReleaseMemObject(m);
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "%s: mapping %zu bytes of host staging failed: %s",
                                          rt->info.name, bytes, clae_cl_error_name(err)));
    }
    memset(p, 0, bytes);
    out->ptr = p;
    out->n = n;
    out->mem = m;
    out->queue = rt->queue;
    return CLAE_OK;
}

void clae_host_staging_free(clae_host_staging *s)
{
    if (!s) return;
    if (s->mem) {
        cl_event ev = NULL;
        if (clEnqueueUnmapMemObject(s->queue, s->mem, s->ptr, 0, NULL, &ev) == CL_SUCCESS && ev) {
            clWaitForEvents(1, &ev);
            clReleaseEvent(ev);
        }
        clReleaseMemObject(s->mem);
    } else {
        free(s->ptr);
    }
    memset(s, 0, sizeof *s);
}

clae_status clae_buf_read(clae_runtime *rt, clae_buf src, size_t off, float *dst, size_t n)
{
    clae_status s = check_range(rt, "clae_buf_read", src, off, n);
    if (s != CLAE_OK || n == 0 || traced(rt, src)) return s;
    if (!dst) return clae_rt_fail(rt, clae_fail(CLAE_ERR_ARG, "clae_buf_read: destination must not be NULL"));
    if (rt->is_ref) {
        memcpy(dst, src.host + off, n * sizeof(float));
        return CLAE_OK;
    }
    cl_int err = clEnqueueReadBuffer(rt->queue, src.mem, CL_TRUE, (src.off + off) * sizeof(float),
                                     n * sizeof(float), dst, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clEnqueueReadBuffer of %zu floats failed: %s", n,
                                          clae_cl_error_name(err)));
    rt->stage_pending = 0; /* a blocking read on the in-order queue: every earlier command is done */
    rt->stage_used = 0;
    return CLAE_OK;
}

clae_status clae_buf_zero(clae_runtime *rt, clae_buf b)
{
    clae_status s = check_range(rt, "clae_buf_zero", b, 0, b.n);
    if (s != CLAE_OK || b.n == 0 || traced(rt, b)) return s;
    if (rt->is_ref) {
        memset(b.host, 0, b.n * sizeof(float));
        return CLAE_OK;
    }
    const float zero = 0.0f;
    cl_int err = clEnqueueFillBuffer(rt->queue, b.mem, &zero, sizeof zero, b.off * sizeof(float),
                                     b.n * sizeof(float), 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "clEnqueueFillBuffer of %zu floats failed: %s", b.n,
                                          clae_cl_error_name(err)));
    return CLAE_OK;
}

clae_status clae_rt_finish(clae_runtime *rt)
{
    if (!rt) return clae_fail(CLAE_ERR_ARG, "clae_rt_finish: runtime must not be NULL");
    if (rt->is_ref) return CLAE_OK;
    /* On a wrapped queue, a marker: it completes with every command enqueued before it (the queue is in
     * order) and leaves commands other threads enqueue later alone, where clFinish would wait for them too. */
    cl_event marker = NULL;
    cl_int err = rt->wrapped ? clEnqueueMarkerWithWaitList(rt->queue, 0, NULL, &marker) : clFinish(rt->queue);
    if (err == CL_SUCCESS && marker) err = clWaitForEvents(1, &marker);
    if (marker) clReleaseEvent(marker);
    if (err != CL_SUCCESS)
        return clae_rt_fail(rt, clae_fail(CLAE_ERR_OPENCL, "waiting for the queue failed: %s", clae_cl_error_name(err)));
    rt->stage_pending = 0;
    rt->stage_used = 0;
    return CLAE_OK;
}

void clae_rt_set_gemm_workspace(clae_runtime *rt, cl_mem mem, size_t bytes)
{
    rt->gemm_workspace = mem;
    rt->gemm_workspace_bytes = mem ? bytes : 0;
}
