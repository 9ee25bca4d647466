/* Run-time binding of libsoxr; see soxr_dl.h. */
#include "soxr_dl.h"

#include <string.h>

#if defined(_WIN32)

const char *sw_soxr_load(const char *path, sw_soxr_api *api) {
    (void)path;
    memset(api, 0, sizeof *api);
    return "run-time binding is not implemented on Windows";
}

#else
#include <dlfcn.h>

/* dlsym returns an object pointer; copying its bytes is the portable way to a function pointer */
#define SW_BIND(field, name)                         \
    do {                                             \
        void *sym_ = dlsym(h, name);                 \
        if (sym_ == NULL) {                          \
            dlclose(h);                              \
            memset(api, 0, sizeof *api);             \
            return "symbol " name " not exported";   \
        }                                            \
        memcpy(&api->field, &sym_, sizeof sym_);     \
    } while (0)

const char *sw_soxr_load(const char *path, sw_soxr_api *api) {
    memset(api, 0, sizeof *api);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) return "dlopen failed";
    SW_BIND(create, "soxr_create");
    SW_BIND(process, "soxr_process");
    SW_BIND(destroy, "soxr_delete");
    SW_BIND(clear, "soxr_clear");
    SW_BIND(delay, "soxr_delay");
    SW_BIND(io_spec, "soxr_io_spec");
    SW_BIND(quality_spec, "soxr_quality_spec");
    SW_BIND(version, "soxr_version");
    api->handle = h; /* never closed: streams may outlive any owner */
    return NULL;
}
#endif
