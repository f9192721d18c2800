/*
 * kbench group-failover: how long the partitions of a consumer that died stay unread.
 *
 *   kbench group-failover --server H:P --topic T --partitions 6 --members 3 --rate 10000
 *                         [--session-timeout-ms S --heartbeat-interval-ms H] [--warmup W]
 *
 * Model. This process (the orchestrator) creates T with P partitions, produces R records/s
 * into it from a thread (record i goes to partition i % P and carries its send time and its
 * partition, bench_util.h), and starts M member PROCESSES, each `kbench group-member` (the
 * same binary, re-executed): one rd_kafka_t subscribed to T in group G (fresh per run) with
 * the given session.timeout.ms and heartbeat.interval.ms (librdkafka 2.0.2's 45000 and 3000
 * when not given). Each member reports on its stdout, a pipe to the orchestrator, one line per
 * event, times in CLOCK_MONOTONIC nanoseconds (system-wide, so comparable across processes):
 *
 *   assign T_NS P P ...          the rebalance callback assigned these partitions
 *   revoke T_NS                  the rebalance callback revoked the assignment
 *   first T_NS P OFFSET SEND_NS  first record of partition P consumed since its assignment
 *   stats RECORDS BAD            at exit (BAD: errors, wrong size, wrong partition stamp)
 *
 * Phases. (1) Steady: every member has an assignment, the assignments cover every partition
 * without overlap, every partition has been consumed since it was assigned, and no rebalance
 * happened for W seconds (run.sh uses 6, more than auto.commit.interval.ms, so that offsets
 * were committed as in a running system). (2) After a random delay of 0 to one heartbeat
 * interval (kill_delay_ms: the heartbeats of all members tick in step from their last
 * SyncGroup, and so does the steady condition) the orchestrator sends SIGKILL to member 0 (it
 * cannot leave the group: only the session timeout removes it), noting kill_ns just before. (3) It
 * waits until, for each partition the dead member held, a survivor reports a `first` line after
 * kill_ns. Figures, all from kill_ns:
 *
 *   detect_ms     first revoke in a survivor (the broker expired the member and rebalanced)
 *   reassign_ms   first survivor assignment that holds a dead member's partition
 *   recovered_ms  the last of the dead member's partitions consumed again (the result);
 *                 recovered_min_ms the first
 *
 * Then the survivors get SIGTERM (they close and leave the group) and the producer stops.
 * Every member process also gets SIGTERM if the orchestrator dies (PR_SET_PDEATHSIG).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kbench_int.h"

#define FO_MAX_MEMBERS    16
#define FO_MAX_PARTITIONS 64 /* partition sets are uint64_t masks */

/* ---- the member process ---- */

static volatile sig_atomic_t member_stop;

static void on_term(int sig)
{
    (void)sig;
    member_stop = 1;
}

struct fmember {
    uint8_t seen[FO_MAX_PARTITIONS]; /* consumed since the current assignment */
    uint64_t records, bad;
};

/* Writes one report line to stdout (the orchestrator's pipe), whole or not at all. */
static void report(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t w = write(1, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        line += w;
        len -= (size_t)w;
    }
}

static void member_rebalance(void *opaque, rd_kafka_resp_err_t err,
                             const rd_kafka_topic_partition_list_t *parts)
{
    struct fmember *fm = opaque;
    char line[1024];
    int n;
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        n = snprintf(line, sizeof(line), "revoke %llu\n", (unsigned long long)bench_now_ns());
        report(line, (size_t)n);
        return;
    }
    memset(fm->seen, 0, sizeof(fm->seen));
    n = snprintf(line, sizeof(line), "assign %llu", (unsigned long long)bench_now_ns());
    for (int i = 0; i < parts->cnt && n < (int)sizeof(line) - 8; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %d", (int)parts->elems[i].partition);
    line[n++] = '\n';
    report(line, (size_t)n);
}

