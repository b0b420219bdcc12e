/* baton watch [-c FILE] [--debounce D] [--fast-settle D] [--poll auto|off|D] [PATH...]: print
 * the change batches
 * the watcher would act on. The user's tool to debug their filters, and the watcher's test
 * harness. stdout (line-buffered):
 *   watching N directories (M files) in T ms
 *   batch N: K changes
 *   changed|created|removed PATH          (relative to the root)
 * Warnings (limits, overflow rescans) go to stderr. Exits 0 on SIGINT/SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/cmd.h"
#include "cmd/common.h"
#include "config/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/sig.h"
#include "util/duration.h"
#include "util/timeutil.h"
#include "util/xalloc.h"
#include "watch/watch.h"

struct wctx {
	struct loop *loop;
	unsigned long long nbatch;
	int rc;
};

static void help(void)
{
	printf("usage: baton watch [-c FILE] [--debounce DURATION] [--fast-settle DURATION]\n"
	       "                   [--poll auto|off|DURATION] [PATH...]\n\n"
	       "Watch like `baton dev` would and print each batch of changes as it would be acted\n"
	       "on: \"batch N: K changes\", then one \"changed|created|removed PATH\" line per\n"
	       "file (relative to the root). Use it to check what your filters let through.\n"
	       "A config with only a [watch] table is enough (no run.cmd). While a git, hg or jj\n"
	       "operation runs (its lock file exists), batches are held, up to 10 s.\n\n"
	       "options:\n"
	       "  -c, --config FILE      the config ([watch] section; default: ./baton.toml, else\n"
	       "                         ./.air.toml, else zero-config defaults)\n"
	       "      --debounce D       quiet time that ends a batch (default: the config's, 50ms)\n"
	       "      --fast-settle D    quiet time instead, while the batch is only a few\n"
	       "                         completely written files (default: the config's, 5ms;\n"
	       "                         0s: always the debounce)\n"
	       "      --poll MODE        auto (inotify; poll only filesystems without events),\n"
	       "                         off, or a duration such as 1s (always poll, that often)\n"
	       "  PATH...                watch these instead of [watch] paths (directories are\n"
	       "                         recursive; a file is watched through its directory)\n"
	       "  -h, --help             show this help\n\n"
	       "Stops (exit 0) on Ctrl-C or SIGTERM.\n");
}

static void on_signal(const struct signalfd_siginfo *si, void *data)
{
	(void)si;
	struct wctx *c = data;
	loop_exit(c->loop, c->rc);
}

static void on_batch(const struct watch_change *ch, size_t n, void *data)
{
	static const char *const kinds[] = {"changed", "created", "removed"};
	struct wctx *c = data;
	printf("batch %llu: %zu changes\n", ++c->nbatch, n);
	for (size_t i = 0; i < n; i++)
		printf("%s %s\n", kinds[ch[i].kind], ch[i].path);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		c->rc = EXIT_FAIL; /* the reader went away */
		loop_exit(c->loop, c->rc);
	}
}

static int parse_ms(const char *opt, const char *v, int64_t *out)
{
	char *why = NULL;
	if (duration_parse_ms(v, out, &why) < 0) {
		int r = cli_usage_error("watch", "%s: invalid duration \"%s\" (%s)", opt, v, why);
		free(why);
		return r;
	}
	return 0;
}

