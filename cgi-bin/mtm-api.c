/*
 * mtm-api: the FastCGI responder behind lighttpd.
 *
 * Threads: the main thread loads the configuration, opens the listening
 * socket, starts MTM_API_THREADS request threads and then only waits for
 * SIGTERM/SIGINT (the signals are blocked everywhere else). On a signal it
 * sets ctx.stopping and shuts the listening socket down, which wakes every
 * thread blocked in accept(); requests in flight finish, threads exit, main
 * joins them and frees everything, and the process exits 0.
 *
 * Exit status: 0 after a clean stop, 1 when the socket cannot be opened,
 * 2 for a configuration error (one line on stderr naming the variable).
 */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "version.h"
#include "api.h"
#include "dispatch.h"
#include "scrape.h"
#include "tenantwatch.h"
#include "textfile.h"
#include "xalloc.h"

struct request_thread {
    pthread_t tid;
    struct api_thread state;
    int listen_fd;
};

#define METRICS_EVERY_S 5

static void write_metrics(struct api_ctx *ctx, const struct mtm_log_ctx *log)
{
    struct mtm_buf text;
    char err[512] = "";
    mtm_buf_init(&text, 16 << 20);
    int rc = api_metrics_render(ctx, &text);
    if (!rc)
        rc = mtm_textfile_write(ctx->cfg->metrics_dir, "mtm-api.prom", mtm_buf_cstr(&text),
                                text.len, err, sizeof(err));
    if (rc)
        LOG_WARN(log, "metrics textfile: %s", err[0] ? err : mtm_strerror(rc));
    mtm_buf_cleanup(&text);
}

static const char *fcgi_param(void *ud, const char *name)
{
    FCGX_Request *req = ud;
    return FCGX_GetParam(name, req->envp);
}

static int fcgi_read(void *ud, char *buf, int n)
{
    FCGX_Request *req = ud;
    int got = FCGX_GetStr(buf, n, req->in);
    return FCGX_GetError(req->in) ? -1 : got;
}

static int fcgi_write(void *ud, const char *buf, int n)
{
    FCGX_Request *req = ud;
    return FCGX_PutStr(buf, n, req->out);
}

static void *request_loop(void *arg)
{
    struct request_thread *rt = arg;
    struct api_thread *t = &rt->state;
    FCGX_Request req;
    struct mtm_http_io io = {fcgi_param, fcgi_read, fcgi_write, &req};

    if (FCGX_InitRequest(&req, rt->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        LOG_ERROR(&t->log, "thread %d: cannot initialise a FastCGI request", t->index);
        return NULL;
    }
    while (!atomic_load(&t->ctx->stopping)) {
        if (FCGX_Accept_r(&req) < 0)
            break;
        struct mtm_request r;
        mtm_request_init(&r, &io);
        api_dispatch(t, &r);
        mtm_request_cleanup(&r);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 0);
    return NULL;
}

/* Opens the unix socket lighttpd connects to, replacing a stale one. */
static int open_listener(const char *path, const struct mtm_log_ctx *log)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    mode_t old = umask(0117); /* srw-rw---- */
    int fd = FCGX_OpenSocket(path, 256);
    umask(old);
    if (fd < 0)
        LOG_ERROR(log, "cannot listen on %s: %s", path, strerror(errno));
    return fd;
}

/*
 * Row-level security is the second wall between tenants; a role that
 * bypasses it would leave only the first. Refuse to run as one. When the
 * database is not reachable yet this cannot be known: log it and go on.
 * Returns 2 to stop, 0 to go on.
 */
static int check_role(const struct mtm_config *cfg, const struct mtm_log_ctx *log)
{
    struct mtm_pg pg;
    char err[512];
    PGresult *res;
    int stop = 0;
    mtm_pg_init(&pg, cfg->pg_url, 2);
    if (mtm_pg_exec(&pg, MTM_STMT_ROLE_BYPASSES_RLS, NULL, &res, err, sizeof(err)) == 0) {
        if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
            fprintf(stderr, "mtm-api: MTM_PG_URL: its role is a superuser or has BYPASSRLS, "
                            "so row-level security would not apply; use an ordinary role\n");
            stop = 2;
        }
        PQclear(res);
    } else {
        LOG_WARN(log, "cannot check the database role yet: %s", err);
    }
    mtm_pg_cleanup(&pg);
    return stop;
}

