/*
 * Guards for the library functions a hostile policy could use to run long inside one C call,
 * where the instruction-count hook never fires:
 *
 *  - setmetatable refuses metatables with a __gc field (finalizers run with hooks disabled,
 *    at any allocation or at lua_close);
 *  - string.find/match/gmatch/gsub are implemented here (Lua 5.4 patterns, manual §6.4.1) with
 *    every matcher step counted and charged to the call's budget, so that backtracking bombs
 *    and O(n*m) plain searches are killed by the budget or the deadline;
 *  - string.rep, table.insert/remove/move/concat/unpack/sort compute the work a call will do,
 *    refuse absurd amounts and charge the rest before doing it;
 *  - every other string/table/utf8/os function charges on entry (1 unit, plus 1 per 64 bytes
 *    of string they walk: the whole arguments for upper/lower/reverse/format/pack/char, only
 *    the slice for sub/byte/utf8.len/utf8.codepoint, what was consumed for string.unpack), so
 *    the deadline is checked on every call;
 *    so do the string metatable's arithmetic metamethods (Lua 5.4 converts "123" + 0 there)
 *    and the base functions that walk a whole string (tonumber, print);
 *  - load refuses chunks over 1 MiB, os.date format strings over 256 bytes;
 *  - xpcall does not run the script's message handler once the call is killed (a kill raised
 *    by the hook runs the handler with hooks disabled).
 *
 * Everything here runs as a Lua C function called by the VM: raising (luaL_error, lua_error,
 * kube9_lua_charge) is fine, there is no Swift frame in between. The matcher allocates nothing
 * itself (its state lives on the C stack or in a Lua userdata, results in luaL_Buffers), so a
 * kill or an error raised by a replacement function can longjmp out of it at any point.
 */
#include "kube9_lua.h"
#include <ctype.h>
#include <limits.h>
#include <string.h>

/* Steps are charged in batches of at least this many. */
#define GUARD_BATCH 1000
/* Loops over table elements check the deadline every this many elements. */
#define GUARD_CHECK_EVERY 1024

/* A function kept by a wrapper: upvalue 1 of every guard closure. The standard library
   functions have no upvalues of their own, so the guards call them directly, in their own
   frame: argument errors keep naming the function as the script called it. */
static lua_CFunction original_of(lua_State *L) {
    return lua_tocfunction(L, lua_upvalueindex(1));
}

/* Refuses a call that would touch more than KUBE9_LUA_MAX_ELEMENTS elements; otherwise
   charges 1 + `cost` (the caller's estimate of the work, at least `count`). Each guard charges
   once per call (one clock reading), so this is also the call's entry charge. */
static void guard_elements(lua_State *L, const char *what, lua_Unsigned count, lua_Unsigned cost) {
    if (count > (lua_Unsigned)KUBE9_LUA_MAX_ELEMENTS) {
        luaL_error(L, "kube9: %s would touch too many elements (%I, the limit is %I)", what,
                   (LUAI_UACINT)(count > (lua_Unsigned)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)count),
                   (LUAI_UACINT)KUBE9_LUA_MAX_ELEMENTS);
    }
    if (cost < count) cost = count;
    if (cost < (lua_Unsigned)INT64_MAX) cost++; /* the call itself */
    kube9_lua_charge(L, cost > (lua_Unsigned)INT64_MAX ? INT64_MAX : (int64_t)cost);
}

/* ------------------------------------------------------------------------------------------ */
/* Patterns (Lua 5.4 reference manual §6.4.1)                                                  */
/* ------------------------------------------------------------------------------------------ */

#define PAT_MAX_CAPTURES 32   /* Lua's LUA_MAXCAPTURES */
#define PAT_MAX_DEPTH 200     /* nesting of the matcher before "pattern too complex", as in Lua */
#define PAT_OPEN (-1)         /* capture length while the capture is open */
#define PAT_POSITION (-2)     /* capture length of a position capture "()" */

typedef struct pat_state {
    lua_State *L;
    const char *src;          /* subject */
    const char *src_end;
    const char *pat_end;      /* end of the pattern */
    int depth;                /* nesting left */
    int level;                /* captures in use */
    int64_t steps;            /* steps not charged yet */
    struct {
        const char *start;
        ptrdiff_t len;        /* or PAT_OPEN / PAT_POSITION */
    } cap[PAT_MAX_CAPTURES];
} pat_state;

static void pat_init(pat_state *ps, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    ps->L = L;
    ps->src = s;
    ps->src_end = s + ls;
    ps->pat_end = p + lp;
    ps->depth = PAT_MAX_DEPTH;
    ps->level = 0;
    ps->steps = 0;
}

/* A fresh attempt: no captures, full depth (the step count carries on). */
static void pat_reset(pat_state *ps) {
    ps->level = 0;
    ps->depth = PAT_MAX_DEPTH;
}

static void pat_flush(pat_state *ps) {
    if (ps->steps > 0) {
        int64_t steps = ps->steps;
        ps->steps = 0;
        kube9_lua_charge(ps->L, steps);
    }
}

/* Counts `n` steps; every GUARD_BATCH of them are charged (which may kill the call). */
static inline void pat_tick(pat_state *ps, int64_t n) {
    ps->steps += n;
    if (ps->steps >= GUARD_BATCH) pat_flush(ps);
}

