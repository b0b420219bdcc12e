/* One run of a check command, for [[reload]] groups (reload.c) and config sources (source/):
 * `sh -c CMD` in its own session, in cwd, with the environment (plus extra variables such as
 * BATON_FILE); its output lines kept (bounded, indented, control characters escaped, so the
 * output can neither drive the terminal nor pass for one of baton's own lines); its process
 * group SIGKILLed at the timeout; then one verdict: ok, or the rejection reason quoting the
 * output. */
#ifndef BATON_CHECK_CMD_H
#define BATON_CHECK_CMD_H

#include <stdbool.h>
#include <stdint.h>

#define CHECK_OUTPUT_MAX (16 * 1024) /* output bytes kept for the reason; the rest is dropped */

struct loop;
struct child_reaper;
struct check_cmd;

/* Called once, when the check ended. ok: it exited with status 0 within the timeout; reason is
 * then NULL. Otherwise reason says why, with the output: `check "CMD" exited with status 1:\n
 *   │ ...`, `check "CMD" killed by SIGTERM`, or `check "CMD" did not finish within N ms and was
 * killed`; a fresh string the callback owns. c is finished: free it with check_cmd_free(),
 * inside the callback or later. */
typedef void (*check_cmd_done_cb)(struct check_cmd *c, bool ok, char *reason, void *data);

struct check_cmd_spec {
	const char *cmd;	/* run as sh -c CMD; also its label in messages */
	const char *cwd;	/* NULL: baton's */
	const char *const *env; /* complete environment ("K=V", NULL-terminated); NULL: baton's */
	/* "K=V" entries set over env (each replaces env's K), NULL-terminated; or NULL */
	const char *const *extra_env;
	int64_t timeout_ms;	     /* then SIGKILL to its process group */
	struct child_reaper *reaper; /* NULL, or the reaper that must know the child */
	check_cmd_done_cb done;
	void *data;
};

/* Start the check. Returns 0 with *out set, or -errno with a fresh message in *err that the
 * caller frees (`cannot change directory to ...`; done is never called then). The spec stays the
 * caller's: cmd must outlive the check (it is quoted in the reason), the rest is read here. */
int check_cmd_start(struct loop *l, const struct check_cmd_spec *spec, struct check_cmd **out,
		    char **err);
/* Cancel: a running check's process group is SIGKILLed (done is not called). NULL is fine. */
void check_cmd_free(struct check_cmd *c);

#endif
