/*
 * One request of the control protocol (ctl.c), parsed: the pure half of the control socket, kept
 * apart so that a fuzzer (tests/fuzz/fuzz_ctl.c) can drive it without a supervisor.
 *
 * A request is one line of printable ASCII words separated by single or repeated spaces and ended
 * by '\n':
 *
 *     ps | ps --json | down | scale NAME=N [NAME=N ...] | stop NAME | start NAME | restart NAME
 *
 * NAME is any word here (the supervisor looks it up in the manifest); N is 1 to 6 decimal digits
 * (the supervisor checks the range). Anything else, a control byte (NUL, CR, DEL...) or a byte
 * above 0x7e anywhere in the line included, is refused with a message, so every line gets an
 * answer.
 */
#ifndef TANDEM_CLI_CTL_REQUEST_H
#define TANDEM_CLI_CTL_REQUEST_H

#include <stddef.h>

#define CTL_REQUEST_MAX 512 /* bytes of a request line, its '\n' included */
#define CTL_MAX_ARGS    32  /* NAME=N pairs of one scale */
#define CTL_NEED_MORE   1   /* ctl_request_parse: no '\n' yet */
#define CTL_EXIT_USAGE  2   /* the exit code of a refused request: bad usage */

enum ctl_kind { CTL_PS, CTL_PS_JSON, CTL_DOWN, CTL_SCALE, CTL_STOP, CTL_START, CTL_RESTART };

struct ctl_request {
    enum ctl_kind kind;
    /* CTL_STOP/START/RESTART: name[0]. CTL_SCALE: name[i] and count[i] for i < n. The names
     * point into the buffer given to ctl_request_parse and live as long as it does. */
    const char *name[CTL_MAX_ARGS];
    int count[CTL_MAX_ARGS];
    size_t n;
};

/*
 * Parses the request line at the start of buf[0..len). The buffer is modified: the words of the
 * line are NUL-terminated in place. Returns:
 *   0              a request in *req; *used is the line's length with its '\n';
 *   CTL_NEED_MORE  no '\n' in buf yet and len < CTL_REQUEST_MAX - 1: wait for more bytes (a
 *                  control byte already seen is refused at once instead);
 *   TANDEM_EINVAL  a refused line: "tandem: ..." in err, to be answered with exit code
 *                  CTL_EXIT_USAGE (TANDEM_ETOOLARGE for a line of CTL_REQUEST_MAX bytes or more
 *                  without its '\n', same answer).
 */
int ctl_request_parse(char *buf, size_t len, struct ctl_request *req, size_t *used, char *err,
                      size_t err_len);

#endif
