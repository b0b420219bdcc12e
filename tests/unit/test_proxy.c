/* Unit tests for http/proxy: the front against backends that are small HTTP servers on unix
 * sockets (threads), with clients in threads using blocking sockets; the proxy runs in this
 * thread's loop. Covers keep-alive across a backend switch, pipelining, bodies both ways,
 * 100-continue, HEAD, the limits, forwarding fields, the pool check, retries, draining,
 * weights, tunnels, the dev error page and live reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/loop.h"
#include "http/proxy.h"
#include "tls/tlsfront.h"
#include "testutil.h"
#include "tlsfixture.h"

/* ---- backends ---- */

struct srv {
	char path[108];
	int fd;
	int id;
	atomic_int conns, reqs;
	atomic_int close_idle; /* close each connection after one response */
	atomic_int drop;       /* read each request whole, then close without an answer */
	atomic_int closed;     /* connections it closed */
	pthread_t th;
};

static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);
		if (r <= 0)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return (ssize_t)n;
}

static bool read_full(int fd, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

struct sconn {
	struct srv *s;
	int fd;
};

/* One connection: requests until the client closes. */
static void *serve_conn(void *arg)
{
	struct sconn *sc = arg;
	struct srv *s = sc->s;
	int fd = sc->fd;
	free(sc);
	char line[8192], method[16], path[256], xff[128], proto[16], body[8192];
	for (;;) {
		if (read_line(fd, line, sizeof(line)) < 0)
			break;
		if (sscanf(line, "%15s %255s", method, path) != 2)
			break;
		size_t clen = 0;
		bool chunked = false, upgrade = false, expect = false;
		xff[0] = 0;
		proto[0] = 0;
		for (;;) {
			if (read_line(fd, line, sizeof(line)) < 0)
				goto out;
			if (!strcmp(line, "\r\n"))
				break;
			if (!strncasecmp(line, "Content-Length:", 15))
				clen = strtoul(line + 15, NULL, 10);
			if (!strncasecmp(line, "Transfer-Encoding: chunked", 26))
				chunked = true;
			if (!strncasecmp(line, "Upgrade:", 8))
				upgrade = true;
			if (!strncasecmp(line, "Expect: 100-continue", 20))
				expect = true;
			if (!strncasecmp(line, "X-Forwarded-Proto: ", 19))
				snprintf(proto, sizeof(proto), "%.*s",
					 (int)strcspn(line + 19, "\r"), line + 19);
			if (!strncasecmp(line, "X-Forwarded-For: ", 17))
				snprintf(xff, sizeof(xff), "%.*s", (int)strcspn(line + 17, "\r"),
					 line + 17);
		}
		atomic_fetch_add(&s->reqs, 1);
		if (expect)
			write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n",
				  strlen("HTTP/1.1 100 Continue\r\n\r\n"));
		size_t blen = 0;
		if (chunked) {
			for (;;) {
				if (read_line(fd, line, sizeof(line)) < 0)
					goto out;
				size_t n = strtoul(line, NULL, 16);
				if (!n) { /* trailers, then the empty line */
					while (read_line(fd, line, sizeof(line)) > 0 &&
					       strcmp(line, "\r\n"))
						;
					break;
				}
				if (blen + n > sizeof(body) || !read_full(fd, body + blen, n))
					goto out;
				blen += n;
				read_line(fd, line, sizeof(line));
			}
		} else if (clen) {
			if (clen > sizeof(body) || !read_full(fd, body, clen))
				goto out;
			blen = clen;
		}
		if (atomic_load(&s->drop))
			goto out;
		if (!strcmp(path, "/early")) /* 1xx before the final answer */
			write_all(fd, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
				  strlen("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"));
		char out[9000];
		int n = snprintf(out, sizeof(out), "id=%d m=%s p=%s xff=%s body=%.*s proto=%s",
				 s->id, method, path, xff, (int)blen, body, proto);
		char head[512];
		if (upgrade && !strcmp(path, "/ws")) {
			static const char sw[] =
				"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
				"Connection: Upgrade\r\n\r\n";
			write_all(fd, sw, sizeof(sw) - 1);
			char b[256];
			ssize_t r;
			while ((r = read(fd, b, sizeof(b))) > 0) {
				char tagged[300];
				int k = snprintf(tagged, sizeof(tagged), "%d:%.*s", s->id, (int)r,
						 b);
				write_all(fd, tagged, (size_t)k);
			}
			goto out;
		}
		if (!strcmp(path, "/chunked")) {
			int h = snprintf(head, sizeof(head),
					 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
					 "Content-Type: text/html\r\n\r\n%x\r\n",
					 n);
			write_all(fd, head, (size_t)h);
			write_all(fd, out, (size_t)n);
			write_all(fd, "\r\n0\r\n\r\n", strlen("\r\n0\r\n\r\n"));
		} else {
			const char *ct =
				!strcmp(path, "/html") ? "text/html; charset=utf-8" : "text/plain";
			int h = snprintf(
				head, sizeof(head),
				"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				!strcmp(path, "/500") ? "500 Oops" : "200 OK", ct, n);
			write_all(fd, head, (size_t)h);
			if (strcmp(method, "HEAD"))
				write_all(fd, out, (size_t)n);
		}
		if (atomic_load(&s->close_idle))
			break;
	}
out:
	close(fd);
	atomic_fetch_add(&s->closed, 1);
	return NULL;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		atomic_fetch_add(&s->conns, 1);
		struct sconn *sc = malloc(sizeof(*sc));
		sc->s = s;
		sc->fd = c;
		pthread_t t;
		pthread_create(&t, NULL, serve_conn, sc);
		pthread_detach(t);
	}
}

