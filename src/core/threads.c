/* threads.c — a small fork/join pool: the caller is worker 0; workers spin briefly on a
 * generation counter, then sleep on a condition variable, so a dispatch costs well under a
 * microsecond while work keeps arriving (decode) and no CPU while idle. */
#define _POSIX_C_SOURCE 200809L
#if defined(__linux__)
#define _GNU_SOURCE /* sched_getcpu */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core.h"

/* Spin this many pause iterations before sleeping (workers) or yielding (the caller). Spinning
 * only pays while both threads run; on a shared or oversubscribed machine a waiter must give its
 * core away soon, or it burns the time slice of the thread it waits for. */
enum { SPIN_ITERS = 1 << 14 };
/* A barrier inside a job waits for work split evenly, so a long wait means the other thread lost
 * its core: it yields much sooner (a decode step meets several barriers per layer). */
enum { BARRIER_SPIN_ITERS = 1 << 11 };
/* A spinning worker's beat moves every 256 pauses (about 6 us here): one not seen to move for this
 * long (seconds) is taken as not running. */
#define RUNNING_WINDOW 200e-6

typedef struct worker {
    slm_pool *pool;
    int index;
    atomic_int cpu;     /* the CPU it last ran on (-1: unknown) */
    atomic_uint beat;   /* counts its jobs and stretches of spinning: it moves while the thread runs */
    unsigned seen_beat; /* the caller's: beat when slm_pool_ready last saw it move, and when */
    double seen_at;
} worker;

/* The CPU the calling thread runs on, or -1 where the OS does not say. */
static int current_cpu(void) {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

/* Moves the calling thread off `cpu` to another CPU it may run on, and gives it back the CPUs it
 * had (the scheduler has no reason to move it back while both run): 1 if it moved. Linux only;
 * elsewhere, or where the thread may run on `cpu` alone, nothing happens. */
static int move_off(int cpu) {
#if defined(__linux__)
    cpu_set_t had, other;
    if (cpu < 0 || cpu >= CPU_SETSIZE || pthread_getaffinity_np(pthread_self(), sizeof had, &had) != 0 ||
        !CPU_ISSET(cpu, &had) || CPU_COUNT(&had) < 2)
        return 0;
    other = had;
    CPU_CLR(cpu, &other);
    if (pthread_setaffinity_np(pthread_self(), sizeof other, &other) != 0) return 0;
    pthread_setaffinity_np(pthread_self(), sizeof had, &had);
    return 1;
#else
    (void)cpu;
    return 0;
#endif
}

struct slm_pool {
    int n_threads;
    pthread_t *threads; /* (n_threads - 1) */
    worker *workers;    /* (n_threads - 1) */
    slm_pool_fn fn;
    void *arg;
    atomic_uint generation;
    atomic_int pending;
    atomic_int n_sleeping;
    atomic_int stop;
    atomic_uint nudge; /* bumped by slm_pool_nudge: sleeping workers go back to spinning */
    atomic_int caller_cpu; /* the CPU slm_pool_ready last saw the caller on (-1: unknown) */
    atomic_int bar_count;
    atomic_uint bar_phase;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *worker_main(void *p) {
    worker *w = p;
    slm_pool *pool = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop)) {
            if (spins % 256 == 0) {
                int cpu = current_cpu();
                atomic_store_explicit(&w->cpu, cpu, memory_order_relaxed);
                atomic_fetch_add_explicit(&w->beat, 1, memory_order_relaxed);
                /* on the caller's CPU, spinning takes time from the caller (a small model's tokens
                 * then ran 8 times slower until the host moved this thread), and yielding alone left
                 * it there for the rest of a short run: move to another CPU, or give the CPU back */
                if (cpu >= 0 && cpu == atomic_load_explicit(&pool->caller_cpu, memory_order_relaxed) && !move_off(cpu))
                    sched_yield();
            }
            if (++spins < SPIN_ITERS) {
                slm_cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            atomic_fetch_add(&pool->n_sleeping, 1);
            unsigned nudge = atomic_load(&pool->nudge);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop) && atomic_load(&pool->nudge) == nudge)
                pthread_cond_wait(&pool->cv, &pool->mu);
            atomic_fetch_sub(&pool->n_sleeping, 1);
            pthread_mutex_unlock(&pool->mu);
            spins = 0;
        }
        if (atomic_load(&pool->stop)) return NULL;
        seen = gen;
        pool->fn(pool->arg, w->index, pool->n_threads);
        atomic_fetch_add_explicit(&w->beat, 1, memory_order_relaxed);
        atomic_fetch_sub(&pool->pending, 1);
    }
}