/* Does byte `c` belong to class %`cl`? A letter names a class (upper case: its complement);
   any other character stands for itself. */
static int pat_class(int c, int cl) {
    int in;
    switch (tolower(cl)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    case 'z': in = (c == 0); break; /* undocumented since 5.2, still accepted by Lua 5.4 */
    default: return cl == c;
    }
    if (isupper(cl)) return !in;
    return in != 0;
}

/* Does byte `c` belong to the set that starts at `p` ('[') and ends at `close` (its ']')? */
static int pat_set(int c, const char *p, const char *close) {
    int member = 1; /* what a hit means: 0 for a complemented set */
    p++;
    if (*p == '^') {
        member = 0;
        p++;
    }
    while (p < close) {
        if (*p == '%') {
            /* an escape is always followed by its character inside the set (see pat_item_end) */
            if (pat_class(c, (unsigned char)p[1])) return member;
            p += 2;
        } else if (p[1] == '-' && p + 2 < close) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return member;
            p += 3;
        } else {
            if ((unsigned char)*p == c) return member;
            p++;
        }
    }
    return !member;
}

/* The end of the single-character class that starts at `p` (an item without its quantifier). */
static const char *pat_item_end(pat_state *ps, const char *p) {
    const char *end = ps->pat_end;
    char first = *p++;
    if (first == '%') {
        if (p >= end) luaL_error(ps->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (first == '[') {
        if (p < end && *p == '^') p++;
        /* The set's first character is a member even when it is ']'; an escaped ']' does not
           close the set. */
        do {
            if (p >= end) luaL_error(ps->L, "malformed pattern (missing ']')");
            char c = *p++;
            if (c == '%' && p < end) p++;
        } while (p >= end || *p != ']');
        return p + 1;
    }
    return p;
}

/* Does the subject byte at `s` match the class [p, ep)? */
static int pat_single(pat_state *ps, const char *s, const char *p, const char *ep) {
    if (s >= ps->src_end) return 0;
    pat_tick(ps, 1);
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return pat_class(c, (unsigned char)p[1]);
    case '[': return pat_set(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *pat_match(pat_state *ps, const char *s, const char *p);

/* %bxy at `s`; `p` points at x. */
static const char *pat_balance(pat_state *ps, const char *s, const char *p) {
    if (p + 1 >= ps->pat_end) luaL_error(ps->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= ps->src_end || *s != p[0]) return NULL;
    char open = p[0], close = p[1];
    int64_t depth = 1;
    while (++s < ps->src_end) {
        pat_tick(ps, 1);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

/* %1-%9: the text of an earlier, closed capture again. */
static const char *pat_backref(pat_state *ps, const char *s, int digit) {
    int index = digit - '1';
    if (index < 0 || index >= ps->level || ps->cap[index].len == PAT_OPEN) {
        luaL_error(ps->L, "invalid capture index %%%d", index + 1);
    }
    ptrdiff_t len = ps->cap[index].len;
    if (len < 0) return NULL; /* a position capture matches no text */
    pat_tick(ps, 1 + len);
    if (ps->src_end - s >= len && memcmp(ps->cap[index].start, s, (size_t)len) == 0) return s + len;
    return NULL;
}

static const char *pat_open_capture(pat_state *ps, const char *s, const char *p, ptrdiff_t kind) {
    if (ps->level >= PAT_MAX_CAPTURES) luaL_error(ps->L, "too many captures");
    ps->cap[ps->level].start = s;
    ps->cap[ps->level].len = kind;
    ps->level++;
    const char *result = pat_match(ps, s, p);
    if (result == NULL) ps->level--;
    return result;
}

static const char *pat_close_capture(pat_state *ps, const char *s, const char *p) {
    int index = ps->level - 1;
    while (index >= 0 && ps->cap[index].len != PAT_OPEN) index--;
    if (index < 0) luaL_error(ps->L, "invalid pattern capture");
    ps->cap[index].len = s - ps->cap[index].start;
    const char *result = pat_match(ps, s, p);
    if (result == NULL) ps->cap[index].len = PAT_OPEN;
    return result;
}

/* x* and x+ (after the first x): as many as possible, then give back one at a time. */
static const char *pat_greedy(pat_state *ps, const char *s, const char *p, const char *ep) {
    ptrdiff_t count = 0;
    while (pat_single(ps, s + count, p, ep)) count++;
    for (; count >= 0; count--) {
        const char *result = pat_match(ps, s + count, ep + 1);
        if (result != NULL) return result;
    }
    return NULL;
}

/* x-: as few as possible, one more at a time. */
static const char *pat_lazy(pat_state *ps, const char *s, const char *p, const char *ep) {
    for (;;) {
        const char *result = pat_match(ps, s, ep + 1);
        if (result != NULL) return result;
        if (!pat_single(ps, s, p, ep)) return NULL;
        s++;
    }
}

/* Matches the pattern from `p` against the subject from `s`: the end of the match, or NULL.
   Items that cannot backtrack continue in the loop; captures and quantifiers that can recurse,
   at most PAT_MAX_DEPTH deep. */
static const char *pat_match(pat_state *ps, const char *s, const char *p) {
    if (ps->depth-- == 0) luaL_error(ps->L, "pattern too complex");
    const char *end = ps->pat_end;
    for (;;) {
        pat_tick(ps, 1);
        if (p >= end) break; /* the whole pattern matched */
        char c = *p;
        if (c == '(') {
            if (p + 1 < end && p[1] == ')') s = pat_open_capture(ps, s, p + 2, PAT_POSITION);
            else s = pat_open_capture(ps, s, p + 1, PAT_OPEN);
            break;
        }
        if (c == ')') {
            s = pat_close_capture(ps, s, p + 1);
            break;
        }
        if (c == '$' && p + 1 == end) {
            if (s != ps->src_end) s = NULL;
            break;
        }
        if (c == '%' && p + 1 < end) {
            char k = p[1];
            if (k == 'b') {
                s = pat_balance(ps, s, p + 2);
                if (s == NULL) break;
                p += 4;
                continue;
            }
            if (k == 'f') {
                p += 2;
                if (p >= end || *p != '[') luaL_error(ps->L, "missing '[' after '%%f' in pattern");
                const char *ep = pat_item_end(ps, p);
                int before = s == ps->src ? 0 : (unsigned char)s[-1];
                int here = s < ps->src_end ? (unsigned char)*s : 0;
                if (!pat_set(before, p, ep - 1) && pat_set(here, p, ep - 1)) {
                    p = ep;
                    continue;
                }
                s = NULL;
                break;
            }
            if (isdigit((unsigned char)k)) {
                s = pat_backref(ps, s, (unsigned char)k);
                if (s == NULL) break;
                p += 2;
                continue;
            }
        }
        /* a single-character class, maybe followed by a quantifier */
        const char *ep = pat_item_end(ps, p);
        char q = ep < end ? *ep : '\0';
        if (!pat_single(ps, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') { /* zero occurrences are fine */
                p = ep + 1;
                continue;
            }
            s = NULL;
            break;
        }
        if (q == '?') {
            const char *result = pat_match(ps, s + 1, ep + 1);
            if (result != NULL) {
                s = result;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (q == '+') {
            s = pat_greedy(ps, s + 1, p, ep);
            break;
        }
        if (q == '*') {
            s = pat_greedy(ps, s, p, ep);
            break;
        }
        if (q == '-') {
            s = pat_lazy(ps, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    ps->depth++;
    return s;
}

/* Pushes capture `index` of the match [s, e) (the whole match when there are no captures and
   index is 0). */
static void pat_push_capture(pat_state *ps, int index, const char *s, const char *e) {
    if (index >= ps->level) {
        if (index != 0) luaL_error(ps->L, "invalid capture index %%%d", index + 1);
        lua_pushlstring(ps->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = ps->cap[index].len;
    if (len == PAT_OPEN) luaL_error(ps->L, "unfinished capture");
    if (len == PAT_POSITION) {
        lua_pushinteger(ps->L, (lua_Integer)(ps->cap[index].start - ps->src) + 1);
    } else {
        lua_pushlstring(ps->L, ps->cap[index].start, (size_t)len);
    }
}

/* Pushes all captures (or the whole match when s != NULL and there are none); their count. */
static int pat_push_captures(pat_state *ps, const char *s, const char *e) {
    int count = (ps->level == 0 && s != NULL) ? 1 : ps->level;
    luaL_checkstack(ps->L, count, "too many captures");
    for (int i = 0; i < count; i++) pat_push_capture(ps, i, s, e);
    return count;
}

/* A string.find init: 1-based, negative counts from the end, clamped below at 1. */
static size_t guard_start(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos;
    if (pos == 0) return 1;
    if (pos < -(lua_Integer)len) return 1;
    return len + (size_t)pos + 1;
}

/* Any magic character? (Embedded zeros are plain.) */
static int pat_has_specials(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++) {
        switch (p[i]) {
        case '^': case '$': case '*': case '+': case '?': case '.': case '(': case '[': case '%': case '-':
            return 1;
        default: break;
        }
    }
    return 0;
}

/* Plain search of [p, p+lp) in [s, s+ls); every byte looked at is a step. */
static const char *plain_find(pat_state *ps, const char *s, size_t ls, const char *p, size_t lp) {
    if (lp == 0) return s;
    if (lp > ls) return NULL;
    const char *last = s + (ls - lp); /* the last possible start */
    const char *at = s;
    while (at <= last) {
        size_t window = (size_t)(last - at) + 1;
        const char *hit = memchr(at, p[0], window);
        if (hit == NULL) {
            pat_tick(ps, (int64_t)window);
            return NULL;
        }
        pat_tick(ps, (hit - at) + 1);
        /* the rest, 64 bytes at a time */
        size_t done = 1;
        int same = 1;
        while (done < lp) {
            size_t chunk = lp - done < 64 ? lp - done : 64;
            pat_tick(ps, (int64_t)chunk);
            if (memcmp(hit + done, p + done, chunk) != 0) {
                same = 0;
                break;
            }
            done += chunk;
        }
        if (same) return hit;
        at = hit + 1;
    }
    return NULL;
}

static int guard_find_aux(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = guard_start(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) { /* starts after the end: no match, not even an empty one */
        kube9_lua_charge(L, 1);
        luaL_pushfail(L);
        return 1;
    }
    pat_state ps;
    pat_init(&ps, L, s, ls, p, lp);
    ps.steps = 1; /* the call itself: charged with the steps, at the end */
    if (find && (lua_toboolean(L, 4) || !pat_has_specials(p, lp))) {
        const char *hit = plain_find(&ps, s + init, ls - init, p, lp);
        pat_flush(&ps);
        if (hit != NULL) {
            lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
            lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
            return 2;
        }
    } else {
        const char *at = s + init;
        int anchor = lp > 0 && *p == '^';
        if (anchor) p++;
        for (;;) {
            pat_reset(&ps);
            const char *e = pat_match(&ps, at, p);
            if (e != NULL) {
                pat_flush(&ps);
                if (find) {
                    lua_pushinteger(L, (lua_Integer)(at - s) + 1);
                    lua_pushinteger(L, (lua_Integer)(e - s));
                    return pat_push_captures(&ps, NULL, NULL) + 2;
                }
                return pat_push_captures(&ps, at, e);
            }
            if (anchor || at >= ps.src_end) break;
            at++;
        }
        pat_flush(&ps);
    }
    luaL_pushfail(L);
    return 1;
}

static int guard_find(lua_State *L) { return guard_find_aux(L, 1); }
static int guard_match(lua_State *L) { return guard_find_aux(L, 0); }

/* gmatch's iterator state: a userdata, upvalue 3 of the iterator (upvalues 1 and 2 keep the
   subject and the pattern alive). */
typedef struct gmatch_state {
    const char *next;       /* where the next search starts */
    const char *lastmatch;  /* end of the last match: a match may not be empty there */
    const char *pattern;
    pat_state ps;
} gmatch_state;

static int guard_gmatch_step(lua_State *L) {
    gmatch_state *gm = (gmatch_state *)lua_touserdata(L, lua_upvalueindex(3));
    gm->ps.L = L;
    gm->ps.steps = 1; /* the call itself: charged with the steps */
    for (const char *at = gm->next; at <= gm->ps.src_end; at++) {
        pat_reset(&gm->ps);
        const char *e = pat_match(&gm->ps, at, gm->pattern);
        if (e != NULL && e != gm->lastmatch) {
            gm->next = gm->lastmatch = e;
            pat_flush(&gm->ps);
            return pat_push_captures(&gm->ps, at, e);
        }
    }
    pat_flush(&gm->ps);
    return 0;
}

static int guard_gmatch(lua_State *L) {
    kube9_lua_charge(L, 1);
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = guard_start(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    gmatch_state *gm = (gmatch_state *)lua_newuserdatauv(L, sizeof(gmatch_state), 0);
    if (init > ls) init = ls + 1; /* nothing to find, and no pointer past the end + 1 */
    pat_init(&gm->ps, L, s, ls, p, lp);
    gm->next = s + init;
    gm->lastmatch = NULL;
    gm->pattern = p; /* no anchor in gmatch: '^' is an ordinary character there */
    lua_pushcclosure(L, guard_gmatch_step, 3);
    return 1;
}

/* Appends the replacement string (argument 3) for the match [s, e): %0-%9 and %%. */
static void gsub_add_string(pat_state *ps, luaL_Buffer *b, const char *s, const char *e) {
    lua_State *L = ps->L;
    size_t len;
    const char *r = lua_tolstring(L, 3, &len);
    const char *end = r + len;
    pat_tick(ps, 1 + (int64_t)(len / 64));
    while (r < end) {
        const char *escape = memchr(r, '%', (size_t)(end - r));
        if (escape == NULL) {
            luaL_addlstring(b, r, (size_t)(end - r));
            return;
        }
        luaL_addlstring(b, r, (size_t)(escape - r));
        int k = escape + 1 < end ? (unsigned char)escape[1] : 0;
        if (k == '%') {
            luaL_addchar(b, '%');
        } else if (k == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit(k)) {
            int index = k - '1';
            if (index >= ps->level) {
                if (index != 0) luaL_error(L, "invalid capture index %%%d", index + 1);
                luaL_addlstring(b, s, (size_t)(e - s)); /* %1 without captures: the match */
            } else if (ps->cap[index].len == PAT_POSITION) {
                pat_push_capture(ps, index, s, e);
                luaL_addvalue(b);
            } else {
                if (ps->cap[index].len == PAT_OPEN) luaL_error(L, "unfinished capture");
                luaL_addlstring(b, ps->cap[index].start, (size_t)ps->cap[index].len);
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", '%');
        }
        r = escape + 2;
    }
}

/* Appends the replacement of the match [s, e); 1 when it changed the text. */
static int gsub_add_value(pat_state *ps, luaL_Buffer *b, const char *s, const char *e, int type) {
    lua_State *L = ps->L;
    if (type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int count = pat_push_captures(ps, s, e);
        lua_call(L, count, 1);
    } else if (type == LUA_TTABLE) {
        pat_push_capture(ps, 0, s, e);
        lua_gettable(L, 3);
    } else {
        gsub_add_string(ps, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the original text */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1)) return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int guard_gsub(lua_State *L) {
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int type = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE, 3,
                     "string/function/table");
    pat_state ps;
    pat_init(&ps, L, src, ls, p, lp);
    ps.steps = 1; /* the call itself */
    int anchor = lp > 0 && *p == '^';
    if (anchor) p++;
    const char *at = src, *lastmatch = NULL;
    lua_Integer count = 0;
    int changed = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (count < max) {
        pat_reset(&ps);
        const char *e = pat_match(&ps, at, p);
        if (e != NULL && e != lastmatch) {
            count++;
            changed = gsub_add_value(&ps, &b, at, e, type) | changed;
            at = lastmatch = e;
        } else if (at < ps.src_end) {
            luaL_addchar(&b, *at++);
        } else {
            break;
        }
        if (anchor) break;
    }
    pat_flush(&ps);
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, at, (size_t)(ps.src_end - at));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, count);
    return 2;
}

/* ------------------------------------------------------------------------------------------ */
/* string.rep                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static int guard_rep(lua_State *L) {
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || (l == 0 && lsep == 0)) { /* "" (Lua would copy nothing n times) */
        kube9_lua_charge(L, 1);
        lua_pushliteral(L, "");
        return 1;
    }
    const size_t cap = KUBE9_LUA_MAX_REP_BYTES;
    size_t count = (lua_Unsigned)n > (lua_Unsigned)cap ? cap + 1 : (size_t)n;
    int large = 0;
    size_t total = 0;
    if (l > 0 && count > cap / l) {
        large = 1;
    } else {
        total = count * l;
        if (lsep > 0 && count - 1 > (cap - total) / lsep) large = 1;
        else total += (count - 1) * lsep;
        if (total > cap) large = 1;
    }
    if (large) {
        /* Under a memory cap too small for it, Lua's own attempt fails at its first allocation
           and reports a memory kill, as it always has. */
        if (kube9_lua_would_exceed_memory(L, cap)) return original_of(L)(L);
        return luaL_error(L, "kube9: string.rep result too large (the limit is %d bytes)", (int)cap);
    }
    kube9_lua_charge(L, 1 + (int64_t)(total / 64));
    return original_of(L)(L);
}

/* ------------------------------------------------------------------------------------------ */
/* table                                                                                       */
/* ------------------------------------------------------------------------------------------ */

#define TAB_R 1 /* read */
#define TAB_W 2 /* write */
#define TAB_L 4 /* length */

static int has_raw_field(lua_State *L, int table, const char *key) {
    lua_pushstring(L, key);
    int present = lua_rawget(L, table) != LUA_TNIL;
    lua_pop(L, 1);
    return present;
}

/* Argument `arg` must be a table, or have a metatable with the metamethods `what` needs. */
static void tab_check(lua_State *L, int arg, int what) {
    if (lua_type(L, arg) == LUA_TTABLE) return;
    if (lua_getmetatable(L, arg)) {
        int mt = lua_gettop(L);
        int ok = (!(what & TAB_R) || has_raw_field(L, mt, "__index")) &&
                 (!(what & TAB_W) || has_raw_field(L, mt, "__newindex")) &&
                 (!(what & TAB_L) || has_raw_field(L, mt, "__len"));
        lua_pop(L, 1);
        if (ok) return;
    }
    luaL_checktype(L, arg, LUA_TTABLE); /* raises */
}

/* The length of argument `arg` (honours __len), once. */
static lua_Integer tab_length(lua_State *L, int arg, int what) {
    tab_check(L, arg, what | TAB_L);
    return luaL_len(L, arg);
}

/* Called once per element of a long loop: checks the deadline now and then. */
static inline void tab_progress(lua_State *L, lua_Unsigned done) {
    if ((done & (GUARD_CHECK_EVERY - 1)) == GUARD_CHECK_EVERY - 1) kube9_lua_charge(L, 0);
}

static int guard_insert(lua_State *L) {
    lua_Integer e = tab_length(L, 1, TAB_R | TAB_W);
    e = (lua_Integer)((lua_Unsigned)e + 1u); /* the first empty slot */
    lua_Integer pos;
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        /* 1 <= pos <= e */
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_Unsigned moves = e > pos ? (lua_Unsigned)e - (lua_Unsigned)pos : 0;
    guard_elements(L, "table.insert", moves, moves);
    lua_Unsigned done = 0;
    for (lua_Integer i = e; i > pos; i--) {
        lua_geti(L, 1, i - 1);
        lua_seti(L, 1, i);
        tab_progress(L, done++);
    }
    lua_seti(L, 1, pos);
    return 0;
}

static int guard_remove(lua_State *L) {
    lua_Integer size = tab_length(L, 1, TAB_R | TAB_W);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size) {
        /* 1 <= pos <= size + 1 (Lua 5.4.4 names argument #1 in this message) */
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 1, "position out of bounds");
    }
    lua_Unsigned moves = pos < size ? (lua_Unsigned)size - (lua_Unsigned)pos : 0;
    guard_elements(L, "table.remove", moves, moves);
    lua_geti(L, 1, pos);
    lua_Unsigned done = 0;
    for (; pos < size; pos++) {
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
        tab_progress(L, done++);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

static int guard_move(lua_State *L) {
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1; /* destination */
    tab_check(L, 1, TAB_R);
    tab_check(L, tt, TAB_W);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        guard_elements(L, "table.move", (lua_Unsigned)n, (lua_Unsigned)n);
        if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
            for (lua_Integer i = 0; i < n; i++) {
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
                tab_progress(L, (lua_Unsigned)i);
            }
        } else { /* overlapping, destination after the source: copy backwards */
            for (lua_Integer i = n - 1; i >= 0; i--) {
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
                tab_progress(L, (lua_Unsigned)i);
            }
        }
    } else {
        kube9_lua_charge(L, 1);
    }
    lua_pushvalue(L, tt);
    return 1;
}

static void concat_add(lua_State *L, luaL_Buffer *b, lua_Integer i) {
    lua_geti(L, 1, i);
    if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid value (%s) at index %I in table for 'concat'", luaL_typename(L, -1), (LUAI_UACINT)i);
    }
    luaL_addvalue(b);
}

static int guard_concat(lua_State *L) {
    lua_Integer last = tab_length(L, 1, TAB_R);
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    last = luaL_optinteger(L, 4, last);
    if (i <= last) {
        lua_Unsigned span = (lua_Unsigned)last - (lua_Unsigned)i; /* elements - 1, no overflow */
        lua_Unsigned count = span >= (lua_Unsigned)KUBE9_LUA_MAX_ELEMENTS ? span : span + 1;
        lua_Unsigned cost = count;
        if (lsep > 0 && count <= (lua_Unsigned)KUBE9_LUA_MAX_ELEMENTS) cost += (count * (lua_Unsigned)lsep) / 64;
        guard_elements(L, "table.concat", count, cost);
    } else {
        kube9_lua_charge(L, 1);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Unsigned done = 0;
    for (; i < last; i++) {
        concat_add(L, &b, i);
        luaL_addlstring(&b, sep, lsep);
        tab_progress(L, done++);
    }
    if (i == last) concat_add(L, &b, i);
    luaL_pushresult(&b);
    return 1;
}

static int guard_unpack(lua_State *L) {
    lua_Integer i = luaL_optinteger(L, 2, 1);
    lua_Integer e = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
    if (i > e) {
        kube9_lua_charge(L, 1);
        return 0;
    }
    lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)i; /* results - 1 */
    if (n >= (unsigned int)INT_MAX || !lua_checkstack(L, (int)(++n))) return luaL_error(L, "too many results to unpack");
    guard_elements(L, "table.unpack", n, n);
    for (; i < e; i++) lua_geti(L, 1, i);
    lua_geti(L, 1, e);
    return (int)n;
}

/* A key for the snapshot table's reference to the table being sorted. */
static const char sort_target_key = 0;

static int sort_snapshot_len(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

static int guard_sort(lua_State *L) {
    lua_Integer n = tab_length(L, 1, TAB_R | TAB_W);
    if (n <= 1) {
        kube9_lua_charge(L, 1);
        return 0;
    }
    luaL_argcheck(L, n < INT_MAX, 1, "array too big");
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_Unsigned count = (lua_Unsigned)n, log2n = 0;
    while (log2n < 63 && ((lua_Unsigned)1 << log2n) < count) log2n++;
    int plain = lua_type(L, 1) == LUA_TTABLE && !lua_getmetatable(L, 1);
    if (!plain && lua_type(L, 1) == LUA_TTABLE) lua_pop(L, 1); /* the metatable */
    lua_Unsigned cost = count > (lua_Unsigned)KUBE9_LUA_MAX_ELEMENTS ? count : count * log2n + (plain ? 0 : 2 * count);
    guard_elements(L, "table.sort", count, cost);
    lua_CFunction sort = original_of(L);
    if (plain) {
        /* No metatable: Lua's sort sees exactly the length measured here. */
        return sort(L);
    }
    /* With metamethods, __len could answer differently the second time and __index or
       __newindex could be C functions (unhooked): sort a plain snapshot instead, read and
       written back through the metamethods once per element. */
    lua_settop(L, 2);
    lua_createtable(L, (int)n, 1);
    /* The snapshot's length is n even where elements are nil (a comparator may accept nils),
       so Lua's sort walks the same indices it would have walked on the table itself. */
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, n);
    lua_pushcclosure(L, sort_snapshot_len, 1);
    lua_setfield(L, -2, "__len");
    lua_setmetatable(L, 3);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_rawseti(L, 3, i);
        tab_progress(L, (lua_Unsigned)i);
    }
    lua_pushvalue(L, 1);
    lua_rawsetp(L, 3, &sort_target_key);
    lua_replace(L, 1); /* 1: snapshot, 2: comparator */
    sort(L);          /* in this frame, so its errors read as table.sort's */
    lua_settop(L, 1);
    lua_rawgetp(L, 1, &sort_target_key); /* 2: the table */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        lua_seti(L, 2, i);
        tab_progress(L, (lua_Unsigned)i);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Entry charges                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* 1 unit, then the original function. */
static int guard_entry(lua_State *L) {
    kube9_lua_charge(L, 1);
    return original_of(L)(L);
}

/* 1 unit plus one per 64 bytes of string arguments (and per 64 arguments). */
static int guard_sized(lua_State *L) {
    int top = lua_gettop(L);
    size_t bytes = (size_t)top;
    for (int i = 1; i <= top; i++) {
        if (lua_type(L, i) == LUA_TSTRING) bytes += lua_rawlen(L, i);
    }
    kube9_lua_charge(L, 1 + (int64_t)(bytes / 64));
    return original_of(L)(L);
}

/* An integer argument as Lua would read it, without raising (the original function reports
   bad arguments itself): `fallback` when absent or not an integer. */
static lua_Integer peek_integer(lua_State *L, int arg, lua_Integer fallback) {
    if (lua_isnoneornil(L, arg)) return fallback;
    int isnum = 0;
    lua_Integer value = lua_tointegerx(L, arg, &isnum);
    return isnum ? value : fallback;
}

static size_t peek_length(lua_State *L, int arg) {
    return lua_type(L, arg) == LUA_TSTRING ? lua_rawlen(L, arg) : 0;
}

/* The bytes [i, j] of a string of `len` bytes cover, with Lua's index rules (negative from
   the end, clamped). */
static size_t slice_bytes(lua_Integer i, lua_Integer j, size_t len) {
    size_t start = guard_start(i, len);
    size_t end;
    if (j > (lua_Integer)len) end = len;
    else if (j >= 0) end = (size_t)j;
    else if (j < -(lua_Integer)len) end = 0;
    else end = len + (size_t)j + 1;
    return start <= end ? end - start + 1 : 0;
}

/* string.sub, string.byte, utf8.len, utf8.codepoint walk only their slice: 1 unit plus one per
   64 bytes of it (not of the whole subject: s:sub(i, i) over a long string stays cheap). */
static int guard_slice_charge(lua_State *L, lua_Integer default_j_is_i) {
    size_t len = peek_length(L, 1);
    lua_Integer i = peek_integer(L, 2, 1);
    lua_Integer j = peek_integer(L, 3, default_j_is_i ? i : -1);
    kube9_lua_charge(L, 1 + (int64_t)(slice_bytes(i, j, len) / 64));
    return original_of(L)(L);
}
static int guard_slice_to_end(lua_State *L) { return guard_slice_charge(L, 0); }
static int guard_slice_to_i(lua_State *L) { return guard_slice_charge(L, 1); }

/* utf8.offset(s, n, i) walks at most |n| characters (4 bytes at most each), within s. */
static int guard_utf8_offset(lua_State *L) {
    size_t len = peek_length(L, 1);
    lua_Integer n = peek_integer(L, 2, 0);
    lua_Unsigned chars = n < 0 ? (lua_Unsigned)0 - (lua_Unsigned)n : (lua_Unsigned)n;
    size_t walk = chars > (lua_Unsigned)(len / 4) ? len : (size_t)chars * 4;
    kube9_lua_charge(L, 1 + (int64_t)(walk / 64));
    return original_of(L)(L);
}

/* string.unpack(fmt, s, pos): the format on entry, then the bytes it consumed (its last result
   is the next position). */
static int guard_string_unpack(lua_State *L) {
    kube9_lua_charge(L, 1 + (int64_t)(peek_length(L, 1) / 64));
    size_t len = peek_length(L, 2);
    size_t start = guard_start(peek_integer(L, 3, 1), len);
    int results = original_of(L)(L);
    if (results > 0 && lua_isinteger(L, -1)) {
        lua_Integer next = lua_tointeger(L, -1);
        if (next > (lua_Integer)start) kube9_lua_charge(L, (int64_t)(((lua_Unsigned)next - start) / 64));
    }
    return results;
}

static int guard_date(lua_State *L) {
    size_t len = 0;
    if (lua_type(L, 1) == LUA_TSTRING) len = lua_rawlen(L, 1);
    if (len > KUBE9_LUA_MAX_DATE_FORMAT) {
        return luaL_error(L, "kube9: os.date format too long (%d bytes, the limit is %d)", (int)(len > INT_MAX ? INT_MAX : len),
                          KUBE9_LUA_MAX_DATE_FORMAT);
    }
    kube9_lua_charge(L, 1 + (int64_t)(len / 64));
    return original_of(L)(L);
}

/* load: source size cap, then the sandbox's text-only load. Like load's own refusals, a
   too-large chunk is answered with fail and a message. */
static int guard_load(lua_State *L) {
    size_t len = 0;
    if (lua_type(L, 1) == LUA_TSTRING) len = lua_rawlen(L, 1);
    if (len > KUBE9_LUA_MAX_CHUNK_BYTES) {
        luaL_pushfail(L);
        lua_pushfstring(L, "kube9: chunk too large (%I bytes, the limit is %I)", (LUAI_UACINT)len,
                        (LUAI_UACINT)KUBE9_LUA_MAX_CHUNK_BYTES);
        return 2;
    }
    kube9_lua_charge(L, 1 + (int64_t)(len / 64));
    return original_of(L)(L);
}

/* setmetatable as in Lua 5.4, but a metatable with a __gc field is refused: Lua registers a
   finalizer only for a __gc present when the metatable is set, and finalizers run with hooks
   off (at any allocation, or at lua_close), so no budget could stop them. */
static int guard_setmetatable(lua_State *L) {
    int type = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return luaL_error(L, "cannot change a protected metatable");
    if (type == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL) {
            return luaL_error(L, "kube9: __gc metamethods are not allowed (finalizers run outside the budget)");
        }
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* xpcall's message handler, in front of the script's. A kill raised by the budget hook calls
   the message handler from inside the hook, where Lua runs it with hooks disabled: a script's
   handler that loops there could never be stopped. Once the call is killed the script's
   handler is therefore not run at all: the kill message passes through unchanged. */
static int guard_message_handler(lua_State *L) {
    if (kube9_lua_killed(L) != KUBE9_LUA_ALIVE) {
        lua_settop(L, 1);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int guard_xpcall(lua_State *L) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guard_message_handler, 1);
    lua_replace(L, 2);
    return original_of(L)(L);
}

/* ------------------------------------------------------------------------------------------ */
/* Installation                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct guard_entry_spec {
    const char *name;
    lua_CFunction guard;
} guard_entry_spec;

static const guard_entry_spec string_guards[] = {
    {"find", guard_find}, {"match", guard_match}, {"gmatch", guard_gmatch}, {"gsub", guard_gsub},
    {"rep", guard_rep},
    {"upper", guard_sized}, {"lower", guard_sized}, {"reverse", guard_sized}, {"char", guard_sized},
    {"format", guard_sized}, {"pack", guard_sized},
    {"sub", guard_slice_to_end}, {"byte", guard_slice_to_i}, {"unpack", guard_string_unpack},
    /* string.len is O(1): the entry charge */
    {NULL, NULL},
};

static const guard_entry_spec table_guards[] = {
    {"insert", guard_insert}, {"remove", guard_remove}, {"move", guard_move}, {"concat", guard_concat},
    {"unpack", guard_unpack}, {"sort", guard_sort},
    {NULL, NULL},
};

static const guard_entry_spec utf8_guards[] = {
    {"char", guard_sized}, {"len", guard_slice_to_end}, {"codepoint", guard_slice_to_i}, {"offset", guard_utf8_offset},
    {NULL, NULL},
};

static const guard_entry_spec os_guards[] = {
    {"date", guard_date},
    {NULL, NULL},
};

/* A C function without upvalues: the kind of function a guard may call directly in its own
   frame. (A guard closure has one, so installing the guards twice wraps nothing twice.) */
static int plain_cfunction(lua_State *L, int index) {
    if (!lua_iscfunction(L, index)) return 0;
    if (lua_getupvalue(L, index, 1) != NULL) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Replaces every C function of the global table `name`: by its guard in `specs`, or by an
   entry charge. Each guard keeps the original as its upvalue 1. */
static void guard_library(lua_State *L, const char *name, const guard_entry_spec *specs) {
    if (lua_getglobal(L, name) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int lib = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, lib)) {
        /* key value */
        if (lua_type(L, -2) == LUA_TSTRING && plain_cfunction(L, -1)) {
            const char *key = lua_tostring(L, -2);
            lua_CFunction guard = guard_entry;
            for (const guard_entry_spec *spec = specs; spec->name; spec++) {
                if (strcmp(spec->name, key) == 0) guard = spec->guard;
            }
            /* value is the original: make it the upvalue */
            lua_pushcclosure(L, guard, 1);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, lib); /* assigning an existing field keeps lua_next valid */
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* Replaces the C function field `name` of the table at `table` by `guard` (original as upvalue). */
static void guard_field(lua_State *L, int table, const char *name, lua_CFunction guard) {
    table = lua_absindex(L, table);
    lua_pushstring(L, name);
    if (lua_rawget(L, table) == LUA_TFUNCTION && plain_cfunction(L, -1)) {
        lua_pushcclosure(L, guard, 1);
        lua_pushstring(L, name);
        lua_insert(L, -2);
        lua_rawset(L, table);
    } else {
        lua_pop(L, 1);
    }
}

void kube9_lua_install_guards(lua_State *L) {
    guard_library(L, LUA_STRLIBNAME, string_guards);
    guard_library(L, LUA_TABLIBNAME, table_guards);
    guard_library(L, LUA_UTF8LIBNAME, utf8_guards);
    guard_library(L, "os", os_guards);
    /* Lua 5.4 converts strings in arithmetic ("123" + 0) in these metamethods of the string
       metatable: a conversion walks the whole string, one VM instruction. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        static const char *const arithmetic[] = {"__add", "__sub", "__mul", "__div", "__mod", "__pow", "__unm", "__idiv", NULL};
        for (int i = 0; arithmetic[i]; i++) guard_field(L, -1, arithmetic[i], guard_sized);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    int globals = lua_gettop(L);
    lua_pushcfunction(L, guard_setmetatable);
    lua_setfield(L, globals, "setmetatable");
    guard_field(L, globals, "load", guard_load);
    guard_field(L, globals, "xpcall", guard_xpcall);
    /* base functions that walk a whole string argument */
    guard_field(L, globals, "tonumber", guard_sized);
    guard_field(L, globals, "print", guard_sized);
    lua_pop(L, 1);
}
