/*
 * The transaction coordinator (KIP-98, one node) and its APIs: InitProducerId with a
 * transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit; and the check
 * Produce makes of transactional batches.
 *
 * Model. Each transactional id has one struct txn: its producer id, its epoch, a state (Kafka's
 * TransactionState: Empty, Ongoing, PrepareCommit/PrepareAbort, CompleteCommit/CompleteAbort),
 * the partitions and groups added to the ongoing transaction, and the offsets TxnOffsetCommit
 * sent for it (pending: visible to OffsetFetch only once the commit is done). Every state change
 * is first written to the transaction log (group/txn_log.h), which survives restarts:
 *
 *   InitProducerId     -> Empty, epoch + 1 (a new producer id the first time, or when the epoch
 *                         would overflow); an Ongoing transaction of the older epoch is aborted
 *                         first. Older epochs are fenced from then on.
 *   AddPartitionsToTxn,
 *   AddOffsetsToTxn    -> Ongoing (the transaction starts at the first one), record synced before
 *                         the answer, so a crash after the producer wrote to a partition still
 *                         knows to close it.
 *   EndTxn             -> PrepareCommit|PrepareAbort (synced; with the pending offsets for a
 *                         commit), then a marker (log/txn.c) on every partition of the
 *                         transaction, the offsets applied (commit) or dropped (abort), then
 *                         CompleteCommit|CompleteAbort in memory. As in Kafka the answer goes
 *                         once the decision (Prepare) is durable; the markers are synced by the
 *                         flusher, and the Prepare record stays the one on disk until they are
 *                         (txn_settle syncs them, if need be, before the next record of the id),
 *                         so recovery can always complete them.
 *   timeout            -> a transaction Ongoing longer than its TransactionTimeoutMs is aborted
 *                         with the epoch bumped, so its producer is fenced (as Kafka does).
 *
 * Recovery (txn_init, at start-up, before the listener opens): the log is replayed; a
 * transaction left in PrepareCommit has its markers written where it is still open (begun below
 * the end offset its Prepare record noted) and its offsets applied again, one left in
 * PrepareAbort is aborted, and one left Ongoing is aborted with its epoch bumped, so its producer
 * is fenced and cannot go on to commit the rest of a transaction whose first part is gone; any
 * transaction still open on a partition after that (one the log lost) is aborted and its producer
 * fenced; then the log is rewritten as a snapshot of the live states. So after a crash at any point
 * every transaction ends committed or aborted.
 *
 * Errors at these versions are Kafka's: an older epoch is INVALID_PRODUCER_EPOCH (PRODUCER_FENCED
 * only from AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit v2, as KafkaApis
 * maps it), an unknown id or producer id INVALID_PRODUCER_ID_MAPPING, a request out of order
 * INVALID_TXN_STATE, a transaction still being completed CONCURRENT_TRANSACTIONS (retriable).
 *
 * The transactions are a linked list searched linearly (by id or by producer id): fine for the
 * handful of transactional producers a single node serves. Loop thread only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "flusher.h"
#include "group/group.h"
#include "group/offsets_log.h"
#include "group/txn_log.h"
#include "identity.h"
#include "protocol/messages_txn.h"
#include "tandem/error.h"

struct txn_part {
    char *topic;
    int32_t partition;
    int64_t end; /* the partition's end offset at Prepare, else -1 (txn_log.h) */
};

struct txn_offset {
    char *group, *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* NULL for null */
    int32_t metadata_len;
};

/* A marker written by the last commit or abort, not yet known to be durable. */
struct txn_mark {
    char *topic;
    int32_t partition;
    int64_t end; /* the marker's offset + 1 */
};

struct txn {
    struct txn *next;
    char *id;
    int64_t producer_id;
    int16_t epoch;
    enum txn_state state;
    int32_t timeout_ms;
    int64_t start_ms; /* wall clock of the transaction's start, -1 when none */
    struct txn_part *parts;
    int nparts, parts_cap;
    char **groups;
    int ngroups, groups_cap;
    struct txn_offset *offs;
    int noffs, offs_cap;
    /* The last end's markers and offsets (until durable: txn_settle), the on-disk state being
     * its Prepare record until then. */
    struct txn_mark *marks;
    int nmarks, marks_cap;
    int64_t olog_end; /* offsets log position of its offsets, -1 when none */
    bool fenced;      /* recovery bumped the epoch already */
};

struct txn_coord {
    struct txn_log *log;
    struct txn *head;
    uint64_t timer;
};

/* ---- the in-memory state ------------------------------------------------------------------ */

static bool kstr_is(struct kstr s, const char *c)
{
    return s.len >= 0 && strlen(c) == (size_t)s.len && memcmp(s.p, c, (size_t)s.len) == 0;
}