static void wake_all(slm_pool *pool) {
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->cv);
        pthread_mutex_unlock(&pool->mu);
    }
}

slm_status slm_pool_create(int n_threads, slm_pool **out, slm_error *err) {
    if (n_threads < 1 || n_threads > 1024)
        return slm_fail(err, SLM_ERR_ARG, "thread count %d out of range 1..1024", n_threads);
    slm_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return slm_fail(err, SLM_ERR_NOMEM, "thread pool: out of memory");
    pool->n_threads = n_threads;
    atomic_init(&pool->caller_cpu, -1);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    if (n_threads > 1) {
        pool->threads = calloc((size_t)n_threads - 1, sizeof *pool->threads);
        pool->workers = calloc((size_t)n_threads - 1, sizeof *pool->workers);
        if (!pool->threads || !pool->workers) {
            free(pool->threads), free(pool->workers), free(pool);
            return slm_fail(err, SLM_ERR_NOMEM, "thread pool: out of memory");
        }
        for (int i = 0; i < n_threads - 1; i++) {
            pool->workers[i].pool = pool, pool->workers[i].index = i + 1;
            atomic_init(&pool->workers[i].cpu, -1);
            atomic_init(&pool->workers[i].beat, 0);
            pool->workers[i].seen_beat = 0, pool->workers[i].seen_at = -1;
            if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->workers[i]) != 0) {
                pool->n_threads = i + 1; /* stop the ones already started */
                slm_pool_free(pool);
                return slm_fail(err, SLM_ERR_NOMEM, "thread pool: cannot start thread %d", i + 1);
            }
        }
    }
    *out = pool;
    return SLM_OK;
}

void slm_pool_free(slm_pool *pool) {
    if (!pool) return;
    atomic_store(&pool->stop, 1);
    pthread_mutex_lock(&pool->mu);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n_threads - 1; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool->threads);
    free(pool->workers);
    free(pool);
}

void slm_pool_run(slm_pool *pool, slm_pool_fn fn, void *arg) {
    if (!pool || pool->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store(&pool->pending, pool->n_threads - 1);
    atomic_fetch_add(&pool->generation, 1);
    wake_all(pool);
    fn(arg, 0, pool->n_threads);
    for (int spins = 0; atomic_load(&pool->pending) > 0; spins++) {
        if (spins < SPIN_ITERS) slm_cpu_relax();
        else sched_yield();
    }
}

void slm_pool_nudge(slm_pool *pool) {
    if (!pool || pool->n_threads == 1) return;
    atomic_fetch_add(&pool->nudge, 1); /* sequentially consistent: read after it, in wake_all */
    wake_all(pool);
}

int slm_pool_ready(slm_pool *pool) {
    if (!pool || pool->n_threads == 1) return 1;
    int ready = atomic_load(&pool->n_sleeping) == 0, cpu = current_cpu();
    atomic_store_explicit(&pool->caller_cpu, cpu, memory_order_relaxed);
    double now = slm_time_seconds();
    for (int i = 0; i < pool->n_threads - 1; i++) {
        worker *w = &pool->workers[i];
        unsigned b = atomic_load_explicit(&w->beat, memory_order_relaxed);
        if (b != w->seen_beat) w->seen_beat = b, w->seen_at = now;
        ready &= now - w->seen_at < RUNNING_WINDOW && (cpu < 0 || atomic_load_explicit(&w->cpu, memory_order_relaxed) != cpu);
    }
    return ready;
}

void slm_pool_barrier(slm_pool *pool, int n_threads) {
    if (!pool || n_threads <= 1) return;
    unsigned phase = atomic_load(&pool->bar_phase);
    if (atomic_fetch_add(&pool->bar_count, 1) == n_threads - 1) {
        atomic_store(&pool->bar_count, 0);
        atomic_fetch_add(&pool->bar_phase, 1); /* releases the others */
        return;
    }
    for (int spins = 0; atomic_load(&pool->bar_phase) == phase; spins++) {
        if (spins < BARRIER_SPIN_ITERS) slm_cpu_relax();
        else sched_yield();
    }
}
