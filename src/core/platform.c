/* platform.c — the one OS seam: file mapping and streaming reads, clocks, memory statistics, atomic file writes.
 * POSIX here; a bare-metal build replaces this file (see docs/embedding.md). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#if defined(__linux__)
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

slm_status slm_map_file(const char *path, const void **data, size_t *size, slm_error *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return slm_fail(err, SLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return slm_fail(err, SLM_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return slm_fail(err, SLM_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return slm_fail(err, SLM_ERR_FORMAT, "%s: file is empty", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return slm_fail(err, SLM_ERR_IO, "%s: file too large to map", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return slm_fail(err, SLM_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    *data = p;
    *size = (size_t)st.st_size;
    return SLM_OK;
}

void slm_unmap(const void *data, size_t size) {
    if (data) munmap((void *)data, size);
}

void slm_map_release(const void *data, size_t size) {
#ifdef MADV_DONTNEED
    long page = sysconf(_SC_PAGESIZE);
    if (!data || page <= 0) return;
    uintptr_t a = ((uintptr_t)data + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t b = ((uintptr_t)data + size) / (uintptr_t)page * (uintptr_t)page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
#else
    (void)data, (void)size;
#endif
}

void *slm_alloc_large(size_t size) {
#if defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE)
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    madvise(p, size, MADV_HUGEPAGE); /* a hint: without it (or where it fails) small pages serve */
    return p;
#else
    return calloc(1, size);
#endif
}

void slm_free_large(void *p, size_t size) {
#if defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE)
    if (p) munmap(p, size);
#else
    (void)size;
    free(p);
#endif
}

double slm_time_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int slm_cpus_available(void) {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

struct slm_file_writer {
    FILE *f;
    char *path;
    char *tmp;
};

slm_status slm_writer_open(const char *path, slm_file_writer **out, slm_error *err) {
    slm_file_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    w->path = malloc(n + 1);
    w->tmp = malloc(n + 32);
    if (!w->path || !w->tmp) {
        free(w->path), free(w->tmp), free(w);
        return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->path, path, n + 1);
    snprintf(w->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        int e = errno;
        free(w->path), free(w->tmp), free(w);
        return slm_fail(err, SLM_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    *out = w;
    return SLM_OK;
}

slm_status slm_writer_write(slm_file_writer *w, const void *data, size_t size, slm_error *err) {
    if (size && fwrite(data, 1, size, w->f) != size)
        return slm_fail(err, SLM_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    return SLM_OK;
}

void slm_writer_abort(slm_file_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->tmp) remove(w->tmp); /* a scratch file has no name left to remove */
    free(w->path), free(w->tmp), free(w);
}

slm_status slm_writer_write_at(slm_file_writer *w, uint64_t offset, const void *data, size_t size, slm_error *err) {
    if (offset > (uint64_t)INT64_MAX || fflush(w->f) != 0 || fseeko(w->f, (off_t)offset, SEEK_SET) != 0 ||
        fwrite(data, 1, size, w->f) != size || fseeko(w->f, 0, SEEK_END) != 0)
        return slm_fail(err, SLM_ERR_IO, "%s: write at offset %llu failed: %s", w->path, (unsigned long long)offset,
                        strerror(errno));
    return SLM_OK;
}

slm_status slm_writer_open_scratch(const char *near, slm_file_writer **out, slm_error *err) {
    slm_file_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(near);
    char *name = malloc(n + 16);
    if (!w || !name || !(w->path = malloc(n + 1))) {
        free(w ? w->path : NULL), free(w), free(name);
        return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", near);
    }
    memcpy(w->path, near, n + 1);
    snprintf(name, n + 16, "%s.scratch.XXXXXX", near);
    int fd = mkstemp(name), e = errno;
    if (fd >= 0) unlink(name);
    free(name);
    if (fd < 0 || !(w->f = fdopen(fd, "w+b"))) {
        if (fd >= 0) e = errno, close(fd);
        free(w->path), free(w);
        return slm_fail(err, SLM_ERR_IO, "%s: cannot create a scratch file beside it: %s", near, strerror(e));
    }
    *out = w;
    return SLM_OK;
}

slm_status slm_writer_append(slm_file_writer *w, slm_file_writer *scratch, slm_error *err) {
    char buf[1 << 16];
    size_t n;
    if (fflush(scratch->f) != 0 || fseeko(scratch->f, 0, SEEK_SET) != 0)
        return slm_fail(err, SLM_ERR_IO, "%s: scratch file: %s", scratch->path, strerror(errno));
    while ((n = fread(buf, 1, sizeof buf, scratch->f)) > 0)
        if (fwrite(buf, 1, n, w->f) != n) return slm_fail(err, SLM_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    if (ferror(scratch->f)) return slm_fail(err, SLM_ERR_IO, "%s: scratch file: read failed", scratch->path);
    return SLM_OK;
}

struct slm_file_stream {
    int fd;
    const char *path;
};

slm_status slm_stream_open(const char *path, slm_file_stream **out, slm_error *err) {
    slm_file_stream *s = malloc(sizeof *s);
    if (!s) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    if ((s->fd = open(path, O_RDONLY)) < 0) {
        int e = errno;
        free(s);
        return slm_fail(err, SLM_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    s->path = path;
    *out = s;
    return SLM_OK;
}

slm_status slm_stream_read(slm_file_stream *s, void *buf, size_t cap, size_t *got, slm_error *err) {
    ssize_t n;
    do n = read(s->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0) return slm_fail(err, SLM_ERR_IO, "%s: read failed: %s", s->path, strerror(errno));
    *got = (size_t)n;
    return SLM_OK;
}

void slm_stream_close(slm_file_stream *s) {
    if (!s) return;
    close(s->fd);
    free(s);
}

slm_status slm_writer_commit(slm_file_writer *w, slm_error *err) {
    slm_status st = SLM_OK;
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        st = slm_fail(err, SLM_ERR_IO, "%s: flush failed: %s", w->path, strerror(errno));
    if (fclose(w->f) != 0 && st == SLM_OK)
        st = slm_fail(err, SLM_ERR_IO, "%s: close failed: %s", w->path, strerror(errno));
    w->f = NULL;
    if (st == SLM_OK && rename(w->tmp, w->path) != 0)
        st = slm_fail(err, SLM_ERR_IO, "%s: rename failed: %s", w->path, strerror(errno));
    if (st != SLM_OK) remove(w->tmp);
    free(w->path), free(w->tmp), free(w);
    return st;
}