static struct txn *txn_find(struct txn_coord *c, struct kstr id)
{
    for (struct txn *t = c->head; t; t = t->next)
        if (kstr_is(id, t->id))
            return t;
    return NULL;
}

static struct txn *txn_find_pid(struct txn_coord *c, int64_t pid)
{
    for (struct txn *t = c->head; t; t = t->next)
        if (t->producer_id == pid)
            return t;
    return NULL;
}

static struct txn *txn_add(struct txn_coord *c, struct kstr id)
{
    struct txn *t = xcalloc(1, sizeof(*t));
    t->id = xstrndup(id.p, (size_t)id.len);
    t->producer_id = -1;
    t->start_ms = -1;
    t->olog_end = -1;
    t->next = c->head;
    c->head = t;
    return t;
}

static void txn_clear_offsets(struct txn *t)
{
    for (int i = 0; i < t->noffs; i++) {
        free(t->offs[i].group);
        free(t->offs[i].topic);
        free(t->offs[i].metadata);
    }
    t->noffs = 0;
}

/* Forgets the partitions, groups and pending offsets (a transaction ended). */
static void txn_clear(struct txn *t)
{
    for (int i = 0; i < t->nparts; i++)
        free(t->parts[i].topic);
    for (int i = 0; i < t->ngroups; i++)
        free(t->groups[i]);
    t->nparts = t->ngroups = 0;
    txn_clear_offsets(t);
    t->start_ms = -1;
}

static void txn_clear_marks(struct txn *t)
{
    for (int i = 0; i < t->nmarks; i++)
        free(t->marks[i].topic);
    t->nmarks = 0;
    t->olog_end = -1;
}

static void txn_free(struct txn *t)
{
    txn_clear(t);
    txn_clear_marks(t);
    free(t->marks);
    free(t->parts);
    free(t->groups);
    free(t->offs);
    free(t->id);
    free(t);
}

static bool txn_has_part(const struct txn *t, struct kstr topic, int32_t partition)
{
    for (int i = 0; i < t->nparts; i++)
        if (t->parts[i].partition == partition && kstr_is(topic, t->parts[i].topic))
            return true;
    return false;
}

/* Adds a partition; returns true when it was not there yet. */
static bool txn_add_part(struct txn *t, struct kstr topic, int32_t partition)
{
    if (txn_has_part(t, topic, partition))
        return false;
    if (t->nparts == t->parts_cap) {
        t->parts_cap = t->parts_cap ? t->parts_cap * 2 : 8;
        t->parts = xrealloc(t->parts, (size_t)t->parts_cap * sizeof(*t->parts));
    }
    t->parts[t->nparts++] = (struct txn_part){xstrndup(topic.p, (size_t)topic.len), partition, -1};
    return true;
}

static bool txn_has_group(const struct txn *t, struct kstr group)
{
    for (int i = 0; i < t->ngroups; i++)
        if (kstr_is(group, t->groups[i]))
            return true;
    return false;
}

static bool txn_add_group(struct txn *t, struct kstr group)
{
    if (txn_has_group(t, group))
        return false;
    if (t->ngroups == t->groups_cap) {
        t->groups_cap = t->groups_cap ? t->groups_cap * 2 : 4;
        t->groups = xrealloc(t->groups, (size_t)t->groups_cap * sizeof(*t->groups));
    }
    t->groups[t->ngroups++] = xstrndup(group.p, (size_t)group.len);
    return true;
}

/* Sets a pending offset (a later TxnOffsetCommit for the same partition replaces it). */
static void txn_put_offset(struct txn *t, struct kstr group, struct kstr topic, int32_t partition,
                           int64_t offset, int32_t leader_epoch, struct kstr metadata)
{
    struct txn_offset *o = NULL;
    for (int i = 0; i < t->noffs && !o; i++)
        if (t->offs[i].partition == partition && kstr_is(group, t->offs[i].group) &&
            kstr_is(topic, t->offs[i].topic))
            o = &t->offs[i];
    if (o) {
        free(o->metadata);
    } else {
        if (t->noffs == t->offs_cap) {
            t->offs_cap = t->offs_cap ? t->offs_cap * 2 : 8;
            t->offs = xrealloc(t->offs, (size_t)t->offs_cap * sizeof(*t->offs));
        }
        o = &t->offs[t->noffs++];
        o->group = xstrndup(group.p, (size_t)group.len);
        o->topic = xstrndup(topic.p, (size_t)topic.len);
        o->partition = partition;
    }
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    o->metadata = metadata.len >= 0 ? xstrndup(metadata.p, (size_t)metadata.len) : NULL;
    o->metadata_len = metadata.len;
}

