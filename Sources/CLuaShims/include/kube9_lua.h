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
} kube9_lua_limits;

/* How often (in VM instructions) the budget hook runs. */
#define KUBE9_LUA_HOOK_INTERVAL 1000

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
