/* Unit tests for the notify module (parser, receiver, sender) and proc.h ancestry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/loop.h"
#include "net/notify.h"
#include "proc/proc.h"
#include "util/timeutil.h"

#include "testutil.h"

static int parse(const char *s, struct notify_msg *m)
{
	return notify_parse(s, strlen(s), m);
}

static void test_parse_good(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(parse("READY=1", &m), 0);
	assert_true(m.ready);
	assert_false(m.stopping);
	assert_int_equal(m.n_fields, 1);

	assert_int_equal(parse("RELOADING=1\nMONOTONIC_USEC=123456789\n", &m), 0);
	assert_true(m.reloading);
	assert_true(m.has_monotonic);
	assert_true(m.monotonic_usec == 123456789ULL);

	assert_int_equal(parse("STATUS=serving 3 requests\tok\nMAINPID=4242\nERRNO=2\n"
			       "EXTEND_TIMEOUT_USEC=18446744073709551615\nSTOPPING=1\nWATCHDOG=1\n"
			       "BARRIER=1",
			       &m),
			 0);
	assert_true(m.has_status);
	assert_int_equal(m.status_len, strlen("serving 3 requests\tok"));
	assert_memory_equal(m.status, "serving 3 requests\tok", m.status_len);
	assert_true(m.has_mainpid && m.mainpid == 4242);
	assert_true(m.has_errno && m.errno_value == 2);
	assert_true(m.has_extend && m.extend_timeout_usec == UINT64_MAX);
	assert_true(m.stopping && m.watchdog && m.barrier);
	assert_int_equal(m.n_invalid, 0);

	assert_int_equal(parse("WATCHDOG=trigger", &m), 0);
	assert_true(m.watchdog_trigger);
	assert_false(m.watchdog);

	/* UTF-8 status, empty status, later duplicates win */
	assert_int_equal(parse("STATUS=héllo ✓\nSTATUS=", &m), 0);
	assert_true(m.has_status);
	assert_int_equal(m.status_len, 0);
	assert_int_equal(parse("STATUS=héllo ✓", &m), 0);
	assert_int_equal(m.status_len, strlen("héllo ✓"));

	/* unknown keys and lines without '=' are ignored, not fatal */
	assert_int_equal(parse("X_APP=1\nFDNAME=x\nhello\n\n\nREADY=1\n", &m), 0);
	assert_true(m.ready);
	assert_int_equal(m.n_ignored, 2);
}

static void test_parse_fdstore(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(parse("FDSTORE=1\nFDNAME=counter\nFDPOLL=0", &m), 0);
	assert_true(m.fdstore && !m.fdstore_remove && m.has_fdname && m.has_fdpoll && !m.fdpoll);
	assert_int_equal(m.fdname_len, 7);
	assert_memory_equal(m.fdname, "counter", 7);
	assert_int_equal(m.n_fields, 3);

	assert_int_equal(parse("FDSTOREREMOVE=1\nFDNAME=db conn #2", &m), 0);
	assert_true(m.fdstore_remove && !m.fdstore && m.has_fdname);
	assert_int_equal(m.fdname_len, strlen("db conn #2"));

	/* names: 1..255 printable ASCII, no ':' (LISTEN_FDNAMES' separator); a bad one leaves
	 * no name (the fds are stored as "stored"), a bad flag no flag */
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	assert_true(notify_fdname_valid(longname, 255));
	assert_false(notify_fdname_valid(longname, 256));
	assert_false(notify_fdname_valid("", 0));
	assert_false(notify_fdname_valid("a:b", 3));
	assert_false(notify_fdname_valid("a\tb", 3));
	assert_false(notify_fdname_valid("h\xc3\xa9", 3));
	assert_int_equal(parse("FDSTORE=1\nFDNAME=a:b", &m), 0);
	assert_true(m.fdstore && !m.has_fdname);
	assert_int_equal(m.n_invalid, 1);
	assert_int_equal(parse("FDNAME=good\nFDNAME=", &m), 0);
	assert_false(m.has_fdname);
	assert_int_equal(parse("FDSTORE=yes\nFDSTOREREMOVE=2\nFDPOLL=maybe", &m), 0);
	assert_false(m.fdstore || m.fdstore_remove || m.has_fdpoll);
	assert_int_equal(m.n_invalid, 3);
}

