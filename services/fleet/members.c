/*
 * members.c: which instance holds which partition (docs/fleet.md, "Scaling by partitions").
 *
 * MODEL. The instances of the fleet share the data directory (tandem runs them so: --data-dir
 * shared, --instance-dir each its own). Each keeps one small file there, <data-dir>/members/<n>
 * (n its --instance), rewritten atomically (temporary file, rename) whenever its assignment
 * changes, and removed at its stop:
 *
 *   listen 127.0.0.1:8162
 *   at 1796500000000                (unix ms of the write)
 *   parts 1 3                       (the partitions it holds)
 *
 * A request for a vehicle of a partition not held here goes to the instance whose file lists it;
 * when two files list it (an instance killed before it could remove its file, and the partition
 * since given to another), the newest wins. The files are read at most every 200 ms (and at once
 * when a partition has no known owner), so after a rebalance a request may reach the old owner
 * for that long: it answers 503 with Retry-After (it no longer holds the partition), and the
 * client's retry finds the new one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "tandem/service.h"

#define READ_EVERY_MS 200

static int64_t now_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fleet_members_publish(struct fleet *f)
{
    const char *listen = tandem_service_config(f->svc, "listen");
    char path[4096], tmp[4096];
    snprintf(path, sizeof(path), "%s/%d", f->members_dir, f->instance);
    snprintf(tmp, sizeof(tmp), "%s/.%d.tmp", f->members_dir, f->instance);
    FILE *out = fopen(tmp, "w");
    if (out == NULL) {
        tandem_log_warn(NULL, "fleet: member file not written", "\"errno\":%d", errno);
        return;
    }
    fprintf(out, "listen %s\nat %lld\nparts", listen != NULL ? listen : "",
            (long long)now_ms(CLOCK_REALTIME));
    for (unsigned p = 0; p < f->nparts; p++) {
        if (fleet_partition_held(&f->t, p)) {
            fprintf(out, " %u", p);
        }
    }
    fputc('\n', out);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        tandem_log_warn(NULL, "fleet: member file not written", "\"errno\":%d", errno);
        unlink(tmp);
    }
    pthread_mutex_lock(&f->mem_mu);
    f->members_read_ms = 0; /* read the others again at the next need */
    pthread_mutex_unlock(&f->mem_mu);
}

void fleet_members_remove(struct fleet *f)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%d", f->members_dir, f->instance);
    unlink(path);
}

/* Parses one member file; false when it is not one. */
static bool member_read(const char *path, struct fleet_member *m)
{
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        return false;
    }
    char line[2048];
    bool listen = false, at = false;
    memset(m->parts, 0, sizeof(m->parts));
    while (fgets(line, sizeof(line), in) != NULL) {
        if (strncmp(line, "listen ", 7) == 0) {
            size_t n = strcspn(line + 7, "\r\n");
            if (n > 0 && n < sizeof(m->listen)) {
                memcpy(m->listen, line + 7, n);
                m->listen[n] = '\0';
                listen = true;
            }
        } else if (strncmp(line, "at ", 3) == 0) {
            m->at_ms = strtoll(line + 3, NULL, 10);
            at = true;
        } else if (strncmp(line, "parts", 5) == 0) {
            char *p = line + 5, *end;
            for (;;) {
                unsigned long v = strtoul(p, &end, 10);
                if (end == p) {
                    break;
                }
                if (v < FLEET_PARTITIONS_MAX) {
                    m->parts[v / 8] |= (uint8_t)(1u << (v % 8));
                }
                p = end;
            }
        }
    }
    fclose(in);
    return listen && at;
}

/* Reads the others' files when the last read is older than READ_EVERY_MS (or force); mem_mu
 * held. */
static void members_refresh(struct fleet *f, bool force)
{
    int64_t now = now_ms(CLOCK_MONOTONIC);
    if (!force && f->members_read_ms != 0 && now - f->members_read_ms < READ_EVERY_MS) {
        return;
    }
    f->members_read_ms = now;
    f->nmembers = 0;
    DIR *d = opendir(f->members_dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && f->nmembers < FLEET_MEMBERS) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end != '\0' || n == f->instance) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", f->members_dir, e->d_name);
        struct fleet_member *m = &f->members[f->nmembers];
        if (member_read(path, m)) {
            m->instance = (int)n;
            f->nmembers++;
        }
    }
    closedir(d);
}

static const struct fleet_member *owner_locked(struct fleet *f, unsigned p)
{
    const struct fleet_member *best = NULL;
    for (size_t i = 0; i < f->nmembers; i++) {
        const struct fleet_member *m = &f->members[i];
        if ((m->parts[p / 8] >> (p % 8)) & 1 && (best == NULL || m->at_ms > best->at_ms)) {
            best = m;
        }
    }
    return best;
}

bool fleet_owner_of(struct fleet *f, unsigned p, char out[64])
{
    if (p >= FLEET_PARTITIONS_MAX) {
        return false;
    }
    pthread_mutex_lock(&f->mem_mu);
    members_refresh(f, false);
    const struct fleet_member *m = owner_locked(f, p);
    if (m == NULL) {
        members_refresh(f, true);
        m = owner_locked(f, p);
    }
    if (m != NULL) {
        snprintf(out, 64, "%s", m->listen);
    }
    pthread_mutex_unlock(&f->mem_mu);
    return m != NULL;
}

size_t fleet_others(struct fleet *f, char (*out)[64], size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mem_mu);
    members_refresh(f, false);
    for (size_t i = 0; i < f->nmembers && n < cap; i++) {
        const struct fleet_member *m = &f->members[i];
        bool any = false;
        for (unsigned p = 0; p < f->nparts && !any; p++) {
            /* only the newest claim of a partition not held here counts */
            any = !fleet_partition_held(&f->t, p) && owner_locked(f, p) == m;
        }
        if (any) {
            snprintf(out[n++], 64, "%s", m->listen);
        }
    }
    pthread_mutex_unlock(&f->mem_mu);
    return n;
}