static void srv_start(struct srv *s, int id)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	snprintf(s->path, sizeof(s->path), "/tmp/baton-pxtest-%d-%d.sock", (int)getpid(), id);
	unlink(s->path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, s->path);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 64), 0);
	pthread_create(&s->th, NULL, srv_main, s);
}

/* Stops accepting (the listening socket is shut down); live connections end with the test. */
static void srv_stop(struct srv *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->fd);
	unlink(s->path);
}

static struct proxy_backend *add(struct proxy *p, struct srv *s, unsigned weight)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, s->path);
	struct proxy_backend *b =
		proxy_backend_add(p, (unsigned)s->id, (struct sockaddr *)&a, sizeof(a));
	assert_non_null(b);
	proxy_backend_set_weight(b, weight);
	return b;
}

/* ---- the front ---- */

struct fx {
	struct loop *l;
	struct proxy *p;
	int lfd;
	int port;
};

static void fx_init(struct fx *f, struct proxy_opts *o)
{
	memset(f, 0, sizeof(*f));
	signal(SIGPIPE, SIG_IGN);
	f->l = loop_new();
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 128), 0);
	socklen_t len = sizeof(a);
	getsockname(f->lfd, (struct sockaddr *)&a, &len);
	f->port = ntohs(a.sin_port);
	struct proxy_opts def = {.name = "test"};
	char *err = NULL;
	assert_int_equal(proxy_new(f->l, f->lfd, o ? o : &def, &f->p, &err), 0);
}

static void fx_fini(struct fx *f)
{
	proxy_free(f->p);
	close(f->lfd);
	loop_free(f->l);
}

/* ---- clients: a script of raw exchanges in a thread ---- */

typedef void (*client_fn)(struct fx *f, void *arg);
struct client {
	struct fx *f;
	client_fn fn;
	void *arg;
	atomic_int done;
	pthread_t th;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	c->fn(c->f, c->arg);
	atomic_store(&c->done, 1);
	return NULL;
}

static bool client_done(void *arg)
{
	return atomic_load(&((struct client *)arg)->done);
}

/* In a client thread: wait (yielding, never sleeping) until *v reaches at least want. */
static void wait_for(atomic_int *v, int want)
{
	int64_t deadline = now_ms() + 20000;
	while (atomic_load(v) < want) {
		if (now_ms() > deadline)
			fail_msg("timed out waiting in a client thread");
		sched_yield();
	}
}

/* Run the loop until pred holds. Client threads do not wake the loop, so it waits at most 5 ms
 * at a time and looks again. */
static void run_until(struct fx *f, tu_pred pred, void *arg, const char *what)
{
	int64_t deadline = now_ms() + 20000;
	while (!pred(arg)) {
		if (now_ms() > deadline)
			fail_msg("timed out waiting for %s", what);
		assert_true(loop_run_once(f->l, 5) >= 0);
	}
}