/* ---- the transaction log ------------------------------------------------------------------ */

static struct kstr cs(const char *s)
{
    return s ? (struct kstr){s, (int32_t)strlen(s)} : KSTR_NULL;
}

/* t as a log record; offsets only with PrepareCommit. Arrays from a. */
static bool txn_record_of(const struct txn *t, struct arena *a, struct txn_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->transactional_id = cs(t->id);
    rec->producer_id = t->producer_id;
    rec->producer_epoch = t->epoch;
    rec->state = (int8_t)t->state;
    rec->timeout_ms = t->timeout_ms;
    rec->start_ms = t->start_ms;
    rec->npartitions = t->nparts;
    rec->ngroups = t->ngroups;
    rec->noffsets = t->state == TXN_PREPARE_COMMIT ? t->noffs : 0;
    rec->partitions = arena_array(a, (size_t)t->nparts + 1, sizeof(*rec->partitions));
    rec->groups = arena_array(a, (size_t)t->ngroups + 1, sizeof(*rec->groups));
    rec->offsets = arena_array(a, (size_t)rec->noffsets + 1, sizeof(*rec->offsets));
    if (!rec->partitions || !rec->groups || !rec->offsets)
        return false;
    for (int i = 0; i < t->nparts; i++)
        rec->partitions[i] = (struct txn_rec_partition){cs(t->parts[i].topic),
                                                        t->parts[i].partition, t->parts[i].end};
    for (int i = 0; i < t->ngroups; i++)
        rec->groups[i] = cs(t->groups[i]);
    for (int i = 0; i < rec->noffsets; i++) {
        const struct txn_offset *o = &t->offs[i];
        rec->offsets[i] = (struct txn_rec_offset){
            cs(o->group),    cs(o->topic),
            o->partition,    o->offset,
            o->leader_epoch, o->metadata ? (struct kstr){o->metadata, o->metadata_len} : KSTR_NULL,
        };
    }
    return true;
}

/* Makes the last end's markers and offsets durable (syncing what the flusher has not synced
 * yet, normally nothing), before a record replaces its Prepare record: until then the Prepare
 * record is what recovery completes them from. Returns 0 or TANDEM_EIO. */
static int txn_settle(struct broker *b, struct txn *t)
{
    for (int i = 0; i < t->nmarks; i++) {
        const struct txn_mark *m = &t->marks[i];
        struct topic *tp = logmgr_find(b->logs, m->topic, strlen(m->topic));
        if (!tp || m->partition >= tp->npartitions)
            continue;
        struct plog *l = tp->partitions[m->partition];
        int64_t durable;
        if (plog_durable_offset(l) < m->end && plog_sync(l, &durable))
            return TANDEM_EIO;
    }
    if (t->olog_end >= 0 && offsets_log_durable(b->olog) < t->olog_end && offsets_log_sync(b->olog))
        return TANDEM_EIO;
    txn_clear_marks(t);
    return 0;
}

/* Writes t's state to the transaction log (after txn_settle), durable when it returns 0 if sync.
 * AddPartitionsToTxn and AddOffsetsToTxn do not sync: a kill -9 keeps the write, and after a
 * power loss recovery finds the partitions such a lost record named by their open transactions
 * (txn_init). */
static int txn_persist(struct broker *b, struct txn *t, bool sync)
{
    struct txn_coord *c = b->txn;
    struct arena a;
    struct txn_record rec;
    int rc = txn_settle(b, t);
    if (rc) {
        log_error("transaction markers could not be synced", "\"transactional_id\":\"%s\"", t->id);
        return rc;
    }
    arena_init(&a, 0);
    rc = txn_record_of(t, &a, &rec) ? txn_log_append(c->log, &rec, sync) : TANDEM_ENOMEM;
    arena_cleanup(&a);
    if (rc)
        log_error("transaction log append failed", "\"transactional_id\":\"%s\",\"error\":\"%s\"",
                  t->id, tandem_strerror(rc));
    return rc;
}

/* Replay: the last record of each id wins. */
static void txn_replay(const struct txn_record *rec, void *arg)
{
    struct txn_coord *c = arg;
    struct txn *t = txn_find(c, rec->transactional_id);
    if (!t)
        t = txn_add(c, rec->transactional_id);
    txn_clear(t);
    t->producer_id = rec->producer_id;
    t->epoch = rec->producer_epoch;
    t->state = (enum txn_state)rec->state;
    t->timeout_ms = rec->timeout_ms;
    t->start_ms = rec->start_ms;
    for (int32_t i = 0; i < rec->npartitions; i++)
        if (txn_add_part(t, rec->partitions[i].topic, rec->partitions[i].partition))
            t->parts[t->nparts - 1].end = rec->partitions[i].end;
    for (int32_t i = 0; i < rec->ngroups; i++)
        txn_add_group(t, rec->groups[i]);
    for (int32_t i = 0; i < rec->noffsets; i++) {
        const struct txn_rec_offset *o = &rec->offsets[i];
        txn_put_offset(t, o->group, o->topic, o->partition, o->offset, o->leader_epoch,
                       o->metadata);
    }
}

