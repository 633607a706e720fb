#include "kube9_lua.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static kube9_lua_dispatch_fn g_dispatch = NULL;
static void kube9_hook(lua_State *L, lua_Debug *ar);

double kube9_lua_now(void) {
    struct timespec spec;
    clock_gettime(CLOCK_MONOTONIC, &spec);
    return (double)spec.tv_sec + (double)spec.tv_nsec / 1e9;
}

/* The allocator: refuses growth past the cap, which Lua reports as "not enough memory". A
   refusal during a budgeted call also marks the call killed so that pcall cannot swallow it.
   During a budgeted call it also watches the wall clock, because C code (a library function,
   a concatenation, the compiler) can run for long without a VM instruction: large growth
   allocations (>= KUBE9_LUA_ALLOC_CHECK_BYTES) and every 256th growth allocation check the
   deadline. Once it has passed, the call is killed like a memory refusal: the allocation that
   noticed it is refused, and so is every later large one (small ones go through, so that the
   error and its traceback can still be built; the every-instruction hook stops the script). */
static void *kube9_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    kube9_lua_limits *limits = (kube9_lua_limits *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        limits->memory_used -= old;
        return NULL;
    }
    if (limits->armed && !limits->in_swift && nsize > old) {
        if (limits->memory_limit > 0 && limits->memory_used + (nsize - old) > limits->memory_limit) {
            limits->killed = KUBE9_LUA_KILLED_MEMORY;
            /* From now on every instruction raises, so the script stops at its next step. */
            if (limits->state) lua_sethook(limits->state, kube9_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
            return NULL;
        }
        int large = nsize >= KUBE9_LUA_ALLOC_CHECK_BYTES;
        if (limits->deadline > 0 && (large || (++limits->growth_count & 255u) == 0) && kube9_lua_now() > limits->deadline) {
            int first = limits->killed == KUBE9_LUA_ALIVE;
            if (first) limits->killed = KUBE9_LUA_KILLED_DEADLINE;
            if (limits->state) lua_sethook(limits->state, kube9_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
            if (first || large) return NULL;
        }
    }
    void *result = realloc(ptr, nsize);
    if (result == NULL) return NULL;
    limits->memory_used = limits->memory_used - old + nsize;
    return result;
}

static void kube9_warn(void *ud, const char *message, int tocont) { (void)ud; (void)message; (void)tocont; }

lua_State *kube9_lua_newstate(kube9_lua_limits *limits) {
    lua_State *L = lua_newstate(kube9_alloc, limits);
    if (L) lua_setwarnf(L, kube9_warn, NULL);
    limits->state = L;
    return L;
}

void kube9_lua_set_context(lua_State *L, void *context) { *(void **)lua_getextraspace(L) = context; }
void *kube9_lua_get_context(lua_State *L) { return *(void **)lua_getextraspace(L); }
void kube9_lua_set_dispatch(kube9_lua_dispatch_fn dispatch) { g_dispatch = dispatch; }

static kube9_lua_limits *limits_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (kube9_lua_limits *)ud;
}

static int kube9_trampoline(lua_State *L) {
    int64_t id = (int64_t)lua_tointeger(L, lua_upvalueindex(1));
    if (g_dispatch == NULL) return luaL_error(L, "kube9: no Swift dispatcher");
    kube9_lua_limits *limits = limits_of(L);
    int was_in_swift = limits->in_swift;
    limits->in_swift = 1;
    int count = g_dispatch(L, kube9_lua_get_context(L), id);
    limits->in_swift = was_in_swift;
    if (count < 0) return lua_error(L); /* message pushed by Swift; raised here, after Swift returned */
    /* Swift ran outside the hook and outside the memory cap: charge the call, and end it now if
       its deadline passed or what Swift pushed took the state past its cap. */
    if (!was_in_swift && limits->armed && limits->memory_limit > 0 && limits->memory_used > limits->memory_limit && !limits->killed) {
        limits->killed = KUBE9_LUA_KILLED_MEMORY;
    }
    if (!was_in_swift) kube9_lua_charge(L, 1);
    return count;
}

void kube9_lua_push_swift_function(lua_State *L, int64_t function_id) {
    lua_pushinteger(L, (lua_Integer)function_id);
    lua_pushcclosure(L, kube9_trampoline, 1);
}

