/* textfile: see textfile.h. */
#include "textfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

int mtm_textfile_write(const char *dir, const char *name, const char *text, size_t len, char *err,
                       size_t errlen)
{
    char *tmp = xasprintf("%s/.%s.%ld.tmp", dir, name, (long)getpid());
    char *dst = xasprintf("%s/%s", dir, name);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "textfile: open %s: %s", tmp, strerror(errno));
        rc = MTM_EIO;
    } else {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(err, errlen, "textfile: write %s: %s", tmp, strerror(errno));
                rc = MTM_EIO;
                break;
            }
            off += (size_t)w;
        }
        if (!rc && fsync(fd) < 0) {
            snprintf(err, errlen, "textfile: fsync %s: %s", tmp, strerror(errno));
            rc = MTM_EIO;
        }
        close(fd);
        if (!rc && rename(tmp, dst) < 0) {
            snprintf(err, errlen, "textfile: rename to %s: %s", dst, strerror(errno));
            rc = MTM_EIO;
        }
        if (rc)
            unlink(tmp);
    }
    free(tmp);
    free(dst);
    return rc;
}

int mtm_textfile_remove(const char *dir, const char *name, bool *removed, char *err, size_t errlen)
{
    char *path = xasprintf("%s/%s", dir, name);
    int rc = 0;
    bool gone = unlink(path) == 0;
    if (!gone && errno != ENOENT) {
        snprintf(err, errlen, "textfile: remove %s: %s", path, strerror(errno));
        rc = MTM_EIO;
    }
    if (removed)
        *removed = gone;
    free(path);
    return rc;
}
