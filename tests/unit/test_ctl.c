/* Unit tests for the control socket server: a real server on a loop in the test process, and
 * clients that are non-blocking sockets on the same loop (or, for the peer-credential check, a
 * forked child running as another uid). Every wait is loop_run_once() up to a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/ctlproto.h"
#include "core/loop.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include "testutil.h"

#define WAIT_MS 5000 /* generous deadline for things that happen at once */

enum mode { REPLY_NOW, DEFER, FLOOD };

struct fx {
	int nfds; /* open fds before the test: the same number must be open after it */
	char dir[64];
	char *sock; /* absolute path of the socket */
	struct loop *l;
	struct ctl *ctl;
	enum mode mode;
	bool free_on_stop;
	int nreq;
	enum ctl_verb verbs[16];
	bool json[16];
	struct ctl_client *held[16];
	int nheld;
	int nflood; /* FLOOD: requests answered (each with a 1 KiB body) */
};

/* ---- the owner ---- */

static void on_request(struct ctl_client *c, const struct ctl_request *req, void *data)
{
	struct fx *f = data;
	if (f->mode == FLOOD) {
		static char body[1025];
		memset(body, 'x', 1023);
		body[1023] = '\n';
		f->nflood++;
		assert_int_equal(ctl_reply_body(c, body), 0);
		return;
	}
	assert_true(req->verb == CTL_RELOAD || req->verb == CTL_STATUS || req->verb == CTL_STOP);
	assert_true(ctl_client_alive(c));
	assert_int_equal(ctl_client_pid(c), getpid());
	assert_int_equal(ctl_client_uid(c), geteuid());
	assert_true(f->nreq < 16);
	f->verbs[f->nreq] = req->verb;
	f->json[f->nreq] = req->json;
	f->nreq++;
	if (f->mode == DEFER) {
		f->held[f->nheld++] = ctl_client_ref(c);
		return;
	}
	switch (req->verb) {
	case CTL_STATUS:
		assert_int_equal(ctl_reply_body(c, req->json ? "{\"generations\": []}\n"
							     : "gen 1 ready\n.dotted\n"),
				 0);
		break;
	case CTL_RELOAD:
		assert_int_equal(ctl_reply(c, true, "generation 2 serving"), 0);
		break;
	default:
		assert_int_equal(ctl_reply(c, true, "stopping"), 0);
		if (f->free_on_stop) {
			ctl_free(f->ctl);
			f->ctl = NULL;
		}
		break;
	}
	assert_int_equal(ctl_reply(c, true, "twice"), ctl_client_alive(c) ? -EALREADY : -ENOTCONN);
}

/* ---- test clients on the loop ---- */

struct tclient {
	struct fx *f;
	int fd;
	struct loop_src *src;
	struct ctlproto_respdec dec;
	struct ctl_response resp[8];
	int nresp;
	int err; /* decoder error */
	bool eof;
};

static void on_tclient(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct tclient *t = data;
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* EOF, or ECONNRESET after the server closed with our bytes unread */
		t->eof = true;
		loop_del(l, t->src);
		t->src = NULL;
		return;
	}
	for (size_t off = 0; off < (size_t)n && !t->err;) {
		size_t used;
		assert_true(t->nresp < 8);
		int r = ctlproto_respdec_feed(&t->dec, buf + off, (size_t)n - off, &used,
					      &t->resp[t->nresp]);
		off += used;
		if (r < 0)
			t->err = r;
		else if (r > 0)
			t->nresp++;
	}
}

static struct tclient *tc_open(struct fx *f)
{
	struct tclient *t = xcalloc(1, sizeof(*t));
	t->f = f;
	t->fd = ctl_connect(f->sock, 1000);
	if (t->fd < 0)
		fail_msg("connect %s: %s", f->sock, strerror(-t->fd));
	ctlproto_respdec_init(&t->dec);
	t->src = loop_add(f->l, t->fd, EPOLLIN, on_tclient, t);
	assert_non_null(t->src);
	return t;
}

