/*
 * Private to the manifest reader (manifest.c, manifest_service.c) and its cross-service checks
 * (manifest_check.c): the reader's helpers and the error sink all report through. The first
 * manifest_fail() wins; later calls only return TANDEM_EINVAL, so a caller can fail without
 * checking whether something below already did.
 */
#ifndef TANDEM_CLI_MANIFEST_INT_H
#define TANDEM_CLI_MANIFEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "cli/manifest.h"

struct manifest_err {
    const char *path; /* the manifest, as named in messages */
    char *buf;
    size_t len;
    bool failed;
};

/* Writes "PATH:LINE:COLUMN: message" (or "PATH: message" when at.line is 0) once; returns
 * TANDEM_EINVAL. */
int manifest_fail(struct manifest_err *e, struct cli_mark at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The reader's state while walking libyaml's document tree. */
struct mf_ctx {
    struct manifest_err *e;
    yaml_document_t *doc;
    struct cli_manifest *m;
};

/* Generic readers (manifest.c). Each returns 0 or fails through manifest_fail with `key` in the
 * message. Strings are copied (xstrndup); numbers and booleans must be plain scalars. */
struct cli_mark mf_mark(const yaml_node_t *n); /* 1-based start of a node */
const char *mf_type(const yaml_node_t *n);     /* "a mapping", ... */
const char *mf_sval(const yaml_node_t *n);     /* a scalar's text */
yaml_node_t *mf_node(struct mf_ctx *c, int i);
int mf_want(struct mf_ctx *c, const yaml_node_t *n, yaml_node_type_t t, const char *key);
/* Refuses keys outside `allowed` (NULL-terminated; NULL allows any), non-scalar and duplicate
 * keys. */
int mf_check_keys(struct mf_ctx *c, const yaml_node_t *map, const char *where,
                  const char *const *allowed);
yaml_node_t *mf_get(struct mf_ctx *c, const yaml_node_t *map, const char *key); /* or NULL */
int mf_str(struct mf_ctx *c, const yaml_node_t *n, const char *key, char **out);
int mf_int(struct mf_ctx *c, const yaml_node_t *n, const char *key, long min, long max, int *out);
int mf_bool(struct mf_ctx *c, const yaml_node_t *n, const char *key, bool *out);
/* A sequence of strings into a NULL-terminated array; *n_out counts what was read so far. */
int mf_str_list(struct mf_ctx *c, const yaml_node_t *n, const char *key, char ***out,
                size_t *n_out);
/* A path resolved against the manifest's directory; with `check`, an executable regular file. */
int mf_binary(struct mf_ctx *c, const yaml_node_t *n, const char *key, bool check, char **out);

/* services: (manifest_service.c). Appends to c->m->services, which owns even a half-read
 * service, so cli_manifest_cleanup frees everything on failure. */
int mf_parse_services(struct mf_ctx *c, const yaml_node_t *n);

/* Ports pairwise distinct, depends_on names known, no dependency cycle. 0 or TANDEM_EINVAL. */
int manifest_check(const struct cli_manifest *m, struct manifest_err *e);

#endif
