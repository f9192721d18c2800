/*
 * The console key: what protects the actions of the live console (docs/console.md).
 *
 * Model. A service whose manifest entry says `control: true` (the console, tandem-console) may
 * drive the supervisor: it gets the control socket's path (TANDEM_CONTROL_SOCKET) and, so that
 * only people who can read the project's files can use its actions from a browser, the path of a
 * secret (TANDEM_CONSOLE_SECRET_FILE). At every `up` with such a service, the supervisor writes a
 * new random key (32 bytes from getrandom, as 64 hexadecimal digits) to var/tandem/console.secret,
 * mode 0600 (written to a temporary file, then renamed over the old one, so a reader never sees
 * half a key), and `up` names the file next to the console's address. The console compares the
 * key a page sends (X-Console-Key) with it; every other process gets neither variable (proc.c
 * removes them from what it inherits).
 *
 * Why a new key at every `up` rather than one kept: a key that was shown, copied or pasted
 * somewhere stops working at the next start, and nothing needs it to survive (the page asks for it
 * again when the console refuses it). Why the path rather than the key in the environment: the
 * same as for the token keys (jwt.c): a file's mode says who may read it, and nothing prints it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli/supervisor.h"
#include "tandem/error.h"

#define KEY_PATH "var/tandem/console.secret"

bool sup_console_present(const struct sup *s)
{
    for (size_t i = 0; i < s->m.n_services; i++) {
        if (s->m.services[i].control) {
            return true;
        }
    }
    return false;
}

const char *sup_console_key_path(void)
{
    return KEY_PATH;
}

int sup_console_prepare(struct sup *s)
{
    if (!sup_console_present(s)) {
        return 0;
    }
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "tandem: up failed: console: no random bytes for its key: %s\n",
                    strerror(errno));
            return TANDEM_EIO;
        }
        got += n > 0 ? (size_t)n : 0;
    }
    char hex[sizeof(raw) * 2 + 2];
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    }
    hex[sizeof(raw) * 2] = '\n';
    hex[sizeof(raw) * 2 + 1] = '\0';
    const char *tmp = KEY_PATH ".new";
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(hex);
    bool ok = fd >= 0 && write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    ok = ok && rename(tmp, KEY_PATH) == 0;
    explicit_bzero(hex, sizeof(hex));
    explicit_bzero(raw, sizeof(raw));
    if (!ok) {
        fprintf(stderr, "tandem: up failed: console: cannot write its key %s: %s\n", KEY_PATH,
                strerror(errno));
        unlink(tmp);
        return TANDEM_EIO;
    }
    return 0;
}
