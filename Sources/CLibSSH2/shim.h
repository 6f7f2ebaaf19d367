#ifndef FIREDRILL_CLIBSSH2_SHIM_H
#define FIREDRILL_CLIBSSH2_SHIM_H
// libssh2's convenience calls (libssh2_session_init, libssh2_channel_exec,
// libssh2_channel_read, ...) are function-like macros that Swift cannot import.
// Firedrill calls the `_ex` functions they expand to instead, so this header
// only makes the library visible; add a wrapper here only for what Swift cannot call.
#include <libssh2.h>
#include <spawn.h>

// glibc (2.34+) declares this only under _GNU_SOURCE, which Swift's Glibc module is not built with.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// Spawned daemons must not inherit our descriptors (see Lab.spawnDetached).
static inline int firedrill_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
#endif
