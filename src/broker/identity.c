/*
 * The broker's small files: cluster id, producer-id blocks, port file. See identity.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "identity.h"
#include "tandem/error.h"

#define PRODUCER_ID_BLOCK 1000

/* Writes data to path atomically (PATH.tmp, fsync, rename, fsync of the directory, so producer
 * id blocks survive a power loss). */
static int write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    return file_write_atomic(path, tmp, data, len);
}

static int read_small_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TANDEM_ENOENT : TANDEM_EIO;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return TANDEM_EIO;
    buf[n] = '\0';
    return 0;
}

/* meta.properties holds the cluster id, created once (as Kafka's does). */
static int load_cluster_id(struct broker *b)
{
    char path[4096], buf[256];
    snprintf(path, sizeof(path), "%s/meta.properties", b->cfg->data_dir);
    int rc = read_small_file(path, buf, sizeof(buf));
    if (rc == 0) {
        const char *id = strstr(buf, "cluster.id=");
        if (id && sscanf(id + 11, "%31[A-Za-z0-9_-]", b->cluster_id) == 1)
            return 0;
        return TANDEM_ECORRUPT;
    }
    if (rc != TANDEM_ENOENT)
        return rc;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t rnd[22];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        if (fd >= 0)
            close(fd);
        return TANDEM_EIO;
    }
    close(fd);
    for (size_t i = 0; i < sizeof(rnd); i++)
        b->cluster_id[i] = alphabet[rnd[i] & 63];
    b->cluster_id[sizeof(rnd)] = '\0';
    int n = snprintf(buf, sizeof(buf), "version=1\ncluster.id=%s\nnode.id=%" PRId64 "\n",
                     b->cluster_id, b->cfg->node_id);
    return write_file_atomic(path, buf, (size_t)n);
}

/* Producer ids are handed out from blocks whose end is persisted before use, so ids are never
 * reused across restarts. */
static int load_producer_id_block(struct broker *b)
{
    char path[4096], buf[64];
    snprintf(path, sizeof(path), "%s/producer_id_block", b->cfg->data_dir);
    int rc = read_small_file(path, buf, sizeof(buf));
    if (rc == TANDEM_ENOENT) {
        b->next_producer_id = b->producer_id_block_end = 0;
        return 0;
    }
    if (rc)
        return rc;
    long long v = strtoll(buf, NULL, 10);
    if (v < 0)
        return TANDEM_ECORRUPT;
    b->next_producer_id = b->producer_id_block_end = v;
    return 0;
}

int identity_load(struct broker *b)
{
    int rc = load_cluster_id(b);
    if (rc == 0)
        rc = load_producer_id_block(b);
    return rc;
}

int identity_next_producer_id(struct broker *b, int64_t *out)
{
    if (b->next_producer_id >= b->producer_id_block_end) {
        char path[4096], buf[32];
        snprintf(path, sizeof(path), "%s/producer_id_block", b->cfg->data_dir);
        int64_t end = b->next_producer_id + PRODUCER_ID_BLOCK;
        int n = snprintf(buf, sizeof(buf), "%" PRId64 "\n", end);
        int rc = write_file_atomic(path, buf, (size_t)n);
        if (rc)
            return rc;
        b->producer_id_block_end = end;
    }
    *out = b->next_producer_id++;
    return 0;
}

int identity_write_port_file(const char *path, int port)
{
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d\n", port);
    return write_file_atomic(path, buf, (size_t)n);
}