/* Rewrites the log as one record per transactional id. */
static int txn_compact(struct broker *b)
{
    struct txn_coord *c = b->txn;
    for (struct txn *t = c->head; t; t = t->next)
        if (txn_settle(b, t))
            return TANDEM_EIO;
    struct arena a;
    arena_init(&a, 0);
    txn_log_rewrite_begin(c->log);
    int n = 0;
    for (struct txn *t = c->head; t; t = t->next) {
        struct txn_record rec;
        if (!txn_record_of(t, &a, &rec)) {
            arena_cleanup(&a);
            return TANDEM_ENOMEM;
        }
        txn_log_rewrite_add(c->log, &rec);
        n++;
    }
    arena_cleanup(&a);
    int rc = txn_log_rewrite_commit(c->log);
    if (rc)
        log_error("transaction log rewrite failed", NULL);
    else
        log_info("transaction log rewritten", "\"transactional_ids\":%d,\"bytes\":%" PRIu64, n,
                 txn_log_size(c->log));
    return rc;
}

/* ---- ending a transaction ------------------------------------------------------------------ */

/* Remembers a marker until it is durable (txn_settle), and asks the flusher to sync it (or,
 * before the flusher runs, at recovery, syncs it now). */
static void txn_add_mark(struct broker *b, struct txn *t, struct plog *l, const char *topic,
                         int32_t partition, int64_t end)
{
    if (!b->flusher) {
        int64_t durable;
        if (plog_sync(l, &durable) == 0)
            return;
        log_error("partition sync failed after a transaction marker", NULL);
    } else {
        flusher_mark(b->flusher, l);
    }
    if (t->nmarks == t->marks_cap) {
        t->marks_cap = t->marks_cap ? t->marks_cap * 2 : 8;
        t->marks = xrealloc(t->marks, (size_t)t->marks_cap * sizeof(*t->marks));
    }
    t->marks[t->nmarks++] = (struct txn_mark){xstrndup(topic, strlen(topic)), partition, end};
}

/* Writes t's markers and, for a commit, applies its offsets; then Complete. t is in a Prepare
 * state (durably). Returns 0, or TANDEM_EIO with t left in its Prepare state (retried by the
 * timer; the client's EndTxn retries get CONCURRENT_TRANSACTIONS meanwhile). */
static int txn_finish(struct broker *b, struct txn *t, bool recovering)
{
    bool commit = t->state == TXN_PREPARE_COMMIT;
    int rc = 0;
    for (int i = 0; i < t->nparts; i++) {
        struct topic *tp = logmgr_find(b->logs, t->parts[i].topic, strlen(t->parts[i].topic));
        if (!tp || t->parts[i].partition >= tp->npartitions)
            continue; /* deleted since: nothing to close */
        struct plog *l = tp->partitions[t->parts[i].partition];
        if (recovering) {
            /* only what this transaction left open: its marker may be there already, and a
             * transaction begun after the Prepare is a later one's (the orphan scan aborts it) */
            int64_t first = plog_txn_first_offset(l, t->producer_id);
            if (first < 0 || (t->parts[i].end >= 0 && first >= t->parts[i].end))
                continue;
        }
        int64_t off;
        rc = plog_append_marker(l, t->producer_id, t->epoch, commit, 0, &off);
        if (rc) {
            log_error("transaction marker append failed",
                      "\"transactional_id\":\"%s\",\"topic\":\"%s\",\"partition\":%d", t->id,
                      t->parts[i].topic, t->parts[i].partition);
            return TANDEM_EIO;
        }
        txn_add_mark(b, t, l, t->parts[i].topic, t->parts[i].partition, off + 1);
    }
    int64_t end = -1;
    for (int i = 0; commit && i < t->noffs; i++) {
        const struct txn_offset *o = &t->offs[i];
        int64_t now = clock_wall_ms();
        rc = offsets_log_commit(b->olog, o->group, strlen(o->group), o->topic, strlen(o->topic),
                                o->partition, o->offset, o->leader_epoch, now, o->metadata,
                                o->metadata_len, &end);
        if (rc) {
            log_error("offsets log append failed (transaction commit)", NULL);
            return TANDEM_EIO;
        }
        gc_offset_load(b->gc, o->group, o->topic, o->partition, o->offset, o->leader_epoch, now,
                       o->metadata, o->metadata_len);
    }
    if (end >= 0) {
        if (b->flusher) {
            flusher_mark_offsets(b->flusher);
            t->olog_end = end;
        } else if (offsets_log_sync(b->olog)) {
            log_error("offsets log sync failed (transaction commit)", NULL);
            t->olog_end = end;
        }
    }
    log_info(commit ? "transaction committed" : "transaction aborted",
             "\"transactional_id\":\"%s\",\"producer_id\":%" PRId64 ",\"epoch\":%d"
             ",\"partitions\":%d,\"offsets\":%d",
             t->id, t->producer_id, t->epoch, t->nparts, commit ? t->noffs : 0);
    txn_clear(t);
    /* Complete in memory; on disk the Prepare record stands until the next record of this id,
     * written only once these markers are durable (txn_persist), so a crash before that makes
     * recovery write the same markers again, which changes nothing. */
    t->state = commit ? TXN_COMPLETE_COMMIT : TXN_COMPLETE_ABORT;
    request_poke_parked(b); /* read_committed fetches may move past the markers */
    return 0;
}

