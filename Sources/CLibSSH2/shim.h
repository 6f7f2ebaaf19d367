#ifndef FIREDRILL_CLIBSSH2_SHIM_H
#define FIREDRILL_CLIBSSH2_SHIM_H
#include <libssh2.h>
#endif
