/* Zero-config: no baton.toml, no .air.toml, but a Go main package in the current directory.
 * Build it into .baton/bin/app, run that, watch the usual Go source files. No [[listen]]: baton
 * cannot know which port the app binds, and taking one the app also binds would break it, so
 * the app keeps binding its own port (PORT is left to it). */
#include "config/config_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/strv.h"
#include "util/xalloc.h"

/* The package clause after comments and blank space: "package main" → true. */
static bool source_is_main(const char *s)
{
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (s[0] == '/' && s[1] == '/') {
			s = strchr(s, '\n');
			if (!s)
				return false;
		} else if (s[0] == '/' && s[1] == '*') {
			s = strstr(s + 2, "*/");
			if (!s)
				return false;
			s += 2;
		} else {
			break;
		}
	}
	if (strncmp(s, "package", 7) != 0 || !isspace((unsigned char)s[7]))
		return false;
	s += 7;
	while (*s == ' ' || *s == '\t')
		s++;
	return strncmp(s, "main", 4) == 0 && !isalnum((unsigned char)s[4]) && s[4] != '_';
}

static bool dir_has_main(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 4 || strcmp(e->d_name + n - 3, ".go") != 0 || e->d_name[0] == '.')
			continue;
		if (n >= 8 && strcmp(e->d_name + n - 8, "_test.go") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name), *data;
		size_t len;
		if (file_read_all(p, 1u << 20, &data, &len) == 0) {
			found = source_is_main(data);
			free(data);
		}
		free(p);
	}
	closedir(d);
	return found;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *config_find_go_main(const char *dir)
{
	if (dir_has_main(dir))
		return xstrdup(".");
	char *cmd = xasprintf("%s/cmd", dir);
	DIR *d = opendir(cmd);
	char *found = NULL;
	if (d) {
		struct strv names = STRV_INIT;
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				strv_push(&names, e->d_name);
		closedir(d);
		if (names.n)
			qsort(names.v, names.n, sizeof(char *), cmp_str);
		for (size_t i = 0; i < names.n && !found; i++) {
			char *sub = xasprintf("%s/%s", cmd, names.v[i]);
			if (dir_has_main(sub))
				found = xasprintf("./cmd/%s", names.v[i]);
			free(sub);
		}
		strv_release(&names);
	}
	free(cmd);
	return found;
}

struct config *config_load_default(const char *dir)
{
	struct config *cfg = config_new();
	char *pkg = config_find_go_main(dir);
	cfg->source = CONFIG_SRC_DEFAULT;
	cfg->dir = config_path_resolve("/", dir);
	free(cfg->root);
	cfg->root = xstrdup(cfg->dir);
	cfg->build.cmd = xasprintf("go build -o .baton/bin/app %s", pkg ? pkg : ".");
	cfg->run.cmd = xstrdup(".baton/bin/app");
	cfg->run.ready = READY_EXEC;
	free(pkg);
	return cfg;
}
