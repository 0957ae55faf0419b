/*
 * grubcfg.c: the default entry of a menu.lst or grub.cfg (grubcfg.h).
 *
 * GRUB legacy (menu.lst): one command per line, "keyword args" or
 * "keyword=args"; "default N" before the first "title" picks the entry;
 * an entry's "kernel PATH ARGS..." and "initrd PATH"; everything else
 * (root, timeout, hiddenmenu, ...) is ignored.
 *
 * GRUB 2 (grub.cfg): a shell-like language. Words are split on blanks,
 * with 'single' and "double" quotes and backslash escapes; $name and
 * ${name} expand (not inside single quotes) to values given by "set
 * name=value", or to nothing. Statements end at a newline or ';'. Only
 * "set", "menuentry TITLE [--id ID] ... {", "submenu TITLE ... {",
 * "function NAME {" (skipped) and "}" mean anything at the top level;
 * if/then/else/fi keywords are dropped and the statements between them
 * all run in order (Debian's "if [ "${next_entry}" ]; then ... else set
 * default="0" fi" ends with the else branch, as when next_entry is unset).
 * Inside the chosen entry: "set", "linux"/"linux16"/"linuxefi" PATH
 * ARGS..., "initrd"/"initrd16"/"initrdefi" PATH...; search, insmod,
 * echo and the rest are ignored. A "(hd0,gpt1)" or "($root)" device
 * prefix on a path is dropped: files are read from the file system that
 * holds the configuration.
 *
 * Bounds: GRUBCFG_MAX_TEXT bytes of text, GC_STMT_MAX bytes and GC_WORDS
 * words per statement, GC_VARS variables, GC_ITEMS entries and submenus,
 * GC_DEPTH nested blocks.
 */
#include "errfmt.h"
#include "grubcfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_STMT_MAX	8192	/* expanded bytes of one statement */
#define GC_WORDS	256
#define GC_VARS		64
#define GC_VAR_NAME	32
#define GC_VAR_VAL	512
#define GC_ITEMS	256
#define GC_DEPTH	8
#define GC_TITLE	128

struct gc_item {
	char title[GC_TITLE];
	char id[GC_TITLE];
	int parent;		/* index of its submenu, or -1 */
	int is_sub;
	const char *body, *body_end;
};

struct gc {
	const char *p, *end;
	unsigned line;
	struct grubcfg_error *e;
	char names[GC_VARS][GC_VAR_NAME];
	char vals[GC_VARS][GC_VAR_VAL];
	unsigned nvars;
	struct gc_item item[GC_ITEMS];
	unsigned nitems;
	/* the current statement */
	char buf[GC_STMT_MAX];
	size_t blen;
	char *w[GC_WORDS];
	int wq[GC_WORDS];	/* the word had quotes (so "{" is not a brace) */
	unsigned nw;
};

#define gc_fail(e, err, ...) ERRFMT(e, err, __VA_ARGS__)

/* ---- variables --------------------------------------------------------------- */

static const char *
gc_get(const struct gc *g, const char *name)
{
	for (unsigned i = 0; i < g->nvars; i++)
		if (strcmp(g->names[i], name) == 0)
			return g->vals[i];
	return "";
}

/* "set NAME=VALUE": longer names or values, or too many, are refused. */
static int
gc_set(struct gc *g, const char *assign)
{
	const char *eq = strchr(assign, '=');
	size_t nl, vl;
	unsigned i;

	if (eq == NULL)
		return 0;	/* "set" alone or "set NAME": nothing to keep */
	nl = (size_t)(eq - assign);
	vl = strlen(eq + 1);
	if (nl == 0 || nl >= GC_VAR_NAME || vl >= GC_VAR_VAL)
		return gc_fail(g->e, -EINVAL, "line %u: set %.40s: name or "
		    "value too long", g->line, assign);
	for (i = 0; i < g->nvars; i++)
		if (strncmp(g->names[i], assign, nl) == 0 &&
		    g->names[i][nl] == '\0')
			break;
	if (i == g->nvars) {
		if (g->nvars >= GC_VARS)
			return gc_fail(g->e, -EINVAL, "line %u: more than %d "
			    "variables", g->line, GC_VARS);
		g->nvars++;
		memcpy(g->names[i], assign, nl);
		g->names[i][nl] = '\0';
	}
	memcpy(g->vals[i], eq + 1, vl + 1);
	return 0;
}