static void member_record(struct fmember *fm, const rd_kafka_message_t *m)
{
    int32_t stamped = -1;
    uint64_t sent = 0;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR || m->partition < 0 ||
        m->partition >= FO_MAX_PARTITIONS ||
        bench_payload_partition(m->payload, m->len, &stamped) != 0 || stamped != m->partition ||
        bench_payload_send_ns(m->payload, m->len, &sent) != 0) {
        if (fm->bad++ == 0)
            fprintf(stderr, "kbench: member: bad record (%s)\n", rd_kafka_err2str(m->err));
        return;
    }
    fm->records++;
    if (fm->seen[m->partition])
        return;
    fm->seen[m->partition] = 1;
    char line[128];
    int n = snprintf(line, sizeof(line), "first %llu %d %lld %llu\n",
                     (unsigned long long)bench_now_ns(), (int)m->partition, (long long)m->offset,
                     (unsigned long long)sent);
    report(line, (size_t)n);
}

int run_group_member(const struct bench_opts *o)
{
    struct sigaction sa = {.sa_handler = on_term};
    struct fmember fm = {0};
    rd_kafka_t *rk = NULL;
    char cid[32], line[96];
    sigaction(SIGTERM, &sa, NULL);
    if (o->group == NULL) {
        fprintf(stderr, "kbench: group-member needs --group\n");
        return TANDEM_EINVAL;
    }
    snprintf(cid, sizeof(cid), "kbench-m%ld", (long)getpid());
    int rc = group_consumer_new(o, cid, member_rebalance, &fm, &rk);
    if (rc != 0)
        return rc;
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kbench: member subscribe: %s\n", rd_kafka_err2str(err));
        rc = TANDEM_EIO;
    }
    uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout * 1e9);
    while (rc == 0 && !member_stop && bench_now_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (m == NULL)
            continue;
        member_record(&fm, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    int n = snprintf(line, sizeof(line), "stats %llu %llu\n", (unsigned long long)fm.records,
                     (unsigned long long)fm.bad);
    report(line, (size_t)n);
    return rc;
}

/* ---- the orchestrator ---- */

struct fo_member {
    pid_t pid;
    int fd; /* read end of the member's stdout; -1 after EOF */
    char buf[4096];
    size_t len;
    uint64_t assigned; /* current assignment */
    int has_assign;
    uint64_t records, bad;
};

struct fo {
    const struct bench_opts *o;
    int n;
    struct fo_member m[FO_MAX_MEMBERS];
    uint64_t all;   /* every partition */
    uint64_t fresh; /* partitions consumed since their current assignment */
    uint64_t last_change_ns;
    uint64_t kill_delay_ns, kill_ns, victim_mask, recovered_mask, detect_ns, reassign_ns;
    uint64_t recovered_ns[FO_MAX_PARTITIONS];
};

struct fo_producer {
    const struct bench_opts *o;
    rd_kafka_t *rk;
    atomic_int stop;
    uint64_t sent;
    int rc;
};

/* Sends o->rate records/s, record i to partition i % P, until stop. */
static void *fo_produce(void *arg)
{
    struct fo_producer *p = arg;
    const struct bench_opts *o = p->o;
    uint8_t *buf = calloc(1, (size_t)o->size);
    struct bench_pacer pc = {.start_ns = bench_now_ns(), .rate = (uint64_t)o->rate};
    pc.total = UINT64_MAX;
    if (buf == NULL) {
        p->rc = TANDEM_ENOMEM;
        return NULL;
    }
    bench_payload_init(buf, (size_t)o->size);
    while (!atomic_load(&p->stop) && p->rc == 0) {
        uint64_t due = bench_pacer_due(&pc, bench_now_ns());
        for (; p->sent < due && p->rc == 0; p->sent++) {
            int32_t part = (int32_t)(p->sent % (uint64_t)o->partitions);
            bench_payload_stamp(buf, bench_now_ns(), p->sent);
            bench_payload_stamp_partition(buf, part);
            p->rc = produce_one(p->rk, o, buf, part);
        }
        rd_kafka_poll(p->rk, 0);
        bench_sleep_ns(1000000);
    }
    rd_kafka_flush(p->rk, 5000);
    free(buf);
    return NULL;
}

/* Starts member i: `kbench group-member ...` with its stdout on a pipe. */
static int fo_spawn(struct fo *f, int i, const char *group)
{
    const struct bench_opts *o = f->o;
    char tmo[32], size[32], st[32], hb[32];
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return TANDEM_EIO;
    snprintf(tmo, sizeof(tmo), "%.0f", o->timeout + 10);
    snprintf(size, sizeof(size), "%lld", o->size);
    snprintf(st, sizeof(st), "%lld", o->session_timeout_ms);
    snprintf(hb, sizeof(hb), "%lld", o->heartbeat_interval_ms);
    const char *argv[20] = {"kbench",  "group-member", "--server", o->server, "--topic",   o->topic,
                            "--group", group,          "--size",   size,      "--timeout", tmo};
    int a = 12;
    if (o->session_timeout_ms > 0) {
        argv[a++] = "--session-timeout-ms";
        argv[a++] = st;
    }
    if (o->heartbeat_interval_ms > 0) {
        argv[a++] = "--heartbeat-interval-ms";
        argv[a++] = hb;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return TANDEM_EIO;
    }
    if (pid == 0) { /* the child: only async-signal-safe calls until exec */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (dup2(fds[1], 1) < 0)
            _exit(127);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    f->m[i].pid = pid;
    f->m[i].fd = fds[0];
    return 0;
}

static uint64_t parse_mask(char *rest)
{
    uint64_t mask = 0;
    char *save = NULL;
    for (char *t = strtok_r(rest, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        long p = strtol(t, NULL, 10);
        if (p >= 0 && p < FO_MAX_PARTITIONS)
            mask |= 1ull << p;
    }
    return mask;
}

/* Applies one report line of member i to the state. */
static void fo_line(struct fo *f, int i, char *line)
{
    struct fo_member *m = &f->m[i];
    unsigned long long t = 0, a = 0, b = 0;
    int p = -1, used = 0;
    int after = f->kill_ns != 0;
    if (sscanf(line, "assign %llu%n", &t, &used) == 1) {
        m->assigned = parse_mask(line + used);
        m->has_assign = 1;
        f->fresh &= ~m->assigned;
        f->last_change_ns = bench_now_ns();
        if (after && t > f->kill_ns && (m->assigned & f->victim_mask) && f->reassign_ns == 0)
            f->reassign_ns = t;
    } else if (sscanf(line, "revoke %llu", &t) == 1) {
        f->fresh &= ~m->assigned;
        m->assigned = 0;
        m->has_assign = 0;
        f->last_change_ns = bench_now_ns();
        if (after && t > f->kill_ns && f->detect_ns == 0)
            f->detect_ns = t;
    } else if (sscanf(line, "first %llu %d %llu %llu", &t, &p, &a, &b) == 4 && p >= 0 &&
               p < FO_MAX_PARTITIONS) {
        f->fresh |= 1ull << p;
        uint64_t bit = 1ull << p;
        if (after && t > f->kill_ns && (f->victim_mask & bit) && !(f->recovered_mask & bit)) {
            f->recovered_mask |= bit;
            f->recovered_ns[p] = t;
        }
    } else if (sscanf(line, "stats %llu %llu", &a, &b) == 2) {
        m->records = a;
        m->bad = b;
    }
}

/* Reads what member i wrote; returns 0, or 1 at EOF (the fd is closed then). */
static int fo_read(struct fo *f, int i)
{
    struct fo_member *m = &f->m[i];
    ssize_t r = read(m->fd, m->buf + m->len, sizeof(m->buf) - 1 - m->len);
    if (r < 0 && errno == EINTR)
        return 0;
    if (r <= 0) {
        close(m->fd);
        m->fd = -1;
        return 1;
    }
    m->len += (size_t)r;
    m->buf[m->len] = '\0';
    char *start = m->buf, *nl;
    while ((nl = memchr(start, '\n', m->len - (size_t)(start - m->buf))) != NULL) {
        *nl = '\0';
        fo_line(f, i, start);
        start = nl + 1;
    }
    m->len -= (size_t)(start - m->buf);
    memmove(m->buf, start, m->len);
    if (m->len == sizeof(m->buf) - 1)
        m->len = 0; /* a line longer than the buffer: drop it */
    return 0;
}

/* Polls every open member pipe for up to ms milliseconds. Returns the number of members that
 * reached EOF in this call. */
static int fo_pump(struct fo *f, int ms)
{
    struct pollfd pfd[FO_MAX_MEMBERS];
    int idx[FO_MAX_MEMBERS], k = 0, eofs = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->m[i].fd < 0)
            continue;
        pfd[k] = (struct pollfd){.fd = f->m[i].fd, .events = POLLIN};
        idx[k++] = i;
    }
    if (k == 0) {
        bench_sleep_ns((uint64_t)ms * 1000000u);
        return 0;
    }
    if (poll(pfd, (nfds_t)k, ms) <= 0)
        return 0;
    for (int j = 0; j < k; j++)
        if (pfd[j].revents != 0)
            eofs += fo_read(f, idx[j]);
    return eofs;
}

/* True once the group is steady (see the file comment). */
static int fo_steady(const struct fo *f, double settle_s)
{
    uint64_t seen = 0;
    for (int i = 0; i < f->n; i++) {
        if (!f->m[i].has_assign || (seen & f->m[i].assigned))
            return 0;
        seen |= f->m[i].assigned;
    }
    return seen == f->all && f->fresh == f->all &&
           bench_now_ns() - f->last_change_ns >= (uint64_t)(settle_s * 1e9);
}

/* Phases 1-3; 0 when every partition of the dead member was consumed again in time. */
static int fo_run(struct fo *f, uint64_t deadline)
{
    while (!fo_steady(f, f->o->warmup)) {
        if (fo_pump(f, 20) > 0 || bench_now_ns() >= deadline) {
            fprintf(stderr, "kbench: group-failover: the group never became steady\n");
            return TANDEM_ETIMEDOUT;
        }
    }
    /* The members' heartbeats tick in step from their last SyncGroup, and so does "steady": a
     * random delay of up to one heartbeat interval makes the kill land anywhere in the cycle. */
    unsigned seed = (unsigned)(bench_now_ns() ^ (uint64_t)getpid());
    uint64_t delay = (uint64_t)rand_r(&seed) % (uint64_t)f->o->heartbeat_interval_ms;
    f->kill_delay_ns = delay * 1000000u;
    for (uint64_t until = bench_now_ns() + f->kill_delay_ns; bench_now_ns() < until;)
        fo_pump(f, 1);
    f->victim_mask = f->m[0].assigned;
    f->kill_ns = bench_now_ns();
    kill(f->m[0].pid, SIGKILL);
    waitpid(f->m[0].pid, NULL, 0);
    f->m[0].pid = 0;
    while (f->recovered_mask != f->victim_mask) {
        fo_pump(f, 20);
        if (bench_now_ns() >= deadline) {
            fprintf(stderr, "kbench: group-failover: partitions not consumed again in time\n");
            return TANDEM_ETIMEDOUT;
        }
    }
    return 0;
}

/* SIGTERM to every live member, then waits up to 10 s for each (SIGKILL after that), reading
 * their last lines. */
static void fo_stop(struct fo *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->m[i].pid > 0)
            kill(f->m[i].pid, SIGTERM);
    uint64_t deadline = bench_now_ns() + 10000000000ull;
    for (int i = 0; i < f->n; i++) {
        while (f->m[i].pid > 0 && waitpid(f->m[i].pid, NULL, WNOHANG) == 0) {
            if (bench_now_ns() >= deadline) {
                kill(f->m[i].pid, SIGKILL);
                waitpid(f->m[i].pid, NULL, 0);
                break;
            }
            fo_pump(f, 20);
        }
        f->m[i].pid = 0;
    }
    while (fo_pump(f, 20) > 0) {
    }
    for (int i = 0; i < f->n; i++)
        if (f->m[i].fd >= 0)
            close(f->m[i].fd);
}

