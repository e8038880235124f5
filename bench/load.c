/*
 * mtm-load: a small HTTP/1.1 load generator for make bench.
 *
 *   mtm-load --port P [--host 127.0.0.1] [--method POST] (--path P | --paths FILE)
 *            [--body-file F] [--header "Name: value"]... [--conns N]
 *            (--seconds S | --requests N) [--rate R] [--grace S]
 *
 * One thread, epoll, N keep-alive connections opened before the clock
 * starts. Request i goes to path i mod (number of paths), so a file of
 * paths spreads the load over tenants. A line of the file may carry
 * headers of its own after the path, each after a tab (a tenant's own
 * token: "PATH<TAB>Authorization: Bearer ..."); they follow the --header
 * ones.
 *
 * Closed loop (no --rate): every connection sends its next request as soon
 * as the previous answer is in; this measures the most the server takes
 * from N concurrent clients.
 * Open loop (--rate R): requests are due at t0 + k/R whatever the server
 * does; a due request waits for a free connection if all are busy, and its
 * latency counts from when it was due, so a slow server cannot hide its
 * queue by slowing the client (no coordinated omission).
 *
 * No new request starts after S seconds (or N requests); those in flight
 * get --grace seconds (default 30) to finish. Prints one JSON object: counts
 * by status, rates, latency percentiles (ms) of the answered requests, and
 * the client's own CPU time, so that a report can tell whether the client
 * was the bottleneck; --lat-out also writes every latency (microseconds).
 * A benchmark tool, not part of the product.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_PATHS 4096
#define MAX_HEADERS 16

enum state { CLOSED, CONNECTING, IDLE, BUSY };

struct conn {
    int fd;
    enum state st;
    const char *out; /* request being written */
    size_t out_len, out_off;
    char *in; /* response bytes so far */
    size_t in_len, in_cap;
    int64_t due_ns; /* when the request in flight was due (open loop) or sent */
};

struct reqtext {
    char *text;
    size_t len;
};

static struct {
    const char *host, *method, *body_file, *lat_out;
    int port, conns, rate_set;
    double seconds, rate, grace;
    long long max_requests;
    const char *paths[MAX_PATHS];
    const char *path_headers[MAX_PATHS]; /* tab-separated, or NULL */
    int npaths;
    const char *headers[MAX_HEADERS];
    int nheaders;
} opt = {.host = "127.0.0.1", .method = "POST", .conns = 8, .grace = 30};

static struct reqtext reqs[MAX_PATHS];
static struct conn conns[MAX_CONNS];
static struct sockaddr_in addr;
static int epfd;

static long long issued, answered, errors, status_count[600];
static int64_t *lat_us;
static size_t lat_n, lat_cap;
static long long scheduled; /* open loop: requests made due so far */
static int64_t t0_ns, last_done_ns;
/* open loop: the connection the next due request tries first */
static int rr_next;
/* open loop: due requests waiting for a free connection (their due times) */
static int64_t *backlog;
static size_t bl_head, bl_tail, bl_cap, bl_max;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "mtm-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xrealloc_or_die(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "mtm-load: out of memory\n");
        exit(1);
    }
    return q;
}

/* per second of due time (open loop) or send time: answers and the slowest */
#define MAX_SECONDS 3600
static long long tl_count[MAX_SECONDS];
static int64_t tl_max_us[MAX_SECONDS];

static void record(int64_t us, int64_t due_ns)
{
    int64_t sec = (due_ns - t0_ns) / 1000000000;
    if (sec >= 0 && sec < MAX_SECONDS) {
        tl_count[sec]++;
        if (us > tl_max_us[sec])
            tl_max_us[sec] = us;
    }
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? 2 * lat_cap : 65536;
        lat_us = xrealloc_or_die(lat_us, lat_cap * sizeof(*lat_us));
    }
    lat_us[lat_n++] = us;
}

