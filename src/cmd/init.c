/* baton init [--force]: write a commented baton.toml suited to the project in the current
 * directory: air's .air.toml translated, or a Go main package built and run, or a generic
 * skeleton. The result always passes `baton check`. Never overwrites without --force. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/strv.h"
#include "util/xalloc.h"

static void help(void)
{
	printf("usage: baton init [--force]\n\n"
	       "Write a commented baton.toml for the project in the current directory:\n"
	       "  - .air.toml present: air's settings translated to baton's keys\n"
	       "  - a Go main package (here or in cmd/NAME): build it with go build, run it\n"
	       "  - otherwise: a skeleton to fill in (run.cmd)\n\n"
	       "options:\n"
	       "      --force  overwrite an existing baton.toml\n"
	       "  -h, --help   show this help\n");
}

static const char watch_and_rest[] =
	"\n"
	"# baton holds the listening sockets, so no request is refused while the app rebuilds or\n"
	"# restarts. The app gets them as systemd socket activation (fds 3.., LISTEN_FDS; in Go:\n"
	"# github.com/coreos/go-systemd/v22/activation). An app that binds its own port instead\n"
	"# keeps working: add 'forward' and baton accepts on address and forwards to it, and the\n"
	"# app gets PORT=8081.\n"
	"# [[listen]]\n"
	"# name = \"http\"\n"
	"# address = \":8080\"\n"
	"# forward = \"127.0.0.1:8081\"\n"
	"\n"
	"[watch]  # dev mode: what triggers a rebuild\n"
	"paths = [\".\"]\n"
	"include_ext = [%s]\n"
	"exclude_dir = [\".git\", \".baton\", \"vendor\", \"node_modules\", \"tmp\", "
	"\"testdata\"]\n"
	"exclude = [%s]  # globs relative to root\n"
	"gitignore = true\n"
	"debounce = \"50ms\"\n"
	"poll = \"auto\"  # inotify; polling only where events cannot arrive\n"
	"\n"
	"# production: files whose change triggers a reload\n"
	"# [[reload]]\n"
	"# name = \"config\"\n"
	"# paths = [\"config/app.yaml\"]\n"
	"# check = \"./bin/app --check-config\"  # non-zero exit: rejected, app untouched\n"
	"# action = \"restart\"  # or \"signal:SIGHUP\" or \"exec:CMD\"\n"
	"\n"
	"# certificates validated before any reload they cause\n"
	"# [[tls]]\n"
	"# cert = \"certs/tls.crt\"\n"
	"# key = \"certs/tls.key\"\n"
	"# hostnames = [\"example.com\"]\n"
	"\n"
	"[control]\n"
	"socket = \".baton/baton.sock\"  # for baton reload / status / stop\n"
	"\n"
	"[log]\n"
	"color = \"auto\"  # honours NO_COLOR\n"
	"format = \"text\"  # or \"json\"\n";

static const char run_section[] =
	"\n"
	"[run]\n"
	"cmd = %s  # run by /bin/sh -c (exec'd: the app is the process)\n"
	"# env = { GIN_MODE = \"release\" }\n"
	"# env_file = [\".env\"]\n"
	"# \"exec\": serving once started; \"notify\": once the app sends READY=1 (go-systemd\n"
	"# daemon.SdNotify), the safest for production; or \"delay:500ms\", or \"port\"\n"
	"ready = \"exec\"\n"
	"ready_timeout = \"30s\"\n"
	"stop_signal = \"SIGTERM\"  # stop accepting, finish in-flight requests, exit\n"
	"stop_timeout = \"10s\"  # then SIGKILL to the whole process group\n"
	"restart_on_crash = true\n";

/* "module example.com/app" from go.mod, or NULL. */
static char *go_module(void)
{
	char *data;
	size_t len;
	if (file_read_all("go.mod", 1u << 20, &data, &len) < 0)
		return NULL;
	char *mod = NULL, *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (strncmp(line, "module", 6) != 0 || (line[6] != ' ' && line[6] != '\t'))
			continue;
		char *s = line + 6 + strspn(line + 6, " \t\"");
		mod = xstrndup(s, strcspn(s, " \t\"\r"));
		break;
	}
	free(data);
	return mod;
}

static char *quote(const char *s)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *s);
	}
	buf_putc(&b, '"');
	return buf_detach(&b);
}

