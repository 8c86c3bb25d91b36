/* error.h — internal error reporting: format a message, keep it per thread and per handle.
 * Every failing library call goes through clae_fail() so clae_last_error() always explains it. */
#ifndef CLAE_ERROR_H
#define CLAE_ERROR_H

#include "clae.h"

#define CLAE_ERROR_MAX 8192

/* Formats the message into the thread's last-error buffer and returns status,
 * so callers can write `return clae_fail(CLAE_ERR_IO, "%s: cannot open", path);`. */
clae_status clae_fail(clae_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Appends text to the current last-error message (for build logs, device lists). */
void clae_fail_append(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Copies the thread's last-error message into a handle's buffer (CLAE_ERROR_MAX bytes). */
void clae_error_copy_to(char *dst);

/* A name for an OpenCL error code, e.g. "CL_OUT_OF_RESOURCES". */
const char *clae_cl_error_name(int code);

#endif
