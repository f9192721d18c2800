/*
 * Small durable-file helpers shared by storage, the group coordinator and the broker core.
 *
 * A file replaced with file_write_atomic() is, after a crash, either the old or the new version,
 * never a mix: the data goes to a temporary file that is fsynced, renamed over the target, and
 * then the directory is fsynced so the rename itself survives a power loss.
 */
#ifndef TANDEM_COMMON_FILEIO_H
#define TANDEM_COMMON_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* fsync(2) of a directory (makes creations, renames and unlinks in it durable).
 * Returns 0 or TANDEM_EIO. */
int file_fsync_dir(const char *dir);

/* pwrite(2) until all len bytes are written (retries EINTR and short writes).
 * Returns 0 or TANDEM_EIO (errno tells why). */
int file_pwrite_all(int fd, const void *p, size_t len, off_t pos);

/* Replaces path with data durably: writes tmp (a path in the same directory, removed on
 * failure), fsyncs it, renames it over path, fsyncs the directory. Returns 0 or TANDEM_EIO. */
int file_write_atomic(const char *path, const char *tmp, const void *data, size_t len);

#endif
