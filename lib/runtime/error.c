/* error.c — per-thread last-error messages, status and OpenCL error names, small public helpers.
 * Every failing call formats its message here so clae_last_error() can always explain it. */
#include "runtime/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

/* Thread-local so concurrent runtimes on different threads never see each
 * other's messages. */
static _Thread_local char last_error[CLAE_ERROR_MAX];

clae_status clae_fail(clae_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void clae_fail_append(const char *fmt, ...)
{
    size_t len = strlen(last_error);
    if (len + 1 >= sizeof last_error) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + len, sizeof last_error - len, fmt, ap);
    va_end(ap);
}

void clae_error_copy_to(char *dst)
{
    if (!dst) return;
    /* memmove: a caller may pass clae_last_error()'s own buffer back in. */
    size_t len = strlen(last_error);
    memmove(dst, last_error, len + 1);
}

const char *clae_last_error(void) { return last_error; }

const char *clae_status_string(clae_status status)
{
    static const char *const names[CLAE_STATUS_COUNT] = {
        [CLAE_OK] = "CLAE_OK",
        [CLAE_ERR_ARG] = "CLAE_ERR_ARG",
        [CLAE_ERR_NOMEM] = "CLAE_ERR_NOMEM",
        [CLAE_ERR_IO] = "CLAE_ERR_IO",
        [CLAE_ERR_FORMAT] = "CLAE_ERR_FORMAT",
        [CLAE_ERR_TRUNCATED] = "CLAE_ERR_TRUNCATED",
        [CLAE_ERR_SHAPE] = "CLAE_ERR_SHAPE",
        [CLAE_ERR_DEVICE] = "CLAE_ERR_DEVICE",
        [CLAE_ERR_OPENCL] = "CLAE_ERR_OPENCL",
        [CLAE_ERR_BUILD] = "CLAE_ERR_BUILD",
        [CLAE_ERR_CACHE] = "CLAE_ERR_CACHE",
        [CLAE_ERR_DEVICE_MEM] = "CLAE_ERR_DEVICE_MEM",
        [CLAE_ERR_NUMERIC] = "CLAE_ERR_NUMERIC",
    };
    if ((int)status < 0 || status >= CLAE_STATUS_COUNT || !names[status]) return "CLAE_ERR_UNKNOWN";
    return names[status];
}

const char *clae_device_type_string(clae_device_type type)
{
    switch (type) {
    case CLAE_DEVICE_CPU_REF: return "cpu-ref";
    case CLAE_DEVICE_CPU: return "cpu";
    case CLAE_DEVICE_GPU: return "gpu";
    case CLAE_DEVICE_ACCELERATOR: return "accelerator";
    case CLAE_DEVICE_OTHER: break;
    }
    return "other";
}

void clae_free(void *ptr) { free(ptr); }

const char *clae_cl_error_name(int code)
{
    switch (code) {
#define E(x) \
    case x: return #x;
        E(CL_SUCCESS)
        E(CL_DEVICE_NOT_FOUND)
        E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE)
        E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        E(CL_OUT_OF_RESOURCES)
        E(CL_OUT_OF_HOST_MEMORY)
        E(CL_PROFILING_INFO_NOT_AVAILABLE)
        E(CL_MEM_COPY_OVERLAP)
        E(CL_IMAGE_FORMAT_MISMATCH)
        E(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        E(CL_BUILD_PROGRAM_FAILURE)
        E(CL_MAP_FAILURE)
        E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        E(CL_COMPILE_PROGRAM_FAILURE)
        E(CL_LINKER_NOT_AVAILABLE)
        E(CL_LINK_PROGRAM_FAILURE)
        E(CL_DEVICE_PARTITION_FAILED)
        E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        E(CL_INVALID_VALUE)
        E(CL_INVALID_DEVICE_TYPE)
        E(CL_INVALID_PLATFORM)
        E(CL_INVALID_DEVICE)
        E(CL_INVALID_CONTEXT)
        E(CL_INVALID_QUEUE_PROPERTIES)
        E(CL_INVALID_COMMAND_QUEUE)
        E(CL_INVALID_HOST_PTR)
        E(CL_INVALID_MEM_OBJECT)
        E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        E(CL_INVALID_IMAGE_SIZE)
        E(CL_INVALID_SAMPLER)
        E(CL_INVALID_BINARY)
        E(CL_INVALID_BUILD_OPTIONS)
        E(CL_INVALID_PROGRAM)
        E(CL_INVALID_PROGRAM_EXECUTABLE)
        E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL_DEFINITION)
        E(CL_INVALID_KERNEL)
        E(CL_INVALID_ARG_INDEX)
        E(CL_INVALID_ARG_VALUE)
        E(CL_INVALID_ARG_SIZE)
        E(CL_INVALID_KERNEL_ARGS)
        E(CL_INVALID_WORK_DIMENSION)
        E(CL_INVALID_WORK_GROUP_SIZE)
        E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_OFFSET)
        E(CL_INVALID_EVENT_WAIT_LIST)
        E(CL_INVALID_EVENT)
        E(CL_INVALID_OPERATION)
        E(CL_INVALID_GL_OBJECT)
        E(CL_INVALID_BUFFER_SIZE)
        E(CL_INVALID_MIP_LEVEL)
        E(CL_INVALID_GLOBAL_WORK_SIZE)
        E(CL_INVALID_PROPERTY)
        E(CL_INVALID_IMAGE_DESCRIPTOR)
        E(CL_INVALID_COMPILER_OPTIONS)
        E(CL_INVALID_LINKER_OPTIONS)
        E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: break;
    }
    return "CL_UNKNOWN_ERROR";
}