/* Run fn in a thread while the loop runs here, until it returns. */
static void run_client(struct fx *f, client_fn fn, void *arg)
{
	struct client c = {.f = f, .fn = fn, .arg = arg};
	pthread_create(&c.th, NULL, client_main, &c);
	run_until(f, client_done, &c, "the client");
	pthread_join(c.th, NULL);
}

static int dial(struct fx *f)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read one response: the head, and its body by Content-Length or chunks (decoded). Returns the
 * status, 0 at end of file or on a timeout; body gets the payload. */
static bool no_body; /* the next response answers a HEAD */

static int read_response(int fd, char *body, size_t cap, char *headers, size_t hcap)
{
	char line[8192];
	int status = 0;
	for (;;) {
		if (read_line(fd, line, sizeof(line)) < 0)
			return 0;
		if (sscanf(line, "HTTP/1.1 %d", &status) != 1)
			return 0;
		size_t clen = 0, hl = 0;
		bool chunked = false;
		if (headers)
			headers[0] = 0;
		for (;;) {
			if (read_line(fd, line, sizeof(line)) < 0)
				return 0;
			if (!strcmp(line, "\r\n"))
				break;
			if (headers && hl + strlen(line) < hcap) {
				strcpy(headers + hl, line);
				hl += strlen(line);
			}
			if (!strncasecmp(line, "Content-Length:", 15))
				clen = strtoul(line + 15, NULL, 10);
			if (!strncasecmp(line, "Transfer-Encoding: chunked", 26))
				chunked = true;
		}
		if (status < 200 && status != 101)
			continue; /* 1xx: the final one follows */
		size_t blen = 0;
		if (no_body) {
			no_body = false;
		} else if (chunked) {
			for (;;) {
				if (read_line(fd, line, sizeof(line)) < 0)
					return 0;
				size_t n = strtoul(line, NULL, 16);
				if (!n) { /* trailers, then the empty line */
					while (read_line(fd, line, sizeof(line)) > 0 &&
					       strcmp(line, "\r\n"))
						;
					break;
				}
				if (blen + n >= cap || !read_full(fd, body + blen, n))
					return 0;
				blen += n;
				read_line(fd, line, sizeof(line));
			}
		} else if (clen) {
			if (clen >= cap || !read_full(fd, body, clen))
				return 0;
			blen = clen;
		}
		body[blen] = 0;
		return status;
	}
}

static int get(int fd, const char *req, char *body, size_t cap)
{
	write_all(fd, req, strlen(req));
	return read_response(fd, body, cap, NULL, 0);
}

/* ---- tests ---- */

struct ka {
	struct srv *s1, *s2;
	struct proxy_backend **b1, **b2;
	struct proxy *p;
	int seen1, seen2;
	atomic_int phase;
};

static void ka_client(struct fx *f, void *arg)
{
	struct ka *k = arg;
	int fd = dial(f);
	char body[9000];
	for (int i = 0; i < 6; i++) {
		assert_int_equal(get(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)),
				 200);
		k->seen1 += strncmp(body, "id=1 ", 5) == 0;
		k->seen2 += strncmp(body, "id=2 ", 5) == 0;
		if (i == 2) { /* the supervisor switches generations while the connection lives */
			atomic_store(&k->phase, 1);
			wait_for(&k->phase, 2);
		}
	}
	/* a POST with a body, and a chunked one, on the same connection */
	assert_int_equal(get(fd, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
			     body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "m=POST p=/p xff=127.0.0.1 body=hello"));
	assert_int_equal(get(fd,
			     "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
			     body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "body=abcde"));
	/* a chunked response, HEAD, forwarded-for appended */
	assert_int_equal(get(fd, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "p=/chunked"));
	no_body = true;
	assert_int_equal(get(fd, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)), 200);
	assert_string_equal(body, "");
	assert_int_equal(get(fd,
			     "GET /x HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n"
			     "Connection: close\r\n\r\n",
			     body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "xff=10.0.0.1, 127.0.0.1"));
	char b;
	assert_int_equal(read(fd, &b, 1), 0); /* closed as asked */
	close(fd);
}