static void bl_push(int64_t due)
{
    if (bl_tail - bl_head == bl_cap) {
        size_t ncap = bl_cap ? 2 * bl_cap : 4096;
        int64_t *nb = xrealloc_or_die(NULL, ncap * sizeof(*nb));
        for (size_t i = bl_head; i < bl_tail; i++)
            nb[i - bl_head] = backlog[i % bl_cap];
        free(backlog);
        backlog = nb;
        bl_tail -= bl_head;
        bl_head = 0;
        bl_cap = ncap;
    }
    backlog[bl_tail++ % bl_cap] = due;
    if (bl_tail - bl_head > bl_max)
        bl_max = bl_tail - bl_head;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    size_t cap = 4096, n = 0;
    char *buf = xrealloc_or_die(NULL, cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = xrealloc_or_die(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void build_requests(void)
{
    size_t body_len = 0;
    char *body = opt.body_file ? read_file(opt.body_file, &body_len) : NULL;
    for (int p = 0; p < opt.npaths; p++) {
        size_t cap = 1024 + strlen(opt.paths[p]) + body_len;
        for (int h = 0; h < opt.nheaders; h++)
            cap += strlen(opt.headers[h]) + 2;
        const char *own = opt.path_headers[p];
        if (own)
            cap += 2 * strlen(own) + 2; /* each tab becomes CRLF */
        char *t = xrealloc_or_die(NULL, cap);
        size_t n = (size_t)snprintf(t, cap, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", opt.method,
                                    opt.paths[p], opt.host, opt.port);
        for (int h = 0; h < opt.nheaders; h++)
            n += (size_t)snprintf(t + n, cap - n, "%s\r\n", opt.headers[h]);
        for (const char *h = own; h && *h;) {
            size_t len = strcspn(h, "\t");
            n += (size_t)snprintf(t + n, cap - n, "%.*s\r\n", (int)len, h);
            h += len + (h[len] == '\t');
        }
        if (body)
            n += (size_t)snprintf(t + n, cap - n,
                                  "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                                  body_len);
        n += (size_t)snprintf(t + n, cap - n, "\r\n");
        if (body) {
            memcpy(t + n, body, body_len);
            n += body_len;
        }
        reqs[p].text = t;
        reqs[p].len = n;
    }
    free(body);
}

static void read_paths(const char *file)
{
    size_t len;
    char *text = read_file(file, &len);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line)
            continue;
        if (opt.npaths == MAX_PATHS) {
            fprintf(stderr, "mtm-load: more than %d paths\n", MAX_PATHS);
            exit(2);
        }
        char *tab = strchr(line, '\t');
        if (tab)
            *tab = '\0';
        opt.path_headers[opt.npaths] = tab ? tab + 1 : NULL;
        opt.paths[opt.npaths++] = line;
    }
}

/* ---- connections ----------------------------------------------------------- */

static void conn_open(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->st = CONNECTING;
    c->in_len = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->st = CLOSED;
}

static void want_write(struct conn *c, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EAGAIN) {
            want_write(c, 1);
            return;
        }
        if (n <= 0) {
            errors++;
            conn_close(c);
            conn_open(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    want_write(c, 0);
}

static void conn_send(struct conn *c, int64_t due)
{
    const struct reqtext *r = &reqs[issued % opt.npaths];
    issued++;
    c->out = r->text;
    c->out_len = r->len;
    c->out_off = 0;
    c->due_ns = due;
    c->in_len = 0;
    c->st = BUSY;
    conn_flush(c);
}

/* Whether more requests may start now. */
static int may_start(int64_t now)
{
    if (opt.max_requests)
        return (opt.rate_set ? scheduled : issued) < opt.max_requests;
    return now - t0_ns < (int64_t)(opt.seconds * 1e9);
}

/* Gives an idle connection its next request, if there is one to send. */
static void next_for(struct conn *c, int64_t now)
{
    if (opt.rate_set) {
        if (bl_tail > bl_head) {
            int64_t due = backlog[bl_head++ % bl_cap];
            conn_send(c, due);
        }
        return;
    }
    if (t0_ns && may_start(now))
        conn_send(c, now);
}

/*
 * Parses a complete response at the start of c->in. Returns its length, 0
 * if incomplete, -1 if malformed. *status and *close are set when complete.
 */
static long parse_response(struct conn *c, int *status, int *close_after)
{
    char *buf = c->in;
    size_t len = c->in_len;
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    *close_after = buf[7] == '0';
    long clen = -1;
    int chunked = 0;
    for (char *line = memchr(buf, '\n', head) + 1; line < end;) {
        char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
        if (!eol)
            break;
        size_t ll = (size_t)(eol - line);
        if (ll > 15 && strncasecmp(line, "content-length:", 15) == 0)
            clen = strtol(line + 15, NULL, 10);
        else if (ll > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0)
            chunked = memmem(line, ll, "chunked", 7) != NULL;
        else if (ll > 11 && strncasecmp(line, "connection:", 11) == 0)
            *close_after = memmem(line, ll, "close", 5) != NULL;
        line = eol + 1;
    }
    if (*status == 204 || *status == 304 || (*status >= 100 && *status < 200))
        return (long)head;
    if (!chunked) {
        if (clen < 0)
            return -1; /* would need read-until-close; lighttpd always sends a length */
        return len >= head + (size_t)clen ? (long)(head + (size_t)clen) : 0;
    }
    size_t pos = head;
    for (;;) {
        char *eol = memmem(buf + pos, len - pos, "\r\n", 2);
        if (!eol)
            return 0;
        long size = strtol(buf + pos, NULL, 16);
        if (size < 0)
            return -1;
        pos = (size_t)(eol - buf) + 2;
        if (size == 0) {
            char *fin = memmem(buf + pos - 2, len - (pos - 2), "\r\n\r\n", 4);
            return fin ? (long)((size_t)(fin - buf) + 4) : 0;
        }
        if (len < pos + (size_t)size + 2)
            return 0;
        pos += (size_t)size + 2;
    }
}

static void on_readable(struct conn *c, int64_t now)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            c->in_cap = c->in_cap ? 2 * c->in_cap : 16384;
            c->in = xrealloc_or_die(c->in, c->in_cap);
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            if (c->st == BUSY)
                errors++;
            conn_close(c);
            conn_open(c);
            return;
        }
        c->in_len += (size_t)n;
        if (c->st != BUSY)
            continue; /* nothing asked: ignore */
        int status = 0, close_after = 0;
        long used = parse_response(c, &status, &close_after);
        if (used == 0)
            continue;
        if (used < 0) {
            errors++;
            conn_close(c);
            conn_open(c);
            return;
        }
        answered++;
        if (status >= 100 && status < 600)
            status_count[status]++;
        record((now - c->due_ns) / 1000, c->due_ns);
        last_done_ns = now;
        c->st = IDLE;
        c->in_len = 0;
        if (close_after) {
            conn_close(c);
            conn_open(c);
            return;
        }
        next_for(c, now);
        return;
    }
}

