/*
 * kafka-txn: librdkafka's transactional producer and read_committed consumer against
 * tandem-broker (KIP-98). Each subcommand is one scenario of tests/integration/t_txn_*.sh and
 * exits 0 only when every check passed (messages on stderr say what failed).
 *
 *   interleave -b B -t T -p N --txns K
 *       Two transactional producers (ids T-a and T-b) run K transactions each, interleaved on the
 *       same N partitions: a begins, b begins, a writes, b writes, then one commits and the other
 *       aborts (alternating). Then a read_committed consumer must see exactly the committed
 *       records, each once, and a read_uncommitted one every record written. Last, a third
 *       producer initialised with id T-a fences the first: its next commit must fail as fenced.
 *   verify-interleave -b B -t T -p N --txns K
 *       The read checks of interleave alone (after a broker restart).
 *   ctp -b B --in I --out O -g G -n N
 *       Consume-transform-produce: N records are produced to I (plain); a group consumer reads
 *       them and a transactional producer writes each, transformed, to O with the consumer's
 *       offsets (rd_kafka_send_offsets_to_transaction), committing every 100 records. One
 *       transaction is aborted on purpose (its offsets must not become visible), and the offsets
 *       of an open transaction must not be visible before its commit. Then O must hold each
 *       input exactly once (read_committed) and the group's committed offsets the end of I.
 *   ctp-offset -b B --in I -g G -n N
 *       The group's committed offset of I partition 0 must be N (after a restart).
 *   crash-produce -b B -t T -p N --log F --stop S
 *       Runs transactions of 20 records over N partitions until the file S exists, aborting
 *       every 5th; appends "C <txn>" to F when a commit returned success and "A <txn>" when an
 *       abort did. Survives broker restarts: a fatal error (fenced after a crash) recreates the
 *       producer with the same transactional id.
 *   verify -b B -t T -p N --log F
 *       Reads T read_committed: every transaction appears whole (20 records) or not at all, once;
 *       every one logged C appears, none logged A does.
 *   timeout -b B -t T
 *       A transaction with transaction.timeout.ms 2000 is left open 5 s: the broker must abort it
 *       (its commit then fails), a read_committed consumer must see none of its records and
 *       reach the end, and a new producer with the same id must commit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define TXN_RECORDS 20

static const char *brokers, *topic, *in_topic, *out_topic, *group, *log_path, *stop_path;
static int npartitions = 2, ntxns = 10, nrecords = 1000;
static int failures;

static void failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kafka-txn: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failures++;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kafka-txn: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die("config %s=%s: %s", k, v, err);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        fprintf(stderr, "kafka-txn: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static rd_kafka_t *txn_producer(const char *txn_id, const char *timeout_ms)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", brokers);
    set(c, "transactional.id", txn_id);
    set(c, "linger.ms", "5");
    if (timeout_ms)
        set(c, "transaction.timeout.ms", timeout_ms);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!rk)
        die("producer: %s", err);
    rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 30000);
    if (e)
        die("init_transactions(%s): %s", txn_id, rd_kafka_error_string(e));
    return rk;
}

static void check_error(rd_kafka_error_t *e, const char *what)
{
    if (e) {
        die("%s: %s%s", what, rd_kafka_error_string(e),
            rd_kafka_error_is_fatal(e) ? " (fatal)" : "");
    }
}

static void produce(rd_kafka_t *rk, const char *t, int32_t part, const char *key, const char *val)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(t), RD_KAFKA_V_PARTITION(part), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
            continue;
        }
        if (err)
            die("produce: %s", rd_kafka_err2str(err));
        return;
    }
}

/* ---- consuming ---------------------------------------------------------------------------- */

/* A set of strings (values seen), counted. */
struct seen {
    char **v;
    int *count;
    int n, cap;
};

static void seen_add(struct seen *s, const char *val, size_t len)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && memcmp(s->v[i], val, len) == 0) {
            s->count[i]++;
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, (size_t)s->cap * sizeof(*s->v));
        s->count = realloc(s->count, (size_t)s->cap * sizeof(*s->count));
    }
    s->v[s->n] = strndup(val, len);
    s->count[s->n++] = 1;
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    free(s->count);
    memset(s, 0, sizeof(*s));
}

static int seen_count(const struct seen *s, const char *val)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], val) == 0)
            return s->count[i];
    return 0;
}