static bool phase1(void *arg)
{
	return atomic_load(&((struct ka *)arg)->phase) == 1;
}

static void test_keepalive_outlives_a_backend_switch(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL);
	struct srv s1, s2;
	srv_start(&s1, 1);
	srv_start(&s2, 2);
	struct proxy_backend *b1 = add(f.p, &s1, 1);
	struct ka k = {.s1 = &s1, .s2 = &s2, .p = f.p};
	struct client c = {.f = &f, .fn = ka_client, .arg = &k};
	pthread_create(&c.th, NULL, client_main, &c);
	run_until(&f, phase1, &k, "three requests");
	/* generation 2 takes over, 1 drains */
	struct proxy_backend *b2 = add(f.p, &s2, 1);
	proxy_backend_drain(b1, NULL, NULL);
	atomic_store(&k.phase, 2);
	run_until(&f, client_done, &c, "the client");
	pthread_join(c.th, NULL);
	assert_int_equal(k.seen1, 3);
	assert_int_equal(k.seen2, 3);
	struct proxy_backend_stats st;
	proxy_backend_get_stats(b2, &st);
	assert_int_equal(st.requests, 8);
	assert_int_equal(st.by_class[2], 8);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(atomic_load(&s2.conns), 1); /* one pooled backend connection */
	proxy_backend_remove(b1);
	proxy_backend_remove(b2);
	fx_fini(&f);
	srv_stop(&s1);
	srv_stop(&s2);
}

static void pipeline_client(struct fx *f, void *arg)
{
	(void)arg;
	int fd = dial(f);
	const char req[] = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
			   "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
			   "GET /3 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n";
	write_all(fd, req, sizeof(req) - 1);
	char body[9000];
	assert_int_equal(read_response(fd, body, sizeof(body), NULL, 0), 200);
	assert_non_null(strstr(body, "p=/1 "));
	assert_int_equal(read_response(fd, body, sizeof(body), NULL, 0), 200);
	assert_non_null(strstr(body, "p=/2 ") && strstr(body, "body=hi"));
	assert_int_equal(read_response(fd, body, sizeof(body), NULL, 0), 200);
	assert_non_null(strstr(body, "p=/3 "));
	close(fd);
}

static void test_pipelining_in_order(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL);
	struct srv s;
	srv_start(&s, 1);
	struct proxy_backend *b = add(f.p, &s, 1);
	run_client(&f, pipeline_client, NULL);
	proxy_backend_remove(b);
	fx_fini(&f);
	srv_stop(&s);
}

