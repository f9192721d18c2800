/*
 * Private to the manifest reader (manifest.c) and its cross-service checks (manifest_check.c):
 * the error sink both report through. The first manifest_fail() wins; later calls only return
 * TANDEM_EINVAL, so a caller can fail without checking whether something below already did.
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

/* Ports pairwise distinct, depends_on names known, no dependency cycle. 0 or TANDEM_EINVAL. */
int manifest_check(const struct cli_manifest *m, struct manifest_err *e);

#endif
