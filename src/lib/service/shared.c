/*
 * shared.c: the one source of libtandem.so. The library's code comes from the static parts
 * linked in whole (src/lib/service/CMakeLists.txt); this file gives the shared target a source
 * and a version query, so that a program can check which libtandem it was loaded with.
 */
#include "tandem/service.h"

const char *tandem_version(void)
{
    return TANDEM_VERSION;
}
