/*
 * kube9 Lua guard harness (C, not part of SwiftPM; build and run with run.sh).
 *
 *  1. Differential test: the guarded string/table functions and setmetatable of a kube9 state
 *     (kube9_lua_newstate + kube9_lua_open_sandbox, armed with a huge budget so that every
 *     charge path runs) against the stock Lua 5.4 library of a plain luaL_openlibs state, on
 *     hand-written cases and a generated corpus. Results and error messages must be identical.
 *  2. Hostile scripts: every .lua file of Tests/Kube9LuaTests/Hostile runs in a state set up like
 *     kube9's (32 MiB cap, 5,000,000 instructions, 1 s deadline) and must fail with the outcome
 *     its first line announces, within 2 s; the state must then still run `return 1 + 1`, and
 *     lua_close must return promptly.
 *
 * Usage: harness [--seed N] [--cases N] [--hostile DIR] [--only diff|api|hostile|bench] [--filter NAME] [--watchdog SECONDS] [--verbose]
 */
#include "kube9_lua.h"
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct { char *data; size_t len, cap; } sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) { perror("realloc"); exit(2); }
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)(n < (int)sizeof tmp ? n : (int)sizeof tmp - 1));
}
static void sb_quoted(sbuf *b, const char *s, size_t n) {
    sb_str(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') sb_fmt(b, "\\%c", c);
        else if (c >= 32 && c < 127) sb_add(b, (const char *)&c, 1);
        else sb_fmt(b, "\\%03d", c);
    }
    sb_str(b, "\"");
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int rndn(int n) { return (int)(rnd() % (uint64_t)n); }

/* ------------------------------------------------------------------------------------------ */
/* The two states                                                                              */
/* ------------------------------------------------------------------------------------------ */

static const char *helpers =
    "R = {}\n"
    "R.cat = function(...) local t = {} for i = 1, select('#', ...) do t[i] = tostring((select(i, ...))) end "
    "  return '<' .. table.concat(t, '|') .. '>' end\n"
    "R.nilf = function() return nil end\n"
    "R.falsef = function() return false end\n"
    "R.num = function() return 42.5 end\n"
    "R.tab = function() return {} end\n"
    "R.first = function(a) return a end\n"
    "R.cond = function(a) if type(a) == 'string' and #a % 2 == 0 then return nil end return '[' .. tostring(a) .. ']' end\n"
    "R.err = function() error('callback error') end\n"
    "R.t = {a = 'A', b = 1, ['('] = false, x = true, [1] = 'one', aa = {}, [''] = 'E'}\n"
    "R.t2 = setmetatable({}, {__index = function(t, k) return '<' .. tostring(k) .. '>' end})\n"
    "function dump(t)\n"
    "  if type(t) ~= 'table' then return tostring(t) end\n"
    "  local parts = {}\n"
    "  for i = -2, 12 do local v = rawget(t, i) if v ~= nil then parts[#parts + 1] = i .. '=' .. tostring(v) end end\n"
    "  for _, k in ipairs({'n', 'x', 'log'}) do local v = rawget(t, k) if v ~= nil then parts[#parts + 1] = k .. '=' .. tostring(v) end end\n"
    "  return '{' .. table.concat(parts, ',') .. '}'\n"
    "end\n";

static kube9_lua_limits guarded_limits;

static void run_helpers(lua_State *L) {
    if (luaL_loadbuffer(L, helpers, strlen(helpers), "=helpers") || lua_pcall(L, 0, 0, 0)) {
        fprintf(stderr, "helpers failed: %s\n", lua_tostring(L, -1));
        exit(2);
    }
}

static lua_State *stock_state(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    run_helpers(L);
    return L;
}

static lua_State *guarded_state(void) {
    memset(&guarded_limits, 0, sizeof guarded_limits);
    lua_State *L = kube9_lua_newstate(&guarded_limits);
    kube9_lua_open_sandbox(L);
    kube9_lua_install_guards(L); /* a second installation must wrap nothing twice */
    run_helpers(L);
    /* armed with a budget and deadline that are never reached: every charge path runs */
    kube9_lua_arm(L, &guarded_limits, INT64_MAX / 4, 1e6);
    return L;
}

/* Serializes the values from `base` to the top, or the error. */
static void serialize(lua_State *L, int status, int base, sbuf *out) {
    if (status != LUA_OK) {
        size_t n = 0;
        const char *m = lua_tolstring(L, -1, &n);
        sb_str(out, "error ");
        if (m) sb_quoted(out, m, n);
        else sb_fmt(out, "(%s)", luaL_typename(L, -1));
        return;
    }
    int top = lua_gettop(L);
    sb_fmt(out, "%d:", top - base + 1);
    for (int i = base; i <= top; i++) {
        switch (lua_type(L, i)) {
        case LUA_TNIL: sb_str(out, " nil"); break;
        case LUA_TBOOLEAN: sb_str(out, lua_toboolean(L, i) ? " true" : " false"); break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, i)) sb_fmt(out, " %lld", (long long)lua_tointeger(L, i));
            else sb_fmt(out, " %.17gf", lua_tonumber(L, i));
            break;
        case LUA_TSTRING: {
            size_t n;
            const char *s = lua_tolstring(L, i, &n);
            sb_str(out, " ");
            sb_quoted(out, s, n);
            break;
        }
        default: sb_fmt(out, " <%s>", luaL_typename(L, i)); break;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Calls                                                                                       */
/* ------------------------------------------------------------------------------------------ */

enum arg_kind { A_STR, A_INT, A_NUM, A_BOOL, A_NIL, A_REF };
typedef struct { int kind; const char *s; size_t len; long long i; double d; } arg;

#define MAX_ARGS 6
typedef struct {
    const char *lib, *fn;   /* e.g. "string", "find" */
    int nargs;
    arg args[MAX_ARGS];
    int iterate;            /* gmatch: call the iterator until it is done */
} call_case;

static void push_arg(lua_State *L, const arg *a) {
    switch (a->kind) {
    case A_STR: lua_pushlstring(L, a->s, a->len); break;
    case A_INT: lua_pushinteger(L, (lua_Integer)a->i); break;
    case A_NUM: lua_pushnumber(L, a->d); break;
    case A_BOOL: lua_pushboolean(L, (int)a->i); break;
    case A_NIL: lua_pushnil(L); break;
    case A_REF:
        lua_getglobal(L, "R");
        lua_getfield(L, -1, a->s);
        lua_remove(L, -2);
        break;
    }
}

static void run_call(lua_State *L, const call_case *c, sbuf *out) {
    int base = lua_gettop(L) + 1;
    lua_getglobal(L, c->lib);
    lua_getfield(L, -1, c->fn);
    lua_remove(L, -2);
    for (int i = 0; i < c->nargs; i++) push_arg(L, &c->args[i]);
    int status = lua_pcall(L, c->nargs, LUA_MULTRET, 0);
    if (!c->iterate || status != LUA_OK) {
        serialize(L, status, base, out);
        lua_settop(L, base - 1);
        return;
    }
    /* the iterator is at base */
    for (int round = 0; round < 300; round++) {
        int top = lua_gettop(L);
        lua_pushvalue(L, base);
        int st = lua_pcall(L, 0, LUA_MULTRET, 0);
        sb_str(out, " |");
        serialize(L, st, top + 1, out);
        int done = st != LUA_OK || lua_gettop(L) == top || lua_isnil(L, top + 1);
        lua_settop(L, top);
        if (done) break;
    }
    lua_settop(L, base - 1);
}

static void describe_call(const call_case *c, sbuf *out) {
    sb_fmt(out, "%s.%s(", c->lib, c->fn);
    for (int i = 0; i < c->nargs; i++) {
        const arg *a = &c->args[i];
        if (i) sb_str(out, ", ");
        switch (a->kind) {
        case A_STR: sb_quoted(out, a->s, a->len); break;
        case A_INT: sb_fmt(out, "%lld", a->i); break;
        case A_NUM: sb_fmt(out, "%.17g", a->d); break;
        case A_BOOL: sb_str(out, a->i ? "true" : "false"); break;
        case A_NIL: sb_str(out, "nil"); break;
        case A_REF: sb_fmt(out, "R.%s", a->s); break;
        }
    }
    sb_str(out, ")");
}

static lua_State *S, *G;
static long cases_run, mismatches;
static int verbose;

static void report_mismatch(const char *what, const sbuf *stock, const sbuf *guarded) {
    mismatches++;
    if (mismatches <= 25) {
        printf("MISMATCH %s\n  stock:   %s\n  guarded: %s\n", what, stock->data ? stock->data : "", guarded->data ? guarded->data : "");
    }
}

static void diff_call(const call_case *c) {
    sbuf a = {0}, b = {0};
    run_call(S, c, &a);
    run_call(G, c, &b);
    cases_run++;
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        sbuf d = {0};
        describe_call(c, &d);
        report_mismatch(d.data, &a, &b);
        free(d.data);
    } else if (verbose) {
        sbuf d = {0};
        describe_call(c, &d);
        printf("ok %s -> %s\n", d.data, a.data);
        free(d.data);
    }
    free(a.data);
    free(b.data);
}

static void diff_snippet(const char *code) {
    sbuf out[2] = {{0}, {0}};
    lua_State *states[2] = {S, G};
    for (int k = 0; k < 2; k++) {
        lua_State *L = states[k];
        int base = lua_gettop(L) + 1;
        int status = luaL_loadbuffer(L, code, strlen(code), "=snippet");
        if (status == LUA_OK) status = lua_pcall(L, 0, LUA_MULTRET, 0);
        serialize(L, status, base, &out[k]);
        lua_settop(L, base - 1);
    }
    cases_run++;
    if (out[0].len != out[1].len || memcmp(out[0].data, out[1].data, out[0].len) != 0) report_mismatch(code, &out[0], &out[1]);
    else if (verbose) printf("ok %s -> %s\n", code, out[0].data);
    free(out[0].data);
    free(out[1].data);
}

/* ------------------------------------------------------------------------------------------ */
/* Case builders                                                                               */
/* ------------------------------------------------------------------------------------------ */

static arg S_(const char *s) { arg a = {A_STR, s, strlen(s), 0, 0}; return a; }
static arg SL(const char *s, size_t n) { arg a = {A_STR, s, n, 0, 0}; return a; }
static arg I_(long long i) { arg a = {A_INT, NULL, 0, i, 0}; return a; }
static arg D_(double d) { arg a = {A_NUM, NULL, 0, 0, d}; return a; }
static arg B_(int b) { arg a = {A_BOOL, NULL, 0, b, 0}; return a; }
static arg N_(void) { arg a = {A_NIL, NULL, 0, 0, 0}; return a; }
static arg R_(const char *name) { arg a = {A_REF, name, 0, 0, 0}; return a; }

static void call_n(const char *lib, const char *fn, int iterate, int n, const arg *args) {
    call_case c;
    memset(&c, 0, sizeof c);
    c.lib = lib;
    c.fn = fn;
    c.iterate = iterate;
    c.nargs = n;
    for (int i = 0; i < n; i++) c.args[i] = args[i];
    diff_call(&c);
}
#define CALL(fn, ...) do { arg a_[] = {__VA_ARGS__}; call_n("string", fn, 0, (int)(sizeof a_ / sizeof a_[0]), a_); } while (0)
#define ITER(...) do { arg a_[] = {__VA_ARGS__}; call_n("string", "gmatch", 1, (int)(sizeof a_ / sizeof a_[0]), a_); } while (0)

/* All four functions on one subject/pattern, with the usual inits and replacements. */
static void all_functions(const char *s, size_t ls, const char *p, size_t lp) {
    arg subject = SL(s, ls), pattern = SL(p, lp);
    CALL("find", subject, pattern);
    CALL("find", subject, pattern, I_(1), B_(1));
    CALL("match", subject, pattern);
    ITER(subject, pattern);
    CALL("gsub", subject, pattern, S_("<%0>"));
    CALL("gsub", subject, pattern, R_("cat"));
    CALL("gsub", subject, pattern, R_("t"));
}

static void hand_written(void) {
    static const char *patterns[] = {
        /* classes and escapes */
        "%a", "%c", "%d", "%g", "%l", "%p", "%s", "%u", "%w", "%x", "%A", "%C", "%D", "%G", "%L", "%P", "%S", "%U", "%W",
        "%X", "%z", "%Z", "%.", "%%", "%(", "%]", "%-", "%^", "%$", "%1x", ".", "..", "a.b", "%a+", "%d*", "%s-x", "%w?",
        /* sets */
        "[abc]", "[^abc]", "[a-c]", "[^a-c]", "[%a_]", "[%d%-]", "[]]", "[^]]", "[]a]", "[a-]", "[-a]", "[%]]", "[%a-z]",
        "[a-c-e]", "[!-/]", "[^%s]+", "[%w_]+", "[a%-z]", "[]", "[^]", "[", "[a", "[%", "[^", "[a-", "[%a", "[]-a]", "[%]",
        /* quantifiers */
        "a*", "a+", "a-", "a?", "a*b", "a+b", "a-b", "a?b", ".*", ".+", ".-", ".?", "a**", "*a", "+", "-", "?", "x*$", "^x*",
        ".-b", "(.-)b", "(a*(.)%w(%s*))", "a-$", "^$", "$", "^", "^^", "$$", "a$b", "%$$",
        /* captures */
        "()", "(a)", "(a)(b)", "((a)(b))", "(a*)", "()a()", "(()a)", "(", ")", "(()", "())", "(a", "a)", "%1", "(a)%1",
        "(a*)%1", "()%1", "(a)%2", "%0", "(a)%0", "(%1)", "((a)%1)", "((a)%2)", "(.)%1", "(.)(.)%2%1", "(.-)%1",
        /* %b and %f */
        "%b()", "%b(", "%b", "%bab", "%b((", "%b))", "%b)(", "x%b()y", "%b()%b()", "%f[%a]", "%f[%a]%a+", "%f[%A]",
        "%f[%w]%w+%f[%W]", "%f", "%fa", "%f[", "%f[a", "%f[^a]", "%f[%z]", "%f[%Z]", "%f[]]", "%f[%s]%S",
        /* malformed */
        "%", "a%", "[%", "(%", "%b%", "a[", "[^%]",
        /* anchored */
        "^a", "^(a)", "^()", "^a*", "^.-$", "^%b()$",
    };
    static const char *subjects[] = {
        "", "a", "b", "aaa", "abc", "aab", "abab", "a.b", "hello world", "  hello  ", "THE (quick) fox", "x = [a] (b(c)d) e",
        "a1 b2 c3", "%d+", "f(a(b)c)d", "]]][[", "-x-y-", "^$", "aaab", "ab\0cd", "\0", "ctrl\t\r\nx", "THE END.", "a$b",
        "((()))", "(()", "())", "12 34 0x1F", "caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof subjects / sizeof *subjects; i++) {
        size_t ls = strlen(subjects[i]);
        if (i == 19) ls = 5; /* "ab\0cd" */
        if (i == 20) ls = 1; /* "\0" */
        for (size_t j = 0; j < sizeof patterns / sizeof *patterns; j++) {
            all_functions(subjects[i], ls, patterns[j], strlen(patterns[j]));
        }
    }
    /* embedded zeros in patterns */
    all_functions("ab\0cd", 5, "b\0c", 3);
    all_functions("ab\0cd", 5, "[\0]", 3);
    all_functions("ab\0cd", 5, "%\0", 2);
    all_functions("ab\0cd", 5, "\0+", 2);
    all_functions("ab\0cd", 5, "[^\0]+", 5);
    all_functions("ab\0cd", 5, "%b\0d", 4);
    all_functions("a.b\0+", 5, "\0+", 2);

    /* init handling */
    long long inits[] = {-100, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 100, (long long)LUA_MININTEGER, (long long)LUA_MAXINTEGER};
    const char *ps[] = {"", "a", "b*", "()", "$", "^", "^a", "a", "x", ".-", "%f[%a]"};
    for (size_t i = 0; i < sizeof inits / sizeof *inits; i++) {
        for (size_t j = 0; j < sizeof ps / sizeof *ps; j++) {
            CALL("find", S_("abab"), S_(ps[j]), I_(inits[i]));
            CALL("find", S_("abab"), S_(ps[j]), I_(inits[i]), B_(1));
            CALL("find", S_("abab"), S_(ps[j]), I_(inits[i]), B_(0));
            CALL("match", S_("abab"), S_(ps[j]), I_(inits[i]));
            ITER(S_("abab"), S_(ps[j]), I_(inits[i]));
        }
    }
    CALL("find", S_("abc"), S_("b"), D_(2.0));
    CALL("find", S_("abc"), S_("b"), D_(2.5));
    CALL("find", S_("abc"), S_("b"), S_("2"));
    CALL("find", S_("abc"), S_("b"), S_("x"));
    CALL("find", S_("abc"), S_("b"), N_(), N_());
    CALL("find", S_("abc"), S_("b"), N_(), S_("yes"));
    CALL("find", S_("a.c"), S_("."), I_(1), I_(1));
    CALL("find", S_("a.c"), S_("."), I_(1), R_("t"));
    CALL("find", I_(12345), I_(34));
    CALL("find", D_(1.5), S_("%."));
    CALL("match", I_(12345), S_("(%d)(%d)"));
    CALL("find", N_(), S_("a"));
    CALL("find", S_("a"));
    CALL("find", S_("a"), R_("t"));
    CALL("match", B_(1), S_("a"));
    CALL("gmatch", S_("a"));
    CALL("gmatch", S_("a"), S_("a"), S_("x"));
    ITER(S_("a,b,,c"), S_("[^,]*"));
    ITER(S_("abc"), S_(""));
    ITER(S_("abc"), S_("()"));
    ITER(S_("abc"), S_("^a"));
    ITER(S_("^abc"), S_("^a"));
    ITER(S_("key=val, k2=v2"), S_("(%w+)=(%w+)"));
    ITER(S_("aaa"), S_("a*"));
    ITER(S_("aaa"), S_("a-"));
    ITER(S_("abc"), S_("(a"));
    ITER(S_("abc"), S_("%"));
    ITER(S_("abc"), S_("b"), I_(-1));
    ITER(S_("abc"), S_("b"), I_(10));
    ITER(S_("abc"), S_(""), I_(4));
    ITER(S_("abc"), S_(""), I_(5));

    /* gsub: replacement kinds, counts, errors */
    const char *repls[] = {"", "-", "%0", "%1", "%2", "%%", "%", "x%", "%x", "%1%1", "<%0|%1>", "%9", "%%1", "a%%%0b", "%\0"};
    const char *gp[] = {"", "a", "(a)", "()", "(a)(b)", "a*", "(a", "%w+", "^a", "^", "$", "()b()", "(a)()", ".-"};
    for (size_t i = 0; i < sizeof repls / sizeof *repls; i++) {
        for (size_t j = 0; j < sizeof gp / sizeof *gp; j++) {
            size_t lr = strlen(repls[i]);
            if (i == 14) lr = 2;
            CALL("gsub", S_("abcab"), S_(gp[j]), SL(repls[i], lr));
        }
    }
    const char *refs[] = {"cat", "nilf", "falsef", "num", "tab", "first", "cond", "err", "t", "t2"};
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        for (size_t j = 0; j < sizeof gp / sizeof *gp; j++) {
            CALL("gsub", S_("abcab"), S_(gp[j]), R_(refs[i]));
            CALL("gsub", S_("x(a)b"), S_(gp[j]), R_(refs[i]), I_(1));
        }
    }
    long long counts[] = {-1, 0, 1, 2, 3, 100, (long long)LUA_MININTEGER, (long long)LUA_MAXINTEGER};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        CALL("gsub", S_("abcabc"), S_("b"), S_("X"), I_(counts[i]));
        CALL("gsub", S_("abcabc"), S_(""), S_("-"), I_(counts[i]));
        CALL("gsub", S_("abcabc"), S_("^a"), S_("-"), I_(counts[i]));
    }
    CALL("gsub", S_("abc"), S_("b"), S_("X"), D_(1.0));
    CALL("gsub", S_("abc"), S_("b"), S_("X"), D_(1.5));
    CALL("gsub", S_("abc"), S_("b"), S_("X"), S_("1"));
    CALL("gsub", S_("abc"), S_("b"), S_("X"), S_("x"));
    CALL("gsub", S_("abc"), S_("b"), S_("X"), N_());
    CALL("gsub", S_("abc"), S_("b"));
    CALL("gsub", S_("abc"), S_("b"), N_());
    CALL("gsub", S_("abc"), S_("b"), B_(1));
    CALL("gsub", S_("abc"), S_("b"), B_(1), S_("x"));
    CALL("gsub", S_("abc"), S_("b"), I_(7));
    CALL("gsub", S_("abc"), S_("b"), D_(0.5));
    CALL("gsub", I_(1231), I_(1), I_(9));
    CALL("gsub", S_("abc"), S_("z"), S_("X"));
    CALL("gsub", I_(123), S_("z"), S_("X"));
    CALL("gsub", S_("hello world"), S_("(o)"), S_("[%1]"), I_(1));
    CALL("gsub", S_("hello world"), S_("%w+"), S_("%0 %0"), I_(1));
    CALL("gsub", S_("hello"), S_(""), S_("x"));
    CALL("gsub", S_("abc"), S_("%w"), S_("%1"));
    CALL("gsub", S_("abc"), S_("(%w)"), S_("%2"));
    CALL("gsub", S_("abc"), S_("%"), S_("x"));

    /* limits: depth, captures */
    for (int k = 195; k <= 202; k++) {
        static char buf[1024];
        sbuf b = {0};
        for (int i = 0; i < k; i++) sb_str(&b, "a?");
        snprintf(buf, sizeof buf, "%s", b.data);
        char subject[400];
        memset(subject, 'a', 300);
        CALL("find", SL(subject, 300), S_(buf));
        CALL("match", SL(subject, 100), S_(buf));
        free(b.data);
        b = (sbuf){0};
        for (int i = 0; i < k; i++) sb_str(&b, "a*");
        CALL("find", SL(subject, 300), S_(b.data));
        free(b.data);
        b = (sbuf){0};
        for (int i = 0; i < k; i++) sb_str(&b, "a-");
        CALL("find", SL(subject, 300), S_(b.data));
        free(b.data);
        b = (sbuf){0};
        for (int i = 0; i < k; i++) sb_str(&b, "(a");
        for (int i = 0; i < k; i++) sb_str(&b, ")");
        CALL("find", SL(subject, 300), S_(b.data));
        free(b.data);
        b = (sbuf){0};
        for (int i = 0; i < k; i++) sb_str(&b, "%f[a]a");
        CALL("find", SL(subject, 300), S_(b.data));
        free(b.data);
    }
    for (int k = 30; k <= 34; k++) {
        sbuf b = {0}, c = {0};
        for (int i = 0; i < k; i++) sb_str(&b, "(a)");
        for (int i = 0; i < k; i++) sb_str(&c, "()");
        char subject[64];
        memset(subject, 'a', 40);
        CALL("find", SL(subject, 40), S_(b.data));
        CALL("match", SL(subject, 40), S_(c.data));
        CALL("gsub", SL(subject, 40), S_(b.data), R_("cat"));
        ITER(SL(subject, 40), S_(c.data));
        free(b.data);
        free(c.data);
    }
    /* the whole 0-255 byte range against every class */
    {
        static char all[256];
        for (int i = 0; i < 256; i++) all[i] = (char)i;
        const char *cls = "acdglpsuwxzACDGLPSUWXZ";
        for (const char *k = cls; *k; k++) {
            char p1[4] = {'%', *k, '+', 0};
            char p2[6] = {'[', '%', *k, ']', '+', 0};
            char p3[7] = {'[', '^', '%', *k, ']', '+', 0};
            char p4[6] = {'%', 'f', '[', '%', *k, ']'};
            CALL("gsub", SL(all, 256), S_(p1), S_("."));
            CALL("gsub", SL(all, 256), S_(p2), S_("."));
            CALL("gsub", SL(all, 256), S_(p3), S_("."));
            CALL("gsub", SL(all, 256), SL(p4, 6), S_("|"));
        }
        CALL("gsub", SL(all, 256), S_("[\x01-\x7f]+"), S_("."));
        CALL("gsub", SL(all, 256), S_("[\x80-\xff]"), S_("."));
        CALL("gsub", SL(all, 256), S_("[^\x80-\xff]"), S_("."));
    }

    /* plain find */
    CALL("find", S_("a+b"), S_("+"), I_(1), B_(1));
    CALL("find", S_("a+b"), S_("+"));
    CALL("find", S_("aaaaab"), S_("aab"), I_(1), B_(1));
    CALL("find", S_("aaaaab"), S_("aab"));
    CALL("find", S_("abc"), S_("abcd"), I_(1), B_(1));
    CALL("find", S_("abc"), S_("c"), I_(-1), B_(1));
    CALL("find", S_("abc"), S_(""), I_(4), B_(1));
    CALL("find", S_("abc"), S_(""), I_(5), B_(1));
    CALL("find", S_("x]y"), S_("]"));
    CALL("find", S_("x)y"), S_(")"));
    {
        static char big[5000], needle[300];
        memset(big, 'a', sizeof big);
        big[4990] = 'b';
        memset(needle, 'a', sizeof needle);
        needle[299] = 'b';
        CALL("find", SL(big, sizeof big), SL(needle, sizeof needle), I_(1), B_(1));
        CALL("find", SL(big, sizeof big), SL(needle, sizeof needle));
        CALL("find", SL(big, sizeof big), SL(needle, 299), I_(-400), B_(1));
        CALL("find", SL(big, 290), SL(needle, sizeof needle), I_(1), B_(1));
    }
}