/* ---- the lexer --------------------------------------------------------------- */

static int
gc_put(struct gc *g, char c)
{
	if (g->blen + 1 >= sizeof(g->buf))
		return gc_fail(g->e, -EINVAL, "line %u: statement longer than "
		    "%d bytes", g->line, GC_STMT_MAX);
	g->buf[g->blen++] = c;
	return 0;
}

static int
gc_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* At '$': expand $name, ${name} or a special ($?, $#, ...: empty). */
static int
gc_dollar(struct gc *g)
{
	char name[GC_VAR_NAME];
	size_t n = 0;
	const char *v;
	int brace;

	g->p++;
	brace = g->p < g->end && *g->p == '{';
	if (brace)
		g->p++;
	while (g->p < g->end && gc_name_char(*g->p)) {
		if (n + 1 >= sizeof(name))
			return gc_fail(g->e, -EINVAL, "line %u: variable name "
			    "too long", g->line);
		name[n++] = *g->p++;
	}
	name[n] = '\0';
	if (brace) {
		if (g->p >= g->end || *g->p != '}')
			return gc_fail(g->e, -EINVAL, "line %u: unterminated "
			    "${", g->line);
		g->p++;
	} else if (n == 0) {
		if (g->p < g->end && strchr("?#@*", *g->p))
			g->p++;		/* specials expand to nothing */
		else
			return gc_put(g, '$');	/* a lone '$' */
	}
	for (v = gc_get(g, name); *v; v++)
		if (gc_put(g, *v) < 0)
			return -EINVAL;
	return 0;
}

/* A quoted run: ' (literal) or " (with $ and \ escapes). */
static int
gc_quoted(struct gc *g, char q)
{
	unsigned start = g->line;

	g->p++;
	while (g->p < g->end && *g->p != q) {
		if (*g->p == '\n')
			g->line++;
		if (q == '"' && *g->p == '$') {
			if (gc_dollar(g) < 0)
				return -EINVAL;
			continue;
		}
		if (q == '"' && *g->p == '\\' && g->p + 1 < g->end &&
		    strchr("$\"\\\n", g->p[1]))
			g->p++;
		if (gc_put(g, *g->p++) < 0)
			return -EINVAL;
	}
	if (g->p >= g->end)
		return gc_fail(g->e, -EINVAL, "line %u: unterminated %c quote",
		    start, q);
	g->p++;
	return 0;
}

static int
gc_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* One word into the statement buffer. */
static int
gc_word(struct gc *g)
{
	size_t start = g->blen;
	int quoted = 0;

	if (g->nw >= GC_WORDS)
		return gc_fail(g->e, -EINVAL, "line %u: more than %d words",
		    g->line, GC_WORDS);
	while (g->p < g->end && !gc_blank(*g->p) && *g->p != '\n' &&
	    *g->p != ';') {
		if (*g->p == '\'' || *g->p == '"') {
			quoted = 1;
			if (gc_quoted(g, *g->p) < 0)
				return -EINVAL;
		} else if (*g->p == '$') {
			if (gc_dollar(g) < 0)
				return -EINVAL;
		} else if (*g->p == '\\' && g->p + 1 < g->end) {
			quoted = 1;
			if (g->p[1] == '\n') {	/* line continuation */
				g->p += 2;
				g->line++;
				continue;
			}
			if (gc_put(g, g->p[1]) < 0)
				return -EINVAL;
			g->p += 2;
		} else if (gc_put(g, *g->p++) < 0)
			return -EINVAL;
	}
	if (gc_put(g, '\0') < 0)
		return -EINVAL;
	g->wq[g->nw] = quoted;
	g->w[g->nw++] = g->buf + start;
	return 0;
}

static int
gc_is(const struct gc *g, unsigned i, const char *s)
{
	return i < g->nw && !g->wq[i] && strcmp(g->w[i], s) == 0;
}

/*
 * The next statement into g->w (g->nw words; 0 at the end of the text).
 * It ends at a newline, ';', after a "{" word, or after a "}" that starts
 * it.
 */
static int
gc_stmt(struct gc *g)
{
	g->blen = 0;
	g->nw = 0;
	while (g->p < g->end) {
		if (gc_blank(*g->p)) {
			g->p++;
			continue;
		}
		if (*g->p == '\n' || *g->p == ';') {
			if (*g->p++ == '\n')
				g->line++;
			if (g->nw)
				return 0;
			continue;
		}
		if (*g->p == '#' && g->nw == 0) {
			while (g->p < g->end && *g->p != '\n')
				g->p++;
			continue;
		}
		if (gc_word(g) < 0)
			return -EINVAL;
		if (gc_is(g, g->nw - 1, "{") ||
		    (g->nw == 1 && gc_is(g, 0, "}")))
			return 0;
	}
	return 0;
}

/* ---- GRUB 2: the entries ------------------------------------------------------ */

/* Skip a block's body up to its closing "}"; *body_end is where it starts. */
static int
gc_skip_block(struct gc *g, const char **body_end)
{
	unsigned depth = 1, start = g->line;
	const char *before;
	int err;

	for (;;) {
		before = g->p;
		if ((err = gc_stmt(g)) < 0)
			return err;
		if (g->nw == 0)
			return gc_fail(g->e, -EINVAL, "line %u: block has no "
			    "closing }", start);
		if (gc_is(g, g->nw - 1, "{") && ++depth > GC_DEPTH)
			return gc_fail(g->e, -EINVAL, "line %u: blocks nested "
			    "deeper than %d", g->line, GC_DEPTH);
		if (gc_is(g, 0, "}") && --depth == 0) {
			if (body_end)
				*body_end = before;
			return 0;
		}
	}
}

static int
gc_add_item(struct gc *g, int parent, int is_sub)
{
	struct gc_item *it;

	if (g->nitems >= GC_ITEMS)
		return gc_fail(g->e, -EINVAL, "line %u: more than %d menu "
		    "entries", g->line, GC_ITEMS);
	it = &g->item[g->nitems++];
	memset(it, 0, sizeof(*it));
	it->parent = parent;
	it->is_sub = is_sub;
	snprintf(it->title, sizeof(it->title), "%s", g->nw > 2 ? g->w[1] : "");
	for (unsigned i = 2; i + 1 < g->nw; i++)
		if (strcmp(g->w[i], "--id") == 0)
			snprintf(it->id, sizeof(it->id), "%s", g->w[i + 1]);
	it->body = g->p;
	return (int)(g->nitems - 1);
}

/* Pass 1: run the top level ("set"), record entries and submenus. */
static int
gc_scan(struct gc *g)
{
	int stack[GC_DEPTH], depth = 0, idx, err;
	unsigned first;

	for (;;) {
		if ((err = gc_stmt(g)) < 0)
			return err;
		if (g->nw == 0)
			break;
		first = (gc_is(g, 0, "then") || gc_is(g, 0, "else") ||
		    gc_is(g, 0, "do")) ? 1 : 0;
		if (gc_is(g, first, "set") && first + 1 < g->nw &&
		    depth == 0) {
			if ((err = gc_set(g, g->w[first + 1])) < 0)
				return err;
		} else if ((gc_is(g, first, "menuentry") ||
		    gc_is(g, first, "submenu")) && gc_is(g, g->nw - 1, "{")) {
			int sub = gc_is(g, first, "submenu");

			if (first) {	/* keep w[0] the keyword */
				memmove(g->w, g->w + 1, --g->nw * sizeof(g->w[0]));
				memmove(g->wq, g->wq + 1, g->nw * sizeof(g->wq[0]));
			}
			idx = gc_add_item(g, depth ? stack[depth - 1] : -1, sub);
			if (idx < 0)
				return idx;
			if (sub) {
				if (depth >= GC_DEPTH)
					return gc_fail(g->e, -EINVAL, "line %u: "
					    "submenus nested too deep", g->line);
				stack[depth++] = idx;
			} else if ((err = gc_skip_block(g,
			    &g->item[idx].body_end)) < 0)
				return err;
		} else if (gc_is(g, g->nw - 1, "{")) {
			/* function NAME {, or any other block: skipped */
			if ((err = gc_skip_block(g, NULL)) < 0)
				return err;
		} else if (gc_is(g, 0, "}")) {
			if (depth == 0)
				return gc_fail(g->e, -EINVAL, "line %u: } "
				    "without a block", g->line);
			depth--;
		}
	}
	if (depth)
		return gc_fail(g->e, -EINVAL, "submenu '%s' has no closing }",
		    g->item[stack[depth - 1]].title);
	return 0;
}

/* The n-th child of parent, or the one with this title or id; -1 if none. */
static int
gc_child(const struct gc *g, int parent, const char *sel)
{
	char *end;
	long n = -1;
	int k = 0;

	if (*sel >= '0' && *sel <= '9') {
		n = strtol(sel, &end, 10);
		if (*end != '\0')
			n = -1;
	}
	for (unsigned i = 0; i < g->nitems; i++) {
		if (g->item[i].parent != parent)
			continue;
		if (k++ == n || (n < 0 && (strcmp(g->item[i].title, sel) == 0 ||
		    (g->item[i].id[0] && strcmp(g->item[i].id, sel) == 0))))
			return (int)i;
	}
	return -1;
}

/* The entry "default" names ("2", "1>0", a title, an id); else entry 0. */
static int
gc_default(const struct gc *g)
{
	char sel[GC_VAR_VAL], *part, *save = NULL;
	int cur = -1, it;

	snprintf(sel, sizeof(sel), "%s", gc_get(g, "default"));
	for (part = strtok_r(sel, ">", &save); part;
	    part = strtok_r(NULL, ">", &save)) {
		if ((it = gc_child(g, cur, part)) < 0) {
			cur = -1;
			break;
		}
		cur = it;
	}
	if (cur < 0)
		cur = gc_child(g, -1, "0");
	/* A submenu: its first entry, and so on down. */
	for (unsigned i = 0; cur >= 0 && g->item[cur].is_sub && i < GC_DEPTH;
	    i++)
		cur = gc_child(g, cur, "0");
	return cur >= 0 && !g->item[cur].is_sub ? cur : -1;
}

/* ---- the chosen entry ----------------------------------------------------------- */

/* Drop a "(device)" prefix; the path must then be absolute. */
static int
gc_path(struct grubcfg_error *e, const char *what, const char *in, char **out)
{
	const char *p = in;

	if (*p == '(') {
		p = strchr(p, ')');
		if (p == NULL)
			return gc_fail(e, -EINVAL, "%s path '%.60s': no ')' "
			    "after the device", what, in);
		p++;
	}
	if (*p != '/')
		return gc_fail(e, -EINVAL, "%s path '%.60s' is not absolute",
		    what, in);
	if ((*out = strdup(p)) == NULL)
		return gc_fail(e, -ENOMEM, "out of memory");
	return 0;
}

/* Words w[from..n) joined by spaces. */
static int
gc_join(struct grubcfg_error *e, char *const *w, unsigned from, unsigned n,
    char **out)
{
	size_t len = 0, o = 0;
	char *s;

	for (unsigned i = from; i < n; i++)
		len += strlen(w[i]) + 1;
	if (len > GRUBCFG_MAX_CMDLINE)
		return gc_fail(e, -EINVAL, "kernel command line longer than "
		    "%d bytes", GRUBCFG_MAX_CMDLINE);
	if ((s = malloc(len + 1)) == NULL)
		return gc_fail(e, -ENOMEM, "out of memory");
	for (unsigned i = from; i < n; i++) {
		if (o)
			s[o++] = ' ';
		memcpy(s + o, w[i], strlen(w[i]));
		o += strlen(w[i]);
	}
	s[o] = '\0';
	free(*out);
	*out = s;
	return 0;
}

static int
gc_set_kernel(struct grubcfg_entry *ent, char *const *w, unsigned n,
    struct grubcfg_error *e)
{
	unsigned i = 1;
	int err;

	while (i < n && strncmp(w[i], "--", 2) == 0)
		i++;	/* legacy "kernel --type=netbsd ...", "--no-mem-option" */
	if (i >= n)
		return gc_fail(e, -EINVAL, "'%s' names no kernel", w[0]);
	free(ent->kernel);
	ent->kernel = NULL;
	if ((err = gc_path(e, "kernel", w[i], &ent->kernel)) < 0)
		return err;
	return gc_join(e, w, i + 1, n, &ent->cmdline);
}

static int
gc_add_initrds(struct grubcfg_entry *ent, char *const *w, unsigned n,
    struct grubcfg_error *e)
{
	int err;

	for (unsigned i = 1; i < n; i++) {
		if (strncmp(w[i], "--", 2) == 0)
			continue;
		if (ent->ninitrd >= GRUBCFG_MAX_INITRD)
			return gc_fail(e, -EINVAL, "more than %d initrd files",
			    GRUBCFG_MAX_INITRD);
		if ((err = gc_path(e, "initrd", w[i],
		    &ent->initrd[ent->ninitrd])) < 0)
			return err;
		ent->ninitrd++;
	}
	return 0;
}

/* Pass 2: run the chosen entry's body. */
static int
gc_entry(struct gc *g, const struct gc_item *it, struct grubcfg_entry *out)
{
	int err;

	g->p = it->body;
	g->end = it->body_end;
	for (;;) {
		if ((err = gc_stmt(g)) < 0)
			return err;
		if (g->nw == 0)
			break;
		if (gc_is(g, 0, "set") && g->nw > 1)
			err = gc_set(g, g->w[1]);
		else if (gc_is(g, 0, "linux") || gc_is(g, 0, "linux16") ||
		    gc_is(g, 0, "linuxefi"))
			err = gc_set_kernel(out, g->w, g->nw, g->e);
		else if (gc_is(g, 0, "initrd") || gc_is(g, 0, "initrd16") ||
		    gc_is(g, 0, "initrdefi"))
			err = gc_add_initrds(out, g->w, g->nw, g->e);
		if (err < 0)
			return err;
	}
	if (out->kernel == NULL)
		return gc_fail(g->e, -EINVAL, "menu entry '%s' has no linux "
		    "command", it->title);
	return 0;
}

static int
gc_grub2(struct gc *g, struct grubcfg_entry *out)
{
	int err, idx;

	if ((err = gc_scan(g)) < 0)
		return err;
	if ((idx = gc_default(g)) < 0)
		return gc_fail(g->e, -EINVAL, "no menuentry");
	if ((out->title = strdup(g->item[idx].title)) == NULL)
		return gc_fail(g->e, -ENOMEM, "out of memory");
	return gc_entry(g, &g->item[idx], out);
}

/* ---- GRUB legacy ------------------------------------------------------------------- */

/* One menu.lst word at *s: up to a blank (or '=' when stop_eq). */
static int
gc_legacy_word(struct gc *g, const char **s, const char *end, int stop_eq,
    int rest)
{
	if (g->nw >= GC_WORDS)
		return gc_fail(g->e, -EINVAL, "line %u: more than %d words",
		    g->line, GC_WORDS);
	g->wq[g->nw] = 0;
	g->w[g->nw++] = g->buf + g->blen;
	while (*s < end && (rest || (!gc_blank(**s) &&
	    !(stop_eq && **s == '='))))
		if (gc_put(g, *(*s)++) < 0)
			return -EINVAL;
	return gc_put(g, '\0');
}

/* Split one menu.lst line into g->w: the keyword, then blank-separated
 * words (the first separator may be '='); "title" keeps the rest whole. */
static int
gc_legacy_line(struct gc *g, const char *s, const char *end)
{
	int title;

	g->blen = 0;
	g->nw = 0;
	while (end > s && gc_blank(end[-1]))
		end--;
	if (gc_legacy_word(g, &s, end, 1, 0) < 0)
		return -EINVAL;
	title = strcmp(g->w[0], "title") == 0;
	while (s < end && gc_blank(*s))
		s++;
	if (s < end && *s == '=')
		s++;
	for (;;) {
		while (s < end && gc_blank(*s))
			s++;
		if (s >= end)
			return 0;
		if (gc_legacy_word(g, &s, end, 0, title) < 0)
			return -EINVAL;
	}
}

static int
gc_legacy(struct gc *g, struct grubcfg_entry *out)
{
	struct grubcfg_entry ent[2] = { { 0 } };	/* entry 0, the default */
	const char *s = g->p, *nl;
	long def = 0, cur = -1;
	char *end;
	int err = 0, slot;

	for (; s < g->end && err == 0; s = nl + 1, g->line++) {
		if ((nl = memchr(s, '\n', (size_t)(g->end - s))) == NULL)
			nl = g->end;
		while (s < nl && gc_blank(*s))
			s++;
		if (s == nl || *s == '#')
			continue;
		if ((err = gc_legacy_line(g, s, nl)) < 0)
			break;
		if (strcmp(g->w[0], "title") == 0) {
			cur++;
			continue;
		}
		if (cur < 0 && strcmp(g->w[0], "default") == 0 && g->nw > 1) {
			def = strtol(g->w[1], &end, 10);
			if (*end != '\0' || def < 0)
				def = 0;	/* "saved" and the like */
			continue;
		}
		slot = cur == def ? 1 : cur == 0 ? 0 : -1;
		if (slot < 0)
			continue;
		if (strcmp(g->w[0], "kernel") == 0)
			err = gc_set_kernel(&ent[slot], g->w, g->nw, g->e);
		else if (strcmp(g->w[0], "initrd") == 0)
			err = gc_add_initrds(&ent[slot], g->w, g->nw, g->e);
	}
	if (err == 0 && cur < 0)
		err = gc_fail(g->e, -EINVAL, "no title entry");
	slot = def <= cur ? 1 : 0;	/* past the last entry: entry 0 */
	if (err == 0 && ent[slot].kernel == NULL)
		err = gc_fail(g->e, -EINVAL, "entry %d has no kernel line",
		    slot ? (int)def : 0);
	if (err == 0) {
		*out = ent[slot];
		memset(&ent[slot], 0, sizeof(ent[slot]));
		if ((out->title = strdup("")) == NULL)
			err = gc_fail(g->e, -ENOMEM, "out of memory");
	}
	grubcfg_entry_free(&ent[0]);
	grubcfg_entry_free(&ent[1]);
	return err;
}

/* ---- the interface ------------------------------------------------------------------- */

void
grubcfg_entry_free(struct grubcfg_entry *ent)
{
	free(ent->title);
	free(ent->kernel);
	free(ent->cmdline);
	for (unsigned i = 0; i < ent->ninitrd; i++)
		free(ent->initrd[i]);
	memset(ent, 0, sizeof(*ent));
}

int
grubcfg_parse(enum grubcfg_kind kind, const char *text, size_t len,
    struct grubcfg_entry *out, struct grubcfg_error *e)
{
	struct gc *g;
	int err;

	memset(out, 0, sizeof(*out));
	if (len > GRUBCFG_MAX_TEXT)
		return gc_fail(e, -EINVAL, "%zu bytes (at most %u)", len,
		    GRUBCFG_MAX_TEXT);
	if (memchr(text, '\0', len))
		return gc_fail(e, -EINVAL, "contains a NUL byte");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return gc_fail(e, -ENOMEM, "out of memory");
	g->p = text;
	g->end = text + len;
	g->line = 1;
	g->e = e;
	err = kind == GRUBCFG_MENU_LST ? gc_legacy(g, out) : gc_grub2(g, out);
	if (err == 0 && out->cmdline == NULL && (out->cmdline = strdup("")) ==
	    NULL)
		err = gc_fail(e, -ENOMEM, "out of memory");
	if (err < 0)
		grubcfg_entry_free(out);
	free(g);
	return err;
}