/* Ends t's ongoing transaction: Prepare (durable), then txn_finish. */
static int txn_end(struct broker *b, struct txn *t, bool commit)
{
    t->state = commit ? TXN_PREPARE_COMMIT : TXN_PREPARE_ABORT;
    if (!commit)
        txn_clear_offsets(t);
    for (int i = 0; i < t->nparts; i++) {
        struct topic *tp = logmgr_find(b->logs, t->parts[i].topic, strlen(t->parts[i].topic));
        t->parts[i].end = tp && t->parts[i].partition < tp->npartitions
                              ? plog_end_offset(tp->partitions[t->parts[i].partition])
                              : -1;
    }
    int rc = txn_persist(b, t, true);
    if (rc) {
        t->state = TXN_ONGOING;
        return rc;
    }
    return txn_finish(b, t, false);
}

/* ---- start-up, timeouts, shutdown ---------------------------------------------------------- */

static void on_txn_timer(void *arg);

static void txn_schedule(struct broker *b)
{
    int64_t every =
        b->cfg->transaction_abort_interval_ms > 0 ? b->cfg->transaction_abort_interval_ms : 10000;
    b->txn->timer = loop_timer_add(b->loop, every, on_txn_timer, b);
}

/* Aborts (epoch bumped, producer fenced) transactions past their timeout; retries the ones whose
 * markers could not be written; rewrites the log when it has grown. */
static void on_txn_timer(void *arg)
{
    struct broker *b = arg;
    struct txn_coord *c = b->txn;
    int64_t now = clock_wall_ms();
    int live = 0;
    for (struct txn *t = c->head; t; t = t->next) {
        live++;
        if (t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT) {
            (void)txn_finish(b, t, false);
        } else if (t->state == TXN_ONGOING && t->start_ms >= 0 &&
                   now - t->start_ms > t->timeout_ms) {
            log_warn("transaction timed out: aborting it and fencing its producer",
                     "\"transactional_id\":\"%s\",\"producer_id\":%" PRId64 ",\"timeout_ms\":%d",
                     t->id, t->producer_id, t->timeout_ms);
            int16_t old = t->epoch;
            if (t->epoch < INT16_MAX - 1)
                t->epoch++;
            if (txn_end(b, t, false) && t->state == TXN_ONGOING)
                t->epoch = old;
        }
    }
    if (txn_log_size(c->log) > (16u << 20) && txn_log_size(c->log) > (uint64_t)live * 4096)
        (void)txn_compact(b);
    txn_schedule(b);
}

/* Recovery, after every transaction of the log was completed: a transaction still open on a
 * partition is one the log lost (an AddPartitionsToTxn record not yet on disk at a power loss, or
 * one begun after a Prepare record that stands): it is aborted, and its producer fenced. */
static void abort_orphans(struct topic *tp, void *arg)
{
    struct broker *b = arg;
    for (int32_t p = 0; p < tp->npartitions; p++) {
        struct plog *l = tp->partitions[p];
        int64_t pid;
        while (plog_open_txns(l, &pid, 1) > 0) {
            struct txn *t = txn_find_pid(b->txn, pid);
            if (t && !t->fenced && t->epoch < INT16_MAX - 1) {
                t->epoch++;
                t->fenced = true;
            }
            int64_t off, durable;
            if (plog_append_marker(l, pid, t ? t->epoch : 0, false, 0, &off) ||
                plog_sync(l, &durable)) {
                log_error("cannot abort an orphaned transaction",
                          "\"topic\":\"%s\",\"partition\":%d", tp->name, p);
                break;
            }
            log_warn("orphaned transaction aborted",
                     "\"topic\":\"%s\",\"partition\":%d,\"producer_id\":%" PRId64, tp->name, p,
                     pid);
        }
    }
}