/* Lua-level cases: call-site names and positions in messages, methods, table functions,
   setmetatable. */
static const char *snippets[] = {
    "return ('hello'):find('l')",
    "return ('hello'):gsub('l', {l = 'L'})",
    "return ('x'):rep(3, ',')",
    "local s = 'abc' return s:match('(b)(c)')",
    "return string.find('abc', '[a')",
    "return ('abc'):find('%')",
    "return string.gsub('abc', 'b', '%2')",
    "return string.gsub('abc', 'b', {b = {}})",
    "return string.gsub('abc', 'b')",
    "return string.find()",
    "return ('abc'):find({})",
    "for k in string.gmatch('abc', '(a') do end",
    "local t = {} for a, b in ('k=v, x=y'):gmatch('(%w+)=(%w+)') do t[#t + 1] = a .. b end return table.concat(t, ';')",
    "return pcall(string.find, 'a', '(')",
    "return pcall(string.rep)",
    "return select('#', string.find('abc', '(a)(b)(c)'))",
    "return string.gsub('abc', '.', function(c) error('in callback') end)",
    "return string.gsub('abc', '.', function(c) error({}) end)",
    "return pcall(string.gsub, 'abc', '.', function(c) return string.gsub(c, '.', '%0%0') end)",
    "return string.gsub('abc', '%w', '%0%0'):upper()",
    "local n = 0 for w in ('one two three'):gmatch('%a+') do n = n + #w end return n",
    "local it = ('ab'):gmatch('.') return it(), it(), it(), it()",
    "local it = ('ab'):gmatch('') return it(), it(), it(), it()",
    "return string.rep('ab', 3), string.rep('ab', 3, '|'), string.rep('', 5), string.rep('x', 0), string.rep('x', -5, 'y')",
    "return string.rep('', 5, '-'), string.rep('a', 1, '-'), string.rep(5, 2), string.rep('x', '3')",
    "return string.rep('x', 2.5)",
    "return string.rep('x', 1, {})",
    "return string.rep({}, 1)",
    "return string.rep('x')",
    "return string.upper('abc'), string.lower('ABC'), string.len('abc'), string.reverse('abc'), string.sub('abcdef', 2, -2)",
    "return string.byte('abc', 1, -1), string.char(72, 105)",
    "return string.format('%5.2f|%d|%s|%q', 3.14159, 42, 'x', 'a\\nb')",
    "return string.upper()",
    "return string.char(256)",
    "return string.format('%d', 'x')",
    "return string.pack('i4', 7):byte(1, -1)",
    "return string.unpack('i4', string.pack('i4', 7))",
    "return string.packsize('i4i8')",
    "return utf8.char(72, 228, 8364), utf8.len('h\\u{e4}'), utf8.codepoint('\\u{e4}'), utf8.offset('a\\u{e4}b', 3)",
    "return utf8.len('\\xff')",
    "return utf8.codepoint('abc', 1, -1)",
    "local t = {} for p, c in utf8.codes('ab\\u{e4}') do t[#t + 1] = p .. ':' .. c end return table.concat(t, ' ')",
    "return utf8.char(-1)",
    "return string.unpack('i4i4', string.pack('i4i4', 1, 2)), string.unpack('z', 'ab\\0cd'), string.unpack('s1', '\\3abc', 1)",
    "return string.unpack('i4', 'abc')",
    "return string.unpack('i4', string.pack('i4', 9), 10)",
    "return string.unpack('i4', string.pack('i4i4', 9, 8), -4)",
    "return string.unpack('i4', 5)",
    "return ('abcdef'):sub(2), ('abcdef'):sub(-3, -2), ('abcdef'):sub(0), ('abcdef'):sub(10), ('abcdef'):sub(3, 1), ('abcdef'):sub(math.mininteger, math.maxinteger)",
    "return ('abc'):sub()",
    "return ('abc'):sub('x')",
    "return ('abc'):byte(), ('abc'):byte(-1), ('abc'):byte(10), ('abc'):byte(2, 10), ('abc'):byte(0, 1)",
    "return ('abc'):byte(1.5)",
    "return utf8.len('a\\u{e4}b', 2), utf8.len('abc', -1), utf8.len('abc', 5)",
    "return utf8.codepoint('a\\u{e4}b', 1, -1)",
    "return utf8.codepoint('abc', 4)",
    "return utf8.offset('a\\u{e4}b', -1), utf8.offset('a\\u{e4}b', 0, 3), utf8.offset('abc', 10), utf8.offset('abc', math.mininteger)",
    "return utf8.offset('abc', 1, 10)",
    "return string.len('abc'), string.len(123), ('x'):len()",
    "return string.len()",
    /* table.insert */
    "local t = {1, 2, 3} table.insert(t, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 1, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 4, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 5, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 0, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, -1, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 2.0, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 2.5, 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, '2', 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 'a', 'x') return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 1, 'x', 'y') return dump(t)",
    "local t = {1, 2, 3} table.insert(t) return dump(t)",
    "local t = {1, 2, 3} table.insert(t, nil) return dump(t)",
    "local t = {1, 2, 3} table.insert(t, 1, nil) return dump(t)",
    "table.insert(nil, 1)",
    "table.insert('abc', 1)",
    "return pcall(table.insert, {}, 5, 1)",
    "local t = setmetatable({}, {__len = function() return 3 end}) table.insert(t, 'x') return dump(t)",
    "local t = setmetatable({}, {__len = function() return 3 end}) table.insert(t, 2, 'x') return dump(t)",
    "local t = setmetatable({}, {__len = function() return -3 end}) table.insert(t, 'x') return dump(t)",
    "local t = setmetatable({}, {__len = function() return -3 end}) table.insert(t, 1, 'x') return dump(t)",
    "local t = setmetatable({}, {__len = function() return 2.5 end}) table.insert(t, 'x') return dump(t)",
    "local t = setmetatable({}, {__len = function() return '3' end}) table.insert(t, 'x') return dump(t)",
    "local t = setmetatable({}, {__len = function() return math.maxinteger end}) table.insert(t, 'x') return dump(t)",
    "local log = {} local t = setmetatable({}, {__len = function() return 3 end, __index = function(t, k) log[#log + 1] = 'r' .. k return k * 10 end,"
    " __newindex = function(t, k, v) log[#log + 1] = 'w' .. k .. '=' .. tostring(v) end}) table.insert(t, 1, 'x') return table.concat(log, ' ')",
    /* table.remove */
    "local t = {1, 2, 3} return table.remove(t), dump(t)",
    "local t = {1, 2, 3} return table.remove(t, 1), dump(t)",
    "local t = {1, 2, 3} return table.remove(t, 3), dump(t)",
    "local t = {1, 2, 3} return table.remove(t, 4), dump(t)",
    "local t = {1, 2, 3} return table.remove(t, 5), dump(t)",
    "local t = {1, 2, 3} return table.remove(t, 0), dump(t)",
    "local t = {} return table.remove(t), dump(t)",
    "local t = {} return table.remove(t, 0), dump(t)",
    "local t = {[0] = 'z'} return table.remove(t, 0), dump(t)",
    "local t = {} return table.remove(t, 1), dump(t)",
    "local t = {} return table.remove(t, -1), dump(t)",
    "local t = {1, 2, 3} return table.remove(t, 'x')",
    "local t = {1, 2, 3} return table.remove(t, 1.5)",
    "local t = setmetatable({}, {__len = function() return -2 end}) return table.remove(t), dump(t)",
    "local t = setmetatable({}, {__len = function() return -2 end}) return table.remove(t, 1), dump(t)",
    "local log = {} local t = setmetatable({}, {__len = function() return 3 end, __index = function(t, k) log[#log + 1] = 'r' .. k return k * 10 end,"
    " __newindex = function(t, k, v) log[#log + 1] = 'w' .. k .. '=' .. tostring(v) end}) local r = table.remove(t, 1) return r, table.concat(log, ' ')",
    "return table.remove(nil)",
    /* table.move */
    "local t = {1, 2, 3, 4, 5} table.move(t, 1, 3, 2) return dump(t)",
    "local t = {1, 2, 3, 4, 5} table.move(t, 2, 4, 1) return dump(t)",
    "local t = {1, 2, 3, 4, 5} table.move(t, 1, 5, 3) return dump(t)",
    "local t = {1, 2, 3, 4, 5} table.move(t, 3, 2, 1) return dump(t)",
    "local t = {1, 2, 3} local u = {} return dump(table.move(t, 1, 3, 2, u)), dump(u)",
    "local t = {1, 2, 3} return dump(table.move(t, 1, 3, 3, t))",
    "local t = {1, 2, 3} return dump(table.move(t, -1, 1, 1, {}))",
    "return table.move({}, 1, math.maxinteger, 2)",
    "return table.move({}, -1, math.maxinteger, 2)",
    "return table.move({}, 1, 10, math.maxinteger)",
    "return table.move({}, math.mininteger, -1, 1)",
    "return table.move({}, 1, 0, math.maxinteger)",
    "return dump(table.move({}, 5, 4, 1))",
    "return table.move({}, 1, 2)",
    "return table.move({}, 'a', 2, 3)",
    "return table.move({}, 1, 2, 3, 4)",
    "return table.move(1, 1, 2, 3)",
    "return table.move('abc', 1, 3, 1, {})[1]",
    "return table.move({1, 2}, 1, 2, 1, 'abc')",
    "local log = {} local src = setmetatable({}, {__index = function(t, k) log[#log + 1] = 'r' .. k return k end})"
    " local dst = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = 'w' .. k end}) table.move(src, 1, 3, 5, dst) return table.concat(log, ' ')",
    /* table.concat */
    "return table.concat({1, 2, 3}), table.concat({1, 2, 3}, ', '), table.concat({1, 2, 3}, ', ', 2), table.concat({1, 2, 3}, ', ', 2, 3)",
    "return table.concat({}), table.concat({1, 2}, ',', 3), table.concat({1, 2}, ',', 2, 1), table.concat({'a'}, ',', 1, 1)",
    "return table.concat({1, {}, 3})",
    "return table.concat({1, 2, 3}, ',', 1, 5)",
    "return table.concat({1, 2.5, 'x'}, '-')",
    "return table.concat({1, 2}, {})",
    "return table.concat({1, 2}, ',', 'x')",
    "return table.concat({1, 2}, ',', 1, 2.5)",
    "return table.concat('abc')",
    "return table.concat(nil)",
    "return table.concat({}, '', math.maxinteger, math.maxinteger)",
    "return table.concat({}, '', math.mininteger, math.mininteger)",
    "return table.concat(setmetatable({}, {__len = function() return 2 end, __index = function(t, k) return 'v' .. k end}), '+')",
    "return table.concat(setmetatable({}, {__index = function(t, k) return 'v' .. k end}), '+', -2, 2)",
    /* table.unpack */
    "return table.unpack({1, 2, 3})",
    "return table.unpack({1, 2, 3}, 2)",
    "return table.unpack({1, 2, 3}, 2, 5)",
    "return table.unpack({1, 2, 3}, -1, 1)",
    "return table.unpack({1, 2, 3}, 3, 2)",
    "return table.unpack({}, 1, 1e7)",
    "return table.unpack({}, math.mininteger, math.maxinteger)",
    "return table.unpack({}, 1, math.maxinteger)",
    "return table.unpack({}, math.maxinteger, math.maxinteger)",
    "return table.unpack('abc')",
    "return table.unpack({1, 2}, 'x')",
    "return table.unpack(nil)",
    "return table.unpack(setmetatable({}, {__len = function() return 3 end, __index = function(t, k) return k * 2 end}))",
    "return select('#', table.unpack({}, 1, 200))",
    "return table.pack(1, nil, 3).n",
    /* table.sort */
    "local t = {5, 2, 8, 1, 9, 3} table.sort(t) return dump(t)",
    "local t = {5, 2, 8, 1, 9, 3} table.sort(t, function(a, b) return a > b end) return dump(t)",
    "local t = {'b', 'a', 'c'} table.sort(t) return dump(t)",
    "local t = {3, 1, 2} table.sort(t, nil) return dump(t)",
    "local t = {1, 'x'} table.sort(t)",
    "local t = {1, 2} table.sort(t, 3)",
    "local t = {1} table.sort(t, 3) return dump(t)",
    "local t = {3, 2, 1, 5, 4} table.sort(t, function(a, b) return true end) return dump(t)",
    "local t = {} for i = 1, 50 do t[i] = (i * 37) % 11 end table.sort(t, function(a, b) return a <= b end) return dump(t)",
    "local t = {} for i = 1, 80 do t[i] = (i * 37) % 17 end table.sort(t) return table.concat(t, ',')",
    "local t = {} for i = 1, 80 do t[i] = {k = (i * 37) % 7, i = i} end table.sort(t, function(a, b) return a.k < b.k end)"
    " local o = {} for i = 1, 80 do o[i] = t[i].i end return table.concat(o, ',')",
    "table.sort(nil)",
    "table.sort('abc')",
    "table.sort(setmetatable({}, {__len = function() return 2^31 end}))",
    "table.sort(setmetatable({}, {__len = function() return 1.5 end}))",
    "local back = {5, 3, 4, 1, 2} local p = setmetatable({}, {__index = back, __newindex = back, __len = function() return #back end})"
    " table.sort(p) return dump(back), rawlen(p)",
    "local back = {5, 3, 4, 1, 2} local p = setmetatable({}, {__index = back, __newindex = back, __len = function() return #back end})"
    " table.sort(p, function(a, b) return a > b end) return dump(back)",
    "local back = {} for i = 1, 60 do back[i] = {k = (i * 13) % 5, i = i} end"
    " local p = setmetatable({}, {__index = back, __newindex = back, __len = function() return #back end})"
    " table.sort(p, function(a, b) return a.k < b.k end) local o = {} for i = 1, 60 do o[i] = back[i].i end return table.concat(o, ',')",
    "local t = setmetatable({3, 1, 2}, {}) table.sort(t) return dump(t)",
    "local t = setmetatable({3, nil, 2}, {__len = function() return 3 end}) table.sort(t, function(a, b) return (a or 0) < (b or 0) end) return dump(t)",
    "local t = {3, 1, 2} table.sort(t, function(a, b) error('cmp') end)",
    /* setmetatable */
    "local t = {} return setmetatable(t, {}) == t",
    "return setmetatable({}, nil) ~= nil",
    "return setmetatable({})",
    "return setmetatable({}, 3)",
    "return setmetatable(1, {})",
    "return setmetatable()",
    "return setmetatable(setmetatable({}, {__metatable = 'locked'}), {})",
    "return setmetatable(setmetatable({}, {__metatable = false}), nil)",
    "return getmetatable(setmetatable({}, {__metatable = 'locked'}))",
    "local mt = {__index = function(t, k) return k .. '!' end} local t = setmetatable({}, mt) return t.x, getmetatable(t) == mt",
    "return pcall(setmetatable, {}, 3)",
    /* xpcall (its handler is wrapped), tonumber, string arithmetic (wrapped metamethods) */
    "return xpcall(function() return 1, 2 end, function(m) return 'h' .. m end)",
    "return xpcall(function(...) return select('#', ...), ... end, print, 'a', nil, 3)",
    "return xpcall(error, function(m) return 'handled: ' .. tostring(m) end, 'boom')",
    "return xpcall(error, function(m) return m, 'extra' end, {})",
    "return xpcall(function() error({code = 7}) end, function(e) return e.code end)",
    "return xpcall(function() local x = nil; return x.y end, function(m) return m end)",
    "return xpcall(error, function(m) error('in handler') end, 'boom')",
    "return xpcall(function() return 1 end)",
    "return xpcall(function() return 1 end, 3)",
    "return xpcall()",
    "local depth = 0 local function h(m) depth = depth + 1 if depth < 5 then error(m .. '+') end return m end return xpcall(error, h, 'e'), depth",
    "local function again() return xpcall(function() error('x') end, function(m) return select(2, xpcall(error, function(n) return n .. '!' end, m)) end) end return again()",
    "return pcall(xpcall, error, function(m) return 'h' end, 'x')",
    "return tonumber('42'), tonumber('0x10'), tonumber('  3.5  '), tonumber('z', 36), tonumber('10', 2), tonumber('x'), tonumber(7), tonumber(nil)",
    "return tonumber()",
    "return tonumber('10', 99)",
    "return tonumber(10, 16)",
    "return '10' + 1, '3' * '4', '2' ^ 2, -'2', '7' // 2, '7' % 3, '1' / 4, '0x10' + 0, 10 - '2.5'",
    "return 'abc' + 1",
    "return 1 + 'abc'",
    "return {} + '1'",
    "return '1' + {}",
    "return ('10'):rep(2) + 1",
    "return math.type('10' + 0), math.type('1.0' + 0), '9007199254740993' + 0",
    "return '1' & 3",
    "return '5' < '10', '5' .. 10, #('x' .. 1.5)",
    "local t = setmetatable({}, {__metatable = 1}) return pcall(setmetatable, t, {})",
};

