/*
 * The data directory: topics, their config files, clean-shutdown marker, crash leftovers.
 *
 *   <data-dir>/.lock                    flock'ed while open: one broker per data dir
 *   <data-dir>/.clean_shutdown          written last by logmgr_close, removed by logmgr_open
 *   <data-dir>/<topic>.topic            "partitions=N" then one "key=value" per override
 *   <data-dir>/<topic>-<p>/             a partition (recover.c, segment.c)
 *   <data-dir>/<topic>-<p>.deleted/     a partition being deleted
 *
 * The .topic file is the commit point of both creation and deletion. Creation makes and syncs
 * the partition directories first, then writes the .topic file atomically (".topic.tmp", fsync,
 * rename, fsync of the directory); deletion unlinks the .topic file first (and syncs the
 * directory), then renames each partition directory to "<topic>-<p>.deleted" and removes it. At
 * open, "*.deleted" directories and partition directories whose topic has no .topic file (or a
 * partition number past its count) are removed: they are the remains of an interrupted create or
 * delete. A topic's config is its overrides applied over the broker's defaults at each open.
 *
 * Growing a topic (CreatePartitions) follows the same rule: the new partition directories are
 * made and opened first, the data dir is synced, then the .topic file is replaced with the new
 * count. A crash before the replace leaves directories past the old count, which the next open
 * removes as leftovers: the topic opens with its old count, as if the grow never started. The
 * in-memory partition array is replaced (not grown in place) only after the file is committed;
 * callers must not keep a topic's `partitions` array (or a pointer into it) across calls into
 * storage. Pointers to the plogs themselves stay valid: a grow never moves or frees a plog.
 *
 * Clean-shutdown marker, one line per partition that closed with everything synced:
 *
 *   tandem-clean-shutdown 1
 *   <topic> <partition> <log end offset> <active segment size in bytes>
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "log/log_int.h"
#include "tandem/error.h"

#define MARKER_NAME    ".clean_shutdown"
#define MARKER_HEADER  "tandem-clean-shutdown 1"
#define MAX_PARTITIONS LOG_MAX_PARTITIONS

struct topic_int {
    struct topic t; /* first: a struct topic * is a struct topic_int * */
    int nconf;
    char **keys;
    char **values;
};

struct hint_line {
    char *topic;
    int32_t partition;
    struct plog_hint h;
};

struct logmgr {
    char *dir;
    struct log_config defaults;
    struct topic_int **topics; /* sorted by name */
    int ntopics, cap;
    int lock_fd;
    struct hint_line *hints; /* only during open */
    int nhints;
};

static void path_join(char *buf, size_t size, const char *dir, const char *name, const char *ext)
{
    snprintf(buf, size, "%s/%s%s", dir, name, ext);
}

static void partition_dir(const struct logmgr *m, const char *topic, int32_t p, char *buf,
                          size_t size)
{
    snprintf(buf, size, "%s/%s-%" PRId32, m->dir, topic, p);
}

/* Whether the directory names "<topic>-<p>" of npartitions partitions fit a file name (255). */
static bool partition_names_fit(size_t topic_len, int32_t npartitions)
{
    char digits[16];
    snprintf(digits, sizeof(digits), "%" PRId32, npartitions - 1);
    return topic_len + 1 + strlen(digits) <= 255;
}

/* Opens partition p of topic (directory "<topic>-<p>", which plog logs as its name). */
static int partition_open(const struct logmgr *m, const char *topic, int32_t p,
                          const struct log_config *cfg, const struct plog_hint *hint,
                          struct plog **out)
{
    char dir[4096], pname[512];
    partition_dir(m, topic, p, dir, sizeof(dir));
    snprintf(pname, sizeof(pname), "%s-%" PRId32, topic, p);
    return plog_open(dir, pname, cfg, hint, out);
}

