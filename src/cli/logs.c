/*
 * `tandem logs [SERVICE] [-f]`: the processes' output, merged, each line prefixed with who wrote
 * it ("hello.1 | ...").
 *
 * Every process the supervisor starts appends its stdout and stderr to one file in
 * var/tandem/logs/: broker.log, SERVICE.I.log per instance, gateway.log (nginx's own stderr;
 * its error and access logs are under var/gateway/). This command reads those files directly,
 * so it also works after `tandem down`. Without -f it prints each file in turn (broker,
 * services by name and instance, gateway); with -f it then keeps polling every file (and new
 * files, as `tandem scale` adds instances) every 200 ms and prints complete lines as they
 * arrive, so lines of different processes interleave in arrival order. A file that shrank was
 * truncated or replaced and is read again from its start. Colours (one per service) only when
 * stdout is a terminal.
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
#define LOGS_LINE_MAX  65536

struct logfile {
    char name[128]; /* "hello.1" */
    char key[160];  /* sort key */
    off_t off;
    char *part; /* an incomplete last line */
    size_t part_len;
    int colour;
};

struct logs {
    struct logfile files[LOGS_MAX_FILES];
    int n;
    int width;
    bool tty;
};

/* broker first, gateway last, services by name then instance number. */
static void sort_key(const char *name, char *key, size_t len)
{
    const char *dot = strrchr(name, '.');
    if (strcmp(name, "broker") == 0) {
        snprintf(key, len, "0");
    } else if (strcmp(name, "gateway") == 0) {
        snprintf(key, len, "2");
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

/* Adds files not seen yet. */
static void scan(struct logs *l, const char *service)
{
    DIR *d = opendir("var/tandem/logs");
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && l->n < LOGS_MAX_FILES) {
        size_t len = strlen(e->d_name);
        if (len < 5 || len - 4 >= sizeof(l->files[0].name) ||
            strcmp(e->d_name + len - 4, ".log") != 0) {
            continue;
        }
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(len - 4), e->d_name);
        bool known = false;
        for (int i = 0; i < l->n && !known; i++) {
            known = strcmp(l->files[i].name, name) == 0;
        }
        if (known || !wanted(name, service)) {
            continue;
        }
        struct logfile *f = &l->files[l->n++];
        memset(f, 0, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%s", name);
        sort_key(name, f->key, sizeof(f->key));
        unsigned h = 5381;
        for (const char *c = name; *c != '\0' && *c != '.'; c++) {
            h = h * 33 + (unsigned char)*c;
        }
        f->colour = 31 + (int)(h % 6);
        int w = (int)strlen(name);
        l->width = w > l->width ? w : l->width;
    }
    closedir(d);
}

static void emit(struct logs *l, struct logfile *f, const char *line, size_t len)
{
    if (l->tty) {
        printf("\033[%dm%-*s |\033[0m %.*s\n", f->colour, l->width, f->name, (int)len, line);
    } else {
        printf("%-*s | %.*s\n", l->width, f->name, (int)len, line);
    }
}

/* Prints the complete lines added to f since the last call; `flush` also the partial one. */
static void drain(struct logs *l, struct logfile *f, bool flush)
{
    char path[300];
    snprintf(path, sizeof(path), "var/tandem/logs/%s.log", f->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size < f->off) {
        f->off = 0; /* truncated or replaced */
        f->part_len = 0;
    }
    char buf[65536];
    ssize_t n;
    while ((n = pread(fd, buf, sizeof(buf), f->off)) > 0) {
        f->off += n;
        size_t start = 0;
        for (size_t i = 0; i < (size_t)n; i++) {
            if (buf[i] != '\n') {
                continue;
            }
            if (f->part_len > 0) {
                f->part = xrealloc(f->part, f->part_len + (i - start));
                memcpy(f->part + f->part_len, buf + start, i - start);
                emit(l, f, f->part, f->part_len + (i - start));
                f->part_len = 0;
            } else {
                emit(l, f, buf + start, i - start);
            }
            start = i + 1;
        }
        size_t rest = (size_t)n - start;
        if (rest > 0) {
            if (f->part_len + rest > LOGS_LINE_MAX) {
                emit(l, f, f->part, f->part_len); /* an endless line: cut */
                f->part_len = 0;
            }
            f->part = xrealloc(f->part, f->part_len + rest);
            memcpy(f->part + f->part_len, buf + start, rest);
            f->part_len += rest;
        }
    }
    close(fd);
    if (flush && f->part_len > 0) {
        emit(l, f, f->part, f->part_len);
        f->part_len = 0;
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
    qsort(l->files, (size_t)l->n, sizeof(l->files[0]), cmp_files);
    for (int i = 0; i < l->n; i++) {
        drain(l, &l->files[i], !follow);
    }
    fflush(stdout);
    while (follow) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        scan(l, service);
        for (int i = 0; i < l->n; i++) {
            drain(l, &l->files[i], false);
        }
        if (fflush(stdout) != 0) {
            break; /* the reader went away */
        }
    }
    for (int i = 0; i < l->n; i++) {
        free(l->files[i].part);
    }
    free(l);
    return 0;
}
