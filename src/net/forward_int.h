/* Internals shared by forward.c (accept, connect with retry, replay, lifecycle) and
 * forward_relay.c (the byte relay). Not for other modules.
 *
 * A connection is "retryable" from its accept until the first byte comes back from the target:
 * meanwhile the client -> target direction is copied (read/write, never splice) and every byte
 * read from the client is kept in a replay buffer (at most FWD_REPLAY_CAP bytes: past that the
 * connection stops being retryable). When the target fails in that window (reset, broken pipe,
 * end of file, error), forward.c drops the target socket and connects again with the usual retry
 * and backoff (a new deadline, counted from the failure); forward_relay.c then sends the kept
 * bytes to the new target first, and relays the client's half-close again if there was one.
 * A request some bytes of which the failed target took is replayed only when it is idempotent
 * HTTP (its first request line's method is GET, HEAD, OPTIONS, TRACE, PUT or DELETE, RFC 9110
 * section 9.2.2): the app may have acted on it. Anything else then gets the reset. */
#ifndef BATON_FORWARD_INT_H
#define BATON_FORWARD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/conn.h"
#include "net/forward.h"

struct loop;
struct loop_src;
struct loop_timer;

#define FWD_CHUNK (64 * 1024)	 /* bytes per splice/read, and the copy buffer's size */
#define FWD_BUDGET (1024 * 1024) /* bytes a direction moves per turn before others run */
#define FWD_ACCEPT_BATCH 64	 /* accepts per readiness of a non-blocking listener */
#define FWD_BACKOFF_MIN_MS 5	 /* connect retry backoff: doubles up to the max */
#define FWD_BACKOFF_MAX_MS 100
#define FWD_ACCEPT_PAUSE_MS 100 /* accept paused this long after EMFILE and friends */
#define FWD_FDS_PER_CONN 6	/* client, target, two pipes */
#define FWD_FD_RESERVE 64	/* fds left to the control socket, spawning, readiness */
#define FWD_PAUSE_LOG_MS 10000	/* an accept pause episode lasts at least this long */
#define FWD_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define FWD_TARGET_STR_MAX 128	 /* "unix:@" + a 107-byte name, or "[v6]:port" */
#define FWD_REPLAY_CAP FWD_CHUNK /* request bytes kept for a replay (fits the copy buffer) */
#define FWD_REPLAY_MAX 8	 /* replays per connection: a target that always fails */

enum conn_state {
	CONN_WAITING,	 /* target refused; the timer retries (or ends it at the deadline) */
	CONN_CONNECTING, /* non-blocking connect in flight; the timer holds the deadline */
	CONN_RELAYING,
};

struct dir {
	struct conn *src, *dst; /* the connection's transports (not owned here) */
	int pipe[2];		/* splice mode: created on first use, -1 before */
	size_t inpipe;		/* splice mode: bytes in the pipe, not yet written to dst */
	char *buf;		/* copy mode: buf[off..len) not yet written to dst */
	size_t off, len, cap;
	bool copy;	   /* read/write instead of splice */
	bool splice_later; /* copying only while retryable: splice once that ends */
	bool eof;	   /* src reached end of file */
	bool done;	   /* dst shut down for writing, or dst failed: nothing more to move */
	bool again;	   /* the budget ran out with work left: the kick timer resumes it */
	uint64_t *bytes;   /* stats counter */
};

struct fwd_conn {
	struct forward *f;
	struct fwd_conn *prev, *next;
	unsigned id;
	enum conn_state state;
	struct conn cli, tgt; /* the client's and the target's transports (tgt.fd -1: none) */
	struct loop_src *csrc, *tsrc;
	struct loop_timer *timer; /* while not relaying: retry and deadline */
	int64_t deadline;
	int64_t backoff_ms;
	struct dir d[2]; /* d[0] client -> target, d[1] target -> client */
	bool started;	 /* the relay ran once (d[] set up) */
	bool retryable;	 /* nothing came back from the target yet, rbuf holds the request */
	char *rbuf;	 /* retryable: every byte read from the client (FWD_REPLAY_CAP) */
	size_t rlen;
	unsigned failures; /* target failures replayed so far */
	size_t delivered;  /* request bytes the current target took (sent to its socket) */
};

struct forward {
	struct loop *loop;
	int lfd;
	struct loop_src *lsrc;	    /* NULL while not accepting */
	struct loop_timer *unpause; /* ends an accept pause after EMFILE and friends */
	struct loop_timer *kick;    /* resumes directions that spent their budget */
	struct sockaddr_storage target;
	socklen_t tlen;
	char target_str[FWD_TARGET_STR_MAX];
	int64_t timeout_ms;
	bool accept_error; /* accept failed for lack of resources: pause briefly */
	bool full;	   /* nconns reached max_conns: accept waits for a close */
	bool fds_low;	   /* the fd reserve was reached: accept waits for a close */
	size_t max_conns;
	bool pause_logged; /* this episode's pause was logged (accept_room() ends episodes) */
	int64_t pause_log_ms;
	long fd_limit; /* RLIMIT_NOFILE soft limit, read at forward_new() */
	long fd_base;  /* fds open at forward_new(): the rest of baton */
	char *name;    /* the listener's, for messages */
	bool splice;
	struct fwd_conn *conns;
	size_t nconns;
	unsigned next_id;
	int64_t last_timeout_log;
	struct forward_stats st;
};

/* forward.c */
/* Frees c. With reset, both peers get a TCP reset instead of an orderly close. */
void fwd_conn_close(struct fwd_conn *c, bool reset);
/* The target failed while c was retryable (err: 0 for an end of file): drop the target socket
 * and connect again; the relay restarts with the replay once connected. */
void fwd_conn_replay(struct fwd_conn *c, int err);

/* forward_relay.c */
/* c's target socket is connected: set up (or, after a failure, restart with the replay) and
 * move what is waiting. Returns false when c was freed or stopped relaying. */
bool fwd_relay_start(struct fwd_conn *c);
/* Events on c's client (side 0) or target (side 1) socket while relaying. */
void fwd_relay_io(struct fwd_conn *c, int fd, int side, uint32_t events);
/* The kick timer's callback (data: the forward). */
void fwd_relay_kick(struct loop *l, void *data);
/* Frees what c's relay holds (pipes, buffers, the replay copy); closes no socket. */
void fwd_relay_release(struct fwd_conn *c);

#endif