static void tc_send(struct tclient *t, const char *s, size_t n)
{
	assert_int_equal(send(t->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void tc_close(struct tclient *t)
{
	if (t->src)
		loop_del(t->f->l, t->src);
	if (t->fd >= 0)
		close(t->fd);
	for (int i = 0; i < t->nresp; i++)
		free(t->resp[i].text);
	ctlproto_respdec_release(&t->dec);
	free(t);
}

/* Run the loop until pred(arg) holds; fail at the deadline. */
#define run_until(f, pred, arg, timeout_ms) tu_run_until((f)->l, pred, arg, timeout_ms, #pred)

/* Run the loop for a while to show that nothing happens (a bounded wait, not a sleep: it
 * returns early for any event, and we check again). */
static void run_for(struct fx *f, int64_t ms)
{
	int64_t deadline = now_ms() + ms;
	for (int64_t left = ms; left > 0; left = deadline - now_ms())
		assert_true(loop_run_once(f->l, left) >= 0);
}

static int want_n;
static bool has_n(void *arg)
{
	struct tclient *t = arg;
	return t->nresp >= want_n || t->err || t->eof;
}

static bool is_eof(void *arg)
{
	return ((struct tclient *)arg)->eof;
}

static void wait_resp(struct tclient *t, int n)
{
	want_n = n;
	run_until(t->f, has_n, t, WAIT_MS);
	assert_int_equal(t->err, 0);
	if (t->nresp < n)
		fail_msg("connection closed after %d of %d responses", t->nresp, n);
}

static void expect_resp(struct tclient *t, int i, enum ctl_response_kind kind, const char *text)
{
	wait_resp(t, i + 1);
	assert_int_equal(t->resp[i].kind, kind);
	assert_string_equal(t->resp[i].text, text);
}

/* ---- fixture ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	f->nfds = tu_count_fds();
	snprintf(f->dir, sizeof(f->dir), "/tmp/baton-ctl-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->sock = xasprintf("%s/run/baton.sock", f->dir);
	f->l = loop_new();
	char *err = NULL;
	f->ctl = ctl_new(f->l, f->dir, "run/baton.sock", on_request, f, &err);
	if (!f->ctl) {
		fprintf(stderr, "ctl_new: %s\n", err);
		free(err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < f->nheld; i++)
		ctl_client_unref(f->held[i]);
	ctl_free(f->ctl);
	loop_free(f->l);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	int leaked = tu_count_fds() - f->nfds;
	free(f->sock);
	free(f);
	if (leaked) {
		fprintf(stderr, "%d fds leaked\n", leaked);
		return -1;
	}
	return 0;
}

/* ---- tests ---- */

static void test_request_response(void **state)
{
	struct fx *f = *state;
	assert_string_equal(ctl_path(f->ctl), f->sock);
	struct tclient *t = tc_open(f);
	tc_send(t, "hello 1\n", 8);
	expect_resp(t, 0, CTL_RESP_OK, "protocol 1");
	assert_int_equal(f->nreq, 0); /* hello is answered by ctl itself */
	tc_send(t, "status\n", 7);
	expect_resp(t, 1, CTL_RESP_BODY, "gen 1 ready\n.dotted\n");
	tc_send(t, "status json\r\n", 13);
	expect_resp(t, 2, CTL_RESP_BODY, "{\"generations\": []}\n");
	tc_send(t, "reload\n", 7);
	expect_resp(t, 3, CTL_RESP_OK, "generation 2 serving");
	tc_send(t, "stop\n", 5);
	expect_resp(t, 4, CTL_RESP_OK, "stopping");
	assert_int_equal(f->nreq, 4);
	assert_int_equal(f->verbs[0], CTL_STATUS);
	assert_false(f->json[0]);
	assert_true(f->json[1]);
	assert_int_equal(f->verbs[2], CTL_RELOAD);
	assert_int_equal(f->verbs[3], CTL_STOP);
	assert_int_equal(ctl_nclients(f->ctl), 1);
	assert_false(t->eof);
	tc_close(t);
}

static int want_req;
static bool has_req(void *arg)
{
	return ((struct fx *)arg)->nreq >= want_req;
}

static void wait_req(struct fx *f, int n)
{
	want_req = n;
	run_until(f, has_req, f, WAIT_MS);
}

static void test_deferred_reply(void **state)
{
	struct fx *f = *state;
	f->mode = DEFER;
	struct tclient *t = tc_open(f);
	tc_send(t, "reload\n", 7);
	wait_req(f, 1);
	run_for(f, 30);
	assert_int_equal(t->nresp, 0); /* nothing until the owner answers */
	struct ctl_client *c = f->held[0];
	assert_true(ctl_client_alive(c));
	assert_true(ctl_client_id(c) > 0);
	/* answered from outside any ctl callback, as run.c does when the generation is ready */
	assert_int_equal(
		ctl_reply(c, false, "generation 3 exited with status 1 before it was ready"), 0);
	assert_int_equal(ctl_reply(c, true, "again"), -EALREADY);
	expect_resp(t, 0, CTL_RESP_ERROR, "generation 3 exited with status 1 before it was ready");
	/* the connection takes the next request */
	tc_send(t, "status\n", 7);
	wait_req(f, 2);
	assert_int_equal(ctl_reply_body(f->held[1], "ok\n"), 0);
	expect_resp(t, 1, CTL_RESP_BODY, "ok\n");
	tc_close(t);
}

static bool no_clients(void *arg)
{
	return ctl_nclients(((struct fx *)arg)->ctl) == 0;
}

static void test_client_gone_before_reply(void **state)
{
	struct fx *f = *state;
	f->mode = DEFER;
	struct tclient *t = tc_open(f);
	tc_send(t, "reload\n", 7);
	wait_req(f, 1);
	struct ctl_client *c = f->held[0];
	tc_close(t); /* the user pressed Ctrl-C */
	run_until(f, no_clients, f, WAIT_MS);
	assert_false(ctl_client_alive(c));
	assert_int_equal(ctl_reply(c, true, "generation 2 serving"), -ENOTCONN);
	assert_int_equal(ctl_reply_body(c, "x"), -ENOTCONN);
	/* teardown drops the reference: ASan checks nothing leaks or is used after free */
}

static void test_pipelined_and_half_close(void **state)
{
	struct fx *f = *state;
	f->mode = DEFER;
	struct tclient *t = tc_open(f);
	/* two requests at once, the second without LF, then EOF: like printf | socat */
	tc_send(t, "status json\nstop", 16);
	assert_int_equal(shutdown(t->fd, SHUT_WR), 0);
	wait_req(f, 1);
	run_for(f, 20);
	assert_int_equal(f->nreq, 1); /* one at a time */
	assert_int_equal(ctl_reply_body(f->held[0], "{}\n"), 0);
	expect_resp(t, 0, CTL_RESP_BODY, "{}\n");
	wait_req(f, 2);
	assert_int_equal(f->verbs[1], CTL_STOP);
	assert_false(t->eof);
	assert_int_equal(ctl_reply(f->held[1], true, "stopping"), 0);
	expect_resp(t, 1, CTL_RESP_OK, "stopping");
	run_until(f, is_eof, t, WAIT_MS); /* then the server closes */
	assert_int_equal(t->nresp, 2);
	run_until(f, no_clients, f, WAIT_MS);
	tc_close(t);
}

static void bad_request(struct fx *f, const char *req, size_t n, const char *why)
{
	struct tclient *t = tc_open(f);
	tc_send(t, req, n);
	wait_resp(t, 1);
	assert_int_equal(t->resp[0].kind, CTL_RESP_ERROR);
	if (!strstr(t->resp[0].text, why))
		fail_msg("'%s' does not contain '%s'", t->resp[0].text, why);
	run_until(f, is_eof, t, WAIT_MS);
	assert_int_equal(t->nresp, 1);
	tc_close(t);
}

/* A client pipelines 10,000 status requests and reads nothing: once about 64 KiB of replies wait
 * for it, baton reads no more of its requests (it does not queue 10 MB of replies), another
 * client is still served, and when the first one reads, every request is answered in order. */
static void test_pipelining_reader_bounded(void **state)
{
	struct fx *f = *state;
	f->mode = FLOOD;
	const int n = 10000;
	int fd = ctl_connect(f->sock, 1000);
	assert_true(fd >= 0);
	struct buf req = BUF_INIT;
	for (int i = 0; i < n; i++)
		buf_puts(&req, "status\n");
	size_t off = 0;
	int64_t deadline = now_ms() + 4 * WAIT_MS;
	/* send what the sockets take; stop when everything is sent or the server stopped
	 * reading (nothing left for the loop to do: no event, no timer) */
	for (;;) {
		assert_true(now_ms() < deadline);
		while (off < req.len) {
			ssize_t k =
				send(fd, req.p + off, req.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k < 0) {
				assert_true(errno == EAGAIN);
				break;
			}
			off += (size_t)k;
		}
		if (loop_run_once(f->l, 0) == 0)
			break;
	}
	/* a reply is 1 KiB: 64 KiB queued plus what the socket buffers hold, not 10,000 */
	assert_true(f->nflood < n / 4);

	struct tclient *other = tc_open(f);
	tc_send(other, "hello 1\n", 8);
	expect_resp(other, 0, CTL_RESP_OK, "protocol 1");
	tc_close(other);

	/* now read: everything is answered, and the rest of the requests go out meanwhile */
	struct ctlproto_respdec dec;
	ctlproto_respdec_init(&dec);
	int got = 0;
	char rb[65536];
	while (got < n) {
		assert_true(now_ms() < deadline);
		while (off < req.len) {
			ssize_t k =
				send(fd, req.p + off, req.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k < 0)
				break;
			off += (size_t)k;
		}
		ssize_t r = recv(fd, rb, sizeof(rb), MSG_DONTWAIT);
		if (r < 0) {
			assert_true(errno == EAGAIN);
			assert_true(loop_run_once(f->l, 100) >= 0);
			continue;
		}
		assert_true(r > 0);
		for (size_t o = 0; o < (size_t)r;) {
			struct ctl_response resp;
			size_t used;
			int k = ctlproto_respdec_feed(&dec, rb + o, (size_t)r - o, &used, &resp);
			assert_true(k >= 0);
			o += used;
			if (k > 0) {
				assert_int_equal(resp.kind, CTL_RESP_BODY);
				assert_int_equal(strlen(resp.text), 1024);
				free(resp.text);
				got++;
			}
		}
	}
	assert_int_equal(f->nflood, n);
	ctlproto_respdec_release(&dec);
	buf_release(&req);
	close(fd);
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	bad_request(f, "relaod\n", 7, "unknown command 'relaod'");
	bad_request(f, "stop now\nstop\n", 14, "'stop' takes no argument");
	bad_request(f, "st\0op\n", 6, "NUL byte");
	bad_request(f, "\xff\xfe\n", 3, "not valid UTF-8");
	char big[CTLPROTO_REQUEST_MAX + 100];
	memset(big, 'a', sizeof(big)); /* no LF at all: refused as soon as it is too long */
	bad_request(f, big, sizeof(big), "longer than 512 bytes");
	assert_int_equal(f->nreq, 0);
	run_until(f, no_clients, f, WAIT_MS);
}

static void test_idle_timeout(void **state)
{
	struct fx *f = *state;
	ctl_set_limits(f->ctl, 0, 100);
	struct tclient *t = tc_open(f);
	struct tclient *slow = tc_open(f);
	tc_send(slow, "sta", 3); /* bytes without a complete request do not reset the deadline */
	int64_t t0 = now_ms();
	run_until(f, is_eof, t, WAIT_MS);
	run_until(f, is_eof, slow, WAIT_MS);
	assert_true(now_ms() - t0 >= 90);
	assert_int_equal(t->nresp, 1);
	assert_int_equal(t->resp[0].kind, CTL_RESP_ERROR);
	assert_string_equal(t->resp[0].text, "idle timeout");
	assert_int_equal(slow->nresp, 1);
	assert_int_equal(ctl_nclients(f->ctl), 0);
	tc_close(t);
	tc_close(slow);

	/* a pending request is not subject to the idle timeout */
	f->mode = DEFER;
	t = tc_open(f);
	tc_send(t, "reload\n", 7);
	wait_req(f, 1);
	run_for(f, 250);
	assert_false(t->eof);
	assert_int_equal(ctl_reply(f->held[0], true, "done"), 0);
	expect_resp(t, 0, CTL_RESP_OK, "done");
	run_until(f, is_eof, t, WAIT_MS); /* and the deadline restarts after the answer */
	assert_int_equal(t->nresp, 2);
	assert_string_equal(t->resp[1].text, "idle timeout");
	tc_close(t);
}

static bool two_clients(void *arg)
{
	return ctl_nclients(((struct fx *)arg)->ctl) == 2;
}

static void test_max_clients(void **state)
{
	struct fx *f = *state;
	ctl_set_limits(f->ctl, 2, 0);
	struct tclient *a = tc_open(f);
	struct tclient *b = tc_open(f);
	run_until(f, two_clients, f, WAIT_MS);
	struct tclient *c = tc_open(f);
	run_until(f, is_eof, c, WAIT_MS);
	assert_int_equal(c->nresp, 1);
	assert_string_equal(c->resp[0].text, "too many clients");
	assert_int_equal(ctl_nclients(f->ctl), 2);
	tc_send(a, "reload\n", 7);
	expect_resp(a, 0, CTL_RESP_OK, "generation 2 serving");
	tc_close(a);
	tc_close(b);
	tc_close(c);
	run_until(f, no_clients, f, WAIT_MS);
	struct tclient *d = tc_open(f); /* room again */
	tc_send(d, "stop\n", 5);
	expect_resp(d, 0, CTL_RESP_OK, "stopping");
	tc_close(d);
}

static void test_modes(void **state)
{
	struct fx *f = *state;
	struct stat st;
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	char *dir = xasprintf("%s/run", f->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700); /* created for us */
	free(dir);

	/* whatever the umask, the socket is 0600 and the umask is restored */
	struct loop *l = loop_new();
	mode_t old = umask(0);
	char *err = NULL;
	struct ctl *c = ctl_new(l, f->dir, "other/deeper/x.sock", on_request, f, &err);
	assert_non_null(c);
	assert_int_equal(umask(old), 0);
	assert_int_equal(lstat(ctl_path(c), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	ctl_free(c);
	assert_int_equal(lstat(ctl_path(f->ctl), &st), 0); /* the fixture's is untouched */
	loop_free(l);
}

/* The socket's directory: writable by its group or everyone without the sticky bit, or owned by
 * another user (not root) -> refused with a clear error; a sticky world-writable one (/tmp)
 * and our own 0700 one are fine. */
static void test_unsafe_dir_refused(void **state)
{
	struct fx *f = *state;
	struct loop *l = loop_new();
	struct {
		const char *name;
		mode_t mode;
		bool other_owner;
		const char *why; /* NULL: accepted */
	} cases[] = {
		{"gw", 0770, false, "is writable by its group (mode 0770) and not sticky"},
		{"ww", 0777, false, "is writable by everyone (mode 0777) and not sticky"},
		{"sticky", 01777, false, NULL},
		{"mine", 0700, false, NULL},
		{"theirs", 0755, true, "belongs to uid 65534"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].other_owner && geteuid() != 0)
			continue; /* only root can give a directory away */
		char *dir = xasprintf("%s/%s", f->dir, cases[i].name);
		assert_int_equal(mkdir(dir, 0700), 0);
		assert_int_equal(chmod(dir, cases[i].mode), 0);
		if (cases[i].other_owner)
			assert_int_equal(chown(dir, 65534, 65534), 0);
		char *rel = xasprintf("%s/x.sock", cases[i].name);
		char *err = NULL;
		struct ctl *c = ctl_new(l, f->dir, rel, on_request, f, &err);
		if (cases[i].why) {
			assert_null(c);
			assert_non_null(err);
			if (!strstr(err, cases[i].why))
				fail_msg("%s: %s", cases[i].name, err);
			char *sock = xasprintf("%s/x.sock", dir);
			assert_int_equal(access(sock, F_OK), -1); /* nothing was created */
			free(sock);
		} else {
			if (!c)
				fail_msg("%s: %s", cases[i].name, err);
			struct stat st;
			assert_int_equal(lstat(ctl_path(c), &st), 0);
			assert_int_equal(st.st_mode & 07777, 0600);
			ctl_free(c);
		}
		free(err);
		free(rel);
		free(dir);
	}
	loop_free(l);
}

static void test_live_socket_refused(void **state)
{
	struct fx *f = *state;
	struct loop *l = loop_new();
	char *err = NULL;
	errno = 0;
	struct ctl *c = ctl_new(l, f->dir, "run/baton.sock", on_request, f, &err);
	assert_null(c);
	assert_int_equal(errno, EADDRINUSE);
	assert_string_equal(err, "another baton is running on run/baton.sock");
	free(err);
	/* absolute path, same socket: same answer */
	c = ctl_new(l, "/nonexistent", f->sock, on_request, f, NULL);
	assert_null(c);
	assert_int_equal(errno, EADDRINUSE);
	loop_free(l);
	/* the running one still works and still has its socket */
	struct tclient *t = tc_open(f);
	tc_send(t, "reload\n", 7);
	expect_resp(t, 0, CTL_RESP_OK, "generation 2 serving");
	tc_close(t);
}

static void test_stale_socket_replaced(void **state)
{
	struct fx *f = *state;
	/* a socket file nobody listens on, as a killed baton leaves behind */
	char *path = xasprintf("%s/stale.sock", f->dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(ctl_connect(path, 0), -ECONNREFUSED);

	struct loop *l = loop_new();
	char *err = NULL;
	struct ctl *c = ctl_new(l, f->dir, "stale.sock", on_request, f, &err);
	if (!c)
		fail_msg("stale socket not replaced: %s", err);
	int cfd = ctl_connect(path, 1000);
	assert_true(cfd >= 0);
	assert_true(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(cfd, F_GETFL) & O_NONBLOCK);
	close(cfd);
	ctl_free(c);
	struct stat st;
	assert_int_equal(lstat(path, &st), -1); /* ours, so unlinked */
	assert_int_equal(errno, ENOENT);

	/* a path that is not a socket is never removed */
	FILE *fp = fopen(path, "w");
	fputs("precious\n", fp);
	fclose(fp);
	c = ctl_new(l, f->dir, "stale.sock", on_request, f, &err);
	assert_null(c);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "stale.sock exists and is not a socket"));
	free(err);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	loop_free(l);
	free(path);
}

static void test_free_unlinks_only_its_own(void **state)
{
	struct fx *f = *state;
	/* someone replaced our socket file: ctl_free must not remove theirs */
	assert_int_equal(unlink(f->sock), 0);
	FILE *fp = fopen(f->sock, "w");
	fclose(fp);
	ctl_free(f->ctl);
	f->ctl = NULL;
	struct stat st;
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_free_with_clients(void **state)
{
	struct fx *f = *state;
	f->mode = DEFER;
	struct tclient *a = tc_open(f);
	struct tclient *b = tc_open(f);
	tc_send(a, "reload\n", 7);
	wait_req(f, 1);
	run_until(f, two_clients, f, WAIT_MS);
	struct ctl_client *c = f->held[0];
	ctl_free(f->ctl);
	f->ctl = NULL;
	assert_false(ctl_client_alive(c));
	assert_int_equal(ctl_reply(c, true, "late"), -ENOTCONN);
	run_until(f, is_eof, a, WAIT_MS);
	run_until(f, is_eof, b, WAIT_MS);
	assert_int_equal(a->nresp, 0);
	struct stat st;
	assert_int_equal(lstat(f->sock, &st), -1);
	assert_int_equal(ctl_connect(f->sock, 0), -ENOENT);
	tc_close(a);
	tc_close(b);
}

static void test_free_inside_callback(void **state)
{
	struct fx *f = *state;
	f->free_on_stop = true;
	struct tclient *t = tc_open(f);
	tc_send(t, "stop\nreload\n", 12);
	run_until(f, is_eof, t, WAIT_MS);
	assert_null(f->ctl);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(t->nresp, 1); /* the answer queued before ctl_free still went out */
	assert_string_equal(t->resp[0].text, "stopping");
	tc_close(t);
}

static void test_long_path(void **state)
{
	struct fx *f = *state;
	/* deeper than sun_path allows: bind and connect go through the directory */
	struct buf rel = BUF_INIT;
	for (int i = 0; i < 8; i++)
		buf_puts(&rel, "a-directory-name-long-enough/");
	buf_puts(&rel, "baton.sock");
	struct loop *l = loop_new();
	char *err = NULL;
	struct ctl *c = ctl_new(l, f->dir, buf_cstr(&rel), on_request, f, &err);
	if (!c)
		fail_msg("long path: %s", err);
	assert_true(strlen(ctl_path(c)) > sizeof(((struct sockaddr_un *)0)->sun_path));
	int fd = ctl_connect(ctl_path(c), 1000);
	assert_true(fd >= 0);
	close(fd);
	struct stat st;
	assert_int_equal(lstat(ctl_path(c), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* a second one on the same long path is refused like any live socket */
	assert_null(ctl_new(l, f->dir, buf_cstr(&rel), on_request, f, NULL));
	assert_int_equal(errno, EADDRINUSE);
	ctl_free(c);
	loop_free(l);
	buf_release(&rel);
}

static void test_peer_allowed(void **state)
{
	(void)state;
	assert_true(ctl_peer_allowed(1000, 1000));
	assert_true(ctl_peer_allowed(0, 1000));
	assert_true(ctl_peer_allowed(0, 0));
	assert_false(ctl_peer_allowed(1001, 1000));
	assert_false(ctl_peer_allowed(1000, 0));
	assert_false(ctl_peer_allowed(65534, 1000));
}

struct child_result {
	struct buf out;
	bool eof;
};

static void on_child_pipe(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct child_result *r = data;
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		buf_append(&r->out, buf, (size_t)n);
		return;
	}
	if (n < 0 && errno == EINTR)
		return;
	r->eof = true;
	(void)l;
}

static bool child_done(void *arg)
{
	return ((struct child_result *)arg)->eof;
}

static void test_peer_denied(void **state)
{
	struct fx *f = *state;
	if (geteuid() != 0)
		skip(); /* needs a second uid; the rule itself is test_peer_allowed */
	/* let uid 65534 reach the socket, so that only SO_PEERCRED stands in the way */
	assert_int_equal(chmod(f->dir, 0711), 0);
	char *run = xasprintf("%s/run", f->dir);
	assert_int_equal(chmod(run, 0711), 0);
	free(run);
	assert_int_equal(chmod(f->sock, 0666), 0);

	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->sock);
		struct timeval tv = {.tv_sec = 5};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			dprintf(p[1], "connect: %s", strerror(errno));
			_exit(1);
		}
		(void)!send(fd, "stop\n", 5, MSG_NOSIGNAL);
		char buf[256];
		ssize_t n, total = 0;
		while ((n = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
			total += n;
		(void)!write(p[1], buf, (size_t)total);
		_exit(0);
	}
	close(p[1]);
	struct child_result r = {BUF_INIT, false};
	struct loop_src *src = loop_add(f->l, p[0], EPOLLIN, on_child_pipe, &r);
	run_until(f, child_done, &r, WAIT_MS);
	loop_del(f->l, src);
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(buf_cstr(&r.out), "error permission denied\n");
	assert_int_equal(f->nreq, 0); /* the owner never heard of it */
	assert_int_equal(ctl_nclients(f->ctl), 0);
	buf_release(&r.out);
}

static void test_socket_path(void **state)
{
	(void)state;
	char *p = ctl_socket_path("/srv/app", ".baton/baton.sock");
	assert_string_equal(p, "/srv/app/.baton/baton.sock");
	free(p);
	p = ctl_socket_path("/srv/app/", "x.sock");
	assert_string_equal(p, "/srv/app/x.sock");
	free(p);
	p = ctl_socket_path("/srv/app", "/run/baton.sock");
	assert_string_equal(p, "/run/baton.sock");
	free(p);
	assert_int_equal(ctl_connect("/nonexistent/dir/x.sock", 100), -ENOENT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		T(test_request_response),
		T(test_deferred_reply),
		T(test_client_gone_before_reply),
		T(test_pipelined_and_half_close),
		T(test_pipelining_reader_bounded),
		T(test_unsafe_dir_refused),
		T(test_bad_requests),
		T(test_idle_timeout),
		T(test_max_clients),
		T(test_modes),
		T(test_live_socket_refused),
		T(test_stale_socket_replaced),
		T(test_free_unlinks_only_its_own),
		T(test_free_with_clients),
		T(test_free_inside_callback),
		T(test_long_path),
		T(test_peer_denied),
		cmocka_unit_test(test_peer_allowed),
		cmocka_unit_test(test_socket_path),
	};
	/* clang-format on */
	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
