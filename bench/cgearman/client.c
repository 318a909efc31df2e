/*
 * client: libgearman client used as the C baseline of the Gearman throughput
 * benchmark.  Submits JOBS foreground jobs of SIZE bytes to FUNC with at most
 * WINDOW jobs in flight and checks that every result equals its input (the
 * worker is an echo).
 *
 * Usage: client HOST PORT FUNC JOBS [SIZE [WINDOW [UNIQUE [MODE]]]]
 *   SIZE    workload bytes per job, default 16
 *   WINDOW  max jobs in flight, default 1000
 *   UNIQUE  own  : client-side unique id per task "<pid>-<seq>" (default)
 *           null : pass NULL; libgearman 1.1.20 then generates a UUID per
 *                  task with uuid_generate_time_safe(), which tries the
 *                  uuidd socket every time (socket+connect+close per job);
 *                  ~30% slower.
 *   MODE    slide : (default) GEARMAN_CLIENT_NON_BLOCKING|FREE_TASKS;
 *                   gearman_client_run_tasks()/gearman_client_wait() loop,
 *                   a new task is added as soon as one completes, so WINDOW
 *                   jobs stay in flight all the time.
 *           batch : blocking; add WINDOW tasks, gearman_client_run_tasks()
 *                   until all are done, free them, repeat (the pipeline
 *                   drains at the end of every batch).
 *
 * Output on success (stdout, exit 0):
 *   c_jobs_per_s N      integer, JOBS / elapsed seconds
 *   c_elapsed_s X       seconds, 6 decimals
 * The timer starts after the connection is up (one ECHO round trip) and
 * stops when the last result has been received and checked.
 *
 * On WORK_FAIL/WORK_EXCEPTION, a mismatched result or a libgearman error it
 * prints a message to stderr and exits 1.  Bad arguments: exit 2.
 *
 * Note: libgearman finds the task for each response by a linear scan of its
 * task list (strncmp on the job handle), so the client's CPU cost per job
 * grows with WINDOW; throughput collapses beyond a few thousand
 * (WINDOW=10000: ~4.6k jobs/s, 100000: ~260 jobs/s).
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
    uint64_t idx; /* index into slots[] */
    int busy;
};

static uint64_t g_completed;
static int g_failed;
/* Free slot stack (slide mode): a completed task returns its slot here. */
static uint64_t *g_free;
static uint64_t g_free_top;

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

/* Callbacks: a non-success return makes gearman_client_run_tasks() stop. */
static gearman_return_t on_complete(gearman_task_st *task)
{
    struct slot *s = (struct slot *)gearman_task_context(task);
    const void *data = gearman_task_data(task);
    size_t n = gearman_task_data_size(task);

    if (s == NULL || !s->busy) {
        fprintf(stderr, "client: completion for unknown or finished task\n");
        g_failed = 1;
        return GEARMAN_WORK_FAIL;
    }
    if (n != s->size || (n > 0 && (data == NULL || memcmp(data, s->payload, n) != 0))) {
        fprintf(stderr, "client: job %" PRIu64 ": result mismatch (got %zu bytes, want %zu)\n",
                s->seq, n, s->size);
        g_failed = 1;
        return GEARMAN_WORK_FAIL;
    }
    s->busy = 0;
    g_completed++;
    g_free[g_free_top++] = s->idx;
    return GEARMAN_SUCCESS;
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
    if (s[0] == '-' || s[0] == '\0')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s HOST PORT FUNC JOBS [SIZE [WINDOW [own|null [slide|batch]]]]\n",
            argv0);
}

struct job_source {
    gearman_client_st *client;
    const char *func;
    struct slot *slots;
    unsigned char *payloads;
    uint64_t size;
    int own_unique;
    unsigned pid;
    uint64_t next_seq;
};

/* Queue job next_seq in slot i; 0 on success. */
static int add_one(struct job_source *js, uint64_t i)
{
    uint64_t seq = js->next_seq++;
    unsigned char *p = js->payloads + i * js->size;
    struct slot *s = &js->slots[i];
    char unique[64];
    const char *u = NULL;
    gearman_return_t rc;

    /* libgearman references the workload (no copy) until it is sent, so the
     * slot's buffer is only reused after the task has completed. */
    fill_payload(p, (size_t)js->size, seq);
    s->payload = p;
    s->size = (size_t)js->size;
    s->seq = seq;
    s->idx = i;
    s->busy = 1;
    if (js->own_unique) {
        snprintf(unique, sizeof(unique), "%u-%" PRIu64, js->pid, seq);
        u = unique; /* copied into the task */
    }
    gearman_task_st *t = gearman_client_add_task(js->client, NULL, s, js->func, u,
                                                 js->size ? p : NULL, (size_t)js->size, &rc);
    if (t == NULL || gearman_failed(rc)) {
        fprintf(stderr, "client: add_task %" PRIu64 ": %s\n", seq, gearman_client_error(js->client));
        return -1;
    }
    return 0;
}

