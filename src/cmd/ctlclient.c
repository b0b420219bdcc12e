/* baton reload|status|stop|upgrade|promote|abort|rollback: ask a running `baton run` over its
 * control socket (ctlproto.h). The socket is -s SOCKET, else [control] socket of the config found
 * as `baton check` finds it. Blocking I/O bounded by one poll() deadline per command
 * (-t/--timeout). Exit codes: 0 done (reload: the new generation serves), 1 failed (reload: rolled
 * back) or no baton to talk to, 2 usage error. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "ctl/ctl.h"
#include "ctl/ctlproto.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

/* Margin on top of the app's own timeouts for the default reload/stop deadline. */
#define MARGIN_MS 30000
/* Defaults when only -s is given (no config to read the app's timeouts from). */
#define RELOAD_DEFAULT_MS (5 * 60 * 1000)
#define STOP_DEFAULT_MS (5 * 60 * 1000)
#define STATUS_DEFAULT_MS 10000
#define UPGRADE_DEFAULT_MS 60000
/* connect() waits at most this long for room in the server's backlog. */
#define CONNECT_MAX_MS 5000

struct opts {
	const char *name; /* subcommand */
	const char *config;
	const char *socket;
	bool json;
	int64_t timeout_ms; /* -1: default */
};

static void help(const char *name)
{
	if (strcmp(name, "reload") == 0)
		printf("usage: baton reload [-c FILE | -s SOCKET] [-t DURATION]\n\n"
		       "Ask a running 'baton run' to start a new generation of the app and\n"
		       "wait for the result. Exit 0 when the new generation serves, 1 when it\n"
		       "failed and the old one keeps serving (the reason is printed), or when\n"
		       "no baton runs.\n\n");
	else if (strcmp(name, "status") == 0)
		printf("usage: baton status [-c FILE | -s SOCKET] [--json] [-t DURATION]\n\n"
		       "Show a running baton's generations (pids, states, ages), listeners\n"
		       "and the result of the last reload.\n\n");
	else if (strcmp(name, "upgrade") == 0)
		printf("usage: baton upgrade [-c FILE | -s SOCKET] [-t DURATION]\n\n"
		       "Re-execute a running baton's binary in place (the path it was started\n"
		       "as, so a binary replaced there is the one that runs): same pid, the\n"
		       "listening sockets, the control socket and the running generations are\n"
		       "kept. Exit 0 with the new version, 1 when the exec failed (the reason is\n"
		       "printed) and the old baton keeps running. SIGUSR2 does the same.\n\n");
	else if (strcmp(name, "promote") == 0)
		printf("usage: baton promote [-c FILE | -s SOCKET] [-t DURATION]\n\n"
		       "A running rollout ([rollout] canary or blue-green) skips its remaining\n"
		       "steps: the new generation gets all requests and the old one drains.\n"
		       "Exit 1 when no rollout runs.\n\n");
	else if (strcmp(name, "abort") == 0)
		printf("usage: baton abort [-c FILE | -s SOCKET] [-t DURATION]\n\n"
		       "A running rollout rolls back now: the old generation gets all requests\n"
		       "and the new one drains ('baton reload' waiting on it exits 1).\n"
		       "Exit 1 when no rollout runs.\n\n");
	else if (strcmp(name, "rollback") == 0)
		printf("usage: baton rollback [-c FILE | -s SOCKET] [-t DURATION]\n\n"
		       "Blue-green, within keep_old after a switch: send all requests back to\n"
		       "the old generation, still running, at once. Exit 1 otherwise.\n\n");
	else
		printf("usage: baton stop [-c FILE | -s SOCKET] [-t DURATION]\n\n"
		       "Gracefully stop a running baton: every generation gets its stop\n"
		       "signal and stop_timeout to finish in-flight requests.\n\n");
	printf("options:\n"
	       "  -c, --config FILE       find the socket in this config's [control] socket\n"
	       "                          (default: ./baton.toml, else ./.air.toml, else\n"
	       "                          zero-config)\n"
	       "  -s, --socket SOCKET     the control socket to talk to\n");
	if (strcmp(name, "status") == 0)
		printf("      --json              print the status as one JSON document\n");
	printf("  -t, --timeout DURATION  how long to wait for the answer (\"90s\", \"5m\");\n");
	if (strcmp(name, "reload") == 0)
		printf("                          default: ready_timeout + stop_timeout + 30s\n");
	else if (strcmp(name, "stop") == 0)
		printf("                          default: stop_timeout + 30s\n");
	else if (strcmp(name, "upgrade") == 0)
		printf("                          default: 60s\n");
	else
		printf("                          default: 10s\n");
	printf("  -h, --help              show this help\n");
}

