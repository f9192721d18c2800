/*
 * auth-bench: what a verified-token cache hit costs, shared between threads (tandem_auth's 16
 * stripes, each under a mutex) or one cache per thread (as per-worker caches indexed by
 * req->worker would be), against what it saves (an ES256 signature check through libjwt).
 *
 *   auth-bench [SECONDS per row, default 2] [TOKENS, default 1000]
 *
 * Rows: for 1, 2 and 4 threads, each thread verifies tokens picked at random from one hot set
 * of TOKENS valid tokens (every thread the same set, as the requests of one user population
 * spread over the workers): "shared" with one struct tandem_auth for all threads, "per-thread"
 * with one per thread (no lock is ever contended). Each row prints lookups per second in all, the
 * mean nanoseconds per lookup and thread (caches warmed first: only hits are timed), and the
 * signature checks paid to warm them: a shared cache pays one per token, per-thread caches one
 * per token and thread. The last line is the cost of a miss: verifications of distinct tokens
 * with a cache of one entry.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tandem/auth.h"

static char *priv, *pub;
static char **tokens;
static int ntokens = 1000;
static double seconds = 2;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct tandem_auth *new_auth(size_t entries)
{
    struct tandem_auth_config cfg = {
        .public_key = pub, .private_key = priv, .cache_entries = entries};
    struct tandem_auth *a = NULL;
    if (tandem_auth_new(&cfg, &a) != 0) {
        fprintf(stderr, "tandem_auth_new failed\n");
        exit(1);
    }
    return a;
}

struct worker {
    struct tandem_auth *a;
    uint64_t n, rng;
    bool own;
    atomic_int *ready;
    atomic_bool *go, *stop;
    pthread_t th;
};

static void warm(struct tandem_auth *a)
{
    for (int i = 0; i < ntokens; i++) {
        const struct tandem_claims *c = NULL;
        if (tandem_auth_verify(a, tokens[i], strlen(tokens[i]), &c, NULL) == 0) {
            tandem_claims_release(c);
        }
    }
}

static void *run(void *arg)
{
    struct worker *w = arg;
    if (w->own) {
        warm(w->a); /* every per-thread cache pays the signature checks itself */
    }
    atomic_fetch_add(w->ready, 1);
    while (!atomic_load(w->go)) {
    }
    while (!atomic_load(w->stop)) {
        for (int k = 0; k < 64; k++) {
            w->rng ^= w->rng << 13;
            w->rng ^= w->rng >> 7;
            w->rng ^= w->rng << 17;
            const char *t = tokens[w->rng % (uint64_t)ntokens];
            const struct tandem_claims *c = NULL;
            if (tandem_auth_verify(w->a, t, strlen(t), &c, NULL) != 0) {
                fprintf(stderr, "a valid token was refused\n");
                exit(1);
            }
            tandem_claims_release(c);
            w->n++;
        }
    }
    return NULL;
}

static void row(const char *mode, int nthreads, bool shared)
{
    struct worker w[8];
    struct tandem_auth *one = shared ? new_auth(4096) : NULL;
    if (one != NULL) {
        warm(one);
    }
    atomic_bool go = false, stop = false;
    atomic_int ready = 0;
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.a = shared ? one : new_auth(4096),
                               .rng = 0x9e3779b97f4a7c15u * (uint64_t)(i + 1),
                               .own = !shared,
                               .ready = &ready,
                               .go = &go,
                               .stop = &stop};
        pthread_create(&w[i].th, NULL, run, &w[i]);
    }
    while (atomic_load(&ready) < nthreads) { /* caches warm: only hits are timed */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    double t0 = now_s();
    atomic_store(&go, true);
    while (now_s() - t0 < seconds) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, true);
    double el = now_s() - t0;
    uint64_t total = 0, misses = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
        struct tandem_auth_stats st;
        if (!shared) {
            tandem_auth_stats(w[i].a, &st);
            misses += st.signatures;
            tandem_auth_free(w[i].a);
        }
    }
    if (shared) {
        struct tandem_auth_stats st;
        tandem_auth_stats(one, &st);
        misses = st.signatures;
        tandem_auth_free(one);
    }
    printf("| %-10s | %d | %12.0f | %8.1f | %6llu |\n", mode, nthreads, (double)total / el,
           el * 1e9 * nthreads / (double)total, (unsigned long long)misses);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        seconds = atof(argv[1]);
    }
    if (argc > 2) {
        ntokens = atoi(argv[2]);
    }
    if (tandem_auth_keygen(&priv, &pub) != 0) {
        return 1;
    }
    struct tandem_auth *signer = new_auth(1);
    tokens = calloc((size_t)ntokens, sizeof(*tokens));
    for (int i = 0; i < ntokens; i++) {
        char sub[16];
        snprintf(sub, sizeof(sub), "%d", i);
        tandem_auth_sign(signer, sub, "user", NULL, &tokens[i]);
    }
    printf("| cache      | threads | lookups/s | ns/lookup/thread | signature checks |\n");
    printf("|---|---|---|---|---|\n");
    for (int n = 1; n <= 4; n *= 2) {
        row("shared", n, true);
        row("per-thread", n, false);
    }
    /* a miss: distinct tokens through a one-entry cache */
    double t0 = now_s();
    int n = 0;
    for (; n < ntokens && now_s() - t0 < seconds; n++) {
        const struct tandem_claims *c = NULL;
        if (tandem_auth_verify(signer, tokens[n], strlen(tokens[n]), &c, NULL) == 0) {
            tandem_claims_release(c);
        }
    }
    double el = now_s() - t0;
    printf("\na miss (libjwt: PEM parse + ES256 verify): %.1f us per token (%d tokens)\n",
           el * 1e6 / n, n);
    for (int i = 0; i < ntokens; i++) {
        free(tokens[i]);
    }
    free(tokens);
    tandem_auth_free(signer);
    free(priv);
    free(pub);
    return 0;
}
