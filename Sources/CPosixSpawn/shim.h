#ifndef FIREDRILL_CPOSIXSPAWN_SHIM_H
#define FIREDRILL_CPOSIXSPAWN_SHIM_H
// What Swift cannot call of posix_spawn, and nothing else.
#include <spawn.h>

// glibc (2.34+) declares this only under _GNU_SOURCE, which Swift's Glibc module is not built with.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// Spawned processes must not inherit our descriptors (see ChildProcess.spawn).
static inline int firedrill_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
#endif