/* Reads every partition of t from the beginning to its end (partition EOF: the LSO with
 * read_committed) into out. */
static void consume_all(const char *t, int nparts, bool committed, struct seen *out)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", brokers);
    set(c, "group.id", "kafka-txn-reader");
    set(c, "enable.partition.eof", "true");
    set(c, "enable.auto.commit", "false");
    set(c, "isolation.level", committed ? "read_committed" : "read_uncommitted");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (!rk)
        die("consumer: %s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, t, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(rk, l))
        die("assign");
    rd_kafka_topic_partition_list_destroy(l);
    int eof = 0;
    int64_t deadline = now_ms() + 30000;
    while (eof < nparts && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof++;
        else if (m->err)
            fprintf(stderr, "kafka-txn: consume: %s\n", rd_kafka_message_errstr(m));
        else
            seen_add(out, m->payload, m->len);
        rd_kafka_message_destroy(m);
    }
    if (eof < nparts)
        failf("%s: only %d of %d partitions reached their end in 30 s", t, eof, nparts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* ---- interleave ---------------------------------------------------------------------- */

/* Checks what interleave wrote: read_committed sees exactly the committed values once,
 * read_uncommitted every value once; extra = values written after (the fencing check's). */
static void check_interleaved(int extra)
{
    char val[128];
    struct seen rc = {0}, ru = {0};
    consume_all(topic, npartitions, true, &rc);
    consume_all(topic, npartitions, false, &ru);
    for (int i = 0; i < ntxns; i++)
        for (int j = 0; j < 10; j++) {
            bool a_commits = i % 2 == 0;
            snprintf(val, sizeof(val), "a%d-%d", i, j);
            int want = a_commits ? 1 : 0;
            if (seen_count(&rc, val) != want)
                failf("read_committed saw %s %d times, want %d", val, seen_count(&rc, val), want);
            if (seen_count(&ru, val) != 1)
                failf("read_uncommitted saw %s %d times, want 1", val, seen_count(&ru, val));
            snprintf(val, sizeof(val), "b%d-%d", i, j);
            want = a_commits ? 0 : 1;
            if (seen_count(&rc, val) != want)
                failf("read_committed saw %s %d times, want %d", val, seen_count(&rc, val), want);
            if (seen_count(&ru, val) != 1)
                failf("read_uncommitted saw %s %d times, want 1", val, seen_count(&ru, val));
        }
    if (rc.n != ntxns * 10 + extra)
        failf("read_committed saw %d distinct values, want %d", rc.n, ntxns * 10 + extra);
    fprintf(stderr, "kafka-txn: read_committed %d values, read_uncommitted %d\n", rc.n, ru.n);
    if (extra) {
        if (seen_count(&rc, "fenced-value") != 0)
            failf("the fenced producer's record is visible");
        if (seen_count(&rc, "after-fence") != 1)
            failf("the new producer's committed record is not visible once");
    }
    seen_free(&rc);
    seen_free(&ru);
}

static int cmd_interleave(void)
{
    char ida[256], idb[256], val[128], key[32];
    snprintf(ida, sizeof(ida), "%s-a", topic);
    snprintf(idb, sizeof(idb), "%s-b", topic);
    rd_kafka_t *pa = txn_producer(ida, NULL), *pb = txn_producer(idb, NULL);
    int committed = 0, aborted = 0;
    for (int i = 0; i < ntxns; i++) {
        check_error(rd_kafka_begin_transaction(pa), "begin a");
        check_error(rd_kafka_begin_transaction(pb), "begin b");
        for (int j = 0; j < 10; j++) {
            snprintf(key, sizeof(key), "k%d", j);
            snprintf(val, sizeof(val), "a%d-%d", i, j);
            produce(pa, topic, j % npartitions, key, val);
            snprintf(val, sizeof(val), "b%d-%d", i, j);
            produce(pb, topic, (j + 1) % npartitions, key, val);
        }
        /* on the broker before either ends, so aborts have records to drop (an abort purges
         * what is still queued in the client) */
        if (rd_kafka_flush(pa, 30000) || rd_kafka_flush(pb, 30000))
            die("flush");
        bool a_commits = i % 2 == 0;
        /* the later-started one ends first every other round */
        rd_kafka_t *first = i % 3 == 0 ? pb : pa, *second = first == pa ? pb : pa;
        bool first_commits = first == pa ? a_commits : !a_commits;
        check_error(first_commits ? rd_kafka_commit_transaction(first, 30000)
                                  : rd_kafka_abort_transaction(first, 30000),
                    "end first");
        check_error(!first_commits ? rd_kafka_commit_transaction(second, 30000)
                                   : rd_kafka_abort_transaction(second, 30000),
                    "end second");
        committed++;
        aborted++;
    }
    check_interleaved(0);
    fprintf(stderr, "kafka-txn: interleave: %d committed, %d aborted\n", committed, aborted);

    /* fencing: a new producer with a's id; a's next transaction must fail as fenced */
    rd_kafka_t *pc = txn_producer(ida, NULL);
    check_error(rd_kafka_begin_transaction(pa), "begin a (to be fenced)");
    produce(pa, topic, 0, "k", "fenced-value");
    rd_kafka_flush(pa, 10000);
    rd_kafka_error_t *e = rd_kafka_commit_transaction(pa, 30000);
    if (!e)
        failf("a fenced producer committed a transaction");
    else if (!rd_kafka_error_is_fatal(e))
        failf("fenced producer: error %s is not fatal", rd_kafka_error_string(e));
    else
        fprintf(stderr, "kafka-txn: fenced as expected: %s\n", rd_kafka_error_string(e));
    if (e)
        rd_kafka_error_destroy(e);
    check_error(rd_kafka_begin_transaction(pc), "begin c");
    produce(pc, topic, 0, "k", "after-fence");
    check_error(rd_kafka_commit_transaction(pc, 30000), "commit c");
    check_interleaved(1);
    rd_kafka_destroy(pc);
    rd_kafka_destroy(pa);
    rd_kafka_destroy(pb);
    return failures ? 1 : 0;
}

/* ---- consume-transform-produce ---------------------------------------------------------- */

/* The group's committed offset of in_topic partition p (fresh consumer handle), -1 if none. */
static int64_t group_committed(int32_t p)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", brokers);
    set(c, "group.id", group);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (!rk)
        die("consumer: %s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, in_topic, p);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
    int64_t off = e ? -2 : l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off < 0 ? -1 : off;
}

static int cmd_ctp(void)
{
    char err[512], val[128], key[32];
    /* input: nrecords, plain producer, one partition */
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", brokers);
    rd_kafka_t *plain = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    if (!plain)
        die("producer: %s", err);
    for (int i = 0; i < nrecords; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "in-%d", i);
        produce(plain, in_topic, 0, key, val);
    }
    if (rd_kafka_flush(plain, 30000))
        die("flush of the input failed");
    rd_kafka_destroy(plain);

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", brokers);
    set(cc, "group.id", group);
    set(cc, "enable.auto.commit", "false");
    set(cc, "auto.offset.reset", "earliest");
    set(cc, "isolation.level", "read_committed");
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    if (!cons)
        die("consumer: %s", err);
    rd_kafka_poll_set_consumer(cons);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, in_topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(cons, sub))
        die("subscribe");
    rd_kafka_topic_partition_list_destroy(sub);

    char txn_id[256];
    snprintf(txn_id, sizeof(txn_id), "%s-ctp", group);
    rd_kafka_t *prod = txn_producer(txn_id, NULL);
    int done = 0, in_txn = 0, batches = 0;
    bool aborted_one = false, checked_invisible = false;
    int64_t deadline = now_ms() + 60000;
    check_error(rd_kafka_begin_transaction(prod), "begin");
    while (done < nrecords && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 200);
        if (m && !m->err) {
            snprintf(val, sizeof(val), "out-%.*s", (int)m->len - 3, (const char *)m->payload + 3);
            produce(prod, out_topic, 0, "k", val);
            in_txn++;
        }
        if (m)
            rd_kafka_message_destroy(m);
        if (in_txn < 100 && !(in_txn > 0 && !m))
            continue;
        /* end of a batch: the consumer's positions go with the transaction */
        rd_kafka_topic_partition_list_t *pos = NULL;
        if (rd_kafka_assignment(cons, &pos) || rd_kafka_position(cons, pos))
            die("assignment/position");
        rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(cons);
        check_error(rd_kafka_send_offsets_to_transaction(prod, pos, gm, 30000), "send offsets");
        rd_kafka_consumer_group_metadata_destroy(gm);
        int64_t before = group_committed(0);
        batches++;
        if (!checked_invisible) {
            /* sent but not committed: the group's offset must not have moved */
            int64_t seen_now = group_committed(0);
            if (seen_now != before || seen_now >= pos->elems[0].offset)
                failf("offsets of an open transaction are visible (%" PRId64 ")", seen_now);
            checked_invisible = true;
        }
        if (batches == 3 && !aborted_one) {
            aborted_one = true;
            check_error(rd_kafka_abort_transaction(prod, 30000), "abort");
            if (group_committed(0) != before)
                failf("an aborted transaction's offsets became visible");
            /* rewind the consumer to the committed position, as an application must */
            rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(pos);
            if (rd_kafka_committed(cons, c, 10000))
                die("committed");
            for (int i = 0; i < c->cnt; i++) {
                if (c->elems[i].offset < 0)
                    c->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(one, c->elems[i].topic, c->elems[i].partition)
                    ->offset = c->elems[i].offset;
                rd_kafka_error_t *se = rd_kafka_seek_partitions(cons, one, 10000);
                if (se)
                    die("seek: %s", rd_kafka_error_string(se));
                rd_kafka_topic_partition_list_destroy(one);
            }
            rd_kafka_topic_partition_list_destroy(c);
        } else {
            check_error(rd_kafka_commit_transaction(prod, 30000), "commit");
            int64_t after = group_committed(0);
            if (after != pos->elems[0].offset)
                failf("after commit the group's offset is %" PRId64 ", want %" PRId64, after,
                      pos->elems[0].offset);
            done = (int)pos->elems[0].offset;
        }
        rd_kafka_topic_partition_list_destroy(pos);
        in_txn = 0;
        check_error(rd_kafka_begin_transaction(prod), "begin");
    }
    check_error(rd_kafka_abort_transaction(prod, 30000), "abort the last, empty transaction");
    if (done != nrecords)
        failf("consume-transform-produce reached %d of %d in 60 s", done, nrecords);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);

    struct seen out = {0};
    consume_all(out_topic, 1, true, &out);
    int bad = 0;
    for (int i = 0; i < nrecords; i++) {
        snprintf(val, sizeof(val), "out-%d", i);
        if (seen_count(&out, val) != 1 && bad++ < 10)
            failf("%s seen %d times in the output, want 1", val, seen_count(&out, val));
    }
    if (out.n != nrecords)
        failf("output has %d distinct values, want %d", out.n, nrecords);
    if (group_committed(0) != nrecords)
        failf("group offset %" PRId64 " at the end, want %d", group_committed(0), nrecords);
    fprintf(stderr, "kafka-txn: ctp: %d records in %d transactions (one aborted), output %d\n",
            nrecords, batches, out.n);
    seen_free(&out);
    return failures ? 1 : 0;
}