int cmd_watch(int argc, char **argv)
{
	const char *file = NULL, *debounce = NULL, *fast = NULL, *poll = NULL;
	struct strv paths = STRV_INIT;
	int rc = EXIT_FAIL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		const char *val = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help();
			strv_release(&paths);
			return EXIT_OK;
		} else if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				strv_push(&paths, argv[i]);
			break;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			dst = &file;
		} else if (strcmp(a, "--debounce") == 0) {
			dst = &debounce;
		} else if (strcmp(a, "--fast-settle") == 0) {
			dst = &fast;
		} else if (strcmp(a, "--poll") == 0) {
			dst = &poll;
		} else if (strncmp(a, "--config=", 9) == 0) {
			file = a + 9;
		} else if (strncmp(a, "--debounce=", 11) == 0) {
			debounce = a + 11;
		} else if (strncmp(a, "--fast-settle=", 14) == 0) {
			fast = a + 14;
		} else if (strncmp(a, "--poll=", 7) == 0) {
			poll = a + 7;
		} else if (strncmp(a, "-c", 2) == 0 && a[2]) {
			file = a + 2;
		} else if (a[0] == '-' && a[1]) {
			strv_release(&paths);
			return cli_usage_error("watch", "unknown option '%s'", a);
		} else {
			strv_push(&paths, a);
		}
		if (dst) {
			if (i + 1 >= argc) {
				strv_release(&paths);
				return cli_usage_error("watch", "'%s' needs a value", a);
			}
			val = argv[++i];
			*dst = val;
		}
	}

	struct watch_opts o;
	int64_t debounce_ms = -1, fast_ms = -1, poll_ms = -1;
	enum watch_poll pmode = WATCH_POLL_AUTO;
	if (debounce && parse_ms("--debounce", debounce, &debounce_ms) != 0)
		goto out_usage;
	if (fast && parse_ms("--fast-settle", fast, &fast_ms) != 0)
		goto out_usage;
	if (poll) {
		if (strcmp(poll, "auto") == 0) {
			pmode = WATCH_POLL_AUTO;
		} else if (strcmp(poll, "off") == 0) {
			pmode = WATCH_POLL_OFF;
		} else {
			if (parse_ms("--poll", poll, &poll_ms) != 0)
				goto out_usage;
			if (poll_ms < 10) {
				cli_usage_error("watch", "--poll: the interval must be at least 10ms");
				goto out_usage;
			}
			pmode = WATCH_POLL_FORCE;
		}
	}

	/* Without a config file there is nothing to run, but still something to watch: the
	 * zero-config [watch] defaults apply even where no Go main package is. */
	struct config *cfg = NULL;
	if (!file && access("baton.toml", F_OK) != 0 && access(".air.toml", F_OK) != 0) {
		char cwd[4096];
		if (getcwd(cwd, sizeof(cwd)))
			cfg = config_load_default(cwd);
	}
	if (!cfg)
		cfg = cmd_load_watch_config(file);
	if (!cfg) {
		strv_release(&paths);
		return EXIT_FAIL;
	}
	watch_opts_from_config(cfg, &o);
	if (paths.n) {
		char cwd[4096];
		if (!getcwd(cwd, sizeof(cwd))) {
			log_error("cannot get the current directory: %m");
			goto out_cfg;
		}
		strv_release(&o.paths);
		for (size_t i = 0; i < paths.n; i++) {
			if (paths.v[i][0] == '/')
				strv_push(&o.paths, paths.v[i]);
			else
				strv_pushf(&o.paths, "%s/%s", cwd, paths.v[i]);
		}
	}
	if (debounce_ms >= 0)
		o.debounce_ms = debounce_ms;
	if (fast_ms >= 0)
		o.fast_settle_ms = fast_ms;
	if (poll) {
		o.poll = pmode;
		if (poll_ms > 0)
			o.poll_interval_ms = poll_ms;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	struct wctx c = {.rc = EXIT_OK};
	c.loop = loop_new();
	if (!c.loop) {
		log_error("cannot create the event loop: %m");
		goto out_cfg;
	}
	static const int sigs[] = {SIGINT, SIGTERM};
	struct sig *s = sig_new(c.loop, sigs, 2, on_signal, &c);
	if (!s) {
		log_error("cannot set up signals: %m");
		goto out_loop;
	}
	char *err = NULL;
	struct watch *w = watch_new(c.loop, &o, on_batch, &c, &err);
	if (!w) {
		log_error("cannot watch '%s': %s", o.root, err ? err : strerror(errno));
		free(err);
		goto out_sig;
	}
	int64_t t0 = now_us();
	int r = watch_start(w);
	int64_t us = now_us() - t0;
	if (r < 0) {
		log_error("cannot watch '%s': %s", o.root, strerror(-r));
		goto out_watch;
	}
	if (us < 10000)
		printf("watching %zu directories (%zu files) in %.1f ms\n", watch_ndirs(w),
		       watch_nfiles(w), (double)us / 1000.0);
	else
		printf("watching %zu directories (%zu files) in %lld ms\n", watch_ndirs(w),
		       watch_nfiles(w), (long long)(us / 1000));
	fflush(stdout);
	r = loop_run(c.loop);
	rc = r < 0 ? EXIT_FAIL : r;
out_watch:
	watch_free(w);
out_sig:
	sig_free(s);
out_loop:
	loop_free(c.loop);
out_cfg:
	watch_opts_release(&o);
	config_free(cfg);
	strv_release(&paths);
	return rc;
out_usage:
	strv_release(&paths);
	return EXIT_USAGE;
}