/* ------------------------------------------------------------------------------------------ */
/* Generated corpus                                                                            */
/* ------------------------------------------------------------------------------------------ */

static const char subject_alphabet[] = "aab()[]%.-+*?^$xb0 1\n";
static const char soup_alphabet[] = "aab()[]%.-+*?^$xb01fdslw";

static void random_subject(sbuf *b) {
    int len = rndn(5) == 0 ? rndn(60) : rndn(14);
    for (int i = 0; i < len; i++) {
        char c = rndn(50) == 0 ? '\0' : subject_alphabet[rndn((int)sizeof subject_alphabet - 1)];
        sb_add(b, &c, 1);
    }
}

static void random_set(sbuf *b) {
    sb_str(b, "[");
    if (rndn(3) == 0) sb_str(b, "^");
    int n = 1 + rndn(4);
    for (int i = 0; i < n; i++) {
        switch (rndn(6)) {
        case 0: sb_str(b, "a-c"); break;
        case 1: { const char *cl[] = {"%a", "%d", "%s", "%w", "%p", "%A", "%]", "%-", "%%"}; sb_str(b, cl[rndn(9)]); break; }
        case 2: sb_str(b, "-"); break;
        case 3: sb_str(b, "]"); break;
        default: { char c = subject_alphabet[rndn((int)sizeof subject_alphabet - 1)]; if (c == '%') c = 'x'; if (c != '\0') sb_add(b, &c, 1); break; }
        }
    }
    if (rndn(20) != 0) sb_str(b, "]");
}