/* ---- crash-produce / verify ------------------------------------------------------------ */

static void log_line(const char *line)
{
    FILE *f = fopen(log_path, "a");
    if (!f)
        die("cannot open %s: %s", log_path, strerror(errno));
    fprintf(f, "%s\n", line);
    fclose(f);
}

static int next_txn_from_log(void)
{
    FILE *f = fopen(log_path, "r");
    int max = -1, n;
    char kind;
    if (!f)
        return 0;
    while (fscanf(f, " %c %d", &kind, &n) == 2)
        if (n > max)
            max = n;
    fclose(f);
    return max + 1;
}

static int cmd_crash_produce(void)
{
    char id[256], val[128], key[32], line[64];
    snprintf(id, sizeof(id), "%s-crash", topic);
    rd_kafka_t *rk = NULL;
    int txn = next_txn_from_log(), restarts = 0;
    while (access(stop_path, F_OK) != 0) {
        if (!rk) {
            char err[512];
            rd_kafka_conf_t *c = rd_kafka_conf_new();
            set(c, "bootstrap.servers", brokers);
            set(c, "transactional.id", id);
            set(c, "linger.ms", "2");
            set(c, "message.timeout.ms", "60000");
            rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
            if (!rk)
                die("producer: %s", err);
            rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 60000);
            if (e) {
                fprintf(stderr, "kafka-txn: init: %s\n", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                rd_kafka_destroy(rk);
                rk = NULL;
                usleep(200000);
                continue;
            }
        }
        rd_kafka_error_t *e = rd_kafka_begin_transaction(rk);
        for (int j = 0; !e && j < TXN_RECORDS; j++) {
            snprintf(key, sizeof(key), "k%d", j);
            snprintf(val, sizeof(val), "t%d-%d", txn, j);
            produce(rk, topic, j % npartitions, key, val);
        }
        bool abort = txn % 5 == 4;
        for (int attempt = 0; !e; attempt++) {
            e = abort ? rd_kafka_abort_transaction(rk, 30000)
                      : rd_kafka_commit_transaction(rk, 30000);
            if (!e) {
                snprintf(line, sizeof(line), "%c %d", abort ? 'A' : 'C', txn);
                log_line(line);
                break;
            }
            if (rd_kafka_error_is_retriable(e) && attempt < 5) {
                rd_kafka_error_destroy(e);
                e = NULL;
                continue;
            }
        }
        if (e) {
            bool fatal = rd_kafka_error_is_fatal(e);
            bool abortable = rd_kafka_error_txn_requires_abort(e);
            fprintf(stderr, "kafka-txn: txn %d: %s%s\n", txn, rd_kafka_error_string(e),
                    fatal ? " (fatal: new producer)" : "");
            rd_kafka_error_destroy(e);
            if (abortable && !fatal) {
                rd_kafka_error_t *ae = rd_kafka_abort_transaction(rk, 30000);
                if (!ae) {
                    snprintf(line, sizeof(line), "A %d", txn);
                    log_line(line);
                } else {
                    fatal = true;
                    rd_kafka_error_destroy(ae);
                }
            }
            if (fatal || !abortable) {
                rd_kafka_destroy(rk);
                rk = NULL;
                restarts++;
            }
        }
        txn++;
    }
    if (rk)
        rd_kafka_destroy(rk);
    fprintf(stderr, "kafka-txn: crash-produce: %d transactions, %d producer restarts\n", txn,
            restarts);
    return 0;
}