static double ms_after(uint64_t t, uint64_t from)
{
    return t > from ? (double)(t - from) / 1e6 : -1.0;
}

static void fo_print(const struct fo *f, uint64_t sent)
{
    const struct bench_opts *o = f->o;
    char parts[512];
    int n = 0;
    uint64_t last = 0, first = UINT64_MAX, records = 0, bad = 0;
    parts[0] = '\0';
    for (int p = 0; p < FO_MAX_PARTITIONS; p++) {
        if (!(f->victim_mask & (1ull << p)))
            continue;
        n += snprintf(parts + n, sizeof(parts) - (size_t)n, "%s%d", n ? "," : "", p);
        last = f->recovered_ns[p] > last ? f->recovered_ns[p] : last;
        first = f->recovered_ns[p] < first ? f->recovered_ns[p] : first;
    }
    for (int i = 1; i < f->n; i++) {
        records += f->m[i].records;
        bad += f->m[i].bad;
    }
    printf("mode=group-failover members=%d partitions=%lld rate=%lld session_timeout_ms=%lld "
           "heartbeat_interval_ms=%lld victim_partitions=%s kill_delay_ms=%.0f detect_ms=%.1f "
           "reassign_ms=%.1f "
           "recovered_ms=%.1f recovered_min_ms=%.1f produced=%llu survivor_records=%llu bad=%llu\n",
           f->n, o->partitions, o->rate, o->session_timeout_ms, o->heartbeat_interval_ms, parts,
           (double)f->kill_delay_ns / 1e6, ms_after(f->detect_ns, f->kill_ns),
           ms_after(f->reassign_ns, f->kill_ns), ms_after(last, f->kill_ns),
           first == UINT64_MAX ? -1.0 : ms_after(first, f->kill_ns), (unsigned long long)sent,
           (unsigned long long)records, (unsigned long long)bad);
}

