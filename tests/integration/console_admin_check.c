/*
 * console-admin-check: the console's admin client (services/console/admin.c, #included) against
 * a real tandem-broker that goes away and comes back (tests/integration/console_admin.sh runs it
 * with TANDEM_BROKER and a data dir):
 *
 *   1. a broker on a free 127.0.0.1 port; admin_groups answers;
 *   2. the broker killed (SIGKILL); a reset then waits for the group's coordinator and times
 *      out: 502 with the timeout, and the admin handle is replaced (renewed == 1) before the
 *      broker is back;
 *   3. the broker started again on the same port and data dir; admin_groups answers again, and
 *      goes on answering for 3 s while the coordinator is found again.
 *
 * Without the replacement, librdkafka 2.0.2 aborts in step 3 (rd_kafka_enq_once_del_source_return:
 * `eonce->refcnt > 0`): its coordinator request outlived the reset's timeout (admin.c's top
 * comment). The process dying is the failure then; each other expectation is a CHECK.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../services/console/admin.c"
#include "../../services/console/record.c"

#include "it_check.h"

static const char *broker_bin, *data_dir;
static char listen_addr[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        perror("free port");
        exit(2);
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static pid_t start_broker(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives this check */
        execl(broker_bin, broker_bin, "--listen", listen_addr, "--data-dir", data_dir,
              (char *)NULL);
        perror("exec tandem-broker");
        _exit(127);
    }
    return pid;
}

/* admin_groups until it answers or ms pass: whether it answered. */
static bool groups_answer(struct admin *a, int ms)
{
    int64_t deadline = mono_ms() + ms;
    do {
        char err[256] = "";
        json_t *g = admin_groups(a, 800, err, sizeof(err));
        if (g != NULL) {
            json_decref(g);
            return true;
        }
        usleep(200 * 1000);
    } while (mono_ms() < deadline);
    return false;
}

int main(int argc, char **argv)
{
    broker_bin = getenv("TANDEM_BROKER");
    data_dir = argc > 1 ? argv[1] : NULL;
    if (broker_bin == NULL || data_dir == NULL) {
        fprintf(stderr, "usage: TANDEM_BROKER=... console-admin-check DATA_DIR\n");
        return 2;
    }
    alarm(90); /* bounded, whatever librdkafka does; the broker dies with this process */
    snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", free_port());
    pid_t broker = start_broker();
    struct admin *a = NULL;
    if (admin_new(listen_addr, &a) != 0) {
        fprintf(stderr, "admin_new failed\n");
        kill(broker, SIGKILL);
        return 2;
    }
    CHECK(groups_answer(a, 15000), "the groups were not listed within 15 s of the broker's start");

    kill(broker, SIGKILL);
    waitpid(broker, NULL, 0);
    json_t *spec = json_pack("{s:s,s:s}", "to", "earliest", "topic", "t");
    json_t *body = NULL;
    int64_t t0 = mono_ms();
    int status = admin_reset(a, "g", spec, &body);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    fprintf(stderr, "reset with the broker down: %d %s after %lld ms\n", status,
            text != NULL ? text : "", (long long)(mono_ms() - t0));
    CHECK(status == 502, "reset with the broker down answered %d, want 502", status);
    CHECK(text != NULL && strstr(text, "imed out") != NULL, "the 502 does not say timed out: %s",
          text != NULL ? text : "(none)");
    free(text);
    json_decref(body);
    json_decref(spec);
    CHECK(atomic_load(&a->renewed) == 1, "the admin handle was replaced %llu times, want 1",
          (unsigned long long)atomic_load(&a->renewed));

    broker = start_broker(); /* the waiting coordinator request would now find its coordinator */
    CHECK(groups_answer(a, 15000), "the groups were not listed within 15 s of the restart");
    int64_t until = mono_ms() + 3000;
    while (mono_ms() < until) {
        groups_answer(a, 0);
        usleep(300 * 1000);
    }
    admin_free(a);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    if (failures == 0) {
        printf(
            "console admin: ok (the handle replaced once, no abort after the broker returned)\n");
    }
    return failures ? 1 : 0;
}
