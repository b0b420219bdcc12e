/* baton check [-c FILE] [--print]: load the config the way `baton dev` and `baton run` would,
 * report every problem as file:line:col, or print a one-line summary (or the effective config
 * as a commented baton.toml). Every [[tls]] pair is then validated with certcheck, with the
 * messages a reload would log: problems and warnings on stderr, one line per good pair on
 * stdout. Exit 0 valid (warnings allowed), 1 not, 2 usage. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tls/certcheck.h"
#include "cmd/cli.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "util/strv.h"
#include "util/xalloc.h"

static void help(void)
{
	printf("usage: baton check [-c FILE] [--print]\n\n"
	       "Validate the config and report every problem as file:line:col: message, then\n"
	       "validate every [[tls]] certificate and key (PEM, key match, validity, hostnames,\n"
	       "chain) with the messages a reload would log.\n"
	       "Exit 0 when it is valid (warnings allowed), 1 when it is not, 2 on a usage "
	       "error.\n\n"
	       "options:\n"
	       "  -c, --config FILE  the config to check (default: ./baton.toml, else ./.air.toml\n"
	       "                     read as air's format, else zero-config defaults for a Go\n"
	       "                     main package)\n"
	       "      --print        print the effective config as a commented baton.toml\n"
	       "  -h, --help         show this help\n");
}

static const char *plural(int n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void summary(const struct config *cfg, const char *name)
{
	printf("%s: ok", name);
	if (cfg->source == CONFIG_SRC_AIR)
		printf(" (air's format)");
	if (cfg->build.cmd)
		printf(" — build \"%s\"", cfg->build.cmd);
	else
		printf(" — no build step");
	printf(", run \"%s\"", cfg->run.cmd);
	if (cfg->nlisten)
		printf(", %d %s", cfg->nlisten, plural(cfg->nlisten, "listener", "listeners"));
	else
		printf(", no listener");
	int np = (int)cfg->watch.paths.n;
	printf(", watching %d %s", np, plural(np, "path", "paths"));
	if (cfg->nreload)
		printf(", %d reload %s", cfg->nreload, plural(cfg->nreload, "rule", "rules"));
	if (cfg->ntls)
		printf(", %d %s", cfg->ntls, plural(cfg->ntls, "certificate", "certificates"));
	if (cfg->nsources)
		printf(", %d config %s", cfg->nsources, plural(cfg->nsources, "source", "sources"));
	printf("\n");
}

/* Validate every [[tls]] pair into res[] (cfg->ntls of them; the caller frees each). Returns
 * the number of problems. */
static int check_certs(const struct config *cfg, struct certcheck_result *res)
{
	int nproblems = 0;
	for (int i = 0; i < cfg->ntls; i++) {
		const struct cfg_tls *t = &cfg->tls[i];
		struct certcheck_opts o = {
			.cert = t->cert,
			.key = t->key,
			.root = cfg->root,
			.hostnames = (const char *const *)t->hostnames.v,
			.ca = t->ca,
		};
		certcheck_pair(&o, &res[i]);
		nproblems += (int)res[i].problems.n;
	}
	return nproblems;
}

/* Problems and warnings to stderr; with ok_lines, a line per good pair to stdout. */
static void report_certs(const struct config *cfg, const struct certcheck_result *res,
			 bool ok_lines)
{
	for (int i = 0; i < cfg->ntls; i++) {
		const struct certcheck_result *r = &res[i];
		for (size_t p = 0; p < r->problems.n; p++)
			fprintf(stderr, "%s\n", r->problems.v[p]);
		if (r->warning)
			fprintf(stderr, "warning: %s\n", r->warning);
		if (r->ok && ok_lines) {
			char when[40];
			struct tm tm;
			time_t na = r->not_after;
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&na, &tm));
			printf("\"%s\": ok — serial %s, valid until %s\n", cfg->tls[i].cert,
			       r->serial, when);
		}
	}
}

int cmd_check(int argc, char **argv)
{
	const char *file = NULL;
	bool print = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help();
			return EXIT_OK;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error("check", "'%s' needs a file", a);
			file = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			file = a + 9;
		} else if (strncmp(a, "-c", 2) == 0) {
			file = a + 2;
		} else if (strcmp(a, "--print") == 0) {
			print = true;
		} else if (a[0] == '-') {
			return cli_usage_error("check", "unknown option '%s'", a);
		} else {
			return cli_usage_error("check", "unexpected argument '%s'", a);
		}
	}
	if (file && !*file)
		return cli_usage_error("check", "empty config file name");

	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd))) {
		perror("baton: getcwd");
		return EXIT_FAIL;
	}
	struct config_diags diags = {0};
	struct strv notes = STRV_INIT;
	struct config *cfg = config_load(file, cwd, &diags, &notes);
	fflush(stdout);
	config_notes_print(&notes, 2);
	strv_release(&notes);
	if (!cfg) {
		config_diags_print(&diags, 2);
		int n = diags.n;
		if (n && diags.v[0].line)
			fprintf(stderr, "baton: %s is not valid (%d %s)\n", diags.v[0].file, n,
				plural(n, "error", "errors"));
		config_diags_release(&diags);
		return EXIT_FAIL;
	}
	config_diags_release(&diags);
	const char *name = file;
	if (!name)
		name = cfg->source == CONFIG_SRC_FILE  ? "baton.toml"
		       : cfg->source == CONFIG_SRC_AIR ? ".air.toml"
						       : "zero-config (Go main package)";
	struct certcheck_result *res = xcalloc((size_t)cfg->ntls + 1, sizeof(*res));
	int nproblems = check_certs(cfg, res);
	if (print) {
		char *s = config_to_toml(cfg);
		fputs(s, stdout);
		free(s);
	} else if (!nproblems) {
		summary(cfg, name);
	}
	fflush(stdout);
	report_certs(cfg, res, !print);
	if (nproblems)
		fprintf(stderr,
			"baton: %s: the config is valid, its certificates are not (%d %s)\n", name,
			nproblems, plural(nproblems, "problem", "problems"));
	for (int i = 0; i < cfg->ntls; i++)
		certcheck_result_release(&res[i]);
	free(res);
	config_free(cfg);
	if (fflush(stdout) != 0)
		return EXIT_FAIL;
	return nproblems ? EXIT_FAIL : EXIT_OK;
}
