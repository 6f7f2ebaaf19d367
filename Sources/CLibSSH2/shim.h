#ifndef FIREDRILL_CLIBSSH2_SHIM_H
#define FIREDRILL_CLIBSSH2_SHIM_H
// libssh2's convenience calls (libssh2_session_init, libssh2_channel_exec,
// libssh2_channel_read, ...) are function-like macros that Swift cannot import.
// Firedrill calls the `_ex` functions they expand to instead, so this header
// only makes the library visible; add a wrapper here only for what Swift cannot call.
#include <libssh2.h>
#endif
