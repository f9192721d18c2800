/*
 * `tandem logs [SERVICE] [-f]`: the processes' output merged by time, each line prefixed with who
 * wrote it ("hello.1 | ...").
 *
 * Sources. Every process the supervisor starts appends its stdout and stderr to one file in
 * var/tandem/logs/: broker.log, SERVICE.I.log per instance, gateway.log (nginx's own stderr).
 * nginx's access log (var/gateway/access.log, one JSON line per request) and error log are shown
 * as `gateway` too. This command reads the files directly, so it also works after `tandem down`.
 *
 * Order. Lines carry their time: the services', the broker's and nginx's access log lines are
 * JSON objects with "ts" (2026-01-02T03:04:05.678Z, UTC), nginx's error log lines start
 * "2026/01/02 03:04:05" (UTC: tandem runs nginx with TZ=UTC0). A line without a time (a sanitizer
 * report, a stack trace) takes the time of the line before it in the same file, so it stays with
 * it. Each file is in time order already, so the output is a k-way merge: always the earliest
 * next line of all files, the file order (broker, services by name and instance, gateway) breaking
 * ties. With -f the files are then polled every 200 ms (new instances' files included) and each
 * poll's new complete lines are merged the same way. A file that shrank was truncated or replaced
 * and is read again from its start. Colours (one per service) only when stdout is a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/supervisor.h"
#include "common/mem.h"

#define LOGS_MAX_FILES 512
#define LOGS_LINE_MAX  65536 /* a longer line is cut into pieces of this size */
#define LOGS_TS_LEN    24    /* "2026-01-02T03:04:05.678Z" */

struct logfile {
    char name[128]; /* shown before each line: "hello.1", "gateway" */
    char path[300];
    char key[320]; /* file order: broker, services, gateway; then the path */
    off_t off;     /* read up to here */
    char *buf;     /* read, not shown yet: buf[pos, len) */
    size_t pos, len, cap;
    bool has_line;            /* buf[pos, pos + line_len) is the next line to show */
    bool dry;                 /* read to its end during this merge: not read again in it */
    size_t line_len, skip;    /* skip: its '\n' (1), or 0 for a cut or unterminated line */
    char ts[LOGS_TS_LEN + 1]; /* the next line's time, or the last one seen in this file */
    int colour;
};

struct logs {
    struct logfile files[LOGS_MAX_FILES];
    int n;
    int width;
    bool tty;
};

/* broker first, gateway last, services by name then instance number. */
static void sort_key(const char *name, const char *path, char *key, size_t len)
{
    const char *dot = strrchr(name, '.');
    if (strcmp(name, "broker") == 0) {
        snprintf(key, len, "0 %s", path);
    } else if (strcmp(name, "gateway") == 0) {
        snprintf(key, len, "2 %s", path);
    } else if (dot != NULL) {
        snprintf(key, len, "1%.*s.%06d", (int)(dot - name), name, atoi(dot + 1));
    } else {
        snprintf(key, len, "1%s", name);
    }
}

static bool wanted(const char *name, const char *service)
{
    if (service == NULL) {
        return true;
    }
    size_t n = strlen(service);
    if (strncmp(name, service, n) != 0) {
        return false;
    }
    if (name[n] == '\0') {
        return true;
    }
    return name[n] == '.' && name[n + 1] != '\0' &&
           strspn(name + n + 1, "0123456789") == strlen(name + n + 1);
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const struct logfile *)a)->key, ((const struct logfile *)b)->key);
}

static void add(struct logs *l, const char *name, const char *path, const char *service)
{
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->files[i].path, path) == 0) {
            return;
        }
    }
    if (l->n == LOGS_MAX_FILES || !wanted(name, service) || access(path, F_OK) != 0) {
        return;
    }
    struct logfile *f = &l->files[l->n++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->path, sizeof(f->path), "%s", path);
    sort_key(name, path, f->key, sizeof(f->key));
    unsigned h = 5381;
    for (const char *c = name; *c != '\0' && *c != '.'; c++) {
        h = h * 33 + (unsigned char)*c;
    }
    f->colour = 31 + (int)(h % 6);
    int w = (int)strlen(name);
    l->width = w > l->width ? w : l->width;
}

/* Adds files not seen yet, in file order. */
static void scan(struct logs *l, const char *service)
{
    DIR *d = opendir("var/tandem/logs");
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || len - 4 >= sizeof(l->files[0].name) ||
                strcmp(e->d_name + len - 4, ".log") != 0) {
                continue;
            }
            char name[128], path[300];
            snprintf(name, sizeof(name), "%.*s", (int)(len - 4), e->d_name);
            snprintf(path, sizeof(path), "var/tandem/logs/%s", e->d_name);
            add(l, name, path, service);
        }
        closedir(d);
    }
    add(l, "gateway", "var/gateway/access.log", service);
    add(l, "gateway", "var/gateway/error.log", service);
    qsort(l->files, (size_t)l->n, sizeof(l->files[0]), cmp_files);
}

/* The time a line says it was written, as LOGS_TS_LEN characters that sort in time order: its
 * JSON "ts" (as written), or nginx's error log "YYYY/MM/DD HH:MM:SS" rewritten in that form.
 * False when it has none. */
