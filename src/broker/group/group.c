/*
 * Group membership: the state machine described in group.h.
 *
 * Data: the coordinator holds groups in a list (a one-node system has tens of groups, and every
 * lookup is by a short string). A group holds its members in join order (the first is the
 * default leader), the members still owed a JoinGroup round trip after MEMBER_ID_REQUIRED
 * ("pending", KIP-394), and its committed offsets (group_offsets.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "group/group_int.h"
#include "protocol/kafka.h"
#include "tandem/error.h"

const char *group_state_name(enum group_state s)
{
    static const char *const names[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                        "Stable", "Dead"};
    return s <= GROUP_DEAD ? names[s] : "Unknown";
}

void gc_config_defaults(struct gc_config *c)
{
    c->min_session_timeout_ms = 1000;
    c->max_session_timeout_ms = 1800000;
    c->initial_rebalance_delay_ms = 100;
    c->max_metadata_bytes = 4096;
    c->max_group_size = 10000;
    c->empty_group_retention_ms = 600000;
    c->member_id_seed = 0;
}

char *kstr_dup(struct kstr s)
{
    return s.len < 0 ? NULL : xstrndup(s.p, (size_t)s.len);
}

static bool str_eq(const char *a, struct kstr b)
{
    return a && b.len >= 0 && strlen(a) == (size_t)b.len && memcmp(a, b.p, (size_t)b.len) == 0;
}

/* ---- lookup and life cycle ------------------------------------------------------------------- */

struct gc *gc_new(const struct gc_config *cfg, const struct gc_callbacks *cb)
{
    struct gc *gc = xcalloc(1, sizeof(*gc));
    gc->cfg = *cfg;
    gc->cb = *cb;
    return gc;
}

struct group *gc_find(struct gc *gc, struct kstr id)
{
    for (struct group *g = gc->groups; g; g = g->next)
        if (str_eq(g->id, id))
            return g;
    return NULL;
}

struct group *gc_find_or_create(struct gc *gc, struct kstr id)
{
    struct group *g = gc_find(gc, id);
    if (g)
        return g;
    g = xcalloc(1, sizeof(*g));
    g->id = kstr_dup(id);
    g->state = GROUP_EMPTY;
    g->empty_since = -1;
    g->next = gc->groups;
    gc->groups = g;
    gc->ngroups++;
    return g;
}

