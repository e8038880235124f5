/*
 * mtm-events: the server-sent event stream behind GET /api/events
 * (events.h). lighttpd proxies that one path to this process's unix socket
 * (MTM_EVENTS_SOCKET); everything else under /api/ goes to mtm-api.
 *
 * One thread: events_serve's poll() loop. SIGTERM or SIGINT set the flag
 * the loop checks at least once a second; open streams are closed (clients
 * reconnect to the next process and resume with Last-Event-ID where it can
 * serve them) and the process exits 0.
 *
 * Exit status: 0 after a clean stop, 1 when the socket cannot be opened,
 * 2 for a configuration error (one line on stderr naming the variable).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "version.h"
#include "config.h"
#include "events.h"
#include "log.h"

static atomic_bool stopping;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stopping, true);
}

static int open_listener(const char *path, const struct mtm_log_ctx *log)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        LOG_ERROR(log, "socket path too long: %s", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(0117); /* srw-rw---- */
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (rc == 0)
        rc = listen(fd, 512);
    if (rc != 0) {
        LOG_ERROR(log, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    struct mtm_config cfg;
    char err[512];
    struct mtm_log_ctx log = {.component = "mtm-events"};
    int args = mtm_version_args(
        argc, argv, "mtm-events",
        "The server-sent event stream behind GET /api/events (MTM_EVENTS_SOCKET).", stdout, stderr);

    if (args >= 0)
        return args;

    if (mtm_config_load_env(&cfg, MTM_PROG_EVENTS, err, sizeof(err))) {
        fprintf(stderr, "mtm-events: %s\n", err);
        return 2;
    }
    mtm_log_set_level(cfg.log_level);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(cfg.metrics_dir, 0755) != 0 && errno != EEXIST)
        LOG_WARN(&log, "metrics folder %s: %s", cfg.metrics_dir, strerror(errno));

    int fd = open_listener(cfg.events_socket, &log);
    if (fd < 0) {
        mtm_config_cleanup(&cfg);
        return 1;
    }
    LOG_INFO(&log, "listening on %s", cfg.events_socket);
    int rc = events_serve(&cfg, fd, &stopping);
    close(fd);
    unlink(cfg.events_socket);
    LOG_INFO(&log, "stopped");
    mtm_config_cleanup(&cfg);
    return rc ? 1 : 0;
}