static void limits_client(struct fx *f, void *arg)
{
	(void)arg;
	char body[9000];
	int fd = dial(f);
	assert_int_equal(get(fd,
			     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n",
			     body, sizeof(body)),
			 400);
	close(fd);
	fd = dial(f);
	char big[2200];
	memset(big, 'a', sizeof(big));
	char req[2400];
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %.*s\r\n\r\n",
		 (int)sizeof(big), big);
	assert_int_equal(get(fd, req, body, sizeof(body)), 431);
	close(fd);
	fd = dial(f); /* a slow head: 408 */
	write_all(fd, "GET / HTTP/1.1\r\n", strlen("GET / HTTP/1.1\r\n"));
	assert_int_equal(read_response(fd, body, sizeof(body), NULL, 0), 408);
	close(fd);
	fd = dial(f);
	assert_int_equal(get(fd, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", body, sizeof(body)), 505);
	close(fd);
}

static void test_limits(void **state)
{
	(void)state;
	struct proxy_opts o = {.name = "t", .header_timeout_ms = 200, .max_header_size = 2048};
	struct fx f;
	fx_init(&f, &o);
	struct srv s;
	srv_start(&s, 1);
	struct proxy_backend *b = add(f.p, &s, 1);
	run_client(&f, limits_client, NULL);
	assert_int_equal(atomic_load(&s.reqs), 0);
	proxy_backend_remove(b);
	fx_fini(&f);
	srv_stop(&s);
}

static void closing_client(struct fx *f, void *arg)
{
	struct srv *s = arg;
	int closed0 = atomic_load(&s->closed);
	char body[9000];
	int fd = dial(f);
	for (int i = 0; i < 4; i++) {
		/* the backend closes each connection after its response: the pooled one must be
		 * found closed, never used */
		int st = get(fd, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz", body,
			     sizeof(body));
		if (st != 200)
			fprintf(stderr, "request %d: %d %s\n", i, st, body);
		assert_int_equal(st, 200);
		/* the backend closed the connection the front pooled (a unix socket: its end of
		 * file is there at once) */
		if (atomic_load(&s->close_idle))
			wait_for(&s->closed, closed0 + i + 1);
	}
	close(fd);
}

static void test_pool_check_and_retry(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL);
	struct srv s;
	srv_start(&s, 1);
	atomic_store(&s.close_idle, 1);
	struct proxy_backend *b = add(f.p, &s, 1);
	run_client(&f, closing_client, &s);
	assert_int_equal(atomic_load(&s.reqs), 4);
	assert_int_equal(atomic_load(&s.conns), 4); /* each on a fresh connection, none retried */
	struct proxy_backend_stats st0;
	proxy_backend_get_stats(b, &st0);
	assert_int_equal(st0.retries, 0);
	/* an idempotent request to a dead backend is retried once on another one */
	struct srv dead;
	srv_start(&dead, 9);
	struct proxy_backend *bd = add(f.p, &dead, 1000);
	srv_stop(&dead); /* refuses from now on */
	atomic_store(&s.close_idle, 0);
	proxy_backend_set_weight(b, 1);
	struct proxy_backend_stats st;
	run_client(&f, closing_client, &s); /* POSTs: nothing reached the dead one: retried */
	proxy_backend_get_stats(bd, &st);
	assert_true(st.retries >= 1);
	assert_int_equal(st.by_class[0], 0);
	proxy_backend_remove(bd);
	proxy_backend_remove(b);
	fx_fini(&f);
	srv_stop(&s);
}