static int run_slide(struct job_source *js, uint64_t jobs, uint64_t window)
{
    gearman_client_st *client = js->client;
    gearman_client_add_options(client, GEARMAN_CLIENT_NON_BLOCKING | GEARMAN_CLIENT_FREE_TASKS);

    g_free_top = 0;
    for (uint64_t i = window; i > 0; i--)
        g_free[g_free_top++] = i - 1;

    while (g_completed < jobs) {
        while (g_free_top > 0 && js->next_seq < jobs) {
            if (add_one(js, g_free[--g_free_top]) != 0)
                return -1;
        }
        gearman_return_t rc = gearman_client_run_tasks(client);
        if (g_failed)
            return -1; /* message already printed by a callback */
        if (rc == GEARMAN_IO_WAIT) {
            rc = gearman_client_wait(client);
            if (gearman_failed(rc)) {
                fprintf(stderr, "client: wait: %s (%s)\n", gearman_strerror(rc),
                        gearman_client_error(client));
                return -1;
            }
        } else if (gearman_failed(rc)) {
            fprintf(stderr, "client: run_tasks: %s (%s)\n", gearman_strerror(rc),
                    gearman_client_error(client));
            return -1;
        }
    }
    return 0;
}

static int run_batch(struct job_source *js, uint64_t jobs, uint64_t window)
{
    gearman_client_st *client = js->client;

    while (js->next_seq < jobs) {
        uint64_t batch = jobs - js->next_seq;
        if (batch > window)
            batch = window;
        uint64_t before = g_completed;
        g_free_top = 0;
        for (uint64_t i = 0; i < batch; i++) {
            if (add_one(js, i) != 0)
                return -1;
        }
        gearman_return_t rc = gearman_client_run_tasks(client);
        if (g_failed)
            return -1;
        if (gearman_failed(rc)) {
            fprintf(stderr, "client: run_tasks: %s (%s)\n", gearman_strerror(rc),
                    gearman_client_error(client));
            return -1;
        }
        if (g_completed - before != batch) {
            fprintf(stderr, "client: batch: %" PRIu64 " of %" PRIu64 " tasks completed\n",
                    g_completed - before, batch);
            return -1;
        }
        gearman_client_task_free_all(client);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 9) {
        usage(argv[0]);
        return 2;
    }
    const char *host = argv[1];
    const char *func = argv[3];
    uint64_t port, jobs, size = 16, window = 1000;
    int own_unique = 1, slide = 1;

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
    if (argc > 8) {
        if (strcmp(argv[8], "slide") == 0)
            slide = 1;
        else if (strcmp(argv[8], "batch") == 0)
            slide = 0;
        else {
            usage(argv[0]);
            return 2;
        }
    }
    if (window > jobs && jobs > 0)
        window = jobs;

    signal(SIGPIPE, SIG_IGN);

    struct slot *slots = calloc((size_t)window, sizeof(*slots));
    unsigned char *payloads = malloc((size_t)(window * (size ? size : 1)));
    g_free = malloc((size_t)window * sizeof(*g_free));
    if (slots == NULL || payloads == NULL || g_free == NULL) {
        fprintf(stderr, "client: out of memory\n");
        return 1;
    }

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

    struct job_source js = {
        .client = client,
        .func = func,
        .slots = slots,
        .payloads = payloads,
        .size = size,
        .own_unique = own_unique,
        .pid = (unsigned)getpid(),
        .next_seq = 0,
    };

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = slide ? run_slide(&js, jobs, window) : run_batch(&js, jobs, window);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (err != 0 || g_failed)
        return 1;
    if (g_completed != jobs) {
        fprintf(stderr, "client: %" PRIu64 " of %" PRIu64 " jobs completed\n", g_completed, jobs);
        return 1;
    }

    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double rate = elapsed > 0 ? (double)jobs / elapsed : 0;
    printf("c_jobs_per_s %" PRIu64 "\n", (uint64_t)rate);
    printf("c_elapsed_s %.6f\n", elapsed);
    fflush(stdout);

    gearman_client_free(client);
    free(slots);
    free(payloads);
    free(g_free);
    return 0;
}
