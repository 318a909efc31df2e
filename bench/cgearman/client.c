/*
 * client: libgearman client used as the C baseline of the Gearman throughput
 * benchmark.  Submits JOBS foreground jobs of SIZE bytes to FUNC, WINDOW at a
 * time (gearman_client_add_task x WINDOW, then gearman_client_run_tasks), and
 * checks that every result equals its input (the worker is an echo).
 *
 * Usage: client HOST PORT FUNC JOBS [SIZE [WINDOW [UNIQUE]]]
 *   SIZE    workload bytes per job, default 16 (minimum 0)
 *   WINDOW  tasks added per run_tasks batch, default 1000
 *   UNIQUE  "own"  : client-side unique id per task ("<pid>-<n>"), default
 *           "null" : pass NULL, libgearman 1.1.20 then generates a UUID
 *                    (uuid_generate_time_safe) for every foreground task
 *
 * Output on success (stdout, exit 0):
 *   c_jobs_per_s N      integer, JOBS / elapsed seconds
 *   c_elapsed_s X       seconds, 6 decimals
 * The timer starts after the connection is up (one ECHO round trip) and
 * stops when the last result has been received and checked.
 *
 * On a failed task, a short/mismatched result or a libgearman error it prints
 * a message to stderr and exits 1.  Bad arguments: exit 2.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libgearman/gearman.h>

struct slot {
    const unsigned char *payload; /* expected result == input */
    size_t size;
    uint64_t seq;
    int done;
};

static size_t g_completed;
static int g_failed;

static void fill_payload(unsigned char *p, size_t size, uint64_t seq)
{
    /* Make every payload distinct (sequence number first, then a pattern)
     * so that a result delivered to the wrong task is detected. */
    for (size_t i = 0; i < size; i++)
        p[i] = (unsigned char)('a' + (seq + i) % 26);
    unsigned char tmp[sizeof(uint64_t)];
    memcpy(tmp, &seq, sizeof(seq));
    memcpy(p, tmp, size < sizeof(tmp) ? size : sizeof(tmp));
}

static gearman_return_t on_complete(gearman_task_st *task)
{
    struct slot *s = (struct slot *)gearman_task_context(task);
    const void *data = gearman_task_data(task);
    size_t n = gearman_task_data_size(task);

    if (s == NULL) {
        fprintf(stderr, "client: completed task without context\n");
        g_failed = 1;
        return GEARMAN_WORK_FAIL;
    }
    if (s->done) {
        fprintf(stderr, "client: job %" PRIu64 " completed twice\n", s->seq);
        g_failed = 1;
    }
    s->done = 1;
    if (n != s->size || (n > 0 && (data == NULL || memcmp(data, s->payload, n) != 0))) {
        fprintf(stderr, "client: job %" PRIu64 ": result mismatch (got %zu bytes, want %zu)\n",
                s->seq, n, s->size);
        g_failed = 1;
    }
    g_completed++;
    /* A non-success return makes gearman_client_run_tasks() stop early. */
    return g_failed ? GEARMAN_WORK_FAIL : GEARMAN_SUCCESS;
}

static gearman_return_t on_fail(gearman_task_st *task)
{
    struct slot *s = (struct slot *)gearman_task_context(task);
    fprintf(stderr, "client: job %" PRIu64 " failed (WORK_FAIL)\n", s ? s->seq : 0);
    g_failed = 1;
    return GEARMAN_WORK_FAIL;
}

