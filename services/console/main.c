/*
 * tandem-console: the live console of a running tandem system (console.h has the model;
 * docs/console.md what it shows and where each number comes from).
 *
 * Settings besides the runtime's (docs/libtandem.md):
 *   --control-socket PATH     the supervisor's control socket (TANDEM_CONTROL_SOCKET; `tandem up`
 *                             sets it for a service with `control: true`); unset: no processes
 *                             are shown and no action is possible
 *   --console-secret-file F   the console key's file (TANDEM_CONSOLE_SECRET_FILE; `tandem up`
 *                             makes var/tandem/console.secret and sets it); it must be a regular
 *                             file only its owner can read. Unset or unusable: actions are off
 * and the runtime's --brokers (the broker whose topics and groups it shows).
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "tandem/service.h"

static struct console console;

static void stop_all(void *arg)
{
    struct console *c = arg;
    poller_stop(c->poller);
    c->poller = NULL;
    tail_stop(c->tail);
    c->tail = NULL;
    admin_free(c->admin);
    c->admin = NULL;
}

/* The key from path into c->key: 0, or the reason logged and the key left empty. */
static int read_key(struct console *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    const char *why = NULL;
    char buf[160];
    ssize_t n = -1;
    if (fd < 0 || fstat(fd, &st) != 0) {
        why = "cannot be opened";
    } else if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        why = "must be a regular file only its owner can read";
    } else {
        n = read(fd, buf, sizeof(buf) - 1);
    }
    if (fd >= 0) {
        close(fd);
    }
    while (why == NULL && n > 0 && isspace((unsigned char)buf[n - 1])) {
        n--;
    }
    if (why == NULL && (n < 32 || n >= (ssize_t)sizeof(c->key))) {
        why = "must hold one key of 32 to 128 characters";
    }
    for (ssize_t i = 0; why == NULL && i < n; i++) {
        if (!isgraph((unsigned char)buf[i])) {
            why = "must hold one key of printable characters";
        }
    }
    if (why != NULL) {
        tandem_log_error(NULL, "console: the key file is not usable: actions are off",
                         "\"reason\":\"%s\"", why);
        return TANDEM_EINVAL;
    }
    memcpy(c->key, buf, (size_t)n);
    c->key[n] = '\0';
    return 0;
}

/* The port of "host:port". */
static int port_of(const char *listen)
{
    const char *colon = listen != NULL ? strrchr(listen, ':') : NULL;
    return colon != NULL ? atoi(colon + 1) : 0;
}

int main(int argc, char **argv)
{
    struct console *c = &console;
    if (tandem_service_new("console", argc, argv, &c->svc) != 0) {
        return 2; /* logged */
    }
    int rc = tandem_service_option(c->svc, "control-socket", NULL,
                                   "the supervisor's control socket (tandem up sets it)");
    if (rc == 0) {
        rc = tandem_service_option(c->svc, "console-secret-file", NULL,
                                   "the file holding the key that actions need (tandem up sets "
                                   "it)");
    }
    if (rc == 0) {
        rc = api_routes(c);
    }
    if (rc == 0 && argc > 1 && strcmp(argv[1], "--help") == 0) {
        rc = tandem_service_run(c->svc); /* prints the options */
        tandem_service_free(c->svc);
        return rc == 0 ? 0 : 1;
    }
    if (rc == 0) {
        c->ctl_path = tandem_service_config(c->svc, "control-socket");
        c->brokers = tandem_service_config(c->svc, "brokers");
        c->self_port = port_of(tandem_service_config(c->svc, "listen"));
        const char *key = tandem_service_config(c->svc, "console-secret-file");
        if (key != NULL) {
            read_key(c, key); /* a bad file turns the actions off, not the console */
        } else {
            tandem_log_warn(NULL, "console: no key file (--console-secret-file): actions are off",
                            NULL);
        }
        if (c->ctl_path == NULL) {
            tandem_log_warn(NULL,
                            "console: no control socket (--control-socket): processes are "
                            "not shown",
                            NULL);
        }
        rc = admin_new(c->brokers, &c->admin);
    }
    if (rc == 0) {
        rc = tail_start(c, &c->tail);
    }
    if (rc == 0) {
        rc = poller_start(c, &c->poller);
    }
    if (rc == 0) {
        tandem_service_on_stop(c->svc, stop_all, c);
        rc = tandem_service_run(c->svc); /* until SIGTERM */
    } else {
        stop_all(c);
    }
    tandem_service_free(c->svc);
    return rc == 0 ? 0 : 1;
}