static void test_parse_garbage(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(notify_parse("", 0, &m), -ENODATA);
	assert_int_equal(notify_parse("READY=1\0STOPPING=1", 18, &m), -EINVAL);
	assert_false(m.ready);
	assert_int_equal(parse("STATUS=\xff\xfe", &m), -EILSEQ);
	assert_int_equal(parse("STATUS=\xc0\xaf", &m), -EILSEQ);     /* overlong '/' */
	assert_int_equal(parse("STATUS=\xed\xa0\x80", &m), -EILSEQ); /* surrogate */
	assert_int_equal(parse("STATUS=\xe2\x9c", &m), -EILSEQ);     /* truncated */
	char big[NOTIFY_MAX + 2];
	memset(big, 'a', sizeof(big));
	memcpy(big, "STATUS=", 7);
	assert_int_equal(notify_parse(big, NOTIFY_MAX + 1, &m), -EMSGSIZE);
	assert_int_equal(notify_parse(big, NOTIFY_MAX, &m), 0);
	assert_int_equal(m.status_len, NOTIFY_MAX - 7);

	/* bad values: the field stays unset */
	assert_int_equal(
		parse("READY=2\nREADY=\nREADY=1 \nMAINPID=0\nMAINPID=-1\nMAINPID=99999999999\n"
		      "MAINPID=12a\nMONOTONIC_USEC=18446744073709551616\nMONOTONIC_USEC=\n"
		      "ERRNO=+1\nEXTEND_TIMEOUT_USEC= 5\nSTATUS=\x1b[31mred\nWATCHDOG=0",
		      &m),
		0);
	assert_false(m.ready);
	assert_false(m.has_mainpid);
	assert_false(m.has_monotonic);
	assert_false(m.has_errno);
	assert_false(m.has_extend);
	assert_false(m.has_status);
	assert_false(m.watchdog);
	assert_int_equal(m.n_invalid, 13);
	assert_int_equal(m.n_fields, 0);

	/* keys are case-sensitive and exact */
	assert_int_equal(parse("ready=1\nREADY1=1\n=1\nREADY =1", &m), 0);
	assert_false(m.ready);
	assert_int_equal(m.n_ignored, 4);
}

/* ---- proc ---- */

static void test_proc_stat_parse(void **state)
{
	(void)state;
	pid_t pp = 0;
	const char *s = "123 (a) b) c (x) S 77 123 123 0 -1\n";
	assert_int_equal(proc_parse_stat_ppid(s, strlen(s), &pp), 0);
	assert_int_equal(pp, 77);
	assert_int_equal(proc_parse_stat_ppid("123 (x) S", 9, &pp), -EINVAL);
	assert_int_equal(proc_parse_stat_ppid("123 x S 1", 9, &pp), -EINVAL);
	assert_int_equal(proc_parse_stat_ppid("1 (x) S -1 ", 11, &pp), -EINVAL);
	assert_int_equal(proc_ppid(getpid(), &pp), 0);
	assert_int_equal(pp, getppid());
	assert_int_equal(proc_ppid(0, &pp), -EINVAL);
}

static void test_proc_descendants(void **state)
{
	(void)state;
	int rep[2], rel[2]; /* report the grandchild's pid; release everyone (close) */
	assert_int_equal(pipe(rep), 0);
	assert_int_equal(pipe(rel), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		close(rep[0]);
		close(rel[1]);
		pid_t g = fork();
		if (g == 0) {
			char b;
			close(rep[1]);
			(void)!read(rel[0], &b, 1);
			_exit(0);
		}
		(void)!write(rep[1], &g, sizeof(g));
		close(rep[1]);
		char b;
		(void)!read(rel[0], &b, 1);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	close(rep[1]);
	close(rel[0]);
	pid_t g;
	assert_int_equal(read(rep[0], &g, sizeof(g)), (ssize_t)sizeof(g));
	close(rep[0]);
	assert_true(proc_is_descendant(g, getpid()));
	assert_true(proc_is_descendant(g, kid));
	assert_true(proc_is_descendant(kid, kid));
	assert_false(proc_is_descendant(kid, g));
	assert_false(proc_is_descendant(getpid(), kid));
	assert_false(proc_is_descendant(-1, kid));
	pid_t *kids;
	size_t n;
	assert_int_equal(proc_children(getpid(), &kids, &n), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		found |= kids[i] == kid;
		assert_true(kids[i] != g);
	}
	assert_true(found);
	free(kids);
	close(rel[1]);
	assert_int_equal(waitpid(kid, NULL, 0), kid);
}

/* ---- receiver ---- */

struct rx {
	int count;
	pid_t pid;
	bool ready;
	char status[64];
	struct notify *n;
	bool free_in_cb;
};

static void on_msg(pid_t pid, const struct notify_msg *m, int *fds, size_t nfds, void *data)
{
	(void)fds;
	(void)nfds;
	struct rx *rx = data;
	rx->count++;
	rx->pid = pid;
	rx->ready = m->ready;
	if (m->has_status)
		snprintf(rx->status, sizeof(rx->status), "%.*s", (int)m->status_len, m->status);
	if (rx->free_in_cb) {
		notify_free(rx->n);
		rx->n = NULL;
	}
}

struct rx_want {
	struct rx *rx;
	int want;
};

static bool rx_has(void *arg)
{
	const struct rx_want *w = arg;
	return w->rx->count >= w->want;
}

static void run_until_count(struct loop *l, struct rx *rx, int want)
{
	tu_run_until(l, rx_has, &(struct rx_want){rx, want}, 5000, "the datagrams");
}

static pid_t send_from_child(const char *sock, const char *msg)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(notify_send_to(sock, msg) == 1 ? 0 : 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return pid;
}

static void test_roundtrip_abstract(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct rx rx = {0};
	struct notify *n = notify_new(l, NULL, on_msg, &rx);
	assert_non_null(n);
	const char *name = notify_socket_path(n);
	assert_true(name[0] == '@' && strlen(name) > 1);

	pid_t kid = send_from_child(name, "READY=1\nSTATUS=up and running\n");
	run_until_count(l, &rx, 1);
	assert_int_equal(rx.pid, kid); /* SO_PASSCRED: the kernel's word, not the sender's */
	assert_true(rx.ready);
	assert_string_equal(rx.status, "up and running");

	/* garbage is dropped, the receiver keeps working */
	send_from_child(name, "STATUS=\xff");
	send_from_child(name, "READY=1\nSTATUS=after garbage");
	run_until_count(l, &rx, 2);
	assert_string_equal(rx.status, "after garbage");

	/* through $NOTIFY_SOCKET */
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("STATUS=via env"), 1);
	run_until_count(l, &rx, 3);
	assert_int_equal(rx.pid, getpid());
	assert_string_equal(rx.status, "via env");
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1"), 0);
	assert_int_equal(notify_send_to("relative", "READY=1"), -EAFNOSUPPORT);

	notify_free(n);
	loop_free(l);
}