static const char *kill_message(int killed) {
    switch (killed) {
    case KUBE9_LUA_KILLED_BUDGET: return "kube9: instruction budget exceeded";
    case KUBE9_LUA_KILLED_DEADLINE: return "kube9: wall-clock deadline exceeded";
    case KUBE9_LUA_KILLED_MEMORY: return "kube9: memory limit exceeded";
    default: return "kube9: call killed";
    }
}

/* Runs every KUBE9_LUA_HOOK_INTERVAL instructions; once a call is killed it runs on every
   instruction and raises again, so a pcall inside the script cannot keep the script alive. */
static void kube9_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    kube9_lua_limits *limits = limits_of(L);
    if (!limits->armed) return;
    if (!limits->killed) {
        if (limits->instructions_left > 0) {
            limits->instructions_left -= KUBE9_LUA_HOOK_INTERVAL;
            if (limits->instructions_left <= 0) limits->killed = KUBE9_LUA_KILLED_BUDGET;
        }
        if (!limits->killed && limits->deadline > 0 && kube9_lua_now() > limits->deadline) {
            limits->killed = KUBE9_LUA_KILLED_DEADLINE;
        }
    }
    if (limits->killed) {
        lua_sethook(L, kube9_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
        luaL_where(L, 0);
        lua_pushstring(L, kill_message(limits->killed));
        lua_concat(L, 2);
        lua_error(L);
    }
}

void kube9_lua_charge(lua_State *L, int64_t units) {
    kube9_lua_limits *limits = limits_of(L);
    if (limits == NULL || !limits->armed || limits->in_swift) return;
    if (!limits->killed) {
        if (limits->instructions_left > 0 && units > 0) {
            if (units >= limits->instructions_left) {
                /* Spent: killed, not "0 = unlimited". */
                limits->instructions_left = 0;
                limits->killed = KUBE9_LUA_KILLED_BUDGET;
            } else {
                limits->instructions_left -= units;
            }
        }
        if (!limits->killed && limits->deadline > 0 && kube9_lua_now() > limits->deadline) {
            limits->killed = KUBE9_LUA_KILLED_DEADLINE;
        }
    }
    if (limits->killed) {
        lua_sethook(L, kube9_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
        luaL_where(L, 1);
        lua_pushstring(L, kill_message(limits->killed));
        lua_concat(L, 2);
        lua_error(L);
    }
}

int kube9_lua_killed(lua_State *L) {
    kube9_lua_limits *limits = limits_of(L);
    if (limits == NULL || !limits->armed) return KUBE9_LUA_ALIVE;
    return limits->killed;
}

int kube9_lua_would_exceed_memory(lua_State *L, size_t bytes) {
    kube9_lua_limits *limits = limits_of(L);
    if (limits == NULL || !limits->armed || limits->in_swift || limits->memory_limit == 0) return 0;
    if (limits->memory_used >= limits->memory_limit) return 1;
    return bytes > limits->memory_limit - limits->memory_used;
}

void kube9_lua_arm(lua_State *L, kube9_lua_limits *limits, int64_t instructions, double timeout_seconds) {
    limits->killed = KUBE9_LUA_ALIVE;
    limits->armed = 1;
    limits->instructions_left = instructions > 0 ? instructions : 0;
    limits->deadline = timeout_seconds > 0 ? kube9_lua_now() + timeout_seconds : 0;
    /* Hooked whenever anything is limited: a memory kill must be re-raised even without an
       instruction budget. A state with no limit at all runs without a hook. */
    if (instructions > 0 || timeout_seconds > 0 || limits->memory_limit > 0) {
        lua_sethook(L, kube9_hook, LUA_MASKCOUNT, KUBE9_LUA_HOOK_INTERVAL);
    } else {
        lua_sethook(L, NULL, 0, 0);
    }
}

void kube9_lua_disarm(lua_State *L, kube9_lua_limits *limits) {
    lua_sethook(L, NULL, 0, 0);
    limits->armed = 0;
    limits->killed = KUBE9_LUA_ALIVE;
}

/* Message handler: the error plus a traceback, unless the error is not a string. */
static int kube9_traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (message == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, message, 1);
    return 1;
}

int kube9_lua_pcall(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, kube9_traceback);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

int kube9_lua_load_text(lua_State *L, const char *source, size_t length, const char *chunk_name) {
    return luaL_loadbufferx(L, source, length, chunk_name, "t");
}