/* Against a backend that reads each request and closes without answering (and a good one). */
static void retry_rules_client(struct fx *f, void *arg)
{
	(void)arg;
	char body[9000], line[512];
	int fd = dial(f);
	/* idempotent: sent again, on the other backend */
	assert_int_equal(get(fd, "GET /g HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)), 200);
	assert_non_null(strstr(body, "id=1 m=GET p=/g"));
	/* a 1xx passes through before the final answer */
	const char *early = "GET /early HTTP/1.1\r\nHost: x\r\n\r\n";
	write_all(fd, early, strlen(early));
	assert_true(read_line(fd, line, sizeof(line)) > 0);
	assert_string_equal(line, "HTTP/1.1 103 Early Hints\r\n");
	assert_true(read_line(fd, line, sizeof(line)) > 0); /* its fields, as they were */
	assert_string_equal(line, "Link: </s.css>\r\n");
	assert_true(read_line(fd, line, sizeof(line)) > 0);
	assert_string_equal(line, "\r\n");
	assert_int_equal(read_response(fd, body, sizeof(body), NULL, 0), 200);
	assert_non_null(strstr(body, "p=/early"));
	/* a POST the backend consumed is not sent twice: 502, and the connection closes */
	assert_int_equal(get(fd, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
			     body, sizeof(body)),
			 502);
	assert_int_equal(read(fd, line, sizeof(line)), 0);
	close(fd);
	/* unless it carries an Idempotency-Key */
	fd = dial(f);
	assert_int_equal(get(fd,
			     "POST /k HTTP/1.1\r\nHost: x\r\nIdempotency-Key: 7\r\n"
			     "Content-Length: 5\r\n\r\nhello",
			     body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "id=1 m=POST p=/k"));
	close(fd);
}

static void test_retry_rules_and_1xx(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL);
	struct srv good, drop;
	srv_start(&good, 1);
	srv_start(&drop, 9);
	atomic_store(&drop.drop, 1);
	struct proxy_backend *bg = add(f.p, &good, 1);
	/* the dropping one is picked first for every request (the other only on a retry) */
	struct proxy_backend *bd = add(f.p, &drop, 1000);
	run_client(&f, retry_rules_client, NULL);
	struct proxy_backend_stats st;
	proxy_backend_get_stats(bd, &st);
	assert_int_equal(st.retries, 3);	      /* both GETs and the POST with a key */
	assert_int_equal(st.by_class[0], 1);	      /* the POST: failed, not retried */
	assert_int_equal(atomic_load(&drop.reqs), 4); /* /early went to it too, then again */
	proxy_backend_get_stats(bg, &st);
	assert_int_equal(st.by_class[2], 3);
	proxy_backend_remove(bd);
	proxy_backend_remove(bg);
	fx_fini(&f);
	srv_stop(&good);
	srv_stop(&drop);
}

static void drained(void *arg)
{
	(*(int *)arg)++;
}

struct ws {
	atomic_int phase;
	int drains_seen_open; /* drain callbacks before the tunnel closed */
};

static void ws_client(struct fx *f, void *arg)
{
	struct ws *w = arg;
	int fd = dial(f);
	char headers[2048], body[64];
	const char req[] =
		"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";
	write_all(fd, req, sizeof(req) - 1);
	assert_int_equal(read_response(fd, body, sizeof(body), headers, sizeof(headers)), 101);
	assert_non_null(strstr(headers, "Upgrade: echo"));
	write_all(fd, "ping", strlen("ping"));
	char b[64] = {0};
	assert_true(read(fd, b, sizeof(b) - 1) > 0);
	assert_string_equal(b, "1:ping");
	atomic_store(&w->phase, 1);
	wait_for(&w->phase, 2);
	/* its backend is draining (another one serves): the tunnel goes on */
	write_all(fd, "pong", strlen("pong"));
	memset(b, 0, sizeof(b));
	assert_true(read(fd, b, sizeof(b) - 1) > 0);
	assert_string_equal(b, "1:pong");
	close(fd);
}

static bool ws_phase1(void *arg)
{
	return atomic_load(&((struct ws *)arg)->phase) == 1;
}

static bool is_one(void *arg)
{
	return *(int *)arg == 1;
}

static void test_tunnel_survives_drain(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL);
	struct srv s, s2;
	srv_start(&s, 1);
	srv_start(&s2, 2);
	struct proxy_backend *b = add(f.p, &s, 1);
	struct ws w = {0};
	struct client c = {.f = &f, .fn = ws_client, .arg = &w};
	pthread_create(&c.th, NULL, client_main, &c);
	run_until(&f, ws_phase1, &w, "the tunnel");
	struct proxy_backend_stats st;
	proxy_backend_get_stats(b, &st);
	assert_int_equal(st.tunnels, 1);
	struct proxy_backend *b2 = add(f.p, &s2, 1);
	int n = 0;
	proxy_backend_drain(b, drained, &n);
	atomic_store(&w.phase, 2);
	run_until(&f, client_done, &c, "the client");
	pthread_join(c.th, NULL);
	run_until(&f, is_one, &n, "the drain");
	proxy_backend_get_stats(b, &st);
	assert_int_equal(st.tunnels, 0);
	proxy_backend_remove(b);
	proxy_backend_remove(b2);
	fx_fini(&f);
	srv_stop(&s);
	srv_stop(&s2);
}

struct split {
	int n1, n2;
};

static void split_client(struct fx *f, void *arg)
{
	struct split *sp = arg;
	char body[9000];
	for (int i = 0; i < 40; i++) {
		int fd = dial(f);
		assert_int_equal(get(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
				     body, sizeof(body)),
				 200);
		sp->n1 += !strncmp(body, "id=1 ", 5);
		sp->n2 += !strncmp(body, "id=2 ", 5);
		close(fd);
	}
}

static void test_weights_and_health(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL);
	struct srv s1, s2;
	srv_start(&s1, 1);
	srv_start(&s2, 2);
	struct proxy_backend *b1 = add(f.p, &s1, 3), *b2 = add(f.p, &s2, 1);
	struct split sp = {0};
	run_client(&f, split_client, &sp);
	assert_int_equal(sp.n1, 30);
	assert_int_equal(sp.n2, 10);
	/* 1 is down: 2 takes everything; both down: both keep their traffic */
	proxy_backend_set_up(b1, false);
	memset(&sp, 0, sizeof(sp));
	run_client(&f, split_client, &sp);
	assert_int_equal(sp.n2, 40);
	proxy_backend_set_up(b2, false);
	memset(&sp, 0, sizeof(sp));
	run_client(&f, split_client, &sp);
	assert_int_equal(sp.n1 + sp.n2, 40);
	assert_true(sp.n1 > 0 && sp.n2 > 0);
	proxy_backend_remove(b1);
	proxy_backend_remove(b2);
	fx_fini(&f);
	srv_stop(&s1);
	srv_stop(&s2);
}