static void test_passed_fds_closed(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct rx rx = {0};
	struct notify *n = notify_new(l, NULL, on_msg, &rx);
	assert_non_null(n);
	const char *name = notify_socket_path(n);
	int before = tu_count_fds();

	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	int p[2];
	assert_int_equal(pipe(p), 0);
	char msg[] = "FDSTORE=1\nREADY=1";
	struct iovec iov = {.iov_base = msg, .iov_len = strlen(msg)};
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr mh = {.msg_name = &sa,
			    .msg_namelen = alen,
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), p, sizeof(p));
	assert_int_equal(sendmsg(s, &mh, 0), (ssize_t)strlen(msg));
	close(s);
	close(p[0]);
	close(p[1]);
	int sent = tu_count_fds();
	assert_int_equal(sent, before);
	run_until_count(l, &rx, 1);
	assert_true(rx.ready);
	assert_int_equal(tu_count_fds(), before); /* the two passed fds were closed */

	/* an oversized datagram is dropped */
	char big[NOTIFY_MAX + 100];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "STATUS=", 7);
	assert_int_equal(notify_send_to(name, big), 1);
	send_from_child(name, "STATUS=small");
	run_until_count(l, &rx, 2);
	assert_string_equal(rx.status, "small");
	assert_int_equal(rx.count, 2);

	notify_free(n);
	loop_free(l);
}

static void test_path_socket_and_free_in_callback(void **state)
{
	(void)state;
	char dir[] = "/tmp/baton-notify-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", dir);

	/* a stale socket file (bound, then closed) is replaced */
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);

	struct loop *l = loop_new();
	struct rx rx = {.free_in_cb = true};
	rx.n = notify_new(l, path, on_msg, &rx);
	assert_non_null(rx.n);
	assert_string_equal(notify_socket_path(rx.n), path);

	/* a live one is not stolen */
	struct rx rx2 = {0};
	errno = 0;
	assert_null(notify_new(l, path, on_msg, &rx2));
	assert_int_equal(errno, EADDRINUSE);

	/* two datagrams queued; the first callback frees the receiver */
	send_from_child(path, "READY=1");
	send_from_child(path, "STATUS=second");
	run_until_count(l, &rx, 1);
	assert_null(rx.n);
	assert_int_equal(loop_run_once(l, 50), 0);
	assert_int_equal(rx.count, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), -1); /* unlinked by notify_free */
	loop_free(l);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_parse_fdstore),
		cmocka_unit_test(test_proc_stat_parse),
		cmocka_unit_test(test_proc_descendants),
		cmocka_unit_test(test_roundtrip_abstract),
		cmocka_unit_test(test_passed_fds_closed),
		cmocka_unit_test(test_path_socket_and_free_in_callback),
	};
	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