/* load() for scripts: text chunks only, in the caller's environment unless one is given. */
static int kube9_safe_load(lua_State *L) {
    size_t length = 0;
    const char *source = luaL_checklstring(L, 1, &length);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "kube9: only text chunks may be loaded");
        return 2;
    }
    int status = luaL_loadbufferx(L, source, length, name, "t");
    if (status != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (!lua_isnone(L, 4)) {
        lua_pushvalue(L, 4);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

static void remove_field(lua_State *L, const char *table, const char *field) {
    lua_getglobal(L, table);
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        lua_setfield(L, -2, field);
    }
    lua_pop(L, 1);
}

void kube9_lua_open_sandbox(lua_State *L) {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_pop(L, 5);
    /* base without file access or bytecode */
    lua_pushnil(L); lua_setglobal(L, "dofile");
    lua_pushnil(L); lua_setglobal(L, "loadfile");
    lua_pushnil(L); lua_setglobal(L, "collectgarbage");
    lua_pushcfunction(L, kube9_safe_load); lua_setglobal(L, "load");
    remove_field(L, LUA_STRLIBNAME, "dump");
    /* a tiny os: time, clock, date (no execute, exit, getenv, remove, rename, tmpname) */
    luaL_requiref(L, "kube9_os_full", luaopen_os, 0);
    lua_newtable(L);
    const char *keep[] = {"time", "clock", "date", "difftime", NULL};
    for (int i = 0; keep[i]; i++) {
        lua_getfield(L, -2, keep[i]);
        lua_setfield(L, -2, keep[i]);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    /* forget the full os module */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushnil(L);
    lua_setfield(L, -2, "kube9_os_full");
    lua_pop(L, 1);
    /* budget-charging, capped replacements of the library functions that loop in C */
    kube9_lua_install_guards(L);
}

void kube9_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
void kube9_lua_newtable(lua_State *L) { lua_newtable(L); }
const char *kube9_lua_tolstring(lua_State *L, int index, size_t *length) { return lua_tolstring(L, index, length); }
int kube9_lua_isinteger(lua_State *L, int index) { return lua_isinteger(L, index); }
lua_Integer kube9_lua_tointeger(lua_State *L, int index) { return lua_tointeger(L, index); }
lua_Number kube9_lua_tonumber(lua_State *L, int index) { return lua_tonumber(L, index); }
int kube9_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
int kube9_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
int kube9_lua_ref(lua_State *L) { return luaL_ref(L, LUA_REGISTRYINDEX); }
void kube9_lua_unref(lua_State *L, int ref) { luaL_unref(L, LUA_REGISTRYINDEX, ref); }
void kube9_lua_getref(lua_State *L, int ref) { lua_rawgeti(L, LUA_REGISTRYINDEX, ref); }

void kube9_lua_rawsetfield(lua_State *L, int table_index, const char *key) {
    int absolute = lua_absindex(L, table_index);
    lua_pushstring(L, key);
    lua_insert(L, -2);
    lua_rawset(L, absolute);
}

static int kube9_readonly_newindex(lua_State *L) {
    return luaL_error(L, "kube9: attempt to modify a read-only table (field '%s')", lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

static int kube9_readonly_len(lua_State *L) {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__index");
    lua_pushinteger(L, (lua_Integer)luaL_len(L, -1));
    return 1;
}

static int kube9_readonly_next(lua_State *L) {
    /* pairs() over the proxy walks the real table */
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static int kube9_readonly_pairs(lua_State *L) {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__index");
    lua_pushcfunction(L, kube9_readonly_next);
    lua_insert(L, -2);
    lua_pushnil(L);
    return 3;
}

void kube9_lua_make_readonly(lua_State *L) {
    /* stack: table  ->  proxy (metatable {__index=table, __newindex=error, __len, __pairs, __metatable=false}) */
    lua_newtable(L);                 /* table proxy */
    lua_newtable(L);                 /* table proxy meta */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, kube9_readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, kube9_readonly_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, kube9_readonly_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);         /* table proxy */
    lua_remove(L, -2);               /* proxy */
}

int kube9_lua_collect(lua_State *L) {
    lua_gc(L, LUA_GCCOLLECT);
    return lua_gc(L, LUA_GCCOUNT);
}
