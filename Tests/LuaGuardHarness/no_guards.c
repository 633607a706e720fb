/* Baseline build of the harness (run.sh --baseline): the sandbox without the guards of
   kube9_lua_guard.c, to show what each hostile script does to an unguarded state. */
#include "kube9_lua.h"
void kube9_lua_install_guards(lua_State *L) { (void)L; }