static void random_item(sbuf *b, int depth, int *open) {
    switch (rndn(depth > 2 ? 9 : 12)) {
    case 0: case 1: case 2: { char c = "abx()0 .-$^"[rndn(11)]; if (c == '(' || c == ')') c = 'a'; sb_add(b, &c, 1); break; }
    case 3: sb_str(b, "."); break;
    case 4: { const char *cl[] = {"%a", "%d", "%s", "%w", "%p", "%x", "%l", "%u", "%c", "%g", "%A", "%D", "%S", "%W", "%.", "%(", "%%", "%)", "%z"}; sb_str(b, cl[rndn(19)]); break; }
    case 5: random_set(b); break;
    case 6: { const char *bb[] = {"%b()", "%bab", "%b[]", "%bxx", "%f[%w]", "%f[%W]", "%f[a]", "%f[^a]", "%1", "%2", "%0"}; sb_str(b, bb[rndn(11)]); return; }
    case 7: if (rndn(2)) { sb_str(b, "()"); return; } /* fall through */
    case 8: sb_str(b, "$"); return;
    default: {
        sb_str(b, "(");
        (*open)++;
        int n = rndn(3);
        for (int i = 0; i < n; i++) random_item(b, depth + 1, open);
        if (rndn(12) != 0) { sb_str(b, ")"); (*open)--; }
        return;
    }
    }
    /* a quantifier after a single-character item */
    int q = rndn(8);
    if (q < 4) { char c = "*+-?"[q]; sb_add(b, &c, 1); }
}