static bool line_time(const char *line, size_t len, char out[LOGS_TS_LEN + 1])
{
    size_t head = len < 256 ? len : 256;
    const char *ts = memmem(line, head, "\"ts\":\"", 6);
    if (ts != NULL) {
        ts += 6;
        size_t n = 0;
        while (n < LOGS_TS_LEN && ts + n < line + head && ts[n] != '"') {
            n++;
        }
        memcpy(out, ts, n);
        out[n] = '\0';
        return n > 0;
    }
    if (len >= 19 && line[4] == '/' && line[7] == '/' && line[10] == ' ' && line[13] == ':' &&
        line[16] == ':') {
        snprintf(out, LOGS_TS_LEN + 1, "%.4s-%.2s-%.2sT%.8s.000Z", line, line + 5, line + 8,
                 line + 11);
        return true;
    }
    return false;
}

/* Reads what was appended to f since the last call; false at its end. */
static bool fill(struct logfile *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size < f->off) {
        f->off = 0; /* truncated or replaced: from its start again */
        f->pos = f->len = 0;
    }
    if (f->pos > 0) {
        memmove(f->buf, f->buf + f->pos, f->len - f->pos);
        f->len -= f->pos;
        f->pos = 0;
    }
    if (f->cap - f->len < 65536) {
        f->cap = f->len + 65536;
        f->buf = xrealloc(f->buf, f->cap);
    }
    ssize_t n = pread(fd, f->buf + f->len, f->cap - f->len, f->off);
    close(fd);
    if (n <= 0) {
        return false;
    }
    f->off += n;
    f->len += (size_t)n;
    return true;
}

/* Makes the next line of f its head, reading as needed: a complete line; with `flush` also an
 * unterminated last one; and a line that reached LOGS_LINE_MAX without its end, cut. False when f
 * has no such line now. */
static bool next_line(struct logfile *f, bool flush)
{
    if (f->has_line) {
        return true;
    }
    for (;;) {
        if (f->buf == NULL) {
            if (f->dry || !fill(f)) {
                f->dry = true;
                return false;
            }
        }
        char *start = f->buf + f->pos;
        size_t avail = f->len - f->pos;
        char *nl = avail > 0 ? memchr(start, '\n', avail) : NULL;
        size_t n = nl != NULL ? (size_t)(nl - start) : avail;
        bool cut = nl == NULL && avail >= LOGS_LINE_MAX;
        if (nl == NULL && !cut && !f->dry && fill(f)) {
            continue;
        }
        f->dry = f->dry || (nl == NULL && !cut);
        if (nl == NULL && !cut && !(flush && avail > 0)) {
            return false;
        }
        n = cut ? LOGS_LINE_MAX : n;
        f->has_line = true;
        f->line_len = n;
        f->skip = nl != NULL && !cut ? 1 : 0;
        char ts[LOGS_TS_LEN + 1];
        if (line_time(start, n, ts)) {
            memcpy(f->ts, ts, sizeof(ts)); /* else: the time of the line before */
        }
        return true;
    }
}

static void emit(struct logs *l, struct logfile *f)
{
    const char *line = f->buf + f->pos;
    int n = (int)f->line_len;
    if (l->tty) {
        printf("\033[%dm%-*s |\033[0m %.*s\n", f->colour, l->width, f->name, n, line);
    } else {
        printf("%-*s | %.*s\n", l->width, f->name, n, line);
    }
    f->pos += f->line_len + f->skip;
    f->has_line = false;
}

/* Shows every line the files have now, earliest first (ties: file order). */
static void merge(struct logs *l, bool flush)
{
    for (int i = 0; i < l->n; i++) {
        l->files[i].dry = false;
    }
    for (;;) {
        struct logfile *first = NULL;
        for (int i = 0; i < l->n; i++) {
            struct logfile *f = &l->files[i];
            if (next_line(f, flush) && (first == NULL || strcmp(f->ts, first->ts) < 0)) {
                first = f;
            }
        }
        if (first == NULL) {
            return;
        }
        emit(l, first);
    }
}

int logs_show(const char *dir, const char *service, bool follow)
{
    if (chdir(dir) != 0 || access("var/tandem/logs", R_OK | X_OK) != 0) {
        fprintf(stderr, "tandem: no logs in %s/var/tandem/logs (tandem up never ran there)\n", dir);
        return 1;
    }
    struct logs *l = xcalloc(1, sizeof(*l));
    l->tty = isatty(1) == 1;
    scan(l, service);
    if (l->n == 0 && !follow) {
        fprintf(stderr, "tandem: no logs for '%s' in %s/var/tandem/logs\n",
                service != NULL ? service : "", dir);
        free(l);
        return 1;
    }
    merge(l, !follow);
    fflush(stdout);
    while (follow) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        scan(l, service);
        merge(l, false);
        if (fflush(stdout) != 0) {
            break; /* the reader went away */
        }
    }
    for (int i = 0; i < l->n; i++) {
        free(l->files[i].buf);
    }
    free(l);
    return 0;
}