static void dev_client(struct fx *f, void *arg)
{
	int step = *(int *)arg;
	char body[9000], headers[4096];
	int fd = dial(f);
	if (step == 0) {
		/* broken build: a browser gets the page, curl gets the app */
		write_all(fd, "GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html,*/*\r\n\r\n",
			  strlen("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html,*/*\r\n\r\n"));
		assert_int_equal(read_response(fd, body, sizeof(body), NULL, 0), 500);
		assert_string_equal(body, "<pre>main.go:3: undefined: x</pre>");
		assert_int_equal(get(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)),
				 200);
	} else {
		/* live reload: the script is appended to HTML, whatever its framing */
		write_all(fd, "GET /html HTTP/1.1\r\nHost: x\r\n\r\n",
			  strlen("GET /html HTTP/1.1\r\nHost: x\r\n\r\n"));
		assert_int_equal(read_response(fd, body, sizeof(body), headers, sizeof(headers)),
				 200);
		assert_non_null(strstr(body, "id=1 m=GET p=/html"));
		assert_non_null(strstr(body, "<script>/* baton live reload */"));
		assert_int_equal(
			get(fd, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)),
			200);
		assert_non_null(strstr(body, "p=/chunked"));
		assert_non_null(strstr(body, "EventSource"));
		assert_int_equal(get(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof(body)),
				 200);
		assert_null(strstr(body, "script")); /* text/plain is left alone */
		int ev = dial(f);
		write_all(ev, "GET " PROXY_LIVE_PATH " HTTP/1.1\r\nHost: x\r\n\r\n",
			  strlen("GET " PROXY_LIVE_PATH " HTTP/1.1\r\nHost: x\r\n\r\n"));
		char line[256];
		assert_true(read_line(ev, line, sizeof(line)) > 0);
		assert_string_equal(line, "HTTP/1.1 200 OK\r\n");
		while (read_line(ev, line, sizeof(line)) > 0 && strcmp(line, "event: reload\n"))
			*(int *)arg = 2; /* connected: the test may send the event */
		assert_string_equal(line, "event: reload\n");
		close(ev);
	}
	close(fd);
}

static bool step2(void *arg)
{
	return *(int *)arg == 2;
}

static void test_dev_error_page_and_live_reload(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL);
	struct srv s;
	srv_start(&s, 1);
	struct proxy_backend *b = add(f.p, &s, 1);
	int st = 0;
	proxy_set_error_page(f.p, "<pre>main.go:3: undefined: x</pre>");
	run_client(&f, dev_client, &st);
	proxy_set_error_page(f.p, NULL);
	proxy_set_live_reload(f.p, true);
	st = 1;
	struct client c = {.f = &f, .fn = dev_client, .arg = &st};
	pthread_create(&c.th, NULL, client_main, &c);
	run_until(&f, step2, &st, "the event stream");
	proxy_live_reload(f.p);
	run_until(&f, client_done, &c, "the client");
	pthread_join(c.th, NULL);
	proxy_backend_remove(b);
	fx_fini(&f);
	srv_stop(&s);
}

/* ---- TLS termination ---- */

static struct tu_certs tlscerts;

static const char *tpath(const char *name)
{
	return tu_certs_path(&tlscerts, name);
}

struct tlsc {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
};

static bool tls_dial(struct fx *f, struct tlsc *t)
{
	t->fd = dial(f);
	t->ctx = SSL_CTX_new(TLS_client_method());
	t->ssl = SSL_new(t->ctx);
	SSL_set_fd(t->ssl, t->fd);
	SSL_set_tlsext_host_name(t->ssl, "a.test");
	return SSL_connect(t->ssl) == 1;
}

static void tls_close(struct tlsc *t)
{
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	close(t->fd);
}