static void random_pattern(sbuf *b) {
    if (rndn(6) == 0) { /* character soup: mostly malformed */
        int len = rndn(10);
        for (int i = 0; i < len; i++) { char c = soup_alphabet[rndn((int)sizeof soup_alphabet - 1)]; sb_add(b, &c, 1); }
        return;
    }
    if (rndn(4) == 0) sb_str(b, "^");
    int open = 0;
    int n = 1 + rndn(5);
    for (int i = 0; i < n; i++) random_item(b, 0, &open);
    if (rndn(6) == 0) sb_str(b, "$");
    if (rndn(25) == 0) sb_str(b, "%");
}

static void random_replacement(sbuf *b) {
    static const char *tokens[] = {"", "x", "-", "%0", "%1", "%2", "%3", "%%", "%", "%a", "<", ">", "%9"};
    int n = rndn(4);
    for (int i = 0; i < n; i++) sb_str(b, tokens[rndn(i + 1 == n ? 13 : 12)]);
}

static arg random_init(int len) {
    switch (rndn(6)) {
    case 0: return N_();
    case 1: return I_(-rndn(len + 3));
    case 2: return I_(len + rndn(3));
    case 3: return I_(rndn(2) ? LUA_MININTEGER : LUA_MAXINTEGER);
    default: return I_(rndn(len + 2));
    }
}