/* Value of an option given as "-x V", "-xV", "--long V" or "--long=V"; NULL when a is not it.
 * *i advances past a separate value. *missing is set when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *s, const char *l,
			     bool *missing)
{
	const char *a = argv[*i];
	size_t ll = strlen(l);
	*missing = false;
	if (strcmp(a, s) == 0 || strcmp(a, l) == 0) {
		if (*i + 1 >= argc) {
			*missing = true;
			return a;
		}
		return argv[++*i];
	}
	if (strncmp(a, l, ll) == 0 && a[ll] == '=')
		return a + ll + 1;
	if (strncmp(a, s, 2) == 0 && a[2] && a[1] != '-')
		return a + 2;
	return NULL;
}

/* EXIT_OK to go on, or an exit code (help shown, usage error). */
static int parse_args(int argc, char **argv, struct opts *o, bool *done)
{
	*done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v;
		bool missing;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help(o->name);
			*done = true;
			return EXIT_OK;
		} else if (strcmp(a, "--json") == 0 && strcmp(o->name, "status") == 0) {
			o->json = true;
		} else if ((v = opt_value(argc, argv, &i, "-c", "--config", &missing))) {
			if (missing)
				return cli_usage_error(o->name, "'%s' needs a file", a);
			o->config = v;
		} else if ((v = opt_value(argc, argv, &i, "-s", "--socket", &missing))) {
			if (missing)
				return cli_usage_error(o->name, "'%s' needs a socket path", a);
			o->socket = v;
		} else if ((v = opt_value(argc, argv, &i, "-t", "--timeout", &missing))) {
			char *why = NULL;
			if (missing)
				return cli_usage_error(o->name, "'%s' needs a duration", a);
			if (duration_parse_ms(v, &o->timeout_ms, &why) < 0) {
				int r = cli_usage_error(o->name, "bad timeout '%s': %s", v, why);
				free(why);
				return r;
			}
			if (o->timeout_ms <= 0)
				return cli_usage_error(o->name, "the timeout must be more than 0");
		} else if (a[0] == '-') {
			return cli_usage_error(o->name, "unknown option '%s'", a);
		} else {
			return cli_usage_error(o->name, "unexpected argument '%s'", a);
		}
	}
	if (o->config && o->socket)
		return cli_usage_error(o->name, "give either -c or -s, not both");
	if ((o->config && !*o->config) || (o->socket && !*o->socket))
		return cli_usage_error(o->name, "empty file name");
	return EXIT_OK;
}

/* The socket to talk to and a default deadline. NULL when the config is invalid (reported). */
static char *find_socket(const struct opts *o, enum ctl_verb verb, char **display,
			 int64_t *def_timeout)
{
	if (o->socket) {
		*display = xstrdup(o->socket);
		*def_timeout = verb == CTL_RELOAD    ? RELOAD_DEFAULT_MS
			       : verb == CTL_STOP    ? STOP_DEFAULT_MS
			       : verb == CTL_UPGRADE ? UPGRADE_DEFAULT_MS
						     : STATUS_DEFAULT_MS;
		return xstrdup(o->socket);
	}
	struct config *cfg = cmd_load_config(o->config);
	if (!cfg)
		return NULL;
	*display = xstrdup(cfg->control.socket);
	char *path = ctl_socket_path(cfg->root, cfg->control.socket);
	if (verb == CTL_RELOAD)
		*def_timeout = cfg->run.ready_timeout_ms + cfg->run.stop_timeout_ms + MARGIN_MS;
	else if (verb == CTL_STOP)
		*def_timeout = cfg->run.stop_timeout_ms + MARGIN_MS;
	else if (verb == CTL_UPGRADE)
		*def_timeout = UPGRADE_DEFAULT_MS;
	else
		*def_timeout = STATUS_DEFAULT_MS;
	config_free(cfg);
	return path;
}

static int remaining(int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 60000 ? 60000 : (int)left;
}

/* Wait for ev on fd until the deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int ms = remaining(deadline);
		if (ms == 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = ev};
		int r = poll(&p, 1, ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			return 1;
	}
}

/* Send req and read one response. 0 with *resp, -ETIMEDOUT, or -errno with *why (malloc'd). */
static int exchange(int fd, const struct ctl_request *req, int64_t deadline,
		    struct ctl_response *resp, char **why)
{
	struct buf out = BUF_INIT;
	struct ctlproto_respdec dec;
	int r = 0;
	ctlproto_encode_request(&out, req);
	ctlproto_respdec_init(&dec);

	for (size_t off = 0; off < out.len;) {
		ssize_t n = send(fd, out.p + off, out.len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			break; /* it may have said why before closing: read it */
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			r = -errno;
			*why = xasprintf("cannot send the request: %s", strerror(errno));
			goto out;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r <= 0) {
			r = r == 0 ? -ETIMEDOUT : r;
			goto out;
		}
	}

