/* cli — the command line: `icegate serve|token|user|version` (DESIGN.md section 2).  Token and user
 * commands work on the store directly, whether or not a server is running; a running server picks the
 * change up within tokens.poll_interval_ms. */
#ifndef IG_CLI_H
#define IG_CLI_H

/* Runs the command line; returns the process exit code. */
int ig_cli_main(int argc, char **argv);

#endif
