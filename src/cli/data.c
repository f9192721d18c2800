/*
 * Where a service's files go, and the one note about the data an older tandem left.
 *
 * Layout. A service's instances share one data directory, var/services/NAME (their
 * TANDEM_DATA_DIR): they open one SQLite database there, in WAL mode, which libtandem's store
 * makes safe for several processes (the outbox relay takes a lock file; writes go through a
 * group-commit writer). What really is one instance's own (a scratch file, a socket, a local
 * cache) goes in var/services/NAME/I (its TANDEM_INSTANCE_DIR, with TANDEM_INSTANCE=I), a
 * directory inside the shared one. Both are created 0700 before the instance starts.
 *
 *     var/services/users/            TANDEM_DATA_DIR of every users instance: users.db, -wal, -shm
 *     var/services/users/0/          TANDEM_INSTANCE_DIR of users.0
 *     var/services/users/1/          TANDEM_INSTANCE_DIR of users.1
 *
 * Before this layout each instance's TANDEM_DATA_DIR was var/services/NAME/I, so a project from
 * then keeps its data (one database per instance, diverged) in those directories. tandem moves and
 * deletes none of it: which copy to keep is the user's decision, and left in place it still
 * belongs to instance I, now as its TANDEM_INSTANCE_DIR. The first `up` that finds no
 * var/tandem/layout says, one line per directory, which of them hold files, then writes that file,
 * so the note is given once per project (a new project gets the file and no note).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/supervisor.h"

#define LAYOUT_FILE "var/tandem/layout"
#define LAYOUT_TEXT                                                                \
    "var/services/NAME: one data directory per service, shared by its instances; " \
    "var/services/NAME/I: instance I's own\n"

void sup_data_dir(const struct sup *s, int svc, int idx, char *out, size_t len)
{
    if (idx < 0) {
        snprintf(out, len, "var/services/%s", s->m.services[svc].name);
    } else {
        snprintf(out, len, "var/services/%s/%d", s->m.services[svc].name, idx);
    }
}

static bool all_digits(const char *name)
{
    if (*name == '\0') {
        return false;
    }
    for (; *name != '\0'; name++) {
        if (!isdigit((unsigned char)*name)) {
            return false;
        }
    }
    return true;
}

/* Whether directory `path` holds anything. */
static bool has_files(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return false;
    }
    bool any = false;
    for (struct dirent *e = readdir(d); e != NULL && !any; e = readdir(d)) {
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return any;
}

/* The note for var/services/SVC's numbered directories that hold files. */
static void note_service(const char *svc)
{
    char path[512];
    snprintf(path, sizeof(path), "var/services/%s", svc);
    DIR *d = opendir(path);
    if (d == NULL) {
        return;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        char inst[800];
        snprintf(inst, sizeof(inst), "%s/%s", path, e->d_name);
        if (all_digits(e->d_name) && has_files(inst)) {
            sup_log("%s: %s holds files from an older tandem, which made it the instance's "
                    "TANDEM_DATA_DIR. Left as they are (now instance %s's TANDEM_INSTANCE_DIR); "
                    "the service's TANDEM_DATA_DIR is %s, shared by its instances: move there "
                    "what the service must find (one copy of a database: the one to keep)",
                    svc, inst, e->d_name, path);
        }
    }
    closedir(d);
}

void sup_data_layout(void)
{
    if (access(LAYOUT_FILE, F_OK) == 0) {
        return;
    }
    DIR *d = opendir("var/services");
    for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL; e = readdir(d)) {
        if (e->d_name[0] != '.') {
            note_service(e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    int fd = open(LAYOUT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, LAYOUT_TEXT, sizeof(LAYOUT_TEXT) - 1) != sizeof(LAYOUT_TEXT) - 1) {
        sup_log("cannot write %s: %s", LAYOUT_FILE, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
}