/* The state the request threads share; 0, or 1 after logging why not. */
static int ctx_init(struct api_ctx *ctx, const struct mtm_config *cfg,
                    const struct mtm_log_ctx *log)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->cfg = cfg;
    atomic_init(&ctx->stopping, false);
    atomic_init(&ctx->admin_synced, false);
    atomic_init(&ctx->login_hashing, 0);
    if (mtm_cursor_key_init(&ctx->cursor_key, cfg->jwt_secret, strlen(cfg->jwt_secret))) {
        LOG_ERROR(log, "cannot derive the cursor key from MTM_JWT_SECRET");
        return 1;
    }
    size_t nroutes;
    const struct api_route *routes = api_routes(&nroutes);
    httpmetrics_init(&ctx->metrics);
    for (size_t i = 0; i < nroutes; i++)
        httpmetrics_add_route(&ctx->metrics, &routes[i].match);
    tenant_cache_init(&ctx->tenants);
    token_memo_init(&ctx->tokens);
    char err[512];
    if (mtm_publisher_start(&ctx->publisher, cfg->amqp_url, 1000, err, sizeof(err))) {
        LOG_ERROR(log, "%s", err);
        mtm_cursor_key_cleanup(&ctx->cursor_key);
        httpmetrics_cleanup(&ctx->metrics);
        tenant_cache_cleanup(&ctx->tenants);
        token_memo_cleanup(&ctx->tokens);
        return 1;
    }
    tenant_share_init(&ctx->share, cfg->api_threads, cfg->tenant_threads);
    allowance_init(&ctx->allowance);
    return 0;
}

static void ctx_cleanup(struct api_ctx *ctx)
{
    mtm_publisher_stop(ctx->publisher);
    tenant_share_cleanup(&ctx->share);
    allowance_cleanup(&ctx->allowance);
    tenant_cache_cleanup(&ctx->tenants);
    token_memo_cleanup(&ctx->tokens);
    httpmetrics_cleanup(&ctx->metrics);
    mtm_cursor_key_cleanup(&ctx->cursor_key);
}

/*
 * Runs MTM_API_THREADS request threads on fd and publishes the metrics
 * textfile every few seconds until a stop signal arrives (at once when not
 * every thread started); then stops taking requests and joins the threads.
 * 0, or 1 when the threads could not all start.
 */
static int serve(struct api_ctx *ctx, int fd, const sigset_t *stop_signals,
                 const struct mtm_log_ctx *log)
{
    const struct mtm_config *cfg = ctx->cfg;
    int n = cfg->api_threads, started = 0;
    struct request_thread *threads = xcalloc((size_t)n, sizeof(*threads));
    for (; started < n; started++) {
        struct request_thread *rt = &threads[started];
        rt->listen_fd = fd;
        api_thread_init(&rt->state, ctx, started);
        if (pthread_create(&rt->tid, NULL, request_loop, rt) != 0) {
            LOG_ERROR(log, "cannot start request thread %d", started);
            api_thread_cleanup(&rt->state);
            break;
        }
    }
    LOG_INFO(log, "listening on %s with %d threads", cfg->fcgi_socket, started);

    int sig = 0;
    if (started == n) {
        if (mkdir(cfg->metrics_dir, 0755) != 0 && errno != EEXIST)
            LOG_WARN(log, "metrics folder %s: %s", cfg->metrics_dir, strerror(errno));
        struct timespec every = {METRICS_EVERY_S, 0};
        while ((sig = sigtimedwait(stop_signals, NULL, &every)) < 0)
            write_metrics(ctx, log);
    }
    LOG_INFO(log, "stopping (signal %d)", sig);
    atomic_store(&ctx->stopping, true);
    shutdown(fd, SHUT_RDWR);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i].tid, NULL);
        api_thread_cleanup(&threads[i].state);
    }
    free(threads);
    return started == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct mtm_config cfg;
    char err[512];
    struct mtm_log_ctx log = {.component = "mtm-api"};
    int args = mtm_version_args(
        argc, argv, "mtm-api",
        "The FastCGI responder of the REST API, behind lighttpd (MTM_FCGI_SOCKET).", stdout,
        stderr);

    if (args >= 0)
        return args;

    if (mtm_config_load_env(&cfg, MTM_PROG_API, err, sizeof(err))) {
        fprintf(stderr, "mtm-api: %s\n", err);
        return 2;
    }
    mtm_log_set_level(cfg.log_level);
    if (check_role(&cfg, &log)) {
        mtm_config_cleanup(&cfg);
        return 2;
    }

    /* Stop signals are taken by sigtimedwait in serve(), never delivered. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int fd = -1, rc = 1;
    struct api_ctx ctx;
    struct tenant_watch watch;
    if (FCGX_Init() != 0)
        LOG_ERROR(&log, "FCGX_Init failed");
    else if ((fd = open_listener(cfg.fcgi_socket, &log)) >= 0 && ctx_init(&ctx, &cfg, &log) == 0) {
        if (tenant_watch_start(&watch, &ctx.tenants, cfg.pg_url, &ctx.stopping)) {
            LOG_ERROR(&log, "cannot start the tenant watcher");
        } else {
            rc = serve(&ctx, fd, &stop_signals, &log);
            tenant_watch_join(&watch);
            write_metrics(&ctx, &log);
        }
        ctx_cleanup(&ctx);
    }
    if (fd >= 0) {
        close(fd);
        unlink(cfg.fcgi_socket);
    }
    LOG_INFO(&log, "stopped");
    mtm_config_cleanup(&cfg);
    return rc;
}
