/* core.h — errors, checked arithmetic, bounded reader, platform seam, thread pool. */
#ifndef SLM_CORE_H
#define SLM_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

/* Sets err (if not NULL) to `status` with a printf-style message; returns `status`. */
slm_status slm_fail(slm_error *err, slm_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Overflow-checked size arithmetic: return 0 on overflow, 1 on success. */
static inline int slm_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int slm_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}
static inline size_t slm_align_up(size_t n, size_t align) { return (n + align - 1) & ~(align - 1); }

/* 32-bit FNV-1a of n bytes: the hash of every string table in slm. */
static inline uint32_t slm_fnv1a(const void *p, size_t n) {
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

/* 64-bit FNV-1a of n bytes continuing from h (start with SLM_FNV64_OFFSET): checksums of token
 * files and checkpoints, the document split. */
#define SLM_FNV64_OFFSET 14695981039346656037ULL
static inline uint64_t slm_fnv1a64(const void *p, size_t n, uint64_t h) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* splitmix64: advances *s and returns the next 64-bit value (seeded random streams, hashing of
 * positions in a training run). */
static inline uint64_t slm_splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A bounded reader over a byte range: every read checks the remaining length first. */
typedef struct slm_reader {
    const uint8_t *base; /* (size) */
    size_t size;
    size_t pos;
} slm_reader;

int slm_reader_i32(slm_reader *r, int32_t *v);   /* 0 if fewer than 4 bytes remain */
int slm_reader_u32(slm_reader *r, uint32_t *v);
int slm_reader_f32(slm_reader *r, float *v);
/* Returns a pointer to the next n bytes and advances, or NULL if fewer remain. */
const void *slm_reader_take(slm_reader *r, size_t n);

/* ---- platform seam: files, time, memory (all OS #ifdefs live in platform.c) */

/* Maps a whole file read-only; on success data and size describe it. Unmap with slm_unmap. */
slm_status slm_map_file(const char *path, const void **data, size_t *size, slm_error *err);
void slm_unmap(const void *data, size_t size);
/* Tells the OS the whole pages inside [data, data + size) of a mapping will not be read again:
 * they leave the resident set (a later read maps them in again). No-op where unsupported. */
void slm_map_release(const void *data, size_t size);
/* A large zeroed allocation for weights (huge pages where the OS offers them: fewer page faults
 * and TLB misses when streamed), or NULL; free with slm_free_large(p, size). */
void *slm_alloc_large(size_t size);
void slm_free_large(void *p, size_t size);
double slm_time_seconds(void); /* monotonic */
/* The CPUs this process may run on (its affinity mask where the OS has one), at least 1. */
int slm_cpus_available(void);
/* A spin-wait hint to the CPU (x86 PAUSE; nothing elsewhere). */
static inline void slm_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A buffered writer to a temp file that becomes `path` atomically on commit. */
typedef struct slm_file_writer slm_file_writer;
slm_status slm_writer_open(const char *path, slm_file_writer **out, slm_error *err);
slm_status slm_writer_write(slm_file_writer *w, const void *data, size_t size, slm_error *err);
slm_status slm_writer_commit(slm_file_writer *w, slm_error *err);   /* fsync + rename + free */
void slm_writer_abort(slm_file_writer *w);                         /* delete temp + free */
/* Writes size bytes at byte offset `offset` of what was written so far (e.g. a header last); later
 * writes still append. */
slm_status slm_writer_write_at(slm_file_writer *w, uint64_t offset, const void *data, size_t size, slm_error *err);
/* A scratch file for data written in one pass and then appended to a writer: created in the
 * directory of `near` (the output's, so it has the room) and unlinked at once, so that no exit
 * leaves it behind. Write with slm_writer_write; free with slm_writer_abort. */
slm_status slm_writer_open_scratch(const char *near, slm_file_writer **out, slm_error *err);
/* Appends everything written to `scratch` so far to w. */
slm_status slm_writer_append(slm_file_writer *w, slm_file_writer *scratch, slm_error *err);

/* A file read front to back in pieces (not mapped: any size, pipes too). `path` must outlive it. */
typedef struct slm_file_stream slm_file_stream;
slm_status slm_stream_open(const char *path, slm_file_stream **out, slm_error *err);
/* Reads up to cap bytes into buf; *got is 0 only at the end of the file. */
slm_status slm_stream_read(slm_file_stream *s, void *buf, size_t cap, size_t *got, slm_error *err);
void slm_stream_close(slm_file_stream *s);

/* ---- thread pool: runs fn(arg, i, n) for i in [0, n) on n workers (the caller is worker 0) */

typedef struct slm_pool slm_pool;
typedef void (*slm_pool_fn)(void *arg, int thread_index, int n_threads);
slm_status slm_pool_create(int n_threads, slm_pool **out, slm_error *err);
void slm_pool_free(slm_pool *pool);
/* Runs fn on every thread and returns when all are done. pool may be NULL (runs inline). */
void slm_pool_run(slm_pool *pool, slm_pool_fn fn, void *arg);
/* Inside a slm_pool_run: waits until all n_threads threads of the run have called it (a counter
 * and a phase; waiters spin, then yield their core). NULL pool or one thread: returns at once. */
void slm_pool_barrier(slm_pool *pool, int n_threads);
/* Wakes sleeping workers without giving them work: they spin again for a while (a job dispatched
 * to a sleeping worker waits for the OS, and for the host to run an idle vCPU: milliseconds here).
 * Returns at once. */
void slm_pool_nudge(slm_pool *pool);
/* Whether a job would start at once on every thread: no worker sleeps, every worker has been seen
 * running in the last 200 us (its count of jobs and stretches of spinning moved between two calls:
 * a host that has not yet given an idle vCPU back runs nothing on it for a millisecond or two), and
 * none last ran on the caller's CPU. For the thread that runs jobs; it records the caller's CPU,
 * and a spinning worker that finds itself there moves to another CPU it may run on (or, where it
 * cannot, yields). NULL pool: 1. */
int slm_pool_ready(slm_pool *pool);

#endif