static void member_free(struct gmember *m)
{
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    for (int i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    free(m->assignment);
    free(m);
}

/* One INFO line per membership change, as Kafka's GroupCoordinator logs them ("Preparing to
 * rebalance group ...", "Stabilized group ...", "Member ... has left / expired"): what an
 * operator (or a failed test) reads to know who held which generation when. */
static void log_group(const struct group *g, const char *msg, const char *member,
                      const char *reason)
{
    char gid[160], mid[200], why[64];
    log_info(msg,
             "\"group\":%s,\"generation\":%d,\"state\":\"%s\",\"members\":%d,\"member\":%s,"
             "\"reason\":%s",
             log_json_str(gid, sizeof(gid), g->id), g->generation, group_state_name(g->state),
             g->nmembers, log_json_str(mid, sizeof(mid), member ? member : ""),
             log_json_str(why, sizeof(why), reason ? reason : ""));
}

static void answer_join_error(struct gc *gc, void *req, int16_t err, const char *member_id)
{
    struct gc_join_result r = {
        .error_code = err,
        .generation_id = -1,
        .protocol_name = "",
        .leader = "",
        .member_id = member_id ? member_id : "",
    };
    gc->cb.join_done(req, &r, gc->cb.arg);
}

static void answer_sync(struct gc *gc, struct gmember *m, int16_t err)
{
    void *req = m->sync_req;
    m->sync_req = NULL;
    if (err)
        gc->cb.sync_done(req, err, NULL, 0, gc->cb.arg);
    else
        gc->cb.sync_done(req, KAFKA_NONE, m->assignment, m->assignment_len, gc->cb.arg);
}

/* Removes a member from its list, answering whatever it had pending. */
static void member_remove(struct gc *gc, struct group *g, struct gmember *m, int16_t err)
{
    struct gmember **pp = m->pending ? &g->pending : &g->members;
    for (; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    if (!m->pending)
        g->nmembers--;
    if (m->join_req)
        answer_join_error(gc, m->join_req, err, m->id);
    if (m->sync_req)
        answer_sync(gc, m, err);
    if (g->leader && m->id && strcmp(g->leader, m->id) == 0) {
        free(g->leader);
        g->leader = NULL;
    }
    member_free(m);
}

void group_free(struct gc *gc, struct group *g)
{
    while (g->members)
        member_remove(gc, g, g->members, KAFKA_COORDINATOR_NOT_AVAILABLE);
    while (g->pending)
        member_remove(gc, g, g->pending, KAFKA_COORDINATOR_NOT_AVAILABLE);
    group_offsets_free(g);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

void gc_free(struct gc *gc)
{
    while (gc->groups) {
        struct group *g = gc->groups;
        gc->groups = g->next;
        group_free(gc, g);
    }
    free(gc);
}

void gc_remove_group(struct gc *gc, struct group *g)
{
    for (struct group **pp = &gc->groups; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    gc->ngroups--;
    group_free(gc, g);
}

static struct gmember *find_member(struct gmember *list, struct kstr id)
{
    for (; list; list = list->next)
        if (str_eq(list->id, id))
            return list;
    return NULL;
}

static struct gmember *find_instance(struct group *g, struct kstr instance)
{
    if (instance.len < 0)
        return NULL;
    for (struct gmember *m = g->members; m; m = m->next)
        if (str_eq(m->instance_id, instance))
            return m;
    return NULL;
}

/* splitmix64: spreads a counter into well-mixed bits. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Kafka's form: "<client.id>-<uuid>". The uuid mixes a per-start random seed with a counter,
 * so ids are unique within a run and never repeat across restarts. */
static char *new_member_id(struct gc *gc, struct kstr client_id)
{
    char buf[512];
    int n = client_id.len > 0 ? (client_id.len < 200 ? client_id.len : 200) : 0;
    uint64_t seq = ++gc->member_seq;
    uint64_t hi = mix64(gc->cfg.member_id_seed ^ seq), lo = mix64(hi ^ seq);
    snprintf(buf, sizeof(buf), "%.*s-%08x-%04x-%04x-%04x-%012llx", n, n ? client_id.p : "",
             (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xffff, (unsigned)hi & 0xffff,
             (unsigned)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffull));
    return xstrndup(buf, strlen(buf));
}

/* ---- protocols ------------------------------------------------------------------------------- */

static void member_set_protocols(struct gmember *m, const struct gc_join_params *p)
{
    for (int i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->nprotocols = p->nprotocols;
    m->protocols = xcalloc((size_t)(p->nprotocols ? p->nprotocols : 1), sizeof(*m->protocols));
    for (int i = 0; i < p->nprotocols; i++) {
        m->protocols[i].name = kstr_dup(p->protocols[i].name);
        size_t len = p->protocols[i].metadata.len > 0 ? (size_t)p->protocols[i].metadata.len : 0;
        m->protocols[i].metadata = xmalloc(len);
        if (len)
            memcpy(m->protocols[i].metadata, p->protocols[i].metadata.p, len);
        m->protocols[i].metadata_len = len;
    }
    m->session_timeout_ms = p->session_timeout_ms;
    m->rebalance_timeout_ms = p->rebalance_timeout_ms;
    free(m->client_id);
    free(m->client_host);
    m->client_id = kstr_dup(p->client_id.len >= 0 ? p->client_id : KSTR(""));
    m->client_host = kstr_dup(p->client_host.len >= 0 ? p->client_host : KSTR(""));
}

static bool member_supports(const struct gmember *m, const char *name)
{
    for (int i = 0; i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return true;
    return false;
}

static bool same_protocols(const struct gmember *m, const struct gc_join_params *p)
{
    if (m->nprotocols != p->nprotocols)
        return false;
    for (int i = 0; i < p->nprotocols; i++) {
        const struct gproto *a = &m->protocols[i];
        if (!str_eq(a->name, p->protocols[i].name) ||
            a->metadata_len !=
                (size_t)(p->protocols[i].metadata.len > 0 ? p->protocols[i].metadata.len : 0) ||
            (a->metadata_len && memcmp(a->metadata, p->protocols[i].metadata.p, a->metadata_len)))
            return false;
    }
    return true;
}

/* A joining member fits a non-empty group if its protocol type matches and it shares at least
 * one protocol with every current member. */
static bool protocols_compatible(const struct group *g, const struct gc_join_params *p)
{
    if (g->nmembers == 0)
        return p->nprotocols > 0 && p->protocol_type.len > 0;
    if (!str_eq(g->protocol_type, p->protocol_type))
        return false;
    for (int i = 0; i < p->nprotocols; i++) {
        char name[256];
        int n = p->protocols[i].name.len;
        if (n <= 0 || n >= (int)sizeof(name))
            continue;
        memcpy(name, p->protocols[i].name.p, (size_t)n);
        name[n] = '\0';
        bool all = true;
        for (const struct gmember *m = g->members; m && all; m = m->next)
            all = member_supports(m, name);
        if (all)
            return true;
    }
    return false;
}

/* Kafka's selectProtocol: among protocols every member supports, each member votes for the
 * first of its own list; the most votes win (ties: the earliest candidate). */
static const char *select_protocol(const struct group *g)
{
    const struct gmember *first = g->members;
    const char *best = NULL;
    int best_votes = -1;
    for (int i = 0; first && i < first->nprotocols; i++) {
        const char *cand = first->protocols[i].name;
        bool all = true;
        for (const struct gmember *m = g->members; m && all; m = m->next)
            all = member_supports(m, cand);
        if (!all)
            continue;
        int votes = 0;
        for (const struct gmember *m = g->members; m; m = m->next)
            for (int k = 0; k < m->nprotocols; k++) {
                bool cand_all = true;
                for (const struct gmember *o = g->members; o && cand_all; o = o->next)
                    cand_all = member_supports(o, m->protocols[k].name);
                if (cand_all) { /* m's first commonly supported protocol is its vote */
                    votes += strcmp(m->protocols[k].name, cand) == 0;
                    break;
                }
            }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

static const struct gproto *member_protocol(const struct gmember *m, const char *name)
{
    for (int i = 0; name && i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return &m->protocols[i];
    return NULL;
}

/* ---- the rebalance protocol ------------------------------------------------------------------ */

/* The member list a leader's JoinGroup answer carries: each member's metadata for the chosen
 * protocol. The strings are borrowed from the members; the caller frees the array. */
static struct gc_member_info *member_infos(const struct group *g, int *n)
{
    struct gc_member_info *infos = xcalloc((size_t)g->nmembers, sizeof(*infos));
    *n = 0;
    for (const struct gmember *m = g->members; m; m = m->next) {
        const struct gproto *p = member_protocol(m, g->protocol);
        infos[(*n)++] = (struct gc_member_info){m->id, m->instance_id, p ? p->metadata : NULL,
                                                p ? p->metadata_len : 0};
    }
    return infos;
}

static int32_t max_rebalance_timeout(const struct group *g)
{
    int32_t t = 0;
    for (const struct gmember *m = g->members; m; m = m->next)
        if (m->rebalance_timeout_ms > t)
            t = m->rebalance_timeout_ms;
    return t;
}

/* Stable or CompletingRebalance -> PreparingRebalance (KIP-134 initial delay for an Empty group).
 */
static void prepare_rebalance(struct gc *gc, struct group *g, int64_t now, const char *member,
                              const char *reason)
{
    if (g->state == GROUP_PREPARING_REBALANCE)
        return;
    log_group(g, "group rebalancing", member, reason);
    if (g->state == GROUP_COMPLETING_REBALANCE) /* their assignment is void now */
        for (struct gmember *m = g->members; m; m = m->next)
            if (m->sync_req)
                answer_sync(gc, m, KAFKA_REBALANCE_IN_PROGRESS);
    g->initial_delay_until = 0;
    if (g->state == GROUP_EMPTY) {
        int32_t delay = gc->cfg.initial_rebalance_delay_ms;
        int32_t cap = max_rebalance_timeout(g);
        g->initial_delay_until = now + (delay < cap ? delay : cap);
    }
    g->state = GROUP_PREPARING_REBALANCE;
    g->empty_since = -1;
    g->rebalance_deadline_ms = now + max_rebalance_timeout(g);
}

static void complete_join(struct gc *gc, struct group *g, int64_t now)
{
    /* Dynamic members that did not rejoin in time, and ids never used, are dropped. Static
     * members keep their place (and assignment) until their session times out (KIP-345; Kafka's
     * onCompleteJoin removes notYetRejoinedMembers.filterNot(_.isStaticMember)). */
    for (struct gmember *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_req && !m->instance_id) {
            log_group(g, "group member dropped", m->id, "did not rejoin in time");
            member_remove(gc, g, m, KAFKA_UNKNOWN_MEMBER_ID);
        }
    }
    while (g->pending)
        member_remove(gc, g, g->pending, KAFKA_UNKNOWN_MEMBER_ID);
    g->generation++;
    free(g->protocol);
    g->protocol = NULL;
    if (g->nmembers == 0) {
        g->state = GROUP_EMPTY;
        g->empty_since = now;
        free(g->leader);
        g->leader = NULL;
        return;
    }
    const char *proto = select_protocol(g);
    g->protocol = proto ? xstrndup(proto, strlen(proto)) : NULL;
    /* The leader must be a member that is answered now, since its answer carries the member
     * list (Kafka's maybeElectNewJoinedLeader): keep the current one if it rejoined. */
    struct gmember *elected = NULL;
    for (struct gmember *m = g->members; m && !elected; m = m->next)
        if (m->join_req && g->leader && strcmp(m->id, g->leader) == 0)
            elected = m;
    for (struct gmember *m = g->members; m && !elected; m = m->next)
        if (m->join_req)
            elected = m;
    if (!elected)
        elected = g->members;
    char *leader_id = xstrndup(elected->id, strlen(elected->id));
    free(g->leader);
    g->leader = leader_id;
    g->state = GROUP_COMPLETING_REBALANCE;
    log_group(g, "group joined", g->leader, g->protocol);

    int n;
    struct gc_member_info *infos = member_infos(g, &n);
    for (struct gmember *m = g->members; m; m = m->next) {
        void *req = m->join_req;
        if (!req)
            continue; /* a static member that has not rejoined (yet) */
        m->join_req = NULL;
        m->deadline_ms = now + m->session_timeout_ms;
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        bool leader = strcmp(m->id, g->leader) == 0;
        struct gc_join_result r = {
            .error_code = KAFKA_NONE,
            .generation_id = g->generation,
            .protocol_name = g->protocol ? g->protocol : "",
            .leader = g->leader,
            .member_id = m->id,
            .nmembers = leader ? n : 0,
            .members = leader ? infos : NULL,
        };
        gc->cb.join_done(req, &r, gc->cb.arg);
    }
    free(infos);
}

/* Completes the join phase when every member (and every pending id) has joined and the initial
 * delay is over, or when the rebalance deadline has passed. */
static void maybe_complete_join(struct gc *gc, struct group *g, int64_t now)
{
    if (g->state != GROUP_PREPARING_REBALANCE)
        return;
    bool all = g->pending == NULL;
    for (struct gmember *m = g->members; m && all; m = m->next)
        all = m->join_req != NULL;
    bool delayed = g->initial_delay_until && now < g->initial_delay_until;
    if ((all && !delayed) || now >= g->rebalance_deadline_ms)
        complete_join(gc, g, now);
}

static struct gmember *add_member(struct group *g, char *id, struct kstr instance, bool pending)
{
    struct gmember *m = xcalloc(1, sizeof(*m));
    m->id = id;
    m->instance_id = kstr_dup(instance);
    m->pending = pending;
    struct gmember **tail = pending ? &g->pending : &g->members;
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
    if (!pending)
        g->nmembers++;
    return m;
}

/* Answers a join at once with the current generation: Kafka does this for a known member that
 * rejoins with unchanged metadata a Stable group (a follower) or a CompletingRebalance group
 * (it may have lost the first answer). The leader gets the member list again, so it can still
 * compute and send the assignment of this generation. shown_leader (NULL: g->leader) is the
 * leader id the answer names; the member list goes only to the member it names. */
static void answer_join_current(struct gc *gc, struct group *g, struct gmember *m, void *req,
                                const char *shown_leader)
{
    if (!shown_leader)
        shown_leader = g->leader ? g->leader : "";
    bool leader = strcmp(shown_leader, m->id) == 0;
    int n = 0;
    struct gc_member_info *infos = leader ? member_infos(g, &n) : NULL;
    struct gc_join_result r = {
        .error_code = KAFKA_NONE,
        .generation_id = g->generation,
        .protocol_name = g->protocol ? g->protocol : "",
        .leader = shown_leader,
        .member_id = m->id,
        .nmembers = n,
        .members = infos,
    };
    gc->cb.join_done(req, &r, gc->cb.arg);
    free(infos);
}

static void member_join(struct gc *gc, struct group *g, struct gmember *m,
                        const struct gc_join_params *p, void *req, int64_t now)
{
    bool unchanged = m->nprotocols > 0 && same_protocols(m, p);
    if (m->join_req) /* a newer join replaces an older one still waiting */
        answer_join_error(gc, m->join_req, KAFKA_REBALANCE_IN_PROGRESS, m->id);
    member_set_protocols(m, p);
    m->deadline_ms = now + m->session_timeout_ms;
    /* Kafka's GroupCoordinator.doCurrentMemberJoinGroup: unchanged metadata gets the current
     * generation in CompletingRebalance (any member) and in Stable (a follower); everything else
     * (a changed subscription, the leader rejoining a Stable group) starts a rebalance. */
    bool leader = g->leader && strcmp(g->leader, m->id) == 0;
    if (unchanged &&
        ((g->state == GROUP_STABLE && !leader) || g->state == GROUP_COMPLETING_REBALANCE)) {
        answer_join_current(gc, g, m, req, NULL);
        return;
    }
    m->join_req = req;
    prepare_rebalance(gc, g, now, m->id, unchanged ? "member rejoined" : "member joined");
    maybe_complete_join(gc, g, now);
}

/* A static member came back (KIP-345): a JoinGroup with no member id and the group.instance.id
 * of a current member. It takes over that member's place under a new member id (Kafka's
 * replaceStaticMember): whatever the old incarnation still had waiting is fenced, and if it was
 * the leader the group's leader id follows it. Then (Kafka's updateStaticMemberAndRebalance):
 *   - Stable, unchanged metadata: the current generation at once, no rebalance, naming the leader
 *     as it was before the replacement, so a returning leader does not compute an assignment that
 *     a Stable group would never hand out (its SyncGroup gets its stored assignment instead);
 *   - CompletingRebalance: a new rebalance. This generation's assignment can only come from its
 *     leader; when the returning member was that leader, its dead incarnation will never send it,
 *     and every SyncGroup of the generation would wait for it for ever (members waiting on us are
 *     never expired, and CompletingRebalance has no deadline);
 *   - otherwise (PreparingRebalance, changed metadata): it joins the rebalance like any member. */
static void static_member_return(struct gc *gc, struct group *g, struct gmember *m,
                                 const struct gc_join_params *p, void *req, int64_t now)
{
    if (m->join_req)
        answer_join_error(gc, m->join_req, KAFKA_FENCED_INSTANCE_ID, m->id);
    m->join_req = NULL;
    if (m->sync_req)
        answer_sync(gc, m, KAFKA_FENCED_INSTANCE_ID);
    char *old_leader = g->leader ? xstrndup(g->leader, strlen(g->leader)) : NULL;
    bool was_leader = old_leader && strcmp(old_leader, m->id) == 0;
    free(m->id);
    m->id = new_member_id(gc, p->client_id);
    if (was_leader) {
        free(g->leader);
        g->leader = xstrndup(m->id, strlen(m->id));
    }
    log_group(g, "group static member returned", m->id, m->instance_id);
    bool unchanged = m->nprotocols > 0 && same_protocols(m, p);
    member_set_protocols(m, p);
    m->deadline_ms = now + m->session_timeout_ms;
    if (unchanged && g->state == GROUP_STABLE) {
        answer_join_current(gc, g, m, req, old_leader ? old_leader : "");
    } else {
        m->join_req = req;
        prepare_rebalance(gc, g, now, m->id, "static member returned");
        maybe_complete_join(gc, g, now);
    }
    free(old_leader);
}

void gc_join(struct gc *gc, const struct gc_join_params *p, void *req, int64_t now)
{
    if (p->group_id.len <= 0) {
        answer_join_error(gc, req, KAFKA_INVALID_GROUP_ID, NULL);
        return;
    }
    if (p->session_timeout_ms < gc->cfg.min_session_timeout_ms ||
        p->session_timeout_ms > gc->cfg.max_session_timeout_ms) {
        answer_join_error(gc, req, KAFKA_INVALID_SESSION_TIMEOUT, NULL);
        return;
    }
    bool new_member = p->member_id.len <= 0;
    struct group *g = gc_find(gc, p->group_id);
    if (!g && !new_member) {
        answer_join_error(gc, req, KAFKA_UNKNOWN_MEMBER_ID, NULL);
        return;
    }
    if (!g)
        g = gc_find_or_create(gc, p->group_id);
    if (!protocols_compatible(g, p)) {
        answer_join_error(gc, req, KAFKA_INCONSISTENT_GROUP_PROTOCOL, NULL);
        return;
    }
    if (g->nmembers == 0) {
        if (!str_eq(g->protocol_type, p->protocol_type))
            g->type_recorded = false;
        free(g->protocol_type);
        g->protocol_type = kstr_dup(p->protocol_type);
    }
    struct gmember *m;
    if (new_member) {
        m = find_instance(g, p->group_instance_id);
        if (m) {
            static_member_return(gc, g, m, p, req, now);
            return;
        }
        int npending = 0;
        for (struct gmember *q = g->pending; q; q = q->next)
            npending++;
        if (g->nmembers + npending >= gc->cfg.max_group_size) {
            answer_join_error(gc, req, KAFKA_GROUP_MAX_SIZE_REACHED, NULL);
            return;
        }
        char *id = new_member_id(gc, p->client_id);
        if (p->require_known_member_id && p->group_instance_id.len < 0) {
            m = add_member(g, id, KSTR_NULL, true);
            m->session_timeout_ms = p->session_timeout_ms;
            m->deadline_ms = now + p->session_timeout_ms;
            answer_join_error(gc, req, KAFKA_MEMBER_ID_REQUIRED, m->id);
            return;
        }
        m = add_member(g, id, p->group_instance_id, false);
        member_join(gc, g, m, p, req, now);
        return;
    }
    m = find_member(g->pending, p->member_id);
    if (m) { /* the round trip after MEMBER_ID_REQUIRED: now a real member */
        char *id = m->id;
        m->id = NULL;
        member_remove(gc, g, m, KAFKA_NONE);
        m = add_member(g, id, p->group_instance_id, false);
        member_join(gc, g, m, p, req, now);
        return;
    }
    m = find_member(g->members, p->member_id);
    if (!m) {
        answer_join_error(gc, req, KAFKA_UNKNOWN_MEMBER_ID, NULL);
        return;
    }
    if (p->group_instance_id.len >= 0 && !str_eq(m->instance_id, p->group_instance_id)) {
        answer_join_error(gc, req, KAFKA_FENCED_INSTANCE_ID, NULL);
        return;
    }
    member_join(gc, g, m, p, req, now);
}

/* Finds the member a request speaks for, with Kafka's checks. Returns a Kafka error. */
static int16_t check_member(struct group *g, struct kstr member_id, struct kstr instance,
                            struct gmember **out)
{
    struct gmember *m = NULL;
    if (instance.len >= 0) {
        m = find_instance(g, instance);
        if (m && !str_eq(m->id, member_id))
            return KAFKA_FENCED_INSTANCE_ID;
    }
    if (!m)
        m = find_member(g->members, member_id);
    if (!m)
        return KAFKA_UNKNOWN_MEMBER_ID;
    *out = m;
    return KAFKA_NONE;
}

void gc_sync(struct gc *gc, struct kstr group_id, int32_t generation_id, struct kstr member_id,
             struct kstr group_instance_id, int nassignments, const struct gc_assignment *a,
             void *req, int64_t now)
{
    struct group *g = gc_find(gc, group_id);
    struct gmember *m = NULL;
    int16_t err = g ? check_member(g, member_id, group_instance_id, &m) : KAFKA_UNKNOWN_MEMBER_ID;
    if (!err && generation_id != g->generation)
        err = KAFKA_ILLEGAL_GENERATION;
    if (!err && g->state == GROUP_PREPARING_REBALANCE)
        err = KAFKA_REBALANCE_IN_PROGRESS;
    if (!err && g->state == GROUP_EMPTY)
        err = KAFKA_UNKNOWN_MEMBER_ID;
    if (err) {
        gc->cb.sync_done(req, err, NULL, 0, gc->cb.arg);
        return;
    }
    m->deadline_ms = now + m->session_timeout_ms;
    if (m->sync_req)
        answer_sync(gc, m, KAFKA_REBALANCE_IN_PROGRESS);
    m->sync_req = req;
    if (g->state == GROUP_STABLE) {
        answer_sync(gc, m, KAFKA_NONE);
        return;
    }
    /* CompletingRebalance: the leader's sync carries everyone's assignment. */
    if (strcmp(g->leader, m->id) != 0)
        return;
    for (struct gmember *o = g->members; o; o = o->next) {
        free(o->assignment);
        o->assignment = NULL;
        o->assignment_len = 0;
        for (int i = 0; i < nassignments; i++)
            if (str_eq(o->id, a[i].member_id) && a[i].assignment.len > 0) {
                o->assignment_len = (size_t)a[i].assignment.len;
                o->assignment = xmalloc(o->assignment_len);
                memcpy(o->assignment, a[i].assignment.p, o->assignment_len);
                break;
            }
    }
    g->state = GROUP_STABLE;
    log_group(g, "group stable", g->leader, g->protocol);
    for (struct gmember *o = g->members; o; o = o->next)
        if (o->sync_req)
            answer_sync(gc, o, KAFKA_NONE);
}

int16_t gc_heartbeat(struct gc *gc, struct kstr group_id, int32_t generation_id,
                     struct kstr member_id, struct kstr group_instance_id, int64_t now)
{
    struct group *g = gc_find(gc, group_id);
    struct gmember *m = NULL;
    if (!g)
        return KAFKA_UNKNOWN_MEMBER_ID;
    int16_t err = check_member(g, member_id, group_instance_id, &m);
    if (err)
        return err;
    if (g->state == GROUP_EMPTY)
        return KAFKA_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation)
        return KAFKA_ILLEGAL_GENERATION;
    m->deadline_ms = now + m->session_timeout_ms;
    return g->state == GROUP_PREPARING_REBALANCE ? KAFKA_REBALANCE_IN_PROGRESS : KAFKA_NONE;
}

/* After members left or expired: rebalance the rest (or complete a rebalance now possible). */
static void after_departure(struct gc *gc, struct group *g, int64_t now)
{
    if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE) {
        if (g->nmembers == 0) {
            g->state = GROUP_PREPARING_REBALANCE;
            g->rebalance_deadline_ms = now;
        } else {
            prepare_rebalance(gc, g, now, NULL, "member left or expired");
        }
    }
    maybe_complete_join(gc, g, now);
}

int16_t gc_leave(struct gc *gc, struct kstr group_id, struct kstr member_id,
                 struct kstr group_instance_id, int64_t now)
{
    struct group *g = gc_find(gc, group_id);
    if (!g)
        return KAFKA_UNKNOWN_MEMBER_ID;
    struct gmember *m = find_member(g->pending, member_id);
    if (m && group_instance_id.len < 0) {
        member_remove(gc, g, m, KAFKA_UNKNOWN_MEMBER_ID);
        maybe_complete_join(gc, g, now);
        return KAFKA_NONE;
    }
    m = NULL;
    if (group_instance_id.len >= 0) {
        m = find_instance(g, group_instance_id);
        if (m && member_id.len > 0 && !str_eq(m->id, member_id))
            return KAFKA_FENCED_INSTANCE_ID;
    } else {
        m = find_member(g->members, member_id);
    }
    if (!m)
        return KAFKA_UNKNOWN_MEMBER_ID;
    log_group(g, "group member left", m->id, "LeaveGroup");
    member_remove(gc, g, m, KAFKA_UNKNOWN_MEMBER_ID);
    after_departure(gc, g, now);
    return KAFKA_NONE;
}

int64_t gc_tick(struct gc *gc, int64_t now)
{
    int64_t next = -1;
#define NEXT(t)                    \
    do {                           \
        int64_t d_ = (t)-now;      \
        if (d_ < 0)                \
            d_ = 0;                \
        if (next < 0 || d_ < next) \
            next = d_;             \
    } while (0)
    for (struct group *g = gc->groups, *gnext; g; g = gnext) {
        gnext = g->next;
        bool departed = false;
        for (struct gmember *m = g->pending, *nx; m; m = nx) {
            nx = m->next;
            if (now >= m->deadline_ms) { /* never a member: no rebalance, only a re-check */
                member_remove(gc, g, m, KAFKA_UNKNOWN_MEMBER_ID);
            } else {
                NEXT(m->deadline_ms);
            }
        }
        for (struct gmember *m = g->members, *nx; m; m = nx) {
            nx = m->next;
            if (m->join_req ||
                m->sync_req) /* waiting on us: kept alive (Kafka's shouldKeepAlive) */
                continue;
            if (now >= m->deadline_ms) {
                log_group(g, "group member expired", m->id, "session timeout");
                member_remove(gc, g, m, KAFKA_UNKNOWN_MEMBER_ID);
                departed = true;
            } else {
                NEXT(m->deadline_ms);
            }
        }
        if (departed)
            after_departure(gc, g, now);
        else
            maybe_complete_join(gc, g, now);
        if (g->state == GROUP_PREPARING_REBALANCE) {
            NEXT(g->rebalance_deadline_ms);
            if (g->initial_delay_until > now)
                NEXT(g->initial_delay_until);
        }
        /* A group that holds nothing (no member, no pending id, no offset) stays listed as
         * Empty for empty_group_retention_ms, then is forgotten (Kafka's cleanupGroupMetadata:
         * Empty and no offsets -> Dead), so joins that failed or never completed do not
         * accumulate groups. */
        if (g->state == GROUP_EMPTY && g->nmembers == 0 && !g->pending && g->noffsets == 0) {
            if (g->empty_since < 0)
                g->empty_since = now;
            if (now - g->empty_since >= gc->cfg.empty_group_retention_ms)
                gc_remove_group(gc, g);
            else
                NEXT(g->empty_since + gc->cfg.empty_group_retention_ms);
        }
    }
#undef NEXT
    return next;
}