int txn_init(struct broker *b)
{
    struct txn_coord *c = xcalloc(1, sizeof(*c));
    b->txn = c;
    int rc = txn_log_open(b->cfg->data_dir, txn_replay, c, &c->log);
    if (rc)
        return rc;
    int committed = 0, aborted = 0;
    for (struct txn *t = c->head; t; t = t->next) {
        if (t->state == TXN_ONGOING) {
            /* fenced, as a timed-out one: the producer must not go on with a transaction whose
             * first part was aborted (it would commit the rest) */
            if (t->epoch < INT16_MAX - 1)
                t->epoch++;
            rc = txn_end(b, t, false);
            aborted++;
        } else if (t->state == TXN_PREPARE_ABORT || t->state == TXN_PREPARE_COMMIT) {
            if (t->state == TXN_PREPARE_COMMIT)
                committed++;
            else
                aborted++;
            rc = txn_finish(b, t, true);
        }
        if (rc)
            return rc;
    }
    logmgr_foreach(b->logs, abort_orphans, b);
    if (committed || aborted)
        log_info("transactions recovered", "\"committed\":%d,\"aborted\":%d", committed, aborted);
    return txn_compact(b);
}

void txn_start_timer(struct broker *b)
{
    txn_schedule(b);
}

void txn_cleanup(struct broker *b)
{
    struct txn_coord *c = b->txn;
    if (!c)
        return;
    if (c->timer && b->loop)
        loop_timer_cancel(b->loop, c->timer);
    /* a clean stop records the ends whose Prepare record still stands (see txn_finish), so the
     * next start has no markers to write again */
    for (struct txn *t = c->head; t && c->log && b->logs; t = t->next)
        if (t->nmarks > 0 || t->olog_end >= 0)
            (void)txn_persist(b, t, true);
    while (c->head) {
        struct txn *t = c->head;
        c->head = t->next;
        txn_free(t);
    }
    txn_log_close(c->log);
    free(c);
    b->txn = NULL;
}

/* ---- the APIs --------------------------------------------------------------------------- */

/* PRODUCER_FENCED where the API's version knows it, else INVALID_PRODUCER_EPOCH (KafkaApis). */
static int16_t fenced(int16_t version)
{
    return version >= 2 ? KAFKA_PRODUCER_FENCED : KAFKA_INVALID_PRODUCER_EPOCH;
}

/* The checks every request naming (id, producer id, epoch) makes. */
static int16_t txn_check(struct txn *t, int64_t pid, int16_t epoch, int16_t version)
{
    if (!t || t->producer_id != pid)
        return KAFKA_INVALID_PRODUCER_ID_MAPPING;
    if (epoch != t->epoch)
        return fenced(version);
    if (t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT)
        return KAFKA_CONCURRENT_TRANSACTIONS;
    return KAFKA_NONE;
}

/* Makes t Ongoing (a new transaction starts) when it is not yet. */
static void txn_begin(struct txn *t)
{
    if (t->state == TXN_ONGOING)
        return;
    txn_clear(t);
    t->state = TXN_ONGOING;
    t->start_ms = clock_wall_ms();
}

