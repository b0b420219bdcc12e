/* NOTIFY_SOCKET: the sd_notify protocol in both directions.
 *
 * Receiver: one AF_UNIX SOCK_DGRAM socket with SO_PASSCRED, registered on the loop. Each
 * datagram is parsed by notify_parse() and handed to the owner's callback with the sender's
 * kernel-attested pid; attribution to a generation is the owner's job (see proc.h for
 * descendants). Malformed datagrams are logged at debug level and dropped; fds passed with
 * SCM_RIGHTS (received CLOEXEC) are handed to the callback, which may keep some (FDSTORE=1):
 * the others are closed after it; nothing a sender does can stop the receiver.
 *
 * Ownership: notify_new() owns its socket; notify_free() unregisters it, closes it and
 * unlinks the path it bound (path mode). The struct notify_msg handed to the callback points
 * into a receive buffer that is only valid during the callback. */
#ifndef BATON_NOTIFY_H
#define BATON_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest datagram accepted (systemd's NOTIFY_BUFFER_MAX). */
#define NOTIFY_MAX 4096

struct loop;
struct notify;

struct notify_msg {
	bool ready;	       /* READY=1 */
	bool reloading;	       /* RELOADING=1 */
	bool stopping;	       /* STOPPING=1 */
	bool watchdog;	       /* WATCHDOG=1 */
	bool watchdog_trigger; /* WATCHDOG=trigger */
	bool barrier;	       /* BARRIER=1 */
	bool fdstore;	       /* FDSTORE=1: keep the fds passed with this datagram */
	bool fdstore_remove;   /* FDSTOREREMOVE=1: drop the stored fds named fdname */
	bool has_fdname;       /* FDNAME= with a valid name (fdname_len bytes, not terminated) */
	bool has_fdpoll;       /* FDPOLL= (0 or 1); baton never polls stored fds */
	bool fdpoll;
	const char *fdname;
	size_t fdname_len;
	bool has_status, has_mainpid, has_monotonic, has_extend, has_errno;
	const char
		*status; /* STATUS= value, not NUL-terminated: status_len bytes into the buffer */
	size_t status_len;
	pid_t mainpid;		      /* MAINPID=, > 0 */
	uint64_t monotonic_usec;      /* MONOTONIC_USEC= */
	uint64_t extend_timeout_usec; /* EXTEND_TIMEOUT_USEC= */
	int errno_value;	      /* ERRNO=, >= 0 */
	unsigned n_fields;	      /* assignments understood */
	unsigned n_ignored;	      /* unknown keys or lines without '=' */
	unsigned n_invalid;	      /* known keys with a bad value (the field is left unset) */
};

/* Longest FDNAME= (systemd's FDNAME_MAX). */
#define NOTIFY_FDNAME_MAX 255

/* A valid FDNAME= value: 1..255 printable ASCII characters, no ':' (the LISTEN_FDNAMES
 * separator). Pure. */
bool notify_fdname_valid(const char *name, size_t len);

/* Parse one datagram (pure). Lines are "KEY=VALUE" separated by '\n'; a trailing newline is
 * optional; later duplicates win. Returns 0 when the datagram is acceptable (it may still
 * carry nothing useful: check the fields), or:
 *   -ENODATA  empty datagram,   -EMSGSIZE  longer than NOTIFY_MAX,
 *   -EINVAL   embedded NUL byte,  -EILSEQ  not valid UTF-8.
 * STATUS values with control characters (other than tab) are treated as invalid. */
int notify_parse(const char *buf, size_t len, struct notify_msg *out);

/* Called once per accepted datagram. pid is the sender's pid from SCM_CREDENTIALS. fds are the
 * nfds descriptors passed with it (CLOEXEC): the callback keeps one by setting its slot to -1;
 * the receiver closes the rest when the callback returns. */
typedef void (*notify_cb)(pid_t pid, const struct notify_msg *msg, int *fds, size_t nfds,
			  void *data);

/* Create the receiver. path NULL: an autobound abstract address (unique, nothing on disk);
 * otherwise a filesystem path (a stale socket there is replaced) or "@name" for an abstract
 * name. NULL with errno set on failure. */
struct notify *notify_new(struct loop *l, const char *path, notify_cb cb, void *data);
/* The NOTIFY_SOCKET value to give children: "/path" or "@name". Owned by n. */
const char *notify_socket_path(const struct notify *n);
/* Receive on fd, a socket notify_new() bound as name in this process before it re-executed
 * itself (`baton upgrade`): the generations keep their NOTIFY_SOCKET. On success the notify owns
 * fd; on failure (NULL, errno set) fd stays the caller's. notify_fd(): the socket, to keep it. */
struct notify *notify_new_fd(struct loop *l, int fd, const char *name, notify_cb cb, void *data);
int notify_fd(const struct notify *n);
void notify_free(struct notify *n);

/* Sender: send msg in one datagram to $NOTIFY_SOCKET (baton's own, from systemd).
 * Returns 1 when sent, 0 when NOTIFY_SOCKET is unset, -errno on failure. */
int notify_send(const char *msg);
/* The same to an explicit socket ("/path" or "@abstract"). 1 or -errno. */
int notify_send_to(const char *socket_path, const char *msg);

#endif