static void on_writable(struct conn *c, int64_t now)
{
    if (c->st == CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            errno = err;
            die("connect");
        }
        c->st = IDLE;
        want_write(c, 0);
        next_for(c, now);
        return;
    }
    if (c->st == BUSY)
        conn_flush(c);
}

/* ---- main ------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: mtm-load --port P [--host H] [--method M] (--path P | --paths FILE)\n"
                    "                [--body-file F] [--header 'Name: value']... [--conns N]\n"
                    "                (--seconds S | --requests N) [--rate R] [--grace S]\n"
                    "                [--lat-out FILE]  (every latency in microseconds)\n");
    exit(2);
}

static double dbl_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        usage();
    char *end;
    double v = strtod(argv[++*i], &end);
    if (*end || v < 0) {
        fprintf(stderr, "mtm-load: %s wants a non-negative number\n", argv[*i - 1]);
        exit(2);
    }
    return v;
}

static const char *str_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        usage();
    return argv[++*i];
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(double p)
{
    if (!lat_n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)lat_n);
    return (double)lat_us[i >= lat_n ? lat_n - 1 : i] / 1000.0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--host") == 0)
            opt.host = str_arg(argc, argv, &i);
        else if (strcmp(a, "--port") == 0)
            opt.port = (int)dbl_arg(argc, argv, &i);
        else if (strcmp(a, "--method") == 0)
            opt.method = str_arg(argc, argv, &i);
        else if (strcmp(a, "--path") == 0 && opt.npaths < MAX_PATHS)
            opt.paths[opt.npaths++] = str_arg(argc, argv, &i);
        else if (strcmp(a, "--paths") == 0)
            read_paths(str_arg(argc, argv, &i));
        else if (strcmp(a, "--body-file") == 0)
            opt.body_file = str_arg(argc, argv, &i);
        else if (strcmp(a, "--header") == 0 && opt.nheaders < MAX_HEADERS)
            opt.headers[opt.nheaders++] = str_arg(argc, argv, &i);
        else if (strcmp(a, "--conns") == 0)
            opt.conns = (int)dbl_arg(argc, argv, &i);
        else if (strcmp(a, "--seconds") == 0)
            opt.seconds = dbl_arg(argc, argv, &i);
        else if (strcmp(a, "--requests") == 0)
            opt.max_requests = (long long)dbl_arg(argc, argv, &i);
        else if (strcmp(a, "--rate") == 0) {
            opt.rate = dbl_arg(argc, argv, &i);
            opt.rate_set = opt.rate > 0;
        } else if (strcmp(a, "--lat-out") == 0)
            opt.lat_out = str_arg(argc, argv, &i);
        else if (strcmp(a, "--grace") == 0)
            opt.grace = dbl_arg(argc, argv, &i);
        else
            usage();
    }
    if (!opt.port || !opt.npaths || opt.conns < 1 || opt.conns > MAX_CONNS ||
        (opt.seconds <= 0 && !opt.max_requests))
        usage();
    build_requests();
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "mtm-load: --host wants an IPv4 address\n");
        return 2;
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        die("timerfd_create");
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev) < 0)
        die("epoll_ctl");

    /* Open every connection before the clock starts. */
    for (int i = 0; i < opt.conns; i++)
        conn_open(&conns[i]);
    struct epoll_event evs[256];
    int64_t connect_deadline = mono_ns() + 10 * (int64_t)1000000000;
    for (;;) {
        int idle = 0;
        for (int i = 0; i < opt.conns; i++)
            idle += conns[i].st == IDLE;
        if (idle == opt.conns)
            break;
        if (mono_ns() > connect_deadline) {
            fprintf(stderr, "mtm-load: could not open %d connections\n", opt.conns);
            return 1;
        }
        int n = epoll_wait(epfd, evs, 256, 100);
        for (int k = 0; k < n; k++)
            if (evs[k].data.ptr && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                on_writable(evs[k].data.ptr, mono_ns());
    }

    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    t0_ns = mono_ns();
    if (opt.rate_set) {
        struct itimerspec its = {.it_value = {0, 1}};
        timerfd_settime(tfd, 0, &its, NULL);
    } else {
        for (int i = 0; i < opt.conns; i++)
            next_for(&conns[i], t0_ns);
    }

    int64_t stop_ns = 0; /* when new requests stopped */
    for (;;) {
        int64_t now = mono_ns();
        int busy = 0;
        for (int i = 0; i < opt.conns; i++)
            busy += conns[i].st == BUSY;
        int more = opt.rate_set ? may_start(now) || bl_tail > bl_head : may_start(now);
        if (!more && !stop_ns)
            stop_ns = now;
        if (!more && !busy)
            break;
        if (stop_ns && now - stop_ns > (int64_t)(opt.grace * 1e9))
            break;
        int n = epoll_wait(epfd, evs, 256, 50);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        now = mono_ns();
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (!c) {
                uint64_t exp;
                if (read(tfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
                    die("timerfd read");
                /* Every request due by now: send it or queue it. */
                while (may_start(now)) {
                    int64_t due = t0_ns + (int64_t)((double)scheduled * 1e9 / opt.rate);
                    if (due > now)
                        break;
                    scheduled++;
                    bl_push(due);
                }
                /* Round robin over the idle connections: always taking the
                 * first idle one left the others unused long enough for the
                 * server to drop them (lighttpd's keep-alive idle timeout,
                 * 5 s) just as a request went out on one: a request lost to
                 * the race, counted as an error. */
                for (int j = 0; j < opt.conns && bl_tail > bl_head; j++) {
                    int i = (rr_next + j) % opt.conns;
                    if (conns[i].st == IDLE) {
                        next_for(&conns[i], now);
                        rr_next = (i + 1) % opt.conns;
                    }
                }
                if (may_start(now)) {
                    int64_t next = t0_ns + (int64_t)((double)scheduled * 1e9 / opt.rate);
                    struct itimerspec its = {.it_value = {next / 1000000000, next % 1000000000}};
                    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
                }
                continue;
            }
            int fd = c->fd;
            if (evs[k].events & EPOLLIN)
                on_readable(c, now);
            if (c->fd == fd && c->st == IDLE && (evs[k].events & (EPOLLERR | EPOLLHUP))) {
                conn_close(c); /* the server dropped an idle keep-alive connection */
                conn_open(c);
                continue;
            }
            /* A reconnect in on_readable made a new socket: this event was the old one's. */
            if (c->fd == fd && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->st != IDLE)
                on_writable(c, now);
        }
    }
    long long unfinished = 0;
    for (int i = 0; i < opt.conns; i++)
        unfinished += conns[i].st == BUSY;
    unfinished += (long long)(bl_tail - bl_head);
    struct rusage ru1;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    double secs = (double)((last_done_ns ? last_done_ns : mono_ns()) - t0_ns) / 1e9;
    if (opt.lat_out) {
        FILE *f = fopen(opt.lat_out, "w");
        if (!f)
            die(opt.lat_out);
        for (size_t i = 0; i < lat_n; i++)
            fprintf(f, "%lld\n", (long long)lat_us[i]);
        fclose(f);
    }
    qsort(lat_us, lat_n, sizeof(*lat_us), cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < lat_n; i++)
        sum += (double)lat_us[i];
    long long ok = 0;
    for (int s = 200; s < 300; s++)
        ok += status_count[s];

    printf("{\"mode\":\"%s\",\"conns\":%d,\"rate\":%.1f,\"issued\":%lld,\"answered\":%lld,"
           "\"ok\":%lld,\"errors\":%lld,\"unfinished\":%lld,\"status\":{",
           opt.rate_set ? "open" : "closed", opt.conns, opt.rate, issued, answered, ok, errors,
           unfinished);
    int first = 1;
    for (int s = 100; s < 600; s++) {
        if (!status_count[s])
            continue;
        printf("%s\"%d\":%lld", first ? "" : ",", s, status_count[s]);
        first = 0;
    }
    printf("},\"seconds\":%.3f,\"rps\":%.1f,\"ok_rps\":%.1f,\"backlog_max\":%zu,"
           "\"lat_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
           "\"mean\":%.3f},\"client_cpu_s\":%.3f,\"client_cpu_share\":%.3f",
           secs, secs > 0 ? (double)answered / secs : 0, secs > 0 ? (double)ok / secs : 0, bl_max,
           pct_ms(50), pct_ms(90), pct_ms(99), pct_ms(99.9), pct_ms(100),
           lat_n ? sum / (double)lat_n / 1000.0 : 0, cpu, secs > 0 ? cpu / secs : 0);
    /* The same figures second by second, to tell a stall from a steady queue. */
    int last = 0;
    for (int i = 0; i < MAX_SECONDS; i++)
        if (tl_count[i])
            last = i + 1;
    printf(",\"per_second\":{\"answered\":[");
    for (int i = 0; i < last; i++)
        printf("%s%lld", i ? "," : "", tl_count[i]);
    printf("],\"max_ms\":[");
    for (int i = 0; i < last; i++)
        printf("%s%.1f", i ? "," : "", (double)tl_max_us[i] / 1000.0);
    printf("]}}\n");
    return 0;
}