int16_t txn_init_producer(struct broker *b, struct kstr id, int32_t timeout_ms, int64_t *pid,
                          int16_t *epoch)
{
    struct txn_coord *c = b->txn;
    if (id.len <= 0)
        return KAFKA_INVALID_REQUEST;
    if (timeout_ms <= 0 || timeout_ms > b->cfg->transaction_max_timeout_ms)
        return KAFKA_INVALID_TRANSACTION_TIMEOUT;
    struct txn *t = txn_find(c, id);
    if (t && (t->state == TXN_PREPARE_COMMIT || t->state == TXN_PREPARE_ABORT) &&
        txn_finish(b, t, false))
        return KAFKA_CONCURRENT_TRANSACTIONS;
    int64_t saved_pid = -1;
    int16_t saved_epoch = 0;
    if (t) {
        saved_pid = t->producer_id;
        saved_epoch = t->epoch;
        bool new_pid = t->epoch >= INT16_MAX - 1; /* the epoch would overflow */
        if (!new_pid)
            t->epoch++;
        if (t->state == TXN_ONGOING && txn_end(b, t, false)) {
            /* the previous incarnation's transaction is aborted first, with the new epoch */
            if (t->state != TXN_ONGOING)
                return KAFKA_CONCURRENT_TRANSACTIONS; /* prepared: the timer finishes it */
            t->epoch = saved_epoch;
            return KAFKA_COORDINATOR_NOT_AVAILABLE;
        }
        if (new_pid)
            t->producer_id = -1;
    } else {
        t = txn_add(c, id);
    }
    if (t->producer_id < 0) {
        int64_t npid;
        if (identity_next_producer_id(b, &npid)) {
            t->producer_id = saved_pid;
            t->epoch = saved_epoch;
            return KAFKA_COORDINATOR_NOT_AVAILABLE;
        }
        t->producer_id = npid;
        t->epoch = 0;
    }
    enum txn_state old_state = t->state;
    txn_clear(t);
    t->state = TXN_EMPTY;
    int32_t old_timeout = t->timeout_ms;
    t->timeout_ms = timeout_ms;
    if (txn_persist(b, t, true)) {
        t->state = old_state;
        t->timeout_ms = old_timeout;
        if (saved_pid >= 0) {
            t->producer_id = saved_pid;
            t->epoch = saved_epoch;
        }
        return KAFKA_COORDINATOR_NOT_AVAILABLE;
    }
    log_info("transactional producer initialised",
             "\"transactional_id\":\"%s\",\"producer_id\":%" PRId64 ",\"epoch\":%d", t->id,
             t->producer_id, t->epoch);
    *pid = t->producer_id;
    *epoch = t->epoch;
    return KAFKA_NONE;
}

int16_t txn_produce_check(struct broker *b, int64_t pid, int16_t epoch, struct kstr topic,
                          int32_t partition)
{
    struct txn *t = txn_find_pid(b->txn, pid);
    if (!t)
        return KAFKA_INVALID_PRODUCER_ID_MAPPING;
    if (epoch < t->epoch)
        return KAFKA_INVALID_PRODUCER_EPOCH;
    if (epoch != t->epoch || t->state != TXN_ONGOING || !txn_has_part(t, topic, partition))
        return KAFKA_INVALID_TXN_STATE;
    return KAFKA_NONE;
}

