/* file.c - reading a small file whole, with a ceiling (file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ums.h"

int file_read(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *data = NULL;
    size_t got = 0;
    ssize_t n = 0;
    int fd, saved;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return UMS_EINVALID;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return UMS_EINVALID;
    }
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return UMS_EINVALID;
    }
    data = malloc(max + 1);
    if (data == NULL) {
        close(fd);
        return UMS_ERR;
    }
    /* Read to the end, not to st_size: the file may be growing. */
    while (got <= max && (n = read(fd, data + got, max + 1 - got)) > 0)
        got += (size_t)n;
    saved = errno;
    close(fd);
    if (n < 0 || got > max) {
        free(data);
        errno = n < 0 ? saved : EFBIG;
        return UMS_EINVALID;
    }
    data[got] = '\0';
    *out = data;
    *len = got;
    return UMS_OK;
}

const char *file_why(int err)
{
    switch (err) {
    case EISDIR:
        return "not a regular file";
    case EFBIG:
        return "too large";
    default:
        return strerror(err);
    }
}