static int cmd_verify(void)
{
    struct seen s = {0};
    consume_all(topic, npartitions, true, &s);
    int maxtxn = -1;
    for (int i = 0; i < s.n; i++) {
        int t, j;
        if (sscanf(s.v[i], "t%d-%d", &t, &j) != 2) {
            failf("unexpected value %s", s.v[i]);
            continue;
        }
        if (s.count[i] != 1)
            failf("%s seen %d times", s.v[i], s.count[i]);
        if (t > maxtxn)
            maxtxn = t;
    }
    FILE *f = fopen(log_path, "r");
    char kind;
    int n, committed = 0, aborted = 0, whole = 0;
    char *outcome = calloc((size_t)maxtxn + 2 + 100000, 1);
    while (f && fscanf(f, " %c %d", &kind, &n) == 2)
        if (n >= 0 && n < maxtxn + 100000)
            outcome[n] = kind;
    if (f)
        fclose(f);
    char val[64];
    int last = maxtxn + 1;
    for (int t = 0; t < last + 1000; t++) {
        int present = 0;
        for (int j = 0; j < TXN_RECORDS; j++) {
            snprintf(val, sizeof(val), "t%d-%d", t, j);
            present += seen_count(&s, val) > 0;
        }
        if (present != 0 && present != TXN_RECORDS)
            failf("transaction %d is partly visible: %d of %d records", t, present, TXN_RECORDS);
        if (present == TXN_RECORDS)
            whole++;
        if (outcome[t] == 'C') {
            committed++;
            if (present != TXN_RECORDS)
                failf("committed transaction %d is not visible", t);
        }
        if (outcome[t] == 'A') {
            aborted++;
            if (present)
                failf("aborted transaction %d is visible", t);
        }
    }
    fprintf(stderr,
            "kafka-txn: verify: %d records, %d whole transactions visible, %d acknowledged "
            "committed, %d acknowledged aborted\n",
            s.n, whole, committed, aborted);
    if (committed < 20)
        failf("only %d transactions were committed", committed);
    free(outcome);
    seen_free(&s);
    return failures ? 1 : 0;
}

