/* cli — see cli.h.
 *
 * Options are parsed by hand (not getopt) so that `--name` and friends can appear anywhere after the
 * subcommand and every error names the option. */
#include "cli.h"
#include "core/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/nsallow.h"
#include "server.h"
#include "store/store.h"
#include "access/token_table.h"
#include "access/users.h"
#include "core/util.h"
#include "core/version.h"

extern char **environ;

/* The command line works on the store directly, as the operator: what it changes is recorded as an admin's
 * (a suspension's user is "cli"), so a member cannot undo it from the console. */
static const ig_principal_t cli_operator = {.ok = true, .role = IG_ROLE_ADMIN, .user = "cli"};

typedef struct {
    const char *config, *data_dir, *listen;
    const char *name, *max_rps, *burst, *expires, *owner, *reason, *status, *role, *password, *grace, *scopes;
    const char *cidrs, *mode, *namespaces;
    const char *target, *actor, *action, *since; /* icegate audit */
    bool json, password_stdin;
    const char *pos[4];
    int npos;
} opts_t;

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  icegate serve [--config FILE] [--listen ADDR:PORT] [--data-dir DIR]\n"
          "  icegate token create --name NAME [--max-rps R] [--burst B] [--expires 2027-01-31T00:00:00Z|30d]\n"
          "                       [--scopes catalog:read,catalog:write,admin] [--allowed-cidrs 10.0.0.0/8,...|none]\n"
          "                       [--namespaces analytics,raw.events|JSON|none] [--rate-limit-mode enforce|shadow]\n"
          "                       [--owner USER] [--json]\n"
          "  icegate token list [--status active|suspended|expired] [--owner USER] [--json]\n"
          "  icegate token show ID [--json]\n"
          "  icegate token update ID [--name NAME] [--max-rps R|none] [--burst B|none] [--expires T|D|never]\n"
          "                       [--scopes LIST] [--allowed-cidrs LIST|none] [--namespaces LIST|none]\n"
          "                       [--rate-limit-mode enforce|shadow]\n"
          "  icegate token suspend ID [--reason TEXT]\n"
          "  icegate token activate ID\n"
          "  icegate token rotate ID [--grace 1h|SECONDS] [--json]   (default grace 1h; 0 ends the old secret now)\n"
          "  icegate token delete ID\n"
          "  icegate user add NAME [--role admin|member] (--password-stdin | env ICEGATE_NEW_PASSWORD)\n"
          "  icegate audit [--target ID|USER] [--actor USER] [--action ACTION] [--since RFC3339] [--json]\n"
          "  icegate version\n"
          "Every command takes --config FILE and --data-dir DIR; settings: DESIGN.md section 2.\n",
          f);
}

static int parse_opts(int argc, char **argv, int start, opts_t *o)
{
    static const struct {
        const char *flag;
        size_t off;
    } with_value[] = {
        {"--config", offsetof(opts_t, config)},   {"--data-dir", offsetof(opts_t, data_dir)},
        {"--listen", offsetof(opts_t, listen)},   {"--name", offsetof(opts_t, name)},
        {"--max-rps", offsetof(opts_t, max_rps)}, {"--burst", offsetof(opts_t, burst)},
        {"--expires", offsetof(opts_t, expires)}, {"--owner", offsetof(opts_t, owner)},
        {"--reason", offsetof(opts_t, reason)},   {"--status", offsetof(opts_t, status)},
        {"--role", offsetof(opts_t, role)},       {"--grace", offsetof(opts_t, grace)},
        {"--scopes", offsetof(opts_t, scopes)},   {"--allowed-cidrs", offsetof(opts_t, cidrs)},
        {"--rate-limit-mode", offsetof(opts_t, mode)}, {"--namespaces", offsetof(opts_t, namespaces)},
        {"--target", offsetof(opts_t, target)},   {"--actor", offsetof(opts_t, actor)},
        {"--action", offsetof(opts_t, action)},   {"--since", offsetof(opts_t, since)},
    };
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--password-stdin") == 0) {
            o->password_stdin = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) == 0) {
            const char *eq = strchr(a, '=');
            size_t fl = eq ? (size_t)(eq - a) : strlen(a);
            bool found = false;
            for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
                if (strlen(with_value[k].flag) != fl || strncmp(a, with_value[k].flag, fl) != 0) continue;
                const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!v) {
                    fprintf(stderr, "icegate: option %s needs a value\n", with_value[k].flag);
                    return -1;
                }
                *(const char **)(void *)((char *)o + with_value[k].off) = v;
                found = true;
            }
            if (!found) {
                fprintf(stderr, "icegate: unknown option %s\n", a);
                return -1;
            }
            continue;
        }
        if (o->npos == 4) {
            fprintf(stderr, "icegate: unexpected argument %s\n", a);
            return -1;
        }
        o->pos[o->npos++] = a;
    }
    return 0;
}