/* Removes a directory of plain files. */
static int remove_dir_flat(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : TANDEM_EIO;
    for (;;) {
        struct dirent *de = readdir(d);
        if (!de)
            break;
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
    return rmdir(path) ? TANDEM_EIO : 0;
}

/* Writes path atomically through dir/.topic.tmp (a leftover of a crash is removed at open). */
static int write_atomic(const char *dir, const char *path, const char *data, size_t len)
{
    char tmp[4096];
    path_join(tmp, sizeof(tmp), dir, ".topic.tmp", "");
    return file_write_atomic(path, tmp, data, len);
}

static void topic_free(struct topic_int *ti, bool close_clean)
{
    if (!ti)
        return;
    for (int32_t p = 0; p < ti->t.npartitions; p++) {
        if (!ti->t.partitions[p])
            continue;
        if (close_clean)
            plog_close(ti->t.partitions[p]);
        else
            plog_free(ti->t.partitions[p]);
    }
    for (int i = 0; i < ti->nconf; i++) {
        free(ti->keys[i]);
        free(ti->values[i]);
    }
    free(ti->keys);
    free(ti->values);
    free(ti->t.partitions);
    free(ti->t.name);
    free(ti);
}

static int find_index(const struct logmgr *m, const char *name, size_t len, bool *found)
{
    int lo = 0, hi = m->ntopics;
    *found = false;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const char *n = m->topics[mid]->t.name;
        size_t nl = strlen(n);
        int c = memcmp(n, name, nl < len ? nl : len);
        if (c == 0)
            c = nl < len ? -1 : nl > len;
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct topic *logmgr_find(struct logmgr *m, const char *name, size_t name_len)
{
    bool found;
    int i = find_index(m, name, name_len, &found);
    return found ? &m->topics[i]->t : NULL;
}

void logmgr_foreach(struct logmgr *m, void (*fn)(struct topic *t, void *arg), void *arg)
{
    for (int i = 0; i < m->ntopics; i++)
        fn(&m->topics[i]->t, arg);
}

int logmgr_topic_count(const struct logmgr *m)
{
    return m->ntopics;
}

static void topics_insert(struct logmgr *m, struct topic_int *ti)
{
    bool found;
    int i = find_index(m, ti->t.name, strlen(ti->t.name), &found);
    if (m->ntopics == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->topics = xrealloc(m->topics, (size_t)m->cap * sizeof(*m->topics));
    }
    memmove(m->topics + i + 1, m->topics + i, (size_t)(m->ntopics - i) * sizeof(*m->topics));
    m->topics[i] = ti;
    m->ntopics++;
}

static const struct plog_hint *hint_for(const struct logmgr *m, const char *topic, int32_t p)
{
    for (int i = 0; i < m->nhints; i++) {
        if (m->hints[i].partition == p && strcmp(m->hints[i].topic, topic) == 0)
            return &m->hints[i].h;
    }
    return NULL;
}

/* Builds the topic in memory (configs applied) and opens its partitions. */
static int topic_open(struct logmgr *m, const char *name, int32_t n, const char *const *keys,
                      const char *const *values, int nconfigs, struct topic_int **out)
{
    struct topic_int *ti = xcalloc(1, sizeof(*ti));
    ti->t.name = xstrndup(name, strlen(name));
    ti->t.npartitions = n;
    ti->t.cfg = m->defaults;
    ti->t.partitions = xcalloc((size_t)n, sizeof(struct plog *));
    ti->keys = xcalloc((size_t)nconfigs + 1, sizeof(char *));
    ti->values = xcalloc((size_t)nconfigs + 1, sizeof(char *));
    int rc = 0;
    for (int i = 0; i < nconfigs; i++) {
        rc = log_config_set(&ti->t.cfg, keys[i], values[i]);
        if (rc)
            goto fail;
        ti->keys[i] = xstrndup(keys[i], strlen(keys[i]));
        ti->values[i] = xstrndup(values[i], strlen(values[i]));
        ti->nconf++;
    }
    for (int32_t p = 0; p < n; p++) {
        rc = partition_open(m, name, p, &ti->t.cfg, hint_for(m, name, p), &ti->t.partitions[p]);
        if (rc)
            goto fail;
    }
    *out = ti;
    return 0;
fail:
    topic_free(ti, false);
    return rc;
}

/* Reads "<name>.topic": partitions=N and the overrides. */
static int topic_load(struct logmgr *m, const char *name)
{
    char path[4096], line[1024];
    char *keys[64], *values[64];
    int n = 0, rc = TANDEM_ECORRUPT;
    long partitions = -1;
    path_join(path, sizeof(path), m->dir, name, ".topic");
    FILE *f = fopen(path, "re");
    if (!f)
        return TANDEM_EIO;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (!eq || n == 64)
            goto out;
        *eq = '\0';
        if (strcmp(line, "partitions") == 0) {
            char *end = NULL;
            partitions = strtol(eq + 1, &end, 10);
            if (*end || partitions < 1 || partitions > MAX_PARTITIONS)
                goto out;
            continue;
        }
        keys[n] = xstrndup(line, strlen(line));
        values[n] = xstrndup(eq + 1, strlen(eq + 1));
        n++;
    }
    if (partitions < 1)
        goto out;
    struct topic_int *ti = NULL;
    rc = topic_open(m, name, (int32_t)partitions, (const char *const *)keys,
                    (const char *const *)values, n, &ti);
    if (rc == 0)
        topics_insert(m, ti);
out:
    if (rc)
        log_error("topic load failed", "\"topic\":\"%s\",\"error\":\"%s\"", name,
                  tandem_strerror(rc));
    fclose(f);
    for (int i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    return rc;
}

/* Reads and removes the clean-shutdown marker. */
static void read_marker(struct logmgr *m)
{
    char path[4096], line[600], topic[300];
    path_join(path, sizeof(path), m->dir, MARKER_NAME, "");
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    bool ok = fgets(line, sizeof(line), f) && strncmp(line, MARKER_HEADER, 23) == 0;
    while (ok && fgets(line, sizeof(line), f)) {
        int32_t p;
        int64_t end;
        uint64_t size;
        if (sscanf(line, "%299s %" SCNd32 " %" SCNd64 " %" SCNu64, topic, &p, &end, &size) != 4)
            continue;
        m->hints = xrealloc(m->hints, (size_t)(m->nhints + 1) * sizeof(*m->hints));
        m->hints[m->nhints++] =
            (struct hint_line){xstrndup(topic, strlen(topic)), p, {true, end, size}};
    }
    fclose(f);
    unlink(path);
    file_fsync_dir(m->dir);
}

static void free_hints(struct logmgr *m)
{
    for (int i = 0; i < m->nhints; i++)
        free(m->hints[i].topic);
    free(m->hints);
    m->hints = NULL;
    m->nhints = 0;
}

/* Is entry "<topic>-<p>" a partition of a loaded topic? Returns false for non-partition names
 * too; *looks_like tells whether the name has the partition shape at all. */
static bool is_live_partition(struct logmgr *m, const char *name, bool *looks_like)
{
    const char *dash = strrchr(name, '-');
    *looks_like = false;
    if (!dash || dash == name || dash[1] == '\0' ||
        strspn(dash + 1, "0123456789") != strlen(dash + 1))
        return false;
    if (!topic_name_valid(name, (size_t)(dash - name)) || strlen(dash + 1) > 9)
        return false;
    *looks_like = true;
    struct topic *t = logmgr_find(m, name, (size_t)(dash - name));
    return t && atol(dash + 1) < t->npartitions;
}

/* Removes "*.deleted" directories and partition directories of no topic. */
static void remove_leftovers(struct logmgr *m)
{
    char path[4096];
    DIR *d = opendir(m->dir);
    if (!d)
        return;
    for (;;) {
        struct dirent *de = readdir(d);
        if (!de)
            break;
        bool looks_like = false;
        size_t n = strlen(de->d_name);
        bool deleted = n > 8 && strcmp(de->d_name + n - 8, ".deleted") == 0;
        if (de->d_name[0] == '.' || (!deleted && is_live_partition(m, de->d_name, &looks_like)))
            continue;
        if (!deleted && !looks_like)
            continue;
        path_join(path, sizeof(path), m->dir, de->d_name, "");
        struct stat st;
        if (stat(path, &st) || !S_ISDIR(st.st_mode))
            continue;
        char e[600];
        log_warn("removing leftover partition directory", "\"dir\":%s",
                 log_json_str(e, sizeof(e), de->d_name));
        remove_dir_flat(path);
    }
    closedir(d);
}

static int load_topics(struct logmgr *m)
{
    char path[4096];
    DIR *d = opendir(m->dir);
    if (!d)
        return TANDEM_EIO;
    int rc = 0;
    for (;;) {
        struct dirent *de = readdir(d);
        if (!de)
            break;
        size_t n = strlen(de->d_name);
        if (strcmp(de->d_name, ".topic.tmp") == 0) {
            path_join(path, sizeof(path), m->dir, de->d_name, "");
            unlink(path);
            continue;
        }
        if (n <= 6 || strcmp(de->d_name + n - 6, ".topic") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(n - 6), de->d_name);
        if (!topic_name_valid(name, n - 6)) {
            char e[600];
            log_warn("ignoring badly named topic file", "\"file\":%s",
                     log_json_str(e, sizeof(e), de->d_name));
            continue;
        }
        rc = topic_load(m, name);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

int logmgr_open(const char *data_dir, const struct log_config *defaults, struct logmgr **out)
{
    char path[4096];
    struct logmgr *m = xcalloc(1, sizeof(*m));
    int rc = TANDEM_EIO;
    m->dir = xstrndup(data_dir, strlen(data_dir));
    m->defaults = *defaults;
    m->lock_fd = -1;
    if (mkdir(data_dir, 0755) && errno != EEXIST)
        goto fail;
    path_join(path, sizeof(path), data_dir, ".lock", "");
    m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m->lock_fd < 0)
        goto fail;
    if (flock(m->lock_fd, LOCK_EX | LOCK_NB)) {
        char e[600];
        log_error("data dir is in use by another process", "\"dir\":%s",
                  log_json_str(e, sizeof(e), data_dir));
        goto fail;
    }
    read_marker(m);
    rc = load_topics(m);
    free_hints(m);
    if (rc)
        goto fail;
    remove_leftovers(m);
    char e[600];
    log_info("data dir opened", "\"dir\":%s,\"topics\":%d", log_json_str(e, sizeof(e), data_dir),
             m->ntopics);
    *out = m;
    return 0;
fail:
    for (int i = 0; i < m->ntopics; i++)
        topic_free(m->topics[i], false);
    free(m->topics);
    free_hints(m);
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    free(m->dir);
    free(m);
    return rc;
}

void logmgr_close(struct logmgr *m)
{
    char path[4096];
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    len = (size_t)snprintf(buf, cap, "%s\n", MARKER_HEADER);
    for (int i = 0; i < m->ntopics; i++) {
        struct topic_int *ti = m->topics[i];
        for (int32_t p = 0; p < ti->t.npartitions; p++) {
            struct plog *l = ti->t.partitions[p];
            int64_t end = plog_end_offset(l);
            uint64_t size = l->segs[l->nsegs - 1]->size;
            ti->t.partitions[p] = NULL;
            if (plog_close(l))
                continue;
            if (len + 400 > cap) {
                cap *= 2;
                buf = xrealloc(buf, cap);
            }
            len +=
                (size_t)snprintf(buf + len, cap - len, "%s %" PRId32 " %" PRId64 " %" PRIu64 "\n",
                                 ti->t.name, p, end, size);
        }
        topic_free(ti, false);
    }
    path_join(path, sizeof(path), m->dir, MARKER_NAME, "");
    if (write_atomic(m->dir, path, buf, len)) {
        char e[600];
        log_error("could not write the clean-shutdown marker", "\"dir\":%s",
                  log_json_str(e, sizeof(e), m->dir));
    }
    free(buf);
    free(m->topics);
    close(m->lock_fd);
    free(m->dir);
    free(m);
}

/* Syncs the data dir (so the partition directories made before are durable), then replaces
 * "<topic>.topic" atomically with "partitions=<npartitions>" and the topic's overrides. This is
 * the commit point of a create and of a grow. */
static int topic_file_write(struct logmgr *m, const struct topic_int *ti, int32_t npartitions)
{
    char path[4096];
    size_t cap = 64 + (size_t)ti->nconf * 600, n = 0;
    char *buf = xmalloc(cap);
    n += (size_t)snprintf(buf + n, cap - n, "partitions=%" PRId32 "\n", npartitions);
    for (int i = 0; i < ti->nconf; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%.250s=%.300s\n", ti->keys[i], ti->values[i]);
    path_join(path, sizeof(path), m->dir, ti->t.name, ".topic");
    int rc = file_fsync_dir(m->dir);
    if (rc == 0)
        rc = write_atomic(m->dir, path, buf, n);
    free(buf);
    return rc;
}

int logmgr_create_topic(struct logmgr *m, const char *name, int32_t npartitions,
                        const char *const *keys, const char *const *values, int nconfigs,
                        struct topic **out)
{
    char dir[4096];
    size_t len = name ? strlen(name) : 0;
    if (!topic_name_valid(name, len) || npartitions < 1 || npartitions > MAX_PARTITIONS ||
        !partition_names_fit(len, npartitions) || nconfigs < 0)
        return TANDEM_EINVAL;
    if (logmgr_find(m, name, len))
        return TANDEM_EEXIST;
    for (int32_t p = 0; p < npartitions; p++) { /* remains of an interrupted create */
        partition_dir(m, name, p, dir, sizeof(dir));
        remove_dir_flat(dir);
    }
    struct topic_int *ti = NULL;
    int rc = topic_open(m, name, npartitions, keys, values, nconfigs, &ti);
    if (rc)
        goto fail_dirs;
    rc = topic_file_write(m, ti, npartitions);
    if (rc)
        goto fail_topic;
    topics_insert(m, ti);
    log_info("topic created", "\"topic\":\"%s\",\"partitions\":%" PRId32 ",\"configs\":%d", name,
             npartitions, nconfigs);
    if (out)
        *out = &ti->t;
    return 0;
fail_topic:
    topic_free(ti, false);
fail_dirs:
    for (int32_t p = 0; p < npartitions; p++) {
        partition_dir(m, name, p, dir, sizeof(dir));
        remove_dir_flat(dir);
    }
    return rc;
}

int logmgr_delete_topic(struct logmgr *m, const char *name)
{
    char path[4096], dir[4096];
    bool found;
    int i = find_index(m, name, strlen(name), &found);
    if (!found)
        return TANDEM_ENOENT;
    struct topic_int *ti = m->topics[i];
    path_join(path, sizeof(path), m->dir, name, ".topic");
    if (unlink(path) || file_fsync_dir(m->dir))
        return TANDEM_EIO;
    memmove(m->topics + i, m->topics + i + 1, (size_t)(m->ntopics - i - 1) * sizeof(*m->topics));
    m->ntopics--;
    int32_t n = ti->t.npartitions;
    topic_free(ti, false);
    for (int32_t p = 0; p < n; p++) {
        partition_dir(m, name, p, dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s.deleted", dir);
        /* Names too long for the suffix are removed in place (still after the commit point). */
        if (strlen(strrchr(path, '/') + 1) <= 255 && rename(dir, path) == 0)
            remove_dir_flat(path);
        else
            remove_dir_flat(dir);
    }
    file_fsync_dir(m->dir);
    log_info("topic deleted", "\"topic\":\"%s\",\"partitions\":%" PRId32, name, n);
    return 0;
}

int logmgr_add_partitions(struct logmgr *m, const char *name, int32_t npartitions)
{
    char dir[4096];
    size_t len = strlen(name);
    bool found;
    int i = find_index(m, name, len, &found);
    if (!found)
        return TANDEM_ENOENT;
    struct topic_int *ti = m->topics[i];
    int32_t old = ti->t.npartitions;
    if (npartitions <= old || npartitions > MAX_PARTITIONS ||
        !partition_names_fit(len, npartitions))
        return TANDEM_EINVAL;
    /* The new array is built aside: until the commit the topic is exactly as it was. */
    struct plog **parts = xcalloc((size_t)npartitions, sizeof(*parts));
    memcpy(parts, ti->t.partitions, (size_t)old * sizeof(*parts));
    int rc = 0;
    for (int32_t p = old; p < npartitions && rc == 0; p++) {
        partition_dir(m, name, p, dir, sizeof(dir));
        remove_dir_flat(dir); /* remains of an interrupted grow that no restart removed */
        rc = partition_open(m, name, p, &ti->t.cfg, NULL, &parts[p]);
    }
    if (rc == 0) {
        rc = topic_file_write(m, ti, npartitions);
        /* The rename may have happened before a failed directory sync: put the old count back
         * (best effort) so that the file never names partitions whose directories go now. */
        if (rc && topic_file_write(m, ti, old))
            log_error("could not restore the topic file", "\"topic\":\"%s\"", name);
    }
    if (rc) {
        for (int32_t p = old; p < npartitions; p++) {
            if (parts[p])
                plog_free(parts[p]);
            partition_dir(m, name, p, dir, sizeof(dir));
            remove_dir_flat(dir);
        }
        free(parts);
        log_error("adding partitions failed",
                  "\"topic\":\"%s\",\"partitions\":%" PRId32 ",\"error\":\"%s\"", name, npartitions,
                  tandem_strerror(rc));
        return rc;
    }
    free(ti->t.partitions);
    ti->t.partitions = parts;
    ti->t.npartitions = npartitions;
    log_info("partitions added", "\"topic\":\"%s\",\"from\":%" PRId32 ",\"to\":%" PRId32, name, old,
             npartitions);
    return 0;
}

int logmgr_topic_overrides(const struct topic *t, const char *const **keys,
                           const char *const **values)
{
    const struct topic_int *ti = (const struct topic_int *)t;
    *keys = (const char *const *)ti->keys;
    *values = (const char *const *)ti->values;
    return ti->nconf;
}

const struct log_config *logmgr_defaults(const struct logmgr *m)
{
    return &m->defaults;
}

int logmgr_set_topic_configs(struct logmgr *m, const char *name, const char *const *keys,
                             const char *const *values, int n, bool validate_only, int *bad)
{
    bool found;
    int i = find_index(m, name, strlen(name), &found);
    *bad = -1;
    if (!found)
        return TANDEM_ENOENT;
    struct topic_int *ti = m->topics[i];
    struct log_config cfg = m->defaults;
    if (n > 64) { /* what topic_load reads back */
        *bad = 64;
        return TANDEM_EINVAL;
    }
    for (int k = 0; k < n; k++) {
        if (log_config_set(&cfg, keys[k], values[k])) {
            *bad = k;
            return TANDEM_EINVAL;
        }
    }
    if (validate_only)
        return 0;
    /* The new override set, built aside; it replaces the old one only once the file is written. */
    struct topic_int next = *ti;
    next.nconf = n;
    next.keys = xcalloc((size_t)n + 1, sizeof(char *));
    next.values = xcalloc((size_t)n + 1, sizeof(char *));
    for (int k = 0; k < n; k++) {
        next.keys[k] = xstrndup(keys[k], strlen(keys[k]));
        next.values[k] = xstrndup(values[k], strlen(values[k]));
    }
    int rc = topic_file_write(m, &next, ti->t.npartitions);
    struct topic_int *drop = rc ? &next : ti;
    for (int k = 0; k < drop->nconf; k++) {
        free(drop->keys[k]);
        free(drop->values[k]);
    }
    free(drop->keys);
    free(drop->values);
    if (rc) {
        log_error("topic config not written", "\"topic\":\"%s\",\"error\":\"%s\"", name,
                  tandem_strerror(rc));
        return rc;
    }
    ti->nconf = next.nconf;
    ti->keys = next.keys;
    ti->values = next.values;
    ti->t.cfg = cfg; /* the partitions point at t.cfg: in effect from their next append */
    log_info("topic config changed", "\"topic\":\"%s\",\"overrides\":%d", name, n);
    return 0;
}
