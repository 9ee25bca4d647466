/* libsoxr 0.1.x, reached at run time through the copy that python-soxr's extension module
 * links and exports (soxr_create, soxr_process, ...), so the native resampler calls
 * soxr_process directly per chunk without a Python-level call or a numpy array.
 *
 * The types follow the documented libsoxr 0.1.x API (soxr.h): datatypes, the io and quality
 * specs (returned by value by soxr_io_spec / soxr_quality_spec) and the function
 * signatures. Only the calls the resampler needs are bound.
 */
#ifndef SCRIBEWIRE_SOXR_DL_H
#define SCRIBEWIRE_SOXR_DL_H

#include <stddef.h>

/* soxr_datatype_t: interleaved sample types */
enum { SW_SOXR_FLOAT32_I = 0, SW_SOXR_FLOAT64_I = 1, SW_SOXR_INT32_I = 2, SW_SOXR_INT16_I = 3 };

/* Quality recipes (soxr_quality_spec's first argument): QQ, LQ, MQ, HQ (20-bit), VHQ (28-bit) */
enum { SW_SOXR_QQ = 0, SW_SOXR_LQ = 1, SW_SOXR_MQ = 2, SW_SOXR_HQ = 4, SW_SOXR_VHQ = 6 };

typedef struct sw_soxr *sw_soxr_t;
typedef const char *sw_soxr_error_t; /* NULL: no error */

typedef struct {
    int itype, otype; /* soxr_datatype_t */
    double scale;
    void *e;
    unsigned long flags;
} sw_soxr_io_spec;

typedef struct {
    double precision, phase_response, passband_end, stopband_begin;
    void *e;
    unsigned long flags;
} sw_soxr_quality_spec;

typedef struct {
    void *handle;
    sw_soxr_t (*create)(double input_rate, double output_rate, unsigned num_channels,
                        sw_soxr_error_t *error, const sw_soxr_io_spec *io,
                        const sw_soxr_quality_spec *quality, const void *runtime);
    sw_soxr_error_t (*process)(sw_soxr_t s, const void *in, size_t ilen, size_t *idone,
                               void *out, size_t olen, size_t *odone);
    void (*destroy)(sw_soxr_t s); /* soxr_delete */
    sw_soxr_error_t (*clear)(sw_soxr_t s);
    double (*delay)(sw_soxr_t s);
    sw_soxr_io_spec (*io_spec)(int itype, int otype);
    sw_soxr_quality_spec (*quality_spec)(unsigned long recipe, unsigned long flags);
    const char *(*version)(void);
} sw_soxr_api;

/* Opens the shared object at path (RTLD_NOW | RTLD_LOCAL; it stays loaded) and binds the
 * API. Returns NULL on success, else a static message (the api is then all NULL). */
const char *sw_soxr_load(const char *path, sw_soxr_api *api);

#endif /* SCRIBEWIRE_SOXR_DL_H */