static gearman_return_t on_exception(gearman_task_st *task)
{
    struct slot *s = (struct slot *)gearman_task_context(task);
    fprintf(stderr, "client: job %" PRIu64 " got WORK_EXCEPTION\n", s ? s->seq : 0);
    g_failed = 1;
    return GEARMAN_WORK_EXCEPTION;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || s[0] == '-')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s HOST PORT FUNC JOBS [SIZE [WINDOW [own|null]]]\n", argv0);
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 8) {
        usage(argv[0]);
        return 2;
    }
    const char *host = argv[1];
    const char *func = argv[3];
    uint64_t port, jobs, size = 16, window = 1000;
    int own_unique = 1;

    if (parse_u64(argv[2], &port) || port == 0 || port > 65535 ||
        parse_u64(argv[4], &jobs) ||
        (argc > 5 && parse_u64(argv[5], &size)) ||
        (argc > 6 && (parse_u64(argv[6], &window) || window == 0))) {
        usage(argv[0]);
        return 2;
    }
    if (argc > 7) {
        if (strcmp(argv[7], "own") == 0)
            own_unique = 1;
        else if (strcmp(argv[7], "null") == 0)
            own_unique = 0;
        else {
            usage(argv[0]);
            return 2;
        }
    }
    if (window > jobs && jobs > 0)
        window = jobs;

    signal(SIGPIPE, SIG_IGN);

    /* Payload buffers must stay alive until the batch has run: libgearman
     * references the workload instead of copying it. */
    struct slot *slots = calloc((size_t)window, sizeof(*slots));
    unsigned char *payloads = malloc((size_t)(window * (size ? size : 1)));
    if (slots == NULL || payloads == NULL) {
        fprintf(stderr, "client: out of memory\n");
        return 1;
    }
    char unique[64];
    unsigned pid = (unsigned)getpid();

    gearman_client_st *client = gearman_client_create(NULL);
    if (client == NULL) {
        fprintf(stderr, "client: gearman_client_create failed\n");
        return 1;
    }
    gearman_return_t rc = gearman_client_add_server(client, host, (in_port_t)port);
    if (gearman_failed(rc)) {
        fprintf(stderr, "client: add_server: %s\n", gearman_client_error(client));
        return 1;
    }
    gearman_client_set_complete_fn(client, on_complete);
    gearman_client_set_fail_fn(client, on_fail);
    gearman_client_set_exception_fn(client, on_exception);

    /* Connect before starting the clock. */
    rc = gearman_client_echo(client, "ping", 4);
    if (gearman_failed(rc)) {
        fprintf(stderr, "client: echo to %s:%" PRIu64 " failed: %s\n", host, port,
                gearman_client_error(client));
        return 1;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    uint64_t submitted = 0;
    while (submitted < jobs && !g_failed) {
        uint64_t batch = jobs - submitted;
        if (batch > window)
            batch = window;
        g_completed = 0;
        for (uint64_t i = 0; i < batch; i++) {
            uint64_t seq = submitted + i;
            unsigned char *p = payloads + i * size;
            struct slot *s = &slots[i];
            fill_payload(p, (size_t)size, seq);
            s->payload = p;
            s->size = (size_t)size;
            s->seq = seq;
            s->done = 0;
            const char *u = NULL;
            if (own_unique) {
                snprintf(unique, sizeof(unique), "%u-%" PRIu64, pid, seq);
                u = unique; /* copied into the task by libgearman */
            }
            gearman_task_st *t = gearman_client_add_task(client, NULL, s, func, u,
                                                         size ? p : NULL, (size_t)size, &rc);
            if (t == NULL || gearman_failed(rc)) {
                fprintf(stderr, "client: add_task %" PRIu64 ": %s\n", seq,
                        gearman_client_error(client));
                return 1;
            }
        }
        rc = gearman_client_run_tasks(client);
        if (g_failed)
            return 1; /* message already printed by a callback */
        if (gearman_failed(rc)) {
            fprintf(stderr, "client: run_tasks: %s (%s)\n", gearman_strerror(rc),
                    gearman_client_error(client));
            return 1;
        }
        if (g_completed != batch) {
            fprintf(stderr, "client: batch at %" PRIu64 ": %zu of %" PRIu64 " tasks completed\n",
                    submitted, g_completed, batch);
            return 1;
        }
        gearman_client_task_free_all(client);
        submitted += batch;
    }
    if (g_failed)
        return 1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double rate = elapsed > 0 ? (double)jobs / elapsed : 0;

    printf("c_jobs_per_s %" PRIu64 "\n", (uint64_t)rate);
    printf("c_elapsed_s %.6f\n", elapsed);
    fflush(stdout);

    gearman_client_free(client);
    free(slots);
    free(payloads);
    return 0;
}
