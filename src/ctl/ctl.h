/* The control socket of `baton run`: an AF_UNIX stream server on the loop that speaks
 * ctlproto.h. It binds the socket (mode 0600, its directory created 0700 when missing), accepts
 * clients of the same uid as baton (or root; others get "error permission denied"), decodes
 * their requests and hands each one to the owner's callback. The owner answers when it has the
 * answer (a reload waits for the new generation) with ctl_reply() or ctl_reply_body().
 * `hello` is answered here; the owner sees reload, status and stop only.
 *
 * One request per client is in flight: the next one is read after the answer. A client that
 * sends no complete request for the idle timeout (default CTL_IDLE_TIMEOUT_MS, counted from
 * connect or the last answer) is closed, and so is one that sends a malformed request (after an
 * error line saying why). The owner's wait for an answer has no timeout: that is its business.
 *
 * Ownership:
 *  - ctl_new() creates and owns the listening socket (ctl_sock.h); ctl_free() unregisters and
 *    closes it and unlinks the socket file if the file at the path is still the one it bound
 *    (dev/ino). Once a second, ctl checks that file: removed or replaced by a file that is not a
 *    live socket, it binds a new socket at the path (logged); taken by another baton, it leaves
 *    it and says so once.
 *  - ctl owns every client connection and closes it: when the peer hangs up, on a protocol
 *    error, on the idle timeout, and in ctl_free(). The owner never closes anything.
 *  - struct ctl_client memory is reference counted. The `c` given to the callback is valid
 *    during the callback; to answer later, keep it with ctl_client_ref() and drop it with
 *    ctl_client_unref() once answered (or given up). A reference keeps the memory, not the
 *    connection: answering a client that went away is a harmless no-op (-ENOTCONN), even
 *    after ctl_free().
 *  - ctl_free() may be called inside a callback; it must be called before loop_free(). It tries
 *    once, without blocking, to send what is queued for each client before closing it. */
#ifndef BATON_CTL_H
#define BATON_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl/ctlproto.h"

#define CTL_IDLE_TIMEOUT_MS 10000
#define CTL_MAX_CLIENTS 64

struct loop;
struct ctl;
struct ctl_client;

/* req->verb is CTL_RELOAD, CTL_STATUS, CTL_STOP or CTL_UPGRADE; req is only valid during the call.
 */
typedef void (*ctl_request_cb)(struct ctl_client *c, const struct ctl_request *req, void *data);

/* Create the server at path (relative to root unless absolute). A socket file nobody listens on
 * (connect() refused) is replaced; a live one is an error ("another baton is running on PATH",
 * errno EADDRINUSE); so is a path that exists and is not a socket (EEXIST). NULL with errno set
 * on failure, and *err (if err is not NULL) set to a readable message the caller frees. */
struct ctl *ctl_new(struct loop *l, const char *root, const char *path, ctl_request_cb cb,
		    void *data, char **err);
void ctl_free(struct ctl *ctl);
/* Serve on fd, a listening socket already bound at path (kept across baton's re-exec by `baton
 * upgrade`). On success ctl owns fd; on failure (NULL, errno set) fd stays the caller's. */
struct ctl *ctl_new_fd(struct loop *l, const char *root, const char *path, int fd,
		       ctl_request_cb cb, void *data);
/* The listening socket (to keep it across a re-exec), and a client's connection (-1 once it is
 * closed). Owned by ctl. */
int ctl_fd(const struct ctl *ctl);
int ctl_client_fd(const struct ctl_client *c);
/* The absolute path of the socket. Owned by ctl. */
const char *ctl_path(const struct ctl *ctl);
/* max_clients > 0 and idle_timeout_ms > 0 replace the defaults (existing clients keep their
 * current deadline). */
void ctl_set_limits(struct ctl *ctl, int max_clients, int64_t idle_timeout_ms);
int ctl_nclients(const struct ctl *ctl);

/* Answer the client's request: "ok TEXT" / "error TEXT" (text may be NULL), or a status body.
 * Returns 0 when queued (it is sent as soon as the socket takes it), -ENOTCONN when the client
 * is gone, -EALREADY when it has no request waiting for an answer. */
int ctl_reply(struct ctl_client *c, bool ok, const char *text);
int ctl_reply_body(struct ctl_client *c, const char *body);

struct ctl_client *ctl_client_ref(struct ctl_client *c);
void ctl_client_unref(struct ctl_client *c);
/* False once the connection is closed (peer gone, error, timeout, ctl_free). */
bool ctl_client_alive(const struct ctl_client *c);
/* The peer's credentials (SO_PEERCRED) and a number for log lines, unique per ctl. */
pid_t ctl_client_pid(const struct ctl_client *c);
uid_t ctl_client_uid(const struct ctl_client *c);
unsigned ctl_client_id(const struct ctl_client *c);

/* The access rule: a peer may talk to baton when it runs as the same uid, or as root. */
bool ctl_peer_allowed(uid_t peer, uid_t self);

/* The socket path for a configured value: path itself when absolute, else root/path. Fresh
 * string, the caller frees. */
char *ctl_socket_path(const char *root, const char *path);
/* Connect to the control socket at path (client side, shared with `baton reload|status|stop`).
 * Waits at most timeout_ms for room in the server's backlog. Returns a connected fd (CLOEXEC,
 * non-blocking; the caller closes it) or -errno: -ECONNREFUSED nobody listens, -ENOENT no
 * socket, -EAGAIN the backlog stayed full. Paths longer than sun_path work too. */
int ctl_connect(const char *path, int64_t timeout_ms);

#endif
