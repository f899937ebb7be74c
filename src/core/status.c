/* status.c — status strings and error messages. */
#include <stdio.h>

#include "core.h"

const char *slm_strerror(slm_status status) {
    switch (status) {
    case SLM_OK: return "ok";
    case SLM_ERR_IO: return "input/output error";
    case SLM_ERR_FORMAT: return "invalid file format";
    case SLM_ERR_UNSUPPORTED: return "unsupported";
    case SLM_ERR_MISMATCH: return "inputs do not match";
    case SLM_ERR_ARG: return "invalid argument";
    case SLM_ERR_RANGE: return "out of range";
    case SLM_ERR_NOMEM: return "out of memory";
    case SLM_ERR_STOPPED: return "stopped";
    }
    return "unknown status";
}

slm_status slm_fail(slm_error *err, slm_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}