int run_group_failover(const struct bench_opts *o)
{
    struct bench_opts go = *o;
    struct produce_state st = {0};
    struct fo_producer prod = {.o = &go};
    struct fo *f = calloc(1, sizeof(*f));
    char gid[96];
    pthread_t tid;
    int started = 0, rc = f ? 0 : TANDEM_ENOMEM;
    if (rc == 0 && (o->members < 2 || o->members > FO_MAX_MEMBERS || o->partitions < 1 ||
                    o->partitions > FO_MAX_PARTITIONS)) {
        fprintf(stderr, "kbench: group-failover: 2-%d members, 1-%d partitions\n", FO_MAX_MEMBERS,
                FO_MAX_PARTITIONS);
        rc = TANDEM_EINVAL;
    }
    if (rc != 0)
        goto out;
    if (go.group == NULL) {
        snprintf(gid, sizeof(gid), "kbench-failover-%ld", (long)getpid());
        go.group = gid;
    }
    /* librdkafka's own defaults, so that the output says what was in effect */
    if (go.session_timeout_ms == 0 || go.heartbeat_interval_ms == 0) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char v[32];
        size_t vl = sizeof(v);
        if (go.session_timeout_ms == 0 &&
            rd_kafka_conf_get(conf, "session.timeout.ms", v, &vl) == RD_KAFKA_CONF_OK)
            go.session_timeout_ms = strtoll(v, NULL, 10);
        vl = sizeof(v);
        if (go.heartbeat_interval_ms == 0 &&
            rd_kafka_conf_get(conf, "heartbeat.interval.ms", v, &vl) == RD_KAFKA_CONF_OK)
            go.heartbeat_interval_ms = strtoll(v, NULL, 10);
        rd_kafka_conf_destroy(conf);
    }
    f->o = &go;
    f->n = (int)o->members;
    f->all = go.partitions == 64 ? UINT64_MAX : (1ull << go.partitions) - 1;
    for (int i = 0; i < f->n; i++)
        f->m[i].fd = -1;
    rc = producer_new(&go, &st, &prod.rk);
    rc = rc ? rc : topic_create(prod.rk, &go);
    if (rc != 0)
        goto out;
    if (pthread_create(&tid, NULL, fo_produce, &prod) != 0) {
        rc = TANDEM_ENOMEM;
        goto out;
    }
    started = 1;
    for (int i = 0; i < f->n && rc == 0; i++)
        rc = fo_spawn(f, i, go.group);
    uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout * 1e9);
    rc = rc ? rc : fo_run(f, deadline);
    fo_stop(f);
    atomic_store(&prod.stop, 1);
    pthread_join(tid, NULL);
    started = 0;
    if (rc == 0)
        rc = prod.rc;
    if (f->kill_ns != 0)
        fo_print(f, prod.sent);
out:
    if (started) {
        atomic_store(&prod.stop, 1);
        pthread_join(tid, NULL);
    }
    if (prod.rk != NULL)
        rd_kafka_destroy(prod.rk);
    free(f);
    return rc;
}