static char *template_go(const char *pkg, char **what)
{
	char *mod = go_module();
	struct buf b = BUF_INIT;
	char *build = xasprintf("go build -o .baton/bin/app %s", pkg);
	char *qb = quote(build), *qr = quote(".baton/bin/app");
	buf_printf(
		&b,
		"# baton.toml, written by `baton init` for the Go %s%s%s (main package %s).\n"
		"# Check it with `baton check`; run it with `baton dev` (watch, build, restart)\n"
		"# or `baton run` (production). Every key: docs/config.md.\n\n"
		"root = \".\"  # paths are relative to this file's directory\n\n"
		"[build]\n"
		"cmd = %s  # a failed build never takes the running app down\n",
		mod ? "module " : "project", mod ? mod : "", mod ? "" : "", pkg, qb);
	buf_printf(&b, run_section, qr);
	buf_printf(&b, watch_and_rest, "\"go\", \"tmpl\", \"tpl\", \"html\"", "\"*_test.go\"");
	*what = xasprintf("Go main package %s: build \"%s\", run \".baton/bin/app\"", pkg, build);
	free(mod);
	free(build);
	free(qb);
	free(qr);
	return buf_detach(&b);
}

static char *template_generic(char **what)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "# baton.toml, written by `baton init` (no Go main package found here).\n"
		     "# Set run.cmd to the command that starts your app, then `baton check`.\n"
		     "# Every key: docs/config.md.\n\n"
		     "root = \".\"  # paths are relative to this file's directory\n\n"
		     "[build]\n"
		     "cmd = \"\"  # e.g. \"make\"; empty: no build step\n");
	buf_printf(&b, run_section, "\"./app\"");
	buf_printf(&b, watch_and_rest, "", "");
	*what = xstrdup("no Go main package: a skeleton with run \"./app\" (edit run.cmd)");
	return buf_detach(&b);
}

static char *from_air(const char *cwd, char **what)
{
	struct config_diags diags = {0};
	struct strv notes = STRV_INIT;
	struct config *cfg = config_load(".air.toml", cwd, &diags, &notes);
	config_notes_print(&notes, 2);
	strv_release(&notes);
	if (!cfg) {
		config_diags_print(&diags, 2);
		fprintf(stderr, "baton: cannot translate .air.toml; fix it or move it aside\n");
		config_diags_release(&diags);
		return NULL;
	}
	char *body = config_to_toml(cfg);
	char *out = xasprintf("# written by `baton init` from .air.toml\n%s", body);
	*what = xasprintf(".air.toml translated: build \"%s\", run \"%s\"",
			  cfg->build.cmd ? cfg->build.cmd : "", cfg->run.cmd);
	free(body);
	config_free(cfg);
	return out;
}

int cmd_init(int argc, char **argv)
{
	bool force = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			help();
			return EXIT_OK;
		} else if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
			force = true;
		} else if (argv[i][0] == '-') {
			return cli_usage_error("init", "unknown option '%s'", argv[i]);
		} else {
			return cli_usage_error("init", "unexpected argument '%s'", argv[i]);
		}
	}
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd))) {
		perror("baton: getcwd");
		return EXIT_FAIL;
	}
	struct stat st;
	if (!force && lstat("baton.toml", &st) == 0) {
		fprintf(stderr, "baton: 'baton.toml' already exists; use 'baton init --force' to "
				"overwrite it\n");
		return EXIT_FAIL;
	}
	char *what = NULL, *text;
	char *pkg = config_find_go_main(cwd);
	if (lstat(".air.toml", &st) == 0)
		text = from_air(cwd, &what);
	else if (pkg)
		text = template_go(pkg, &what);
	else
		text = template_generic(&what);
	free(pkg);
	if (!text)
		return EXIT_FAIL;

	/* what we write must load: a failure here is a bug in the templates */
	struct config_diags diags = {0};
	struct config *cfg =
		config_load_buffer("baton.toml", cwd, text, strlen(text), false, &diags, NULL);
	int rc = EXIT_OK;
	if (!cfg) {
		config_diags_print(&diags, 2);
		fprintf(stderr, "baton: internal error: the generated baton.toml does not load\n");
		rc = EXIT_FAIL;
	} else {
		int r = file_write_atomic("baton.toml", text, strlen(text), 0644);
		if (r < 0) {
			fprintf(stderr, "baton: cannot write 'baton.toml': %s\n", strerror(-r));
			rc = EXIT_FAIL;
		} else {
			printf("wrote baton.toml (%s)\n", what);
			printf("next: 'baton check', then 'baton dev'; add .baton/ to "
			       ".gitignore\n");
		}
	}
	config_free(cfg);
	config_diags_release(&diags);
	free(text);
	free(what);
	return rc;
}