/* One request over TLS; returns the body (static). */
static const char *tls_get(struct tlsc *t, const char *req)
{
	static char buf[16384];
	assert_true(SSL_write(t->ssl, req, (int)strlen(req)) > 0);
	size_t n = 0;
	for (;;) {
		int r = SSL_read(t->ssl, buf + n, (int)(sizeof(buf) - 1 - n));
		assert_true(r > 0);
		n += (size_t)r;
		buf[n] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		const char *cl = strstr(buf, "Content-Length: ");
		if (end && cl && n >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
			return end + 4;
	}
}

static long cert_hash(struct tlsc *t)
{
	X509 *x = SSL_get1_peer_certificate(t->ssl);
	unsigned char md[32];
	unsigned len = 0;
	X509_digest(x, EVP_sha256(), md, &len);
	X509_free(x);
	long h;
	memcpy(&h, md, sizeof(h));
	return h;
}

struct tlsrun {
	struct tls_front *tf;
	atomic_int phase;
	long before, after;
};

static void tls_client(struct fx *f, void *arg)
{
	struct tlsrun *tr = arg;
	struct tlsc a, b;
	assert_true(tls_dial(f, &a));
	tr->before = cert_hash(&a);
	const char *body = tls_get(&a, "GET /t HTTP/1.1\r\nHost: a.test\r\n\r\n");
	assert_non_null(strstr(body, "p=/t "));
	assert_non_null(strstr(body, "proto=https"));
	atomic_store(&tr->phase, 1); /* the certificate is swapped now */
	wait_for(&tr->phase, 2);
	assert_true(tls_dial(f, &b));
	tr->after = cert_hash(&b);
	/* the connection made before the swap goes on, keep-alive */
	body = tls_get(&a, "POST /u HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc");
	assert_non_null(strstr(body, "body=abc"));
	body = tls_get(&b, "GET /v HTTP/1.1\r\nHost: a.test\r\n\r\n");
	assert_non_null(strstr(body, "p=/v "));
	tls_close(&a);
	tls_close(&b);
	/* not TLS at all: the connection is closed, nothing reaches a backend */
	int fd = dial(f);
	const char plain[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	write_all(fd, plain, sizeof(plain) - 1);
	char c;
	assert_true(read(fd, &c, 1) <= 0);
	close(fd);
}

static bool tls_phase1(void *arg)
{
	return atomic_load(&((struct tlsrun *)arg)->phase) == 1;
}

static void test_tls_termination_and_live_swap(void **state)
{
	(void)state;
	assert_int_equal(tu_certs_make(&tlscerts, "pxtls", "mk a a.test; mk a2 a.test"), 0);
	if (!tlscerts.have_openssl)
		skip();
	struct tlsrun tr = {0};
	char *err = NULL;
	assert_int_equal(tls_front_new(&tr.tf, &err), 0);
	assert_int_equal(tls_front_set(tr.tf, "site", tpath("a.crt"), tpath("a.key"), &err), 0);
	struct proxy_opts o = {.name = "tls", .tls = tr.tf};
	struct fx f;
	fx_init(&f, &o);
	struct srv s;
	srv_start(&s, 1);
	struct proxy_backend *b = add(f.p, &s, 1);
	struct client c = {.f = &f, .fn = tls_client, .arg = &tr};
	pthread_create(&c.th, NULL, client_main, &c);
	run_until(&f, tls_phase1, &tr, "the first TLS request");
	assert_int_equal(tls_front_set(tr.tf, "site", tpath("a2.crt"), tpath("a2.key"), &err), 0);
	atomic_store(&tr.phase, 2);
	run_until(&f, client_done, &c, "the TLS client");
	pthread_join(c.th, NULL);
	assert_true(tr.before != tr.after);
	assert_int_equal(atomic_load(&s.reqs), 3);
	proxy_backend_remove(b);
	fx_fini(&f);
	srv_stop(&s);
	tls_front_free(tr.tf);
	assert_int_equal(tu_certs_remove(&tlscerts), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive_outlives_a_backend_switch),
		cmocka_unit_test(test_pipelining_in_order),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_pool_check_and_retry),
		cmocka_unit_test(test_retry_rules_and_1xx),
		cmocka_unit_test(test_tunnel_survives_drain),
		cmocka_unit_test(test_weights_and_health),
		cmocka_unit_test(test_dev_error_page_and_live_reload),
		cmocka_unit_test(test_tls_termination_and_live_swap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