static void generated(long count) {
    static const char *refs[] = {"cat", "nilf", "falsef", "num", "tab", "first", "cond", "t", "t2", "err"};
    for (long k = 0; k < count; k++) {
        sbuf s = {0}, p = {0}, r = {0};
        random_subject(&s);
        random_pattern(&p);
        random_replacement(&r);
        if (!s.data) sb_str(&s, "");
        if (!p.data) sb_str(&p, "");
        if (!r.data) sb_str(&r, "");
        arg subject = SL(s.data, s.len), pattern = SL(p.data, p.len);
        int len = (int)s.len;
        CALL("find", subject, pattern);
        CALL("find", subject, pattern, random_init(len));
        CALL("find", subject, pattern, random_init(len), B_(1));
        CALL("match", subject, pattern, random_init(len));
        ITER(subject, pattern);
        ITER(subject, pattern, random_init(len));
        CALL("gsub", subject, pattern, SL(r.data, r.len));
        CALL("gsub", subject, pattern, R_(refs[rndn(9)]));
        long long counts[] = {-1, 0, 1, 2, 5};
        CALL("gsub", subject, pattern, rndn(2) ? SL(r.data, r.len) : R_(refs[rndn(10)]), I_(counts[rndn(5)]));
        free(s.data);
        free(p.data);
        free(r.data);
    }
}

/* Random table-function snippets. */
static void generated_tables(long count) {
    static const char *tables[] = {
        "{}", "{1, 2, 3}", "{1, 2, 3, 4, 5, 6}", "{'a', 'b'}", "{1, nil, 3}", "{n = 1}", "{[0] = 0, 1, 2}",
        "setmetatable({}, {__len = function() return 4 end})",
        "setmetatable({1, 2}, {__len = function() return 5 end, __index = function(t, k) return 'i' .. k end})",
        "setmetatable({1, 2, 3}, {__len = function() return -1 end})",
    };
    /* no huge values: the stock functions would loop over them (that is what the guards are for) */
    static const char *ints[] = {"-2", "-1", "0", "1", "2", "3", "4", "5", "7", "1.0", "2.5", "'2'", "'x'", "nil", "8", "6"};
    char code[1024];
    for (long k = 0; k < count; k++) {
        const char *t = tables[rndn(10)];
        const char *a = ints[rndn(16)], *b = ints[rndn(16)], *c = ints[rndn(16)];
        switch (rndn(6)) {
        case 0:
            if (rndn(2)) snprintf(code, sizeof code, "local t = %s table.insert(t, %s, 'v') return dump(t)", t, a);
            else snprintf(code, sizeof code, "local t = %s table.insert(t, %s) return dump(t)", t, a);
            break;
        case 1:
            if (rndn(3)) snprintf(code, sizeof code, "local t = %s return table.remove(t, %s), dump(t)", t, a);
            else snprintf(code, sizeof code, "local t = %s return table.remove(t), dump(t)", t);
            break;
        case 2:
            if (rndn(2)) snprintf(code, sizeof code, "local t = %s return dump(table.move(t, %s, %s, %s)), dump(t)", t, a, b, c);
            else snprintf(code, sizeof code, "local t, u = %s, {9, 9} return dump(table.move(t, %s, %s, %s, u)), dump(t)", t, a, b, c);
            break;
        case 3:
            snprintf(code, sizeof code, "local t = %s return table.concat(t, %s, %s, %s)", t, rndn(2) ? "','" : "nil", a, b);
            break;
        case 4:
            snprintf(code, sizeof code, "local t = %s return table.unpack(t, %s, %s)", t, a, b);
            break;
        default:
            snprintf(code, sizeof code, "local t = %s table.sort(t%s) return dump(t)", t, rndn(2) ? "" : ", function(a, b) return tostring(a) > tostring(b) end");
            break;
        }
        diff_snippet(code);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Hostile scripts                                                                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct { char name[256]; } entry;

static int compare_entries(const void *a, const void *b) { return strcmp(((const entry *)a)->name, ((const entry *)b)->name); }

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (fread(data, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(data); return NULL; }
    data[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return data;
}

static const char *kill_name(int killed) {
    switch (killed) {
    case KUBE9_LUA_KILLED_BUDGET: return "budget";
    case KUBE9_LUA_KILLED_DEADLINE: return "deadline";
    case KUBE9_LUA_KILLED_MEMORY: return "memory";
    default: return "none";
    }
}

static const char *hostile_filter = NULL;

/* Runs one script in this process; prints its result line; 0 when it behaved as announced. */
static int run_one(const char *dir, const char *name, double *elapsed_out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *source = read_file(path, &len);
    if (!source) { printf("  %-40s cannot read\n", name); return 1; }
    char expect[256] = "";
    if (strncmp(source, "-- expect: ", 11) == 0) {
        const char *eol = strchr(source, '\n');
        size_t n = eol ? (size_t)(eol - source - 11) : strlen(source + 11);
        if (n >= sizeof expect) n = sizeof expect - 1;
        memcpy(expect, source + 11, n);
        expect[n] = 0;
        while (n > 0 && (expect[n - 1] == '\r' || expect[n - 1] == ' ')) expect[--n] = 0;
    }
    int want_kill = strcmp(expect, "killed") == 0;
    const char *want_error = strncmp(expect, "error ", 6) == 0 ? expect + 6 : NULL;

    kube9_lua_limits limits;
    memset(&limits, 0, sizeof limits);
    limits.memory_limit = 32u << 20;
    lua_State *L = kube9_lua_newstate(&limits);
    kube9_lua_open_sandbox(L);
    char chunk[300];
    snprintf(chunk, sizeof chunk, "=%s", name);
    double t0 = kube9_lua_now();
    int status = kube9_lua_load_text(L, source, len, chunk);
    int killed = 0;
    if (status == LUA_OK) {
        kube9_lua_arm(L, &limits, 5000000, 1.0);
        status = kube9_lua_pcall(L, 0, 0);
        killed = limits.killed;
        kube9_lua_disarm(L, &limits);
    }
    double elapsed = kube9_lua_now() - t0;
    char message[200] = "";
    if (status != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(message, sizeof message, "%s", m ? m : "(not a string)");
        char *nl = strchr(message, '\n');
        if (nl) *nl = 0;
        lua_pop(L, 1);
    }
    lua_gc(L, LUA_GCCOLLECT);
    /* the state still works */
    int works = 0;
    const char *check = "return 1 + 1";
    if (kube9_lua_load_text(L, check, strlen(check), "=check") == LUA_OK) {
        kube9_lua_arm(L, &limits, 5000000, 1.0);
        if (kube9_lua_pcall(L, 0, 1) == LUA_OK && lua_tointeger(L, -1) == 2) works = 1;
        kube9_lua_disarm(L, &limits);
        lua_settop(L, 0);
    }
    double t1 = kube9_lua_now();
    lua_close(L);
    double close_time = kube9_lua_now() - t1;

    int failed = status != LUA_OK || killed;
    int outcome_ok;
    if (want_kill) outcome_ok = killed != 0;
    else if (want_error) outcome_ok = status != LUA_OK && !killed && strstr(message, want_error) != NULL;
    else outcome_ok = 0;
    int ok = failed && outcome_ok && elapsed < 2.0 && works && close_time < 0.5;
    printf("  %-40s %-4s %6.3f s  %s%s  close %.3f s  %s\n", name, ok ? "ok" : "FAIL", elapsed,
           killed ? "killed:" : (status != LUA_OK ? "error" : "returned"), killed ? kill_name(killed) : "",
           close_time, message);
    if (!ok) printf("      expected '%s'; state works afterwards: %s\n", expect, works ? "yes" : "NO");
    fflush(stdout);
    free(source);
    *elapsed_out = elapsed;
    return ok ? 0 : 1;
}

/* Each script runs in a child process with a watchdog, so that one that hangs is reported
   (and the others still run). */
static int run_hostile(const char *dir, double watchdog) {
    DIR *d = opendir(dir);
    if (!d) { printf("cannot open %s\n", dir); return 1; }
    entry *entries = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".lua") == 0 && n < 256 && (!hostile_filter || strstr(de->d_name, hostile_filter))) {
            entries = realloc(entries, (count + 1) * sizeof *entries);
            snprintf(entries[count++].name, 256, "%s", de->d_name);
        }
    }
    closedir(d);
    qsort(entries, count, sizeof *entries, compare_entries);
    int failures = 0, hung = 0;
    double worst = 0;
    printf("\nhostile scripts (32 MiB cap, 5,000,000 instructions, 1 s deadline; must fail within 2 s; watchdog %.0f s):\n", watchdog);
    for (size_t i = 0; i < count; i++) {
        int pipefd[2];
        if (pipe(pipefd) != 0) { perror("pipe"); return failures + 1; }
        double t0 = kube9_lua_now();
        pid_t child = fork();
        if (child == 0) {
            close(pipefd[0]);
            double elapsed = 0;
            int rc = run_one(dir, entries[i].name, &elapsed);
            if (write(pipefd[1], &elapsed, sizeof elapsed) != (ssize_t)sizeof elapsed) _exit(3);
            _exit(rc);
        }
        close(pipefd[1]);
        int status = 0, done = 0;
        while (!done) {
            pid_t r = waitpid(child, &status, WNOHANG);
            if (r == child) { done = 1; break; }
            if (kube9_lua_now() - t0 > watchdog) break;
            usleep(2000);
        }
        if (!done) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            printf("  %-40s HUNG   still running after %.0f s (killed by the harness)\n", entries[i].name, watchdog);
            fflush(stdout);
            failures++;
            hung++;
            if (watchdog > worst) worst = watchdog;
        } else {
            double elapsed = 0;
            if (read(pipefd[0], &elapsed, sizeof elapsed) != (ssize_t)sizeof elapsed) elapsed = kube9_lua_now() - t0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;
            if (!WIFEXITED(status)) printf("  %-40s CRASH  (signal %d)\n", entries[i].name, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            if (elapsed > worst) worst = elapsed;
        }
        close(pipefd[0]);
    }
    printf("hostile: %zu scripts, %d failures (%d hung), slowest %.3f s\n", count, failures, hung, worst);
    free(entries);
    return failures;
}

