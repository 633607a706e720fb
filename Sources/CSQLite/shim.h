#ifndef KUBE9_CSQLITE_SHIM_H
#define KUBE9_CSQLITE_SHIM_H
#include <sqlite3.h>

/// Binds a copy of `bytes` (SQLITE_TRANSIENT is a macro Swift cannot import).
static inline int kube9_sqlite3_bind_blob_copy(sqlite3_stmt *stmt, int index, const void *bytes, int count) {
    return sqlite3_bind_blob(stmt, index, bytes, count, SQLITE_TRANSIENT);
}
/// Binds a copy of a UTF-8 string.
static inline int kube9_sqlite3_bind_text_copy(sqlite3_stmt *stmt, int index, const char *text, int count) {
    return sqlite3_bind_text(stmt, index, text, count, SQLITE_TRANSIENT);
}
#endif