/* defaults < file < env < flags */
static int load_config(const opts_t *o, ig_config_t *cfg)
{
    char e[600];
    ig_config_defaults(cfg);
    const char *file = o->config ? o->config : getenv("ICEGATE_CONFIG");
    if (file && ig_config_load_file(cfg, file, e, sizeof e)) goto fail;
    if (ig_config_load_env(cfg, environ, e, sizeof e)) goto fail;
    if (o->data_dir && ig_config_set(cfg, "data_dir", o->data_dir, "flag --data-dir", e, sizeof e)) goto fail;
    if (o->listen && ig_config_set(cfg, "server.listen", o->listen, "flag --listen", e, sizeof e)) goto fail;
    if (ig_config_finish(cfg, e, sizeof e)) goto fail;
    ig_log_level_t lvl;
    if (ig_log_parse_level(cfg->log_level, &lvl) == 0) ig_log_set_level(lvl);
    ig_log_set_format(strcmp(cfg->log_format, "json") == 0 ? IG_LOG_JSON : IG_LOG_TEXT);
    return 0;
fail:
    fprintf(stderr, "icegate: %s\n", e);
    return -1;
}

/* ------------------------------------------------------------------ output */

static void print_json(json_object *o)
{
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void fmt_time(int64_t ms, char *buf, size_t cap)
{
    if (!ms) snprintf(buf, cap, "-");
    else ig_rfc3339_format(ms, buf, cap);
}

static void fmt_rps(const ig_token_row_t *t, bool enforced, char *buf, size_t cap)
{
    if (t->max_rps <= 0) snprintf(buf, cap, "unlimited");
    else snprintf(buf, cap, "%g/s (burst %d)%s", t->max_rps, ig_token_effective_burst(t), enforced ? "" : " not enforced");
}

static void print_token_text(const ig_token_row_t *t, bool enforced)
{
    char rps[96], exp[40], created[40], used[40], susp[40];
    int64_t now = ig_clock_wall_ms();
    fmt_rps(t, enforced, rps, sizeof rps);
    fmt_time(t->expires_at_ms, exp, sizeof exp);
    fmt_time(t->created_at_ms, created, sizeof created);
    fmt_time(t->last_used_at_ms, used, sizeof used);
    printf("id:          %s\nname:        %s\nowner:       %s\nprefix:      %s\nstatus:      %s\n"
           "max rps:     %s\nexpires:     %s\ncreated:     %s\nlast used:   %s%s%s\n",
           t->id, t->name, t->owner, t->prefix, ig_token_status(t, now), rps, exp, created, used,
           t->last_used_ip[0] ? " from " : "", t->last_used_ip);
    if (t->suspended) {
        fmt_time(t->suspended_at_ms, susp, sizeof susp);
        char by[IG_USER_MAX + 24] = "";
        const char *role = ig_set_by_name(t->suspended_by_role);
        if (role) snprintf(by, sizeof by, " by %s %s", role, t->suspended_by);
        printf("suspended:   %s%s%s%s\n", susp, by, t->suspend_reason[0] ? " — " : "", t->suspend_reason);
    }
    if (t->max_rps > 0 && ig_set_by_name(t->max_rps_set_by))
        printf("max rps by:  %s\n", ig_set_by_name(t->max_rps_set_by));
    char scopes[64];
    ig_scopes_text(t->scopes, scopes, sizeof scopes);
    printf("scopes:      %s\n", scopes);
    if (t->allowed_cidrs[0]) printf("allowed from: %s\n", t->allowed_cidrs);
    if (t->namespaces[0]) {
        char ns[IG_NS_ALLOW_MAX * 2];
        ig_ns_allow_text(t->namespaces, ns, sizeof ns);
        printf("namespaces:  %s\n", ns);
    }
    if (t->rate_limit_shadow) printf("rate limit:  shadow (over Max RPS is served and counted, not refused)\n");
    if (!enforced && t->max_rps > 0)
        printf("note:        Max RPS is stored but not enforced (features.ratelimiter.enabled=false)\n");
}

typedef struct {
    bool json, enforced;
    json_object *arr;
    int n;
} list_ctx_t;

static int list_row(void *ud, const ig_token_row_t *t)
{
    list_ctx_t *c = ud;
    int64_t now = ig_clock_wall_ms();
    if (c->json) {
        json_object_array_add(c->arr, ig_token_to_json(t, c->enforced, NULL, now));
    } else {
        char rps[96], exp[40], used[40];
        fmt_rps(t, c->enforced, rps, sizeof rps);
        fmt_time(t->expires_at_ms, exp, sizeof exp);
        fmt_time(t->last_used_at_ms, used, sizeof used);
        printf("%-21s %-24.24s %-10.10s %-9s %-10s %-30s %-21s %s\n", t->id, t->name, t->owner, t->prefix,
               ig_token_status(t, now), rps, exp, used);
    }
    c->n++;
    return 0;
}

/* ------------------------------------------------------------------ token commands */

static int parse_spec(const opts_t *o, ig_token_spec_t *s)
{
    memset(s, 0, sizeof *s);
    if (o->name) {
        s->has_name = true;
        if (ig_strlcpy(s->name, o->name, sizeof s->name)) {
            fprintf(stderr, "icegate: --name: must be at most %d characters\n", IG_NAME_MAX);
            return -1;
        }
    }
    if (o->max_rps) {
        s->has_max_rps = true;
        if (strcmp(o->max_rps, "none") != 0 && strcmp(o->max_rps, "null") != 0) {
            char *end;
            s->max_rps = strtod(o->max_rps, &end);
            if (end == o->max_rps || *end || !isfinite(s->max_rps) || s->max_rps <= 0) {
                fprintf(stderr, "icegate: --max-rps: must be a number greater than 0, or none\n");
                return -1;
            }
        }
    }
    if (o->burst) {
        s->has_burst = true;
        int64_t b = 0;
        if (strcmp(o->burst, "none") != 0 && ig_parse_i64(o->burst, 1, 1000000, &b)) {
            fprintf(stderr, "icegate: --burst: must be an integer from 1 to 1000000, or none\n");
            return -1;
        }
        s->burst = (int)b;
    }
    if (o->mode) {
        s->has_mode = true;
        s->shadow = strcmp(o->mode, "shadow") == 0;
        if (!s->shadow && strcmp(o->mode, "enforce") != 0) {
            fprintf(stderr, "icegate: --rate-limit-mode: enforce or shadow\n");
            return -1;
        }
    }
    if (o->cidrs) {
        ig_error_t err;
        s->has_cidrs = true;
        if (ig_token_cidrs_canonical(o->cidrs, s->cidrs, sizeof s->cidrs, &err)) {
            fprintf(stderr, "icegate: --allowed-cidrs: %s\n", err.message);
            return -1;
        }
    }
    if (o->namespaces) {
        ig_error_t err;
        s->has_namespaces = true;
        if (ig_token_namespaces_parse(o->namespaces, s->namespaces, sizeof s->namespaces, &err)) {
            fprintf(stderr, "icegate: --namespaces: %s\n", err.message);
            return -1;
        }
    }
    if (o->scopes) {
        s->has_scopes = true;
        if (ig_scopes_parse(o->scopes, &s->scopes)) {
            fprintf(stderr, "icegate: --scopes: a comma-separated list of catalog:read, catalog:write, admin\n");
            return -1;
        }
    }
    if (o->expires) {
        s->has_expires = true;
        int64_t d;
        if (strcmp(o->expires, "never") == 0 || strcmp(o->expires, "none") == 0) s->expires_at_ms = 0;
        else if (ig_duration_parse(o->expires, &d) == 0) s->expires_at_ms = ig_clock_wall_ms() + d;
        else if (ig_rfc3339_parse(o->expires, &s->expires_at_ms)) {
            fprintf(stderr, "icegate: --expires: use an RFC 3339 time (2027-01-31T00:00:00Z), a duration (30d, "
                            "12h), or never\n");
            return -1;
        } else if (s->expires_at_ms <= ig_clock_wall_ms()) { /* 1970-01-01 parses to 0, which would mean never */
            fprintf(stderr, "icegate: --expires: must be in the future\n");
            return -1;
        }
    }
    return 0;
}

static ig_store_t *open_store(const ig_config_t *cfg)
{
    ig_error_t err;
    ig_store_t *st = ig_store_open(cfg, &err);
    if (!st) fprintf(stderr, "icegate: cannot open the store: %s\n", err.message);
    return st;
}

static int fail_err(const ig_error_t *e)
{
    fprintf(stderr, "icegate: %s\n", e->message);
    return ig_error_status(e) == 404 ? 3 : 1;
}

/* What a token subcommand works with. */
typedef struct {
    const opts_t *o;
    ig_store_t *st;
    ig_token_table_t *ts;
    bool enf; /* features.ratelimiter.enabled */
} token_cmd_t;

static int token_create(token_cmd_t *c)
{
    ig_error_t err;
    ig_token_spec_t spec;
    ig_token_row_t t;
    if (parse_spec(c->o, &spec)) return 1;
    char secret[IG_TOKEN_LEN + 1];
    const char *owner = c->o->owner ? c->o->owner : "admin";
    ig_user_t u;
    if (c->st->ops->user_get(c->st, owner, &u, &err) != 0) {
        fprintf(stderr, "icegate: --owner: no user named '%s'\n", owner);
        return 1;
    }
    if (ig_token_table_create(c->ts, &cli_operator, owner, &spec, secret, &t, &err)) return fail_err(&err);
    if (c->o->json) {
        print_json(ig_token_to_json(&t, c->enf, secret, ig_clock_wall_ms()));
    } else {
        printf("Created access token '%s' (%s).\n\n    %s\n\n"
               "Copy it now: it is shown only this once.  Send it as  X-API-Token: <token>  "
               "(or Authorization: Bearer <token>).\n",
               t.name, t.id, secret);
        if (!c->enf && t.max_rps > 0)
            printf("Note: Max RPS is stored but not enforced (features.ratelimiter.enabled=false).\n");
    }
    memset(secret, 0, sizeof secret);
    return 0;
}

static int token_list(token_cmd_t *c)
{
    ig_error_t err;
    list_ctx_t l = {c->o->json, c->enf, c->o->json ? json_object_new_array() : NULL, 0};
    if (!c->o->json)
        printf("%-21s %-24s %-10s %-9s %-10s %-30s %-21s %s\n", "ID", "NAME", "OWNER", "PREFIX", "STATUS",
               "MAX RPS", "EXPIRES", "LAST USED");
    if (ig_token_table_list(c->ts, c->o->owner, c->o->status, list_row, &l, &err)) {
        json_object_put(l.arr);
        return fail_err(&err);
    }
    if (c->o->json) print_json(l.arr);
    else if (!c->enf) printf("\nNote: Max RPS is stored but not enforced (features.ratelimiter.enabled=false).\n");
    return 0;
}

/* A new secret for token id; the old one works for --grace (a duration, or seconds; default an hour). */
static int token_rotate(token_cmd_t *c, const char *id)
{
    int64_t grace_ms = 3600 * 1000LL, secs;
    if (c->o->grace) {
        if (ig_parse_i64(c->o->grace, 0, IG_ROTATE_GRACE_MAX_MS / 1000, &secs) == 0) grace_ms = secs * 1000;
        else if (ig_duration_parse(c->o->grace, &grace_ms) || grace_ms > IG_ROTATE_GRACE_MAX_MS) {
            fprintf(stderr, "icegate: --grace: use a duration (1h, 30m, 7d; at most 30d) or seconds (0 = at once)\n");
            return 2;
        }
    }
    ig_error_t err;
    ig_token_row_t t;
    char secret[IG_TOKEN_LEN + 1], until[40];
    if (ig_token_table_rotate(c->ts, &cli_operator, id, grace_ms, secret, &t, &err)) return fail_err(&err);
    fmt_time(t.prev_valid_until_ms, until, sizeof until);
    if (c->o->json) {
        print_json(ig_token_to_json(&t, c->enf, secret, ig_clock_wall_ms()));
    } else {
        printf("Rotated access token '%s' (%s).  The new secret:\n\n    %s\n\n"
               "Copy it now: it is shown only this once.  The previous secret works until %s.\n",
               t.name, t.id, secret, until);
    }
    explicit_bzero(secret, sizeof secret);
    return 0;
}

/* show, update, suspend, activate, delete of token id. */
static int token_one(token_cmd_t *c, const char *sub, const char *id)
{
    ig_error_t err;
    ig_token_spec_t spec;
    ig_token_row_t t;
    int r;
    if (strcmp(sub, "show") == 0) {
        r = ig_token_table_get(c->ts, id, &t, &err);
    } else if (strcmp(sub, "update") == 0) {
        if (parse_spec(c->o, &spec)) return 1;
        if (!spec.has_name && !spec.has_max_rps && !spec.has_burst && !spec.has_expires && !spec.has_scopes &&
            !spec.has_cidrs && !spec.has_mode && !spec.has_namespaces) {
            fprintf(stderr, "icegate: token update: nothing to change (--name, --max-rps, --burst, --expires, "
                            "--scopes, --allowed-cidrs, --namespaces, --rate-limit-mode)\n");
            return 2;
        }
        r = ig_token_table_update(c->ts, &cli_operator, id, &spec, &t, &err);
    } else if (strcmp(sub, "suspend") == 0) {
        r = ig_token_table_suspend(c->ts, &cli_operator, id, c->o->reason, &t, &err);
    } else if (strcmp(sub, "activate") == 0) {
        r = ig_token_table_activate(c->ts, &cli_operator, id, &t, &err);
    } else if (strcmp(sub, "delete") == 0) {
        if (ig_token_table_delete(c->ts, &cli_operator, id, &err)) return fail_err(&err);
        if (c->o->json) printf("{\"deleted\": \"%s\"}\n", id);
        else printf("Deleted access token %s.\n", id);
        return 0;
    } else {
        fprintf(stderr, "icegate: unknown token command '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    if (r) return fail_err(&err);
    if (c->o->json) print_json(ig_token_to_json(&t, c->enf, NULL, ig_clock_wall_ms()));
    else print_token_text(&t, c->enf);
    return 0;
}

static int cmd_token(const opts_t *o, const ig_config_t *cfg)
{
    if (o->npos < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = o->pos[1], *id = o->npos > 2 ? o->pos[2] : NULL;
    bool needs_id = strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0;
    if (needs_id && !id) {
        fprintf(stderr, "icegate: token %s needs a token ID\n", sub);
        return 2;
    }
    ig_error_t err;
    ig_store_t *st = open_store(cfg);
    if (!st) return 1;
    token_cmd_t c = {o, st, ig_token_table_new(st, false, cfg->ratelimiter_enabled), cfg->ratelimiter_enabled};
    int rc;
    /* the CLI writes the events of its changes too; the server's notifier delivers them */
    if (c.ts) ig_token_table_set_events(c.ts, cfg->webhook_url[0] != '\0');
    if (!c.ts) rc = 1;
    else if (ig_users_bootstrap(st, &err)) rc = fail_err(&err);
    else if (strcmp(sub, "create") == 0) rc = token_create(&c);
    else if (strcmp(sub, "list") == 0) rc = token_list(&c);
    else if (strcmp(sub, "rotate") == 0) rc = token_rotate(&c, id);
    else rc = token_one(&c, sub, id);
    ig_token_table_free(c.ts);
    ig_store_close(st);
    return rc;
}

static int cmd_user(const opts_t *o, const ig_config_t *cfg)
{
    if (o->npos < 3 || strcmp(o->pos[1], "add") != 0) {
        usage(stderr);
        return 2;
    }
    char pw[1100] = "";
    if (o->password_stdin) {
        if (!fgets(pw, sizeof pw, stdin)) pw[0] = '\0';
        pw[strcspn(pw, "\r\n")] = '\0';
    } else if (getenv("ICEGATE_NEW_PASSWORD")) {
        snprintf(pw, sizeof pw, "%s", getenv("ICEGATE_NEW_PASSWORD"));
    } else {
        fprintf(stderr, "icegate: user add: give the password on stdin with --password-stdin\n");
        return 2;
    }
    ig_role_t role = IG_ROLE_MEMBER;
    if (o->role && strcmp(o->role, "admin") == 0) role = IG_ROLE_ADMIN;
    else if (o->role && strcmp(o->role, "member") != 0) {
        fprintf(stderr, "icegate: --role: must be admin or member\n");
        return 2;
    }
    ig_error_t err;
    ig_store_t *st = open_store(cfg);
    if (!st) return 1;
    int rc = ig_users_bootstrap(st, &err) || ig_users_create(st, &cli_operator, o->pos[2], role, pw, &err) ? fail_err(&err) : 0;
    if (rc == 0) printf("Created user %s (%s).\n", o->pos[2], role == IG_ROLE_ADMIN ? "admin" : "member");
    memset(pw, 0, sizeof pw);
    ig_store_close(st);
    return rc;
}

/* ------------------------------------------------------------------ audit */

typedef struct {
    bool json;
    json_object *arr;
} audit_ctx_t;

static int audit_row(void *ud, const ig_audit_entry_t *e)
{
    audit_ctx_t *c = ud;
    char at[40];
    ig_rfc3339_format(e->at_ms, at, sizeof at);
    if (!c->json) {
        printf("%-24s %-16s %-22s %-22s %-15s %s\n", at, e->actor, e->action, e->target,
               e->client_ip[0] ? e->client_ip : "-", e->details ? e->details : "{}");
        return 0;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(e->id));
    json_object_object_add(o, "at", json_object_new_string(at));
    json_object_object_add(o, "actor", json_object_new_string(e->actor));
    json_object_object_add(o, "actorTokenId", e->actor_token_id[0] ? json_object_new_string(e->actor_token_id) : NULL);
    json_object_object_add(o, "action", json_object_new_string(e->action));
    json_object_object_add(o, "target", json_object_new_string(e->target));
    json_object *d = e->details ? json_tokener_parse(e->details) : NULL;
    json_object_object_add(o, "details", d ? d : json_object_new_object());
    json_object_object_add(o, "clientIp", e->client_ip[0] ? json_object_new_string(e->client_ip) : NULL);
    json_object_array_add(c->arr, o);
    return 0;
}

/* The newest 1000 entries matching the filters (the API pages further). */
static int cmd_audit(const opts_t *o, const ig_config_t *cfg)
{
    ig_audit_query_t q = {.target = o->target, .actor = o->actor, .action = o->action, .limit = 1000};
    if (o->since && ig_rfc3339_parse(o->since, &q.since_ms)) {
        fprintf(stderr, "icegate: --since: not an RFC 3339 time (e.g. 2026-01-31T00:00:00Z)\n");
        return 2;
    }
    ig_store_t *st = open_store(cfg);
    if (!st) return 1;
    audit_ctx_t c = {o->json, o->json ? json_object_new_array() : NULL};
    if (!o->json) printf("%-24s %-16s %-22s %-22s %-15s %s\n", "AT", "ACTOR", "ACTION", "TARGET", "CLIENT", "DETAILS");
    ig_error_t err;
    int rc = st->ops->audit_list(st, &q, audit_row, &c, &err) ? fail_err(&err) : 0;
    if (rc == 0 && o->json) print_json(c.arr);
    else json_object_put(c.arr);
    ig_store_close(st);
    return rc;
}

int ig_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("icegate %s\n", IG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    opts_t o;
    memset(&o, 0, sizeof o);
    o.pos[o.npos++] = cmd;
    if (parse_opts(argc, argv, 2, &o)) return 2;
    ig_config_t cfg;
    if (load_config(&o, &cfg)) return 2;
    if (strcmp(cmd, "serve") == 0) {
        if (o.npos > 1) {
            fprintf(stderr, "icegate: serve takes no arguments (got %s)\n", o.pos[1]);
            return 2;
        }
        return ig_server_run(&cfg);
    }
    if (strcmp(cmd, "token") == 0) return cmd_token(&o, &cfg);
    if (strcmp(cmd, "user") == 0) return cmd_user(&o, &cfg);
    if (strcmp(cmd, "audit") == 0) return cmd_audit(&o, &cfg);
    fprintf(stderr, "icegate: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