/* ------------------------------------------------------------------------------------------ */
/* The C API: kube9_lua_charge and the allocator's deadline check                              */
/* ------------------------------------------------------------------------------------------ */

static int api_failures;
#define CHECK(cond, ...) do { if (!(cond)) { api_failures++; printf("  API FAIL line %d: ", __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static int charge_fn(lua_State *L) {
    kube9_lua_charge(L, (int64_t)luaL_checkinteger(L, 1));
    lua_pushboolean(L, 1);
    return 1;
}

static int alloc_fn(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1), times = luaL_optinteger(L, 2, 1);
    for (lua_Integer i = 0; i < times; i++) {
        lua_newuserdatauv(L, (size_t)n, 0);
        lua_pop(L, 1);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Calls charge_fn(units) under pcall from Lua; returns the pcall status and leaves the message. */
static int call_charge(lua_State *L, lua_Integer units, char *message, size_t size) {
    const char *code = "local f, n = ... return f(n)";
    luaL_loadbuffer(L, code, strlen(code), "=api");
    lua_pushcfunction(L, charge_fn);
    lua_pushinteger(L, units);
    int status = lua_pcall(L, 2, 1, 0);
    snprintf(message, size, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
    lua_settop(L, 0);
    return status;
}

static void api_tests(void) {
    kube9_lua_limits limits;
    memset(&limits, 0, sizeof limits);
    lua_State *L = kube9_lua_newstate(&limits);
    kube9_lua_open_sandbox(L);
    char m[256];
    /* unarmed: nothing */
    CHECK(call_charge(L, 1000000000, m, sizeof m) == LUA_OK, "unarmed charge raised: %s", m);
    /* budget: 10,000 units; 9,999 leave 1; the next unit kills (0 is not "unlimited") */
    kube9_lua_arm(L, &limits, 10000, 0);
    CHECK(call_charge(L, 9999, m, sizeof m) == LUA_OK, "charge within budget raised: %s", m);
    CHECK(limits.instructions_left == 1, "left %lld", (long long)limits.instructions_left);
    CHECK(call_charge(L, 0, m, sizeof m) == LUA_OK, "charge 0 raised: %s", m);
    CHECK(call_charge(L, 1, m, sizeof m) == LUA_ERRRUN, "exhausting charge did not raise");
    CHECK(strcmp(m, "api:1: kube9: instruction budget exceeded") == 0, "message '%s'", m);
    CHECK(limits.killed == KUBE9_LUA_KILLED_BUDGET && limits.instructions_left <= 0, "killed %d left %lld", limits.killed,
          (long long)limits.instructions_left);
    CHECK(call_charge(L, 0, m, sizeof m) == LUA_ERRRUN, "a killed call must keep raising");
    kube9_lua_disarm(L, &limits);
    CHECK(call_charge(L, 5, m, sizeof m) == LUA_OK, "disarmed charge raised: %s", m);
    /* a huge charge against a budget */
    kube9_lua_arm(L, &limits, 10000, 0);
    CHECK(call_charge(L, LUA_MAXINTEGER, m, sizeof m) == LUA_ERRRUN && limits.killed == KUBE9_LUA_KILLED_BUDGET, "huge charge");
    kube9_lua_disarm(L, &limits);
    /* no budget (0 = unlimited): charges never kill */
    kube9_lua_arm(L, &limits, 0, 0);
    CHECK(call_charge(L, LUA_MAXINTEGER, m, sizeof m) == LUA_OK && limits.instructions_left == 0, "unlimited budget killed: %s", m);
    kube9_lua_disarm(L, &limits);
    /* deadline */
    kube9_lua_arm(L, &limits, 0, 0.05);
    CHECK(call_charge(L, 1, m, sizeof m) == LUA_OK, "before the deadline: %s", m);
    while (kube9_lua_now() < limits.deadline + 0.001) {}
    CHECK(call_charge(L, 0, m, sizeof m) == LUA_ERRRUN && limits.killed == KUBE9_LUA_KILLED_DEADLINE, "after the deadline");
    CHECK(strcmp(m, "api:1: kube9: wall-clock deadline exceeded") == 0, "message '%s'", m);
    kube9_lua_disarm(L, &limits);
    /* already killed by the memory cap */
    limits.memory_limit = 8u << 20;
    kube9_lua_arm(L, &limits, 0, 0);
    {
        const char *code = "local f = ... return pcall(f, 64 * 1024 * 1024)";
        luaL_loadbuffer(L, code, strlen(code), "=api");
        lua_pushcfunction(L, alloc_fn);
        lua_pcall(L, 1, LUA_MULTRET, 0);
        lua_settop(L, 0);
    }
    CHECK(limits.killed == KUBE9_LUA_KILLED_MEMORY, "memory kill expected, got %d", limits.killed);
    CHECK(call_charge(L, 0, m, sizeof m) == LUA_ERRRUN && strstr(m, "kube9: memory limit exceeded"), "after a memory kill: '%s'", m);
    kube9_lua_disarm(L, &limits);
    limits.memory_limit = 0;
    /* the allocator: after the deadline, a large growth allocation is refused and kills */
    kube9_lua_arm(L, &limits, 0, 0.02);
    while (kube9_lua_now() < limits.deadline + 0.001) {}
    {
        const char *code = "local f = ... return f(100000)";
        luaL_loadbuffer(L, code, strlen(code), "=api");
        lua_pushcfunction(L, alloc_fn);
        int status = lua_pcall(L, 1, 1, 0);
        CHECK(status == LUA_ERRMEM || status == LUA_ERRRUN, "large allocation after the deadline: status %d", status);
        lua_settop(L, 0);
    }
    CHECK(limits.killed == KUBE9_LUA_KILLED_DEADLINE, "allocator deadline kill expected, got %d", limits.killed);
    kube9_lua_disarm(L, &limits);
    /* ... and small ones are checked every 256th growth allocation */
    kube9_lua_arm(L, &limits, 0, 0.02);
    while (kube9_lua_now() < limits.deadline + 0.001) {}
    {
        const char *code = "local f = ... return f(32, 300)";
        luaL_loadbuffer(L, code, strlen(code), "=api");
        lua_pushcfunction(L, alloc_fn);
        lua_pcall(L, 1, 1, 0);
        lua_settop(L, 0);
    }
    CHECK(limits.killed == KUBE9_LUA_KILLED_DEADLINE, "small allocations after the deadline: killed %d", limits.killed);
    kube9_lua_disarm(L, &limits);
    /* before the deadline allocations go through */
    kube9_lua_arm(L, &limits, 0, 10);
    {
        const char *code = "local f = ... return f(1000000, 50)";
        luaL_loadbuffer(L, code, strlen(code), "=api");
        lua_pushcfunction(L, alloc_fn);
        CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK && limits.killed == 0, "allocations before the deadline");
        lua_settop(L, 0);
    }
    kube9_lua_disarm(L, &limits);
    /* string.rep: over 64 MiB without a binding memory cap is refused by the guard */
    {
        const char *code = "return string.rep('x', 65 * 1024 * 1024)";
        kube9_lua_arm(L, &limits, 0, 0);
        luaL_loadbuffer(L, code, strlen(code), "=api");
        int status = lua_pcall(L, 0, 1, 0);
        CHECK(status == LUA_ERRRUN && strstr(lua_tostring(L, -1), "kube9: string.rep result too large"), "rep cap: %s", lua_tostring(L, -1));
        lua_settop(L, 0);
        kube9_lua_disarm(L, &limits);
    }
    /* ordinary work stays well inside an ordinary budget */
    {
        static const char *legit[] = {
            "local s = string.rep('x', 100000) local n = 0 for i = 1, #s do n = n + s:byte(i) + #s:sub(i, i) end return n",
            "local s = string.rep('k=v;', 50000) local n = 0 for k, v in s:gmatch('(%w)=(%w)') do n = n + 1 end return n",
            "local s = string.rep('word ', 100000) return (select(2, s:gsub('%w+', '%0')))",
            "local blob = string.rep(string.pack('i4', 7), 20000) local pos, n = 1, 0 while pos <= #blob do local v v, pos = string.unpack('i4', blob, pos) n = n + v end return n",
            "local s = string.rep('\\u{e4}', 20000) local n = 0 for i = 1, 2000 do n = n + utf8.codepoint(s, utf8.offset(s, i)) end return n",
            "local t = {} for i = 1, 20000 do t[#t + 1] = tostring(i) end table.sort(t) return #table.concat(t, ',')",
            NULL,
        };
        for (int i = 0; legit[i]; i++) {
            kube9_lua_arm(L, &limits, 5000000, 2);
            luaL_loadbuffer(L, legit[i], strlen(legit[i]), "=legit");
            int status = lua_pcall(L, 0, 1, 0);
            CHECK(status == LUA_OK, "legit workload %d failed: %s (%lld units left)", i, lua_tostring(L, -1), (long long)limits.instructions_left);
            if (status == LUA_OK) printf("  legit workload %d: %lld of 5,000,000 units used\n", i, 5000000 - (long long)limits.instructions_left);
            lua_settop(L, 0);
            kube9_lua_disarm(L, &limits);
        }
    }
    lua_close(L);
    printf("C API checks: %d failures\n", api_failures);
}

/* ------------------------------------------------------------------------------------------ */
/* Speed: stock vs guarded on ordinary workloads                                               */
/* ------------------------------------------------------------------------------------------ */

static double time_code(lua_State *L, const char *code) {
    double best = 1e9;
    for (int round = 0; round < 3; round++) {
        double t0 = kube9_lua_now();
        if (luaL_loadbuffer(L, code, strlen(code), "=bench") || lua_pcall(L, 0, 0, 0)) {
            printf("  bench error: %s\n", lua_tostring(L, -1));
            lua_settop(L, 0);
            return -1;
        }
        double t = kube9_lua_now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static void bench(void) {
    static const char *workloads[][2] = {
        {"gsub %w+ over 1 MB", "local s = string.rep('hello world, ', 80000) local r, n = s:gsub('%w+', '<%0>')"},
        {"gmatch words over 1 MB", "local s = string.rep('key=value; ', 90000) local n = 0 for k, v in s:gmatch('(%w+)=(%w+)') do n = n + 1 end"},
        {"find plain x 100k", "local s = string.rep('abcdefgh', 100) .. 'needle' for i = 1, 100000 do s:find('needle', 1, true) end"},
        {"match short x 300k", "for i = 1, 300000 do local a, b = ('2024-01-15'):match('^(%d+)-(%d+)') end"},
        {"find anchored fail x 300k", "local s = string.rep('a', 200) for i = 1, 300000 do s:find('^b') end"},
        {"backtracking .-x over 64 KB", "local s = string.rep('ab', 32768) .. 'x' for i = 1, 20 do s:find('a.-b.-x') end"},
        {"string.format/upper x 300k", "for i = 1, 300000 do local x = string.format('%d:%s', i, 'v'):upper() end"},
        {"table.insert/remove x 300k", "local t = {} for i = 1, 300000 do table.insert(t, i) end for i = 1, 300000 do table.remove(t) end"},
        {"table.concat 100k x 10", "local t = {} for i = 1, 100000 do t[i] = i end for i = 1, 10 do table.concat(t, ',') end"},
        {"table.sort 200k", "local t = {} for i = 1, 200000 do t[i] = (i * 7919) % 200003 end table.sort(t)"},
    };
    printf("\nspeed (best of 3; guarded = kube9 sandbox, armed, no hook limits hit):\n");
    lua_State *stock = stock_state();
    lua_State *guarded = guarded_state();
    lua_sethook(guarded, NULL, 0, 0); /* the count hook's own cost is not what is measured here */
    for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++) {
        double a = time_code(stock, workloads[i][1]);
        double b = time_code(guarded, workloads[i][1]);
        printf("  %-32s stock %7.3f s  guarded %7.3f s  (x%.2f)\n", workloads[i][0], a, b, a > 0 ? b / a : 0);
    }
    kube9_lua_disarm(guarded, &guarded_limits);
    lua_close(stock);
    lua_close(guarded);
}

int main(int argc, char **argv) {
    long generated_count = 40000;
    const char *hostile_dir = "Tests/Kube9LuaTests/Hostile";
    const char *only = NULL;
    double watchdog = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) rng_state = strtoull(argv[++i], NULL, 0) | 1;
        else if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc) generated_count = strtol(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--hostile") == 0 && i + 1 < argc) hostile_dir = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--verbose") == 0) verbose = 1;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) hostile_filter = argv[++i];
        else if (strcmp(argv[i], "--watchdog") == 0 && i + 1 < argc) watchdog = strtod(argv[++i], NULL);
        else { fprintf(stderr, "usage: %s [--seed N] [--cases N] [--hostile DIR] [--only diff|api|hostile|bench] [--filter NAME] [--watchdog SECONDS] [--verbose]\n", argv[0]); return 2; }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int failures = 0;
    if (!only || strcmp(only, "diff") == 0) {
        S = stock_state();
        G = guarded_state();
        double t0 = kube9_lua_now();
        hand_written();
        long hand = cases_run;
        for (size_t i = 0; i < sizeof snippets / sizeof *snippets; i++) diff_snippet(snippets[i]);
        long snips = cases_run - hand;
        generated(generated_count);
        long gen = cases_run - hand - snips;
        generated_tables(generated_count / 4);
        long gtab = cases_run - hand - snips - gen;
        printf("differential: %ld cases (%ld hand-written calls, %ld Lua snippets, %ld generated pattern calls, %ld generated table snippets), "
               "%ld mismatches, %.1f s\n", cases_run, hand, snips, gen, gtab, mismatches, kube9_lua_now() - t0);
        if (guarded_limits.killed) { printf("the guarded state was killed during the differential test\n"); failures++; }
        kube9_lua_disarm(G, &guarded_limits);
        lua_close(S);
        lua_close(G);
        if (mismatches) failures++;
    }
    if (only && strcmp(only, "bench") == 0) bench();
    if (!only || strcmp(only, "api") == 0) {
        api_tests();
        failures += api_failures;
    }
    if (!only || strcmp(only, "hostile") == 0) failures += run_hostile(hostile_dir, watchdog);
    printf("%s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}
