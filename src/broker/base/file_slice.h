/*
 * file_slice: a byte range of an open file, sent to a socket without passing through user space.
 *
 * Storage hands these out for Fetch (plog_read: whole record batches of one segment file), the
 * codecs put them into a response as splices (kw_splice in kbuf.h), and the network loop sends
 * their bytes with sendfile(2), then disposes of each through the release function its owner
 * configured (server_config.release in net/net.h). The struct lives here, below all three, so that
 * none of them needs another's header to name it: the network loop knows an fd and a position,
 * never a segment.
 */
#ifndef TANDEM_BASE_FILE_SLICE_H
#define TANDEM_BASE_FILE_SLICE_H

#include <stdint.h>
#include <sys/types.h>

struct file_slice {
    int fd;       /* readable for as long as ref is held */
    off_t pos;    /* first byte */
    uint32_t len; /* bytes from pos */
    void *ref;    /* the owner's reference that keeps fd open (storage: its segment) */
};

#endif
