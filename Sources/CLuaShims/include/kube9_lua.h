#ifndef KUBE9_LUA_H
#define KUBE9_LUA_H
/*
 * kube9's C layer over Lua 5.4. Swift never calls a Lua function that can raise (lua_error,
 * luaL_check*, luaL_error): raising longjmps, and a longjmp must never cross a Swift frame.
 * Everything that may raise runs inside kube9_lua_pcall_*, and Swift callbacks report failure
 * by returning -1 with the message pushed; the C trampoline raises after Swift has returned.
 */
#include <stddef.h>
#include <stdint.h>
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

/* Why a call was stopped. */
enum kube9_lua_kill {
    KUBE9_LUA_ALIVE = 0,
    KUBE9_LUA_KILLED_BUDGET = 1,
    KUBE9_LUA_KILLED_DEADLINE = 2,
    KUBE9_LUA_KILLED_MEMORY = 3,
};

/* Per-state accounting, owned by the Swift LuaState and passed to the allocator and hook. */
typedef struct kube9_lua_limits {
    size_t memory_limit;        /* bytes; 0 = unlimited */
    size_t memory_used;         /* bytes currently allocated by this state */
    int64_t instructions_left;  /* remaining budget of the current call */
    double deadline;            /* CLOCK_MONOTONIC seconds; 0 = none */
    int killed;                 /* enum kube9_lua_kill */
    int armed;                  /* 1 while a budgeted call runs */
    lua_State *state;           /* the main thread, so the allocator can re-arm the hook */
    int in_swift;               /* 1 while a Swift callback runs: the cap is not enforced there,
                                   because a refused allocation would longjmp through Swift */
    unsigned int growth_count;  /* growth allocations seen; every 256th checks the deadline */
} kube9_lua_limits;

/* How often (in VM instructions) the budget hook runs. */
#define KUBE9_LUA_HOOK_INTERVAL 1000

/* Caps of the guarded library functions (kube9_lua_guard.c). */
#define KUBE9_LUA_MAX_ELEMENTS ((int64_t)1 << 26)      /* table.* elements one call may touch */
#define KUBE9_LUA_MAX_REP_BYTES ((size_t)64 << 20)     /* string.rep result */
#define KUBE9_LUA_MAX_CHUNK_BYTES ((size_t)1 << 20)    /* source given to load() */
#define KUBE9_LUA_MAX_DATE_FORMAT 256                  /* os.date format string */
/* The allocator checks the deadline on growth allocations of at least this size (and on every
   256th growth allocation). */
#define KUBE9_LUA_ALLOC_CHECK_BYTES ((size_t)64 << 10)

/* Swift's function dispatcher: returns the number of results pushed, or -1 with an error
   message pushed (the trampoline then raises it). `context` is the state's extra space value. */
typedef int (*kube9_lua_dispatch_fn)(lua_State *L, void *context, int64_t function_id);

/* A new state whose allocator counts bytes against limits->memory_limit. */
lua_State *kube9_lua_newstate(kube9_lua_limits *limits);

/* Opens only the allow-listed libraries and trims them (see kube9_lua.c). */
void kube9_lua_open_sandbox(lua_State *L);

/* Stores an opaque pointer (the Swift LuaState) in the state's extra space. */
void kube9_lua_set_context(lua_State *L, void *context);
void *kube9_lua_get_context(lua_State *L);

/* Sets the process-wide Swift dispatcher (once). */
void kube9_lua_set_dispatch(kube9_lua_dispatch_fn dispatch);

/* Pushes a C closure that calls the dispatcher with `function_id`. */
void kube9_lua_push_swift_function(lua_State *L, int64_t function_id);

/* Arms the budget hook for one call: `instructions` (0 = unlimited), `timeout_seconds` (0 = none). */
void kube9_lua_arm(lua_State *L, kube9_lua_limits *limits, int64_t instructions, double timeout_seconds);
/* Removes the hook and clears the kill flag. */
void kube9_lua_disarm(lua_State *L, kube9_lua_limits *limits);

/* Charges `units` (about one VM instruction each) to the armed call, from a C function that
   Lua called (it may raise: never call it from Swift or with Swift frames on the stack).
   Subtracts from the instruction budget when one is set, then checks the wall-clock deadline;
   when the call is killed (budget spent, deadline passed, or already killed, e.g. by the
   memory cap) it sets the every-instruction hook and raises "<where>kube9: ... exceeded".
   Does nothing when no call is armed or a Swift callback is running. `units` <= 0 only checks. */
void kube9_lua_charge(lua_State *L, int64_t units);

/* The kill reason of the armed call (enum kube9_lua_kill), KUBE9_LUA_ALIVE when none or unarmed. */
int kube9_lua_killed(lua_State *L);

/* 1 when an allocation of `bytes` more would be refused by the memory cap right now (an armed
   call, outside Swift, with a cap): guards use it to let the allocator report such requests
   as memory kills instead of refusing them with their own error. */
int kube9_lua_would_exceed_memory(lua_State *L, size_t bytes);

/* Replaces string/table/utf8/os functions, the string metatable's arithmetic metamethods and
   the globals setmetatable, load, xpcall, tonumber and print with guarded versions
   (kube9_lua_guard.c): called by kube9_lua_open_sandbox. */
void kube9_lua_install_guards(lua_State *L);

/* Loads a text-only chunk; on failure the message is on the stack. Returns a lua status code. */
int kube9_lua_load_text(lua_State *L, const char *source, size_t length, const char *chunk_name);

/* lua_pcall with a traceback message handler; `nargs` arguments above the function. */
int kube9_lua_pcall(lua_State *L, int nargs, int nresults);

/* Wrappers for macros Swift cannot import. */
void kube9_lua_pop(lua_State *L, int n);
void kube9_lua_newtable(lua_State *L);
const char *kube9_lua_tolstring(lua_State *L, int index, size_t *length);
int kube9_lua_isinteger(lua_State *L, int index);
lua_Integer kube9_lua_tointeger(lua_State *L, int index);
lua_Number kube9_lua_tonumber(lua_State *L, int index);
int kube9_lua_upvalueindex(int i);
int kube9_lua_registryindex(void);
int kube9_lua_ref(lua_State *L);
void kube9_lua_unref(lua_State *L, int ref);
void kube9_lua_getref(lua_State *L, int ref);
/* Sets t[k] = v for the table at `table_index` with the value on top (pops it), without metamethods. */
void kube9_lua_rawsetfield(lua_State *L, int table_index, const char *key);
/* Makes the table on top read-only (a proxy whose __newindex raises); replaces it on the stack. */
void kube9_lua_make_readonly(lua_State *L);
/* Current monotonic time in seconds. */
double kube9_lua_now(void);
/* Full collection; returns KB in use. */
int kube9_lua_collect(lua_State *L);

#endif
