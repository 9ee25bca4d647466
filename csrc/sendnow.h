/* One non-blocking send(2) for the pacing kernel (src/scribewire/transport/_pacing_py.pxd).

   sw_send_nowait(fd, buf, n) tries to hand n bytes to a connected stream socket
   without blocking and without SIGPIPE. It returns the number of bytes the kernel
   took, 0 when the socket would block or a signal interrupted the call (nothing was
   sent), and -1 on any other error; errno is left for the caller's transport to meet
   again and report in its own way.

   SW_DIRECT_SEND is 1 where this is a real send(2), 0 where it is not available
   (Windows: the pacer then always writes through the asyncio transport). */
#ifndef SCRIBEWIRE_SENDNOW_H
#define SCRIBEWIRE_SENDNOW_H

#include <stddef.h>

#if defined(_WIN32)

typedef ptrdiff_t sw_ssize_t;
#define SW_DIRECT_SEND 0

static inline sw_ssize_t sw_send_nowait(int fd, const char *buf, size_t n)
{
    (void)fd;
    (void)buf;
    (void)n;
    return -1;
}

#else

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifndef MSG_NOSIGNAL /* macOS: SIGPIPE is off per socket (SO_NOSIGPIPE) or ignored by Python */
#define MSG_NOSIGNAL 0
#endif

typedef ssize_t sw_ssize_t;
#define SW_DIRECT_SEND 1

static inline sw_ssize_t sw_send_nowait(int fd, const char *buf, size_t n)
{
    sw_ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return r;
}

#endif

#endif /* SCRIBEWIRE_SENDNOW_H */
