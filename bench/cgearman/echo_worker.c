/*
 * echo_worker: libgearman worker used as the C baseline of the Gearman
 * throughput benchmark.  It registers one function and returns each job's
 * workload unchanged as the job result (WORK_COMPLETE).
 *
 * Usage: echo_worker [HOST [PORT [FUNC]]]
 *   defaults: 127.0.0.1 4730 bench_echo
 *
 * Output: prints "ready" (stdout, flushed) once the function is registered
 * with the server, i.e. after the first gearman_worker_work() call has sent
 * CAN_DO and had the server answer GRAB_JOB on the same connection.
 * Errors go to stderr.
 *
 * Runs until SIGTERM or SIGINT, then exits 0 (within ~WORKER_TIMEOUT_MS).
 * Exit status 1 on setup errors or when the server goes away.
 *
 * While idle, every timeout costs one GRAB_JOB/NO_JOB + PRE_SLEEP exchange
 * (~20 small packets/s per worker); under load it costs nothing measurable.
 * -DWORKER_TIMEOUT_MS=-1 builds a variant without a timeout (it cannot notice
 * signals while blocked) that was used to check this.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libgearman/gearman.h>

/* gearman_worker_work() returns GEARMAN_TIMEOUT after this much idle time so
 * that the loop can notice a pending SIGTERM/SIGINT. */
#ifndef WORKER_TIMEOUT_MS
#define WORKER_TIMEOUT_MS 100
#endif

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void *echo_fn(gearman_job_st *job, void *context, size_t *result_size,
                     gearman_return_t *ret_ptr)
{
    (void)context;
    size_t n = gearman_job_workload_size(job);
    const void *in = gearman_job_workload(job);
    void *out = NULL;

    if (n > 0) {
        /* libgearman frees the returned buffer with free() (no custom
         * workload_free_fn is set). */
        out = malloc(n);
        if (out == NULL) {
            *result_size = 0;
            *ret_ptr = GEARMAN_WORK_FAIL;
            return NULL;
        }
        memcpy(out, in, n);
    }
    *result_size = n;
    *ret_ptr = GEARMAN_SUCCESS;
    return out;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    const char *port_s = argc > 2 ? argv[2] : "4730";
    const char *func = argc > 3 ? argv[3] : "bench_echo";

    if (argc > 4 || (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
                                  strcmp(argv[1], "--help") == 0))) {
        fprintf(stderr, "usage: %s [HOST [PORT [FUNC]]]\n", argv[0]);
        return 2;
    }

    char *end = NULL;
    long port = strtol(port_s, &end, 10);
    if (end == port_s || *end != '\0' || port <= 0 || port > 65535) {
        fprintf(stderr, "echo_worker: bad port %s\n", port_s);
        return 2;
    }

    /* No SA_RESTART: let blocking poll() inside libgearman see EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    gearman_worker_st *worker = gearman_worker_create(NULL);
    if (worker == NULL) {
        fprintf(stderr, "echo_worker: gearman_worker_create failed\n");
        return 1;
    }

    gearman_return_t rc = gearman_worker_add_server(worker, host, (in_port_t)port);
    if (gearman_failed(rc)) {
        fprintf(stderr, "echo_worker: add_server: %s\n", gearman_worker_error(worker));
        gearman_worker_free(worker);
        return 1;
    }

#if WORKER_TIMEOUT_MS >= 0
    gearman_worker_set_timeout(worker, WORKER_TIMEOUT_MS);
#endif

    rc = gearman_worker_add_function(worker, func, 0, echo_fn, NULL);
    if (gearman_failed(rc)) {
        fprintf(stderr, "echo_worker: add_function: %s\n", gearman_worker_error(worker));
        gearman_worker_free(worker);
        return 1;
    }

    /* Connect and check that the server answers. */
    rc = gearman_worker_echo(worker, "ping", 4);
    if (gearman_failed(rc)) {
        fprintf(stderr, "echo_worker: echo to %s:%ld failed: %s\n", host, port,
                gearman_worker_error(worker));
        gearman_worker_free(worker);
        return 1;
    }

    int exit_code = 0;
    int ready = 0;
#if WORKER_TIMEOUT_MS < 0
    /* Experiment build without a timeout: work() blocks until the first job,
     * so announce readiness now (CAN_DO goes out with the first work()). */
    fputs("ready\n", stdout);
    fflush(stdout);
    ready = 1;
#endif
    while (!stop_requested) {
        rc = gearman_worker_work(worker);
        if (!ready) {
            /* CAN_DO is sent before GRAB_JOB on the same connection; once
             * work() returns (job done, or NO_JOB/PRE_SLEEP then timeout) the
             * server has processed the registration. */
            if (rc == GEARMAN_SUCCESS || rc == GEARMAN_TIMEOUT ||
                rc == GEARMAN_NO_JOBS || rc == GEARMAN_IO_WAIT) {
                fputs("ready\n", stdout);
                fflush(stdout);
                ready = 1;
            }
        }
        switch (rc) {
        case GEARMAN_SUCCESS:
        case GEARMAN_TIMEOUT:
        case GEARMAN_NO_JOBS:
        case GEARMAN_IO_WAIT:
        /* The function itself reported failure (only on malloc failure
         * here); the client sees WORK_FAIL, keep serving. */
        case GEARMAN_WORK_FAIL:
        case GEARMAN_WORK_EXCEPTION:
        case GEARMAN_WORK_ERROR:
            continue;
        default:
            if (stop_requested)
                break;
            /* EINTR from an unrelated signal is reported as an error by some
             * libgearman versions; only give up on real failures. */
            if (gearman_worker_errno(worker) == EINTR)
                continue;
            fprintf(stderr, "echo_worker: gearman_worker_work: %s (%s)\n",
                    gearman_strerror(rc), gearman_worker_error(worker));
            exit_code = 1;
            stop_requested = 1;
            break;
        }
    }

    gearman_worker_free(worker);
    return exit_code;
}