	for (;;) {
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			r = wait_fd(fd, POLLIN, deadline);
			if (r <= 0) {
				r = r == 0 ? -ETIMEDOUT : r;
				goto out;
			}
			continue;
		}
		if (n < 0 && errno != ECONNRESET) {
			r = -errno;
			*why = xasprintf("cannot read the answer: %s", strerror(errno));
			goto out;
		}
		if (n <= 0) {
			r = ctlproto_respdec_finish(&dec);
			*why = xstrdup(r < 0 ? ctlproto_respdec_why(&dec)
					     : "baton closed the connection without answering");
			r = -EPIPE;
			goto out;
		}
		for (size_t off = 0; off < (size_t)n;) {
			size_t used;
			r = ctlproto_respdec_feed(&dec, tmp + off, (size_t)n - off, &used, resp);
			off += used;
			if (r < 0) {
				*why = xasprintf("garbled answer: %s", ctlproto_respdec_why(&dec));
				goto out;
			}
			if (r > 0) {
				r = 0;
				goto out; /* one request, one answer: the rest is not ours */
			}
		}
	}
out:
	ctlproto_respdec_release(&dec);
	buf_release(&out);
	return r;
}

static int run(struct opts *o, enum ctl_verb verb)
{
	char *display = NULL;
	int64_t def_timeout = 0;
	char *path = find_socket(o, verb, &display, &def_timeout);
	if (!path)
		return EXIT_FAIL;
	int64_t timeout = o->timeout_ms > 0 ? o->timeout_ms : def_timeout;
	int64_t deadline = now_ms() + timeout;
	int rc = EXIT_FAIL;

	int fd = ctl_connect(path, timeout < CONNECT_MAX_MS ? timeout : CONNECT_MAX_MS);
	if (fd < 0) {
		if (fd == -ECONNREFUSED || fd == -ENOENT || fd == -ENOTDIR)
			fprintf(stderr, "baton: no baton running on %s: %s\n", display,
				strerror(-fd));
		else if (fd == -EAGAIN)
			fprintf(stderr, "baton: baton on %s is not accepting connections (busy)\n",
				display);
		else
			fprintf(stderr, "baton: cannot connect to %s: %s\n", display,
				strerror(-fd));
		goto out;
	}

	struct ctl_request req = {.verb = verb, .json = o->json};
	struct ctl_response resp = {0};
	char *why = NULL;
	int r = exchange(fd, &req, deadline, &resp, &why);
	close(fd);
	if (r < 0) {
		char d[64];
		duration_format_ms(timeout, d, sizeof(d));
		if (r == -ETIMEDOUT && verb == CTL_RELOAD)
			fprintf(stderr,
				"baton: no result from %s within %s; the reload may still be in "
				"progress (see 'baton status')\n",
				display, d);
		else if (r == -ETIMEDOUT)
			fprintf(stderr, "baton: no answer from %s within %s\n", display, d);
		else
			fprintf(stderr, "baton: %s: %s\n", display, why ? why : strerror(-r));
		free(why);
		goto out;
	}

	switch (resp.kind) {
	case CTL_RESP_BODY:
		fwrite(resp.text, 1, resp.len, stdout);
		rc = EXIT_OK;
		break;
	case CTL_RESP_OK:
		if (*resp.text)
			printf("%s\n", resp.text);
		else if (verb == CTL_RELOAD)
			printf("reloaded\n");
		else if (verb == CTL_STOP)
			printf("stopping\n");
		rc = EXIT_OK;
		break;
	case CTL_RESP_ERROR:
	default:
		if (verb == CTL_RELOAD)
			fprintf(stderr, "baton: reload failed: %s\n",
				*resp.text ? resp.text : "no reason given");
		else
			fprintf(stderr, "baton: %s failed: %s\n", o->name,
				*resp.text ? resp.text : "no reason given");
		break;
	}
	free(resp.text);
	if (fflush(stdout) != 0)
		rc = EXIT_FAIL;
out:
	free(path);
	free(display);
	return rc;
}

static int ctl_command(int argc, char **argv, enum ctl_verb verb)
{
	struct opts o = {.name = argv[0], .timeout_ms = -1};
	bool done;
	int rc = parse_args(argc, argv, &o, &done);
	if (rc != EXIT_OK || done)
		return rc;
	return run(&o, verb);
}

int cmd_reload(int argc, char **argv)
{
	return ctl_command(argc, argv, CTL_RELOAD);
}

int cmd_status(int argc, char **argv)
{
	return ctl_command(argc, argv, CTL_STATUS);
}

int cmd_stop(int argc, char **argv)
{
	return ctl_command(argc, argv, CTL_STOP);
}

int cmd_upgrade(int argc, char **argv)
{
	return ctl_command(argc, argv, CTL_UPGRADE);
}

int cmd_promote(int argc, char **argv)
{
	return ctl_command(argc, argv, CTL_PROMOTE);
}

int cmd_abort(int argc, char **argv)
{
	return ctl_command(argc, argv, CTL_ABORT);
}

int cmd_rollback(int argc, char **argv)
{
	return ctl_command(argc, argv, CTL_ROLLBACK);
}