void handle_add_partitions_to_txn(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct add_partitions_to_txn_req in;
    if (kafka_parse_add_partitions_to_txn_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed AddPartitionsToTxn request");
        return;
    }
    struct add_partitions_to_txn_resp resp = {.ntopics = in.ntopics};
    resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
    if (in.ntopics && !resp.topics) {
        request_fail(req, "AddPartitionsToTxn request too large");
        return;
    }
    struct txn *t = txn_find(b->txn, in.transactional_id);
    int16_t err = txn_check(t, in.producer_id, in.producer_epoch, ver);
    /* Kafka checks every partition first: an unknown one fails it, the rest are not attempted */
    bool unknown = false;
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct add_partitions_to_txn_req_topic *ti = &in.topics[i];
        struct add_partitions_to_txn_resp_topic *to = &resp.topics[i];
        to->name = ti->name;
        to->npartitions = ti->npartitions;
        to->partitions = arena_array(&req->arena, (size_t)ti->npartitions, sizeof(*to->partitions));
        if (ti->npartitions && !to->partitions) {
            request_fail(req, "AddPartitionsToTxn request too large");
            return;
        }
        int16_t terr = KAFKA_NONE;
        struct topic *tp = api_topic(b, ti->name, false, &terr);
        for (int32_t j = 0; j < ti->npartitions; j++) {
            to->partitions[j].partition_index = ti->partitions[j];
            if (!tp || ti->partitions[j] < 0 || ti->partitions[j] >= tp->npartitions) {
                to->partitions[j].error_code = KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
                unknown = true;
            }
        }
    }
    bool added = false;
    if (!err && !unknown) {
        enum txn_state before = t->state;
        int64_t before_start = t->start_ms;
        txn_begin(t);
        for (int32_t i = 0; i < in.ntopics; i++)
            for (int32_t j = 0; j < in.topics[i].npartitions; j++)
                added |= txn_add_part(t, in.topics[i].name, in.topics[i].partitions[j]);
        if ((added || before != TXN_ONGOING) && txn_persist(b, t, false)) {
            err = KAFKA_COORDINATOR_NOT_AVAILABLE;
            if (before != TXN_ONGOING) {
                txn_clear(t);
                t->state = before;
                t->start_ms = before_start;
            }
        }
    }
    for (int32_t i = 0; i < resp.ntopics; i++)
        for (int32_t j = 0; j < resp.topics[i].npartitions; j++) {
            int16_t *e = &resp.topics[i].partitions[j].error_code;
            if (err)
                *e = err;
            else if (unknown && *e == KAFKA_NONE)
                *e = KAFKA_OPERATION_NOT_ATTEMPTED;
        }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_add_partitions_to_txn_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_add_offsets_to_txn(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct add_offsets_to_txn_req in;
    if (kafka_parse_add_offsets_to_txn_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed AddOffsetsToTxn request");
        return;
    }
    struct txn *t = txn_find(b->txn, in.transactional_id);
    struct txn_simple_resp resp = {0};
    resp.error_code = txn_check(t, in.producer_id, in.producer_epoch, ver);
    if (!resp.error_code && in.group_id.len <= 0)
        resp.error_code = KAFKA_INVALID_GROUP_ID;
    if (!resp.error_code) {
        enum txn_state before = t->state;
        int64_t before_start = t->start_ms;
        txn_begin(t);
        bool added = txn_add_group(t, in.group_id);
        if ((added || before != TXN_ONGOING) && txn_persist(b, t, false)) {
            resp.error_code = KAFKA_COORDINATOR_NOT_AVAILABLE;
            if (before != TXN_ONGOING) {
                txn_clear(t);
                t->state = before;
                t->start_ms = before_start;
            }
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_add_offsets_to_txn_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_end_txn(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct end_txn_req in;
    if (kafka_parse_end_txn_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed EndTxn request");
        return;
    }
    struct txn *t = txn_find(b->txn, in.transactional_id);
    struct txn_simple_resp resp = {0};
    resp.error_code = txn_check(t, in.producer_id, in.producer_epoch, ver);
    if (!resp.error_code) {
        switch (t->state) {
        case TXN_ONGOING:
            if (txn_end(b, t, in.committed))
                resp.error_code = t->state == TXN_ONGOING ? KAFKA_COORDINATOR_NOT_AVAILABLE
                                                          : KAFKA_CONCURRENT_TRANSACTIONS;
            break;
        case TXN_COMPLETE_COMMIT: /* a retry of the same end is answered again */
            resp.error_code = in.committed ? KAFKA_NONE : KAFKA_INVALID_TXN_STATE;
            break;
        case TXN_COMPLETE_ABORT:
            resp.error_code = in.committed ? KAFKA_INVALID_TXN_STATE : KAFKA_NONE;
            break;
        default:
            resp.error_code = KAFKA_INVALID_TXN_STATE;
            break;
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_end_txn_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_txn_offset_commit(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct txn_offset_commit_req in;
    if (kafka_parse_txn_offset_commit_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed TxnOffsetCommit request");
        return;
    }
    struct txn *t = txn_find(b->txn, in.transactional_id);
    int16_t err = txn_check(t, in.producer_id, in.producer_epoch, ver);
    if (!err && (t->state != TXN_ONGOING || !txn_has_group(t, in.group_id)))
        err = KAFKA_INVALID_TXN_STATE; /* AddOffsetsToTxn comes first */
    struct txn_offset_commit_resp resp = {.ntopics = in.ntopics};
    resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
    if (in.ntopics && !resp.topics) {
        request_fail(req, "TxnOffsetCommit request too large");
        return;
    }
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct txn_offset_commit_req_topic *ti = &in.topics[i];
        struct txn_offset_commit_resp_topic *to = &resp.topics[i];
        to->name = ti->name;
        to->npartitions = ti->npartitions;
        to->partitions = arena_array(&req->arena, (size_t)ti->npartitions, sizeof(*to->partitions));
        if (ti->npartitions && !to->partitions) {
            request_fail(req, "TxnOffsetCommit request too large");
            return;
        }
        int16_t terr = KAFKA_NONE;
        struct topic *tp = err ? NULL : api_topic(b, ti->name, false, &terr);
        for (int32_t j = 0; j < ti->npartitions; j++) {
            const struct txn_offset_commit_req_partition *pi = &ti->partitions[j];
            struct txn_offset_commit_resp_partition *po = &to->partitions[j];
            po->partition_index = pi->partition_index;
            if (err)
                po->error_code = err;
            else if (!tp || pi->partition_index < 0 || pi->partition_index >= tp->npartitions)
                po->error_code = tp ? KAFKA_UNKNOWN_TOPIC_OR_PARTITION : terr;
            else if (pi->committed_metadata.len > b->cfg->offset_metadata_max_bytes)
                po->error_code = KAFKA_OFFSET_METADATA_TOO_LARGE;
            else
                txn_put_offset(t, in.group_id, ti->name, pi->partition_index, pi->committed_offset,
                               pi->committed_leader_epoch, pi->committed_metadata);
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_txn_offset_commit_response(&w, ver, &resp);
    request_respond(req, &w);
}
