/*
 * Durable-file helpers. See fileio.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "tandem/error.h"

int file_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return TANDEM_EIO;
    int rc = fsync(fd) ? TANDEM_EIO : 0;
    close(fd);
    return rc;
}

int file_pwrite_all(int fd, const void *p, size_t len, off_t pos)
{
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t n = pwrite(fd, b, len, pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return TANDEM_EIO;
        }
        b += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

int file_write_atomic(const char *path, const char *tmp, const void *data, size_t len)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return TANDEM_EIO;
    if (file_pwrite_all(fd, data, len, 0) || fsync(fd)) {
        close(fd);
        unlink(tmp);
        return TANDEM_EIO;
    }
    close(fd);
    if (rename(tmp, path)) {
        unlink(tmp);
        return TANDEM_EIO;
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return file_fsync_dir(".");
    if (slash == dir)
        slash[1] = '\0'; /* "/file": the root directory */
    else
        *slash = '\0';
    return file_fsync_dir(dir);
}