/* ---- timeout ---------------------------------------------------------------------------- */

static int cmd_timeout(void)
{
    char id[256];
    snprintf(id, sizeof(id), "%s-timeout", topic);
    /* above transaction.max.timeout.ms (the test's broker has 60000) */
    {
        char err[512];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        set(c, "bootstrap.servers", brokers);
        set(c, "transactional.id", id);
        set(c, "transaction.timeout.ms", "120000");
        rd_kafka_t *big = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
        if (!big)
            die("producer: %s", err);
        rd_kafka_error_t *e = rd_kafka_init_transactions(big, 30000);
        if (!e)
            failf("a transaction timeout above the broker's maximum was accepted");
        else if (!strstr(rd_kafka_error_string(e), "timeout") &&
                 !strstr(rd_kafka_error_string(e), "Timeout"))
            failf("too long a timeout: unexpected error %s", rd_kafka_error_string(e));
        else
            fprintf(stderr, "kafka-txn: too long a timeout refused: %s\n",
                    rd_kafka_error_string(e));
        if (e)
            rd_kafka_error_destroy(e);
        rd_kafka_destroy(big);
    }
    rd_kafka_t *rk = txn_producer(id, "2000");
    check_error(rd_kafka_begin_transaction(rk), "begin");
    for (int j = 0; j < 10; j++)
        produce(rk, topic, 0, "k", "hanging");
    if (rd_kafka_flush(rk, 10000))
        die("flush");
    sleep(5);
    rd_kafka_error_t *e = rd_kafka_commit_transaction(rk, 30000);
    if (!e)
        failf("a transaction past its timeout committed");
    else
        fprintf(stderr, "kafka-txn: commit after the timeout failed as expected: %s\n",
                rd_kafka_error_string(e));
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_destroy(rk);
    struct seen s = {0};
    consume_all(topic, 1, true, &s); /* reaching EOF means the LSO moved past the records */
    if (seen_count(&s, "hanging") != 0)
        failf("records of the timed-out transaction are visible");
    rk = txn_producer(id, "60000");
    check_error(rd_kafka_begin_transaction(rk), "begin again");
    produce(rk, topic, 0, "k", "after-timeout");
    check_error(rd_kafka_commit_transaction(rk, 30000), "commit again");
    rd_kafka_destroy(rk);
    struct seen s2 = {0};
    consume_all(topic, 1, true, &s2);
    if (seen_count(&s2, "after-timeout") != 1 || seen_count(&s2, "hanging") != 0)
        failf("after the timeout: want exactly the new record, saw %d values", s2.n);
    seen_free(&s);
    seen_free(&s2);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: kafka-txn interleave|ctp|crash-produce|verify|timeout [options]");
    const char *cmd = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "-b"))
            brokers = v;
        else if (!strcmp(k, "-t"))
            topic = v;
        else if (!strcmp(k, "-p"))
            npartitions = atoi(v);
        else if (!strcmp(k, "--txns"))
            ntxns = atoi(v);
        else if (!strcmp(k, "--in"))
            in_topic = v;
        else if (!strcmp(k, "--out"))
            out_topic = v;
        else if (!strcmp(k, "-g"))
            group = v;
        else if (!strcmp(k, "-n"))
            nrecords = atoi(v);
        else if (!strcmp(k, "--log"))
            log_path = v;
        else if (!strcmp(k, "--stop"))
            stop_path = v;
        else
            die("unknown option %s", k);
    }
    if (!brokers)
        die("-b is required");
    if (!strcmp(cmd, "interleave") && topic)
        return cmd_interleave();
    if (!strcmp(cmd, "verify-interleave") && topic) {
        check_interleaved(1);
        return failures ? 1 : 0;
    }
    if (!strcmp(cmd, "ctp") && in_topic && out_topic && group)
        return cmd_ctp();
    if (!strcmp(cmd, "ctp-offset") && in_topic && group) {
        int64_t off = group_committed(0);
        if (off != nrecords)
            failf("group %s: committed offset %" PRId64 ", want %d", group, off, nrecords);
        return failures ? 1 : 0;
    }
    if (!strcmp(cmd, "crash-produce") && topic && log_path && stop_path)
        return cmd_crash_produce();
    if (!strcmp(cmd, "verify") && topic && log_path)
        return cmd_verify();
    if (!strcmp(cmd, "timeout") && topic)
        return cmd_timeout();
    die("bad command or missing options");
    return 2;
}
